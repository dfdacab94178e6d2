//! The pool with the TCP manager against real loopback peers.

mod common;
use common::eventually;

use edgepool::{tcp, Error, Pool};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Accepts connections and keeps them, never writing; `hangup()` closes them.
struct Silent {
    addr: String,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let keep = accepted.clone();
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                keep.lock().unwrap().push(s);
            }
        });
        Silent { addr, accepted }
    }

    fn hangup(&self) {
        self.accepted.lock().unwrap().clear();
    }

    fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

fn config(addr: &str) -> tcp::Config {
    tcp::Config::new(addr)
        .connect_timeout(Duration::from_millis(300))
        .read_timeout(Some(Duration::from_millis(200)))
        .write_timeout(Some(Duration::from_millis(200)))
}

#[test]
fn a_peer_that_never_answers_blocks_nothing_past_its_timeout() {
    let peer = Silent::start();
    let pool = Pool::builder()
        .max_size(2)
        .acquire_timeout(Duration::from_millis(300))
        .validation_bypass(Duration::ZERO)
        .build(tcp::Manager::new(config(&peer.addr)))
        .unwrap();
    let start = Instant::now();
    let err = pool
        .execute(|c| {
            c.write_all(b"hello?")?;
            let mut buf = [0u8; 1];
            c.read_exact(&mut buf)?;
            Ok(())
        })
        .unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    let s = pool.stats();
    assert_eq!(
        (s.size, s.closed),
        (0, 1),
        "a timed-out connection is discarded: {s}"
    );
    // Checkout probes (every time here) and health checks do not read.
    let start = Instant::now();
    for _ in 0..5 {
        drop(pool.get().unwrap());
    }
    assert!(pool.health_check().is_healthy());
    pool.close();
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn a_peer_that_hangs_up_is_detected_and_replaced() {
    let peer = Silent::start();
    let pool = Pool::builder()
        .max_size(3)
        .validation_bypass(Duration::ZERO)
        .health_check_interval(None)
        .build(tcp::Manager::new(config(&peer.addr)))
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    drop(held);
    assert!(eventually(|| peer.count() == 3));
    peer.hangup();
    thread::sleep(Duration::from_millis(50));
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (0, 3), "{r}");
    assert!(r.last_error.unwrap().contains("closed"));
    // The next checkout opens a fresh one.
    let mut c = pool.get().unwrap();
    c.write_all(b"x").unwrap();
    drop(c);
    // A hang-up found at checkout is replaced transparently.
    assert!(eventually(|| peer.count() == 1));
    peer.hangup();
    thread::sleep(Duration::from_millis(50));
    let mut c = pool.get().unwrap();
    c.write_all(b"y").unwrap();
    let s = pool.stats();
    assert_eq!((s.created, s.health_failures), (5, 4), "{s}");
}

#[test]
fn an_unreachable_target_fails_fast_and_recovers() {
    // Take a free port, then free it: connects are refused.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let pool = Pool::builder()
        .acquire_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build(tcp::Manager::new(config(&addr.to_string())))
        .unwrap();
    let start = Instant::now();
    match pool.get() {
        Err(Error::Unavailable { last_error, .. }) => {
            let msg = last_error.to_string();
            assert!(msg.contains(&addr.to_string()), "{msg}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(start.elapsed() < Duration::from_millis(600));
    let r = pool.health_check();
    assert_eq!(r.unhealthy, 1);
    // The device comes up on that port: the same pool serves it (once the
    // backoff of at most 100 ms has passed; until then, calls fail fast).
    let listener = TcpListener::bind(addr).unwrap();
    let mut c = None;
    assert!(eventually(|| {
        c = pool.get().ok();
        c.is_some()
    }));
    let c = c.unwrap();
    let (_server_side, _) = listener.accept().unwrap();
    drop(c);
    assert!(pool.health_check().is_healthy());
}
