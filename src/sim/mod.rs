//! Small loopback simulators of the peers edgepool talks to, for demos and
//! for users' own tests (feature `sim`).
//!
//! Each simulator starts with one call on a free loopback port, runs on its
//! own threads, and stops when its handle is dropped. Every simulator has the
//! same fault switches, reached through [`Faults`]: stop answering, answer
//! late, drop every open connection; and a `restart`, which closes the port
//! for a while and then listens on the same port again (each simulator says
//! what state it keeps: Redis starts empty, the SNMP agent's clock and boots
//! move on, the S7 CPU keeps its memory like a retentive power cycle).
//!
//! The simulators speak enough of each protocol for edgepool's own clients and
//! for the usual command-line tools (`snmpget`, `redis-cli`, python-snap7); they
//! are not conformance references. edgepool's own protocol tests run against
//! the real peers.
//!
//! ```
//! # #[cfg(feature = "redis")] {
//! use std::time::Duration;
//! use edgepool::{redis, sim, Pool};
//!
//! let server = sim::redis::RedisSim::start()?;
//! let config = redis::Config::from_url(&server.url())?.read_timeout(Duration::from_millis(200));
//! let pool = Pool::builder()
//!     .acquire_timeout(Duration::from_secs(2))
//!     .build(redis::Manager::new(config))?;
//! pool.execute(|c| c.set("greeting", "hello"))?;
//! assert_eq!(pool.execute(|c| c.get("greeting"))?.as_deref(), Some(&b"hello"[..]));
//!
//! server.faults().set_silent(true); // requests now go unanswered
//! assert!(pool.execute(|c| c.ping()).unwrap_err().is_timeout());
//! server.faults().set_silent(false);
//! pool.execute(|c| c.ping())?; // the timed-out connection was replaced
//! # }
//! # Ok::<(), edgepool::Error>(())
//! ```

// Parts of the shared server and fault plumbing go unused when some protocols are off.
#![cfg_attr(
    not(all(feature = "redis", feature = "s7", feature = "snmp")),
    allow(dead_code)
)]

#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "s7")]
pub mod s7;
#[cfg(feature = "snmp")]
pub mod snmp;

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The fault switches of one simulator. Cloning gives another handle to the
/// same switches.
///
/// ```
/// use std::time::Duration;
/// let faults = edgepool::sim::Faults::default();
/// faults.set_delay(Duration::from_millis(250));
/// assert_eq!(faults.delay(), Duration::from_millis(250));
/// faults.clear();
/// assert!(!faults.is_silent());
/// ```
#[derive(Clone, Default)]
pub struct Faults(Arc<FaultState>);

#[derive(Default)]
struct FaultState {
    silent: AtomicBool,
    delay_ms: AtomicU64,
    drop_hook: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl Faults {
    /// With `true`, the simulator keeps reading requests (and accepting
    /// connections) but never answers, like a device that hangs. Defaults to
    /// `false`.
    ///
    /// ```
    /// let faults = edgepool::sim::Faults::default();
    /// faults.set_silent(true);
    /// assert!(faults.is_silent());
    /// ```
    pub fn set_silent(&self, silent: bool) {
        self.0.silent.store(silent, Ordering::SeqCst);
    }

    /// Whether the simulator currently ignores requests.
    ///
    /// ```
    /// assert!(!edgepool::sim::Faults::default().is_silent());
    /// ```
    pub fn is_silent(&self) -> bool {
        self.0.silent.load(Ordering::SeqCst)
    }

    /// Every answer is sent this much later. Defaults to zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let faults = edgepool::sim::Faults::default();
    /// faults.set_delay(Duration::from_millis(20));
    /// ```
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.0.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The current answer delay.
    ///
    /// ```
    /// assert_eq!(edgepool::sim::Faults::default().delay(), std::time::Duration::ZERO);
    /// ```
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.0.delay_ms.load(Ordering::SeqCst))
    }

    /// Closes every open connection now (TCP simulators; the SNMP agent has
    /// no connections and ignores it). New connections are accepted as usual.
    ///
    /// ```
    /// edgepool::sim::Faults::default().drop_connections(); // nothing open: no-op
    /// ```
    pub fn drop_connections(&self) {
        let hook = lock(&self.0.drop_hook).clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Turns every switch off: answering, on time.
    ///
    /// ```
    /// let faults = edgepool::sim::Faults::default();
    /// faults.set_silent(true);
    /// faults.clear();
    /// assert!(!faults.is_silent());
    /// ```
    pub fn clear(&self) {
        self.set_silent(false);
        self.set_delay(Duration::ZERO);
    }

    /// What a simulator calls before sending an answer: sleeps the delay,
    /// then says whether to answer at all.
    pub(crate) fn before_reply(&self) -> bool {
        let delay = self.delay();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        !self.is_silent()
    }

    fn set_drop_hook(&self, hook: Option<Arc<dyn Fn() + Send + Sync>>) {
        *lock(&self.0.drop_hook) = hook;
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("silent", &self.is_silent())
            .field("delay", &self.delay())
            .finish()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Handles one accepted connection until the peer closes it or the server
/// shuts it down (reads then fail or return 0). Runs on its own thread.
pub(crate) type ConnHandler = Arc<dyn Fn(TcpStream, &Faults) + Send + Sync>;

/// A thread-per-connection TCP server on loopback, shared by the TCP
/// simulators: accept loop, connection registry, drop/restart/stop.
pub(crate) struct TcpServer {
    addr: SocketAddr,
    faults: Faults,
    handler: ConnHandler,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    conns: Arc<Conns>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Conns {
    next_id: AtomicU64,
    open: Mutex<Vec<(u64, TcpStream)>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Conns {
    fn shutdown_all(&self) {
        for (_, s) in lock(&self.open).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl TcpServer {
    /// Binds 127.0.0.1 on a free port and starts accepting.
    pub(crate) fn start(faults: Faults, handler: ConnHandler) -> io::Result<TcpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = TcpServer {
            addr,
            faults,
            handler,
            running: Mutex::new(None),
        };
        server.run(listener)?;
        Ok(server)
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn run(&self, listener: TcpListener) -> io::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Conns::default());
        let hook_conns = Arc::clone(&conns);
        self.faults
            .set_drop_hook(Some(Arc::new(move || hook_conns.shutdown_all())));
        let accept = {
            let stop = Arc::clone(&stop);
            let conns = Arc::clone(&conns);
            let handler = Arc::clone(&self.handler);
            let faults = self.faults.clone();
            std::thread::Builder::new()
                .name("edgepool-sim-accept".into())
                .spawn(move || accept_loop(listener, stop, conns, handler, faults))?
        };
        *lock(&self.running) = Some(Running {
            stop,
            conns,
            accept,
        });
        Ok(())
    }

    /// Stops accepting, closes every connection and waits for their threads.
    pub(crate) fn stop(&self) {
        let Some(running) = lock(&self.running).take() else {
            return;
        };
        self.faults.set_drop_hook(None);
        running.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = running.accept.join();
        running.conns.shutdown_all();
        let threads = std::mem::take(&mut *lock(&running.conns.threads));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Closes the port for `downtime`, then listens on the same port again.
    pub(crate) fn restart(&self, downtime: Duration, reset: impl FnOnce()) -> io::Result<()> {
        self.stop();
        reset();
        std::thread::sleep(downtime);
        // std sets SO_REUSEADDR on Unix, so the port is free again at once.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    log::debug!("sim: rebinding {}: {e}", self.addr);
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        self.run(listener)
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    conns: Arc<Conns>,
    handler: ConnHandler,
    faults: Faults,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log::debug!("sim: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = conns.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&conns.open).push((id, clone));
        }
        let handler = Arc::clone(&handler);
        let faults = faults.clone();
        let conns2 = Arc::clone(&conns);
        let spawned = std::thread::Builder::new()
            .name("edgepool-sim-conn".into())
            .spawn(move || {
                handler(stream, &faults);
                lock(&conns2.open).retain(|(i, _)| *i != id);
            });
        match spawned {
            Ok(t) => {
                let mut threads = lock(&conns.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(t);
            }
            Err(e) => {
                log::warn!("sim: cannot spawn a connection thread: {e}");
                lock(&conns.open).retain(|(i, _)| *i != id);
            }
        }
    }
}
