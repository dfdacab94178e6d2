//! The SNMP v1/v2c client, manager and pool against a real net-snmp snmpd.
#![cfg(feature = "snmp")]

mod common;
use common::{eventually_within, SnmpServer};

use edgepool::snmp::{oid, Client, Config, ErrorStatus, Oid, SnmpError, Value, VarBind, Version};
use edgepool::{Error, Pool};
use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn cfg(server: &SnmpServer, version: Version, community: &str) -> Config {
    Config::new(format!("udp://{}", server.addr()))
        .version(version)
        .community(community)
        .timeout(Duration::from_millis(500))
        .retries(1)
}

/// What `snmpbulkwalk` prints for the system group, as (OID, value) text.
fn net_snmp_walk(server: &SnmpServer, version: &str) -> Vec<(String, String)> {
    let tool = if version == "1" {
        "snmpwalk"
    } else {
        "snmpbulkwalk"
    };
    let out = Command::new(tool)
        .env("MIBS", "")
        .env(
            "SNMP_PERSISTENT_DIR",
            std::env::temp_dir().join("edgepool-snmp-client"),
        )
        .args([
            "-v",
            version,
            "-c",
            "public",
            "-On",
            "-Ot",
            "-Oe",
            &server.addr(),
            "1.3.6.1.2.1.1",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {tool} ({e}): install it with `apt-get install snmp`")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(o, v)| (o.trim_start_matches('.').to_string(), v.to_string()))
        .collect()
}

/// Our value in net-snmp's `-Ot -Oe` style, for comparison.
fn like_net_snmp(v: &Value) -> String {
    match v {
        Value::TimeTicks(t) => format!("Timeticks: {t}"),
        Value::ObjectId(o) => format!("OID: .{o}"),
        other => other.to_string(),
    }
}

#[test]
fn walks_match_net_snmp_for_v1_and_v2c() {
    let server = SnmpServer::start("");
    for (version, flag) in [(Version::V1, "1"), (Version::V2c, "2c")] {
        let mut c = Client::connect(&cfg(&server, version, "public").max_repetitions(5)).unwrap();
        let ours = c.walk(&oid::SYSTEM).unwrap();
        let theirs = net_snmp_walk(&server, flag);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{version:?}: {ours:?}\nvs\n{theirs:?}"
        );
        assert!(ours.len() >= 8, "{ours:?}");
        for (vb, (o, v)) in ours.iter().zip(&theirs) {
            assert_eq!(&vb.oid.to_string(), o, "{version:?}");
            if matches!(vb.value, Value::TimeTicks(_)) {
                continue; // ticks on between the two walks
            }
            assert_eq!(&like_net_snmp(&vb.value), v, "{version:?} {o}");
        }
        // Strictly increasing, all under the root.
        assert!(ours.windows(2).all(|w| w[0].oid < w[1].oid));
    }
}

#[test]
fn get_get_next_get_bulk() {
    let server = SnmpServer::start("");
    for version in [Version::V1, Version::V2c] {
        let mut c = Client::connect(&cfg(&server, version, "public")).unwrap();
        let r = c.get(&[oid::SYS_LOCATION, oid::SYS_SERVICES]).unwrap();
        assert_eq!(
            r[0].value,
            Value::OctetString(b"edgepool-test-lab".to_vec())
        );
        assert_eq!(r[1].value, Value::Integer(72));
        let n = c.get_next(&[oid::SYSTEM]).unwrap();
        assert_eq!(n[0].oid, oid::SYS_DESCR);
        assert!(matches!(
            c.get(&[oid::SYS_UPTIME]).unwrap()[0].value,
            Value::TimeTicks(_)
        ));
    }
    let mut v2 = Client::connect(&cfg(&server, Version::V2c, "public")).unwrap();
    let b = v2.get_bulk(1, 3, &[oid::SYS_UPTIME, oid::SYSTEM]).unwrap();
    assert_eq!(b.len(), 4, "{b:?}");
    assert_eq!(
        b[0].oid,
        oid::SYS_CONTACT,
        "non-repeater: next after sysUpTime.0"
    );
    assert_eq!(b[1].oid, oid::SYS_DESCR);
    // Missing objects: v2c exceptions, v1 noSuchName naming the OID.
    let missing: Oid = "1.3.6.1.2.1.1.99.0".parse().unwrap();
    let r = v2
        .get(&[missing.clone(), "1.3.6.1.2.1.1.1.1".parse().unwrap()])
        .unwrap();
    assert_eq!(
        (r[0].value.clone(), r[1].value.clone()),
        (Value::NoSuchObject, Value::NoSuchInstance)
    );
    let mut v1 = Client::connect(&cfg(&server, Version::V1, "public")).unwrap();
    match v1.get(&[oid::SYS_DESCR, missing.clone()]).unwrap_err() {
        Error::Snmp(SnmpError::Agent {
            status: ErrorStatus::NoSuchName,
            index: 2,
            oid: Some(o),
        }) => assert_eq!(o, missing),
        other => panic!("{other}"),
    }
    assert!(matches!(
        v1.get_bulk(0, 5, &[oid::SYSTEM]),
        Err(Error::Snmp(SnmpError::Unsupported(_)))
    ));
    // The end of the MIB.
    let end = v2.get_next(&["1.3.6.1.6.3.999".parse().unwrap()]).unwrap();
    assert_eq!(end[0].value, Value::EndOfMibView);
    assert!(v2
        .walk(&"1.3.6.1.6.3.999".parse().unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn set_with_a_read_write_community_and_the_errors() {
    let server = SnmpServer::start("");
    let mut rw = Client::connect(&cfg(&server, Version::V2c, "private")).unwrap();
    let name = VarBind::new(oid::SYS_NAME, Value::OctetString(b"edge-gw-7".to_vec()));
    let echo = rw.set(std::slice::from_ref(&name)).unwrap();
    assert_eq!(echo, vec![name.clone()]);
    let mut ro = Client::connect(&cfg(&server, Version::V2c, "public")).unwrap();
    assert_eq!(ro.get(&[oid::SYS_NAME]).unwrap()[0].value, name.value);
    // A value fixed in snmpd.conf is notWritable; so is sysUpTime.
    let loc = VarBind::new(oid::SYS_LOCATION, Value::OctetString(b"x".to_vec()));
    match rw.set(&[loc]).unwrap_err() {
        Error::Snmp(SnmpError::Agent {
            status,
            index: 1,
            oid: Some(o),
        }) => {
            assert_eq!((status, o), (ErrorStatus::NotWritable, oid::SYS_LOCATION));
        }
        other => panic!("{other}"),
    }
    let up = VarBind::new(oid::SYS_UPTIME, Value::TimeTicks(1));
    let err = rw.set(&[up]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Snmp(SnmpError::Agent {
                status: ErrorStatus::NotWritable,
                ..
            })
        ),
        "{err}"
    );
    assert!(!err.is_transport(), "an agent error keeps the socket");
    // The read-only community may not write.
    let err = ro.set(&[name]).unwrap_err();
    match &err {
        Error::Snmp(SnmpError::Agent { status, .. }) => {
            assert!(
                matches!(
                    status,
                    ErrorStatus::NoAccess | ErrorStatus::AuthorizationError
                ),
                "{err}"
            )
        }
        other => panic!("{other}"),
    }
    // Wrong type for sysName.
    let bad = VarBind::new(oid::SYS_NAME, Value::Integer(5));
    assert!(matches!(
        rw.set(&[bad]),
        Err(Error::Snmp(SnmpError::Agent {
            status: ErrorStatus::WrongType,
            ..
        }))
    ));
    rw.get(&[oid::SYS_UPTIME]).unwrap();
}

#[test]
fn a_wrong_community_times_out_within_timeout_times_attempts() {
    let server = SnmpServer::start("");
    let config = cfg(&server, Version::V2c, "not-the-community")
        .timeout(Duration::from_millis(200))
        .retries(2);
    let mut c = Client::connect(&config).unwrap();
    let start = Instant::now();
    let err = c.get(&[oid::SYS_UPTIME]).unwrap_err();
    let took = start.elapsed();
    assert!(err.is_timeout() && err.is_transport(), "{err}");
    // Agents drop a wrong community silently: the message says it may be that.
    let msg = err.to_string();
    assert!(
        msg.contains("community is wrong") && msg.contains("3 tries"),
        "{msg}"
    );
    assert!(
        took >= Duration::from_millis(590) && took < Duration::from_millis(900),
        "{took:?}"
    );
    assert!(!format!("{config:?} {err}").contains("not-the-community"));
}

/// Forwards datagrams between a client and the agent, holding back the reply
/// to the first request for `delay`.
fn delaying_proxy(agent: String, delay: Duration) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    upstream.connect(&agent).unwrap();
    let client = Arc::new(std::sync::Mutex::new(None));
    let (down, up) = (sock.try_clone().unwrap(), upstream.try_clone().unwrap());
    let c2 = client.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        for _ in 0..50 {
            let Ok((n, from)) = down.recv_from(&mut buf) else {
                return;
            };
            *c2.lock().unwrap() = Some(from);
            let _ = up.send(&buf[..n]);
        }
    });
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut first = true;
        for _ in 0..50 {
            let Ok(n) = upstream.recv(&mut buf) else {
                return;
            };
            let reply = buf[..n].to_vec();
            let to = client.lock().unwrap().unwrap();
            let sock = sock.try_clone().unwrap();
            let wait = if first { delay } else { Duration::ZERO };
            first = false;
            thread::spawn(move || {
                thread::sleep(wait);
                let _ = sock.send_to(&reply, to);
            });
        }
    });
    addr
}

#[test]
fn a_late_reply_does_not_break_the_next_request() {
    let server = SnmpServer::start("");
    let proxy = delaying_proxy(server.addr(), Duration::from_millis(400));
    let config = Config::new(proxy)
        .timeout(Duration::from_millis(250))
        .retries(0);
    let mut c = Client::connect(&config).unwrap();
    // The agent never answered this client yet: a timeout that names the
    // community as a possible cause.
    assert!(matches!(c.get(&[oid::SYS_DESCR]), Err(e) if e.is_timeout()));
    // The late sysDescr reply lands while this request waits: it is dropped.
    let r = c.get(&[oid::SYS_LOCATION]).unwrap();
    assert_eq!(r[0].oid, oid::SYS_LOCATION);
    let r = c.get(&[oid::SYS_SERVICES]).unwrap();
    assert_eq!(r[0].value, Value::Integer(72));
    assert!(!c.is_broken());
}

#[test]
fn foreign_datagrams_are_ignored() {
    let server = SnmpServer::start("");
    let mut c = Client::connect(&cfg(&server, Version::V2c, "public")).unwrap();
    // Only the agent's address can reach a connected socket; the client also
    // drops replies with another request-id (see the late reply test).
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = stranger.send_to(b"\x30\x03\x02\x01\x01", c.peer());
    c.get(&[oid::SYS_UPTIME]).unwrap();
}

#[test]
fn the_pool_recovers_when_the_agent_restarts() {
    let mut server = SnmpServer::start("");
    let pool = Pool::builder()
        .max_size(4)
        .build(edgepool::snmp::Manager::new(
            cfg(&server, Version::V2c, "public").timeout(Duration::from_millis(200)),
        ))
        .unwrap();
    pool.execute(|c| c.get(&[oid::SYS_UPTIME])).unwrap();
    server.stop();
    let start = Instant::now();
    let err = pool.execute(|c| c.get(&[oid::SYS_UPTIME])).unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    server.restart();
    let mut last = None;
    let ok = eventually_within(Duration::from_secs(5), || {
        let r = pool.execute(|c| c.get(&[oid::SYS_UPTIME]));
        let ok = r.is_ok();
        last = r.err();
        ok
    });
    assert!(ok, "{last:?} {}", pool.stats());
    assert!(pool.health_check().is_healthy());
}

#[test]
fn many_threads_share_a_pool() {
    let server = SnmpServer::start("");
    let pool = Pool::builder()
        .max_size(4)
        .build(edgepool::snmp::Manager::new(cfg(
            &server,
            Version::V2c,
            "public",
        )))
        .unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (pool, ok) = (pool.clone(), ok.clone());
            thread::spawn(move || {
                for _ in 0..200 {
                    let r = pool.execute(|c| c.get(&[oid::SYS_UPTIME])).unwrap();
                    assert!(matches!(r[0].value, Value::TimeTicks(_)));
                    ok.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ok.load(SeqCst), 1600);
    let s = pool.stats();
    assert_eq!((s.acquired, s.released, s.in_use), (1600, 1600, 0));
    assert!(s.created <= 4);
}
