//! [`Stream`], plain or TLS, and the non-blocking liveness check
//! ([`SocketState`], [`socket_state`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[cfg(not(feature = "tls"))]
use super::config;
use super::{check_timeout, connect_until, ConnectOptions, TlsMode};
#[cfg(feature = "tls")]
use super::{host_part, tls};
use crate::{Error, Phase, Result};

/// A connected stream, plain TCP or TLS over TCP. Implements `Read + Write`.
///
/// ```
/// use edgepool::net::{ConnectOptions, Stream, TlsMode};
/// use std::io::{Read, Write};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?.to_string();
/// let mut stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// [`Stream::open`] makes.
    #[cfg(feature = "tls")]
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    /// TLS over TCP through rustls (features `tls` and `tunnel`): what the
    /// tunnel pools make, in both roles, TLS 1.2 or 1.3.
    #[cfg(all(feature = "tls", feature = "tunnel"))]
    Rustls(Box<super::RustlsStream>),
}

impl Stream {
    /// Connects to `addr` (`"host:port"`) with [`connect`](super::connect), then, unless
    /// `opts.tls` is [`TlsMode::Off`], runs the TLS handshake.
    ///
    /// The TCP connect and the whole TLS handshake share one deadline,
    /// `opts.connect_timeout` from now (however slowly the peer trickles the
    /// handshake out); the configured I/O timeouts apply afterwards. The TLS
    /// connector for each distinct mode is built once per process and reused
    /// (building one loads the system's trusted roots). A handshake that
    /// stalls gives [`Error::Timeout`]`(`[`Phase::TlsHandshake`]`)`; a
    /// rejected certificate or a failed handshake gives [`Error::Tls`].
    ///
    /// ```no_run
    /// use edgepool::net::{ConnectOptions, Stream, TlsMode};
    ///
    /// let ca = std::fs::read("/etc/edge/ca.pem")?;
    /// let opts = ConnectOptions::default().tls(TlsMode::Verified { server_name: None, ca: Some(ca) });
    /// let stream = Stream::open("gateway.local:8883", &opts)?;
    /// assert!(stream.is_tls());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn open(addr: &str, opts: &ConnectOptions) -> Result<Stream> {
        Stream::open_until(addr, opts, Instant::now() + opts.connect_timeout)
    }

    /// [`Stream::open`] by `deadline`, for a client whose protocol handshake
    /// follows under the same deadline (see [`Stream::set_deadline`]).
    pub(crate) fn open_until(
        addr: &str,
        opts: &ConnectOptions,
        deadline: Instant,
    ) -> Result<Stream> {
        match &opts.tls {
            TlsMode::Off => Ok(Stream::Plain(connect_until(addr, opts, deadline)?)),
            #[cfg(feature = "tls")]
            mode => {
                let connector = tls::cached_connector(mode)?;
                let tcp = connect_until(addr, opts, deadline)?;
                let name = match mode {
                    TlsMode::Verified {
                        server_name: Some(name),
                        ..
                    } => name.as_str(),
                    _ => host_part(addr),
                };
                tls::handshake(&connector, name, tcp, opts, deadline)
                    .map(|s| Stream::Tls(Box::new(s)))
            }
            #[cfg(not(feature = "tls"))]
            _ => Err(config("TLS needs edgepool's `tls` feature")),
        }
    }

    /// The old form of [`Stream::open`], with TLS passed apart from the
    /// other settings.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    #[deprecated(since = "0.2.0", note = "use `Stream::open(addr, &opts.tls(mode))`")]
    pub fn connect(addr: &str, opts: &ConnectOptions, tls: &TlsMode) -> Result<Stream> {
        Stream::open(addr, &opts.clone().tls(tls.clone()))
    }

    /// Bounds the blocking reads and writes that follow by `deadline` (both
    /// socket timeouts set to the time left), for a protocol handshake that
    /// shares the connect's deadline; no time left gives
    /// [`Error::Timeout`]`(phase)`. Call it before each exchange of the
    /// handshake and [`Stream::set_timeouts`] after the last.
    #[cfg_attr(not(any(feature = "redis", feature = "s7")), allow(dead_code))]
    pub(crate) fn set_deadline(&self, deadline: Instant, phase: Phase) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(phase));
        }
        let tcp = self.tcp();
        tcp.set_read_timeout(Some(left))?;
        Ok(tcp.set_write_timeout(Some(left))?)
    }

    /// Puts back the read and write timeouts of `opts` (after a handshake
    /// bounded by [`Stream::set_deadline`]).
    #[cfg_attr(not(any(feature = "redis", feature = "s7")), allow(dead_code))]
    pub(crate) fn set_timeouts(&self, opts: &ConnectOptions) -> Result<()> {
        let tcp = self.tcp();
        tcp.set_read_timeout(opts.read_timeout)?;
        Ok(tcp.set_write_timeout(opts.write_timeout)?)
    }

    /// The underlying TCP socket.
    ///
    /// ```
    /// # use edgepool::net::{ConnectOptions, Stream, TlsMode}; use std::net::TcpListener;
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// # use std::time::{Duration, Instant};
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// # use std::time::{Duration, Instant};
    /// # let listener = TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// let stream = Stream::open(&addr, &ConnectOptions::default())?;
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
    /// let mut stream = Stream::open(&addr, &ConnectOptions::default())?;
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
