//! The pool core's promises (issue 13), against a fake manager whose connects
//! finish when the test says so: an offline device costs only its own
//! callers, checkouts fail fast while a target is down, errors no retry can
//! fix come back typed on the first call, `close()` wakes every waiter,
//! `min_idle` is exact. No assertion depends on how threads are scheduled:
//! the tests wait for states (with generous limits), never for times.

mod common;
use common::eventually_within;

use edgepool::{Error, Manage, Phase, Pool, PoolBuilder};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the next connects do.
#[derive(Debug, Clone)]
enum Outcome {
    Succeed,
    Fail(fn() -> Error),
}

#[derive(Debug)]
struct Gate {
    /// Connects block while this is true.
    held: Mutex<bool>,
    cond: Condvar,
}

#[derive(Debug)]
struct State {
    gate: Gate,
    outcome: Mutex<Outcome>,
    /// Connects started / now blocked at the gate.
    started: AtomicUsize,
    blocked: AtomicUsize,
    live: AtomicUsize,
    /// `connect_within` budgets seen (ms).
    budgets: Mutex<Vec<u128>>,
    /// The longest a connect may take (its connect timeout); a connect given
    /// less by `connect_within` gives up (Timeout(Connect)) when it runs out.
    connect_timeout: Duration,
    /// Blocked connects fail with Timeout(Connect) once this passes.
    blackhole: AtomicBool,
}

#[derive(Debug, Clone)]
struct Fake(Arc<State>);

#[derive(Debug)]
struct Conn {
    state: Arc<State>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.state.live.fetch_sub(1, SeqCst);
    }
}

impl Fake {
    fn new() -> Fake {
        Fake::with_connect_timeout(Duration::from_secs(30))
    }

    fn with_connect_timeout(connect_timeout: Duration) -> Fake {
        Fake(Arc::new(State {
            gate: Gate {
                held: Mutex::new(false),
                cond: Condvar::new(),
            },
            outcome: Mutex::new(Outcome::Succeed),
            started: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            budgets: Mutex::new(Vec::new()),
            connect_timeout,
            blackhole: AtomicBool::new(false),
        }))
    }

    /// Connects from now on block until `release`.
    fn hold(&self) {
        *self.0.gate.held.lock().unwrap() = true;
    }

    fn release(&self) {
        *self.0.gate.held.lock().unwrap() = false;
        self.0.gate.cond.notify_all();
    }

    fn fail_with(&self, e: fn() -> Error) {
        *self.0.outcome.lock().unwrap() = Outcome::Fail(e);
    }

    fn succeed(&self) {
        *self.0.outcome.lock().unwrap() = Outcome::Succeed;
    }

    fn started(&self) -> usize {
        self.0.started.load(SeqCst)
    }

    fn blocked(&self) -> usize {
        self.0.blocked.load(SeqCst)
    }

    fn live(&self) -> usize {
        self.0.live.load(SeqCst)
    }

    /// One connect: waits at the gate (until released, or until `budget`
    /// runs out: then a connect timeout), then does what `outcome` says.
    fn dial(&self, budget: Duration) -> Result<Conn, Error> {
        let s = &self.0;
        s.started.fetch_add(1, SeqCst);
        let end = Instant::now() + budget;
        {
            let mut held = s.gate.held.lock().unwrap();
            if *held {
                s.blocked.fetch_add(1, SeqCst);
                while *held {
                    let now = Instant::now();
                    if now >= end {
                        s.blocked.fetch_sub(1, SeqCst);
                        return Err(Error::Timeout(Phase::Connect));
                    }
                    held = s.gate.cond.wait_timeout(held, end - now).unwrap().0;
                }
                s.blocked.fetch_sub(1, SeqCst);
            }
        }
        if s.blackhole.load(SeqCst) {
            return Err(Error::Timeout(Phase::Connect));
        }
        match s.outcome.lock().unwrap().clone() {
            Outcome::Succeed => {
                s.live.fetch_add(1, SeqCst);
                Ok(Conn { state: s.clone() })
            }
            Outcome::Fail(e) => Err(e()),
        }
    }
}

impl r2d2::ManageConnection for Fake {
    type Connection = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn, Error> {
        self.dial(self.0.connect_timeout)
    }

    fn is_valid(&self, _: &mut Conn) -> Result<(), Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut Conn) -> bool {
        false
    }
}

impl Manage for Fake {
    fn target(&self) -> Option<String> {
        Some("fake".into())
    }

    fn connect_budget(&self) -> Option<Duration> {
        Some(self.0.connect_timeout)
    }

    fn connect_within(&self, budget: Duration) -> Result<Conn, Error> {
        self.0.budgets.lock().unwrap().push(budget.as_millis());
        self.dial(budget)
    }
}

fn refused() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "fake device refuses",
    ))
}

fn builder() -> PoolBuilder<Fake> {
    Pool::builder()
        .health_check_interval(None)
        .max_idle_time(None)
        .acquire_timeout(Duration::from_secs(5))
}

/// Generous: a loaded 2-core machine may stall a thread for a while, but a
/// fail-fast call never waits for the 5 s acquire timeout.
const FAST: Duration = Duration::from_millis(1500);

#[test]
fn a_down_target_fails_fast_with_its_connect_error_and_when_to_retry() {
    let fake = Fake::new();
    fake.fail_with(refused);
    let pool = builder()
        .reconnect_backoff(Duration::from_secs(20), Duration::from_secs(30))
        .build(fake.clone())
        .unwrap();
    // The caller whose connect failed gets the error at once.
    let start = Instant::now();
    let err = pool.get().map(|_| ()).unwrap_err();
    assert!(start.elapsed() < FAST, "{:?}", start.elapsed());
    match &err {
        Error::Unavailable {
            last_error,
            retry_in,
        } => {
            assert!(
                matches!(&**last_error, Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
            );
            assert!(*retry_in >= Duration::from_secs(10), "{retry_in:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("fake device refuses"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    // Later callers fail fast too, without dialling, for the whole backoff.
    for _ in 0..100 {
        let start = Instant::now();
        assert!(matches!(pool.get(), Err(Error::Unavailable { .. })));
        assert!(start.elapsed() < FAST);
    }
    assert_eq!(fake.started(), 1, "one dial, then backoff");
    let s = pool.stats();
    assert_eq!((s.unavailable, s.timeouts, s.acquired), (101, 0, 0), "{s}");
}

#[test]
fn after_the_backoff_one_background_dial_tests_the_target_and_no_caller_waits_on_it() {
    let fake = Fake::new();
    fake.fail_with(refused);
    let pool = builder()
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(50))
        .build(fake.clone())
        .unwrap();
    assert!(pool.get().is_err());
    // The target comes back, slowly: the next connect blocks at the gate.
    fake.succeed();
    fake.hold();
    thread::sleep(Duration::from_millis(120)); // past the backoff
                                               // Half-open: the first caller starts the test dial in the background and
                                               // fails fast like everybody else; nobody else dials.
    for _ in 0..20 {
        let start = Instant::now();
        match pool.get() {
            Err(Error::Unavailable { retry_in, .. }) => assert_eq!(retry_in, Duration::ZERO),
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(start.elapsed() < FAST);
    }
    assert!(eventually_within(Duration::from_secs(10), || fake
        .blocked()
        == 1));
    assert_eq!(fake.started(), 2);
    fake.release();
    // The test dial's connection serves the next caller.
    assert!(eventually_within(Duration::from_secs(10), || pool
        .get()
        .is_ok()));
    assert_eq!((fake.started(), pool.stats().size), (2, 1));
}

#[test]
fn fail_fast_off_waits_for_the_target_and_ends_in_a_pool_timeout() {
    let fake = Fake::new();
    fake.fail_with(refused);
    let pool = builder()
        .fail_fast(false)
        .acquire_timeout(Duration::from_millis(400))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(40))
        .build(fake.clone())
        .unwrap();
    let start = Instant::now();
    let err = pool.get().map(|_| ()).unwrap_err();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(390), "{waited:?}");
    match err {
        Error::PoolTimeout { last_error, .. } => {
            assert!(last_error.unwrap().contains("fake device refuses"))
        }
        other => panic!("{other:?}"),
    }
    // It kept dialling, with backoff, while it waited; and recovers.
    assert!(fake.started() >= 2);
    fake.succeed();
    drop(pool.get().expect("back"));
}

#[test]
fn errors_no_retry_can_fix_come_back_typed_on_the_first_call() {
    type Case = (fn() -> Error, fn(&Error) -> bool);
    let cases: [Case; 4] = [
        (
            || Error::Auth("WRONGPASS invalid username-password pair".into()),
            |e| matches!(e, Error::Auth(m) if m.contains("WRONGPASS")),
        ),
        (
            || Error::Config("rack 9 is out of range".into()),
            |e| matches!(e, Error::Config(_)),
        ),
        (
            || {
                Error::Io(std::io::Error::other(
                    "no-such-host.invalid:161: failed to lookup address information: Name or service not known",
                ))
            },
            |e| matches!(e, Error::Io(_)) && e.is_permanent(),
        ),
        (
            || {
                Error::Tls(Box::new(std::io::Error::other(
                    "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed",
                )))
            },
            |e| matches!(e, Error::Tls(_)) && e.is_permanent(),
        ),
    ];
    for (make, is_it) in cases {
        let fake = Fake::new();
        fake.fail_with(make);
        let pool = builder().build(fake.clone()).unwrap();
        for call in 0..3 {
            let start = Instant::now();
            let err = pool.get().map(|_| ()).unwrap_err();
            assert!(is_it(&err), "call {call}: {err:?}");
            assert!(start.elapsed() < FAST);
        }
        assert_eq!(fake.started(), 1);
    }
    // A name server that did not answer may answer later: not permanent.
    let again = Error::Io(std::io::Error::other(
        "plc-7:102: failed to lookup address information: Temporary failure in name resolution",
    ));
    assert!(!again.is_permanent());
}

#[test]
fn close_wakes_every_waiter_at_once() {
    let fake = Fake::new();
    let pool = builder().max_size(1).build(fake.clone()).unwrap();
    let held = pool.get().unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                let r = pool.get().map(|_| ());
                (r, Instant::now())
            })
        })
        .collect();
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .waiting
        == 4));
    let closed_at = Instant::now();
    pool.close();
    for w in waiters {
        let (r, at) = w.join().unwrap();
        assert!(matches!(r, Err(Error::Closed)), "{r:?}");
        // Without the wake-up they would sleep out their 5 s.
        assert!(at.duration_since(closed_at) < FAST, "{:?}", at - closed_at);
    }
    drop(held);
    assert_eq!(fake.live(), 0);
}

#[test]
fn a_dial_in_flight_at_close_is_closed_when_it_completes() {
    let fake = Fake::new();
    fake.hold();
    let pool = builder().build(fake.clone()).unwrap();
    let caller = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(|_| ()))
    };
    assert!(eventually_within(Duration::from_secs(10), || fake
        .blocked()
        == 1));
    pool.close();
    fake.release();
    assert!(matches!(caller.join().unwrap(), Err(Error::Closed)));
    assert_eq!(fake.live(), 0, "closed as soon as it arrived");
    assert_eq!(pool.stats().size, 0);
}

#[test]
fn an_offline_target_costs_only_its_own_callers() {
    // A target that never completes the handshake, four callers stuck in it.
    let dead = Fake::new();
    dead.hold();
    let dead_pool = builder()
        .max_size(4)
        .min_idle(2)
        .acquire_timeout(Duration::from_secs(60))
        .build(dead.clone())
        .unwrap();
    let stuck: Vec<_> = (0..4)
        .map(|_| {
            let pool = dead_pool.clone();
            thread::spawn(move || pool.get().map(|_| ()))
        })
        .collect();
    assert!(eventually_within(Duration::from_secs(10), || dead
        .blocked()
        == 4));
    // Many more pools to dead targets with min_idle: their background dials
    // hold the shared workers.
    let more: Vec<_> = (0..8)
        .map(|_| {
            let f = Fake::new();
            f.hold();
            (builder().min_idle(1).build(f.clone()).unwrap(), f)
        })
        .collect();
    // A new, healthy pool works at once, dial included.
    let live = Fake::new();
    let pool = builder().min_idle(1).build(live.clone()).unwrap();
    let start = Instant::now();
    drop(
        pool.get_timeout(Duration::from_secs(1))
            .expect("healthy pool"),
    );
    assert!(start.elapsed() < FAST, "{:?}", start.elapsed());
    dead.release();
    for (_, f) in &more {
        f.release();
    }
    dead_pool.close();
    for t in stuck {
        let _ = t.join().unwrap();
    }
}

#[test]
fn a_callers_dial_is_cut_to_its_remaining_time_and_that_says_nothing_about_the_target() {
    let fake = Fake::new();
    fake.hold(); // the handshake would take the whole 30 s connect timeout
    let pool = builder()
        .acquire_timeout(Duration::from_millis(300))
        .build(fake.clone())
        .unwrap();
    let start = Instant::now();
    let err = pool.get().map(|_| ()).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    let budgets = fake.0.budgets.lock().unwrap().clone();
    assert_eq!(budgets.len(), 1);
    assert!(budgets[0] <= 300, "{budgets:?}");
    // Not marked down: the next caller dials again instead of failing fast.
    fake.release();
    drop(pool.get().expect("the target was never down"));
    assert_eq!(pool.stats().unavailable, 0);
}

/// Reaper passes every 10 ms (a quarter of the shortest timer), so a few
/// hundred milliseconds hold dozens of them.
fn ticking() -> PoolBuilder<Fake> {
    builder().max_idle_time(Some(Duration::from_millis(40)))
}

#[test]
fn min_idle_is_exact_across_a_thousand_pools() {
    let fakes: Vec<Fake> = (0..1000).map(|_| Fake::new()).collect();
    let pools: Vec<_> = fakes
        .iter()
        .map(|f| ticking().min_idle(1).max_size(6).build(f.clone()).unwrap())
        .collect();
    assert!(
        eventually_within(Duration::from_secs(60), || pools
            .iter()
            .all(|p| p.stats().idle == 1)),
        "every pool tops up"
    );
    // Dozens more reaper passes: nothing more opens.
    thread::sleep(Duration::from_millis(300));
    let total: usize = fakes.iter().map(|f| f.live()).sum();
    let dials: usize = fakes.iter().map(|f| f.started()).sum();
    assert_eq!((total, dials), (1000, 1000));
}

#[test]
fn a_slow_handshake_causes_no_extra_dial() {
    let fake = Fake::new();
    fake.hold();
    let pool = ticking()
        .min_idle(1)
        .max_size(6)
        .build(fake.clone())
        .unwrap();
    assert!(eventually_within(Duration::from_secs(10), || fake
        .blocked()
        == 1));
    // Dozens of reaper passes while the dial hangs.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.started(), 1);
    fake.release();
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .idle
        == 1));
    thread::sleep(Duration::from_millis(300));
    assert_eq!((fake.started(), fake.live()), (1, 1));
    // A caller takes it; the pool opens one more for min_idle, no more.
    let held = pool.get().unwrap();
    assert!(eventually_within(Duration::from_secs(10), || pool
        .stats()
        .idle
        == 1));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.live(), 2);
    drop(held);
}

#[test]
fn managers_check_their_settings_when_the_pool_is_built() {
    #[derive(Debug)]
    struct Picky;
    impl r2d2::ManageConnection for Picky {
        type Connection = ();
        type Error = Error;
        fn connect(&self) -> Result<(), Error> {
            Ok(())
        }
        fn is_valid(&self, _: &mut ()) -> Result<(), Error> {
            Ok(())
        }
        fn has_broken(&self, _: &mut ()) -> bool {
            false
        }
    }
    impl Manage for Picky {
        fn validate(&self) -> edgepool::Result<()> {
            Err(Error::Config(
                "the password must be at least 8 characters".into(),
            ))
        }
    }
    assert!(matches!(Pool::new(Picky), Err(Error::Config(_))));
}

#[test]
fn a_connect_that_times_out_within_the_acquire_timeout_marks_the_target_down() {
    // The connect timeout equals the acquire timeout (SNMP's defaults: 5 s
    // and 5 s): a caller's dial gets a hair less than the whole connect
    // timeout, and its timeout still says the target is down.
    let fake = Fake::with_connect_timeout(Duration::from_millis(400));
    fake.hold();
    let pool = builder()
        .acquire_timeout(Duration::from_millis(400))
        .reconnect_backoff(Duration::from_secs(20), Duration::from_secs(30))
        .build(fake.clone())
        .unwrap();
    match pool.get().map(|_| ()) {
        Err(Error::Unavailable { last_error, .. }) => {
            assert!(last_error.is_timeout(), "{last_error:?}")
        }
        other => panic!("{other:?}"),
    }
    let start = Instant::now();
    assert!(matches!(pool.get(), Err(Error::Unavailable { .. })));
    assert!(start.elapsed() < FAST);
    assert_eq!(fake.started(), 1);
    fake.release();
}
