//! Pure pool logic against an in-memory fake manager.

mod common;
use common::{eventually, eventually_within};

use edgepool::{Error, Pool, PoolSet, PooledConnection};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct FakeState {
    connects: AtomicUsize,
    live: AtomicUsize,
    fail_connect: AtomicBool,
    connect_delay_ms: AtomicUsize,
    conns: Mutex<Vec<Arc<AtomicBool>>>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<FakeState>);

#[derive(Debug)]
struct FakeConn {
    id: usize,
    healthy: Arc<AtomicBool>,
    broken: bool,
    state: Arc<FakeState>,
}

impl Drop for FakeConn {
    fn drop(&mut self) {
        self.state.live.fetch_sub(1, SeqCst);
    }
}

impl FakeConn {
    fn call(&mut self, fail: bool) -> edgepool::Result<usize> {
        if fail {
            self.broken = true;
            return Err(Error::Timeout(edgepool::Phase::Read));
        }
        Ok(self.id)
    }
}

impl edgepool::Manage for Fake {}

impl r2d2::ManageConnection for Fake {
    type Connection = FakeConn;
    type Error = Error;

    fn connect(&self) -> Result<FakeConn, Error> {
        let delay = self.0.connect_delay_ms.load(SeqCst);
        if delay > 0 {
            thread::sleep(Duration::from_millis(delay as u64));
        }
        let id = self.0.connects.fetch_add(1, SeqCst);
        if self.0.fail_connect.load(SeqCst) {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "fake device refuses",
            )));
        }
        let healthy = Arc::new(AtomicBool::new(true));
        self.0.conns.lock().unwrap().push(healthy.clone());
        self.0.live.fetch_add(1, SeqCst);
        Ok(FakeConn {
            id,
            healthy,
            broken: false,
            state: self.0.clone(),
        })
    }

    fn is_valid(&self, conn: &mut FakeConn) -> Result<(), Error> {
        if conn.healthy.load(SeqCst) {
            Ok(())
        } else {
            conn.broken = true;
            Err(Error::Unhealthy("fake probe failed".into()))
        }
    }

    fn has_broken(&self, conn: &mut FakeConn) -> bool {
        conn.broken
    }
}

impl Fake {
    fn live(&self) -> usize {
        self.0.live.load(SeqCst)
    }
    fn connects(&self) -> usize {
        self.0.connects.load(SeqCst)
    }
    fn break_all(&self) {
        for c in self.0.conns.lock().unwrap().iter() {
            c.store(false, SeqCst);
        }
    }
}

fn quiet() -> edgepool::PoolBuilder<Fake> {
    Pool::builder()
        .health_check_interval(None)
        .max_idle_time(None)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
}

#[test]
fn acquire_timeout_is_pool_timeout_near_the_setting() {
    let fake = Fake::default();
    let pool = quiet()
        .max_size(1)
        .acquire_timeout(Duration::from_millis(200))
        .build(fake.clone())
        .unwrap();
    let _held = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get().expect_err("must time out");
    let waited = start.elapsed();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err}");
    assert!(waited >= Duration::from_millis(195), "{waited:?}");
    assert!(waited < Duration::from_millis(600), "{waited:?}");
    let s = pool.stats();
    assert_eq!((s.timeouts, s.waiting, s.in_use, s.acquired), (1, 0, 1, 1));
    assert!(s.wait_time_max >= Duration::from_millis(195));
}

#[test]
fn offline_target_fails_fast_naming_the_connect_error_and_backs_off() {
    let fake = Fake::default();
    fake.0.fail_connect.store(true, SeqCst);
    let pool = Pool::builder()
        .acquire_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .build(fake.clone())
        .unwrap();
    let err = pool.get().expect_err("must fail");
    match &err {
        Error::Unavailable { last_error, .. } => {
            assert!(
                last_error.to_string().contains("fake device refuses"),
                "{err}"
            )
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("fake device refuses"));
    // Keep asking for a second: the backoff bounds the dials (50, 100, 200,
    // 400, 400 ms ceilings); the calls in between fail at once.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let _ = pool.get_timeout(Duration::from_millis(50));
    }
    let dials = fake.connects();
    assert!(dials <= 12, "{dials} connect attempts in ~1.3 s");
    // The device comes back: the pool recovers without a restart.
    fake.0.fail_connect.store(false, SeqCst);
    let got = common::eventually_within(Duration::from_secs(2), || pool.get().is_ok());
    assert!(got, "recovers");
}

#[test]
fn build_never_blocks_on_a_slow_or_dead_target() {
    let fake = Fake::default();
    fake.0.connect_delay_ms.store(300, SeqCst);
    let start = Instant::now();
    let pool = Pool::builder().min_idle(3).build(fake.clone()).unwrap();
    assert!(start.elapsed() < Duration::from_millis(100));
    pool.close();
}

#[test]
fn idle_connections_are_evicted_down_to_min_idle() {
    let fake = Fake::default();
    let max_idle = Duration::from_millis(200);
    let pool = quiet()
        .max_size(5)
        .min_idle(1)
        .max_idle_time(Some(max_idle))
        .build(fake.clone())
        .unwrap();
    let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    drop(held);
    let released = Instant::now();
    // Four in use, and min_idle may have opened one more meanwhile.
    assert!(pool.stats().size >= 4);
    // The tick is max_idle_time / 4 = 50 ms.
    let tick = Duration::from_millis(50);
    assert!(
        eventually_within(max_idle + tick + Duration::from_secs(1), || pool
            .stats()
            .size
            == 1),
        "{}",
        pool.stats()
    );
    assert!(released.elapsed() >= max_idle - Duration::from_millis(5));
    assert_eq!(fake.live(), 1);
    let s = pool.stats();
    assert_eq!(s.closed, s.created - 1);
    // It stays at min_idle.
    thread::sleep(max_idle * 2);
    assert_eq!(pool.stats().size, 1);
}

#[test]
fn min_idle_is_kept_in_the_background_and_warm_up_waits_for_it() {
    let fake = Fake::default();
    let pool = quiet().max_size(4).min_idle(3).build(fake.clone()).unwrap();
    assert_eq!(pool.warm_up(Duration::from_secs(2)).unwrap(), 3);
    assert_eq!(pool.stats().idle, 3);
    // A connection that breaks in use is replaced.
    let mut c = pool.get().unwrap();
    c.broken = true;
    drop(c);
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .idle
        == 3));
    assert_eq!(pool.stats().created, 4);
    // No churn: nothing more is opened.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(pool.stats().created, 4);
    assert_eq!(fake.live(), 3);
}

#[test]
fn health_check_reports_and_replaces_broken_connections() {
    let fake = Fake::default();
    let pool = quiet().max_size(4).min_idle(2).build(fake.clone()).unwrap();
    assert_eq!(pool.warm_up(Duration::from_secs(2)).unwrap(), 2);
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (2, 0));
    assert!(r.is_healthy());
    fake.break_all();
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (0, 2), "{r}");
    assert!(r.last_error.unwrap().contains("fake probe failed"));
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .idle
        == 2));
    assert_eq!(pool.health_check().healthy, 2);
    let s = pool.stats();
    assert_eq!((s.created, s.closed, s.health_failures), (4, 2, 2), "{s}");
    assert_eq!(s.acquired, 0, "probes are not user checkouts");
}

#[test]
fn health_check_of_an_empty_pool_tests_the_target() {
    let fake = Fake::default();
    let pool = quiet().build(fake.clone()).unwrap();
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (1, 0));
    let dead = Fake::default();
    dead.0.fail_connect.store(true, SeqCst);
    let pool = quiet()
        .acquire_timeout(Duration::from_millis(300))
        .build(dead)
        .unwrap();
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (0, 1));
    assert!(r.last_error.unwrap().contains("fake device refuses"));
}

#[test]
fn reaper_probes_idle_connections_and_replaces_failures() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(3)
        .min_idle(2)
        .max_idle_time(None)
        .health_check_interval(Some(Duration::from_millis(100)))
        .build(fake.clone())
        .unwrap();
    assert_eq!(pool.warm_up(Duration::from_secs(2)).unwrap(), 2);
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .health_checks
        >= 2));
    fake.break_all();
    assert!(
        eventually_within(Duration::from_secs(10), || {
            let s = pool.stats();
            s.health_failures >= 2 && s.created >= 4 && s.idle == 2
        }),
        "{}",
        pool.stats()
    );
    let s = pool.stats();
    assert_eq!(
        (s.acquired, s.released),
        (0, 0),
        "reaper probes are not checkouts"
    );
    let c = pool.get().unwrap();
    assert!(c.healthy.load(SeqCst));
}

#[test]
fn checkout_probes_only_after_the_validation_bypass() {
    let fake = Fake::default();
    let pool = quiet()
        .validation_bypass(Duration::from_millis(100))
        .build(fake.clone())
        .unwrap();
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    assert_eq!(pool.stats().health_checks, 0);
    thread::sleep(Duration::from_millis(150));
    drop(pool.get().unwrap());
    assert_eq!(pool.stats().health_checks, 1);
    // A connection failing its checkout probe is replaced transparently.
    thread::sleep(Duration::from_millis(150));
    fake.break_all();
    let c = pool.get().unwrap();
    assert!(c.healthy.load(SeqCst));
    let s = pool.stats();
    assert_eq!((s.health_failures, s.created, s.closed), (1, 2, 1), "{s}");
}

#[test]
fn close_is_idempotent_and_later_gets_fail() {
    let fake = Fake::default();
    let pool = quiet().max_size(3).build(fake.clone()).unwrap();
    let a = pool.get().unwrap();
    drop(pool.get().unwrap());
    assert_eq!(fake.live(), 2);
    pool.close();
    pool.close();
    assert!(pool.is_closed());
    // Idle connections close at once (a connect still in flight on r2d2's
    // workers may finish a moment later and is then closed too).
    assert!(eventually(|| fake.live() == 1), "live {}", fake.live());
    assert!(matches!(pool.get(), Err(Error::Closed)));
    assert!(matches!(
        pool.execute(|c| c.call(false)),
        Err(Error::Closed)
    ));
    drop(a);
    assert!(
        eventually(|| fake.live() == 0),
        "checked-out connections close when returned: live {}",
        fake.live()
    );
    assert!(matches!(
        pool.warm_up(Duration::from_millis(10)),
        Err(Error::Closed)
    ));
}

#[test]
fn stats_are_exact_after_16_threads_x_10000_checkouts() {
    let fake = Fake::default();
    let pool = quiet().max_size(4).build(fake.clone()).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                for _ in 0..10_000 {
                    let c = pool.get().unwrap();
                    std::hint::black_box(c.id);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = pool.stats();
    assert_eq!(s.acquired, 160_000, "{s}");
    assert_eq!(s.released, 160_000);
    assert_eq!((s.in_use, s.waiting, s.timeouts), (0, 0, 0));
    assert!(s.size <= 4 && s.idle == s.size, "{s}");
    assert_eq!(s.created, u64::from(s.size) + s.closed);
}

#[test]
fn execute_discards_after_transport_errors_and_panics() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    assert_eq!(pool.execute(|c| c.call(false)).unwrap(), 0);
    // A protocol error keeps the connection.
    let e = pool
        .execute(|_| -> edgepool::Result<()> { Err(Error::Config("not transport".into())) })
        .unwrap_err();
    assert!(!e.is_transport());
    assert_eq!(pool.stats().closed, 0);
    // A transport error drops it.
    assert!(pool.execute(|c| c.call(true)).unwrap_err().is_transport());
    assert_eq!(pool.stats().closed, 1);
    // So does a transport error even if the client did not mark itself broken.
    let e = pool
        .execute(|_| -> edgepool::Result<()> { Err(Error::Timeout(edgepool::Phase::Read)) })
        .unwrap_err();
    assert!(e.is_timeout());
    assert_eq!(pool.stats().closed, 2);
    // A panic propagates, the connection is dropped, the pool stays usable.
    let p = pool.clone();
    let panicked = thread::spawn(move || p.execute(|_| -> edgepool::Result<()> { panic!("boom") }))
        .join()
        .is_err();
    assert!(panicked);
    assert_eq!(pool.stats().closed, 3);
    assert_eq!(pool.execute(|c| c.call(false)).unwrap(), 3);
    let s = pool.stats();
    assert_eq!((s.acquired, s.released, s.in_use), (6, 6, 0), "{s}");
}

#[test]
fn discard_and_max_lifetime_close_on_return() {
    let fake = Fake::default();
    let pool = quiet()
        .max_lifetime(Some(Duration::from_millis(100)))
        .build(fake.clone())
        .unwrap();
    let mut c = pool.get().unwrap();
    PooledConnection::discard(&mut c);
    drop(c);
    assert_eq!(fake.live(), 0);
    let c = pool.get().unwrap();
    thread::sleep(Duration::from_millis(120));
    drop(c);
    assert_eq!(fake.live(), 0, "too old: closed on return");
    drop(pool.get().unwrap());
    assert!(
        eventually_within(Duration::from_millis(500), || fake.live() == 0),
        "reaper closes old idle ones"
    );
}

#[test]
fn invalid_settings_are_config_errors() {
    let d0 = Duration::ZERO;
    let cases: Vec<edgepool::PoolBuilder<Fake>> = vec![
        Pool::builder().max_size(0),
        Pool::builder().max_size(2).min_idle(3),
        Pool::builder().acquire_timeout(d0),
        Pool::builder().max_idle_time(Some(d0)),
        Pool::builder().max_lifetime(Some(d0)),
        Pool::builder().health_check_interval(Some(d0)),
        Pool::builder().reconnect_backoff(d0, Duration::from_secs(1)),
        Pool::builder().reconnect_backoff(Duration::from_secs(2), Duration::from_secs(1)),
    ];
    for b in cases {
        let dbg = format!("{b:?}");
        match b.build(Fake::default()) {
            Err(Error::Config(msg)) => assert!(!msg.is_empty()),
            Err(e) => panic!("{dbg}: {e}"),
            Ok(_) => panic!("{dbg}: accepted"),
        }
    }
    // Huge values are fine (no overflow panics).
    let pool = Pool::builder()
        .acquire_timeout(Duration::MAX)
        .max_idle_time(Some(Duration::MAX))
        .health_check_interval(Some(Duration::MAX))
        .validation_bypass(Duration::MAX)
        .build(Fake::default())
        .unwrap();
    drop(pool.get().unwrap());
}

#[test]
fn pool_set_creates_pools_on_first_use() {
    let fakes: Arc<Mutex<Vec<(u16, Fake)>>> = Arc::default();
    let made = fakes.clone();
    let set = PoolSet::new(quiet().max_size(2), move |key: &u16| {
        let fake = Fake::default();
        made.lock().unwrap().push((*key, fake.clone()));
        fake
    });
    assert!(set.is_empty());
    for key in [1u16, 2, 3, 1, 2, 1] {
        drop(set.get(&key).unwrap());
    }
    assert_eq!(set.len(), 3);
    assert_eq!(fakes.lock().unwrap().len(), 3, "one manager per key");
    let stats = set.stats();
    assert_eq!(stats[&1].acquired, 3);
    assert_eq!(stats[&2].acquired, 2);
    assert_eq!(stats[&3].acquired, 1);
    let removed = set.remove(&2).unwrap();
    assert!(removed.is_closed());
    assert!(set.remove(&2).is_none());
    let mut keys = set.keys();
    keys.sort();
    assert_eq!(keys, vec![1, 3]);
    // Removed then asked again: a fresh pool.
    drop(set.get(&2).unwrap());
    assert_eq!(set.stats()[&2].acquired, 1);
    set.close();
    assert!(set.is_empty());
    for (_, fake) in fakes.lock().unwrap().iter() {
        assert_eq!(fake.live(), 0);
    }
}

#[test]
fn pools_and_guards_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Pool<Fake>>();
    send_sync::<PoolSet<String, Fake>>();
    send::<PooledConnection<Fake>>();
    send_sync::<edgepool::Error>();
}
