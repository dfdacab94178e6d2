//! Pool names, and (feature `metrics`) the metrics every pool publishes,
//! read back through the `metrics-util` debugging recorder.

mod common;

use edgepool::{tcp, Error, Pool, PoolSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// A manager that cannot tell its target (not one of edgepool's).
#[derive(Debug, Clone, Default)]
struct Fake(Arc<AtomicUsize>);

#[derive(Debug)]
struct FakeConn {
    id: usize,
}

impl edgepool::Manage for Fake {}

impl r2d2::ManageConnection for Fake {
    type Connection = FakeConn;
    type Error = Error;

    fn connect(&self) -> Result<FakeConn, Error> {
        Ok(FakeConn {
            id: self.0.fetch_add(1, SeqCst),
        })
    }

    fn is_valid(&self, _: &mut FakeConn) -> Result<(), Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut FakeConn) -> bool {
        false
    }
}

fn quiet() -> edgepool::PoolBuilder<Fake> {
    Pool::builder()
        .health_check_interval(None)
        .max_idle_time(None)
}

fn tcp_manager(addr: &str) -> tcp::Manager {
    tcp::Manager::new(tcp::Config::new(addr))
}

#[test]
fn default_names_are_target_addresses_made_unique() {
    // TEST-NET-1 addresses: never dialled here (no checkout).
    let a = Pool::new(tcp_manager("192.0.2.1:502")).unwrap();
    let b = Pool::new(tcp_manager("192.0.2.1:502")).unwrap();
    let c = Pool::new(tcp_manager("192.0.2.1:502")).unwrap();
    assert_eq!(a.name(), "192.0.2.1:502");
    assert_eq!(b.name(), "192.0.2.1:502#2");
    assert_eq!(c.name(), "192.0.2.1:502#3");
    // A clone is the same pool, with the same name.
    assert_eq!(a.clone().name(), a.name());
    // A dropped pool frees its name (once the shared reaper, which may be
    // holding it for a moment, lets go).
    drop(b);
    let mut d = None;
    assert!(common::eventually(|| {
        let p = Pool::new(tcp_manager("192.0.2.1:502")).unwrap();
        let freed = p.name() == "192.0.2.1:502#2";
        d = Some(p);
        freed
    }));
    drop((a, c, d));
    assert!(common::eventually(|| Pool::new(tcp_manager(
        "192.0.2.1:502"
    ))
    .unwrap()
    .name()
        == "192.0.2.1:502"));
}

#[test]
fn managers_that_cannot_tell_get_numbered_names_and_set_names_are_kept() {
    let a = quiet().build(Fake::default()).unwrap();
    let b = quiet().build(Fake::default()).unwrap();
    for p in [&a, &b] {
        let n = p.name().strip_prefix("pool-").unwrap_or_default();
        assert!(n.parse::<u32>().is_ok(), "{}", p.name());
    }
    assert_ne!(a.name(), b.name());
    assert_eq!(a.execute(|c| Ok(c.id)).unwrap(), 0);
    // A name you set is yours, even twice (a warning is logged).
    let x = quiet().name("boiler").build(Fake::default()).unwrap();
    let y = quiet().name("boiler").build(Fake::default()).unwrap();
    assert_eq!((x.name(), y.name()), ("boiler", "boiler"));
    assert!(format!("{x:?}").contains("boiler"));
    let err = quiet().name("").build(Fake::default()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn a_pool_set_names_its_pools_by_target_under_its_own_name() {
    let named = PoolSet::new(Pool::builder().name("plc"), |addr: &String| {
        tcp_manager(addr)
    });
    let unnamed = PoolSet::new(Pool::builder(), |addr: &String| tcp_manager(addr));
    let t = "192.0.2.7:102".to_string();
    assert_eq!(named.pool(&t).unwrap().name(), "plc/192.0.2.7:102");
    assert_eq!(unnamed.pool(&t).unwrap().name(), "192.0.2.7:102");
    let custom = PoolSet::new(quiet().name("meters"), |_: &u8| Fake::default());
    assert_eq!(custom.pool(&1).unwrap().name(), "meters");
    assert_eq!(custom.pool(&2).unwrap().name(), "meters#2");
}

#[cfg(feature = "metrics")]
mod published {
    use super::common::eventually_within;
    use super::{quiet, Fake};
    use edgepool::{Error, Phase, RetryPolicy, Stats};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::MetricKind;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::thread;
    use std::time::Duration;

    /// One pool's metrics, by name, gathered from debugging snapshots.
    ///
    /// A `DebuggingRecorder` snapshot consumes: afterwards counters and
    /// gauges read 0 and histograms are empty until the next publish. So
    /// counters (published as totals) keep the largest value seen, histogram
    /// samples accumulate, and gauges are taken only from a snapshot that
    /// follows a publish (`max_size` is never 0 for a live pool).
    #[derive(Debug, Default)]
    struct Seen {
        counters: HashMap<String, u64>,
        gauges: HashMap<String, f64>,
        histograms: HashMap<String, Vec<f64>>,
    }

    impl Seen {
        fn add(&mut self, snapshotter: &Snapshotter, pool: &str) {
            let mut gauges = HashMap::new();
            for (key, _, _, value) in snapshotter.snapshot().into_vec() {
                let ours = key
                    .key()
                    .labels()
                    .any(|l| l.key() == "pool" && l.value() == pool);
                if !ours {
                    continue;
                }
                let name = key.key().name().to_string();
                match (key.kind(), value) {
                    (MetricKind::Counter, DebugValue::Counter(v)) => {
                        let c = self.counters.entry(name).or_default();
                        *c = (*c).max(v);
                    }
                    (MetricKind::Gauge, DebugValue::Gauge(v)) => {
                        gauges.insert(name, v.into_inner());
                    }
                    (MetricKind::Histogram, DebugValue::Histogram(v)) => self
                        .histograms
                        .entry(name)
                        .or_default()
                        .extend(v.into_iter().map(|x| x.into_inner())),
                    other => panic!("unexpected {other:?}"),
                }
            }
            if gauges
                .get("edgepool_pool_max_size")
                .is_some_and(|m| *m > 0.0)
            {
                self.gauges = gauges;
            }
        }

        /// One snapshot as it is, gauges included (for a dropped pool).
        fn once(
            snapshotter: &Snapshotter,
            pool: &str,
        ) -> (HashMap<String, u64>, HashMap<String, f64>) {
            let mut counters = HashMap::new();
            let mut gauges = HashMap::new();
            for (key, _, _, value) in snapshotter.snapshot().into_vec() {
                if !key.key().labels().any(|l| l.value() == pool) {
                    continue;
                }
                let name = key.key().name().to_string();
                match value {
                    DebugValue::Counter(v) => {
                        counters.insert(name, v);
                    }
                    DebugValue::Gauge(v) => {
                        gauges.insert(name, v.into_inner());
                    }
                    DebugValue::Histogram(_) => {}
                }
            }
            (counters, gauges)
        }

        fn counter(&self, name: &str) -> u64 {
            self.counters[&format!("edgepool_pool_{name}_total")]
        }

        fn gauge(&self, name: &str) -> f64 {
            self.gauges[&format!("edgepool_pool_{name}")]
        }

        fn waits(&self) -> &[f64] {
            self.histograms
                .get("edgepool_pool_wait_seconds")
                .map_or(&[], Vec::as_slice)
        }

        /// Every metric against `s` (and `max_size`).
        fn matches(&self, s: &Stats, max_size: u32) -> Result<(), String> {
            let counters = [
                ("acquired", s.acquired),
                ("released", s.released),
                ("created", s.created),
                ("closed", s.closed),
                ("timeouts", s.timeouts),
                ("health_checks", s.health_checks),
                ("health_failures", s.health_failures),
                ("waits", s.waits),
                ("retries", s.retries),
            ];
            for (name, want) in counters {
                let got = self.counters.get(&format!("edgepool_pool_{name}_total"));
                if got != Some(&want) {
                    return Err(format!("{name}: {got:?} published, {want} in {s}"));
                }
            }
            let gauges = [
                ("max_size", max_size),
                ("size", s.size),
                ("in_use", s.in_use),
                ("idle", s.idle),
                ("waiting", s.waiting),
            ];
            for (name, want) in gauges {
                let got = self.gauges.get(&format!("edgepool_pool_{name}"));
                if got != Some(&f64::from(want)) {
                    return Err(format!("{name}: {got:?} published, {want} in {s}"));
                }
            }
            let waits = self.waits();
            if waits.len() as u64 != s.waits {
                return Err(format!("{} wait samples, {} waits", waits.len(), s.waits));
            }
            let sum: f64 = waits.iter().sum();
            if (sum - s.wait_time_total.as_secs_f64()).abs() > 1e-6 {
                return Err(format!("wait sum {sum} s, total {:?}", s.wait_time_total));
            }
            Ok(())
        }
    }

    #[test]
    fn metrics_equal_stats_after_a_known_workload() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // Everything on this thread, with this thread's recorder: the
        // checkouts' wait samples and the publish.
        let (pool, stats) = metrics::with_local_recorder(&recorder, || {
            let pool = quiet()
                .name("known-workload")
                .max_size(2)
                .acquire_timeout(Duration::from_millis(100))
                .build(Fake::default())
                .unwrap();
            // 10 calls; the first waits for its connection to be opened.
            for _ in 0..10 {
                pool.execute(|c| Ok(c.id)).unwrap();
            }
            // Both connections out (the second one opened: a wait), and a
            // third caller times out (a wait).
            let a = pool.get().unwrap();
            let b = pool.get().unwrap();
            assert!(matches!(
                pool.get_timeout(Duration::from_millis(50)),
                Err(Error::PoolTimeout { .. })
            ));
            drop((a, b));
            // A transport error closes one; the retry opens another (a wait
            // only if no idle connection was left: one is).
            let policy = RetryPolicy::new()
                .retry_backoff(Duration::from_millis(1), Duration::from_millis(1));
            let mut n = 0;
            pool.execute_with_retry(&policy, |_| {
                n += 1;
                if n == 1 {
                    Err(Error::Timeout(Phase::Read))
                } else {
                    Ok(())
                }
            })
            .unwrap();
            // One probe per idle connection.
            let report = pool.health_check();
            assert!(report.is_healthy(), "{report}");
            let _held = pool.get().unwrap();
            pool.publish_metrics();
            let stats = pool.stats();
            (pool.clone(), stats)
        });
        // The reaper's first pass may hold the idle connection for a moment
        // while a checkout looks for it: one more wait (or connection) then.
        assert_eq!(
            (stats.acquired, stats.timeouts, stats.retries, stats.in_use),
            (15, 1, 1, 1),
            "{stats}"
        );
        assert!(stats.waits >= 3 && stats.closed >= 1, "{stats}");
        assert!(stats.health_checks >= 1, "{stats}");
        let mut seen = Seen::default();
        seen.add(&snapshotter, "known-workload");
        seen.matches(&stats, 2).unwrap();
        // Published under the pool's name only.
        assert_eq!(seen.counter("acquired"), 15);
        assert_eq!(seen.gauge("in_use"), 1.0);
        drop(pool);
    }

    /// The debugging recorder, installed globally once for this binary.
    fn global() -> &'static Mutex<Snapshotter> {
        static SNAPSHOTTER: OnceLock<Mutex<Snapshotter>> = OnceLock::new();
        SNAPSHOTTER.get_or_init(|| {
            let recorder = DebuggingRecorder::new();
            let snapshotter = recorder.snapshotter();
            recorder.install().expect("the only global recorder");
            Mutex::new(snapshotter)
        })
    }

    #[test]
    fn the_reaper_publishes_to_the_global_recorder_and_a_dropped_pool_reads_zero() {
        let snapshotter = global();
        let pool = quiet()
            .name("reaper-published")
            .max_size(2)
            .build(Fake::default())
            .unwrap();
        // 4 threads on 2 connections: some checkouts wait, on other threads.
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        pool.execute(|c| Ok(c.id)).unwrap();
                    }
                });
            }
        });
        assert_eq!(pool.stats().acquired, 2000);
        // No publish_metrics here: the reaper does it about once a second.
        let mut seen = Seen::default();
        let mut last = Err(String::new());
        let ok = eventually_within(Duration::from_secs(10), || {
            thread::sleep(Duration::from_millis(100));
            seen.add(&snapshotter.lock().unwrap(), "reaper-published");
            // Fresh: a connection r2d2 opened for a waiter may land late.
            last = seen.matches(&pool.stats(), 2);
            last.is_ok()
        });
        assert!(ok, "{last:?}");
        // Dropped: one last publish, gauges at 0 and the final counters
        // (which a snapshot before the drop had reset to 0).
        drop(Seen::once(&snapshotter.lock().unwrap(), "reaper-published"));
        drop(pool);
        let mut last = Default::default();
        let gone = eventually_within(Duration::from_secs(5), || {
            last = Seen::once(&snapshotter.lock().unwrap(), "reaper-published");
            let (counters, gauges) = &last;
            counters.get("edgepool_pool_acquired_total") == Some(&2000)
                && gauges.len() == 5
                && gauges.values().all(|v| *v == 0.0)
        });
        assert!(gone, "{last:?}");
    }
}
