//! [`ServerPool`]: accepts the connections a [`ClientPool`](super::ClientPool)
//! dials, gives each an ID and stocks it until [`ServerPool::get`].

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::{wire, ConnId, IdFormat, WireError, MAX_WAIT};
use crate::backoff::Backoff;
use crate::net::{self, ConnectOptions, Stream};
use crate::{Error, Result};

/// TLS handshakes that may run at once; connections beyond are closed at
/// once (each handshake has its own thread, bounded by the handshake
/// timeout).
const MAX_HANDSHAKES: usize = 64;

/// How long [`ServerPool::close`] waits for the accept thread to let go of
/// the listening socket.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The server's TLS: off, a certificate and key in PEM, or a self-signed
/// certificate made in memory at start.
///
/// `SelfSigned` makes an ECDSA P-256 certificate with [`rcgen`] (ring
/// backend) for the names `localhost`, `127.0.0.1`, `::1` and the listening
/// address; clients accept it with [`TlsMode::Insecure`](crate::net::TlsMode::Insecure),
/// or verify it by trusting [`ServerPool::certificate_pem`] as their CA.
///
/// TLS needs the `tls` feature: without it, anything but `Off` makes
/// [`start`](ServerPoolBuilder::start) fail with [`Error::Config`]. `Debug`
/// never shows the key.
///
/// ```
/// use edgepool::tunnel::ServerTls;
///
/// let tls = ServerTls::Pem {
///     cert: b"-----BEGIN CERTIFICATE-----\n...".to_vec(),
///     key: b"-----BEGIN PRIVATE KEY-----\n...".to_vec(),
/// };
/// assert!(!format!("{tls:?}").contains("PRIVATE"));
/// assert!(matches!(ServerTls::default(), ServerTls::Off));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerTls {
    /// Plain TCP. The default.
    #[default]
    Off,
    /// A certificate (chain) and its private key, both PEM (the key as
    /// PKCS #8, SEC1 EC or PKCS #1 RSA).
    Pem {
        /// The certificate, then any intermediate certificates, in PEM.
        cert: Vec<u8>,
        /// The private key in PEM.
        key: Vec<u8>,
    },
    /// A self-signed certificate generated at start.
    SelfSigned,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerTls::Off => f.write_str("Off"),
            ServerTls::Pem { cert, .. } => f
                .debug_struct("Pem")
                .field("cert", &format_args!("<{} bytes PEM>", cert.len()))
                .field("key", &format_args!("<redacted>"))
                .finish(),
            ServerTls::SelfSigned => f.write_str("SelfSigned"),
        }
    }
}

/// Settings for a [`ServerPool`]; [`start`](Self::start) or
/// [`bind`](Self::bind) checks them and starts the pool.
///
/// ```
/// use std::time::Duration;
/// use edgepool::tunnel::{ServerPool, ServerTls};
///
/// let builder = ServerPool::builder()
///     .allow_ip(Some("10.0.0.7".parse()?))
///     .tls(ServerTls::SelfSigned)
///     .max_capacity(512)
///     .connect_timeout(Duration::from_secs(5));
/// # let _ = builder;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerPoolBuilder {
    allow_ip: Option<IpAddr>,
    tls: ServerTls,
    max_capacity: usize,
    /// `connect_timeout`: the deadline of each accepted connection's setup
    /// (TLS handshake, sending the ID); keepalive, nodelay and the I/O
    /// timeouts of stocked connections. Its `tls` is not used (see
    /// [`ServerTls`]).
    net: ConnectOptions,
    id_format: IdFormat,
}

impl Default for ServerPoolBuilder {
    fn default() -> Self {
        ServerPoolBuilder {
            allow_ip: None,
            tls: ServerTls::Off,
            max_capacity: 256,
            net: ConnectOptions::default().connect_timeout(Duration::from_secs(10)),
            id_format: IdFormat::Bytes,
        }
    }
}

impl ServerPoolBuilder {
    /// A builder with the defaults. Same as [`ServerPool::builder`].
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPoolBuilder;
    /// let builder = ServerPoolBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept connections from this address only; `None` accepts any.
    /// Defaults to `None`. Addresses are compared without IPv4 mapping: on a
    /// dual-stack listener, a client at `::ffff:10.0.0.7` matches
    /// `10.0.0.7`. Other clients are closed before anything is sent.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool; use std::net::Ipv4Addr;
    /// let builder = ServerPool::builder().allow_ip(Some(Ipv4Addr::new(192, 168, 1, 10).into()));
    /// # let _ = builder;
    /// ```
    pub fn allow_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.allow_ip = ip;
        self
    }

    /// TLS or not. Defaults to [`ServerTls::Off`].
    ///
    /// ```
    /// # use edgepool::tunnel::{ServerPool, ServerTls};
    /// let builder = ServerPool::builder().tls(ServerTls::SelfSigned);
    /// # let _ = builder;
    /// ```
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = tls;
        self
    }

    /// Most connections in stock (and in their handshake); further
    /// connections are closed at once. Defaults to 256; must be 1 to
    /// 65,536.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let builder = ServerPool::builder().max_capacity(1024);
    /// # let _ = builder;
    /// ```
    pub fn max_capacity(mut self, n: usize) -> Self {
        self.max_capacity = n;
        self
    }

    crate::net::net_setters!("edgepool::tunnel::ServerPool::builder()", no_tls);

    /// The deadline of each accepted connection's setup (TLS handshake,
    /// sending the ID): now [`connect_timeout`](Self::connect_timeout),
    /// the same setting under the name every configuration uses. Defaults
    /// to 10 s. A client that is slower (or silent) is closed; it never
    /// delays other clients.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// # use edgepool::tunnel::ServerPool; use std::time::Duration;
    /// let builder = ServerPool::builder().handshake_timeout(Duration::from_secs(3));
    /// # let _ = builder;
    /// ```
    #[deprecated(since = "0.2.0", note = "renamed to `connect_timeout`")]
    pub fn handshake_timeout(self, timeout: Duration) -> Self {
        self.connect_timeout(timeout)
    }

    /// How the ID goes on the wire: 4 raw bytes (the default, NodePass
    /// since mid-2025) or 8 hex characters (NodePass before). See
    /// [`IdFormat`].
    ///
    /// ```
    /// # use edgepool::tunnel::{IdFormat, ServerPool};
    /// let builder = ServerPool::builder().id_format(IdFormat::Hex);
    /// # let _ = builder;
    /// ```
    pub fn id_format(mut self, format: IdFormat) -> Self {
        self.id_format = format;
        self
    }

    /// Binds `addr` (`"host:port"`; port 0 picks a free one) and
    /// [`start`](Self::start)s on it.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn bind(self, addr: &str) -> Result<ServerPool> {
        let listener = TcpListener::bind(addr).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e}"),
            ))
        })?;
        self.start(listener)
    }

    /// Checks the settings, sets up TLS (generating the self-signed
    /// certificate if asked) and starts the accept thread on `listener`.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool; use std::net::TcpListener;
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let server = ServerPool::builder().start(listener)?;
    /// assert_eq!(server.active(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start(self, listener: TcpListener) -> Result<ServerPool> {
        if !(1..=65_536).contains(&self.max_capacity) {
            return Err(Error::Config("max_capacity must be 1 to 65536".to_owned()));
        }
        // What `net` would reject when connecting fails the start, not each
        // accepted connection.
        self.net.validate()?;
        listener.set_nonblocking(false)?;
        let local_addr = listener.local_addr()?;
        let (acceptor, certificate) = tls::setup(&self.tls, local_addr.ip())?;
        let shared = Arc::new(Shared {
            cfg: self,
            acceptor,
            certificate,
            local_addr,
            state: Mutex::new(State {
                stock: VecDeque::new(),
                ids: HashSet::new(),
                handshakes: 0,
                control_taken: false,
                closed: false,
                accepting: true,
            }),
            stocked: Condvar::new(),
            changed: Condvar::new(),
        });
        let worker = shared.clone();
        thread::Builder::new()
            .name("edgepool-tunnel-accept".into())
            .spawn(move || accept_loop(&worker, listener))?;
        Ok(ServerPool {
            handle: Arc::new(Handle { shared }),
        })
    }
}

/// The server end of a tunnel pool: accepts the connections a
/// [`ClientPool`](super::ClientPool) dials, sends each its ID and stocks it.
///
/// One accept thread takes new connections; the ID is sent at once on plain
/// TCP and after the TLS handshake (on a thread of its own, under the
/// handshake deadline) with TLS, so no client can stall the accept loop.
/// Cloning is cheap and clones share the pool; it closes when the last clone
/// is dropped.
///
/// ```
/// use std::io::Read;
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use edgepool::tunnel::{ConnId, ServerPool};
///
/// let server = ServerPool::builder().bind("127.0.0.1:0")?;
/// // What a client does: connect and read the 4-byte ID.
/// let mut client = TcpStream::connect(server.local_addr())?;
/// let mut id = [0u8; 4];
/// client.read_exact(&mut id)?;
/// let (stocked, _conn) = server.get(Duration::from_secs(5))?;
/// assert_eq!(stocked, ConnId::from_bytes(id));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerPool {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

struct Shared {
    cfg: ServerPoolBuilder,
    #[cfg(feature = "tls")]
    acceptor: Option<std::sync::Arc<rustls::ServerConfig>>,
    #[cfg(not(feature = "tls"))]
    acceptor: Option<std::convert::Infallible>,
    certificate: Option<Vec<u8>>,
    local_addr: SocketAddr,
    state: Mutex<State>,
    /// Signalled when a connection is stocked or the pool closes (`get`).
    stocked: Condvar,
    /// Signalled on close and when the accept thread stops.
    changed: Condvar,
}

struct State {
    /// Oldest first.
    stock: VecDeque<(ConnId, Stream)>,
    /// The IDs in stock and those being sent: never two alike.
    ids: HashSet<ConnId>,
    handshakes: usize,
    /// The control connection ([`ConnId::CONTROL`]) was handed out.
    control_taken: bool,
    closed: bool,
    /// The accept thread still holds the listening socket.
    accepting: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update under the lock is a single push, pop or assignment:
        // the state stays consistent even after a panic elsewhere.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, State>,
        left: Duration,
    ) -> MutexGuard<'a, State> {
        match cv.wait_timeout(guard, left) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// Room for one more connection? Sweeps closed connections out of a full
    /// stock before saying no.
    fn has_room(&self, state: &mut State) -> bool {
        let max = self.cfg.max_capacity;
        if state.stock.len() + state.handshakes < max {
            return true;
        }
        sweep(state);
        state.stock.len() + state.handshakes < max
    }

    /// Picks an ID that is neither in stock nor being sent, and reserves it:
    /// [`ConnId::CONTROL`] while the control connection is wanted, a random
    /// one otherwise.
    fn reserve_id(&self) -> Result<ConnId> {
        {
            let mut state = self.lock();
            if !state.control_taken && state.ids.insert(ConnId::CONTROL) {
                return Ok(ConnId::CONTROL);
            }
        }
        for _ in 0..8 {
            let id = wire::random_id()?;
            let mut state = self.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            if state.ids.insert(id) {
                return Ok(id);
            }
        }
        Err(Error::Protocol(WireError::NoFreeId.into()))
    }

    /// Sends the reserved ID and stocks the connection.
    fn stock(&self, id: ConnId, mut stream: Stream) -> Result<()> {
        let sent = wire::write_id(&mut stream, id, self.cfg.id_format)
            .and_then(|()| stream.set_read_timeout(self.cfg.net.read_timeout))
            .and_then(|()| stream.set_write_timeout(self.cfg.net.write_timeout));
        let mut state = self.lock();
        if let Err(e) = sent {
            state.ids.remove(&id);
            return Err(e);
        }
        if state.closed {
            state.ids.remove(&id);
            return Err(Error::Closed);
        }
        state.stock.push_back((id, stream));
        drop(state);
        self.stocked.notify_one();
        Ok(())
    }

    /// A connection the accept loop just took: check, configure, then send
    /// the ID here (plain) or on a handshake thread (TLS). Never blocks.
    fn admit(self: &Arc<Self>, tcp: TcpStream, peer: SocketAddr) {
        if let Some(allowed) = self.cfg.allow_ip {
            if wire::normalise(peer.ip()) != wire::normalise(allowed) {
                log::debug!("tunnel server: refused {peer}: only {allowed} may connect");
                return;
            }
        }
        let cfg = &self.cfg;
        // The handshake runs on the timeouts of its own deadline; these apply
        // once the connection is stocked.
        let handshake = ConnectOptions {
            read_timeout: None,
            write_timeout: None,
            ..cfg.net.clone()
        };
        if let Err(e) = net::configure(&tcp, &handshake) {
            log::debug!("tunnel server: cannot set up the socket of {peer}: {e}");
            return;
        }
        {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            if !self.has_room(&mut state) {
                log::debug!(
                    "tunnel server: refused {peer}: the stock is full ({} connections)",
                    cfg.max_capacity
                );
                return;
            }
            if self.acceptor.is_some() {
                if state.handshakes >= MAX_HANDSHAKES {
                    log::debug!("tunnel server: refused {peer}: {MAX_HANDSHAKES} TLS handshakes already running");
                    return;
                }
                state.handshakes += 1;
            }
        }
        if self.acceptor.is_none() {
            let result = self
                .reserve_id()
                .and_then(|id| self.stock(id, Stream::Plain(tcp)));
            if let Err(e) = result {
                log::debug!("tunnel server: dropped {peer}: {e}");
            }
            return;
        }
        let worker = self.clone();
        let spawned = thread::Builder::new()
            .name("edgepool-tunnel-tls".into())
            .spawn(move || {
                let deadline = Instant::now() + worker.cfg.net.connect_timeout;
                if let Err(e) = worker.tls_handshake(tcp, deadline) {
                    log::debug!("tunnel server: dropped {peer}: {e}");
                }
                worker.lock().handshakes -= 1;
            });
        if let Err(e) = spawned {
            log::warn!("tunnel server: cannot start a TLS handshake thread: {e}");
            self.lock().handshakes -= 1;
        }
    }

    #[cfg(feature = "tls")]
    fn tls_handshake(&self, tcp: TcpStream, deadline: Instant) -> Result<()> {
        let Some(acceptor) = &self.acceptor else {
            return Err(Error::Config("TLS is off".to_owned()));
        };
        let tls = super::tls::accept(acceptor, tcp, deadline)?;
        let id = self.reserve_id()?;
        self.stock(id, tls)
    }

    #[cfg(not(feature = "tls"))]
    fn tls_handshake(&self, _tcp: TcpStream, _deadline: Instant) -> Result<()> {
        Err(Error::Config(
            "TLS needs edgepool's `tls` feature".to_owned(),
        ))
    }

    /// Sleeps `delay` unless the pool closes first. False once closed.
    fn pause(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut state = self.lock();
        loop {
            if state.closed {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            state = self.wait(&self.changed, state, left);
        }
    }

    fn close(&self) {
        let stock = {
            let mut state = self.lock();
            if state.closed && !state.accepting {
                return;
            }
            state.closed = true;
            let stock = mem::take(&mut state.stock);
            for (id, _) in &stock {
                state.ids.remove(id);
            }
            stock
        };
        self.stocked.notify_all();
        self.changed.notify_all();
        drop(stock);
        // The accept thread sits in accept(): a connection of our own wakes
        // it, and it then drops the listening socket.
        let wake = wake_addr(self.local_addr);
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(500));
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut state = self.lock();
        while state.accepting {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(
                    "tunnel server: the accept thread on {} did not stop within {CLOSE_WAIT:?}",
                    self.local_addr
                );
                break;
            }
            state = self.wait(&self.changed, state, left);
        }
    }
}

/// Drops stocked connections the client has closed.
fn sweep(state: &mut State) {
    let mut dropped = Vec::new();
    state.stock.retain_mut(|(id, stream)| {
        if wire::is_closed(stream) {
            dropped.push(*id);
            false
        } else {
            true
        }
    });
    for id in &dropped {
        state.ids.remove(id);
        log::debug!("tunnel server: stocked connection {id} was closed by the client");
    }
}

/// Where to connect to reach a listener bound to `addr`.
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    // Accept errors (out of file descriptors, …) are retried with backoff,
    // never in a tight loop.
    let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        let accepted = listener.accept();
        if shared.lock().closed {
            break;
        }
        match accepted {
            Ok((tcp, peer)) => {
                backoff.success();
                shared.admit(tcp, peer);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let wait = backoff.failure();
                log::warn!(
                    "tunnel server: accept on {} failed: {e}; retrying in {wait:?}",
                    shared.local_addr
                );
                if !shared.pause(wait) {
                    break;
                }
            }
        }
    }
    drop(listener);
    shared.lock().accepting = false;
    shared.changed.notify_all();
    log::debug!("tunnel server: stopped accepting on {}", shared.local_addr);
}

impl ServerPool {
    /// A builder with the defaults: any client IP, TLS off, at most 256
    /// stocked connections, handshake deadline 10 s, keepalive on, read and
    /// write timeouts 5 s.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn builder() -> ServerPoolBuilder {
        ServerPoolBuilder::default()
    }

    /// Takes the oldest stocked connection and its ID, waiting up to
    /// `timeout` for one (NodePass: "take any ready connection").
    /// Connections the client has closed meanwhile are skipped (closed); the
    /// check never reads their data, so a connection holding bytes the
    /// client sent early is handed out with them. The first connection is
    /// the control connection, [`ConnId::CONTROL`].
    ///
    /// # Errors
    ///
    /// [`Error::PoolTimeout`] when no live connection arrived in time;
    /// [`Error::Closed`] after [`close`](Self::close).
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::{tunnel::ServerPool, Error};
    ///
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// let err = server.get_any(Duration::from_millis(20)).unwrap_err();
    /// assert!(matches!(err, Error::PoolTimeout { .. }));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_any(&self, timeout: Duration) -> Result<(ConnId, Stream)> {
        self.take(timeout, None)
    }

    /// Takes the stocked connection with this ID, waiting up to `timeout`
    /// for it (NodePass: "take the connection with this ID", for data that
    /// starts from the client's end: the client names the connection).
    ///
    /// # Errors
    ///
    /// [`Error::PoolTimeout`] when no connection with that ID is in stock in
    /// time; [`Error::Unhealthy`] when it is but the client has closed it;
    /// [`Error::Closed`] after [`close`](Self::close).
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::tunnel::{ClientPool, ConnId, ServerPool};
    ///
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// let client = ClientPool::builder(server.local_addr().to_string()).start()?;
    /// // The client picks a connection and names it; the server takes that one.
    /// let (id, _far) = client.get_any(Duration::from_secs(5))?;
    /// let _near = server.get_by_id(id, Duration::from_secs(5))?;
    /// assert_eq!(id, ConnId::CONTROL, "the first connection is the control connection");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_by_id(&self, id: ConnId, timeout: Duration) -> Result<Stream> {
        self.take(timeout, Some(id)).map(|(_, stream)| stream)
    }

    /// The same as [`get_any`](Self::get_any), under its name before 0.2.
    ///
    /// ```
    /// # use std::time::Duration; use edgepool::{tunnel::ServerPool, Error};
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// assert!(server.get(Duration::from_millis(20)).is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&self, timeout: Duration) -> Result<(ConnId, Stream)> {
        self.get_any(timeout)
    }

    /// The oldest live connection (`wanted` = `None`) or the one with that
    /// ID, waiting up to `timeout`.
    fn take(&self, timeout: Duration, wanted: Option<ConnId>) -> Result<(ConnId, Stream)> {
        let shared = &self.handle.shared;
        let start = Instant::now();
        let deadline = start + timeout.min(MAX_WAIT);
        let mut state = shared.lock();
        loop {
            if state.closed {
                return Err(Error::Closed);
            }
            let at = match wanted {
                None => Some(0).filter(|_| !state.stock.is_empty()),
                Some(id) => state.stock.iter().position(|(held, _)| *held == id),
            };
            if let Some((id, mut stream)) = at.and_then(|i| state.stock.remove(i)) {
                state.ids.remove(&id);
                if id == ConnId::CONTROL {
                    state.control_taken = true;
                }
                drop(state);
                if !wire::is_closed(&mut stream) {
                    return Ok((id, stream));
                }
                log::debug!("tunnel server: skipped connection {id}: the client closed it");
                drop(stream);
                if wanted.is_some() {
                    return Err(Error::Unhealthy(format!(
                        "the client closed connection {id} while it was in stock"
                    )));
                }
                state = shared.lock();
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::PoolTimeout {
                    waited: start.elapsed(),
                    last_error: None,
                });
            }
            state = shared.wait(&shared.stocked, state, left);
        }
    }

    /// Live connections in stock now: first drops those the client has
    /// closed (with TLS 1.3 too: the check reads `close_notify` through
    /// rustls without consuming payload).
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// assert_eq!(server.active(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn active(&self) -> usize {
        let mut state = self.handle.shared.lock();
        sweep(&mut state);
        state.stock.len()
    }

    /// The address the pool listens on.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.shared.local_addr
    }

    /// The server's certificate in PEM with [`ServerTls::SelfSigned`] or
    /// [`ServerTls::Pem`]; `None` without TLS. A client can trust a
    /// self-signed one as its CA (`TlsMode::Verified { server_name:
    /// Some("localhost".into()), ca: Some(pem) }`).
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// assert!(server.certificate_pem().is_none());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn certificate_pem(&self) -> Option<&[u8]> {
        self.handle.shared.certificate.as_deref()
    }

    /// Closes every stocked connection. The server keeps accepting.
    ///
    /// ```
    /// # use edgepool::tunnel::ServerPool;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// server.flush();
    /// assert_eq!(server.active(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn flush(&self) {
        let shared = &self.handle.shared;
        let stock = {
            let mut state = shared.lock();
            let stock = mem::take(&mut state.stock);
            for (id, _) in &stock {
                state.ids.remove(id);
            }
            stock
        };
        drop(stock);
    }

    /// Stops accepting (the listening socket is closed when this returns,
    /// so the port can be bound again), closes the stock and wakes every
    /// waiting [`get`](Self::get) with [`Error::Closed`]. Idempotent.
    /// Connections already handed out are not touched.
    ///
    /// ```
    /// # use edgepool::{tunnel::ServerPool, Error}; use std::time::Duration;
    /// let server = ServerPool::builder().bind("127.0.0.1:0")?;
    /// let addr = server.local_addr();
    /// server.close();
    /// server.close();
    /// assert!(matches!(server.get(Duration::from_secs(1)), Err(Error::Closed)));
    /// assert!(std::net::TcpListener::bind(addr).is_ok());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn close(&self) {
        self.handle.shared.close();
    }
}

impl fmt::Debug for ServerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        let state = shared.lock();
        f.debug_struct("ServerPool")
            .field("local_addr", &shared.local_addr)
            .field("tls", &shared.cfg.tls)
            .field("allow_ip", &shared.cfg.allow_ip)
            .field("active", &state.stock.len())
            .field("handshakes", &state.handshakes)
            .field("closed", &state.closed)
            .finish()
    }
}

#[cfg(feature = "tls")]
mod tls {
    use super::ServerTls;
    use crate::{Error, Result};
    use rustls::ServerConfig;
    use std::net::IpAddr;
    use std::sync::Arc;

    /// The server's rustls configuration, shared by its handshakes.
    type Config = Arc<ServerConfig>;

    /// The rustls configuration and the certificate PEM for `tls`.
    pub(super) fn setup(
        tls: &ServerTls,
        listening: IpAddr,
    ) -> Result<(Option<Config>, Option<Vec<u8>>)> {
        let (cert, key) = match tls {
            ServerTls::Off => return Ok((None, None)),
            ServerTls::Pem { cert, key } => (cert.clone(), key.clone()),
            ServerTls::SelfSigned => self_signed(listening)?,
        };
        let acceptor = crate::tunnel::tls::server_config(&cert, &key)?;
        Ok((Some(acceptor), Some(cert)))
    }

    fn self_signed(listening: IpAddr) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let ip = listening.to_string();
        if !listening.is_unspecified() && !names.contains(&ip) {
            names.push(ip);
        }
        let made =
            rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(Box::new(e)))?;
        Ok((
            made.cert.pem().into_bytes(),
            made.signing_key.serialize_pem().into_bytes(),
        ))
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use super::ServerTls;
    use crate::{Error, Result};
    use std::convert::Infallible;
    use std::net::IpAddr;

    pub(super) fn setup(
        tls: &ServerTls,
        _listening: IpAddr,
    ) -> Result<(Option<Infallible>, Option<Vec<u8>>)> {
        match tls {
            ServerTls::Off => Ok((None, None)),
            _ => Err(Error::Config(
                "TLS needs edgepool's `tls` feature".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_addr_reaches_unspecified_listeners_over_loopback() {
        let a: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(wake_addr(a), "127.0.0.1:80".parse().unwrap());
        let a: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(wake_addr(a), "[::1]:80".parse().unwrap());
        let a: SocketAddr = "127.0.0.2:80".parse().unwrap();
        assert_eq!(wake_addr(a), a);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let tls = ServerTls::Pem {
            cert: b"CERT".to_vec(),
            key: b"SECRET KEY".to_vec(),
        };
        let shown = format!("{tls:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("4 bytes PEM"), "{shown}");
    }
}
