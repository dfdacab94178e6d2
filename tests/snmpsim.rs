//! The SNMP client against recordings of real devices served by snmpsim
//! (PyPI `snmpsim` 1.2.2, recordings from `snmpsim-data` 1.0.1), compared
//! row by row with net-snmp's `snmpbulkwalk`/`snmpwalk`.
//!
//! `bash scripts/test` creates `target/snmpsim-venv`; without it these tests
//! fail and say how to make it.
#![cfg(feature = "snmp")]

mod common;
use common::{eventually_within, free_udp_port};

use edgepool::snmp::{AuthProtocol, PrivProtocol};
use edgepool::snmp::{Client, Config, Oid, SnmpError, Usm, Value, VarBind, Version};
use edgepool::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Recordings taken whole from the installed snmpsim-data package.
const FROM_PACKAGE: &[(&str, &str)] = &[
    ("camera/semac-ipcam-500", "semac-ipcam-500"),
    ("camera/hikvision", "hikvision"),
];

/// The out-of-order H3C table (see tests/data/snmpsim/README.md).
const H3C_TABLE: &str = "1.3.6.1.4.1.2011.2.23.1.3";

fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("EDGEPOOL_SNMPSIM_VENV") {
        return v.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("snmpsim-venv")
}

/// snmpsim on a free loopback port, serving the recordings in a temp dir,
/// killed on drop.
struct SnmpSim {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl SnmpSim {
    fn start() -> SnmpSim {
        let venv = venv();
        let responder = venv.join("bin").join("snmpsim-command-responder");
        let python = venv.join("bin").join("python");
        assert!(
            responder.exists() && python.exists(),
            "these tests need snmpsim in {}: `bash scripts/test` creates it, or run \
             `python3 -m venv target/snmpsim-venv && target/snmpsim-venv/bin/pip install \
             snmpsim==1.2.2 snmpsim-data==1.0.1 cryptography` (or set EDGEPOOL_SNMPSIM_VENV)",
            venv.display()
        );
        let port = free_udp_port();
        let dir =
            std::env::temp_dir().join(format!("edgepool-snmpsim-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("temp dir");
        std::fs::create_dir_all(dir.join("cache")).expect("cache dir");
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/snmpsim");
        for e in std::fs::read_dir(&ours).expect("tests/data/snmpsim") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "snmprec") {
                std::fs::copy(&p, data.join(p.file_name().expect("name"))).expect("copy");
            }
        }
        // Unpack the package's recordings (shipped bz2-compressed).
        let mut script = String::from(
            "import bz2, os, sys, snmpsim_data\n\
             src = os.path.join(os.path.dirname(snmpsim_data.__file__), 'data')\n",
        );
        for (from, to) in FROM_PACKAGE {
            script.push_str(&format!(
                "open(os.path.join(sys.argv[1], '{to}.snmprec'), 'wb').write(\
                 bz2.open(os.path.join(src, '{from}.snmprec.bz2')).read())\n"
            ));
        }
        let out = Command::new(&python)
            .arg("-c")
            .arg(&script)
            .arg(&data)
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "unpacking snmpsim-data failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = Command::new(&responder);
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", dir.join("cache").display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .arg("--log-level=error")
            .arg(format!(
                "--logging-method=file:{}",
                dir.join("log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // As root snmpsim wants to drop privileges; this environment flag
        // lets it stay (the venv may sit where no other user can read).
        cmd.env("SNMPSIM_ALLOW_ROOT", "true");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", responder.display()));
        let server = SnmpSim {
            port,
            dir,
            child: Some(child),
        };
        let up = eventually_within(Duration::from_secs(60), || server.answers());
        assert!(
            up,
            "snmpsim did not answer on port {port}: {}",
            std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
        );
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn answers(&self) -> bool {
        let Ok(mut c) = Client::connect(
            &v2c(self, "hikvision")
                .timeout(Duration::from_millis(300))
                .retries(0),
        ) else {
            return false;
        };
        c.get_next(&[Oid::from_static(&[1, 3, 6])]).is_ok()
    }
}

impl Drop for SnmpSim {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn v2c(sim: &SnmpSim, recording: &str) -> Config {
    Config::new(sim.addr())
        .community(recording)
        .timeout(Duration::from_secs(3))
        .retries(1)
}

/// What a net-snmp tool prints, as (OID, value) text, and whether it said
/// "OID not increasing".
fn net_snmp(args: &[&str]) -> (Vec<(String, String)>, bool) {
    let out = Command::new(args[0])
        .env("MIBS", "")
        .env(
            "SNMP_PERSISTENT_DIR",
            std::env::temp_dir().join("edgepool-snmpsim-client"),
        )
        .args(["-On", "-Ot", "-Oe", "-t", "3"])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install it with `apt-get install snmp`",
                args[0]
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let not_increasing = stderr.contains("OID not increasing");
    assert!(out.status.success() || not_increasing, "{args:?}: {stderr}");
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(" = "))
        // net-snmp prints the endOfMibView it met; a walk does not return it.
        .filter(|(_, v)| !v.starts_with("No more variables left"))
        .map(|(o, v)| {
            (
                o.trim_start_matches('.').to_string(),
                v.trim_end().to_string(),
            )
        })
        .collect();
    (rows, not_increasing)
}

/// Our value in net-snmp's `-Ot -Oe` style.
fn like_net_snmp(v: &Value) -> String {
    match v {
        Value::TimeTicks(t) => format!("Timeticks: {t}"),
        Value::ObjectId(o) => format!("OID: .{o}"),
        Value::OctetString(b) if b.is_empty() => "\"\"".into(),
        other => other.to_string(),
    }
}

fn assert_same(what: &str, ours: &[VarBind], theirs: &[(String, String)]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: row count");
    for (vb, (o, v)) in ours.iter().zip(theirs) {
        assert_eq!(&vb.oid.to_string(), o, "{what}");
        let mine = like_net_snmp(&vb.value);
        if let Value::TimeTicks(t) = vb.value {
            // `-Ot` prints bare ticks here; some builds prefix "Timeticks: ".
            assert_eq!(
                v.trim_start_matches("Timeticks: "),
                t.to_string(),
                "{what} {o}"
            );
            continue;
        }
        // net-snmp prints strings with its own quoting and line breaks;
        // compare those by their hex where they differ only in rendering.
        if matches!(vb.value, Value::OctetString(_)) && &mine != v {
            assert!(
                v.starts_with("STRING") || v.starts_with("Hex-STRING") || v == "\"\"",
                "{what} {o}: {mine} vs {v}"
            );
            continue;
        }
        assert_eq!(&mine, v, "{what} {o}");
    }
}

fn root() -> Oid {
    Oid::from_static(&[1])
}

#[test]
fn whole_recordings_walk_like_net_snmp_v1_v2c() {
    let sim = SnmpSim::start();
    for (_, rec) in FROM_PACKAGE {
        let (theirs, bad) = net_snmp(&["snmpbulkwalk", "-v2c", "-c", rec, &sim.addr(), "1"]);
        assert!(!bad, "{rec}");
        let ours = Client::connect(&v2c(&sim, rec))
            .unwrap()
            .walk(&root())
            .unwrap();
        assert!(ours.len() > 10, "{rec}: {}", ours.len());
        assert_same(&format!("{rec} v2c"), &ours, &theirs);
        let (theirs, bad) = net_snmp(&["snmpwalk", "-v1", "-c", rec, &sim.addr(), "1"]);
        assert!(!bad, "{rec}");
        let ours = Client::connect(&v2c(&sim, rec).version(Version::V1))
            .unwrap()
            .walk(&root())
            .unwrap();
        assert_same(&format!("{rec} v1"), &ours, &theirs);
    }
}

#[test]
fn whole_recording_walks_over_v3_md5_des() {
    let sim = SnmpSim::start();
    // snmpsim's built-in user; the context name picks the recording.
    let usm = Usm::new("simulator")
        .auth(AuthProtocol::Md5, "auctoritas")
        .privacy(PrivProtocol::Des, "privatus")
        .context_name("semac-ipcam-500");
    let mut c = Client::connect(&v2c(&sim, "").v3(usm)).unwrap();
    let ours = c.walk(&root()).unwrap();
    let (theirs, _) = net_snmp(&[
        "snmpbulkwalk",
        "-v3",
        "-l",
        "authPriv",
        "-u",
        "simulator",
        "-a",
        "MD5",
        "-A",
        "auctoritas",
        "-x",
        "DES",
        "-X",
        "privatus",
        "-n",
        "semac-ipcam-500",
        &sim.addr(),
        "1",
    ]);
    assert_same("semac v3", &ours, &theirs);
}

#[test]
fn rows_out_of_order_inside_one_answer_are_kept() {
    let sim = SnmpSim::start();
    let table: Oid = H3C_TABLE.parse().unwrap();
    let (theirs, bad) = net_snmp(&[
        "snmpbulkwalk",
        "-v2c",
        "-c",
        "h3c-e528-1-slice",
        &sim.addr(),
        H3C_TABLE,
    ]);
    assert!(!bad);
    assert_eq!(theirs.len(), 6, "{theirs:?}");
    let mut c = Client::connect(&v2c(&sim, "h3c-e528-1-slice")).unwrap();
    let ours = c.walk(&table).unwrap();
    assert_same("h3c table", &ours, &theirs);
    assert!(ours[0].oid > ours[1].oid, "the recording's order is kept");
    // The whole slice, through the out-of-order pair.
    let (theirs, bad) = net_snmp(&[
        "snmpbulkwalk",
        "-v2c",
        "-c",
        "h3c-e528-1-slice",
        &sim.addr(),
        "1",
    ]);
    assert!(!bad);
    assert_same("h3c slice", &c.walk(&root()).unwrap(), &theirs);
}

#[test]
fn a_walk_that_must_stop_says_so_and_keeps_its_rows() {
    let sim = SnmpSim::start();
    let table: Oid = H3C_TABLE.parse().unwrap();
    let first: Oid = format!("{H3C_TABLE}.1.1.1.56.145.213.251.116.117.1")
        .parse()
        .unwrap();
    let second: Oid = format!("{H3C_TABLE}.1.1.1.12.218.65.73.134.216.2")
        .parse()
        .unwrap();
    // v1 (GETNEXT) and v2c with one row per answer both ask from the first
    // row and get an earlier one back: net-snmp stops there too.
    for (cfg, tool) in [
        (
            v2c(&sim, "h3c-e528-1-slice").version(Version::V1),
            vec!["snmpwalk", "-v1"],
        ),
        (
            v2c(&sim, "h3c-e528-1-slice").max_repetitions(1),
            vec!["snmpbulkwalk", "-v2c", "-Cr1"],
        ),
    ] {
        let mut args = tool.clone();
        let addr = sim.addr();
        args.extend(["-c", "h3c-e528-1-slice", &addr, H3C_TABLE]);
        let (theirs, bad) = net_snmp(&args);
        assert!(bad, "{tool:?} should say OID not increasing");
        let mut c = Client::connect(&cfg).unwrap();
        match c.walk(&table) {
            Err(Error::Snmp(SnmpError::WalkNotIncreasing(t))) => {
                assert_eq!(t.root, table);
                assert_eq!(t.requested, first);
                assert_eq!(t.got, second);
                // net-snmp prints the offending row too, then stops.
                let (last, before) = theirs.split_last().expect("rows");
                assert_eq!(last.0, second.to_string());
                assert_same(&format!("{tool:?}"), &t.rows, before);
                let msg = Error::Snmp(SnmpError::WalkNotIncreasing(t)).to_string();
                assert!(
                    msg.contains("OID not increasing") && msg.contains("after 1 rows"),
                    "{msg}"
                );
            }
            other => panic!("{tool:?}: {other:?}"),
        }
        // walk_into leaves the rows in the caller's vector.
        let mut rows = vec![VarBind::new(root(), Value::Null)];
        let e = c.walk_into(&table, &mut rows).unwrap_err();
        assert!(
            matches!(e, Error::Snmp(SnmpError::WalkNotIncreasing(ref t)) if t.rows.is_empty()),
            "{e:?}"
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].oid, first);
    }
}

#[test]
fn opaque_floats_and_doubles_decode_like_net_snmp() {
    let sim = SnmpSim::start();
    let la: Oid = "1.3.6.1.4.1.2021.10.1.6".parse().unwrap();
    let mut c = Client::connect(&v2c(&sim, "opaque-types")).unwrap();
    let ours = c.walk(&la).unwrap();
    let (theirs, _) = net_snmp(&[
        "snmpbulkwalk",
        "-v2c",
        "-c",
        "opaque-types",
        &sim.addr(),
        "1.3.6.1.4.1.2021.10.1.6",
    ]);
    assert_same("opaque", &ours, &theirs);
    let values: Vec<&Value> = ours.iter().map(|vb| &vb.value).collect();
    assert_eq!(values[0], &Value::OpaqueFloat(0.67));
    assert_eq!(values[1], &Value::OpaqueFloat(-1.0));
    assert_eq!(values[2], &Value::OpaqueDouble(2.5));
    assert_eq!(values[3], &Value::OpaqueDouble(-1234.5678));
    assert_eq!(values[4], &Value::Opaque(vec![1, 2, 3, 4, 5]));
    assert_eq!(
        values[0].opaque_raw().unwrap(),
        [0x9f, 0x78, 0x04, 0x3f, 0x2b, 0x85, 0x1f]
    );
    // The semac camera's real laLoadFloat rows.
    let mut c = Client::connect(&v2c(&sim, "semac-ipcam-500")).unwrap();
    let rows = c.walk(&la).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|vb| matches!(vb.value, Value::OpaqueFloat(_))),
        "{rows:?}"
    );
}
