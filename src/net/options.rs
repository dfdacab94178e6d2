//! The settings of a connection: [`ConnectOptions`], [`Keepalive`], [`TlsMode`].

use std::fmt;
use std::time::Duration;

use crate::{Error, Result};

/// TCP keepalive settings: after `idle` without traffic the OS sends up to
/// `count` probes, `interval` apart, and drops the connection if none is
/// answered.
///
/// The OS counts these in whole seconds; each must be at least 1 s (and
/// `count` at least 1), or connecting fails with [`Error::Config`]. Where the
/// OS cannot set the interval or the count (e.g. OpenBSD, or the count on
/// Windows), only `idle` is applied.
///
/// ```
/// use edgepool::net::Keepalive;
/// use std::time::Duration;
///
/// let k = Keepalive::default();
/// assert_eq!(k.idle, Duration::from_secs(30));
/// let fast = Keepalive { idle: Duration::from_secs(10), ..Keepalive::default() };
/// assert_eq!(fast.count, 3);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// Idle time before the first probe. Defaults to 30 s.
    pub idle: Duration,
    /// Time between probes. Defaults to 5 s.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped. Defaults to 3.
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            count: 3,
        }
    }
}

/// How a connection is opened and set up: the one set of transport settings
/// that the tcp, redis and s7 configurations and the tunnel builders embed
/// (as their `net` field, with the same setters on each).
///
/// `connect_timeout` is **one deadline over the whole connect**: the TCP
/// connect over every resolved address, the TLS handshake, and the
/// protocol's own handshake (Redis `HELLO`/`AUTH`/`SELECT`, S7's COTP and
/// setup, the tunnel's connection ID). The read and write timeouts apply to
/// every call after that. Used directly by [`connect`](super::connect) and
/// [`Stream::open`](super::Stream::open).
///
/// Zero durations are rejected with [`Error::Config`] when connecting.
///
/// ```
/// use edgepool::net::ConnectOptions;
/// use std::time::Duration;
///
/// let opts = ConnectOptions::default()
///     .connect_timeout(Duration::from_secs(1))
///     .read_timeout(Some(Duration::from_secs(2)))
///     .keepalive(None);
/// assert_eq!(opts.write_timeout, Some(Duration::from_secs(5)));
/// assert!(opts.nodelay);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectOptions {
    /// One deadline over the whole connect: TCP over every resolved address,
    /// TLS, and the protocol's handshake. Defaults to 3 s.
    pub connect_timeout: Duration,
    /// Socket read timeout; `None` blocks forever. Defaults to 5 s.
    pub read_timeout: Option<Duration>,
    /// Socket write timeout; `None` blocks forever. Defaults to 5 s.
    pub write_timeout: Option<Duration>,
    /// TCP keepalive; `None` leaves the OS default (usually off). Defaults to
    /// [`Keepalive::default()`].
    pub keepalive: Option<Keepalive>,
    /// Disables Nagle's algorithm (`TCP_NODELAY`). Defaults to `true`.
    pub nodelay: bool,
    /// TLS or not, and what to trust. Defaults to [`TlsMode::Off`].
    pub tls: TlsMode,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Some(Duration::from_secs(5)),
            write_timeout: Some(Duration::from_secs(5)),
            keepalive: Some(Keepalive::default()),
            nodelay: true,
            tls: TlsMode::Off,
        }
    }
}

impl ConnectOptions {
    /// Sets the connect timeout. Defaults to 3 s.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions; use std::time::Duration;
    /// let opts = ConnectOptions::default().connect_timeout(Duration::from_millis(500));
    /// assert_eq!(opts.connect_timeout, Duration::from_millis(500));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the read timeout: a `Duration`, `Some(..)`, or `None` to block
    /// forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions;
    /// let opts = ConnectOptions::default().read_timeout(None);
    /// assert_eq!(opts.read_timeout, None);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = timeout.into();
        self
    }

    /// Sets the write timeout: a `Duration`, `Some(..)`, or `None` to block
    /// forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions; use std::time::Duration;
    /// let opts = ConnectOptions::default().write_timeout(Some(Duration::from_secs(1)));
    /// assert_eq!(opts.write_timeout, Some(Duration::from_secs(1)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = timeout.into();
        self
    }

    /// Sets TCP keepalive; `None` leaves it to the OS. Defaults to
    /// [`Keepalive::default()`].
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions;
    /// let opts = ConnectOptions::default().keepalive(None);
    /// assert!(opts.keepalive.is_none());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets `TCP_NODELAY`. Defaults to `true`.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions;
    /// let opts = ConnectOptions::default().nodelay(false);
    /// assert!(!opts.nodelay);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// Sets TLS. Defaults to [`TlsMode::Off`].
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, TlsMode};
    /// let opts = ConnectOptions::default().tls(TlsMode::Insecure);
    /// assert_eq!(opts.tls, TlsMode::Insecure);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.connect_timeout.is_zero() {
            return Err(config("connect_timeout must be greater than zero"));
        }
        check_timeout("read_timeout", self.read_timeout)?;
        check_timeout("write_timeout", self.write_timeout)?;
        if let Some(k) = &self.keepalive {
            let second = Duration::from_secs(1);
            if k.idle < second || k.interval < second || k.count == 0 {
                return Err(config(
                    "keepalive idle and interval must be at least 1 s and count at least 1",
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn config(msg: &str) -> Error {
    Error::Config(msg.to_owned())
}

pub(crate) fn check_timeout(name: &str, timeout: Option<Duration>) -> Result<()> {
    match timeout {
        Some(t) if t.is_zero() => Err(Error::Config(format!(
            "{name} must be greater than zero (use None for no timeout)"
        ))),
        _ => Ok(()),
    }
}

/// Whether a connection is on, and which certificates it trusts.
///
/// `Verified` checks the server's certificate chain and its name:
/// `server_name` is the name to check (and to send as SNI); `None` uses the
/// host part of the address. `ca` is one extra root CA certificate in PEM,
/// trusted besides the system roots (`None` = system roots only); if the PEM
/// holds several certificates, only the first is used.
/// `Insecure` accepts any certificate and any name: for lab devices with
/// self-signed certificates only.
///
/// TLS needs the `tls` feature (on by default); without it, connecting with
/// anything but `Off` fails with [`Error::Config`].
///
/// ```
/// use edgepool::net::TlsMode;
///
/// let mode = TlsMode::Verified {
///     server_name: Some("plc.example".into()),
///     ca: Some(b"-----BEGIN CERTIFICATE-----\n...".to_vec()),
/// };
/// assert!(format!("{mode:?}").contains("bytes PEM"));
/// assert!(matches!(TlsMode::default(), TlsMode::Off));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain TCP. The default.
    #[default]
    Off,
    /// TLS without any certificate or name check.
    Insecure,
    /// TLS with the certificate chain and the server name checked.
    Verified {
        /// The name to verify and send as SNI; `None` = host part of the address.
        server_name: Option<String>,
        /// An extra trusted root CA in PEM; `None` = system roots only.
        ca: Option<Vec<u8>>,
    },
}

impl fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct PemLen(usize);
        impl fmt::Debug for PemLen {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "<{} bytes PEM>", self.0)
            }
        }
        match self {
            TlsMode::Off => f.write_str("Off"),
            TlsMode::Insecure => f.write_str("Insecure"),
            TlsMode::Verified { server_name, ca } => f
                .debug_struct("Verified")
                .field("server_name", server_name)
                .field("ca", &ca.as_ref().map(|c| PemLen(c.len())))
                .finish(),
        }
    }
}

/// The transport setters every configuration that embeds a
/// [`ConnectOptions`] as its `net` field offers, under the same names with
/// the same meaning: `connect_timeout`, `read_timeout`, `write_timeout`,
/// `keepalive`, `nodelay`, `tls`, and `net` for all of them at once
/// (`no_tls`: all but `tls`, for a server whose TLS is set otherwise).
/// `$example` is an expression that makes a value of the type, for the
/// doc examples.
macro_rules! net_setters {
    ($example:literal) => {
        $crate::net::net_setters!($example, no_tls);

        /// Sets TLS and what to trust.
        ///
        #[doc = concat!("```\nlet c = ", $example, "\n    .tls(edgepool::net::TlsMode::Insecure);\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn tls(mut self, tls: $crate::net::TlsMode) -> Self {
            self.net.tls = tls;
            self
        }
    };
    ($example:literal, no_tls) => {
        /// Sets the connect timeout: one deadline over the TCP connect, the
        /// TLS handshake and the protocol's own handshake (see
        /// [`ConnectOptions`](crate::net::ConnectOptions)).
        ///
        #[doc = concat!("```\nuse std::time::Duration;\nlet c = ", $example, "\n    .connect_timeout(Duration::from_secs(1));\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.net.connect_timeout = timeout;
            self
        }

        /// Sets the read timeout of every call after the connect: a
        /// `Duration`, `Some(..)`, or `None` to block forever.
        ///
        #[doc = concat!("```\nuse std::time::Duration;\nlet c = ", $example, "\n    .read_timeout(Duration::from_secs(2));\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn read_timeout(
            mut self,
            timeout: impl ::std::convert::Into<::std::option::Option<::std::time::Duration>>,
        ) -> Self {
            self.net.read_timeout = timeout.into();
            self
        }

        /// Sets the write timeout of every call after the connect: a
        /// `Duration`, `Some(..)`, or `None` to block forever.
        ///
        #[doc = concat!("```\nuse std::time::Duration;\nlet c = ", $example, "\n    .write_timeout(Duration::from_secs(2));\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn write_timeout(
            mut self,
            timeout: impl ::std::convert::Into<::std::option::Option<::std::time::Duration>>,
        ) -> Self {
            self.net.write_timeout = timeout.into();
            self
        }

        /// Sets TCP keepalive; `None` leaves it to the OS.
        ///
        #[doc = concat!("```\nlet c = ", $example, "\n    .keepalive(Some(edgepool::net::Keepalive::default()));\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn keepalive(mut self, keepalive: ::std::option::Option<$crate::net::Keepalive>) -> Self {
            self.net.keepalive = keepalive;
            self
        }

        /// Sets `TCP_NODELAY` (Nagle's algorithm off).
        ///
        #[doc = concat!("```\nlet c = ", $example, "\n    .nodelay(false);\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn nodelay(mut self, nodelay: bool) -> Self {
            self.net.nodelay = nodelay;
            self
        }

        /// Replaces all the transport settings at once.
        ///
        #[doc = concat!("```\nuse edgepool::net::ConnectOptions;\nlet c = ", $example, "\n    .net(ConnectOptions::default().nodelay(false));\n# let _ = c;\n# Ok::<(), edgepool::Error>(())\n```")]
        pub fn net(mut self, net: $crate::net::ConnectOptions) -> Self {
            self.net = net;
            self
        }
    };
}
pub(crate) use net_setters;
