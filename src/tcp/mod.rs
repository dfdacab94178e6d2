//! Pooled plain TCP and TLS streams: [`Config`], [`Connection`], [`Manager`].
//!
//! The health probe is the non-blocking check of [`Stream::state`]: a pooled
//! stream the peer closed, or one holding bytes nobody asked for, is replaced.
//!
//! ```
//! use edgepool::tcp::{Config, Connection};
//! use edgepool::Probe;
//! use std::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
//! conn.probe()?; // open and idle
//! drop(listener.accept()?); // the peer accepts and closes
//! # std::thread::sleep(std::time::Duration::from_millis(50));
//! assert!(conn.probe().is_err());
//! assert!(conn.is_broken());
//! # Ok::<(), edgepool::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use crate::net::{self, ConnectOptions, SocketState, Stream};
use crate::Probe;
use crate::{Error, Result};

/// Where and how to connect: the address and the transport settings
/// ([`ConnectOptions`], the same `net` field and setters as the redis and s7
/// configurations).
///
/// ```
/// use edgepool::net::TlsMode;
/// use edgepool::tcp::Config;
/// use std::time::Duration;
///
/// let config = Config::new("10.0.0.7:502")
///     .connect_timeout(Duration::from_secs(1))
///     .read_timeout(Duration::from_secs(2))
///     .tls(TlsMode::Insecure);
/// assert_eq!(config.addr, "10.0.0.7:502");
/// assert!(config.net.nodelay);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Config {
    /// The peer, as `"host:port"`. Defaults to empty (set it with [`Config::new`]).
    pub addr: String,
    /// Connect deadline, I/O timeouts, keepalive, nodelay, TLS. Defaults to
    /// [`ConnectOptions::default()`]: connect 3 s, read and write 5 s, no TLS.
    pub net: ConnectOptions,
}

impl Config {
    /// A configuration for `addr` (`"host:port"`) with the defaults.
    ///
    /// ```
    /// # use edgepool::tcp::Config;
    /// let config = Config::new("127.0.0.1:9000");
    /// assert_eq!(config.net.connect_timeout, std::time::Duration::from_secs(3));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn new(addr: impl Into<String>) -> Config {
        Config {
            addr: addr.into(),
            ..Config::default()
        }
    }

    crate::net::net_setters!("edgepool::tcp::Config::new(\"127.0.0.1:9000\")");

    /// The settings check a pool runs at `build()`: the address and the
    /// transport settings, without connecting.
    pub(crate) fn validate(&self) -> Result<()> {
        net::host_port(&self.addr, None, "a TCP address")?;
        self.net.validate()
    }

    /// The transport settings of this configuration; now the `net` field.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// # use edgepool::tcp::Config;
    /// let opts = Config::new("127.0.0.1:9000").nodelay(false).connect_options();
    /// assert!(!opts.nodelay);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    #[deprecated(since = "0.2.0", note = "read the `net` field")]
    pub fn connect_options(&self) -> ConnectOptions {
        self.net.clone()
    }
}

/// A connected stream with a broken flag, for pooling.
///
/// Reads and writes go straight to the stream. Any I/O error (timeouts
/// included, `Interrupted` excepted), a read of 0 bytes into a non-empty
/// buffer (end of stream) or a write of 0 bytes marks the connection broken,
/// and the pool then discards it.
///
/// ```
/// use edgepool::tcp::{Config, Connection};
/// use std::io::{Read, Write};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
/// let (mut peer, _) = listener.accept()?;
/// conn.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// peer.read_exact(&mut buf)?;
/// drop(peer);
/// assert_eq!(conn.read(&mut buf)?, 0);
/// assert!(conn.is_broken());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct Connection {
    stream: Stream,
    broken: bool,
}

impl Connection {
    /// Connects as `config` says (see [`Stream::open`]).
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// assert_eq!(conn.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn connect(config: &Config) -> Result<Connection> {
        let addr = net::host_port(&config.addr, None, "a TCP address")?;
        let stream = Stream::open(&addr, &config.net)?;
        Ok(Connection::new(stream))
    }

    /// Wraps a stream you connected yourself.
    ///
    /// ```
    /// # use edgepool::tcp::Connection; use edgepool::net::Stream;
    /// # use std::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let tcp = TcpStream::connect(listener.local_addr()?)?;
    /// let conn = Connection::new(Stream::Plain(tcp));
    /// assert!(!conn.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn new(stream: Stream) -> Connection {
        Connection {
            stream,
            broken: false,
        }
    }

    /// The stream.
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// assert!(!conn.stream().is_tls());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The stream, mutably. I/O done through it bypasses the broken flag:
    /// call [`Connection::mark_broken`] yourself after an error.
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// # use edgepool::net::SocketState;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// assert_eq!(conn.stream_mut().state(), SocketState::Idle);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// True once an I/O error, an end of stream or a failed probe was seen.
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// assert!(!conn.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection broken, so the pool discards it.
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// conn.mark_broken();
    /// assert!(conn.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// The peer's address.
    ///
    /// ```
    /// # use edgepool::tcp::{Config, Connection}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let conn = Connection::connect(&Config::new(listener.local_addr()?.to_string()))?;
    /// assert_eq!(conn.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.stream.peer_addr()
    }

    fn track<T>(&mut self, result: io::Result<T>, nothing: impl Fn(&T) -> bool) -> io::Result<T> {
        match &result {
            Ok(n) if nothing(n) => self.broken = true,
            Err(e) if e.kind() != io::ErrorKind::Interrupted => self.broken = true,
            _ => {}
        }
        result
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.stream.read(buf);
        self.track(result, |&n| n == 0 && !buf.is_empty())
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.stream.write(buf);
        self.track(result, |&n| n == 0 && !buf.is_empty())
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.stream.flush();
        self.track(result, |_| false)
    }
}

impl Probe for Connection {
    /// Non-blocking: [`Stream::state`]. A closed or dirty connection is
    /// marked broken and reported as [`Error::Unhealthy`].
    fn probe(&mut self) -> Result<()> {
        if self.broken {
            return Err(Error::Unhealthy("the connection failed earlier".into()));
        }
        let why = match self.stream.state() {
            SocketState::Idle => return Ok(()),
            SocketState::Closed => "peer closed the connection",
            SocketState::Dirty => "unread bytes from the peer that nobody asked for",
        };
        self.broken = true;
        Err(Error::Unhealthy(why.into()))
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.stream.tcp().peer_addr().ok())
            .field("tls", &self.stream.is_tls())
            .field("broken", &self.broken)
            .finish()
    }
}

crate::manage::stream_manager! {
    /// Opens and checks [`Connection`]s; use it in an edgepool or a plain
    /// `r2d2::Pool`.
    ///
    /// ```
    /// use edgepool::tcp::{Config, Manager};
    /// use r2d2::ManageConnection;
    /// use std::net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let manager = Manager::new(Config::new(listener.local_addr()?.to_string()));
    /// let mut conn = manager.connect()?;
    /// manager.is_valid(&mut conn)?;
    /// assert!(!manager.has_broken(&mut conn));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    Manager(Config) -> Connection,
    "edgepool::tcp::Manager::new(edgepool::tcp::Config::new(\"127.0.0.1:9000\"))"
}
