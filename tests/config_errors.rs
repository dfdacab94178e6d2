//! A target written the wrong way (a URL with an unknown scheme, a missing
//! port where there is no default) is an `Error::Config`: at once from the
//! clients' `connect`, and through a pool from the first checkout on (or
//! from `build()`), never a name lookup.

use edgepool::{tcp, Error, Pool};
use std::time::Duration;

/// The pool's config error for `manager`: from `build()` (when the manager
/// checks its settings there), or else from the first checkout, at once, and
/// from every later one (no retry can fix it).
fn first_error<M: edgepool::Manage>(manager: M) -> String {
    let pool = match Pool::builder()
        .acquire_timeout(Duration::from_secs(5))
        .build(manager)
    {
        Ok(pool) => pool,
        Err(Error::Config(m)) => return m,
        Err(e) => panic!("build: {e}"),
    };
    let start = std::time::Instant::now();
    let first = pool.get().err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the first checkout waited {:?}",
        start.elapsed()
    );
    let second = pool.get().err();
    pool.close();
    match (first, second) {
        (Some(Error::Config(a)), Some(Error::Config(b))) => {
            assert_eq!(a, b);
            a
        }
        other => panic!("not a config error: {other:?}"),
    }
}

#[test]
fn tcp_refuses_a_url_and_a_missing_port() {
    let m = first_error(tcp::Manager::new(tcp::Config::new("tcp://127.0.0.1:9")));
    assert!(m.contains("unknown scheme tcp://"), "{m}");
    let m = first_error(tcp::Manager::new(tcp::Config::new("127.0.0.1")));
    assert!(m.contains("no port"), "{m}");
}

#[cfg(feature = "snmp")]
#[test]
fn snmp_refuses_an_unknown_scheme() {
    use edgepool::snmp;
    for target in ["tcp://127.0.0.1:16161", "snmp://127.0.0.1", "http://h"] {
        let m = first_error(snmp::Manager::new(snmp::Config::new(target)));
        assert!(m.contains("unknown scheme") && m.contains(target), "{m}");
        let client = snmp::Client::connect(&snmp::Config::new(target));
        assert!(matches!(client, Err(Error::Config(_))), "{target}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis_refuses_an_unknown_scheme() {
    use edgepool::redis;
    for url in ["tcp://127.0.0.1:6379", "http://h", "127.0.0.1:6379"] {
        let e = redis::Config::from_url(url);
        assert!(
            matches!(&e, Err(Error::Config(m)) if m.contains("redis://")),
            "{url}: {e:?}"
        );
    }
    // A URL given where a host:port belongs.
    let m = first_error(redis::Manager::new(redis::Config::new(
        "redis://127.0.0.1:6379",
    )));
    assert!(m.contains("from_url"), "{m}");
}

#[cfg(feature = "s7")]
#[test]
fn s7_refuses_a_url() {
    use edgepool::s7;
    let m = first_error(s7::Manager::new(s7::Config::new("s7://127.0.0.1")));
    assert!(m.contains("unknown scheme s7://"), "{m}");
}

#[test]
fn tcp_connect_refuses_a_url_at_once() {
    let c = tcp::Connection::connect(&tcp::Config::new("tcp://127.0.0.1:9"));
    assert!(matches!(c, Err(Error::Config(_))));
}
