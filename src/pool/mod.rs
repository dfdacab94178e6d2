//! Pools: [`Pool`], [`PoolBuilder`], [`Stats`], [`HealthReport`], [`PoolSet`],
//! [`RetryPolicy`].
//!
//! A [`Pool`] wraps an `r2d2::Pool` and adds what r2d2 lacks: protocol
//! health probes, a shared background reaper, stats, `execute` (and
//! `execute_with_retry`), explicit `close`, connect backoff for targets that
//! are offline, and (feature `metrics`) metrics for any exporter.
//!
//! # Metrics
//! With the `metrics` feature every pool publishes its [`Stats`] through the
//! [`metrics`](https://docs.rs/metrics) facade, labelled `pool=<name>` (see
//! [`PoolBuilder::name`]), to whatever recorder the program installed (a
//! Prometheus exporter, StatsD, …); without a recorder nothing is recorded.
//!
//! | metric | kind | from [`Stats`] |
//! |---|---|---|
//! | `edgepool_pool_max_size` | gauge | [`Pool::max_size`] |
//! | `edgepool_pool_size`, `_in_use`, `_idle`, `_waiting` | gauge | `size`, `in_use`, `idle`, `waiting` |
//! | `edgepool_pool_acquired_total`, `_released_total`, `_created_total`, `_closed_total` | counter | `acquired`, `released`, `created`, `closed` |
//! | `edgepool_pool_timeouts_total`, `_health_checks_total`, `_health_failures_total` | counter | `timeouts`, `health_checks`, `health_failures` |
//! | `edgepool_pool_waits_total`, `_retries_total` | counter | `waits`, `retries` |
//! | `edgepool_pool_wait_seconds` | histogram | one sample per wait: count `waits`, sum `wait_time_total` |
//!
//! Gauges and counters are copied from the pool by the shared reaper thread
//! about once a second (so they reach the global recorder), and by
//! [`Pool::publish_metrics`] on demand; a checkout costs nothing extra. The
//! histogram gets a sample each time a checkout found no idle connection and
//! had to wait; checkouts served at once are not sampled (see
//! `edgepool_pool_acquired_total`). A dropped pool's gauges are set to 0.

mod builder;
mod maintain;
mod managed;
#[cfg(feature = "metrics")]
mod metrics;
mod reaper;
mod retry;
mod set;
mod stats;

pub use builder::PoolBuilder;
pub use retry::RetryPolicy;
pub use set::PoolSet;
pub use stats::{HealthReport, Stats};

use crate::{Error, Result};
use managed::{Entry, Events, Managed, QuietErrors, Settings, Shared};
use portable_atomic::Ordering::Relaxed;
use r2d2::ManageConnection;
use scheduled_thread_pool::ScheduledThreadPool;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

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

/// Sets the size of the worker pool that every pool shares for opening
/// connections and running background probes. Defaults to 3 (r2d2's default).
/// Pools built after the call use a worker pool of the new size; pools built
/// before keep theirs until they are dropped. Must be 1 to 1024.
///
/// # Sizing
/// A dial to an unreachable device can hold a worker for the whole connect
/// timeout, and so can a probe of a device that stopped answering. With the
/// default backoff (capped at 30 s) each such device costs about
/// `connect timeout / 30 s` of a worker, 0.1 with a 3 s connect timeout: about
/// 30 dead devices keep 3 workers busy, and the live ones then wait for a
/// worker to connect. A gateway polling hundreds of devices that may go
/// offline should raise this (dead devices / 10, plus a few).
///
/// ```
/// edgepool::set_worker_threads(8)?;
/// # edgepool::set_worker_threads(3)?;
/// assert!(edgepool::set_worker_threads(0).is_err());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn set_worker_threads(threads: usize) -> Result<()> {
    if !(1..=1024).contains(&threads) {
        return Err(Error::Config(format!(
            "worker threads must be 1 to 1024, not {threads}"
        )));
    }
    reaper::set_worker_threads(threads);
    Ok(())
}

/// Longest wait the pool passes to r2d2 (its deadline arithmetic would overflow
/// on `Duration::MAX`).
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

type R2Pool<M> = r2d2::Pool<Managed<M>>;
type R2Conn<M> = r2d2::PooledConnection<Managed<M>>;

/// A pool of connections to one target, on top of `r2d2::Pool`.
///
/// Any `r2d2::ManageConnection` works; the manager's `is_valid` is the health
/// probe. Cloning is cheap and clones share the pool.
///
/// ```
/// use std::io::Write;
/// use edgepool::{tcp, Pool};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?.to_string();
/// let pool = Pool::builder().max_size(2).build(tcp::Manager::new(tcp::Config::new(addr)))?;
/// let mut conn = pool.get()?;          // a guard that derefs to tcp::Connection
/// conn.write_all(b"hello")?;
/// drop(conn);                          // back to the pool
/// assert_eq!(pool.stats().acquired, 1);
/// pool.close();
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct Pool<M: ManageConnection> {
    inner: Arc<Inner<M>>,
}

pub(crate) struct Inner<M: ManageConnection> {
    r2d2: R2Pool<M>,
    shared: Arc<Shared>,
    manager: Arc<M>,
    workers: Arc<ScheduledThreadPool>,
    me: Weak<Inner<M>>,
    maint: Mutex<maintain::TopUp>,
    /// Keeps the name registered while the pool lives.
    _name: builder::NameLease,
}

impl<M: ManageConnection> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<M: ManageConnection + fmt::Debug> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name())
            .field("manager", &self.inner.r2d2)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<M: ManageConnection> Drop for Inner<M> {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.shared.metrics.publish_gone(&self.stats());
        // Lets the reaper forget this pool (and exit if it was the last) now.
        reaper::wake();
    }
}

impl<M: ManageConnection> Pool<M> {
    /// A builder with the defaults (max_size 10, min_idle 0, acquire timeout
    /// 5 s, max idle time 5 min, health checks every 30 s, validation bypass
    /// 500 ms, reconnect backoff 100 ms → 30 s).
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// let pool = Pool::builder().build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn builder() -> PoolBuilder<M> {
        PoolBuilder::default()
    }

    /// A pool with the default settings. Never blocks.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn new(manager: M) -> Result<Pool<M>> {
        Self::builder().build(manager)
    }

    fn from_parts(settings: Settings, manager: M, name: builder::NameLease) -> Pool<M> {
        let shared = Arc::new(Shared::new(settings, name.as_str().to_owned()));
        let manager = Arc::new(manager);
        let workers = reaper::workers();
        let s = &shared.settings;
        let r2d2 = r2d2::Pool::builder()
            .max_size(s.max_size)
            // The reaper keeps min_idle itself: r2d2's own would refill the
            // pool each time maintenance takes connections out.
            .min_idle(Some(0))
            .test_on_check_out(true)
            .max_lifetime(None)
            .idle_timeout(None)
            .connection_timeout(s.acquire_timeout.min(MAX_WAIT))
            .error_handler(Box::new(QuietErrors))
            .event_handler(Box::new(Events(shared.clone())))
            .thread_pool(workers.clone())
            .build_unchecked(Managed {
                inner: manager.clone(),
                shared: shared.clone(),
            });
        let inner = Arc::new_cyclic(|me| Inner {
            r2d2,
            shared,
            manager,
            workers,
            me: me.clone(),
            maint: Mutex::new(maintain::TopUp::default()),
            _name: name,
        });
        let weak: Weak<Inner<M>> = Arc::downgrade(&inner);
        reaper::register(weak);
        Pool { inner }
    }

    /// Checks out a connection, waiting up to the acquire timeout.
    ///
    /// A connection idle for longer than the validation bypass is probed first;
    /// one that fails is closed and another taken. Errors: [`Error::Closed`]
    /// after [`close`](Pool::close), [`Error::PoolTimeout`] (naming the last
    /// connect error) when none came in time. When the last connect failed in
    /// a way waiting cannot fix ([`Error::Auth`], [`Error::Config`]) and no
    /// connection is idle, that error comes back at once until a background
    /// connect succeeds.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
    /// let conn = pool.get()?;
    /// println!("connected to {:?}", conn.peer_addr());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&self) -> Result<PooledConnection<M>> {
        self.get_timeout(self.inner.shared.settings.acquire_timeout)
    }

    /// [`get`](Pool::get) with its own timeout.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
    /// let conn = pool.get_timeout(std::time::Duration::from_millis(250))?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConnection<M>> {
        let shared = &self.inner.shared;
        if shared.is_closed() {
            return Err(Error::Closed);
        }
        if let Some(mut conn) = self.inner.r2d2.try_get() {
            shared.counters.acquired.fetch_add(1, Relaxed);
            conn.mark_seen();
            return Ok(PooledConnection { conn });
        }
        if let Some(e) = shared.fatal_error() {
            return Err(e);
        }
        let start = Instant::now();
        let result = {
            let _waiting = Waiting::new(shared);
            self.inner.r2d2.get_timeout(timeout.min(MAX_WAIT))
        };
        let waited = start.elapsed();
        shared.record_wait(waited);
        match result {
            Ok(mut conn) => {
                shared.counters.acquired.fetch_add(1, Relaxed);
                conn.mark_seen();
                let conn = PooledConnection { conn };
                if shared.is_closed() {
                    return Err(Error::Closed);
                }
                Ok(conn)
            }
            Err(_) if shared.is_closed() => Err(Error::Closed),
            Err(e) => {
                shared.counters.timeouts.fetch_add(1, Relaxed);
                let last_error = shared
                    .last_error()
                    .or_else(|| std::error::Error::source(&e).map(|s| s.to_string()));
                Err(Error::PoolTimeout { waited, last_error })
            }
        }
    }

    /// Runs `f` on a pooled connection. When `f` returns a transport error
    /// ([`Error::is_transport`]) or panics, the connection is closed instead of
    /// going back to the pool; the error (or panic) reaches the caller and the
    /// pool stays usable.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// use std::io::Write;
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
    /// let n = pool.execute(|conn| {
    ///     conn.write_all(b"PING\r\n")?;
    ///     Ok(6)
    /// })?;
    /// assert_eq!(n, 6);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn execute<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut M::Connection) -> Result<T>,
    {
        let mut conn = self.get()?;
        Self::run(&mut conn, f)
    }

    /// Runs `f` on `conn`, which is discarded if `f` fails with a transport
    /// error or panics.
    fn run<T, F>(conn: &mut PooledConnection<M>, f: F) -> Result<T>
    where
        F: FnOnce(&mut M::Connection) -> Result<T>,
    {
        // Marked first so that a panic in `f` leaves it marked.
        PooledConnection::discard(conn);
        let result = f(conn);
        match &result {
            Err(e) if e.is_transport() => {}
            _ => conn.conn.discard = false,
        }
        result
    }

    /// Opens connections until `min_idle` are idle, waiting up to `timeout`,
    /// and returns how many are idle (at most `min_idle`). Optional: the pool
    /// opens them in the background anyway.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = l.local_addr()?.to_string();
    /// let pool = Pool::builder().min_idle(2).build(tcp::Manager::new(tcp::Config::new(addr)))?;
    /// let ready = pool.warm_up(std::time::Duration::from_secs(2))?;
    /// assert_eq!(ready, 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn warm_up(&self, timeout: Duration) -> Result<u32> {
        if self.inner.shared.is_closed() {
            return Err(Error::Closed);
        }
        Ok(self.inner.warm_up(timeout.min(MAX_WAIT)))
    }

    /// Probes every idle connection now, on this thread, and closes the ones
    /// that fail (the pool reopens `min_idle` in the background). When the
    /// pool has no connection at all, it opens one to test the target (or
    /// reports the last connect error at once while connects back off).
    /// Connections checked out by callers are not probed.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
    /// let report = pool.health_check();
    /// assert_eq!((report.healthy, report.unhealthy), (1, 0));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn health_check(&self) -> HealthReport {
        self.inner.health_check()
    }

    /// A snapshot of the pool's gauges and counters.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// let s = pool.stats();
    /// assert_eq!(s.acquired, s.released + u64::from(s.in_use));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// The pool's name (see [`PoolBuilder::name`]): by default its target's
    /// address.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// assert!(pool.name().starts_with("127.0.0.1:9"));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.shared.name
    }

    /// Publishes the pool's [`Stats`] to the current `metrics` recorder now
    /// (this thread's local one if set, else the global one). The shared
    /// reaper does it about once a second anyway; call this before reading a
    /// recorder that must be exact, or with a thread-local recorder. Needs
    /// the `metrics` feature; see the [metrics table](crate::pool#metrics).
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    ///
    /// let pool = Pool::builder()
    ///     .name("plc-1")
    ///     .build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// let recorder = DebuggingRecorder::new();
    /// let snapshotter = recorder.snapshotter();
    /// metrics::with_local_recorder(&recorder, || pool.publish_metrics());
    /// let max_size = snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
    ///     (key.key().name() == "edgepool_pool_max_size").then_some(value)
    /// });
    /// assert_eq!(max_size, Some(DebugValue::Gauge(10.0.into())));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    #[cfg(feature = "metrics")]
    pub fn publish_metrics(&self) {
        let shared = &self.inner.shared;
        shared
            .metrics
            .publish(&self.inner.stats(), shared.settings.max_size);
    }

    /// Closes the pool: idle connections are closed now, checked-out ones when
    /// they come back, and later checkouts fail with [`Error::Closed`]. Calling
    /// it again does nothing. Callers already waiting get `Closed` when their
    /// wait ends.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, Error};
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// pool.close();
    /// pool.close();
    /// assert!(matches!(pool.get(), Err(Error::Closed)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn close(&self) {
        if self
            .inner
            .shared
            .closed
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        for mut conn in self.inner.take_idle() {
            conn.discard = true;
        }
        #[cfg(feature = "metrics")]
        self.publish_metrics();
        reaper::wake();
    }

    /// True after [`close`](Pool::close).
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// assert!(!pool.is_closed());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }

    /// The `max_size` the pool was built with.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// assert_eq!(pool.max_size(), 10);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn max_size(&self) -> u32 {
        self.inner.shared.settings.max_size
    }
}

impl<M: ManageConnection> Inner<M> {
    /// See [`Pool::stats`].
    fn stats(&self) -> Stats {
        let state = self.r2d2.state();
        let mut stats = self.shared.counters.snapshot();
        let held = u32::try_from(self.shared.held.load(std::sync::atomic::Ordering::Relaxed))
            .unwrap_or(u32::MAX);
        stats.size = state.connections;
        stats.idle = state
            .idle_connections
            .saturating_add(held)
            .min(state.connections);
        stats.in_use = stats.in_use.min(state.connections);
        stats
    }
}

/// Counts a caller as waiting for as long as it lives (also on unwind).
struct Waiting<'a>(&'a Shared);

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared
            .counters
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(shared)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0
            .counters
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A checked-out connection; derefs to the manager's connection type and goes
/// back to the pool when dropped.
///
/// ```
/// # use edgepool::{tcp, Pool};
/// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
/// let mut conn = pool.get()?;
/// if conn.is_broken() {
///     edgepool::PooledConnection::discard(&mut conn);
/// }
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct PooledConnection<M: ManageConnection> {
    conn: R2Conn<M>,
}

impl<M: ManageConnection> PooledConnection<M> {
    /// Makes the pool close this connection instead of reusing it. An
    /// associated function (`PooledConnection::discard(&mut conn)`) so that it
    /// never hides a method of the connection.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// # let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let pool = Pool::new(tcp::Manager::new(tcp::Config::new(l.local_addr()?.to_string())))?;
    /// let mut conn = pool.get()?;
    /// edgepool::PooledConnection::discard(&mut conn);
    /// drop(conn);
    /// assert_eq!(pool.stats().size, 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn discard(this: &mut Self) {
        this.conn.discard = true;
    }
}

impl<M: ManageConnection> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        let entry: &mut Entry<M::Connection> = &mut self.conn;
        let shared = &entry.shared;
        let now = Instant::now();
        entry.last_used = now;
        entry.last_ok = now;
        if shared.is_closed() {
            entry.discard = true;
        }
        if let Some(limit) = shared.settings.max_lifetime {
            if now.saturating_duration_since(entry.created) >= limit {
                entry.discard = true;
            }
        }
        shared.counters.released.fetch_add(1, Relaxed);
    }
}

impl<M: ManageConnection> Deref for PooledConnection<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.conn.conn
    }
}

impl<M: ManageConnection> DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.conn
    }
}

impl<M> fmt::Debug for PooledConnection<M>
where
    M: ManageConnection,
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.conn.conn.fmt(f)
    }
}
