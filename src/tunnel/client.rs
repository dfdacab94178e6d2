//! [`ClientPool`]: a stock of connections dialled to a tunnel server, each
//! known by the ID the server sent first.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::mem;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::{adjust, wire, ConnId, IdFormat, MAX_WAIT};
use crate::backoff::Backoff;
use crate::net::{self, ConnectOptions, Keepalive, Stream, TlsMode};
use crate::{Error, Result};

/// Settings for a [`ClientPool`]; [`start`](ClientPoolBuilder::start) checks
/// them and starts the pool.
///
/// ```
/// use std::time::Duration;
/// use edgepool::net::TlsMode;
/// use edgepool::tunnel::ClientPool;
///
/// let builder = ClientPool::builder("tunnel.example:10101")
///     .min_capacity(8)
///     .max_capacity(128)
///     .min_interval(Duration::from_millis(50))
///     .max_interval(Duration::from_secs(2))
///     .tls(TlsMode::Insecure)
///     .handshake_timeout(Duration::from_secs(5));
/// # let _ = builder;
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientPoolBuilder {
    addr: String,
    min_capacity: usize,
    max_capacity: usize,
    min_interval: Duration,
    max_interval: Duration,
    tls: TlsMode,
    connect: ConnectOptions,
    handshake_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    id_format: IdFormat,
    dial_concurrency: usize,
}

impl fmt::Debug for ClientPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientPoolBuilder")
            .field("addr", &self.addr)
            .field("min_capacity", &self.min_capacity)
            .field("max_capacity", &self.max_capacity)
            .field("min_interval", &self.min_interval)
            .field("max_interval", &self.max_interval)
            .field("tls", &self.tls)
            .field("connect", &self.connect)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("backoff", &(self.backoff_min..self.backoff_max))
            .field("id_format", &self.id_format)
            .field("dial_concurrency", &self.dial_concurrency)
            .finish()
    }
}

impl ClientPoolBuilder {
    /// A builder for a pool dialling `addr` (`"host:port"`), with the
    /// defaults. Same as [`ClientPool::builder`].
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPoolBuilder;
    /// let builder = ClientPoolBuilder::new("127.0.0.1:10101");
    /// # let _ = builder;
    /// ```
    pub fn new(addr: impl Into<String>) -> ClientPoolBuilder {
        ClientPoolBuilder {
            addr: addr.into(),
            min_capacity: 4,
            max_capacity: 64,
            min_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(1),
            tls: TlsMode::Off,
            connect: ConnectOptions::default(),
            handshake_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            id_format: IdFormat::Bytes,
            dial_concurrency: 4,
        }
    }

    /// Most dials in flight at once while a round refills the stock.
    /// Defaults to 4; must be 1 (one after another) to 64.
    ///
    /// A round dials one connection alone first, so a server that is down
    /// costs one failed dial per round whatever this is. After that, up to
    /// this many TCP connects and TLS handshakes run at once, each on its own
    /// short-lived thread: with TLS on a multi-core gateway, or over a link
    /// with a long round trip, a flushed stock refills several times faster.
    /// The default 4 stays far below what a server takes for a flood (a
    /// [`ServerPool`](super::ServerPool) runs up to 64 handshakes at once,
    /// Linux queues 4096 connections per listener by default).
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let builder = ClientPool::builder("127.0.0.1:10101").dial_concurrency(1);
    /// # let _ = builder;
    /// ```
    pub fn dial_concurrency(mut self, n: usize) -> Self {
        self.dial_concurrency = n;
        self
    }

    /// How the server sends the ID: 4 raw bytes (the default, NodePass
    /// since mid-2025) or 8 hex characters (NodePass before). See
    /// [`IdFormat`].
    ///
    /// ```
    /// # use edgepool::tunnel::{ClientPool, IdFormat};
    /// let builder = ClientPool::builder("127.0.0.1:10101").id_format(IdFormat::Hex);
    /// # let _ = builder;
    /// ```
    pub fn id_format(mut self, format: IdFormat) -> Self {
        self.id_format = format;
        self
    }

    /// The smallest stock the pool aims for, and its starting capacity.
    /// Defaults to 4; must be at least 1.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let builder = ClientPool::builder("127.0.0.1:10101").min_capacity(1);
    /// # let _ = builder;
    /// ```
    pub fn min_capacity(mut self, n: usize) -> Self {
        self.min_capacity = n;
        self
    }

    /// The largest stock the pool grows to. Defaults to 64; must be at least
    /// `min_capacity` and at most 65,536.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let builder = ClientPool::builder("127.0.0.1:10101").max_capacity(256);
    /// # let _ = builder;
    /// ```
    pub fn max_capacity(mut self, n: usize) -> Self {
        self.max_capacity = n;
        self
    }

    /// The shortest time between two rounds of the manager, and the starting
    /// interval. Defaults to 100 ms; must be greater than zero.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").min_interval(Duration::from_millis(20));
    /// # let _ = builder;
    /// ```
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// The longest time between two rounds. Defaults to 1 s; must be at
    /// least `min_interval`.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").max_interval(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// TLS or not, and which certificates to trust. Defaults to
    /// [`TlsMode::Off`]. The pool sets up TLS once, at start (loading the
    /// system's trusted roots takes tens of milliseconds), not per dial. TLS
    /// needs the `tls` feature: without it, anything else makes
    /// [`start`](Self::start) fail with [`Error::Config`].
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use edgepool::net::TlsMode;
    /// let builder = ClientPool::builder("gw.example:10101").tls(TlsMode::Verified {
    ///     server_name: Some("gw.example".into()),
    ///     ca: None, // the system roots
    /// });
    /// # let _ = builder;
    /// ```
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// TCP keepalive on every connection; `None` leaves it to the OS.
    /// Defaults to [`Keepalive::default()`] (30 s idle, 5 s interval, 3
    /// probes), which also finds stocked connections whose server vanished.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use edgepool::net::Keepalive;
    /// # use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").keepalive(Some(Keepalive {
    ///     idle: Duration::from_secs(15),
    ///     ..Keepalive::default()
    /// }));
    /// # let _ = builder;
    /// ```
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.connect.keepalive = keepalive;
        self
    }

    /// Bound for each TCP connect (over every address the name resolves
    /// to). Defaults to 3 s; must be greater than zero.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").connect_timeout(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect.connect_timeout = timeout;
        self
    }

    /// Deadline for the TLS handshake (when on) and the 4-byte connection
    /// ID, from the end of the TCP connect. Defaults to 10 s; must be
    /// greater than zero. A server that is slower gets
    /// [`Error::Timeout`]`(`[`Phase::TlsHandshake`](crate::Phase::TlsHandshake)`)`
    /// or [`Error::Timeout`]`(`[`Phase::Handshake`](crate::Phase::Handshake)`)`.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").handshake_timeout(Duration::from_secs(2));
    /// # let _ = builder;
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Read timeout of the connections [`ClientPool::get`] hands out; `None`
    /// blocks forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let builder = ClientPool::builder("127.0.0.1:10101").read_timeout(None);
    /// # let _ = builder;
    /// ```
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect.read_timeout = timeout;
        self
    }

    /// Write timeout of the connections [`ClientPool::get`] hands out;
    /// `None` blocks forever. Defaults to 5 s.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101").write_timeout(Some(Duration::from_secs(1)));
    /// # let _ = builder;
    /// ```
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect.write_timeout = timeout;
        self
    }

    /// The wait after a failed dial: exponential from `min`, doubling per
    /// consecutive failure up to `max`, each wait drawn at random from its
    /// upper half. Defaults to 100 ms → 30 s; `min` must be greater than
    /// zero and at most `max`.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let builder = ClientPool::builder("127.0.0.1:10101")
    ///     .backoff(Duration::from_millis(200), Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    fn validate(&self) -> Result<()> {
        let fail = |msg: &str| Err(Error::Config(msg.to_owned()));
        if self.addr.is_empty() {
            return fail("the server address is empty");
        }
        if self.min_capacity == 0 {
            return fail("min_capacity must be at least 1");
        }
        if self.max_capacity < self.min_capacity || self.max_capacity > 65_536 {
            return fail("max_capacity must be at least min_capacity and at most 65536");
        }
        if self.min_interval.is_zero() || self.max_interval < self.min_interval {
            return fail("min_interval must be greater than zero and at most max_interval");
        }
        if !(1..=64).contains(&self.dial_concurrency) {
            return fail("dial_concurrency must be 1 to 64");
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return fail("the backoff minimum must be greater than zero and at most its maximum");
        }
        if self.connect.connect_timeout.is_zero() {
            return fail("connect_timeout must be greater than zero");
        }
        wire::check_timeouts(self.handshake_timeout, &self.connect)
    }

    /// Checks the settings and starts the pool: one manager thread that
    /// fills the stock in rounds (see the [module docs](super)). Never waits
    /// for the server: a server that is down is dialled again with backoff.
    ///
    /// ```
    /// use edgepool::tunnel::ClientPool;
    ///
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?; // nothing listens there
    /// assert_eq!(pool.active(), 0);
    /// assert!(ClientPool::builder("127.0.0.1:9").min_capacity(0).start().is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start(self) -> Result<ClientPool> {
        self.validate()?;
        let tls = Tls::new(&self.tls, &self.addr)?;
        let shared = Arc::new(Shared {
            tls,
            state: Mutex::new(State {
                stock: HashMap::new(),
                order: VecDeque::new(),
                capacity: self.min_capacity,
                interval: self.min_interval,
                closed: false,
                kicked: false,
                errors: 0,
                last_error: None,
            }),
            stocked: Condvar::new(),
            wake: Condvar::new(),
            cfg: self,
        });
        let worker = shared.clone();
        thread::Builder::new()
            .name("edgepool-tunnel-client".into())
            .spawn(move || manage(&worker))?;
        Ok(ClientPool {
            handle: Arc::new(Handle { shared }),
        })
    }
}

/// The TLS side of dialling, set up once per pool (one OpenSSL context).
struct Tls {
    #[cfg(feature = "tls")]
    connector: Option<openssl::ssl::SslConnector>,
    #[cfg(feature = "tls")]
    mode: TlsMode,
    /// The name to verify and send as SNI.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    name: String,
}

impl Tls {
    fn new(mode: &TlsMode, addr: &str) -> Result<Tls> {
        let name = match mode {
            TlsMode::Verified {
                server_name: Some(name),
                ..
            } => name.clone(),
            _ => net::host_part(addr).to_owned(),
        };
        #[cfg(feature = "tls")]
        return Ok(Tls {
            connector: match mode {
                TlsMode::Off => None,
                mode => Some(net::tls::ssl_connector(mode)?),
            },
            mode: mode.clone(),
            name,
        });
        #[cfg(not(feature = "tls"))]
        match mode {
            TlsMode::Off => Ok(Tls { name }),
            _ => Err(Error::Config("TLS needs edgepool's `tls` feature".into())),
        }
    }

    /// TLS over `tcp` if it is on, finished by `deadline`.
    fn wrap(&self, tcp: std::net::TcpStream, deadline: Instant) -> Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(connector) = &self.connector {
            let tls = net::tls::ssl_connect(connector, &self.mode, &self.name, tcp, deadline)?;
            return Ok(Stream::Ssl(Box::new(tls)));
        }
        let _ = deadline;
        Ok(Stream::Plain(tcp))
    }
}

/// The client end of a tunnel pool: a stock of pre-dialled connections to a
/// [`ServerPool`](super::ServerPool), each known by the ID the server sent.
///
/// One manager thread keeps the stock filled and adjusts its capacity and
/// interval (see the [module docs](super)); [`get`](Self::get) takes the
/// connection with a given ID out of the stock. Cloning is cheap and clones
/// share the pool; it closes when the last clone is dropped.
///
/// ```
/// use std::time::Duration;
/// use edgepool::tunnel::{ClientPool, ServerPool};
///
/// let server = ServerPool::builder().bind("127.0.0.1:0")?;
/// let client = ClientPool::builder(server.local_addr().to_string()).start()?;
/// let (id, _near) = server.get(Duration::from_secs(5))?;
/// let far = client.get(id, Duration::from_secs(5))?;
/// assert!(!far.is_tls());
/// println!("{} stocked, capacity {}", client.active(), client.capacity());
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientPool {
    handle: Arc<Handle>,
}

/// Closes the pool when the last user handle goes (the manager thread holds
/// only `Shared`).
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

struct Shared {
    cfg: ClientPoolBuilder,
    tls: Tls,
    state: Mutex<State>,
    /// Signalled when a connection is stocked or the pool closes (`get`).
    stocked: Condvar,
    /// Signalled on close and flush (the manager).
    wake: Condvar,
}

struct State {
    stock: HashMap<ConnId, Stream>,
    /// Stocked IDs, oldest first, for `get_any`; may still name connections
    /// taken by ID (skipped, and compacted when they pile up).
    order: VecDeque<ConnId>,
    capacity: usize,
    interval: Duration,
    closed: bool,
    /// `flush` asks the manager to refill now.
    kicked: bool,
    errors: u64,
    /// The error of the last dial, while dials fail; `None` after a success.
    last_error: Option<LastError>,
}

#[derive(Clone)]
struct LastError {
    message: String,
    config: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent state (every
        // update is a single assignment or insert): keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let stock = {
            let mut state = self.lock();
            state.closed = true;
            state.order.clear();
            mem::take(&mut state.stock)
        };
        self.stocked.notify_all();
        self.wake.notify_all();
        drop(stock);
    }

    fn record_failure(&self, e: &Error) {
        let mut state = self.lock();
        state.errors += 1;
        state.last_error = Some(LastError {
            message: e.to_string(),
            config: matches!(e, Error::Config(_)),
        });
    }

    /// One connection: TCP, then TLS and the ID under one deadline.
    fn dial(&self) -> Result<(ConnId, Stream)> {
        let cfg = &self.cfg;
        let tcp = net::connect(&cfg.addr, &cfg.connect)?;
        let deadline = Instant::now() + cfg.handshake_timeout;
        let mut stream = self.tls.wrap(tcp, deadline)?;
        let id = wire::read_id(&mut stream, deadline, cfg.id_format)?;
        stream.set_read_timeout(cfg.connect.read_timeout)?;
        Ok((id, stream))
    }

    /// Drops stocked connections the server has closed. Locks once per
    /// connection, so that `get` never waits for the whole sweep.
    fn sweep(&self) {
        let ids: Vec<ConnId> = self.lock().stock.keys().copied().collect();
        for id in ids {
            let mut state = self.lock();
            if state.stock.get_mut(&id).is_some_and(wire::is_closed) {
                state.stock.remove(&id);
                log::debug!("tunnel client: stocked connection {id} was closed by the server");
            }
        }
    }

    /// Sweeps, then works out this round's interval and how many
    /// connections to dial. `None` once the pool is closed.
    fn begin_round(&self) -> Option<(usize, Duration)> {
        self.sweep();
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let cfg = &self.cfg;
        state.interval = adjust::next_interval(
            state.stock.len(),
            state.capacity,
            state.interval,
            cfg.min_interval,
            cfg.max_interval,
        );
        state.kicked = false;
        Some((
            state.capacity.saturating_sub(state.stock.len()),
            state.interval,
        ))
    }

    /// Dials up to `need` connections; stops at the first failure. Returns
    /// how many were stocked and whether a dial failed. The first dial runs
    /// alone (a server that is down costs one failed dial per round); after
    /// it succeeds, up to `dial_concurrency` dials run at once.
    fn fill(&self, need: usize) -> (usize, bool) {
        if need == 0 {
            return (0, false);
        }
        match self.dial_one() {
            Some(true) => {}
            Some(false) => return (0, true),
            None => return (0, false),
        }
        let rest = need - 1;
        let workers = self.cfg.dial_concurrency.min(rest);
        let remaining = AtomicUsize::new(rest);
        let created = AtomicUsize::new(1);
        let failed = AtomicBool::new(false);
        let work = || {
            while !failed.load(Ordering::Relaxed)
                && remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                match self.dial_one() {
                    Some(true) => {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(false) => failed.store(true, Ordering::Relaxed),
                    None => return,
                }
            }
        };
        thread::scope(|scope| {
            // One dialler is this thread; the others are scoped threads (if
            // the OS refuses one, fewer dial).
            for _ in 1..workers {
                let spawned = thread::Builder::new()
                    .name("edgepool-tunnel-dial".into())
                    .spawn_scoped(scope, work);
                if spawned.is_err() {
                    break;
                }
            }
            work();
        });
        (
            created.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
        )
    }

    /// One dial, stocked: `Some(true)` when stocked, `Some(false)` when it
    /// failed (recorded), `None` once the pool is closed.
    fn dial_one(&self) -> Option<bool> {
        let dialled = self.dial();
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let result = dialled.and_then(|(id, stream)| {
            if state.stock.contains_key(&id) {
                return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                    "the server sent connection ID {id} twice; closed the second connection"
                ))));
            }
            state.stock.insert(id, stream);
            state.order.push_back(id);
            if state.order.len() > 2 * state.stock.len() + 64 {
                let State { order, stock, .. } = &mut *state;
                order.retain(|id| stock.contains_key(id));
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                state.last_error = None;
                drop(state);
                self.stocked.notify_all();
                Some(true)
            }
            Err(e) => {
                drop(state);
                self.record_failure(&e);
                Some(false)
            }
        }
    }

    /// Waits `delay`, or less if the pool is closed or flushed meanwhile.
    /// Returns false once the pool is closed.
    fn pause(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut state = self.lock();
        loop {
            if state.closed {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.kicked || left.is_zero() {
                return true;
            }
            state = match self.wake.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// The manager thread: rounds of sweep, adjust, fill, adjust, pause.
fn manage(shared: &Shared) {
    let cfg = &shared.cfg;
    let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max);
    while let Some((need, interval)) = shared.begin_round() {
        let (created, failed) = shared.fill(need);
        let delay = {
            let mut state = shared.lock();
            state.capacity =
                adjust::next_capacity(created, state.capacity, cfg.min_capacity, cfg.max_capacity);
            if failed {
                let wait = backoff.failure().max(interval);
                let msg = state.last_error.as_ref().map(|e| e.message.clone());
                if backoff.failures() == 1 {
                    log::warn!(
                        "tunnel client: dialling {} failed: {}; retrying with backoff",
                        cfg.addr,
                        msg.unwrap_or_default()
                    );
                } else {
                    log::debug!(
                        "tunnel client: dialling {} failed again; next round in {wait:?}",
                        cfg.addr
                    );
                }
                wait
            } else {
                if backoff.failures() > 0 {
                    log::info!(
                        "tunnel client: {} answers again after {} failed rounds",
                        cfg.addr,
                        backoff.failures()
                    );
                }
                backoff.success();
                state.interval
            }
        };
        if !shared.pause(delay) {
            break;
        }
    }
    log::debug!("tunnel client: manager for {} stopped", cfg.addr);
}

impl ClientPool {
    /// A builder for a pool dialling `addr` (`"host:port"`), with the
    /// defaults: capacity 4 → 64, interval 100 ms → 1 s, TLS off, keepalive
    /// on, connect timeout 3 s, ID deadline 10 s, read and write timeouts
    /// 5 s, dial backoff 100 ms → 30 s.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn builder(addr: impl Into<String>) -> ClientPoolBuilder {
        ClientPoolBuilder::new(addr)
    }

    /// Takes the connection with this ID out of the stock, waiting up to
    /// `timeout` for it to arrive (for example when the server announced an
    /// ID whose bytes are still on their way). Waiting costs nothing: the
    /// call sleeps until a connection is stocked. NodePass takes its control
    /// connection this way: `get_by_id(ConnId::CONTROL, …)`.
    ///
    /// # Errors
    ///
    /// - [`Error::PoolTimeout`] when no connection with that ID arrived in
    ///   time; `last_error` names the last dial error while dials fail.
    /// - [`Error::Config`] at once while dials fail because of a setting
    ///   (retrying cannot help).
    /// - [`Error::Unhealthy`] when the connection arrived but the server has
    ///   closed it since (nothing is lost: a connection holding data the
    ///   server sent is handed out).
    /// - [`Error::Closed`] after [`close`](Self::close).
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::{tunnel::ClientPool, Error};
    ///
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// let unknown = "00c0ffee".parse()?;
    /// let err = pool.get_by_id(unknown, Duration::from_millis(50)).unwrap_err();
    /// assert!(matches!(err, Error::PoolTimeout { .. }));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_by_id(&self, id: ConnId, timeout: Duration) -> Result<Stream> {
        self.take(timeout, Some(id)).map(|(_, stream)| stream)
    }

    /// The same as [`get_by_id`](Self::get_by_id), under its name before 0.2.
    ///
    /// ```
    /// # use std::time::Duration; use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// assert!(pool.get("00c0ffee".parse()?, Duration::from_millis(20)).is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&self, id: ConnId, timeout: Duration) -> Result<Stream> {
        self.get_by_id(id, timeout)
    }

    /// Takes the oldest stocked connection and its ID, waiting up to
    /// `timeout` for one (NodePass: "take any ready connection", for data
    /// that starts from the client's end; tell the server the ID so that it
    /// takes the same connection with
    /// [`ServerPool::get_by_id`](super::ServerPool::get_by_id)). Connections
    /// the server has closed meanwhile are skipped (closed). The control
    /// connection is not special here: take it by ID first if it matters.
    ///
    /// # Errors
    ///
    /// As [`get_by_id`](Self::get_by_id), except that a closed connection is
    /// skipped rather than reported.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::{tunnel::ClientPool, Error};
    ///
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// let err = pool.get_any(Duration::from_millis(50)).unwrap_err();
    /// assert!(matches!(err, Error::PoolTimeout { .. }));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_any(&self, timeout: Duration) -> Result<(ConnId, Stream)> {
        self.take(timeout, None)
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
            let taken = match wanted {
                Some(id) => state.stock.remove(&id).map(|s| (id, s)),
                None => loop {
                    let Some(id) = state.order.pop_front() else {
                        break None;
                    };
                    if let Some(stream) = state.stock.remove(&id) {
                        break Some((id, stream));
                    }
                },
            };
            if let Some((id, mut stream)) = taken {
                drop(state);
                if !wire::is_closed(&mut stream) {
                    return Ok((id, stream));
                }
                if wanted.is_some() {
                    return Err(Error::Unhealthy(format!(
                        "the server closed connection {id} while it was in stock"
                    )));
                }
                log::debug!("tunnel client: skipped connection {id}: the server closed it");
                drop(stream);
                state = shared.lock();
                continue;
            }
            if let Some(LastError {
                message,
                config: true,
            }) = &state.last_error
            {
                return Err(Error::Config(message.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::PoolTimeout {
                    waited: start.elapsed(),
                    last_error: state.last_error.as_ref().map(|e| e.message.clone()),
                });
            }
            state = match shared.stocked.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// True from [`start`](ClientPoolBuilder::start) until
    /// [`close`](Self::close).
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// assert!(pool.ready());
    /// pool.close();
    /// assert!(!pool.ready());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn ready(&self) -> bool {
        !self.handle.shared.lock().closed
    }

    /// Connections in stock now.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// assert_eq!(pool.active(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn active(&self) -> usize {
        self.handle.shared.lock().stock.len()
    }

    /// The stock the manager aims for now, between `min_capacity` and
    /// `max_capacity`.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").min_capacity(3).start()?;
    /// assert!((3..=64).contains(&pool.capacity()));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.handle.shared.lock().capacity
    }

    /// The time between two rounds now, between `min_interval` and
    /// `max_interval` (after a failed dial the manager waits for its backoff
    /// instead).
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool; use std::time::Duration;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// assert!(pool.interval() >= Duration::from_millis(100));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn interval(&self) -> Duration {
        self.handle.shared.lock().interval
    }

    /// Failed dials since the start: connect, TLS and ID handshake failures
    /// and duplicate IDs.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// let failed_so_far = pool.errors();
    /// # let _ = failed_so_far;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn errors(&self) -> u64 {
        self.handle.shared.lock().errors
    }

    /// The last dial error while dials fail; `None` once a dial succeeds.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// if let Some(e) = pool.last_error() {
    ///     println!("the tunnel server does not answer: {e}");
    /// }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn last_error(&self) -> Option<String> {
        let state = self.handle.shared.lock();
        state.last_error.as_ref().map(|e| e.message.clone())
    }

    /// The server address the pool dials.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// assert_eq!(pool.addr(), "127.0.0.1:9");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn addr(&self) -> &str {
        &self.handle.shared.cfg.addr
    }

    /// Closes every stocked connection; the manager refills the stock at
    /// once. Connections already handed out are not touched.
    ///
    /// ```
    /// # use edgepool::tunnel::ClientPool;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// pool.flush();
    /// assert_eq!(pool.active(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn flush(&self) {
        let shared = &self.handle.shared;
        let stock = {
            let mut state = shared.lock();
            state.kicked = true;
            state.order.clear();
            mem::take(&mut state.stock)
        };
        shared.wake.notify_all();
        drop(stock);
    }

    /// Stops the manager, closes the stock and wakes every waiting
    /// [`get`](Self::get) with [`Error::Closed`]. Idempotent; never blocks
    /// (a dial in progress finishes in the background and is closed).
    /// Connections already handed out are not touched.
    ///
    /// ```
    /// # use edgepool::{tunnel::ClientPool, Error}; use std::time::Duration;
    /// let pool = ClientPool::builder("127.0.0.1:9").start()?;
    /// pool.close();
    /// pool.close();
    /// let id = "00000001".parse()?;
    /// assert!(matches!(pool.get(id, Duration::from_secs(1)), Err(Error::Closed)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn close(&self) {
        self.handle.shared.close();
    }
}

impl fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        let state = shared.lock();
        f.debug_struct("ClientPool")
            .field("addr", &shared.cfg.addr)
            .field("tls", &shared.cfg.tls)
            .field("active", &state.stock.len())
            .field("capacity", &state.capacity)
            .field("interval", &state.interval)
            .field("errors", &state.errors)
            .field("closed", &state.closed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_name_is_the_host_part_unless_set() {
        assert_eq!(Tls::new(&TlsMode::Off, "[::1]:10101").unwrap().name, "::1");
        let named = TlsMode::Verified {
            server_name: Some("tunnel.example".into()),
            ca: None,
        };
        if cfg!(feature = "tls") {
            assert_eq!(
                Tls::new(&named, "10.0.0.1:1").unwrap().name,
                "tunnel.example"
            );
            assert_eq!(Tls::new(&TlsMode::Insecure, "gw:1").unwrap().name, "gw");
        } else {
            assert!(matches!(
                Tls::new(&named, "10.0.0.1:1"),
                Err(Error::Config(_))
            ));
        }
        assert_eq!(Tls::new(&TlsMode::Off, "gw:1").unwrap().name, "gw");
    }
}
