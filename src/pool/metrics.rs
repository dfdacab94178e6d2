//! Feature `metrics`: every pool's [`Stats`] through the `metrics` crate's
//! facade, labelled `pool=<name>`, for whatever exporter the program installs.
//!
//! Pull, mostly: the counters and gauges already live in the pool (its
//! `Stats`), so a checkout pays nothing extra; the shared reaper copies them
//! to the recorder about once a second per pool (counters with `absolute`,
//! gauges with `set`), and [`Pool::publish_metrics`](super::Pool::publish_metrics)
//! does it on demand. Only the acquire-wait histogram is recorded where it
//! happens, on the slow path of a checkout (no idle connection), which
//! already blocks on a condition variable.
//!
//! Every key is built once per pool, so a publish allocates nothing of ours.

use super::Stats;
use metrics::{Key, Label, Level, Metadata, Recorder, Unit};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The reaper publishes a pool when this long has passed since its last
/// publish; it visits every pool at least once a second.
const PUBLISH_EVERY: Duration = Duration::from_millis(900);

/// Gauges: name and description, in the order of [`gauge_values`].
const GAUGES: [(&str, &str); 5] = [
    ("edgepool_pool_max_size", "Most connections the pool opens"),
    (
        "edgepool_pool_size",
        "Open connections: idle, in use and being probed",
    ),
    ("edgepool_pool_in_use", "Connections checked out by callers"),
    (
        "edgepool_pool_idle",
        "Connections waiting in the pool (including any being probed)",
    ),
    (
        "edgepool_pool_waiting",
        "Callers waiting for a connection right now",
    ),
];

fn gauge_values(s: &Stats, max_size: u32) -> [u32; 5] {
    [max_size, s.size, s.in_use, s.idle, s.waiting]
}

/// Counters: name and description, in the order of [`counter_values`].
const COUNTERS: [(&str, &str); 10] = [
    ("edgepool_pool_acquired_total", "Successful checkouts"),
    (
        "edgepool_pool_released_total",
        "Connections given back by callers",
    ),
    ("edgepool_pool_created_total", "Connections opened"),
    (
        "edgepool_pool_closed_total",
        "Connections closed (evicted, broken, failed a probe, or the pool closed)",
    ),
    (
        "edgepool_pool_timeouts_total",
        "Checkouts that ran into the acquire timeout",
    ),
    (
        "edgepool_pool_unavailable_total",
        "Checkouts refused at once because the target was down",
    ),
    ("edgepool_pool_health_checks_total", "Health probes run"),
    (
        "edgepool_pool_health_failures_total",
        "Health probes that failed",
    ),
    (
        "edgepool_pool_waits_total",
        "Checkouts that found no idle connection and waited",
    ),
    (
        "edgepool_pool_retries_total",
        "Closures run again by execute_with_retry",
    ),
];

fn counter_values(s: &Stats) -> [u64; 10] {
    [
        s.acquired,
        s.released,
        s.created,
        s.closed,
        s.timeouts,
        s.unavailable,
        s.health_checks,
        s.health_failures,
        s.waits,
        s.retries,
    ]
}

const WAIT: (&str, &str) = (
    "edgepool_pool_wait_seconds",
    "Time a checkout that found no idle connection waited for one",
);

/// One pool's metric keys and publish schedule.
#[derive(Debug)]
pub(crate) struct PoolMetrics {
    gauges: [Key; 5],
    counters: [Key; 10],
    wait: Key,
    last_publish: Mutex<Option<Instant>>,
}

impl PoolMetrics {
    pub(crate) fn new(pool: &str) -> PoolMetrics {
        let key =
            |name: &'static str| Key::from_parts(name, vec![Label::new("pool", pool.to_owned())]);
        PoolMetrics {
            gauges: GAUGES.map(|(name, _)| key(name)),
            counters: COUNTERS.map(|(name, _)| key(name)),
            wait: key(WAIT.0),
            last_publish: Mutex::new(None),
        }
    }

    /// Records one checkout's wait in the histogram (slow path only).
    pub(crate) fn record_wait(&self, waited: Duration) {
        metrics::with_recorder(|r| {
            describe_once(r);
            r.register_histogram(&self.wait, &META)
                .record(waited.as_secs_f64());
        });
    }

    /// Publishes `stats` now.
    pub(crate) fn publish(&self, stats: &Stats, max_size: u32) {
        *self.lock() = Some(Instant::now());
        self.write(stats, max_size);
    }

    /// Publishes `stats()` if the last publish is old enough (the reaper's call).
    pub(crate) fn publish_if_due(&self, stats: impl FnOnce() -> Stats, max_size: u32) {
        let now = Instant::now();
        {
            let mut last = self.lock();
            if last.is_some_and(|at| now.saturating_duration_since(at) < PUBLISH_EVERY) {
                return;
            }
            *last = Some(now);
        }
        self.write(&stats(), max_size);
    }

    /// The last word of a dropped pool: its final counters, and gauges at
    /// zero so that a dashboard does not show it busy forever.
    pub(crate) fn publish_gone(&self, stats: &Stats) {
        let gone = Stats {
            size: 0,
            in_use: 0,
            idle: 0,
            waiting: 0,
            ..*stats
        };
        self.write(&gone, 0);
    }

    fn write(&self, stats: &Stats, max_size: u32) {
        metrics::with_recorder(|r| {
            describe_once(r);
            for (key, v) in self.gauges.iter().zip(gauge_values(stats, max_size)) {
                r.register_gauge(key, &META).set(f64::from(v));
            }
            // Our counters only grow, so `absolute` is exact whenever the
            // recorder was installed (no lost increments before that).
            for (key, v) in self.counters.iter().zip(counter_values(stats)) {
                r.register_counter(key, &META).absolute(v);
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_publish
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The recorder the descriptions were last given to (its address).
static DESCRIBED: AtomicUsize = AtomicUsize::new(0);

/// Gives the metric descriptions to `r` once (again when the recorder changes).
fn describe_once(r: &dyn Recorder) {
    let id = (r as *const dyn Recorder).cast::<()>() as usize;
    if DESCRIBED.swap(id, Ordering::Relaxed) == id {
        return;
    }
    for (name, help) in GAUGES {
        r.describe_gauge(name.into(), None, help.into());
    }
    for (name, help) in COUNTERS {
        r.describe_counter(name.into(), None, help.into());
    }
    r.describe_histogram(WAIT.0.into(), Some(Unit::Seconds), WAIT.1.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_stats_fields() {
        let s = Stats {
            acquired: 1,
            released: 2,
            created: 3,
            closed: 4,
            timeouts: 5,
            unavailable: 10,
            health_checks: 6,
            health_failures: 7,
            waits: 8,
            retries: 9,
            size: 11,
            in_use: 12,
            idle: 13,
            waiting: 14,
            ..Stats::default()
        };
        assert_eq!(counter_values(&s), [1, 2, 3, 4, 5, 10, 6, 7, 8, 9]);
        assert_eq!(gauge_values(&s, 10), [10, 11, 12, 13, 14]);
        for (name, _) in COUNTERS {
            assert!(name.starts_with("edgepool_pool_") && name.ends_with("_total"));
        }
        let m = PoolMetrics::new("p");
        assert_eq!(m.wait.labels().next().map(|l| l.value()), Some("p"));
    }
}
