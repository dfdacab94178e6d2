//! Sockets: connect with a timeout, TCP keepalive, nodelay and I/O timeouts,
//! optional TLS ([`Stream`], [`TlsMode`]), and the non-blocking check that tells
//! whether a pooled socket is still usable ([`socket_state`], [`Stream::state`]).
//!
//! ```
//! use edgepool::net::{self, ConnectOptions, SocketState};
//! use std::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?.to_string();
//! let stream = net::connect(&addr, &ConnectOptions::default())?;
//! assert_eq!(net::socket_state(&stream), SocketState::Idle);
//! # Ok::<(), edgepool::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::{Error, Phase, Result};

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

/// How [`connect`] and [`Stream::connect`] open and set up a TCP connection.
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
    /// Upper bound for the whole connect, over every resolved address (and,
    /// for TLS, for each read or write of the handshake). Defaults to 3 s.
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
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Some(Duration::from_secs(5)),
            write_timeout: Some(Duration::from_secs(5)),
            keepalive: Some(Keepalive::default()),
            nodelay: true,
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

    /// Sets the read timeout; `None` blocks forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions;
    /// let opts = ConnectOptions::default().read_timeout(None);
    /// assert_eq!(opts.read_timeout, None);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the write timeout; `None` blocks forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::net::ConnectOptions; use std::time::Duration;
    /// let opts = ConnectOptions::default().write_timeout(Some(Duration::from_secs(1)));
    /// assert_eq!(opts.write_timeout, Some(Duration::from_secs(1)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
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

fn config(msg: &str) -> Error {
    Error::Config(msg.to_owned())
}

fn check_timeout(name: &str, timeout: Option<Duration>) -> Result<()> {
    match timeout {
        Some(t) if t.is_zero() => Err(Error::Config(format!(
            "{name} must be greater than zero (use None for no timeout)"
        ))),
        _ => Ok(()),
    }
}

/// Resolves `addr` (`"host:port"`), connects to the first resolved address
/// that answers, and applies `opts` (nodelay, keepalive, I/O timeouts).
///
/// Every resolved address is tried in turn; the whole attempt is bounded by
/// `opts.connect_timeout`, each address getting an equal share of the time
/// left. Running out of time gives [`Error::Timeout`]`(`[`Phase::Connect`]`)`;
/// other failures give [`Error::Io`] with the OS error kind kept and the
/// address named in the message. A name that resolves to nothing gives an I/O
/// error of kind `NotFound`.
///
/// # Warnings
///
/// Name resolution uses the system resolver, which std cannot bound: a slow
/// DNS server delays the call beyond `connect_timeout`. Use IP addresses on
/// gateways where that matters.
///
/// ```
/// use edgepool::net::{connect, ConnectOptions};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let stream = connect(&listener.local_addr()?.to_string(), &ConnectOptions::default())?;
/// assert!(stream.nodelay()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn connect(addr: &str, opts: &ConnectOptions) -> Result<TcpStream> {
    opts.validate()?;
    if addr.is_empty() {
        return Err(config("the address is empty"));
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| named(addr, e))?
        .collect();
    if addrs.is_empty() {
        let e = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        return Err(named(addr, e).into());
    }
    connect_resolved(Some(addr), &addrs, opts)
}

/// Like [`connect`], for addresses already resolved: tries each in turn
/// within `opts.connect_timeout` and applies `opts` to the first that answers.
///
/// ```
/// use edgepool::net::{connect_addrs, ConnectOptions};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let stream = connect_addrs(&[listener.local_addr()?], &ConnectOptions::default())?;
/// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn connect_addrs(addrs: &[SocketAddr], opts: &ConnectOptions) -> Result<TcpStream> {
    opts.validate()?;
    if addrs.is_empty() {
        let e = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        return Err(e.into());
    }
    connect_resolved(None, addrs, opts)
}

fn connect_resolved(
    name: Option<&str>,
    addrs: &[SocketAddr],
    opts: &ConnectOptions,
) -> Result<TcpStream> {
    let deadline = Instant::now() + opts.connect_timeout;
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let remaining = u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        let share = (left / remaining).max(Duration::from_millis(1));
        match connect_one(addr, share) {
            Ok(stream) => {
                configure(&stream, opts).map_err(|e| named(&label(name, addr), e))?;
                return Ok(stream);
            }
            Err(e) => {
                log::debug!("connect to {} failed: {e}", label(name, addr));
                last = Some((addr, e));
            }
        }
    }
    match last {
        Some((addr, e)) if !is_io_timeout(&e) => Err(named(&label(name, addr), e).into()),
        _ => Err(Error::Timeout(Phase::Connect)),
    }
}

fn connect_one(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.connect_timeout(&(*addr).into(), timeout)?;
    Ok(socket.into())
}

/// Sets up a connected (or accepted) socket as `opts` says: nodelay,
/// keepalive, I/O timeouts. Shared by [`connect`] and the tunnel server's
/// accepted sockets.
pub(crate) fn configure(stream: &TcpStream, opts: &ConnectOptions) -> io::Result<()> {
    stream.set_nodelay(opts.nodelay)?;
    if let Some(k) = &opts.keepalive {
        SockRef::from(stream).set_tcp_keepalive(&tcp_keepalive(k))?;
    }
    stream.set_read_timeout(opts.read_timeout)?;
    stream.set_write_timeout(opts.write_timeout)
}

/// socket2's keepalive for `k`; where the OS cannot set the interval or the
/// count, only the idle time is applied.
pub(crate) fn tcp_keepalive(k: &Keepalive) -> TcpKeepalive {
    let ka = TcpKeepalive::new().with_time(k.idle);
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "illumos",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "tvos",
        target_os = "watchos",
        target_os = "windows",
    ))]
    let ka = ka.with_interval(k.interval);
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "illumos",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "tvos",
        target_os = "watchos",
    ))]
    let ka = ka.with_retries(k.count);
    ka
}

fn label(name: Option<&str>, addr: &SocketAddr) -> String {
    match name {
        Some(n) if n != addr.to_string() => format!("{n} ({addr})"),
        _ => addr.to_string(),
    }
}

fn named(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn is_io_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
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

/// A connected stream, plain TCP or TLS over TCP. Implements `Read + Write`.
///
/// ```
/// use edgepool::net::{ConnectOptions, Stream, TlsMode};
/// use std::io::{Read, Write};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?.to_string();
/// let mut stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
/// let (mut peer, _) = listener.accept()?;
/// stream.write_all(b"hi")?;
/// let mut buf = [0; 2];
/// peer.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hi");
/// assert!(!stream.is_tls());
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP through `native-tls` (feature `tls`): what
    /// [`Stream::connect`] makes.
    #[cfg(feature = "tls")]
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    /// TLS over TCP through rustls (features `tls` and `tunnel`): what the
    /// [tunnel pools](crate::tunnel) make, in both roles, TLS 1.2 or 1.3.
    #[cfg(all(feature = "tls", feature = "tunnel"))]
    Rustls(Box<crate::tunnel::TlsStream>),
}

impl Stream {
    /// Connects to `addr` (`"host:port"`) with [`connect`], then, unless `tls`
    /// is [`TlsMode::Off`], runs the TLS handshake.
    ///
    /// The whole handshake must finish within `opts.connect_timeout` (however
    /// slowly the peer trickles it out); the configured I/O timeouts apply
    /// afterwards. The TLS connector for each distinct `tls` is built once per
    /// process and reused (building one loads the system's trusted roots). A
    /// handshake that stalls gives
    /// [`Error::Timeout`]`(`[`Phase::TlsHandshake`]`)`; a rejected certificate
    /// or a failed handshake gives [`Error::Tls`].
    ///
    /// ```no_run
    /// use edgepool::net::{ConnectOptions, Stream, TlsMode};
    ///
    /// let ca = std::fs::read("/etc/edge/ca.pem")?;
    /// let tls = TlsMode::Verified { server_name: None, ca: Some(ca) };
    /// let stream = Stream::connect("gateway.local:8883", &ConnectOptions::default(), &tls)?;
    /// assert!(stream.is_tls());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn connect(addr: &str, opts: &ConnectOptions, tls: &TlsMode) -> Result<Stream> {
        match tls {
            TlsMode::Off => Ok(Stream::Plain(connect(addr, opts)?)),
            #[cfg(feature = "tls")]
            mode => {
                let connector = tls::cached_connector(mode)?;
                let tcp = connect(addr, opts)?;
                let name = match mode {
                    TlsMode::Verified {
                        server_name: Some(name),
                        ..
                    } => name.as_str(),
                    _ => host_part(addr),
                };
                tls::handshake(&connector, name, tcp, opts).map(|s| Stream::Tls(Box::new(s)))
            }
            #[cfg(not(feature = "tls"))]
            _ => Err(config("TLS needs edgepool's `tls` feature")),
        }
    }

    /// The underlying TCP socket.
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// assert!(stream.tcp().nodelay()?);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref(),
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(s) => s.tcp(),
        }
    }

    /// Sets the socket's read timeout; `None` blocks forever. A zero duration
    /// gives [`Error::Config`].
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # use std::time::Duration;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert!(stream.set_read_timeout(Some(Duration::ZERO)).is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        check_timeout("read_timeout", timeout)?;
        Ok(self.tcp().set_read_timeout(timeout)?)
    }

    /// Sets the socket's write timeout; `None` blocks forever. A zero
    /// duration gives [`Error::Config`].
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # use std::time::Duration;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// stream.set_write_timeout(None)?;
    /// assert_eq!(stream.tcp().write_timeout()?, None);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        check_timeout("write_timeout", timeout)?;
        Ok(self.tcp().set_write_timeout(timeout)?)
    }

    /// The peer's address.
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        Ok(self.tcp().peer_addr()?)
    }

    /// True for a TLS stream.
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// assert!(!stream.is_tls());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(_) => true,
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(_) => true,
        }
    }

    /// Checks, without blocking, whether the connection is still usable.
    ///
    /// A plain stream is checked with [`socket_state`], which never consumes
    /// data. A TLS stream is checked through TLS with the socket
    /// non-blocking, so that TLS 1.3 session tickets (which arrive after the
    /// handshake) are processed rather than mistaken for stray data, and a
    /// `close_notify` (in TLS 1.3 an encrypted record) counts as closed:
    /// `Stream::Rustls` reads and processes the records that arrived without
    /// taking decrypted data out of rustls (nothing consumed),
    /// [`Stream::Tls`] reads one byte.
    ///
    /// # Warnings
    ///
    /// For [`Stream::Tls`], a [`SocketState::Dirty`] result may have consumed
    /// the stray byte. The connection is unusable then anyway: discard it.
    ///
    /// ```
    /// use edgepool::net::{ConnectOptions, SocketState, Stream, TlsMode};
    /// use std::net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?.to_string();
    /// let mut stream = Stream::connect(&addr, &ConnectOptions::default(), &TlsMode::Off)?;
    /// assert_eq!(stream.state(), SocketState::Idle);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn state(&mut self) -> SocketState {
        match self {
            Stream::Plain(s) => socket_state(s),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => tls::state(s),
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(s) => s.state(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            #[cfg(all(feature = "tls", feature = "tunnel"))]
            Stream::Rustls(s) => s.flush(),
        }
    }
}

/// What a non-blocking look at an idle socket found.
///
/// ```
/// use edgepool::net::SocketState;
/// assert_ne!(SocketState::Idle, SocketState::Closed);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketState {
    /// Open, nothing waiting to be read: safe to reuse.
    Idle,
    /// The peer closed the connection, or the socket failed.
    Closed,
    /// Bytes nobody asked for are waiting (a late reply): reusing the
    /// connection would mix them into the next answer.
    Dirty,
}

/// Checks, without blocking and without consuming data, whether an idle TCP
/// socket is still usable: peeks one byte with the socket non-blocking, then
/// restores blocking mode.
///
/// For a TLS connection use [`Stream::state`] instead: the raw socket may hold
/// TLS records (session tickets) that are not application data.
///
/// ```
/// use edgepool::net::{socket_state, SocketState};
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let stream = TcpStream::connect(listener.local_addr()?)?;
/// let (mut peer, _) = listener.accept()?;
/// assert_eq!(socket_state(&stream), SocketState::Idle);
/// peer.write_all(b"late reply")?;
/// # std::thread::sleep(std::time::Duration::from_millis(50));
/// assert_eq!(socket_state(&stream), SocketState::Dirty);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn socket_state(stream: &TcpStream) -> SocketState {
    if stream.set_nonblocking(true).is_err() {
        return SocketState::Closed;
    }
    let mut byte = [0u8; 1];
    let state = loop {
        match stream.peek(&mut byte) {
            Ok(0) => break SocketState::Closed,
            Ok(_) => break SocketState::Dirty,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break SocketState::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break SocketState::Closed,
        }
    };
    if stream.set_nonblocking(false).is_err() {
        return SocketState::Closed;
    }
    state
}

/// Waits until the non-blocking socket `tcp` has something to read, the
/// peer closed it, or it failed, at most until `deadline`: a blocking 1-byte
/// peek under a read timeout of the time left, which consumes nothing.
/// Running out of time gives [`Error::Timeout`]`(phase)`; a socket error is
/// left for the next read to report. Leaves the socket non-blocking.
///
/// Every handshake edgepool drives (TLS in both roles, the tunnel's
/// connection ID) waits here, so a peer that trickles bytes cannot stretch a
/// deadline. (Handshake writes are small enough for an empty socket buffer.)
#[cfg_attr(not(any(feature = "tls", feature = "tunnel")), allow(dead_code))]
pub(crate) fn wait_readable(tcp: &TcpStream, deadline: Instant, phase: Phase) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::Timeout(phase));
    }
    tcp.set_nonblocking(false)?;
    let waited = tcp.set_read_timeout(Some(left)).map(|()| loop {
        match tcp.peek(&mut [0u8; 1]) {
            Ok(_) => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_io_timeout(&e) => break Err(Error::Timeout(phase)),
            // The handshake's next read reports it.
            Err(_) => break Ok(()),
        }
    });
    tcp.set_nonblocking(true)?;
    waited?
}

/// The host part of `"host:port"`, `"[v6]:port"` or a bare host.
#[cfg_attr(not(any(feature = "tls", feature = "tunnel")), allow(dead_code))]
pub(crate) fn host_part(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(feature = "tls")]
pub(crate) mod tls {
    use super::{wait_readable, ConnectOptions, SocketState, TlsMode};
    use crate::{Error, Phase, Result};
    use native_tls::{Certificate, HandshakeError, TlsConnector, TlsStream};
    use std::io::{self, Read};
    use std::net::TcpStream;
    use std::sync::{Mutex, PoisonError};
    use std::time::Instant;

    /// Connectors already built, by mode: building one loads the system's
    /// trusted roots (tens of milliseconds), so every pool reuses them.
    static CONNECTORS: Mutex<Vec<(TlsMode, TlsConnector)>> = Mutex::new(Vec::new());
    /// Distinct modes kept; a program with more starts over (never unbounded).
    const CACHED_MODES: usize = 16;

    /// A connector for `mode` (for `Off`, a default one), built once per mode
    /// and process and then shared (a `TlsConnector` is a cheap handle).
    pub(crate) fn cached_connector(mode: &TlsMode) -> Result<TlsConnector> {
        let lock = || CONNECTORS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = lock().iter().find(|(m, _)| m == mode) {
            return Ok(c.clone());
        }
        let built = connector(mode)?;
        let mut cache = lock();
        if cache.len() >= CACHED_MODES {
            cache.clear();
        }
        if !cache.iter().any(|(m, _)| m == mode) {
            cache.push((mode.clone(), built.clone()));
        }
        Ok(built)
    }

    /// A new connector for `mode` (for `Off`, a default one). Making one loads
    /// the system's trusted roots: tens of milliseconds.
    pub(crate) fn connector(mode: &TlsMode) -> Result<TlsConnector> {
        let mut builder = TlsConnector::builder();
        match mode {
            TlsMode::Off => {}
            TlsMode::Insecure => {
                builder
                    .danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true);
            }
            TlsMode::Verified { ca, .. } => {
                if let Some(pem) = ca {
                    let cert = Certificate::from_pem(pem).map_err(|e| {
                        Error::Config(format!("the TLS CA is not a PEM certificate: {e}"))
                    })?;
                    builder.add_root_certificate(cert);
                }
            }
        }
        builder.build().map_err(|e| Error::Tls(Box::new(e)))
    }

    /// The TLS handshake, bounded as a whole by `opts.connect_timeout`: the
    /// socket is non-blocking during it and every wait for the peer gets only
    /// the time left, so a peer that trickles its handshake out byte by byte
    /// cannot stretch it.
    pub(super) fn handshake(
        connector: &TlsConnector,
        name: &str,
        tcp: TcpStream,
        opts: &ConnectOptions,
    ) -> Result<TlsStream<TcpStream>> {
        let deadline = Instant::now() + opts.connect_timeout;
        tcp.set_nonblocking(true)?;
        let mut attempt = connector.connect(name, tcp);
        let stream = loop {
            match attempt {
                Ok(stream) => break stream,
                Err(HandshakeError::WouldBlock(mid)) => {
                    wait_readable(mid.get_ref(), deadline, Phase::TlsHandshake)?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) if timed_out(&e) => {
                    return Err(Error::Timeout(Phase::TlsHandshake))
                }
                Err(HandshakeError::Failure(e)) => return Err(Error::Tls(Box::new(e))),
            }
        };
        let tcp = stream.get_ref();
        tcp.set_nonblocking(false)?;
        tcp.set_read_timeout(opts.read_timeout)?;
        tcp.set_write_timeout(opts.write_timeout)?;
        Ok(stream)
    }

    /// True when an I/O timeout caused the failure (Windows reports a socket
    /// timeout as `TimedOut`, which TLS libraries treat as fatal).
    fn timed_out(e: &native_tls::Error) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<io::Error>() {
                if super::is_io_timeout(io) {
                    return true;
                }
            }
            source = err.source();
        }
        false
    }

    pub(super) fn state(stream: &mut TlsStream<TcpStream>) -> SocketState {
        if stream.get_ref().set_nonblocking(true).is_err() {
            return SocketState::Closed;
        }
        let mut byte = [0u8; 1];
        let state = loop {
            match stream.read(&mut byte) {
                Ok(0) => break SocketState::Closed,
                Ok(_) => break SocketState::Dirty,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break SocketState::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break SocketState::Closed,
            }
        };
        if stream.get_ref().set_nonblocking(false).is_err() {
            return SocketState::Closed;
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_strips_port_and_brackets() {
        assert_eq!(host_part("localhost:443"), "localhost");
        assert_eq!(host_part("[::1]:443"), "::1");
        assert_eq!(host_part("10.0.0.1:102"), "10.0.0.1");
        assert_eq!(host_part("plc"), "plc");
    }

    #[test]
    fn label_names_both_when_they_differ() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(
            label(Some("localhost:80"), &a),
            "localhost:80 (127.0.0.1:80)"
        );
        assert_eq!(label(Some("127.0.0.1:80"), &a), "127.0.0.1:80");
        assert_eq!(label(None, &a), "127.0.0.1:80");
    }

    #[test]
    fn zero_and_subsecond_settings_are_rejected() {
        let bad = [
            ConnectOptions::default().connect_timeout(Duration::ZERO),
            ConnectOptions::default().read_timeout(Some(Duration::ZERO)),
            ConnectOptions::default().write_timeout(Some(Duration::ZERO)),
            ConnectOptions::default().keepalive(Some(Keepalive {
                idle: Duration::from_millis(500),
                ..Keepalive::default()
            })),
            ConnectOptions::default().keepalive(Some(Keepalive {
                count: 0,
                ..Keepalive::default()
            })),
        ];
        for opts in bad {
            assert!(matches!(opts.validate(), Err(Error::Config(_))), "{opts:?}");
        }
        assert!(ConnectOptions::default().validate().is_ok());
    }
}
