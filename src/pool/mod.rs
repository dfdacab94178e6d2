//! Pools: [`Pool`], [`PoolBuilder`], [`Stats`], [`HealthReport`], [`PoolSet`],
//! [`RetryPolicy`].
//!
//! A [`Pool`] is edgepool's own pool core over `r2d2::ManageConnection`
//! managers (plus [`Manage`]): protocol health probes, a shared
//! background reaper, stats, `execute` (and `execute_with_retry`), explicit
//! `close`, connect backoff, and (feature `metrics`) metrics for any exporter.
//!
//! # How a checkout works
//! [`Pool::get`] takes the most recently returned idle connection (probing it
//! first if it has been idle longer than the validation bypass). Without one,
//! it opens a connection **on the caller's own thread** when the pool has
//! room, bounded by the manager's connect timeout and the caller's remaining
//! acquire time, so a device that is offline costs only its own callers, and
//! after its first failed connect not even them: its next tests run on a
//! shared worker, one at a time, as the backoff allows. When the pool is full it waits
//! for a connection to come back. When the target is down (the last connect
//! failed and the backoff has not passed, or a connect on a shared worker
//! is testing it) and the pool holds no connection that could come back, the
//! call fails at once with [`Error::Unavailable`] (or, for an error no retry
//! can fix, that error itself: [`Error::is_permanent`]).
//!
//! Background work (top-up to `min_idle`, one dial in flight per pool; idle
//! probes; eviction) runs on one reaper thread and three worker threads that
//! every pool in the process shares.
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
//! | `edgepool_pool_timeouts_total`, `_unavailable_total` | counter | `timeouts`, `unavailable` |
//! | `edgepool_pool_health_checks_total`, `_health_failures_total` | counter | `health_checks`, `health_failures` |
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
mod core;
mod maintain;
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

use crate::{Error, Manage, Result};
use core::{Core, Entry};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Sets the size of the worker pool that every pool shares for background
/// work: topping pools up to `min_idle` and probing idle connections.
/// Defaults to 3. Pools built after the call use a worker pool of the new
/// size; pools built before keep theirs until they are dropped. Must be 1 to
/// 1024.
///
/// Callers' own connects never use these workers (they run on the calling
/// thread), and each pool has at most one background dial in flight, so an
/// offline device can only slow the background top-up of other pools, never
/// their callers. Raise it when many pools with `min_idle > 0` point at
/// devices that may be offline.
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

/// A pool of connections to one target.
///
/// Any manager that implements `r2d2::ManageConnection` and
/// [`Manage`] works (edgepool's own do; wrap others in
/// [`AnyManager`](crate::AnyManager)); the manager's `is_valid` is the health
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
pub struct Pool<M: Manage> {
    inner: Arc<Core<M>>,
}

impl<M: Manage> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Manage + fmt::Debug> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name())
            .field("manager", &self.inner.manager)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<M: Manage> Drop for Core<M> {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.metrics.publish_gone(&self.stats());
        // Lets the reaper forget this pool (and exit if it was the last) now.
        reaper::wake();
    }
}

impl<M: Manage> Pool<M> {
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

    fn from_parts(settings: builder::Settings, manager: M, name: builder::NameLease) -> Pool<M> {
        let workers = reaper::workers();
        let inner = Arc::new_cyclic(|me| Core::new(settings, manager, name, workers, me.clone()));
        let weak: Weak<Core<M>> = Arc::downgrade(&inner);
        reaper::register(weak);
        Pool { inner }
    }

    /// Checks out a connection, waiting up to the acquire timeout.
    ///
    /// Takes an idle connection (probed first if it has been idle longer
    /// than the validation bypass; one that fails is closed and another
    /// taken); else opens one on this thread if the pool has room; else waits
    /// for one to come back. Errors:
    /// - [`Error::Closed`] after [`close`](Pool::close) (also for a caller
    ///   waiting when the pool is closed: it wakes at once);
    /// - [`Error::Unavailable`], at once, while the target is down and the
    ///   pool holds no connection that could come back (see
    ///   [`PoolBuilder::fail_fast`]); the caller whose connect just failed
    ///   gets it too, with that error inside;
    /// - the connect error itself when no retry can fix it
    ///   ([`Error::is_permanent`]: refused credentials, invalid settings,
    ///   a rejected certificate, a host name that does not exist), from the
    ///   first call on;
    /// - [`Error::PoolTimeout`] when the target answers but no connection
    ///   came free in time.
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
        self.get_timeout(self.inner.settings.acquire_timeout)
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
        let entry = self.inner.checkout(timeout)?;
        Ok(PooledConnection {
            core: self.inner.clone(),
            entry: Some(entry),
            discard: false,
        })
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
        conn.discard = true;
        let result = f(conn);
        match &result {
            Err(e) if e.is_transport() => {}
            _ => conn.discard = false,
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
        if self.inner.is_closed() {
            return Err(Error::Closed);
        }
        Ok(self.inner.warm_up(timeout))
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
        self.inner.name.as_str()
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
        let inner = &self.inner;
        inner
            .metrics
            .publish(&inner.stats(), inner.settings.max_size);
    }

    /// Closes the pool: idle connections are closed now, checked-out ones when
    /// they come back, connects in flight when they complete; callers waiting
    /// for a connection wake at once with [`Error::Closed`], and so do later
    /// checkouts. Background work for the pool stops. Calling it again does
    /// nothing.
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
        if !self.inner.close() {
            return;
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
        self.inner.is_closed()
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
        self.inner.settings.max_size
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
pub struct PooledConnection<M: Manage> {
    core: Arc<Core<M>>,
    /// `None` only while the guard is dropped.
    entry: Option<Box<Entry<M::Connection>>>,
    /// Close it instead of putting it back.
    discard: bool,
}

impl<M: Manage> PooledConnection<M> {
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
        this.discard = true;
    }

    fn entry(&self) -> &Entry<M::Connection> {
        match &self.entry {
            Some(e) => e,
            None => unreachable!("a pooled connection is empty only while it is dropped"),
        }
    }

    /// Probes the connection now (for `execute_with_retry`); a failure marks
    /// it for closing and is counted like any failed probe.
    fn probe_now(&mut self) -> bool {
        let core = self.core.clone();
        match core.probe(self.entry_mut()) {
            Ok(()) => true,
            Err(msg) => {
                core.lock().note_probe_failure(msg);
                self.discard = true;
                false
            }
        }
    }

    fn entry_mut(&mut self) -> &mut Entry<M::Connection> {
        match &mut self.entry {
            Some(e) => e,
            None => unreachable!("a pooled connection is empty only while it is dropped"),
        }
    }
}

impl<M: Manage> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.core.give_back(entry, self.discard);
        }
    }
}

impl<M: Manage> Deref for PooledConnection<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.entry().conn
    }
}

impl<M: Manage> DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.entry_mut().conn
    }
}

impl<M> fmt::Debug for PooledConnection<M>
where
    M: Manage,
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entry().conn.fmt(f)
    }
}
