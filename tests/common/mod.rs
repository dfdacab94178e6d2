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
