//! What a TLS dial costs the tunnel pools, against OpenSSL's own handshake
//! loop on the same machine, certificate and TLS version, in one run:
//!
//! - `openssl s_time -new -tls1_3` against `openssl s_server -tls1_3` (the
//!   floor: OpenSSL's own client and server) and against edgepool's
//!   `ServerPool` (same certificate: an ECDSA P-256 one made by `openssl req`);
//! - edgepool's `ClientPool` refilling `EDGEPOOL_BENCH_STOCK` (default 1024)
//!   connections after a flush, against the `ServerPool`, with TLS and
//!   without: wall time, client CPU per dial (this process) and server CPU
//!   per dial (the server runs in a child process: this bench started again
//!   with `--serve`).
//!
//! CPU comes from `/proc/<pid>/stat` (user + system, clock ticks), so Linux
//! only. Rounds interleave the variants; the table shows medians.
//! `cargo bench --bench tunnel_tls` (about a minute); `EDGEPOOL_BENCH_ROUNDS`
//! (default 5). Without `--bench` (as `cargo test --all-targets` runs it) it
//! only checks that every part works, with a small stock and 1 s runs.
//! `--serve DIR` and `--dials ADDR N fresh|pooled` run one side alone, for
//! counting instructions per handshake under callgrind (see `dials`).

mod harness;

use harness::{env_u64, median};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use edgepool::net::TlsMode;
use edgepool::tunnel::{ClientPool, ServerPool, ServerTls};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(args.get(2).map(PathBuf::from));
        return;
    }
    if args.get(1).map(String::as_str) == Some("--dials") {
        dials(&args[2..]);
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let rounds = if bench {
        env_u64("EDGEPOOL_BENCH_ROUNDS", 5).max(1) as usize
    } else {
        1
    };
    let stock = if bench {
        env_u64("EDGEPOOL_BENCH_STOCK", 1024).clamp(1, 16_384) as usize
    } else {
        32
    };
    let s_time_secs = if bench { 3 } else { 1 };
    let dir = scratch_dir();
    make_cert(&dir);

    let mut s_server = Server::openssl(&dir);
    let mut ours_tls = Server::edgepool(Some(&dir));
    let mut ours_tcp = Server::edgepool(None);

    // rows: name → samples of (per second, client µs, server µs).
    let names = [
        "s_time -new → openssl s_server",
        "s_time -new → edgepool ServerPool",
        "ClientPool refill → ServerPool, TLS",
        "ClientPool refill → ServerPool, TCP",
    ];
    let mut samples: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); names.len()];
    let mut refill_ms: Vec<Vec<f64>> = vec![Vec::new(); 2];
    for round in 0..rounds {
        for k in 0..names.len() {
            let i = (round + k) % names.len();
            let sample = match i {
                0 => s_time(&mut s_server, s_time_secs),
                1 => s_time(&mut ours_tls, s_time_secs),
                2 | 3 => {
                    let server = if i == 2 { &mut ours_tls } else { &mut ours_tcp };
                    let (ms, sample) = refill(server, i == 2, stock);
                    refill_ms[i - 2].push(ms);
                    sample
                }
                _ => unreachable!(),
            };
            samples[i].push(sample);
        }
        if bench {
            eprint!("round {}/{rounds} done\r", round + 1);
        }
    }
    if !bench {
        println!("tunnel_tls bench: smoke run passed (run `cargo bench --bench tunnel_tls`)");
        return;
    }
    eprintln!();
    println!(
        "TLS 1.3, ECDSA P-256 certificate, X25519; loopback; medians of {rounds} interleaved \
         rounds; refill = {stock} connections after a flush"
    );
    println!(
        "  {:<38} {:>13} {:>15} {:>15} {:>10}",
        "variant", "handshakes/s", "client µs/dial", "server µs/dial", "refill ms"
    );
    let floor = median(&mut samples[0].iter().map(|s| s.0).collect::<Vec<_>>());
    for (i, name) in names.iter().enumerate() {
        let col = |f: fn(&(f64, f64, f64)) -> f64| {
            median(&mut samples[i].iter().map(f).collect::<Vec<_>>())
        };
        let (rate, client, server) = (col(|s| s.0), col(|s| s.1), col(|s| s.2));
        let refill = if i >= 2 {
            format!("{:.0}", median(&mut refill_ms[i - 2].clone()))
        } else {
            "-".into()
        };
        println!(
            "  {name:<38} {rate:>8.0} {:>4} {client:>15.0} {server:>15.0} {refill:>10}",
            format!("{:.2}x", rate / floor)
        );
    }
    println!("  (x = handshakes/s ÷ s_time against s_server)");
}

/// The `--serve` child: a `ServerPool` (TLS with the certificate in `dir`,
/// or plain) that prints its port and runs until its standard input closes.
fn serve(dir: Option<PathBuf>) {
    let tls = match &dir {
        Some(dir) => ServerTls::Pem {
            cert: std::fs::read(dir.join("cert.pem")).expect("cert"),
            key: std::fs::read(dir.join("key.pem")).expect("key"),
        },
        None => ServerTls::Off,
    };
    let server = ServerPool::builder()
        .tls(tls)
        .max_capacity(65_536)
        .bind("127.0.0.1:0")
        .expect("bind");
    println!("PORT {}", server.local_addr().port());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// `--dials ADDR N fresh|pooled`: `N` TLS dials to a `--serve` child at
/// `ADDR`, for counting instructions per dial (run it under
/// `valgrind --tool=callgrind` with two values of `N`; the difference
/// divided by the extra dials is the cost of one). `fresh`: a pool of one
/// per dial, so every handshake is a full one; `pooled`: one pool of `N`,
/// whose redials resume with the server's tickets.
fn dials(args: &[String]) {
    let usage = "--dials ADDR N fresh|pooled";
    let addr = args.first().expect(usage);
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).expect(usage);
    let builder = |capacity: usize| {
        ClientPool::builder(addr.clone())
            .min_capacity(capacity)
            .max_capacity(capacity)
            .min_interval(Duration::from_millis(1))
            .max_interval(Duration::from_millis(1))
            .dial_concurrency(1)
            .tls(TlsMode::Insecure)
    };
    match args.get(2).map(String::as_str) {
        Some("fresh") => {
            for _ in 0..n {
                let pool = builder(1).start().expect("client pool");
                wait_full(&pool, 1);
                pool.close();
            }
        }
        Some("pooled") => {
            let pool = builder(n).start().expect("client pool");
            wait_full(&pool, n);
            pool.close();
        }
        _ => panic!("{usage}"),
    }
}

struct Server {
    child: Child,
    port: u16,
    _stdout: Option<BufReader<ChildStdout>>,
}

impl Server {
    fn edgepool(dir: Option<&Path>) -> Server {
        let mut cmd = Command::new(std::env::current_exe().expect("this bench"));
        cmd.arg("--serve");
        if let Some(dir) = dir {
            cmd.arg(dir);
        }
        Server::start(cmd, "PORT ")
    }

    /// `openssl s_server -quiet` (it prints nothing then, so the port is
    /// picked here and the server polled until it accepts).
    fn openssl(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-tls1_3", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", "cert.pem", "-key", "key.pem"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server (on Debian: apt-get install openssl)");
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "openssl s_server did not listen");
            thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            port,
            _stdout: None,
        }
    }

    fn start(mut cmd: Command, prefix: &str) -> Server {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (on Debian: apt-get install openssl)"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let port = loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("{cmd:?} exited before listening");
            }
            if let Some(port) = line.trim().strip_prefix(prefix) {
                break port.parse().expect("a port");
            }
        };
        Server {
            child,
            port,
            _stdout: Some(stdout),
        }
    }

    fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_time -new` for `secs` against `server`: handshakes per second,
/// s_time's CPU per handshake (its "connections/user sec" counts user time
/// only, so this is measured from `/proc` like the rest), the server's.
fn s_time(server: &mut Server, secs: u64) -> (f64, f64, f64) {
    let before = server.cpu();
    let start = Instant::now();
    let child = Command::new("openssl")
        .args(["s_time", "-new", "-tls1_3", "-time", &secs.to_string()])
        .arg("-connect")
        .arg(format!("127.0.0.1:{}", server.port))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_time");
    let pid = child.id();
    // s_time's own CPU: read its /proc entry just before it exits is racy;
    // use the children's CPU of this process instead (waited for below).
    let children_before = children_cpu();
    let out = child.wait_with_output().expect("s_time output");
    let wall = start.elapsed().as_secs_f64();
    let client = children_cpu().saturating_sub(children_before);
    let server_cpu = server.cpu().saturating_sub(before);
    let text = String::from_utf8_lossy(&out.stdout);
    let n: f64 = text
        .lines()
        .find_map(|l| l.split(" connections in ").next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("s_time (pid {pid}) printed no count: {text}"));
    (
        n / wall,
        client.as_secs_f64() * 1e6 / n,
        server_cpu.as_secs_f64() * 1e6 / n,
    )
}

/// A `ClientPool` of `stock` against `server`: starts it (all dials in one
/// round), waits for the full stock, and measures that refill (wall time,
/// this process's CPU, the server's CPU). Then flushes it and measures
/// the refill after the flush, which is what is returned.
fn refill(server: &mut Server, tls: bool, stock: usize) -> (f64, (f64, f64, f64)) {
    let client = ClientPool::builder(format!("127.0.0.1:{}", server.port))
        .min_capacity(stock)
        .max_capacity(stock)
        .min_interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(1))
        .tls(if tls { TlsMode::Insecure } else { TlsMode::Off })
        .start()
        .expect("client pool");
    wait_full(&client, stock);
    let (own, theirs) = (cpu_of("/proc/self/stat"), server.cpu());
    let start = Instant::now();
    client.flush();
    wait_full(&client, stock);
    let wall = start.elapsed();
    let own = cpu_of("/proc/self/stat").saturating_sub(own);
    let theirs = server.cpu().saturating_sub(theirs);
    assert_eq!(client.errors(), 0, "{:?}", client.last_error());
    client.close();
    let n = stock as f64;
    (
        wall.as_secs_f64() * 1e3,
        (
            n / wall.as_secs_f64(),
            own.as_secs_f64() * 1e6 / n,
            theirs.as_secs_f64() * 1e6 / n,
        ),
    )
}

fn wait_full(client: &ClientPool, stock: usize) {
    let end = Instant::now() + Duration::from_secs(120);
    while client.active() < stock {
        assert!(Instant::now() < end, "no full stock: {client:?}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// User + system CPU of a process from its `stat` file.
fn cpu_of(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    ticks(&stat, 13) + ticks(&stat, 14)
}

/// CPU of this process's waited-for children (`cutime` + `cstime`).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    ticks(&stat, 15) + ticks(&stat, 16)
}

/// Field `index` (0-based, counting from the pid) of a `stat` line, in clock
/// ticks of 10 ms (USER_HZ is 100 on Linux).
fn ticks(stat: &str, index: usize) -> Duration {
    // The command name is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let value: u64 = rest
        .split_whitespace()
        .nth(index - 2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(value * 10)
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgepool-tunnel-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// An ECDSA P-256 self-signed certificate for localhost, as
/// `ServerTls::SelfSigned` makes.
fn make_cert(dir: &Path) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .current_dir(dir)
        .output()
        .expect("openssl req (on Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
