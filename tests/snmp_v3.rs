//! SNMPv3 (USM) against a real net-snmp snmpd: every security level, the
//! auth and privacy protocols this net-snmp serves (MD5, SHA, SHA-256,
//! SHA-512; DES, AES-128), the errors a wrong setting gives, an agent
//! restart through a pool, the manager's shared keys and discovery, forged
//! and late datagrams, and no secret in Debug output or logs.
#![cfg(feature = "snmp")]

mod common;
use common::SnmpServer;

use edgepool::snmp::usm::{localize_key, password_to_key};
use edgepool::snmp::v3::MessageV3;
use edgepool::snmp::{
    oid, AuthProtocol, Client, Config, Manager, PrivProtocol, SecurityLevel, SnmpError, Usm, Value,
    VarBind,
};
use edgepool::{Error, Pool};
use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The users of `common::SNMP_V3_USERS`, with net-snmp's command-line flags
/// for the same user.
fn users() -> Vec<(&'static str, Usm, Vec<&'static str>)> {
    vec![
        (
            "SHA/AES authPriv",
            Usm::new("shaaes")
                .auth(AuthProtocol::Sha1, "shaauthpass")
                .privacy(PrivProtocol::Aes128, "shaprivpass"),
            vec![
                "-l",
                "authPriv",
                "-u",
                "shaaes",
                "-a",
                "SHA",
                "-A",
                "shaauthpass",
                "-x",
                "AES",
                "-X",
                "shaprivpass",
            ],
        ),
        (
            "MD5/DES authPriv",
            Usm::new("md5des")
                .auth(AuthProtocol::Md5, "md5authpass")
                .privacy(PrivProtocol::Des, "md5privpass"),
            vec![
                "-l",
                "authPriv",
                "-u",
                "md5des",
                "-a",
                "MD5",
                "-A",
                "md5authpass",
                "-x",
                "DES",
                "-X",
                "md5privpass",
            ],
        ),
        (
            "SHA-256 authNoPriv",
            Usm::new("sha256u").auth(AuthProtocol::Sha256, "sha256authpass"),
            vec![
                "-l",
                "authNoPriv",
                "-u",
                "sha256u",
                "-a",
                "SHA-256",
                "-A",
                "sha256authpass",
            ],
        ),
        (
            "SHA-512/AES authPriv",
            Usm::new("sha512aes")
                .auth(AuthProtocol::Sha512, "sha512authpass")
                .privacy(PrivProtocol::Aes128, "sha512privpass"),
            vec![
                "-l",
                "authPriv",
                "-u",
                "sha512aes",
                "-a",
                "SHA-512",
                "-A",
                "sha512authpass",
                "-x",
                "AES",
                "-X",
                "sha512privpass",
            ],
        ),
        (
            "noAuthNoPriv",
            Usm::new("noauthu"),
            vec!["-l", "noAuthNoPriv", "-u", "noauthu"],
        ),
    ]
}

fn user(name: &str) -> Usm {
    users()
        .into_iter()
        .find(|(_, u, _)| u.user == name)
        .map(|(_, u, _)| u)
        .unwrap()
}

fn cfg(target: &str, usm: Usm) -> Config {
    Config::new(format!("udp://{target}"))
        .v3(usm)
        .timeout(Duration::from_millis(500))
        .retries(1)
}

/// What `snmpbulkwalk -v3` prints for the system group, as (OID, value).
fn net_snmp_walk(server: &SnmpServer, flags: &[&str]) -> Vec<(String, String)> {
    let out = Command::new("snmpbulkwalk")
        .env("MIBS", "")
        .env(
            "SNMP_PERSISTENT_DIR",
            std::env::temp_dir().join(format!("edgepool-snmp-v3-client-{}", std::process::id())),
        )
        .args(["-v3", "-On", "-Ot", "-Oe"])
        .args(flags)
        .args([&server.addr(), "1.3.6.1.2.1.1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run snmpbulkwalk ({e}): `apt-get install snmp`"));
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

fn like_net_snmp(v: &Value) -> String {
    match v {
        Value::TimeTicks(t) => format!("Timeticks: {t}"),
        Value::ObjectId(o) => format!("OID: .{o}"),
        other => other.to_string(),
    }
}

#[test]
fn every_level_and_protocol_gets_bulks_walks_and_sets() {
    let server = SnmpServer::start_v3("");
    for (label, usm, flags) in users() {
        let mut c = Client::connect(&cfg(&server.addr(), usm.clone())).unwrap();
        let r = c
            .get(&[oid::SYS_LOCATION, oid::SYS_SERVICES])
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            r[0].value,
            Value::OctetString(b"edgepool-test-lab".to_vec()),
            "{label}"
        );
        assert_eq!(r[1].value, Value::Integer(72), "{label}");
        assert_eq!(
            c.get_next(&[oid::SYSTEM]).unwrap()[0].oid,
            oid::SYS_DESCR,
            "{label}"
        );

        let b = c.get_bulk(1, 3, &[oid::SYS_UPTIME, oid::SYSTEM]).unwrap();
        assert_eq!(b.len(), 4, "{label}: {b:?}");
        assert_eq!(
            (b[0].oid.clone(), b[1].oid.clone()),
            (oid::SYS_CONTACT, oid::SYS_DESCR),
            "{label}"
        );

        let ours = c.walk(&oid::SYSTEM).unwrap();
        let theirs = net_snmp_walk(&server, &flags);
        assert!(ours.len() >= 8, "{label}: {ours:?}");
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{label}: {ours:?}\nvs\n{theirs:?}"
        );
        for (vb, (o, v)) in ours.iter().zip(&theirs) {
            assert_eq!(&vb.oid.to_string(), o, "{label}");
            if !matches!(vb.value, Value::TimeTicks(_)) && vb.oid != oid::SYS_NAME {
                assert_eq!(&like_net_snmp(&vb.value), v, "{label} {o}");
            }
        }

        let name = VarBind::new(
            oid::SYS_NAME,
            Value::OctetString(format!("gw-{}", usm.user).into_bytes()),
        );
        assert_eq!(
            c.set(std::slice::from_ref(&name)).unwrap(),
            vec![name.clone()],
            "{label}"
        );
        assert_eq!(
            c.get(&[oid::SYS_NAME]).unwrap()[0].value,
            name.value,
            "{label}"
        );
        // An agent error stays an agent error over v3.
        let loc = VarBind::new(oid::SYS_LOCATION, Value::OctetString(b"x".to_vec()));
        let err = c.set(&[loc]).unwrap_err();
        assert!(
            matches!(err, Error::Snmp(SnmpError::Agent { .. })),
            "{label}: {err}"
        );
        assert!(!c.is_broken());
    }
}

#[test]
fn a_wrong_auth_password_is_a_wrong_digest_error() {
    let server = SnmpServer::start_v3("");
    for name in ["shaaes", "sha256u"] {
        let mut u = user(name);
        u.auth_password = "not-the-password".into();
        let mut c = Client::connect(&cfg(&server.addr(), u)).unwrap();
        let start = Instant::now();
        let err = c.get(&[oid::SYS_UPTIME]).unwrap_err();
        assert!(
            matches!(err, Error::Snmp(SnmpError::WrongDigest)),
            "{name}: {err}"
        );
        assert!(
            err.to_string().contains("wrong authentication password"),
            "{err}"
        );
        assert!(!err.is_transport());
        assert!(
            start.elapsed() < Duration::from_millis(400),
            "a report, not a timeout"
        );
    }
}

#[test]
fn a_wrong_priv_password_names_the_privacy_settings() {
    let server = SnmpServer::start_v3("");
    for name in ["shaaes", "md5des"] {
        let mut u = user(name);
        u.priv_password = "not-the-password".into();
        let config = cfg(&server.addr(), u)
            .timeout(Duration::from_millis(500))
            .retries(3);
        let mut c = Client::connect(&config).unwrap();
        // net-snmp drops what it cannot decrypt (no decryptionError report):
        // the request times out, after the agent answered discovery, and
        // is not sent again (retries cannot help): one timeout, not four.
        let start = std::time::Instant::now();
        let err = c.get(&[oid::SYS_UPTIME]).unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1500), "{name}: {took:?}");
        assert!(
            matches!(err, Error::Snmp(SnmpError::NoReplyToEncrypted)),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("privacy password"), "{err}");
        // Every later request says the same (the engine is rediscovered).
        let err = c.get(&[oid::SYS_UPTIME]).unwrap_err();
        assert!(
            matches!(err, Error::Snmp(SnmpError::NoReplyToEncrypted)),
            "{name}: {err}"
        );
    }
}

#[test]
fn unknown_users_levels_and_contexts_are_reported() {
    let server = SnmpServer::start_v3("");
    let mut c = Client::connect(&cfg(&server.addr(), Usm::new("nosuchuser"))).unwrap();
    match c.get(&[oid::SYS_UPTIME]).unwrap_err() {
        Error::Snmp(SnmpError::UnknownUserName { user }) => assert_eq!(user, "nosuchuser"),
        other => panic!("{other}"),
    }
    let u = Usm::new("noauthu").auth(AuthProtocol::Sha1, "whatever-pass");
    let mut c = Client::connect(&cfg(&server.addr(), u)).unwrap();
    let err = c.get(&[oid::SYS_UPTIME]).unwrap_err();
    match &err {
        Error::Snmp(SnmpError::UnsupportedSecLevel { level }) => {
            assert_eq!(*level, SecurityLevel::AuthNoPriv)
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("authNoPriv"), "{err}");
    // net-snmp 5.9.3 drops requests for an unknown context (no
    // snmpUnknownContexts report): a plain timeout. The default context works.
    let ctx = user("sha256u").context_name("nosuchcontext");
    let mut c =
        Client::connect(&cfg(&server.addr(), ctx).timeout(Duration::from_millis(200))).unwrap();
    assert!(c.get(&[oid::SYS_UPTIME]).unwrap_err().is_timeout());
    let mut c = Client::connect(&cfg(&server.addr(), user("sha256u").context_name(""))).unwrap();
    c.get(&[oid::SYS_UPTIME]).unwrap();
}

#[test]
fn short_passwords_are_refused_at_config_time() {
    for u in [
        Usm::new("ops").auth(AuthProtocol::Sha1, "1234567"),
        Usm::new("ops")
            .auth(AuthProtocol::Sha1, "12345678")
            .privacy(PrivProtocol::Aes128, "short"),
    ] {
        let config = cfg("127.0.0.1:9", u);
        let err = Client::connect(&config).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(err.to_string().contains("at least 8 characters"), "{err}");
        assert!(!err.to_string().contains("1234567") && !err.to_string().contains("short"));
        // Building a pool over it fails at once with the same error.
        let err = Pool::builder()
            .build(Manager::new(config))
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(err.to_string().contains("at least 8 characters"), "{err}");
    }
    // A user but another version, or V3 without a user.
    let mut c = Config::new("127.0.0.1:9").v3(Usm::new("ops"));
    c.version = edgepool::snmp::Version::V2c;
    assert!(matches!(Client::connect(&c), Err(Error::Config(_))));
    let c = Config::new("127.0.0.1:9").version(edgepool::snmp::Version::V3);
    assert!(matches!(Client::connect(&c), Err(Error::Config(_))));
}

#[test]
fn an_agent_restart_is_handled_through_a_pool() {
    let mut server = SnmpServer::start_v3("");
    for name in ["shaaes", "md5des", "noauthu"] {
        let pool = Pool::builder()
            .max_size(2)
            .build(Manager::new(cfg(&server.addr(), user(name))))
            .unwrap();
        let up = |pool: &Pool<Manager>| match pool.execute(|c| c.get(&[oid::SYS_UPTIME])) {
            Ok(r) => r[0].value.as_u64().unwrap(),
            Err(e) => panic!("{name}: {e} ({})", pool.stats()),
        };
        up(&pool);
        let boots = server.engine_boots().unwrap();
        server.restart();
        assert!(
            server.engine_boots().unwrap() > boots,
            "snmpEngineBoots moves on"
        );
        // The first request after the restart succeeds: the agent reports
        // notInTimeWindows, the client adopts its clock and sends again.
        up(&pool);
        up(&pool);
        let s = pool.stats();
        assert_eq!(s.created, 1, "{name}: the connection was kept: {s}");
    }
}

/// A UDP relay between clients and the agent that counts the discovery
/// probes (v3 requests with an empty user name) and hands every answer to
/// `tamper`, which returns what to send back (and after how long).
struct Relay {
    addr: String,
    discoveries: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

type Tamper = dyn Fn(usize, &[u8]) -> Vec<(Duration, Vec<u8>)> + Send + Sync;

fn relay(agent: String, tamper: Box<Tamper>) -> Relay {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let discoveries = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (d, q) = (discoveries.clone(), requests.clone());
    // One upstream socket per client address, so answers go back to it.
    let tamper: Arc<Tamper> = Arc::from(tamper);
    let answers = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        let mut ups: Vec<(std::net::SocketAddr, UdpSocket)> = Vec::new();
        let mut buf = [0u8; 65536];
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if let Ok(Some((m, _))) = MessageV3::decode(&buf[..n]) {
                if m.usm.user_name.is_empty() {
                    d.fetch_add(1, SeqCst);
                } else {
                    q.fetch_add(1, SeqCst);
                }
            }
            let up = match ups.iter().find(|(a, _)| *a == from) {
                Some((_, u)) => u.try_clone().unwrap(),
                None => {
                    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
                    u.connect(&agent).unwrap();
                    ups.push((from, u.try_clone().unwrap()));
                    let (down, tamper, answers) =
                        (sock.try_clone().unwrap(), tamper.clone(), answers.clone());
                    let reader = u.try_clone().unwrap();
                    thread::spawn(move || {
                        let mut buf = [0u8; 65536];
                        reader
                            .set_read_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        while let Ok(n) = reader.recv(&mut buf) {
                            let k = answers.fetch_add(1, SeqCst);
                            for (wait, bytes) in tamper(k, &buf[..n]) {
                                let down = down.try_clone().unwrap();
                                thread::spawn(move || {
                                    thread::sleep(wait);
                                    let _ = down.send_to(&bytes, from);
                                });
                            }
                        }
                    });
                    u
                }
            };
            let _ = up.send(&buf[..n]);
        }
    });
    Relay {
        addr,
        discoveries,
        requests,
    }
}

fn pass_through() -> Box<Tamper> {
    Box::new(|_, b| vec![(Duration::ZERO, b.to_vec())])
}

#[test]
fn a_manager_s_connections_share_keys_and_discovery() {
    let server = SnmpServer::start_v3("");
    // Ten pooled connections, each used at once: one discovery in all.
    let r = relay(server.addr(), pass_through());
    let pool = Pool::builder()
        .max_size(10)
        .build(Manager::new(cfg(&r.addr, user("shaaes"))))
        .unwrap();
    let mut times = Vec::new();
    let mut guards = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut c = pool.get().unwrap();
        c.get(&[oid::SYS_UPTIME]).unwrap();
        times.push(start.elapsed());
        guards.push(c);
    }
    assert_eq!(r.discoveries.load(SeqCst), 1);
    // Each connect checks that the agent answers (one GET), then the GET.
    assert_eq!(r.requests.load(SeqCst), 20);
    assert_eq!(pool.stats().created, 10);
    // Ten separate clients, no shared manager: ten discoveries.
    let r2 = relay(server.addr(), pass_through());
    let mut alone = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut c = Client::connect(&cfg(&r2.addr, user("shaaes"))).unwrap();
        c.get(&[oid::SYS_UPTIME]).unwrap();
        alone.push(start.elapsed());
    }
    assert_eq!(r2.discoveries.load(SeqCst), 10);
    let later: Duration = times[1..].iter().sum::<Duration>() / 9;
    let separate: Duration = alone[1..].iter().sum::<Duration>() / 9;
    eprintln!(
        "connect + first GET (SHA/AES): pooled 1st {:?}, pooled 2nd..10th mean {later:?}, \
         unshared clients mean {separate:?}",
        times[0]
    );
    assert!(later < separate, "{later:?} vs {separate:?}");
}

#[test]
fn forged_and_late_datagrams_are_dropped() {
    let server = SnmpServer::start_v3("");
    // Every answer arrives twice: first with one bit of its HMAC flipped (or
    // of its ciphertext), then intact. The forged copies are dropped, the
    // genuine ones accepted, and nothing waits for a timeout.
    let forging = relay(
        server.addr(),
        Box::new(|k, b| {
            let mut forged = b.to_vec();
            let at = if k % 2 == 0 {
                forged.len() - 3
            } else {
                forged.len() / 2
            };
            forged[at] ^= 0x04;
            vec![
                (Duration::ZERO, forged),
                (Duration::from_millis(20), b.to_vec()),
            ]
        }),
    );
    for name in ["shaaes", "md5des", "sha256u"] {
        let mut c = Client::connect(&cfg(&forging.addr, user(name))).unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            let r = c
                .get(&[oid::SYS_LOCATION])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                r[0].value,
                Value::OctetString(b"edgepool-test-lab".to_vec())
            );
        }
        assert!(
            start.elapsed() < Duration::from_millis(450),
            "{name}: {:?}",
            start.elapsed()
        );
    }
    // The answer to the third datagram (the second encrypted request, after
    // the first confirmed the engine) comes 700 ms late: the
    // retransmission's answer is taken, and the late one, when it lands, is
    // dropped and breaks nothing. (The first encrypted request right after
    // discovery is not retransmitted: an agent that answered discovery but
    // not it most likely cannot decrypt it, see
    // a_wrong_priv_password_names_the_privacy_settings.)
    let late = relay(
        server.addr(),
        Box::new(|k, b| {
            let wait = if k == 2 {
                Duration::from_millis(700)
            } else {
                Duration::ZERO
            };
            vec![(wait, b.to_vec())]
        }),
    );
    let mut c = Client::connect(&cfg(&late.addr, user("shaaes"))).unwrap();
    let r = c.get(&[oid::SYS_NAME]).unwrap();
    assert_eq!(r[0].oid, oid::SYS_NAME);
    let r = c.get(&[oid::SYS_DESCR]).unwrap();
    assert_eq!(r[0].oid, oid::SYS_DESCR);
    thread::sleep(Duration::from_millis(300));
    let r = c.get(&[oid::SYS_LOCATION]).unwrap();
    assert_eq!(r[0].oid, oid::SYS_LOCATION);
    assert!(!c.is_broken());
}

/// Every log record of this test binary, at every level.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", record.target(), record.args()));
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(Mutex::new(Vec::new()));

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn passwords_and_keys_never_appear_in_debug_or_logs() {
    let _ = log::set_logger(&LOGS);
    log::set_max_level(log::LevelFilter::Trace);
    let server = SnmpServer::start_v3("");
    let mut seen = Vec::new();
    for (_, usm, _) in users() {
        let config = cfg(&server.addr(), usm.clone());
        let manager = Manager::new(config.clone());
        let pool = Pool::builder().max_size(1).build(manager.clone()).unwrap();
        pool.execute(|c| c.walk(&oid::SYSTEM)).unwrap();
        let mut c = Client::connect(&config).unwrap();
        c.get(&[oid::SYS_UPTIME]).unwrap();
        seen.push(format!(
            "{config:?} {usm:?} {manager:?} {c:?} {pool:?} {:?}",
            pool.get().unwrap()
        ));
        // Failures too.
        let mut wrong = usm.clone();
        match usm.level {
            SecurityLevel::NoAuthNoPriv => wrong.user.push('x'),
            SecurityLevel::AuthNoPriv => wrong.auth_password.push('x'),
            SecurityLevel::AuthPriv => wrong.priv_password.push('x'),
        }
        let mut w =
            Client::connect(&cfg(&server.addr(), wrong).timeout(Duration::from_millis(200)))
                .unwrap();
        let err = w.get(&[oid::SYS_UPTIME]).unwrap_err();
        seen.push(format!("{err} {err:?} {w:?}"));
    }
    let text = format!("{}\n{}", seen.join("\n"), LOGS.0.lock().unwrap().join("\n"));
    assert!(text.contains("SNMPv3"), "the logs were captured: {text}");
    let engine = server
        .engine_id()
        .expect("engine ID in the persistent file");
    for (_, usm, _) in users() {
        for (password, used) in [
            (&usm.auth_password, usm.level >= SecurityLevel::AuthNoPriv),
            (&usm.priv_password, usm.level == SecurityLevel::AuthPriv),
        ] {
            if !used {
                continue;
            }
            assert!(!text.contains(password.as_str()), "{password} in:\n{text}");
            let ku = password_to_key(usm.auth, password.as_bytes());
            let kul = localize_key(usm.auth, &ku, &engine);
            for secret in [
                hex(&ku),
                hex(&kul),
                hex(&kul[..8]),
                format!("{:?}", &kul[..4]),
            ] {
                assert!(!text.contains(&secret), "a key in:\n{text}");
            }
        }
    }
}
