//! [`Stats`], [`HealthReport`] and the counters behind them.

use portable_atomic::{AtomicU64, Ordering::Relaxed};
use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// A snapshot of one pool's state and counters.
///
/// Gauges (`size`, `in_use`, `idle`, `waiting`) are read at the time of the
/// call; counters are totals since the pool was built. `acquired`/`released`
/// count your checkouts only: the pool's own health probes are not counted
/// there (they are in `health_checks`).
///
/// ```
/// # use edgepool::{Pool, tcp};
/// let pool = Pool::builder().build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
/// let s = pool.stats();
/// assert_eq!((s.size, s.in_use, s.acquired), (0, 0, 0));
/// println!("{s}");
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Open connections: idle, in use, and being probed.
    pub size: u32,
    /// Connections checked out by callers.
    pub in_use: u32,
    /// Connections waiting in the pool (including any the reaper is probing).
    pub idle: u32,
    /// Callers waiting for a connection right now.
    pub waiting: u32,
    /// Successful checkouts.
    pub acquired: u64,
    /// Connections given back by callers.
    pub released: u64,
    /// Connections opened.
    pub created: u64,
    /// Connections closed (evicted, broken, failed a probe, or the pool closed).
    pub closed: u64,
    /// Checkouts that ran into the acquire timeout.
    pub timeouts: u64,
    /// Health probes run (at checkout after the validation bypass, by the reaper,
    /// and by [`Pool::health_check`](crate::Pool::health_check)).
    pub health_checks: u64,
    /// Health probes that failed.
    pub health_failures: u64,
    /// Checkouts that found no idle connection and waited (for one to come
    /// back or be opened), however the wait ended. Checkouts served at once
    /// from an idle connection are not counted here.
    pub waits: u64,
    /// Total time callers spent waiting for a connection (the `waits`).
    pub wait_time_total: Duration,
    /// Longest single wait for a connection.
    pub wait_time_max: Duration,
    /// Times [`Pool::execute_with_retry`](crate::Pool::execute_with_retry)
    /// ran its closure again after a failure.
    pub retries: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waits = self.acquired + self.timeouts;
        let avg = if waits == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos((self.wait_time_total.as_nanos() / u128::from(waits)) as u64)
        };
        write!(
            f,
            "size {} (in use {}, idle {}, waiting {}), acquired {}, released {}, created {}, \
             closed {}, timeouts {}, health checks {} ({} failed), wait avg {:?} max {:?}, \
             retries {}",
            self.size,
            self.in_use,
            self.idle,
            self.waiting,
            self.acquired,
            self.released,
            self.created,
            self.closed,
            self.timeouts,
            self.health_checks,
            self.health_failures,
            avg,
            self.wait_time_max,
            self.retries
        )
    }
}

/// What [`Pool::health_check`](crate::Pool::health_check) found.
///
/// ```
/// # use edgepool::{Pool, tcp};
/// let pool = Pool::builder().build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
/// let report = pool.health_check();
/// if report.unhealthy > 0 {
///     eprintln!("{report}");
/// }
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthReport {
    /// Connections that passed their probe.
    pub healthy: u32,
    /// Connections that failed their probe (or could not be opened) and were
    /// discarded.
    pub unhealthy: u32,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
}

impl HealthReport {
    /// True when nothing failed and at least one connection passed.
    ///
    /// ```
    /// assert!(!edgepool::HealthReport::default().is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.unhealthy == 0 && self.healthy > 0
    }
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} healthy, {} unhealthy", self.healthy, self.unhealthy)?;
        if let Some(e) = &self.last_error {
            write!(f, " (last error: {e})")?;
        }
        Ok(())
    }
}

/// The counters one pool keeps. u64 through `portable-atomic`, so 32-bit
/// targets without 64-bit atomics neither fail to build nor wrap.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) acquired: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) created: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) health_checks: AtomicU64,
    pub(crate) health_failures: AtomicU64,
    pub(crate) waits: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) wait_ns_total: AtomicU64,
    pub(crate) wait_ns_max: AtomicU64,
    pub(crate) waiting: AtomicUsize,
}

impl Counters {
    pub(crate) fn add_wait(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.waits.fetch_add(1, Relaxed);
        self.wait_ns_total.fetch_add(ns, Relaxed);
        self.wait_ns_max.fetch_max(ns, Relaxed);
    }

    /// Counters as `Stats`; the caller fills in the gauges it knows.
    pub(crate) fn snapshot(&self) -> Stats {
        let acquired = self.acquired.load(Relaxed);
        let released = self.released.load(Relaxed);
        Stats {
            size: 0,
            in_use: u32::try_from(acquired.saturating_sub(released)).unwrap_or(u32::MAX),
            idle: 0,
            waiting: u32::try_from(self.waiting.load(std::sync::atomic::Ordering::Relaxed))
                .unwrap_or(u32::MAX),
            acquired,
            released,
            created: self.created.load(Relaxed),
            closed: self.closed.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            health_checks: self.health_checks.load(Relaxed),
            health_failures: self.health_failures.load(Relaxed),
            waits: self.waits.load(Relaxed),
            retries: self.retries.load(Relaxed),
            wait_time_total: Duration::from_nanos(self.wait_ns_total.load(Relaxed)),
            wait_time_max: Duration::from_nanos(self.wait_ns_max.load(Relaxed)),
        }
    }
}
