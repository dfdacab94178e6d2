//! The Redis client, manager and pool against a real redis-server.
#![cfg(feature = "redis")]

mod common;
use common::{eventually_within, RedisServer};

use edgepool::redis::{Client, Config, Manager, Pipeline, RespError, Value};
use edgepool::{Error, Phase, Pool, ProtocolError};
use std::thread;
use std::time::{Duration, Instant};

fn quick(addr: &str) -> Config {
    Config::new(addr)
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_millis(500))
        .write_timeout(Duration::from_millis(500))
}

#[test]
fn commands_and_helpers() {
    let server = RedisServer::start(&[]);
    let mut c = Client::connect(&quick(&server.addr())).unwrap();
    c.ping().unwrap();
    assert_eq!(c.get("missing").unwrap(), None);
    c.set("k", "v1").unwrap();
    assert_eq!(c.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
    assert!(c.exists("k").unwrap());
    assert_eq!(c.incr("n").unwrap(), 1);
    assert_eq!(c.incr("n").unwrap(), 2);
    assert!(c.expire("n", 100).unwrap());
    assert!(!c.expire("nope", 100).unwrap());
    assert_eq!(
        c.cmd(&["TTL", "n"]).unwrap().as_int().map(|t| t > 0),
        Some(true)
    );
    c.set_ex("tmp", "x", 50).unwrap();
    assert_eq!(
        c.cmd(&["TTL", "tmp"])
            .unwrap()
            .as_int()
            .map(|t| (1..=50).contains(&t)),
        Some(true)
    );
    assert_eq!(c.hset("h", "f", "1").unwrap(), 1);
    assert_eq!(c.hset("h", "f", "2").unwrap(), 0);
    assert_eq!(c.hget("h", "f").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(c.hget("h", "g").unwrap(), None);
    assert_eq!(c.del(&["k", "n", "none"]).unwrap(), 2);
    assert!(!c.exists("k").unwrap());
    assert_eq!(
        c.cmd(&["MGET", "tmp", "none"]).unwrap(),
        Value::Array(vec![Value::Bulk(b"x".to_vec()), Value::Nil])
    );
}

#[test]
fn error_replies_keep_the_connection() {
    let server = RedisServer::start(&[]);
    let pool = Pool::builder()
        .max_size(1)
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    pool.execute(|c| c.set("s", "text")).unwrap();
    let err = pool.execute(|c| c.cmd(&["LLEN", "s"])).unwrap_err();
    match &err {
        Error::Redis(msg) => assert!(msg.starts_with("WRONGTYPE"), "{msg}"),
        other => panic!("{other}"),
    }
    assert!(!err.is_transport());
    let err = pool.execute(|c| c.cmd(&["NOSUCHCMD"])).unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    pool.execute(|c| c.ping()).unwrap();
    let s = pool.stats();
    assert_eq!(
        (s.created, s.closed),
        (1, 0),
        "the connection survived: {s}"
    );
}

#[test]
fn requirepass_auth() {
    let server = RedisServer::start(&["--requirepass", "s3cret-pass"]);
    let good = quick(&server.addr()).auth(None, "s3cret-pass");
    let mut c = Client::connect(&good).unwrap();
    c.ping().unwrap();
    // Without a password: connected, but every command is refused.
    let mut anon = Client::connect(&quick(&server.addr())).unwrap();
    match anon.ping().unwrap_err() {
        Error::Redis(msg) => assert!(msg.starts_with("NOAUTH"), "{msg}"),
        other => panic!("{other}"),
    }
    // A wrong password is a clear authentication error.
    let err = Client::connect(&quick(&server.addr()).auth(None, "wrong-pass")).unwrap_err();
    match &err {
        Error::Auth(msg) => assert!(
            msg.contains("WRONGPASS") || msg.contains("invalid password"),
            "{msg}"
        ),
        other => panic!("{other}"),
    }
    assert!(err.to_string().starts_with("authentication failed"));
    assert!(!err.to_string().contains("wrong-pass"));
    // Through a pool: every checkout, the first included, gets the
    // authentication error at once (no retry can fix it).
    let pool = Pool::builder()
        .acquire_timeout(Duration::from_secs(3))
        .reconnect_backoff(Duration::from_secs(5), Duration::from_secs(5))
        .build(Manager::new(quick(&server.addr()).auth(None, "wrong-pass")))
        .unwrap();
    for _ in 0..2 {
        let start = Instant::now();
        match pool.get().map(drop).unwrap_err() {
            Error::Auth(msg) => assert!(
                msg.contains("WRONGPASS") || msg.contains("invalid"),
                "{msg}"
            ),
            other => panic!("{other}"),
        }
        assert!(start.elapsed() < Duration::from_millis(1500));
    }
    // The same from URLs.
    let url = format!("redis://:s3cret-pass@{}", server.addr());
    Client::connect(&Config::from_url(&url).unwrap())
        .unwrap()
        .ping()
        .unwrap();
}

#[test]
fn acl_user_auth() {
    let server = RedisServer::start(&["--user", "app", "on", ">apppass", "~*", "&*", "+@all"]);
    let cfg = quick(&server.addr()).auth(Some("app"), "apppass");
    let mut c = Client::connect(&cfg).unwrap();
    assert_eq!(
        c.cmd(&["ACL", "WHOAMI"]).unwrap(),
        Value::Bulk(b"app".to_vec())
    );
    let err = Client::connect(&quick(&server.addr()).auth(Some("app"), "nope")).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err}");
    let err = Client::connect(&quick(&server.addr()).auth(Some("ghost"), "apppass")).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err}");
    let url = format!("redis://app:apppass@{}/0", server.addr());
    let mut c = Client::connect(&Config::from_url(&url).unwrap()).unwrap();
    assert_eq!(
        c.cmd(&["ACL", "WHOAMI"]).unwrap(),
        Value::Bulk(b"app".to_vec())
    );
}

#[test]
fn select_and_client_name() {
    let server = RedisServer::start(&[]);
    let mut db3 =
        Client::connect(&quick(&server.addr()).db(3).client_name("edgepool-test")).unwrap();
    db3.set("only-in-3", "x").unwrap();
    assert_eq!(
        db3.cmd(&["CLIENT", "GETNAME"]).unwrap(),
        Value::Bulk(b"edgepool-test".to_vec())
    );
    let mut db0 = Client::connect(&quick(&server.addr())).unwrap();
    assert!(!db0.exists("only-in-3").unwrap());
    db0.cmd(&["SELECT", "3"]).unwrap();
    assert!(db0.exists("only-in-3").unwrap());
    let err = Client::connect(&quick(&server.addr()).db(99)).unwrap_err();
    match &err {
        Error::Redis(msg) => assert!(
            msg.starts_with("SELECT") && msg.contains("out of range"),
            "{msg}"
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn pipelines() {
    let server = RedisServer::start(&[]);
    let mut c = Client::connect(&quick(&server.addr())).unwrap();
    let mut p = Pipeline::new();
    for i in 0..100 {
        p.cmd(&["INCR", "counter"]);
        if i == 50 {
            p.cmd(&["LPUSH", "counter", "x"]); // WRONGTYPE, in place
        }
    }
    p.cmd(&["GET", "counter"]);
    let replies = c.pipeline(&p).unwrap();
    assert_eq!(replies.len(), 102);
    assert_eq!(replies[0], Value::Int(1));
    assert!(matches!(&replies[51], Value::Error(m) if m.starts_with("WRONGTYPE")));
    assert_eq!(replies[52], Value::Int(52));
    assert_eq!(replies[101], Value::Bulk(b"100".to_vec()));
    assert!(c.pipeline(&Pipeline::new()).unwrap().is_empty());
    c.ping().unwrap();
}

#[test]
fn values_are_binary_safe() {
    let server = RedisServer::start(&[]);
    let mut c = Client::connect(&quick(&server.addr())).unwrap();
    let all: Vec<u8> = (0..=255u8).collect();
    for b in 0..=255u8 {
        c.set([b'k', b], [b, b'\r', b'\n', b]).unwrap();
    }
    for b in 0..=255u8 {
        assert_eq!(c.get([b'k', b]).unwrap(), Some(vec![b, b'\r', b'\n', b]));
    }
    c.set(&all, &all).unwrap();
    assert_eq!(c.get(&all).unwrap().as_deref(), Some(&all[..]));
    let big: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    c.set("big", &big).unwrap();
    assert_eq!(c.get("big").unwrap().as_deref(), Some(&big[..]));
    assert_eq!(c.cmd(&["STRLEN", "big"]).unwrap(), Value::Int(1 << 20));
}

#[test]
fn a_killed_pooled_connection_is_detected_and_replaced() {
    let server = RedisServer::start(&[]);
    let pool = Pool::builder()
        .max_size(2)
        .validation_bypass(Duration::ZERO)
        .health_check_interval(None)
        .build(Manager::new(quick(&server.addr()).client_name("victim")))
        .unwrap();
    let id = pool
        .execute(|c| c.cmd(&["CLIENT", "ID"]))
        .unwrap()
        .as_int()
        .unwrap();
    let mut admin = Client::connect(&quick(&server.addr())).unwrap();
    assert_eq!(
        admin
            .cmd(&["CLIENT", "KILL", "ID", &id.to_string()])
            .unwrap(),
        Value::Int(1)
    );
    // The checkout probe finds it dead and the pool opens another.
    let new_id = pool
        .execute(|c| c.cmd(&["CLIENT", "ID"]))
        .unwrap()
        .as_int()
        .unwrap();
    assert_ne!(id, new_id);
    let s = pool.stats();
    assert_eq!((s.created, s.health_failures, s.closed), (2, 1, 1), "{s}");
    // Without checkout probes, the call that meets the dead socket fails as a
    // transport error, its connection is dropped, and the next call works.
    let pool = Pool::builder()
        .max_size(1)
        .validation_bypass(Duration::MAX)
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    let id = pool
        .execute(|c| c.cmd(&["CLIENT", "ID"]))
        .unwrap()
        .as_int()
        .unwrap();
    admin
        .cmd(&["CLIENT", "KILL", "ID", &id.to_string()])
        .unwrap();
    let err = pool.execute(|c| c.ping()).unwrap_err();
    assert!(err.is_transport(), "{err}");
    pool.execute(|c| c.ping()).unwrap();
    // And the background health check finds it too.
    let id = pool
        .execute(|c| c.cmd(&["CLIENT", "ID"]))
        .unwrap()
        .as_int()
        .unwrap();
    admin
        .cmd(&["CLIENT", "KILL", "ID", &id.to_string()])
        .unwrap();
    let r = pool.health_check();
    assert_eq!((r.healthy, r.unhealthy), (0, 1), "{r}");
}

#[test]
fn the_pool_survives_a_server_restart_and_fails_fast_meanwhile() {
    let mut server = RedisServer::start(&[]);
    let pool = Pool::builder()
        .max_size(4)
        .min_idle(2)
        .acquire_timeout(Duration::from_millis(500))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .health_check_interval(Some(Duration::from_millis(200)))
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    assert_eq!(pool.warm_up(Duration::from_secs(3)).unwrap(), 2);
    pool.execute(|c| c.set("before", "1")).unwrap();
    server.stop();
    // Every call in the outage returns an error, quickly.
    for _ in 0..5 {
        let start = Instant::now();
        let err = pool.execute(|c| c.ping()).unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1200), "{took:?}: {err}");
    }
    server.restart();
    assert!(
        eventually_within(Duration::from_secs(5), || pool
            .execute(|c| c.ping())
            .is_ok()),
        "{}",
        pool.stats()
    );
    // The data is gone (no persistence) but the pool works, and the idle
    // connections are good again.
    assert_eq!(pool.execute(|c| c.get("before")).unwrap(), None);
    assert!(eventually_within(Duration::from_secs(3), || pool
        .health_check()
        .is_healthy()));
}

#[test]
fn a_hung_server_cannot_stall_the_pool() {
    let server = RedisServer::start(&[]);
    let cfg = quick(&server.addr()).read_timeout(Duration::from_millis(300));
    let pool = Pool::builder()
        .max_size(2)
        .acquire_timeout(Duration::from_millis(500))
        .validation_bypass(Duration::ZERO)
        .build(Manager::new(cfg.clone()))
        .unwrap();
    pool.execute(|c| c.ping()).unwrap();
    // Freeze the server for 2 s from another connection.
    let addr = server.addr();
    let sleeper = thread::spawn(move || {
        let mut c =
            Client::connect(&Config::new(addr).read_timeout(Duration::from_secs(5))).unwrap();
        c.cmd(&["DEBUG", "SLEEP", "2"]).unwrap();
    });
    thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let result = pool.execute(|c| c.ping());
    let took = start.elapsed();
    assert!(result.is_err());
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let mut direct = Client::connect(&cfg).ok();
    if let Some(c) = direct.as_mut() {
        let start = Instant::now();
        assert!(matches!(c.ping(), Err(Error::Timeout(Phase::Read))));
        assert!(start.elapsed() < Duration::from_millis(600));
        assert!(c.is_broken());
        assert!(c.ping().is_err(), "a broken client refuses further calls");
    }
    sleeper.join().unwrap();
    assert!(eventually_within(Duration::from_secs(3), || pool
        .execute(|c| c.ping())
        .is_ok()));
}

#[test]
fn the_manager_works_in_a_plain_r2d2_pool() {
    let server = RedisServer::start(&[]);
    let pool = r2d2::Pool::builder()
        .max_size(2)
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    let mut c = pool.get().unwrap();
    c.set("r2d2", "yes").unwrap();
    assert_eq!(c.get("r2d2").unwrap().as_deref(), Some(&b"yes"[..]));
}

/// A loopback peer that answers each request line it reads with the next of
/// `replies` (speaking just enough RESP for PING).
fn scripted_peer(replies: &'static [&'static [u8]]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut replies = replies.iter();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                let _ = n;
                match replies.next() {
                    Some(r) => {
                        if s.write_all(r).is_err() {
                            break;
                        }
                    }
                    None => return,
                }
            }
        }
    });
    addr
}

#[test]
fn a_well_framed_answer_of_the_wrong_type_keeps_the_connection_a_malformed_one_does_not() {
    // PING answered with an integer (whole, in step), then with garbage.
    let addr = scripted_peer(&[b":1\r\n", b"?garbage\r\n"]);
    let pool = Pool::builder()
        .max_size(1)
        .build(Manager::new(quick(&addr)))
        .unwrap();
    let err = pool.execute(|c| c.ping()).unwrap_err();
    assert!(matches!(err, Error::UnexpectedAnswer(_)), "{err:?}");
    assert!(!err.is_transport());
    assert_eq!(pool.stats().closed, 0, "kept: the stream is in step");
    let err = pool.execute(|c| c.ping()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(ProtocolError::Resp(RespError::TypeByte(b'?')))
        ),
        "{err:?}"
    );
    assert_eq!(
        pool.stats().closed,
        1,
        "discarded: the stream is out of step"
    );
}

#[test]
fn a_trickled_handshake_reply_cannot_stretch_the_connect_deadline() {
    use std::io::{Read, Write};
    // A peer that answers AUTH one byte every 50 ms with a reply that never
    // ends: each read gets a byte well within any socket timeout, so only
    // the connect deadline can end the handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"+");
        for _ in 0..100 {
            thread::sleep(Duration::from_millis(50));
            if s.write_all(b"O").is_err() {
                return;
            }
        }
    });
    let config = Config::new(addr)
        .auth(None, "secret")
        .connect_timeout(Duration::from_millis(400))
        .read_timeout(Duration::from_secs(5));
    let started = Instant::now();
    let err = Client::connect(&config).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout(Phase::Handshake)), "{err:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}
