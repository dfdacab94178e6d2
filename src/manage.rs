//! The manager side of a pool: [`Probe`] (on connections) and [`Manage`] (on
//! managers). Protocol modules implement them; the pool only calls them, so
//! neither side imports the other.

use crate::{Error, Result};
use std::fmt;
use std::io;
use std::time::Duration;

/// A cheap liveness check on a connection, used by the pool's health checks.
///
/// Every edgepool client implements it (TCP: a non-blocking peek; SNMP: GET
/// sysUpTime.0; Redis: PING; S7: an SZL read), and every edgepool manager's
/// `r2d2::ManageConnection::is_valid` calls it. Bounded by the connection's own
/// I/O timeouts; never blocks forever.
///
/// ```
/// use edgepool::{Probe, Result};
/// struct Always;
/// impl Probe for Always {
///     fn probe(&mut self) -> Result<()> { Ok(()) }
/// }
/// assert!(Always.probe().is_ok());
/// ```
pub trait Probe {
    /// Checks that the connection still works.
    fn probe(&mut self) -> Result<()>;
}

/// What an [`edgepool::Pool`](crate::Pool) needs from a manager beyond
/// `r2d2::ManageConnection`: the target's name, a check of the settings, a
/// connect bounded by the caller's remaining time, and the crate [`Error`]
/// for a failed connect (so that errors a retry cannot fix come back typed).
///
/// Every method has a default, so for your own manager one line is enough;
/// edgepool's managers (`tcp`, `redis`, `snmp`, `s7`) implement all of them.
/// For a manager from another crate (which you cannot implement this trait
/// for), wrap it in [`AnyManager`].
///
/// ```
/// use edgepool::{Manage, Pool};
///
/// #[derive(Debug)]
/// struct Counter;
/// impl r2d2::ManageConnection for Counter {
///     type Connection = u32;
///     type Error = std::io::Error;
///     fn connect(&self) -> std::io::Result<u32> { Ok(0) }
///     fn is_valid(&self, _: &mut u32) -> std::io::Result<()> { Ok(()) }
///     fn has_broken(&self, _: &mut u32) -> bool { false }
/// }
/// impl Manage for Counter {}
///
/// let pool = Pool::new(Counter)?;
/// *pool.get()? += 1;
/// assert_eq!(*pool.get()?, 1);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub trait Manage: r2d2::ManageConnection {
    /// Where the manager connects (`"127.0.0.1:6379"`); names the pool by
    /// default. Defaults to `None` (the pool is then named `pool-N`).
    ///
    /// ```
    /// use edgepool::{tcp, Manage};
    /// let m = tcp::Manager::new(tcp::Config::new("127.0.0.1:9"));
    /// assert_eq!(m.target().as_deref(), Some("127.0.0.1:9"));
    /// ```
    fn target(&self) -> Option<String> {
        None
    }

    /// Checks the manager's settings once, when the pool is built, so that an
    /// invalid one (a v3 password that is too short) fails
    /// [`PoolBuilder::build`](crate::PoolBuilder::build) instead of every
    /// checkout. Defaults to `Ok(())`.
    ///
    /// ```
    /// use edgepool::{Error, Manage, Pool};
    ///
    /// #[derive(Debug)]
    /// struct Device { password: String }
    /// impl r2d2::ManageConnection for Device {
    ///     type Connection = ();
    ///     type Error = Error;
    ///     fn connect(&self) -> Result<(), Error> { Ok(()) }
    ///     fn is_valid(&self, _: &mut ()) -> Result<(), Error> { Ok(()) }
    ///     fn has_broken(&self, _: &mut ()) -> bool { false }
    /// }
    /// impl Manage for Device {
    ///     fn validate(&self) -> edgepool::Result<()> {
    ///         if self.password.len() < 8 {
    ///             return Err(Error::Config("the password must be at least 8 characters".into()));
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// let short = Device { password: "short".into() };
    /// assert!(matches!(Pool::new(short), Err(Error::Config(_))));
    /// ```
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The longest one [`connect`](r2d2::ManageConnection::connect) can
    /// take (its connect timeout), if the manager knows it. When a caller
    /// has less time left than this, the pool calls
    /// [`connect_within`](Manage::connect_within) with what is left, and a
    /// timeout then says nothing about the target. Defaults to `None`.
    ///
    /// ```
    /// use edgepool::{tcp, Manage};
    /// let m = tcp::Manager::new(tcp::Config::new("127.0.0.1:9"));
    /// assert_eq!(m.connect_budget(), Some(std::time::Duration::from_secs(3)));
    /// ```
    fn connect_budget(&self) -> Option<Duration> {
        None
    }

    /// Opens a connection in at most `budget` (shorter than
    /// [`connect_budget`](Manage::connect_budget)). Defaults to `connect()`,
    /// which ignores the budget.
    ///
    /// ```
    /// use edgepool::{tcp, Manage};
    /// use std::time::Duration;
    /// let m = tcp::Manager::new(tcp::Config::new("127.0.0.1:1"));
    /// assert!(m.connect_within(Duration::from_millis(100)).is_err());
    /// ```
    fn connect_within(&self, budget: Duration) -> Result<Self::Connection, Self::Error> {
        let _ = budget;
        self.connect()
    }

    /// The crate [`Error`] for one of the manager's errors. Defaults to the
    /// error itself when it is an [`Error`], [`Error::Io`] when it is an
    /// `io::Error`, and otherwise an [`Error::Io`] carrying its message.
    ///
    /// ```
    /// use edgepool::{tcp, Error, Manage};
    /// let m = tcp::Manager::new(tcp::Config::new("127.0.0.1:9"));
    /// assert!(matches!(m.to_error(Error::Auth("no".into())), Error::Auth(_)));
    /// ```
    fn to_error(&self, error: Self::Error) -> Error {
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        match boxed.downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => match other.downcast::<io::Error>() {
                Ok(e) => Error::Io(*e),
                Err(other) => Error::Io(io::Error::other(other.to_string())),
            },
        }
    }
}

/// Makes any `r2d2::ManageConnection` (one from another crate, say) usable in
/// an edgepool [`Pool`](crate::Pool), with [`Manage`]'s defaults.
///
/// ```
/// use edgepool::{AnyManager, Pool};
///
/// #[derive(Debug)]
/// struct Theirs;
/// impl r2d2::ManageConnection for Theirs {
///     type Connection = ();
///     type Error = std::io::Error;
///     fn connect(&self) -> std::io::Result<()> { Ok(()) }
///     fn is_valid(&self, _: &mut ()) -> std::io::Result<()> { Ok(()) }
///     fn has_broken(&self, _: &mut ()) -> bool { false }
/// }
///
/// let pool = Pool::new(AnyManager(Theirs))?;
/// drop(pool.get()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct AnyManager<M>(pub M);

impl<M: fmt::Debug> fmt::Debug for AnyManager<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<M: r2d2::ManageConnection> r2d2::ManageConnection for AnyManager<M> {
    type Connection = M::Connection;
    type Error = M::Error;

    fn connect(&self) -> Result<M::Connection, M::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut M::Connection) -> Result<(), M::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut M::Connection) -> bool {
        self.0.has_broken(conn)
    }
}

impl<M: r2d2::ManageConnection> Manage for AnyManager<M> {}

/// Declares the manager of a protocol whose configuration has an `addr`, a `net`
/// (`net::ConnectOptions`) and a `validate()`, and
/// whose connection type has `connect(&Config)` and `is_broken()` and
/// implements [`Probe`]: `new` and `config`, [`Manage`] (the address as the
/// target, the settings check at `build()`, `net.connect_timeout` as the
/// connect budget) and `r2d2::ManageConnection`. The tcp, redis and s7
/// managers are this, each with its own documentation (the attributes given
/// before the name). `$example` makes a manager, for the doc examples.
macro_rules! stream_manager {
    ($(#[$attr:meta])* $manager:ident($config:ty) -> $conn:ty, $example:literal) => {
        $(#[$attr])*
        #[derive(Debug, Clone)]
        pub struct $manager {
            config: $config,
        }

        impl $manager {
            /// A manager connecting as `config` says.
            ///
            #[doc = concat!("```\nlet m = ", $example, ";\nprintln!(\"{:?}\", m.config());\n```")]
            pub fn new(config: $config) -> $manager {
                $manager { config }
            }

            /// The configuration.
            ///
            #[doc = concat!("```\nlet m = ", $example, ";\nassert!(!m.config().addr.is_empty());\n```")]
            pub fn config(&self) -> &$config {
                &self.config
            }
        }

        impl $crate::Manage for $manager {
            fn target(&self) -> Option<String> {
                Some(self.config.addr.clone())
            }

            fn validate(&self) -> $crate::Result<()> {
                self.config.validate()
            }

            fn connect_budget(&self) -> Option<::std::time::Duration> {
                Some(self.config.net.connect_timeout)
            }

            fn connect_within(&self, budget: ::std::time::Duration) -> $crate::Result<$conn> {
                let mut config = self.config.clone();
                config.net.connect_timeout = config.net.connect_timeout.min(budget);
                <$conn>::connect(&config)
            }
        }

        impl r2d2::ManageConnection for $manager {
            type Connection = $conn;
            type Error = $crate::Error;

            fn connect(&self) -> $crate::Result<$conn> {
                <$conn>::connect(&self.config)
            }

            fn is_valid(&self, conn: &mut $conn) -> $crate::Result<()> {
                $crate::Probe::probe(conn)
            }

            fn has_broken(&self, conn: &mut $conn) -> bool {
                conn.is_broken()
            }
        }
    };
}
pub(crate) use stream_manager;
