//! Helpers shared by the integration tests.
#![allow(dead_code)]

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
