//! The SNMP agent simulator (`edgepool::sim::snmp`) against real net-snmp
//! command-line tools (Debian package `snmp`) and against edgepool's own
//! client and pool: v1/v2c/v3 reads, walks and writes, the USM reports, the
//! fault switches, a restart, hostile datagrams, and no secret in Debug
//! output or logs.
#![cfg(all(feature = "sim", feature = "snmp"))]

use edgepool::sim::snmp::SnmpSim;
use edgepool::snmp::{
    oid, AuthProtocol, Client, Config, ErrorStatus, Manager, Oid, PrivProtocol, SecurityLevel,
    SnmpError, Usm, Value, VarBind, Version,
};
use edgepool::{Error, Pool};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- net-snmp

/// One run of a net-snmp tool in a fresh directory that stands in for
/// `$HOME`, the config path and the persistent dir (removed afterwards), so
/// nothing is read from or written to the user's home.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn net_snmp<S: AsRef<std::ffi::OsStr>>(tool: &str, args: &[S]) -> Run {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "edgepool-sim-snmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = Command::new(tool)
        .env("HOME", &dir)
        .env("SNMPCONFPATH", &dir)
        .env("SNMP_PERSISTENT_DIR", &dir)
        .env("MIBS", "")
        .env("MIBDIRS", &dir)
        // One attempt, 2 s: nothing hangs.
        .args(["-r", "0", "-t", "2", "-On"])
        .args(args)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): install net-snmp's tools with `apt-get install snmp`")
    });
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `OID = value` lines as (OID without the leading dot, value).
fn lines(run: &Run) -> Vec<(String, String)> {
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    run.stdout
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(o, v)| (o.trim_start_matches('.').to_string(), v.to_string()))
        .collect()
}

/// Our value as net-snmp prints it with `-On`.
fn as_net_snmp(v: &Value) -> String {
    match v {
        Value::ObjectId(o) => format!("OID: .{o}"),
        other => other.to_string(),
    }
}

/// The walk must list the table's objects, in order, with the same values
/// (the ticking ones only with the same type).
fn assert_walk_matches(walk: &[(String, String)], table: &[VarBind]) {
    let walk: Vec<_> = walk
        .iter()
        .filter(|(_, v)| !v.starts_with("No more variables"))
        .collect();
    assert_eq!(walk.len(), table.len(), "{walk:#?}");
    for ((o, v), vb) in walk.iter().zip(table) {
        assert_eq!(*o, vb.oid.to_string());
        match &vb.value {
            Value::TimeTicks(_) => assert!(v.starts_with("Timeticks: ("), "{o} = {v}"),
            Value::Counter32(_) => assert!(v.starts_with("Counter32: "), "{o} = {v}"),
            other => assert_eq!(*v, as_net_snmp(other), "{o}"),
        }
    }
}

const SIMUSER: [&str; 12] = [
    "-l",
    "authPriv",
    "-u",
    "simuser",
    "-a",
    "SHA",
    "-A",
    "simauthpass",
    "-x",
    "AES",
    "-X",
    "simprivpass",
];

#[test]
fn net_snmp_v2c_get_and_bulkwalk_show_the_table() {
    let sim = SnmpSim::start().unwrap();
    let addr = sim.addr().to_string();
    std::thread::sleep(Duration::from_millis(30));
    let got = lines(&net_snmp(
        "snmpget",
        &[
            "-v2c",
            "-c",
            "public",
            &addr,
            "1.3.6.1.2.1.1.3.0",
            "1.3.6.1.2.1.1.1.0",
        ],
    ));
    assert_eq!(got.len(), 2);
    let ticks: u32 = got[0]
        .1
        .strip_prefix("Timeticks: (")
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!((3..1000).contains(&ticks), "{ticks}");
    assert_eq!(got[1].1, "STRING: \"edgepool simulated agent\"");

    let walk = lines(&net_snmp(
        "snmpbulkwalk",
        &["-v2c", "-c", "public", &addr, ".1"],
    ));
    assert_walk_matches(&walk, &sim.snapshot());
    // sysDescr, sysObjectID, sysUpTime, sysContact, sysName, sysLocation,
    // sysServices, ifNumber and 9 columns of 2 interfaces.
    assert_eq!(sim.snapshot().len(), 8 + 18);
}

#[test]
fn net_snmp_missing_objects_v1_and_v2c() {
    let sim = SnmpSim::start().unwrap();
    let addr = sim.addr().to_string();
    let v1 = net_snmp(
        "snmpget",
        &["-v1", "-c", "public", &addr, "1.3.6.1.2.1.1.99.0"],
    );
    assert!(!v1.ok);
    assert!(v1.stderr.contains("noSuchName"), "{}", v1.stderr);
    assert!(v1.stderr.contains("1.3.6.1.2.1.1.99.0"), "{}", v1.stderr);
    let v2 = lines(&net_snmp(
        "snmpget",
        &[
            "-v2c",
            "-c",
            "public",
            &addr,
            "1.3.6.1.2.1.1.99.0",
            "1.3.6.1.2.1.1.1.7",
        ],
    ));
    assert_eq!(
        v2[0].1,
        "No Such Object available on this agent at this OID"
    );
    assert_eq!(v2[1].1, "No Such Instance currently exists at this OID");
    // v1 walks end with noSuchName, quietly.
    let walk = lines(&net_snmp(
        "snmpwalk",
        &["-v1", "-c", "public", &addr, "1.3.6.1.2.1.2.2.1.2"],
    ));
    assert_eq!(
        walk,
        [
            ("1.3.6.1.2.1.2.2.1.2.1".into(), "STRING: \"eth0\"".into()),
            ("1.3.6.1.2.1.2.2.1.2.2".into(), "STRING: \"eth1\"".into())
        ]
    );
}

#[test]
fn net_snmp_set() {
    let sim = SnmpSim::start().unwrap();
    let addr = sim.addr().to_string();
    let set = |community: &str, oid: &str, ty: &str, value: &str| {
        net_snmp("snmpset", &["-v2c", "-c", community, &addr, oid, ty, value])
    };
    let ok = set("private", "1.3.6.1.2.1.1.6.0", "s", "rack 7");
    assert_eq!(
        lines(&ok),
        [("1.3.6.1.2.1.1.6.0".into(), "STRING: \"rack 7\"".into())]
    );
    assert_eq!(
        sim.get(&oid::SYS_LOCATION),
        Some(Value::OctetString(b"rack 7".to_vec()))
    );
    for (community, oid, ty, value, reason) in [
        ("public", "1.3.6.1.2.1.1.6.0", "s", "x", "noAccess"),
        ("private", "1.3.6.1.2.1.1.6.0", "i", "5", "wrongType"),
        ("private", "1.3.6.1.2.1.1.1.0", "s", "x", "notWritable"),
        ("private", "1.3.6.1.2.1.1.3.0", "t", "5", "notWritable"),
        ("private", "1.3.6.1.4.1.1.0", "s", "x", "noCreation"),
    ] {
        let r = set(community, oid, ty, value);
        assert!(!r.ok, "{oid}");
        assert!(r.stderr.contains(reason), "{oid}: {}", r.stderr);
    }
    assert_eq!(
        sim.get(&oid::SYS_LOCATION),
        Some(Value::OctetString(b"rack 7".to_vec()))
    );
    // SET as v1: the v1 error codes.
    let r = net_snmp(
        "snmpset",
        &["-v1", "-c", "private", &addr, "1.3.6.1.2.1.1.1.0", "s", "x"],
    );
    assert!(r.stderr.contains("noSuchName"), "{}", r.stderr);
    let r = net_snmp(
        "snmpset",
        &["-v1", "-c", "private", &addr, "1.3.6.1.2.1.1.5.0", "i", "1"],
    );
    assert!(r.stderr.contains("badValue"), "{}", r.stderr);
}

fn v3_args(addr: &str, flags: &[&str], rest: &[&str]) -> Vec<String> {
    let mut args = vec!["-v3".to_string()];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.push(addr.to_string());
    args.extend(rest.iter().map(|s| s.to_string()));
    args
}

#[test]
fn net_snmp_v3_users_and_reports() {
    let sim = SnmpSim::start().unwrap();
    let addr = sim.addr().to_string();
    let v3 = |flags: &[&str], rest: &[&str]| v3_args(&addr, flags, rest);
    let got = lines(&net_snmp(
        "snmpget",
        &v3(&SIMUSER, &["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]),
    ));
    assert!(got[0].1.starts_with("Timeticks: "), "{got:?}");
    assert_eq!(got[1].1, "STRING: \"edgepool-sim\"");

    let walk = lines(&net_snmp("snmpbulkwalk", &v3(&SIMUSER, &[".1"])));
    assert_walk_matches(&walk, &sim.snapshot());
    let noauth = ["-l", "noAuthNoPriv", "-u", "simnoauth"];
    let walk = lines(&net_snmp("snmpbulkwalk", &v3(&noauth, &["1.3.6.1.2.1.2"])));
    let table: Vec<_> = sim
        .snapshot()
        .into_iter()
        .filter(|vb| vb.oid.starts_with(&Oid::new(vec![1, 3, 6, 1, 2, 1, 2])))
        .collect();
    assert_walk_matches(&walk, &table);

    // SET as a v3 user.
    let set = net_snmp(
        "snmpset",
        &v3(&SIMUSER, &["1.3.6.1.2.1.1.5.0", "s", "gw-7"]),
    );
    assert!(set.ok, "{}", set.stderr);
    assert_eq!(
        sim.get(&oid::SYS_NAME),
        Some(Value::OctetString(b"gw-7".to_vec()))
    );

    // What goes wrong, as net-snmp words it.
    let mut wrong_auth = SIMUSER;
    wrong_auth[7] = "not-the-password";
    let mut wrong_priv = SIMUSER;
    wrong_priv[11] = "not-the-password";
    let cases: [(&[&str], &str); 5] = [
        (&wrong_auth, "Authentication failure"),
        (&wrong_priv, "Decryption error"),
        (&["-l", "noAuthNoPriv", "-u", "nobody"], "Unknown user name"),
        (
            &["-l", "noAuthNoPriv", "-u", "simuser"],
            "Unsupported security level",
        ),
        (
            &[
                "-l",
                "authNoPriv",
                "-u",
                "simnoauth",
                "-a",
                "SHA",
                "-A",
                "simauthpass",
            ],
            "Unsupported security level",
        ),
    ];
    for (flags, want) in cases {
        let r = net_snmp("snmpget", &v3(flags, &["1.3.6.1.2.1.1.3.0"]));
        assert!(!r.ok, "{flags:?}");
        assert!(r.stderr.contains(want), "{flags:?}: {}", r.stderr);
    }
    let r = net_snmp(
        "snmpget",
        &v3(&SIMUSER, &["-n", "ctx", "1.3.6.1.2.1.1.3.0"]),
    );
    assert!(r.stderr.contains("Bad context"), "{}", r.stderr);
}

#[test]
fn net_snmp_v3_every_protocol_debian_s_net_snmp_has() {
    let users = [
        (
            "md5des",
            AuthProtocol::Md5,
            "MD5",
            Some((PrivProtocol::Des, "DES")),
        ),
        (
            "sha224aes",
            AuthProtocol::Sha224,
            "SHA-224",
            Some((PrivProtocol::Aes128, "AES")),
        ),
        ("sha256", AuthProtocol::Sha256, "SHA-256", None),
        (
            "sha384des",
            AuthProtocol::Sha384,
            "SHA-384",
            Some((PrivProtocol::Des, "DES")),
        ),
        (
            "sha512aes",
            AuthProtocol::Sha512,
            "SHA-512",
            Some((PrivProtocol::Aes128, "AES")),
        ),
    ];
    let mut builder = SnmpSim::builder().clear_access();
    for (name, auth, _, privacy) in users {
        let mut u = Usm::new(name).auth(auth, format!("{name}-auth"));
        if let Some((p, _)) = privacy {
            u = u.privacy(p, format!("{name}-priv"));
        }
        builder = builder.user(u);
    }
    let sim = builder.start().unwrap();
    let addr = sim.addr().to_string();
    for (name, _, auth, privacy) in users {
        let auth_pw = format!("{name}-auth");
        let priv_pw = format!("{name}-priv");
        let mut args = vec!["-v3", "-u", name, "-a", auth, "-A", &auth_pw];
        match privacy {
            Some((_, p)) => args.extend(["-l", "authPriv", "-x", p, "-X", &priv_pw]),
            None => args.extend(["-l", "authNoPriv"]),
        }
        args.extend([addr.as_str(), "1.3.6.1.2.1.1.1.0"]);
        let got = lines(&net_snmp("snmpget", &args));
        assert_eq!(
            got,
            [(
                "1.3.6.1.2.1.1.1.0".into(),
                "STRING: \"edgepool simulated agent\"".into()
            )],
            "{name}"
        );
    }
}

// ---------------------------------------------------- edgepool's own client

fn config(sim: &SnmpSim) -> Config {
    Config::new(sim.addr().to_string())
        .timeout(Duration::from_millis(300))
        .retries(1)
}

fn simuser() -> Usm {
    Usm::new("simuser")
        .auth(AuthProtocol::Sha1, "simauthpass")
        .privacy(PrivProtocol::Aes128, "simprivpass")
}

fn uptime(pool: &Pool<Manager>) -> u32 {
    match &pool.execute(|c| c.get(&[oid::SYS_UPTIME])).unwrap()[0].value {
        Value::TimeTicks(t) => *t,
        other => panic!("{other:?}"),
    }
}

/// Waits until the agent has been up for at least `ticks` hundredths.
fn up_for(sim: &SnmpSim, ticks: u32) {
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        if matches!(sim.get(&oid::SYS_UPTIME), Some(Value::TimeTicks(t)) if t >= ticks) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("sysUpTime does not tick");
}

#[test]
fn pool_v2c_faults_and_restart() {
    let sim = SnmpSim::start().unwrap();
    let pool = Pool::builder()
        .max_size(2)
        .acquire_timeout(Duration::from_secs(2))
        .build(Manager::new(config(&sim)))
        .unwrap();
    let walk = pool
        .execute(|c| c.walk(&Oid::new(vec![1, 3, 6, 1])))
        .unwrap();
    assert_eq!(walk.len(), sim.snapshot().len());

    // Silent: a request times out after timeout × (1 + retries).
    sim.faults().set_silent(true);
    let before = sim.requests();
    let t = Instant::now();
    let err = pool.execute(|c| c.get(&[oid::SYS_NAME])).unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(sim.requests() - before, 2, "the request and one retry");
    sim.faults().set_silent(false);
    assert_eq!(
        pool.execute(|c| c.get(&[oid::SYS_NAME])).unwrap()[0].value,
        Value::OctetString(b"edgepool-sim".to_vec())
    );

    // Delay: answers come late but come.
    sim.faults().set_delay(Duration::from_millis(150));
    let t = Instant::now();
    pool.execute(|c| c.get(&[oid::SYS_NAME])).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    sim.faults().clear();

    // Restart: the port is closed for a while, then sysUpTime starts over.
    up_for(&sim, 40);
    let up_before = uptime(&pool);
    let restart = std::thread::scope(|s| {
        let r = s.spawn(|| sim.restart(Duration::from_millis(300)));
        std::thread::sleep(Duration::from_millis(100));
        let down = pool.execute(|c| c.get(&[oid::SYS_NAME]));
        assert!(down.is_err(), "answered while down: {down:?}");
        r.join().unwrap()
    });
    restart.unwrap();
    let up_after = uptime(&pool);
    assert!(up_after < up_before, "{up_after} !< {up_before}");
    assert_eq!(sim.engine_boots(), 2);
}

#[test]
fn pool_v3_resyncs_after_a_restart() {
    let sim = SnmpSim::start().unwrap();
    let auth_priv = Pool::builder()
        .max_size(2)
        .build(Manager::new(config(&sim).v3(simuser())))
        .unwrap();
    let noauth = Pool::builder()
        .max_size(1)
        .build(Manager::new(config(&sim).v3(Usm::new("simnoauth"))))
        .unwrap();
    let system = auth_priv.execute(|c| c.walk(&oid::SYSTEM)).unwrap();
    assert_eq!(system.len(), 7);
    assert_eq!(noauth.execute(|c| c.walk(&oid::SYSTEM)).unwrap().len(), 7);
    auth_priv
        .execute(|c| {
            c.set(&[VarBind::new(
                oid::SYS_CONTACT,
                Value::OctetString(b"noc@example.com".to_vec()),
            )])
        })
        .unwrap();
    assert_eq!(
        sim.get(&oid::SYS_CONTACT),
        Some(Value::OctetString(b"noc@example.com".to_vec()))
    );

    up_for(&sim, 40);
    let up_before = uptime(&auth_priv);
    sim.restart(Duration::from_millis(100)).unwrap();
    assert_eq!(sim.engine_boots(), 2);
    // The cached engine clock is now wrong (boots 1): the agent's
    // notInTimeWindows report resynchronises the client, which resends.
    let up_after = uptime(&auth_priv);
    assert!(up_after < up_before, "{up_after} !< {up_before}");
    assert_eq!(noauth.execute(|c| c.walk(&oid::SYSTEM)).unwrap().len(), 7);
    assert_eq!(
        auth_priv.execute(|c| c.walk(&oid::SYSTEM)).unwrap().len(),
        7
    );
}

#[test]
fn client_errors_name_the_wrong_setting() {
    let sim = SnmpSim::start().unwrap();
    let err = |usm: Usm| {
        let mut c = Client::connect(&config(&sim).v3(usm)).unwrap();
        c.get(&[oid::SYS_UPTIME]).unwrap_err()
    };
    let wrong_auth = Usm::new("simuser")
        .auth(AuthProtocol::Sha1, "not-the-password")
        .privacy(PrivProtocol::Aes128, "simprivpass");
    assert!(matches!(
        err(wrong_auth),
        Error::Snmp(SnmpError::WrongDigest)
    ));
    let wrong_priv = Usm::new("simuser")
        .auth(AuthProtocol::Sha1, "simauthpass")
        .privacy(PrivProtocol::Aes128, "not-the-password");
    assert!(matches!(
        err(wrong_priv),
        Error::Snmp(SnmpError::DecryptionError)
    ));
    let wrong_cipher = simuser().privacy(PrivProtocol::Des, "simprivpass");
    assert!(matches!(
        err(wrong_cipher),
        Error::Snmp(SnmpError::DecryptionError)
    ));
    assert!(matches!(
        err(Usm::new("nobody")),
        Error::Snmp(SnmpError::UnknownUserName { .. })
    ));
    assert!(matches!(
        err(Usm::new("simuser")),
        Error::Snmp(SnmpError::UnsupportedSecLevel {
            level: SecurityLevel::NoAuthNoPriv
        })
    ));
    let ctx = simuser().context_name("bridge1");
    match err(ctx) {
        Error::Snmp(e @ SnmpError::Report { .. }) => {
            assert!(e.to_string().contains("snmpUnknownContexts"), "{e}")
        }
        other => panic!("{other}"),
    }

    // Community requests: v1 noSuchName, v2c writes.
    let mut v1 = Client::connect(&config(&sim).version(Version::V1)).unwrap();
    match v1.get(&[Oid::new(vec![1, 3, 6, 1, 2, 1, 1, 99, 0])]) {
        Err(Error::Snmp(SnmpError::Agent { status, index, .. })) => {
            assert_eq!((status, index), (ErrorStatus::NoSuchName, 1))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(v1.walk(&oid::SYSTEM).unwrap().len(), 7);
    // GETBULK: one non-repeater, then two rows of the repeater.
    let mut ro = Client::connect(&config(&sim)).unwrap();
    let bulk = ro.get_bulk(1, 2, &[oid::SYS_DESCR, oid::SYSTEM]).unwrap();
    let oids: Vec<_> = bulk.iter().map(|vb| vb.oid.clone()).collect();
    assert_eq!(
        oids,
        [oid::SYS_OBJECT_ID, oid::SYS_DESCR, oid::SYS_OBJECT_ID]
    );
    // An unknown community gets no answer at all.
    let mut wrong = Client::connect(&config(&sim).community("nope")).unwrap();
    match wrong.get(&[oid::SYS_NAME]) {
        Err(e) => assert!(
            e.is_timeout() && e.to_string().contains("community is wrong"),
            "{e}"
        ),
        Ok(r) => panic!("{r:?}"),
    }
    let vb = VarBind::new(oid::SYS_NAME, Value::OctetString(b"x".to_vec()));
    match ro.set(std::slice::from_ref(&vb)) {
        Err(Error::Snmp(SnmpError::Agent { status, .. })) => {
            assert_eq!(status, ErrorStatus::NoAccess)
        }
        other => panic!("{other:?}"),
    }
    let mut rw = Client::connect(&config(&sim).community("private")).unwrap();
    assert_eq!(rw.set(std::slice::from_ref(&vb)).unwrap(), [vb]);
}

#[test]
fn every_privacy_protocol_of_the_client_works() {
    let privs = [
        PrivProtocol::Des,
        PrivProtocol::Aes128,
        PrivProtocol::Aes192,
        PrivProtocol::Aes256,
        PrivProtocol::Aes192C,
        PrivProtocol::Aes256C,
    ];
    let auths = [
        AuthProtocol::Md5,
        AuthProtocol::Sha1,
        AuthProtocol::Sha224,
        AuthProtocol::Sha256,
        AuthProtocol::Sha384,
        AuthProtocol::Sha512,
    ];
    // Each auth protocol once, each privacy protocol once; one password for
    // both, so each user costs one password hash.
    let users: Vec<Usm> = auths
        .iter()
        .zip(privs)
        .enumerate()
        .map(|(i, (a, p))| {
            Usm::new(format!("u{i}"))
                .auth(*a, "same-password")
                .privacy(p, "same-password")
        })
        .collect();
    let mut b = SnmpSim::builder().clear_access();
    for u in &users {
        b = b.user(u.clone());
    }
    let sim = b.start().unwrap();
    for u in users {
        let name = format!("{:?}/{:?}", u.auth, u.privacy);
        let mut c = Client::connect(&config(&sim).v3(u)).unwrap();
        let got = c
            .get(&[oid::SYS_DESCR])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            got[0].value,
            Value::OctetString(b"edgepool simulated agent".to_vec()),
            "{name}"
        );
    }
}

#[test]
fn get_bulk_replies_stay_within_the_size_limit() {
    let mut b = SnmpSim::builder();
    for i in 0..300 {
        b = b.oid(
            Oid::new(vec![1, 3, 6, 1, 4, 1, 99999, 1, i]),
            Value::OctetString(format!("value number {i:04}").into_bytes()),
        );
    }
    let sim = b.start().unwrap();
    let mut c = Client::connect(&config(&sim)).unwrap();
    let root = Oid::new(vec![1, 3, 6, 1, 4, 1, 99999]);
    let rows = c.get_bulk(0, 1000, std::slice::from_ref(&root)).unwrap();
    assert!((10..300).contains(&rows.len()), "{}", rows.len());
    // The whole reply fits in 1472 bytes: measure one on the wire.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut req = Vec::new();
    edgepool::snmp::Message {
        version: Version::V2c,
        community: b"public".to_vec(),
        body: edgepool::snmp::Body::Pdu(edgepool::snmp::Pdu {
            kind: edgepool::snmp::PduKind::GetBulk,
            request_id: 1,
            error_status: 0,
            error_index: 1000,
            varbinds: vec![VarBind::new(root.clone(), Value::Null)],
        }),
    }
    .encode(&mut req);
    sock.send_to(&req, sim.addr()).unwrap();
    let mut buf = [0u8; 65536];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(n <= 1472 && n > 1300, "{n}");
    // A walk still gets everything, batch by batch.
    c = Client::connect(&config(&sim).max_repetitions(500)).unwrap();
    assert_eq!(c.walk(&root).unwrap().len(), 300);

    // v3 with a smaller reply limit.
    let small = SnmpSim::builder()
        .max_reply_size(484)
        .oid(
            Oid::new(vec![1, 3, 6, 1, 4, 1, 99999, 2, 0]),
            Value::OctetString(vec![b'x'; 500]),
        )
        .start()
        .unwrap();
    let mut c = Client::connect(&config(&small).v3(simuser())).unwrap();
    assert!(c.get_bulk(0, 50, &[oid::SYSTEM]).unwrap().len() > 3);
    match c.get(&[Oid::new(vec![1, 3, 6, 1, 4, 1, 99999, 2, 0])]) {
        Err(Error::Snmp(SnmpError::Agent { status, .. })) => {
            assert_eq!(status, ErrorStatus::TooBig)
        }
        other => panic!("{other:?}"),
    }
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn caught_up(sim: &SnmpSim, sent: u64) {
    let end = Instant::now() + Duration::from_secs(3);
    while sim.requests() < sent && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn hostile_datagrams_are_dropped_and_the_agent_keeps_answering() {
    let sim = SnmpSim::start().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut v2 = Vec::new();
    edgepool::snmp::Message {
        version: Version::V2c,
        community: b"public".to_vec(),
        body: edgepool::snmp::Body::Pdu(edgepool::snmp::Pdu::request(
            edgepool::snmp::PduKind::Get,
            7,
            &[oid::SYS_UPTIME],
        )),
    }
    .encode(&mut v2);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut sent = 0;
    for i in 0..1500 {
        let mut d = v2.clone();
        match i % 3 {
            0 => {
                let at = rng.next() as usize % d.len();
                d[at] = rng.next() as u8;
            }
            1 => d.truncate(rng.next() as usize % d.len()),
            _ => {
                let len = rng.next() as usize % 200;
                d = (0..len).map(|_| rng.next() as u8).collect();
                if len > 2 {
                    d[0] = 0x30; // look like a SEQUENCE
                }
            }
        }
        sock.send_to(&d, sim.addr()).unwrap();
        sent += 1;
        if sent % 50 == 0 {
            // Let the agent keep up: the socket's receive buffer is finite.
            caught_up(&sim, sent);
        }
    }
    // Oversized and empty datagrams too.
    sock.send_to(&vec![0x30; 65_000], sim.addr()).unwrap();
    sock.send_to(&[], sim.addr()).unwrap();
    sent += 2;
    caught_up(&sim, sent);
    assert_eq!(sim.requests(), sent);
    assert!(sim.dropped() > 900, "{}", sim.dropped());
    let mut c = Client::connect(&config(&sim)).unwrap();
    assert_eq!(c.walk(&oid::SYSTEM).unwrap().len(), 7);
}

#[test]
fn drop_stops_the_agent_and_frees_the_port() {
    let sim = SnmpSim::start().unwrap();
    let addr = sim.addr();
    let t = Instant::now();
    drop(sim);
    assert!(t.elapsed() < Duration::from_secs(1));
    UdpSocket::bind(addr).expect("the port is free again");
}

// ------------------------------------------------------------------ secrets

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

#[test]
fn no_secret_in_debug_output_or_logs() {
    let _ = log::set_logger(&LOGS);
    log::set_max_level(log::LevelFilter::Trace);
    let builder = SnmpSim::builder().community("lab-community-7", true).user(
        Usm::new("ops")
            .auth(AuthProtocol::Sha256, "ops-auth-secret")
            .privacy(PrivProtocol::Aes128, "ops-priv-secret"),
    );
    let text = format!("{builder:?}");
    let sim = builder.start().unwrap();
    let text = format!("{text} {sim:?}");
    assert!(text.contains("simuser") && text.contains("ops"), "{text}");
    // Traffic that logs: good and bad communities, users and passwords.
    for community in ["public", "private", "lab-community-7", "wrong-community"] {
        let mut c = Client::connect(&config(&sim).community(community).retries(0)).unwrap();
        let _ = c.get(&[oid::SYS_NAME]);
    }
    for usm in [
        simuser(),
        Usm::new("ops")
            .auth(AuthProtocol::Sha256, "ops-auth-secret")
            .privacy(PrivProtocol::Aes128, "wrong-priv-secret"),
        Usm::new("ops").auth(AuthProtocol::Sha256, "wrong-auth-secret"),
    ] {
        let mut c = Client::connect(&config(&sim).v3(usm).retries(0)).unwrap();
        let _ = c.get(&[oid::SYS_NAME]);
    }
    let logs = LOGS.0.lock().unwrap().join("\n");
    for secret in [
        "public",
        "private",
        "lab-community-7",
        "wrong-community",
        "simauthpass",
        "simprivpass",
        "ops-auth-secret",
        "ops-priv-secret",
        "wrong-priv-secret",
        "wrong-auth-secret",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
}
