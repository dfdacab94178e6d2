//! Every edgepool manager also works in a plain `r2d2::Pool` (users plug them
//! into their own), against the real peers: redis-server, net-snmp snmpd and
//! the Snap7 server, plus a loopback TCP listener.

mod common;

use edgepool::tcp;
use std::time::Duration;

fn plain<M: r2d2::ManageConnection>(manager: M) -> r2d2::Pool<M> {
    r2d2::Pool::builder()
        .max_size(2)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .expect("a plain r2d2 pool fills up")
}

#[test]
fn tcp_manager_in_r2d2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pool = plain(tcp::Manager::new(tcp::Config::new(
        listener.local_addr().unwrap().to_string(),
    )));
    let conn = pool.get().unwrap();
    assert_eq!(conn.peer_addr().unwrap(), listener.local_addr().unwrap());
}

#[cfg(feature = "redis")]
#[test]
fn redis_manager_in_r2d2() {
    use edgepool::redis;
    let server = common::RedisServer::start(&[]);
    let pool = plain(redis::Manager::new(redis::Config::new(server.addr())));
    let mut conn = pool.get().unwrap();
    conn.set("edgepool:r2d2", "yes").unwrap();
    assert_eq!(conn.get("edgepool:r2d2").unwrap(), Some(b"yes".to_vec()));
}

#[cfg(feature = "snmp")]
#[test]
fn snmp_manager_in_r2d2() {
    use edgepool::snmp;
    let server = common::SnmpServer::start("");
    let pool = plain(snmp::Manager::new(snmp::Config::new(server.addr())));
    let mut conn = pool.get().unwrap();
    let up = conn.get(&[snmp::oid::SYS_UPTIME]).unwrap();
    assert_eq!(up.len(), 1);
}

#[cfg(feature = "s7")]
#[test]
fn s7_manager_in_r2d2() {
    use edgepool::s7;
    let server = common::S7Server::start();
    let pool = plain(s7::Manager::new(s7::Config::new(server.addr())));
    let mut conn = pool.get().unwrap();
    let bytes = conn.read_db(4, 0, 8).unwrap();
    assert_eq!(bytes, common::s7_bytes(4, 0, 8));
}
