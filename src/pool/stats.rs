//! [`Stats`], [`HealthReport`] and the counters behind them.

use std::fmt;
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
    /// Checkouts refused at once because the target was down
    /// ([`Error::Unavailable`](crate::Error::Unavailable), or a connect
    /// error no retry can fix), including the caller whose connect failed.
    pub unavailable: u64,
    /// Health probes run (at checkout after the validation bypass, by the reaper,
    /// and by [`Pool::health_check`](crate::Pool::health_check)).
    pub health_checks: u64,
    /// Health probes that failed.
    pub health_failures: u64,
    /// Checkouts that found no idle connection and waited (for one to come
    /// back or be opened), however the wait ended. Checkouts served at once
    /// from an idle connection are not counted here.
    pub waits: u64,
    /// Total time callers spent waiting for a connection, over the `waits`
    /// only: `wait_time_total / waits` is the average wait of a checkout that
    /// had to wait (see [`Stats::average_wait`]).
    pub wait_time_total: Duration,
    /// Longest single wait for a connection.
    pub wait_time_max: Duration,
    /// Times [`Pool::execute_with_retry`](crate::Pool::execute_with_retry)
    /// ran its closure again after a failure.
    pub retries: u64,
}

impl Stats {
    /// The average wait of the checkouts that had to wait (`wait_time_total /
    /// waits`); zero when none waited. Checkouts served at once from an idle
    /// connection are not in it.
    ///
    /// ```
    /// let s = edgepool::Stats::default();
    /// assert_eq!(s.average_wait(), std::time::Duration::ZERO);
    /// ```
    pub fn average_wait(&self) -> Duration {
        match u32::try_from(self.waits) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.wait_time_total / n,
            Err(_) => Duration::from_nanos(
                u64::try_from(self.wait_time_total.as_nanos() / u128::from(self.waits))
                    .unwrap_or(u64::MAX),
            ),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "size {} (in use {}, idle {}, waiting {}), acquired {}, released {}, created {}, \
             closed {}, timeouts {}, unavailable {}, health checks {} ({} failed), \
             {} waits (avg {:?}, max {:?}), retries {}",
            self.size,
            self.in_use,
            self.idle,
            self.waiting,
            self.acquired,
            self.released,
            self.created,
            self.closed,
            self.timeouts,
            self.unavailable,
            self.health_checks,
            self.health_failures,
            self.waits,
            self.average_wait(),
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

/// The counters one pool keeps, behind the pool's lock (which every checkout
/// and return takes anyway): plain u64s, exact, and nothing that 32-bit
/// targets without 64-bit atomics lack.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub(crate) acquired: u64,
    pub(crate) released: u64,
    pub(crate) created: u64,
    pub(crate) closed: u64,
    pub(crate) timeouts: u64,
    pub(crate) unavailable: u64,
    pub(crate) health_checks: u64,
    pub(crate) health_failures: u64,
    pub(crate) waits: u64,
    pub(crate) retries: u64,
    pub(crate) wait_total: Duration,
    pub(crate) wait_max: Duration,
}

impl Counters {
    pub(crate) fn add_wait(&mut self, waited: Duration) {
        self.waits += 1;
        self.wait_total = self.wait_total.saturating_add(waited);
        self.wait_max = self.wait_max.max(waited);
    }

    /// Counters as `Stats`; the caller fills in the gauges.
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            acquired: self.acquired,
            released: self.released,
            created: self.created,
            closed: self.closed,
            timeouts: self.timeouts,
            unavailable: self.unavailable,
            health_checks: self.health_checks,
            health_failures: self.health_failures,
            waits: self.waits,
            retries: self.retries,
            wait_time_total: self.wait_total,
            wait_time_max: self.wait_max,
            ..Stats::default()
        }
    }
}
