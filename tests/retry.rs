//! `Pool::execute_with_retry` and `RetryPolicy`: against an in-memory fake
//! manager, and across a real redis-server restart.
//!
//! Timing asserts are lower bounds (a sleep never ends early) or generous
//! upper bounds, so that a loaded 2-core machine does not make them flake.

mod common;

use edgepool::{Error, Phase, Pool, RetryPolicy};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct FakeState {
    connects: AtomicUsize,
    fail_connect: AtomicBool,
    auth_fails: AtomicBool,
    conns: Mutex<Vec<Arc<AtomicBool>>>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<FakeState>);

#[derive(Debug)]
struct FakeConn {
    id: usize,
    /// Cleared to simulate a peer that dropped every connection.
    alive: Arc<AtomicBool>,
}

impl edgepool::Manage for Fake {}

impl r2d2::ManageConnection for Fake {
    type Connection = FakeConn;
    type Error = Error;

    fn connect(&self) -> Result<FakeConn, Error> {
        let id = self.0.connects.fetch_add(1, SeqCst);
        if self.0.auth_fails.load(SeqCst) {
            return Err(Error::Auth("fake device refuses the password".into()));
        }
        if self.0.fail_connect.load(SeqCst) {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "fake device is down",
            )));
        }
        let alive = Arc::new(AtomicBool::new(true));
        self.0.conns.lock().unwrap().push(alive.clone());
        Ok(FakeConn { id, alive })
    }

    fn is_valid(&self, conn: &mut FakeConn) -> Result<(), Error> {
        if conn.alive.load(SeqCst) {
            Ok(())
        } else {
            Err(Error::Unhealthy("fake peer is gone".into()))
        }
    }

    fn has_broken(&self, _: &mut FakeConn) -> bool {
        false
    }
}

impl Fake {
    fn connects(&self) -> usize {
        self.0.connects.load(SeqCst)
    }

    /// The peer restarts: every connection opened so far is dead.
    fn drop_all(&self) {
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

fn reset(n: usize) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::ConnectionReset,
        format!("reset in attempt {n}"),
    ))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[test]
fn backoff_delays_are_jittered_and_grow_to_the_cap() {
    let policy =
        RetryPolicy::new().retry_backoff(Duration::from_millis(10), Duration::from_millis(320));
    let mut means = Vec::new();
    for n in 0..8u32 {
        let ceiling = (Duration::from_millis(10) * (1 << n)).min(Duration::from_millis(320));
        let samples: Vec<Duration> = (0..400).map(|_| policy.delay(n)).collect();
        assert!(samples.iter().all(|d| *d <= ceiling), "retry {n}");
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 300, "retry {n}: little jitter");
        let mean = samples.iter().sum::<Duration>() / 400;
        // Full jitter: uniform in [0, ceiling], so the mean is ceiling / 2.
        assert!(
            mean > ceiling * 2 / 5 && mean < ceiling * 3 / 5,
            "retry {n}: mean {mean:?} for ceiling {ceiling:?}"
        );
        means.push(mean);
    }
    // Doubling until the cap (320 ms from retry 5 on).
    for n in 0..5 {
        assert!(means[n + 1] > means[n] * 3 / 2, "{means:?}");
    }
}

#[test]
fn retries_sleep_growing_jittered_delays_and_stop_at_max_retries() {
    let fake = Fake::default();
    let pool = quiet().max_size(2).build(fake.clone()).unwrap();
    let base = Duration::from_millis(20);
    let policy = RetryPolicy::new()
        .max_retries(2)
        .retry_backoff(base, Duration::from_secs(10));
    // 25 calls of 3 attempts each, all failing; the gaps between attempts
    // are the backoffs (plus scheduling noise).
    let calls = 25;
    let mut gaps: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..calls {
        let mut at = Vec::new();
        let mut ids = Vec::new();
        let err = pool
            .execute_with_retry(&policy, |conn| -> edgepool::Result<()> {
                at.push(Instant::now());
                ids.push(conn.id);
                Err(reset(at.len()))
            })
            .unwrap_err();
        assert_eq!(at.len(), 3, "1 attempt + max_retries 2");
        assert!(
            err.to_string().contains("attempt 3"),
            "the last error: {err}"
        );
        // A transport error closes the connection: each attempt got a new one.
        ids.dedup();
        assert_eq!(ids.len(), 3);
        gaps[0].push(at[1] - at[0]);
        gaps[1].push(at[2] - at[1]);
    }
    let s = pool.stats();
    assert_eq!(s.retries, 2 * calls);
    assert_eq!(s.created, 3 * calls);
    assert_eq!(s.closed, 3 * calls);
    assert_eq!(fake.connects() as u64, 3 * calls);
    // Jittered: uniform in [0, 20 ms] and [0, 40 ms], so spread out.
    for (n, g) in gaps.iter().enumerate() {
        let spread = *g.iter().max().unwrap() - *g.iter().min().unwrap();
        assert!(spread > Duration::from_millis(5), "retry {n}: {g:?}");
    }
    // Growing: mean 10 ms, then 20 ms (noise hits both alike).
    let mean = |g: &[Duration]| g.iter().sum::<Duration>() / g.len() as u32;
    assert!(
        mean(&gaps[1]) > mean(&gaps[0]) + Duration::from_millis(4),
        "{:?} then {:?}",
        mean(&gaps[0]),
        mean(&gaps[1])
    );
    // Never grossly longer than the ceilings (20 and 40 ms).
    assert!(median(gaps[0].clone()) < base + Duration::from_millis(100));
    assert!(median(gaps[1].clone()) < base * 2 + Duration::from_millis(100));

    // max_retries 0: one attempt.
    let mut n = 0;
    let err = pool
        .execute_with_retry(
            &policy.clone().max_retries(0),
            |_| -> edgepool::Result<()> {
                n += 1;
                Err(reset(n))
            },
        )
        .unwrap_err();
    assert_eq!(n, 1, "{err}");
}

#[test]
fn success_after_failures_returns_the_value_and_keeps_the_connection() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    let policy =
        RetryPolicy::new().retry_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let mut n = 0;
    let id = pool
        .execute_with_retry(&policy, |conn| {
            n += 1;
            if n < 3 {
                Err(Error::Timeout(Phase::Read))
            } else {
                Ok(conn.id)
            }
        })
        .unwrap();
    assert_eq!((n, id), (3, 2), "the third connection answered");
    let s = pool.stats();
    assert_eq!(
        (s.retries, s.created, s.closed, s.idle),
        (2, 3, 2, 1),
        "{s}"
    );
}

#[test]
fn errors_a_retry_cannot_fix_return_at_once() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    let policy =
        RetryPolicy::new().retry_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let non_retryable = [
        #[cfg(feature = "redis")]
        Error::Redis("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
        Error::Auth("WRONGPASS".into()),
        Error::Config("bad".into()),
        Error::Closed,
    ];
    for e in non_retryable {
        let msg = e.to_string();
        let mut slot = Some(e);
        let mut n = 0;
        let err = pool
            .execute_with_retry(&policy, |_| -> edgepool::Result<()> {
                n += 1;
                Err(slot.take().unwrap_or(Error::Closed))
            })
            .unwrap_err();
        assert_eq!(n, 1, "{msg} was retried");
        assert_eq!(err.to_string(), msg);
    }
    // Not transport errors: the one connection was kept all along.
    let s = pool.stats();
    assert_eq!((s.retries, s.created, s.closed), (0, 1, 0), "{s}");
    // What the agent or the PLC reports on a working connection.
    #[cfg(feature = "snmp")]
    {
        use edgepool::snmp::{oid, ErrorStatus, SnmpError};
        let no_such_name = SnmpError::Agent {
            status: ErrorStatus::NoSuchName,
            index: 1,
            oid: Some(oid::SYS_DESCR),
        };
        assert!(!policy.should_retry(&Error::Snmp(no_such_name)));
    }
    #[cfg(feature = "s7")]
    {
        use edgepool::s7::{Area, Item, ReturnCode, S7Error};
        let out_of_range = S7Error::Item {
            item: Item::bytes(Area::Db, 1, 300, 2),
            code: ReturnCode::AddressOutOfRange,
        };
        assert!(!policy.should_retry(&Error::S7(out_of_range)));
    }
}

#[test]
fn a_predicate_decides_what_is_retried() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    #[cfg(feature = "redis")]
    {
        // Retry a Redis LOADING reply (on the same, healthy connection) ...
        let loading = RetryPolicy::new()
            .retry_backoff(Duration::from_millis(1), Duration::from_millis(2))
            .retry_if(|e| {
                RetryPolicy::transient(e)
                    || matches!(e, Error::Redis(m) if m.starts_with("LOADING"))
            });
        let mut ids = Vec::new();
        let v = pool
            .execute_with_retry(&loading, |conn| {
                ids.push(conn.id);
                if ids.len() < 3 {
                    Err(Error::Redis("LOADING Redis is loading the dataset".into()))
                } else {
                    Ok("ready")
                }
            })
            .unwrap();
        assert_eq!((v, ids.as_slice()), ("ready", &[0, 0, 0][..]));
    }
    // ... and, for a non-idempotent command, nothing that may have reached
    // the peer: a read timeout is returned at once.
    let not_sent = RetryPolicy::new().retry_if(|e| {
        matches!(
            e,
            Error::PoolTimeout { .. } | Error::Unavailable { .. } | Error::Timeout(Phase::Connect)
        )
    });
    let mut n = 0;
    let err = pool
        .execute_with_retry(&not_sent, |_| -> edgepool::Result<()> {
            n += 1;
            Err(Error::Timeout(Phase::Read))
        })
        .unwrap_err();
    assert_eq!(n, 1);
    assert!(matches!(err, Error::Timeout(Phase::Read)));
    // The two retries of the LOADING reply, none of the read timeout.
    let loading_retries = if cfg!(feature = "redis") { 2 } else { 0 };
    assert_eq!(pool.stats().retries, loading_retries);
}

#[test]
fn refused_credentials_end_the_retries() {
    let fake = Fake::default();
    fake.0.auth_fails.store(true, SeqCst);
    let pool = quiet()
        .acquire_timeout(Duration::from_millis(300))
        .build(fake.clone())
        .unwrap();
    let policy = RetryPolicy::new()
        .max_retries(10)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(20));
    let start = Instant::now();
    let mut ran = false;
    let err = pool
        .execute_with_retry(&policy, |_| {
            ran = true;
            Ok(())
        })
        .unwrap_err();
    // The first checkout may time out naming the refusal (retryable); once
    // the pool knows the connect error is fatal it returns it at once.
    assert!(matches!(err, Error::Auth(_)), "{err}");
    assert!(!ran);
    assert!(pool.stats().retries <= 2, "{}", pool.stats());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_deadline_bounds_attempts_and_backoffs() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    let deadline = Duration::from_millis(600);
    let max_backoff = Duration::from_millis(200);
    let policy = RetryPolicy::new()
        .max_retries(1000)
        .retry_backoff(Duration::from_millis(20), max_backoff)
        .deadline(Some(deadline));
    let start = Instant::now();
    let mut n = 0;
    let err = pool
        .execute_with_retry(&policy, |_| -> edgepool::Result<()> {
            n += 1;
            thread::sleep(Duration::from_millis(30));
            Err(Error::Timeout(Phase::Read))
        })
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout(Phase::Read)), "{err}");
    // It gives up only when the next backoff (at most 200 ms) would cross
    // the deadline, and never sleeps past it.
    assert!(took >= deadline - max_backoff, "{took:?}");
    assert!(took < deadline + Duration::from_secs(1), "{took:?}");
    assert!((2..1000).contains(&n), "{n} attempts");
    assert_eq!(pool.stats().retries, n as u64 - 1);
}

#[test]
fn the_deadline_cuts_the_acquire_wait_and_the_backoff() {
    let fake = Fake::default();
    let pool = quiet()
        .max_size(1)
        .acquire_timeout(Duration::from_secs(30))
        .build(fake.clone())
        .unwrap();
    let held = pool.get().unwrap();
    let policy = RetryPolicy::new().deadline(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let err = pool.execute_with_retry(&policy, |_| Ok(())).unwrap_err();
    let took = start.elapsed();
    // Waited for the busy connection until the deadline, not 30 s.
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err}");
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(held);

    // A backoff longer than what is left is not slept: the error comes back.
    let policy = RetryPolicy::new()
        .retry_backoff(Duration::from_secs(20), Duration::from_secs(20))
        .deadline(Some(Duration::from_millis(500)));
    let start = Instant::now();
    let mut n = 0;
    let err = pool
        .execute_with_retry(&policy, |_| -> edgepool::Result<()> {
            n += 1;
            Err(reset(n))
        })
        .unwrap_err();
    assert!(err.to_string().contains("attempt"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_device_coming_back_during_the_retries_is_used() {
    let fake = Fake::default();
    fake.0.fail_connect.store(true, SeqCst);
    let pool = quiet()
        .acquire_timeout(Duration::from_millis(200))
        .build(fake.clone())
        .unwrap();
    let policy = RetryPolicy::new()
        .max_retries(100)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .deadline(Some(Duration::from_secs(20)));
    let f = fake.clone();
    let back = thread::spawn(move || {
        thread::sleep(Duration::from_millis(400));
        f.0.fail_connect.store(false, SeqCst);
    });
    let id = pool
        .execute_with_retry(&policy, |conn| Ok(conn.id))
        .unwrap();
    back.join().unwrap();
    let s = pool.stats();
    assert!(id > 0, "connects failed first");
    assert!(s.retries >= 1 && s.unavailable >= 1, "{s}");
}

#[test]
fn after_a_reset_stale_idle_connections_are_probed_not_retried_one_by_one() {
    let fake = Fake::default();
    let pool = quiet()
        .max_size(4)
        // Checkouts never probe: the stale connections would be handed out.
        .validation_bypass(Duration::MAX)
        .build(fake.clone())
        .unwrap();
    // Four idle connections (min_idle stays 0: no new ones behind our back).
    let four: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    drop(four);
    fake.drop_all(); // the peer restarted
    let policy = RetryPolicy::new()
        .max_retries(1)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2));
    let mut n = 0;
    let id = pool
        .execute_with_retry(&policy, |conn| {
            n += 1;
            if conn.alive.load(SeqCst) {
                Ok(conn.id)
            } else {
                Err(reset(n))
            }
        })
        .unwrap();
    // One retry was enough: the three other stale ones failed their probe.
    assert_eq!(n, 2);
    assert_eq!(id, 4, "a new connection");
    let s = pool.stats();
    assert_eq!((s.retries, s.health_failures, s.closed), (1, 3, 4), "{s}");
}

#[test]
fn a_panicking_closure_discards_its_connection_and_is_not_retried() {
    let fake = Fake::default();
    let pool = quiet().max_size(1).build(fake.clone()).unwrap();
    let policy = RetryPolicy::new();
    let calls = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.execute_with_retry(&policy, |_| -> edgepool::Result<()> {
            calls.fetch_add(1, SeqCst);
            panic!("boom")
        })
    }));
    assert!(r.is_err());
    assert_eq!(calls.load(SeqCst), 1);
    let s = pool.stats();
    assert_eq!((s.created, s.closed, s.retries), (1, 1, 0), "{s}");
    assert!(pool.execute_with_retry(&policy, |c| Ok(c.id)).is_ok());
}

#[cfg(feature = "redis")]
mod redis {
    use super::common::RedisServer;
    use edgepool::redis::{Config, Manager};
    use edgepool::{Pool, RetryPolicy};
    use std::thread;
    use std::time::Duration;

    fn quick(addr: &str) -> Config {
        Config::new(addr)
            .connect_timeout(Duration::from_millis(500))
            .read_timeout(Duration::from_millis(500))
            .write_timeout(Duration::from_millis(500))
    }

    fn pool(server: &RedisServer) -> Pool<Manager> {
        Pool::builder()
            .max_size(3)
            .acquire_timeout(Duration::from_millis(300))
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .build(Manager::new(quick(&server.addr())))
            .unwrap()
    }

    #[test]
    fn a_server_restart_inside_the_call_is_survived_on_a_new_connection() {
        let mut server = RedisServer::start(&[]);
        let pool = pool(&server);
        // Three warm connections, all to the old server process.
        let warm: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        drop(warm);
        let policy = RetryPolicy::new().deadline(Some(Duration::from_secs(10)));
        let mut attempts = 0;
        let n = pool
            .execute_with_retry(&policy, |c| {
                attempts += 1;
                if attempts == 1 {
                    // The server restarts between checkout and command.
                    server.restart();
                }
                c.incr("visits")
            })
            .unwrap();
        assert_eq!(n, 1, "a fresh server counted once");
        assert_eq!(attempts, 2, "{}", pool.stats());
        let s = pool.stats();
        assert_eq!(s.retries, 1, "{s}");
        // Every connection to the old process is gone or about to be.
        assert!(s.closed >= 1, "{s}");
    }

    #[test]
    fn a_call_made_while_the_server_is_down_completes_when_it_is_back() {
        let mut server = RedisServer::start(&[]);
        let pool = pool(&server);
        pool.execute(|c| c.set("k", "v")).unwrap();
        server.stop();
        let policy = RetryPolicy::new()
            .max_retries(1000)
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(300))
            .deadline(Some(Duration::from_secs(20)));
        let got = thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(700));
                server.restart();
            });
            pool.execute_with_retry(&policy, |c| c.get("k"))
        });
        // No persistence: the value is gone, but the call went through.
        assert_eq!(got.unwrap(), None);
        let s = pool.stats();
        assert!(s.retries >= 1, "{s}");
    }
}
