//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod tls;

use std::thread;
use std::time::{Duration, Instant};

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually_within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// [`eventually_within`] two seconds.
pub fn eventually(cond: impl FnMut() -> bool) -> bool {
    eventually_within(Duration::from_secs(2), cond)
}

/// A real `redis-server` on a free loopback port, in its own temp dir, killed
/// on drop (also when the test panics).
pub struct RedisServer {
    pub port: u16,
    args: Vec<String>,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts one with `extra` arguments (e.g. `--requirepass x`).
    pub fn start(extra: &[&str]) -> RedisServer {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("edgepool-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = RedisServer {
            port,
            args: extra.iter().map(|s| s.to_string()).collect(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server (connections drop, the port refuses).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let log = self.dir.join("redis.log");
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): install it with \
                     `apt-get install redis-server` (bash scripts/test does)"
                )
            });
        self.child = Some(child);
        let ok = eventually_within(Duration::from_secs(10), || self.answers());
        assert!(
            ok,
            "redis-server did not come up on port {}: {}",
            self.port,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf).is_ok_and(|n| {
                let reply = &buf[..n];
                reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH")
            })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local_addr").port()
}

/// A real net-snmp `snmpd` on a free loopback UDP port, with its own config
/// and persistent dir in a temp folder (never the system ones), killed on drop.
pub struct SnmpServer {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl SnmpServer {
    /// Communities `public` (read-only) and `private` (read-write), a fixed
    /// `sysLocation` (so it is notWritable) and `extra` config lines.
    pub fn start(extra: &str) -> SnmpServer {
        let port = free_udp_port();
        let dir =
            std::env::temp_dir().join(format!("edgepool-snmpd-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = format!(
            "agentAddress udp:127.0.0.1:{port}\n\
             rocommunity public 127.0.0.1\n\
             rwcommunity private 127.0.0.1\n\
             sysLocation edgepool-test-lab\n\
             sysServices 72\n\
             {extra}\n"
        );
        std::fs::write(dir.join("snmpd.conf"), conf).expect("snmpd.conf");
        let mut server = SnmpServer {
            port,
            dir,
            child: None,
        };
        server.restart();
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The running snmpd's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.join("snmpd.conf");
        let persistent = self.dir.join("persist");
        let _ = std::fs::create_dir_all(&persistent);
        let mut conf_arg = conf.into_os_string();
        conf_arg.push(",");
        conf_arg.push(persistent.join("snmpd.conf"));
        let child = std::process::Command::new(snmpd_path())
            .env("SNMP_PERSISTENT_DIR", &persistent)
            .env("MIBS", "")
            .arg("-f")
            .arg("-C")
            .arg("-c")
            .arg(&conf_arg)
            .arg("-Lf")
            .arg(self.dir.join("snmpd.log"))
            .arg("-p")
            .arg(self.dir.join("snmpd.pid"))
            .args(["-I", "-smux"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start snmpd ({e}): install it with `apt-get install snmpd snmp` (bash scripts/test does)"));
        self.child = Some(child);
        let ok = eventually_within(Duration::from_secs(10), || self.answers());
        assert!(
            ok,
            "snmpd did not answer on port {}: {}",
            self.port,
            std::fs::read_to_string(self.dir.join("snmpd.log")).unwrap_or_default()
        );
    }

    fn answers(&self) -> bool {
        // A GET sysUpTime.0 with community "public", request-id 1.
        const GET: [u8; 40] = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00,
        ];
        let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 512];
        s.send_to(&GET, ("127.0.0.1", self.port)).is_ok() && s.recv(&mut buf).is_ok()
    }
}

impl Drop for SnmpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn snmpd_path() -> std::path::PathBuf {
    for p in ["/usr/sbin/snmpd", "/usr/local/sbin/snmpd"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "snmpd".into()
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("local_addr").port()
}

// ---- S7: the C++ Snap7 server -------------------------------------------

/// Byte `i` of the area seeded `seed` in `tests/s7_server.py` (the same
/// formula as its `pattern`).
pub fn s7_pattern(seed: u32, i: usize) -> u8 {
    let i = i as u32;
    ((seed * 31 + i * 7 + (i >> 8)) & 0xff) as u8
}

/// `len` bytes of that pattern from byte `start`.
pub fn s7_bytes(seed: u32, start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| s7_pattern(seed, i)).collect()
}

/// A Python with `python-snap7==2.1.0` (which bundles the C++ `libsnap7.so`):
/// `$EDGEPOOL_S7_PYTHON` if set, else the venv `target/s7-venv`, created on
/// first use with `python3 -m venv` and `pip install python-snap7==2.1.0`.
/// Panics, saying how to install it, when that fails.
pub fn s7_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    static PYTHON: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let works = |py: &std::path::Path| {
            Command::new(py)
                .args(["-c", "import snap7.server, snap7.client"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if let Some(py) = std::env::var_os("EDGEPOOL_S7_PYTHON") {
            let py = PathBuf::from(py);
            return if works(&py) {
                Ok(py)
            } else {
                Err(format!(
                    "EDGEPOOL_S7_PYTHON={} cannot import snap7",
                    py.display()
                ))
            };
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let venv = target.join("s7-venv");
        let py = venv.join("bin").join("python");
        if works(&py) {
            return Ok(py);
        }
        // Build it aside and move it in place, so that a half-made venv is
        // never mistaken for a working one.
        let tmp = target.join(format!("s7-venv.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        eprintln!("creating {} with python-snap7==2.1.0", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&tmp))?;
        run(Command::new(tmp.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "python-snap7==2.1.0",
        ]))?;
        let _ = std::fs::remove_dir_all(&venv);
        std::fs::rename(&tmp, &venv).map_err(|e| format!("rename to {}: {e}", venv.display()))?;
        if works(&py) {
            Ok(py)
        } else {
            Err(format!("{} cannot import snap7", py.display()))
        }
    });
    match found {
        Ok(py) => py.clone(),
        Err(e) => panic!(
            "the S7 tests need the C++ Snap7 server from PyPI's python-snap7==2.1.0, and \
             setting it up failed: {e}\n\
             Install Python's venv module (Debian: `apt-get install python3-venv`; \
             bash scripts/test does) and let the tests create target/s7-venv (needs PyPI), \
             or create it yourself: `python3 -m venv target/s7-venv && \
             target/s7-venv/bin/pip install python-snap7==2.1.0`, or point \
             EDGEPOOL_S7_PYTHON at a Python that has python-snap7 2.1.0."
        ),
    }
}

/// The real C++ Snap7 server (`tests/s7_server.py`) on a free loopback port,
/// killed on drop (also when the test panics).
pub struct S7Server {
    pub port: u16,
    child: Option<std::process::Child>,
    lines: Option<std::sync::mpsc::Receiver<String>>,
}

impl S7Server {
    pub fn start() -> S7Server {
        let mut server = S7Server {
            port: free_port(),
            child: None,
            lines: None,
        };
        server.restart();
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server: connections drop, the port refuses.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.lines = None;
    }

    /// Starts it (again) on the same port; waits until it says READY.
    pub fn restart(&mut self) {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        self.stop();
        let python = s7_python();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s7_server.py");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut child = Command::new(&python)
                .arg(&script)
                .arg(self.port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
            let (tx, rx) = std::sync::mpsc::channel();
            let stdout = child.stdout.take().expect("stdout");
            thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line == "READY" => {
                    self.child = Some(child);
                    self.lines = Some(rx);
                    return;
                }
                other => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("wait");
                    // The port may still be held by the last run's sockets.
                    assert!(
                        Instant::now() < deadline,
                        "the Snap7 server did not start on port {} ({other:?}): {}",
                        self.port,
                        String::from_utf8_lossy(&out.stderr)
                    );
                    thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Sets the CPU status the server reports: RUN (`true`) or STOP.
    pub fn set_run(&mut self, run: bool) {
        use std::io::Write;
        let cmd = if run { "run" } else { "stop" };
        let child = self.child.as_mut().expect("server running");
        let stdin = child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{cmd}").expect("write to the server");
        stdin.flush().expect("flush");
        let rx = self.lines.as_ref().expect("stdout");
        let answer = rx.recv_timeout(Duration::from_secs(5)).expect("answer");
        assert_eq!(answer, format!("OK {cmd}"));
    }
}

impl Drop for S7Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SNMPv3 users for [`SnmpServer::start_v3`] (`createUser` lines in the
/// config file the harness names first in `-c`; snmpd localizes them at
/// start and stores the keys in its persistent file). All may write
/// (`rwuser`), at the security level of their name.
pub const SNMP_V3_USERS: &str = "\
createUser shaaes SHA \"shaauthpass\" AES \"shaprivpass\"
createUser md5des MD5 \"md5authpass\" DES \"md5privpass\"
createUser sha256u SHA-256 \"sha256authpass\"
createUser sha512aes SHA-512 \"sha512authpass\" AES \"sha512privpass\"
createUser noauthu
rwuser shaaes priv
rwuser md5des priv
rwuser sha256u auth
rwuser sha512aes priv
rwuser noauthu noauth
";

impl SnmpServer {
    /// [`SnmpServer::start`] with [`SNMP_V3_USERS`] and `extra` lines.
    pub fn start_v3(extra: &str) -> SnmpServer {
        SnmpServer::start(&format!("{SNMP_V3_USERS}{extra}"))
    }

    /// snmpEngineBoots as the agent last stored it in its persistent file.
    pub fn engine_boots(&self) -> Option<u32> {
        self.persistent_value("engineBoots ")?.parse().ok()
    }

    /// The agent's engine ID, from its persistent file (`oldEngineID 0x…`).
    pub fn engine_id(&self) -> Option<Vec<u8>> {
        let hex = self.persistent_value("oldEngineID 0x")?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }

    fn persistent_value(&self, prefix: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("persist").join("snmpd.conf")).ok()?;
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
    }
}
