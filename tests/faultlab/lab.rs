//! The fault lab: a network namespace holding the real peers, joined to the
//! test process by a veth pair with private addresses that exist only on this
//! machine, and the faults the tests inject into that link.
//!
//! - loss and blackhole: nftables rules inside the peers' namespace (random
//!   drops with `numgen`, or every packet both ways);
//! - latency: `tc netem` on the test side of the link when the kernel has it,
//!   else a delay relay in this process (half the latency each way) on the
//!   test side's address (the kernel of the CI VMs has no `sch_netem`);
//! - link down/up: the peers' end of the veth pair;
//! - peers killed and restarted inside the namespace.
//!
//! Everything is torn down by `Drop` (also when a test panics), and `Lab::new`
//! first removes what a crashed earlier run left behind (namespaces and links
//! named after a process that no longer exists). Nothing here contacts an
//! address outside the namespace's /30 and loopback.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const NS_PREFIX: &str = "eplab-";

/// True when this process may create namespaces (it runs as root).
pub fn is_root() -> bool {
    // The effective uid, from /proc (no libc, no unsafe).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .is_some_and(|uid| uid == "0")
}

/// Runs a command to completion; panics with its output when it fails.
pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {}", install_hint(program)));
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command; returns whether it succeeded (its output is dropped).
fn try_run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn install_hint(program: &str) -> &'static str {
    match program {
        "ip" | "tc" => "install iproute2 (`apt-get install iproute2`; bash scripts/test does)",
        "nft" => "install nftables (`apt-get install nftables`; bash scripts/test does)",
        _ => "see DESIGN.md, Getting the real peers (bash scripts/test installs them)",
    }
}

/// Removes namespaces and links left by lab runs whose process is gone.
fn remove_stale() {
    let alive = |pid: &str| Path::new("/proc").join(pid).exists();
    for line in output("ip", &["netns", "list"]).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if alive(pid) {
            continue;
        }
        eprintln!("fault lab: removing the stale namespace {name}");
        for p in output("ip", &["netns", "pids", name]).split_whitespace() {
            let _ = try_run("kill", &["-9", p]);
        }
        let _ = try_run("ip", &["netns", "del", name]);
    }
    for line in output("ip", &["-o", "link", "show"]).lines() {
        // "12: epl1234h1@if11: <...>"
        let Some(name) = line.split(':').nth(1).map(str::trim) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or_default();
        if let Some(rest) = name.strip_prefix("epl") {
            let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !pid.is_empty() && !alive(&pid) {
                eprintln!("fault lab: removing the stale link {name}");
                let _ = try_run("ip", &["link", "del", name]);
            }
        }
    }
}

static LABS: AtomicU32 = AtomicU32::new(0);

/// One namespace with a veth link to this process's namespace.
pub struct Lab {
    pub ns: String,
    host_if: String,
    peer_if: String,
    /// This side of the link.
    pub host_ip: Ipv4Addr,
    /// The peers' side: every peer listens here.
    pub peer_ip: Ipv4Addr,
    pub dir: PathBuf,
    netem: bool,
}

impl Lab {
    /// Creates the namespace, the link and the (empty) nftables table.
    pub fn new() -> Lab {
        remove_stale();
        let pid = std::process::id();
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let ns = format!("{NS_PREFIX}{pid}-{n}");
        let host_if = format!("epl{pid}h{n}");
        let peer_if = format!("epl{pid}p{n}");
        // 10.X.Y.0/30 from the pid and the lab number: private, and unlikely
        // to meet another run's.
        let x = 20 + (pid % 200) as u8;
        let y = (n % 64) as u8 * 4;
        let host_ip = Ipv4Addr::new(10, x, 0, y + 1);
        let peer_ip = Ipv4Addr::new(10, x, 0, y + 2);
        let dir = std::env::temp_dir().join(format!("edgepool-faultlab-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let lab = Lab {
            ns,
            host_if,
            peer_if,
            host_ip,
            peer_ip,
            dir,
            netem: false,
        };
        let (ns, h, p) = (&lab.ns, &lab.host_if, &lab.peer_if);
        run("ip", &["netns", "add", ns]);
        run(
            "ip",
            &[
                "link", "add", h, "type", "veth", "peer", "name", p, "netns", ns,
            ],
        );
        run("ip", &["addr", "add", &format!("{host_ip}/30"), "dev", h]);
        run("ip", &["link", "set", h, "up"]);
        run(
            "ip",
            &["-n", ns, "addr", "add", &format!("{peer_ip}/30"), "dev", p],
        );
        run("ip", &["-n", ns, "link", "set", p, "up"]);
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        lab.nft(
            "add table inet eplab\n\
             add chain inet eplab input { type filter hook input priority 0; policy accept; }\n\
             add chain inet eplab output { type filter hook output priority 0; policy accept; }\n",
        );
        lab
    }

    fn nft(&self, script: &str) {
        let path = self.dir.join("rules.nft");
        std::fs::write(&path, script).expect("nft script");
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns,
                "nft",
                "-f",
                path.to_str().expect("utf-8 path"),
            ],
        );
    }

    /// Drops `percent` % of the packets on the link, each way, at random.
    pub fn loss(&self, percent: u32) {
        let p = &self.peer_if;
        self.nft(&format!(
            "flush chain inet eplab input\n\
             flush chain inet eplab output\n\
             add rule inet eplab input iifname \"{p}\" numgen random mod 100 < {percent} drop\n\
             add rule inet eplab output oifname \"{p}\" numgen random mod 100 < {percent} drop\n"
        ));
    }

    /// Every packet on the link is dropped, both ways (no RST, no ICMP).
    pub fn blackhole(&self) {
        let p = &self.peer_if;
        self.nft(&format!(
            "flush chain inet eplab input\n\
             flush chain inet eplab output\n\
             add rule inet eplab input iifname \"{p}\" drop\n\
             add rule inet eplab output oifname \"{p}\" drop\n"
        ));
    }

    /// Lifts loss and blackhole.
    pub fn clear(&self) {
        self.nft("flush chain inet eplab input\nflush chain inet eplab output\n");
    }

    /// The peers' end of the link goes down (this end loses its carrier).
    pub fn link_down(&self) {
        run(
            "ip",
            &["-n", &self.ns, "link", "set", &self.peer_if, "down"],
        );
    }

    pub fn link_up(&self) {
        run("ip", &["-n", &self.ns, "link", "set", &self.peer_if, "up"]);
    }

    /// Adds `rtt` of round-trip latency to TCP `port` (or UDP with `udp`) of
    /// the peers; returns the address the clients use and a guard that
    /// removes the latency when dropped. With `tc netem` that is the peer's
    /// own address; without it, a delay relay on this side of the link.
    pub fn latency(&mut self, port: u16, udp: bool, rtt: Duration) -> Latency {
        let target = SocketAddr::new(IpAddr::V4(self.peer_ip), port);
        let delay = format!("{}ms", rtt.as_millis());
        if try_run(
            "tc",
            &[
                "qdisc",
                "replace",
                "dev",
                &self.host_if,
                "root",
                "netem",
                "delay",
                &delay,
            ],
        ) {
            self.netem = true;
            return Latency {
                addr: target,
                how: "tc netem",
                qdisc: Some(self.host_if.clone()),
                relay: None,
            };
        }
        let bind = SocketAddr::new(IpAddr::V4(self.host_ip), 0);
        let relay = if udp {
            Relay::udp(bind, target, rtt / 2)
        } else {
            Relay::tcp(bind, target, rtt / 2)
        };
        Latency {
            addr: relay.addr,
            how: "delay relay (no sch_netem in this kernel)",
            qdisc: None,
            relay: Some(relay),
        }
    }

    /// Starts `program args` inside the namespace.
    pub fn spawn(&self, program: &str, args: &[String], stdout: Stdio, stdin: Stdio) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, program])
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}): {}", install_hint(program)))
    }

    pub fn peer(&self, port: u16) -> String {
        format!("{}:{port}", self.peer_ip)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.netem {
            let _ = try_run("tc", &["qdisc", "del", "dev", &self.host_if, "root"]);
        }
        for p in output("ip", &["netns", "pids", &self.ns]).split_whitespace() {
            let _ = try_run("kill", &["-9", p]);
        }
        let _ = try_run("ip", &["netns", "del", &self.ns]);
        // The pair goes with the namespace; this is for a half-made lab.
        let _ = try_run("ip", &["link", "del", &self.host_if]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Added latency, removed on drop.
pub struct Latency {
    pub addr: SocketAddr,
    pub how: &'static str,
    qdisc: Option<String>,
    relay: Option<Relay>,
}

impl Drop for Latency {
    fn drop(&mut self) {
        if let Some(dev) = &self.qdisc {
            let _ = try_run("tc", &["qdisc", "del", "dev", dev, "root"]);
        }
        self.relay.take();
    }
}

// ---- the delay relay -------------------------------------------------------

/// Forwards to `target`, holding every chunk (TCP) or datagram (UDP) for
/// `delay` each way. Its threads end and are joined on drop.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    fn tcp(bind: SocketAddr, target: SocketAddr, delay: Duration) -> Relay {
        let listener = TcpListener::bind(bind).expect("relay bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("relay addr");
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (s, t) = (stop.clone(), threads.clone());
        let accept = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(upstream) =
                            TcpStream::connect_timeout(&target, Duration::from_secs(2))
                        else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = upstream.set_nodelay(true);
                        let mut t = t.lock().expect("relay threads");
                        for (from, to) in [(&client, &upstream), (&upstream, &client)] {
                            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                                continue;
                            };
                            t.extend(pump(from, to, delay, s.clone()));
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        threads.lock().expect("relay threads").push(accept);
        Relay {
            addr,
            stop,
            threads,
        }
    }

    fn udp(bind: SocketAddr, target: SocketAddr, delay: Duration) -> Relay {
        let front = UdpSocket::bind(bind).expect("relay bind");
        front.set_nonblocking(true).expect("nonblocking");
        let addr = front.local_addr().expect("relay addr");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let host = bind.ip();
        let worker = thread::spawn(move || {
            let mut ups: HashMap<SocketAddr, UdpSocket> = HashMap::new();
            // (due, to the peer?, client, datagram)
            let mut queue: Vec<(Instant, bool, SocketAddr, Vec<u8>)> = Vec::new();
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::SeqCst) {
                while let Ok((n, client)) = front.recv_from(&mut buf) {
                    queue.push((Instant::now() + delay, true, client, buf[..n].to_vec()));
                }
                for (client, up) in &ups {
                    while let Ok(n) = up.recv(&mut buf) {
                        queue.push((Instant::now() + delay, false, *client, buf[..n].to_vec()));
                    }
                }
                let now = Instant::now();
                let mut i = 0;
                while i < queue.len() {
                    if queue[i].0 > now {
                        i += 1;
                        continue;
                    }
                    let (_, up, client, data) = queue.swap_remove(i);
                    if up {
                        let sock = ups.entry(client).or_insert_with(|| {
                            let u = UdpSocket::bind(SocketAddr::new(host, 0)).expect("bind");
                            u.connect(target).expect("connect");
                            u.set_nonblocking(true).expect("nonblocking");
                            u
                        });
                        let _ = sock.send(&data);
                    } else {
                        let _ = front.send_to(&data, client);
                    }
                }
                thread::sleep(Duration::from_millis(1));
            }
        });
        Relay {
            addr,
            stop,
            threads: Arc::new(Mutex::new(vec![worker])),
        }
    }
}

/// Copies `from` to `to`, each chunk `delay` late: a reader and a writer thread.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    stop: Arc<AtomicBool>,
) -> [JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel::<Option<(Instant, Vec<u8>)>>();
    let s = stop.clone();
    let reader = thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = vec![0u8; 16_384];
        while !s.load(Ordering::SeqCst) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send(Some((Instant::now() + delay, buf[..n].to_vec())))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(None);
    });
    let writer = thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Some((due, data))) => {
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                    if to.write_all(&data).is_err() {
                        break;
                    }
                }
                Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
    [reader, writer]
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        loop {
            let next = self.threads.lock().expect("relay threads").pop();
            match next {
                Some(t) => {
                    let _ = t.join();
                }
                None => break,
            }
        }
    }
}

// ---- the peers -------------------------------------------------------------

/// A peer process inside the namespace, killed on drop.
pub struct Peer {
    program: String,
    args: Vec<String>,
    child: Option<Child>,
    lines: Option<mpsc::Receiver<String>>,
    /// The reader thread of the last start's stdout (ends with the process).
    reader: Option<JoinHandle<()>>,
    ready: Box<dyn Fn(&mut Peer) -> bool + Send>,
    what: &'static str,
    pub addr: String,
    pub port: u16,
}

impl Peer {
    /// Kills it (connections drop, the port refuses).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.lines = None;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// Starts it (again) and waits until it answers.
    pub fn start(&mut self, lab: &Lab) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut child = lab.spawn(&self.program, &self.args, Stdio::piped(), Stdio::piped());
            let (tx, rx) = mpsc::channel();
            let stdout = child.stdout.take().expect("stdout");
            self.reader = Some(thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }));
            self.child = Some(child);
            self.lines = Some(rx);
            let ready = std::mem::replace(&mut self.ready, Box::new(|_| false));
            let step = Instant::now() + Duration::from_secs(5);
            let mut ok = false;
            while Instant::now() < step {
                if ready(self) {
                    ok = true;
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            self.ready = ready;
            if ok {
                return;
            }
            self.kill();
            assert!(
                Instant::now() < deadline,
                "{} did not start in the fault lab's namespace",
                self.what
            );
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.write_all(b"quit\n");
            }
        }
        self.kill();
    }
}

impl Lab {
    /// redis-server with an append-only file fsynced before every reply, so
    /// that what it acknowledged survives a kill -9.
    pub fn redis(&self) -> Peer {
        let port = 6379;
        let dir = self.dir.join("redis");
        std::fs::create_dir_all(&dir).expect("redis dir");
        let addr = self.peer(port);
        let a = addr.clone();
        let mut peer = Peer {
            program: "redis-server".into(),
            args: [
                "--port",
                "6379",
                "--bind",
                &self.peer_ip.to_string(),
                "--protected-mode",
                "no",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                dir.to_str().expect("utf-8 path"),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            child: None,
            lines: None,
            reader: None,
            ready: Box::new(move |_| {
                let Ok(addr) = a.parse::<SocketAddr>() else {
                    return false;
                };
                let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300))
                else {
                    return false;
                };
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 64];
                s.write_all(b"PING\r\n").is_ok()
                    && s.read(&mut buf)
                        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
            }),
            what: "redis-server (apt-get install redis-server)",
            addr,
            port,
        };
        peer.start(self);
        peer
    }

    /// net-snmp snmpd with `public`/`private` for this side of the link and
    /// the v3 users of tests/common, its own config and persistent dir.
    pub fn snmpd(&self, v3_users: &str) -> Peer {
        let port = 161;
        let dir = self.dir.join("snmpd");
        let persist = dir.join("persist");
        std::fs::create_dir_all(&persist).expect("snmpd dir");
        let conf = dir.join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:{}:{port}\n\
                 rocommunity public {}\n\
                 rwcommunity private {}\n\
                 sysLocation edgepool-fault-lab\n\
                 {v3_users}\n",
                self.peer_ip, self.host_ip, self.host_ip
            ),
        )
        .expect("snmpd.conf");
        let snmpd = ["/usr/sbin/snmpd", "/usr/local/sbin/snmpd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("snmpd");
        // `ip netns exec` keeps the environment: SNMP_PERSISTENT_DIR through `env`.
        let args = vec![
            format!("SNMP_PERSISTENT_DIR={}", persist.display()),
            "MIBS=".to_string(),
            snmpd.to_string(),
            "-f".into(),
            "-C".into(),
            "-c".into(),
            format!(
                "{},{}",
                conf.display(),
                persist.join("snmpd.conf").display()
            ),
            "-Lf".into(),
            dir.join("snmpd.log").display().to_string(),
            "-p".into(),
            dir.join("snmpd.pid").display().to_string(),
            "-I".into(),
            "-smux".into(),
        ];
        let addr = self.peer(port);
        let a = addr.clone();
        let host = self.host_ip;
        let mut peer = Peer {
            program: "env".into(),
            args,
            child: None,
            lines: None,
            reader: None,
            ready: Box::new(move |_| {
                // GET sysUpTime.0, community "public", request-id 1.
                const GET: [u8; 40] = [
                    0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
                    0xa0, 0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e,
                    0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05,
                    0x00,
                ];
                let Ok(s) = UdpSocket::bind(SocketAddr::new(IpAddr::V4(host), 0)) else {
                    return false;
                };
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 512];
                s.send_to(&GET, a.as_str()).is_ok() && s.recv(&mut buf).is_ok()
            }),
            what: "snmpd (apt-get install snmpd)",
            addr,
            port,
        };
        peer.start(self);
        peer
    }

    /// The C++ Snap7 server of tests/s7_server.py on the peers' address.
    pub fn snap7(&self, python: &Path) -> Peer {
        let port = 10_102;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s7_server.py");
        let mut peer = Peer {
            program: python.display().to_string(),
            args: vec![
                script.display().to_string(),
                port.to_string(),
                self.peer_ip.to_string(),
            ],
            child: None,
            lines: None,
            reader: None,
            ready: Box::new(|p: &mut Peer| {
                p.lines
                    .as_ref()
                    .is_some_and(|rx| rx.try_recv().is_ok_and(|l| l == "READY"))
            }),
            what: "the Snap7 server (python-snap7 2.1.0 in target/s7-venv)",
            addr: self.peer(port),
            port,
        };
        peer.start(self);
        peer
    }
}

// ---- what the process holds ------------------------------------------------

/// Open descriptors and threads of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub fds: usize,
    pub threads: usize,
}

impl Held {
    pub fn now() -> Held {
        let count = |p: &str| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
        Held {
            // read_dir holds one descriptor of its own while counting.
            fds: count("/proc/self/fd").saturating_sub(1),
            threads: count("/proc/self/task"),
        }
    }
}
