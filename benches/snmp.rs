//! GET sysUpTime.0 (SNMPv2c, community `public`) against one real net-snmp
//! `snmpd` on loopback: an `edgepool::Pool<snmp::Manager>`, the `snmp2`
//! crate's `SyncSession` (one session per thread), and the floor, a raw loop
//! that sends one fixed pre-encoded GET datagram on a connected `UdpSocket`
//! and waits for the reply, on 1 thread and on 8 threads.
//!
//! A plain harness (no criterion). The bench starts its own `snmpd` on a free
//! loopback UDP port, with its own config and persistent directory in a temp
//! dir (killed on exit, also on panic). Every round measures every variant for
//! a fixed time, in an order that rotates from round to round; the table shows
//! the median over the rounds of the throughput and of the p50 and p99
//! latency of one operation (checkout, request, reply, decode, return).
//!
//! Placement: where the scheduler puts one client thread against the agent
//! changes a loopback round trip several times over on a 2-CPU VM, and it
//! moves between measurements. So on a machine with 2+ CPUs `snmpd` is pinned
//! to the first CPU (`taskset`), and the 1-thread runs are pinned once to that
//! CPU ("1 same") and once to the second ("1 other"); the 8 client threads are
//! left to the scheduler.
//!
//! `cargo bench --no-default-features --features snmp --bench snmp` runs it
//! (about 1.5 minutes); `EDGEPOOL_BENCH_ROUNDS` (default 9) and
//! `EDGEPOOL_BENCH_MILLIS` (per measurement, default 1000) change the size;
//! `EDGEPOOL_BENCH_VERBOSE=1` prints every measurement. Without `--bench` (as
//! `cargo test --all-targets` runs it) it only checks that every variant
//! works, in about a second.
//!
//! `snmpd` answers from one thread, and the client threads share the
//! machine's CPUs with it, so at 8 threads every variant runs into the agent's
//! own limit: compare the variants of one run, not runs.

mod harness;

use edgepool::snmp::{oid, Value};
use edgepool::Pool;
use harness::{env_u64, median, setups};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Thread counts measured; every pool's `max_size` is the thread count.
const THREADS: [usize; 2] = [1, 8];

/// The community every variant uses (read-only in the agent's config).
const COMMUNITY: &str = "public";

/// The raw loop's request: GET sysUpTime.0, v2c, community "public",
/// request-id 1 (the datagram the tests' `SnmpServer` probes with).
const RAW_GET: [u8; 40] = [
    0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x19, 0x02,
    0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06,
    0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00,
];
/// What every reply to it starts with: the same header, then a Response PDU
/// (0xa2) whose length depends on the TimeTicks value.
const RAW_REPLY_PREFIX: [u8; 13] = [
    0x30, 0x00, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
];
/// Where the request-id sits in the reply: `a2 LL 02 01 01`.
const RAW_REPLY_ID: [u8; 3] = [0x02, 0x01, 0x01];

/// sysUpTime.0's arcs, for `snmp2`'s OID type.
const SYS_UPTIME_ARCS: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];

/// A net-snmp `snmpd` on a free loopback UDP port, with its config, log, pid
/// file and persistent directory in its own temp dir; killed when dropped, so
/// also when the bench panics.
struct Server {
    port: u16,
    dir: PathBuf,
    child: Child,
}

fn snmpd_path() -> PathBuf {
    for p in ["/usr/sbin/snmpd", "/usr/local/sbin/snmpd"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "snmpd".into()
}

impl Server {
    /// Starts it, pinned to `cpu` when given.
    fn start(cpu: Option<usize>) -> Server {
        let snmpd = snmpd_path();
        if let Err(e) = Command::new(&snmpd)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            panic!(
                "cannot run {} ({e}): the SNMP bench needs net-snmp's agent, \
                 install it with `apt-get install snmpd`",
                snmpd.display()
            );
        }
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback port");
            s.local_addr().expect("local_addr").port()
        };
        let dir = std::env::temp_dir().join(format!(
            "edgepool-snmpd-bench-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let persistent = dir.join("persist");
        std::fs::create_dir_all(&persistent).expect("temp dir");
        let conf = dir.join("snmpd.conf");
        std::fs::write(
            &conf,
            format!("agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n"),
        )
        .expect("snmpd.conf");
        // Only our config (`-C`), plus the persistent file snmpd writes itself.
        let mut conf_arg = conf.into_os_string();
        conf_arg.push(",");
        conf_arg.push(persistent.join("snmpd.conf"));
        let log = dir.join("snmpd.log");
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]).arg(&snmpd);
                c
            }
            None => Command::new(&snmpd),
        };
        // `taskset` execs snmpd: the child is the agent itself. `-f`: stays in
        // the foreground; `-I -smux`: no SMUX listener on TCP port 199.
        let child = cmd
            .env("SNMP_PERSISTENT_DIR", &persistent)
            .env("MIBS", "")
            .args(["-f", "-C", "-c"])
            .arg(&conf_arg)
            .arg("-Lf")
            .arg(&log)
            .arg("-p")
            .arg(dir.join("snmpd.pid"))
            .args(["-I", "-smux"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start snmpd ({e})"));
        let server = Server { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers() {
            assert!(
                Instant::now() < deadline,
                "snmpd did not answer on udp:127.0.0.1:{port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn answers(&self) -> bool {
        let Ok(s) = raw_socket(&self.addr(), Duration::from_millis(200)) else {
            return false;
        };
        let mut buf = [0u8; 512];
        s.send(&RAW_GET).is_ok() && s.recv(&mut buf).is_ok_and(|n| check_raw_reply(&buf[..n]))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A UDP socket connected to the agent, with a read timeout.
fn raw_socket(addr: &str, timeout: Duration) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    Ok(s)
}

/// True for a v2c Response to `RAW_GET` (header, request-id, error-status 0).
fn check_raw_reply(reply: &[u8]) -> bool {
    reply.len() > 20
        && reply[0] == RAW_REPLY_PREFIX[0]
        && reply[2..13] == RAW_REPLY_PREFIX[2..]
        && reply[13] == 0xa2
        && reply[15..18] == RAW_REPLY_ID
        && reply[18..21] == [0x02, 0x01, 0x00]
}

/// What one variant measures with, for one thread count.
enum Target {
    Edge(Pool<edgepool::snmp::Manager>),
    /// One session per thread.
    Snmp2(Vec<Mutex<Box<snmp2::SyncSession>>>),
    /// One connected socket per thread.
    Raw(Vec<UdpSocket>),
}

/// The variants, in the order of the table.
const NAMES: [&str; 3] = [
    "edgepool (Pool::execute, defaults)",
    "snmp2 SyncSession (one per thread)",
    "raw UdpSocket loop (fixed datagram)",
];
const EDGE: usize = 0;
const SNMP2: usize = 1;
const RAW: usize = 2;

fn targets(addr: &str, threads: usize) -> Vec<Target> {
    // What a user writes: `max_size` and nothing else.
    let config = edgepool::snmp::Config::new(format!("udp://{addr}")).community(COMMUNITY);
    let edge = Pool::builder()
        .max_size(threads as u32)
        .build(edgepool::snmp::Manager::new(config))
        .expect("edgepool build");
    let sessions = (0..threads)
        .map(|t| {
            let s = snmp2::SyncSession::new_v2c(
                addr,
                COMMUNITY.as_bytes(),
                Some(Duration::from_secs(5)),
                1 + (t as i32) * 1_000_000,
            )
            .expect("snmp2 SyncSession::new_v2c");
            // Two 64 KiB buffers inside: keep it off the stack.
            Mutex::new(Box::new(s))
        })
        .collect();
    let raw = (0..threads)
        .map(|_| raw_socket(addr, Duration::from_secs(5)).expect("raw socket"))
        .collect();
    vec![
        Target::Edge(edge),
        Target::Snmp2(sessions),
        Target::Raw(raw),
    ]
}

/// One GET as the variant's user would write it; panics on a wrong reply.
fn worker(target: &Target, thread: usize) -> Box<dyn FnMut() + '_> {
    match target {
        Target::Edge(pool) => Box::new(move || {
            let vbs = pool
                .execute(|c| c.get(&[oid::SYS_UPTIME]))
                .expect("edgepool GET");
            assert!(
                matches!(vbs.as_slice(), [vb] if matches!(vb.value, Value::TimeTicks(_))),
                "edgepool GET: {vbs:?}"
            );
        }),
        Target::Snmp2(sessions) => {
            let oid = snmp2::Oid::from(&SYS_UPTIME_ARCS).expect("snmp2 OID");
            let mut session = sessions[thread].lock().expect("snmp2 session lock");
            Box::new(move || {
                let mut pdu = session.get(&oid).expect("snmp2 GET");
                assert!(
                    matches!(pdu.varbinds.next(), Some((_, snmp2::Value::Timeticks(_)))),
                    "snmp2 GET: not a TimeTicks"
                );
            })
        }
        Target::Raw(sockets) => {
            let socket = &sockets[thread];
            let mut buf = [0u8; 512];
            Box::new(move || {
                socket.send(&RAW_GET).expect("raw send");
                let n = socket.recv(&mut buf).expect("raw recv");
                assert!(
                    check_raw_reply(&buf[..n]),
                    "raw GET reply: {:02x?}",
                    &buf[..n]
                );
            })
        }
    }
}

/// One measurement: aggregate throughput, the latency of one operation, and
/// the CPU time the client threads used per operation.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    /// NaN where `/proc/thread-self/schedstat` is missing.
    cpu_us: f64,
}

/// Nanoseconds this thread has run on a CPU (user and kernel), from
/// `/proc/thread-self/schedstat`; `None` where Linux does not provide it.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn measure(
    target: &Target,
    threads: usize,
    pin: Option<core_affinity::CoreId>,
    time: Duration,
) -> Sample {
    let barrier = Barrier::new(threads);
    let runs: Vec<(Vec<u32>, Duration, Option<u64>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    if let Some(cpu) = pin {
                        assert!(core_affinity::set_for_current(cpu), "cannot pin to {cpu:?}");
                    }
                    let mut run = worker(target, t);
                    let mut lat = Vec::with_capacity(1 << 16);
                    barrier.wait();
                    let cpu0 = thread_cpu_ns();
                    let start = Instant::now();
                    let end = start + time;
                    let mut t0 = start;
                    loop {
                        run();
                        let t1 = Instant::now();
                        lat.push(u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX));
                        t0 = t1;
                        if t1 >= end {
                            break;
                        }
                    }
                    let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
                    (lat, t0 - start, cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let wall = runs.iter().map(|r| r.1).max().unwrap_or_default();
    let cpu_ns: Option<u64> = runs.iter().map(|r| r.2).sum();
    let mut all: Vec<u32> = runs.into_iter().flat_map(|r| r.0).collect();
    let ops = all.len() as f64;
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[i]) / 1000.0
    };
    Sample {
        ops_per_sec: ops / wall.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        cpu_us: cpu_ns.map_or(f64::NAN, |n| n as f64 / 1000.0 / ops),
    }
}

/// A dependency's version, from the lock file.
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let want = format!("\nname = \"{name}\"\n");
    lock.split("[[package]]")
        .find(|p| p.contains(&want))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into())
}

/// The 1-, 5- and 15-minute load averages, to judge how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `snmpd -v`'s version line.
fn snmpd_version() -> String {
    Command::new(snmpd_path())
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.contains("version"))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let bench = std::env::args().any(|a| a == "--bench");
    let (rounds, time) = if bench {
        (
            env_u64("EDGEPOOL_BENCH_ROUNDS", 9).max(1) as usize,
            Duration::from_millis(env_u64("EDGEPOOL_BENCH_MILLIS", 1000).max(10)),
        )
    } else {
        (1, Duration::from_millis(10))
    };
    let verbose = bench && std::env::var_os("EDGEPOOL_BENCH_VERBOSE").is_some();

    let (server_cpu, setups) = setups(&THREADS);
    let server = Server::start(server_cpu.map(|c| c.id));
    let addr = server.addr();
    let targets: Vec<Vec<Target>> = THREADS.iter().map(|&t| targets(&addr, t)).collect();

    if bench {
        println!(
            "GET sysUpTime.0 (v2c) on loopback, one snmpd shared by every variant \
             (udp:{addr}, {}); {rounds} rounds of {} ms per variant and client setup; \
             snmp2 {} (its v2c SyncSession); {} CPU(s)",
            snmpd_version(),
            time.as_millis(),
            locked_version("snmp2"),
            thread::available_parallelism().map_or(0, |n| n.get()),
        );
        match server_cpu {
            Some(cpu) => println!(
                "snmpd pinned to CPU {}; clients \"1 same\": 1 thread on that CPU, \
                 \"1 other\": 1 thread on another CPU, \"8\": 8 threads, not pinned",
                cpu.id
            ),
            None => println!("nothing pinned (needs 2+ CPUs and taskset)"),
        }
        println!("load average before: {}", load_average());
        // Warms the agent, the sockets and the CPU clock; opens edgepool's
        // connections (it opens them on demand). Not recorded.
        for setup in &setups {
            for target in &targets[setup.t] {
                measure(
                    target,
                    THREADS[setup.t],
                    setup.pin,
                    Duration::from_millis(200),
                );
            }
        }
    }

    // samples[setup][variant], one per round.
    let mut samples = vec![vec![Vec::new(); NAMES.len()]; setups.len()];
    for round in 0..rounds {
        for (u, setup) in setups.iter().enumerate() {
            // Interleaved: each round starts with a different variant.
            for k in 0..NAMES.len() {
                let i = (round + k) % NAMES.len();
                let threads = THREADS[setup.t];
                let s = measure(&targets[setup.t][i], threads, setup.pin, time);
                if verbose {
                    eprintln!(
                        "round {round}, clients {}, {}: {:.0} ops/s, p50 {:.1} us, \
                         p99 {:.1} us, client CPU {:.2} us/GET",
                        setup.label, NAMES[i], s.ops_per_sec, s.p50_us, s.p99_us, s.cpu_us
                    );
                }
                samples[u][i].push(s);
            }
        }
        if bench && !verbose {
            eprint!("round {}/{rounds} done\r", round + 1);
        }
    }
    if bench && !verbose {
        eprintln!();
    }
    for (t, &threads) in THREADS.iter().enumerate() {
        if let Target::Edge(pool) = &targets[t][EDGE] {
            let s = pool.stats();
            assert_eq!(s.timeouts, 0, "edgepool: {s}");
            assert!(s.created <= threads as u64, "edgepool reconnected: {s}");
            if verbose {
                eprintln!("edgepool, {threads} thread(s): {s}");
            }
        }
    }

    if !bench {
        println!(
            "snmp bench: smoke run passed (run `cargo bench --no-default-features \
             --features snmp --bench snmp` to measure)"
        );
        return;
    }

    // med[setup][variant]: each field the median over the rounds.
    let med: Vec<Vec<Sample>> = samples
        .iter()
        .map(|per_variant| {
            per_variant
                .iter()
                .map(|runs| {
                    let pick =
                        |f: fn(&Sample) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
                    Sample {
                        ops_per_sec: pick(|s| s.ops_per_sec),
                        p50_us: pick(|s| s.p50_us),
                        p99_us: pick(|s| s.p99_us),
                        cpu_us: pick(|s| s.cpu_us),
                    }
                })
                .collect()
        })
        .collect();

    println!("load average after: {}", load_average());
    println!();
    println!(
        "median of {rounds} rounds: ops/s (min..max over the rounds), p50 and p99 of one GET \
         in us, CPU time of the client threads per GET in us"
    );
    println!(
        "  {:<37} {:<7} {:>7} {:>13} {:>6} {:>6} {:>6}",
        "variant", "clients", "ops/s", "min..max", "p50", "p99", "CPU"
    );
    for (u, setup) in setups.iter().enumerate() {
        for (i, name) in NAMES.iter().enumerate() {
            let runs = &samples[u][i];
            let min = runs
                .iter()
                .map(|s| s.ops_per_sec)
                .fold(f64::INFINITY, f64::min);
            let max = runs.iter().map(|s| s.ops_per_sec).fold(0.0, f64::max);
            let m = med[u][i];
            println!(
                "  {:<37} {:<7} {:>7.0} {:>13} {:>6.1} {:>6.1} {:>6.2}",
                name,
                setup.label,
                m.ops_per_sec,
                format!("{min:.0}..{max:.0}"),
                m.p50_us,
                m.p99_us,
                m.cpu_us
            );
        }
    }

    // Paired with the other variant of the same round, then the median.
    let paired = |u: usize, a: usize, b: usize, f: fn(&Sample) -> f64| {
        let s = &samples[u];
        median(
            &mut s[a]
                .iter()
                .zip(&s[b])
                .map(|(x, y)| f(x) / f(y))
                .collect::<Vec<_>>(),
        )
    };
    println!();
    println!(
        "throughput, edgepool / the others (goal 1: >= 1.00x snmp2 at 8 threads; \
         ratio of the medians, median of the per-round ratios in brackets)"
    );
    for (u, setup) in setups.iter().enumerate() {
        let m = &med[u];
        println!(
            "  {:<7} vs snmp2: {:.2}x [{:.2}x]   vs raw: {:.2}x [{:.2}x]",
            setup.label,
            m[EDGE].ops_per_sec / m[SNMP2].ops_per_sec,
            paired(u, EDGE, SNMP2, |s| s.ops_per_sec),
            m[EDGE].ops_per_sec / m[RAW].ops_per_sec,
            paired(u, EDGE, RAW, |s| s.ops_per_sec),
        );
    }
    println!(
        "goal 2: edgepool single-thread latency <= 1.10x the raw loop's \
         (p50 ratio; mean ratio = raw ops/s / edgepool ops/s; per-round medians in brackets)"
    );
    for (u, setup) in setups.iter().enumerate() {
        if THREADS[setup.t] != 1 {
            continue;
        }
        let m = &med[u];
        println!(
            "  {:<7} p50: {:.2}x [{:.2}x]   mean: {:.2}x [{:.2}x]   p99: {:.2}x   \
             (snmp2 p50: {:.2}x)",
            setup.label,
            m[EDGE].p50_us / m[RAW].p50_us,
            paired(u, EDGE, RAW, |s| s.p50_us),
            m[RAW].ops_per_sec / m[EDGE].ops_per_sec,
            paired(u, RAW, EDGE, |s| s.ops_per_sec),
            m[EDGE].p99_us / m[RAW].p99_us,
            m[SNMP2].p50_us / m[RAW].p50_us,
        );
    }
    drop(targets);
    drop(server);
}
