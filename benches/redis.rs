//! GET, SET and PING against one real `redis-server` on loopback: an
//! `edgepool::Pool<redis::Manager>` against the `redis` crate through
//! `r2d2::Pool<redis::Client>`, and the floor, a raw ping-pong loop on a
//! `TcpStream` with pre-encoded RESP, on 1 thread and on 8 threads.
//!
//! A plain harness (no criterion). The bench starts its own `redis-server` on a
//! free loopback port (killed on exit, also on panic). Every round measures
//! every variant for a fixed time, in an order that rotates from round to
//! round; the table shows the median over the rounds of the throughput and of
//! the p50 and p99 latency of one operation (checkout, command, reply, return).
//! Then it runs `redis-benchmark` against the same server. See
//! `benches/README.md`.
//!
//! Placement: where the scheduler puts one client thread against the server
//! changes a loopback round trip 4x (about 15 us on the server's CPU, about
//! 55 us on another, on a 2-CPU VM), and it moves between measurements. So on
//! a machine with 2+ CPUs the server is pinned to the first CPU (`taskset`),
//! and the 1-thread runs are pinned once to that CPU ("1 same") and once to
//! the second ("1 other"); the 8 client threads are left to the scheduler.
//!
//! `cargo bench --bench redis` runs it (about 2.5 minutes);
//! `EDGEPOOL_BENCH_ROUNDS` (default 5) and `EDGEPOOL_BENCH_MILLIS` (per
//! measurement, default 800) change the size; `EDGEPOOL_BENCH_VERBOSE=1`
//! prints every measurement. Without `--bench` (as `cargo test --all-targets`
//! runs it) it only checks that every variant works, in well under a second.
//!
//! The client threads share the machine's CPUs with the server, so the
//! numbers move by tens of percent from run to run: compare the variants of
//! one run, not runs.

mod harness;

use edgepool::Pool;
use harness::{env_u64, median, setups};
use redis::Commands;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Thread counts measured; every pool's `max_size` is the thread count.
const THREADS: [usize; 2] = [1, 8];

/// The key every GET reads and every SET writes.
const KEY: &str = "edgepool:bench";
/// Its value: 3 bytes, `redis-benchmark`'s default payload.
const VALUE: &[u8] = b"xxx";

/// The raw loop's requests and the replies it expects, byte for byte.
const RAW_PING: (&[u8], &[u8]) = (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
const RAW_GET: (&[u8], &[u8]) = (
    b"*2\r\n$3\r\nGET\r\n$14\r\nedgepool:bench\r\n",
    b"$3\r\nxxx\r\n",
);
const RAW_SET: (&[u8], &[u8]) = (
    b"*3\r\n$3\r\nSET\r\n$14\r\nedgepool:bench\r\n$3\r\nxxx\r\n",
    b"+OK\r\n",
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    Ping,
}

const OPS: [Op; 3] = [Op::Get, Op::Set, Op::Ping];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set => "SET",
            Op::Ping => "PING",
        }
    }

    fn raw(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Op::Get => RAW_GET,
            Op::Set => RAW_SET,
            Op::Ping => RAW_PING,
        }
    }
}

/// A `redis-server` on a free loopback port, in its own temp dir; killed when
/// dropped, so also when the bench panics.
struct Server {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Server {
    /// Starts it, pinned to `cpu` when given.
    fn start(cpu: Option<usize>) -> Server {
        if let Err(e) = Command::new("redis-server").arg("--version").output() {
            panic!(
                "cannot run redis-server ({e}): the Redis bench needs it, \
                 install it with `apt-get install redis-server`"
            );
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
            l.local_addr().expect("local_addr").port()
        };
        let dir = std::env::temp_dir().join(format!(
            "edgepool-redis-bench-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = dir.join("redis.log");
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string(), "redis-server"]);
                c
            }
            None => Command::new("redis-server"),
        };
        // `taskset` execs redis-server: the child is the server itself.
        let child = cmd
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e})"));
        let server = Server { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up on port {port}: {}",
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
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        s.write_all(RAW_PING.0).is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one variant measures with, for one thread count.
enum Target {
    Edge(Pool<edgepool::redis::Manager>),
    Crate(r2d2::Pool<redis::Client>),
    /// One pre-opened stream per thread.
    Raw(Vec<TcpStream>),
}

/// The variants, in the order of the table.
const NAMES: [&str; 4] = [
    "edgepool (execute, defaults)",
    "redis crate + r2d2 (test_on_check_out true)",
    "redis crate + r2d2 (test_on_check_out false)",
    "raw TcpStream loop",
];
const EDGE: usize = 0;
const CRATE_TEST: usize = 1;
const CRATE_NO_TEST: usize = 2;
const RAW: usize = 3;

fn targets(addr: &str, threads: usize) -> Vec<Target> {
    let size = threads as u32;
    // What a user writes: `max_size` and nothing else.
    let edge = Pool::builder()
        .max_size(size)
        .build(edgepool::redis::Manager::new(edgepool::redis::Config::new(
            addr,
        )))
        .expect("edgepool build");
    let client = || redis::Client::open(format!("redis://{addr}/")).expect("redis::Client::open");
    // r2d2's `build` waits until `max_size` connections are open (min_idle
    // defaults to max_size).
    let crate_test = r2d2::Pool::builder()
        .max_size(size)
        .build(client())
        .expect("r2d2 build");
    let crate_no_test = r2d2::Pool::builder()
        .max_size(size)
        .test_on_check_out(false)
        .build(client())
        .expect("r2d2 build");
    let raw = (0..threads)
        .map(|_| {
            let s = TcpStream::connect(addr).expect("raw connect");
            s.set_nodelay(true).expect("nodelay");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("read timeout");
            s
        })
        .collect();
    vec![
        Target::Edge(edge),
        Target::Crate(crate_test),
        Target::Crate(crate_no_test),
        Target::Raw(raw),
    ]
}

/// One operation as the variant's user would write it; panics on a wrong reply.
fn worker(target: &Target, op: Op, thread: usize) -> Box<dyn FnMut() + '_> {
    match target {
        Target::Edge(pool) => match op {
            Op::Get => Box::new(move || {
                let v = pool.execute(|c| c.get(KEY)).expect("edgepool GET");
                assert_eq!(v.as_deref(), Some(VALUE));
            }),
            Op::Set => Box::new(move || pool.execute(|c| c.set(KEY, VALUE)).expect("edgepool SET")),
            Op::Ping => Box::new(move || pool.execute(|c| c.ping()).expect("edgepool PING")),
        },
        Target::Crate(pool) => match op {
            Op::Get => Box::new(move || {
                let mut c = pool.get().expect("r2d2 checkout");
                let v: Option<Vec<u8>> = c.get(KEY).expect("redis crate GET");
                assert_eq!(v.as_deref(), Some(VALUE));
            }),
            Op::Set => Box::new(move || {
                let mut c = pool.get().expect("r2d2 checkout");
                let () = c.set(KEY, VALUE).expect("redis crate SET");
            }),
            Op::Ping => Box::new(move || {
                let mut c = pool.get().expect("r2d2 checkout");
                let pong: String = c.ping().expect("redis crate PING");
                assert_eq!(pong, "PONG");
            }),
        },
        Target::Raw(streams) => {
            let mut stream = &streams[thread];
            let (request, reply) = op.raw();
            let mut buf = [0u8; 64];
            Box::new(move || {
                stream.write_all(request).expect("raw write");
                let mut got = 0;
                while got < reply.len() {
                    match stream.read(&mut buf[got..reply.len()]) {
                        Ok(0) => panic!("redis-server closed the raw connection"),
                        Ok(n) => got += n,
                        Err(e) => panic!("raw read: {e}"),
                    }
                }
                assert_eq!(&buf[..got], reply, "raw {} reply", op.name());
            })
        }
    }
}

/// One measurement: aggregate throughput and the latency of one operation.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn measure(
    target: &Target,
    op: Op,
    threads: usize,
    pin: Option<core_affinity::CoreId>,
    time: Duration,
) -> Sample {
    let barrier = Barrier::new(threads);
    let runs: Vec<(Vec<u32>, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    if let Some(cpu) = pin {
                        assert!(core_affinity::set_for_current(cpu), "cannot pin to {cpu:?}");
                    }
                    let mut run = worker(target, op, t);
                    let mut lat = Vec::with_capacity(1 << 16);
                    barrier.wait();
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
                    (lat, t0 - start)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let wall = runs.iter().map(|r| r.1).max().unwrap_or_default();
    let mut all: Vec<u32> = runs.into_iter().flat_map(|r| r.0).collect();
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[i]) / 1000.0
    };
    Sample {
        ops_per_sec: all.len() as f64 / wall.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// The `redis` crate's version, from the lock file.
fn redis_crate_version() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    lock.split("[[package]]")
        .find(|p| p.contains("\nname = \"redis\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into())
}

fn redis_benchmark(port: u16) {
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-c",
        "8",
        "-n",
        "200000",
        "-t",
        "ping,get,set",
        "-q",
    ]
    .map(String::from);
    println!();
    println!("redis-benchmark {} (same server):", args.join(" "));
    match Command::new("redis-benchmark").args(&args).output() {
        Ok(out) if out.status.success() => {
            // `-q` overwrites a progress line with `\r`; keep the results.
            for line in String::from_utf8_lossy(&out.stdout).split(['\r', '\n']) {
                if line.contains("requests per second") {
                    println!("  {}", line.trim());
                }
            }
        }
        Ok(out) => println!(
            "  failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => println!("  not run ({e}): install it with `apt-get install redis-tools`"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let bench = std::env::args().any(|a| a == "--bench");
    let (rounds, time) = if bench {
        (
            env_u64("EDGEPOOL_BENCH_ROUNDS", 5).max(1) as usize,
            Duration::from_millis(env_u64("EDGEPOOL_BENCH_MILLIS", 800).max(10)),
        )
    } else {
        (1, Duration::from_millis(10))
    };
    let verbose = bench && std::env::var_os("EDGEPOOL_BENCH_VERBOSE").is_some();

    let (server_cpu, setups) = setups(&THREADS);
    let server = Server::start(server_cpu.map(|c| c.id));
    let addr = server.addr();
    {
        let mut c = TcpStream::connect(&addr).expect("connect");
        c.write_all(RAW_SET.0).expect("write");
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, RAW_SET.1);
    }
    let targets: Vec<Vec<Target>> = THREADS.iter().map(|&t| targets(&addr, t)).collect();

    if bench {
        println!(
            "GET/SET/PING on loopback, one redis-server shared by every variant (port {}); \
             {rounds} rounds of {} ms per variant, op and client setup; redis crate {} \
             (default-features = false, features = [\"r2d2\"]); {} CPU(s)",
            server.port,
            time.as_millis(),
            redis_crate_version(),
            thread::available_parallelism().map_or(0, |n| n.get()),
        );
        match server_cpu {
            Some(cpu) => println!(
                "redis-server pinned to CPU {}; clients \"1 same\": 1 thread on that CPU, \
                 \"1 other\": 1 thread on another CPU, \"8\": 8 threads, not pinned",
                cpu.id
            ),
            None => println!("nothing pinned (needs 2+ CPUs and taskset)"),
        }
        // Warms the server, the connections and the CPU clock; opens
        // edgepool's connections (it opens them on demand). Not recorded.
        for setup in &setups {
            for op in OPS {
                for target in &targets[setup.t] {
                    let threads = THREADS[setup.t];
                    measure(target, op, threads, setup.pin, Duration::from_millis(100));
                }
            }
        }
    }

    // samples[setup][op][variant], one per round.
    let mut samples = vec![vec![vec![Vec::new(); NAMES.len()]; OPS.len()]; setups.len()];
    for round in 0..rounds {
        for (o, &op) in OPS.iter().enumerate() {
            for (u, setup) in setups.iter().enumerate() {
                // Interleaved: each round starts with a different variant.
                for k in 0..NAMES.len() {
                    let i = (round + k) % NAMES.len();
                    let threads = THREADS[setup.t];
                    let s = measure(&targets[setup.t][i], op, threads, setup.pin, time);
                    if verbose {
                        eprintln!(
                            "round {round}, {} clients {}, {}: {:.0} ops/s, \
                             p50 {:.1} us, p99 {:.1} us",
                            op.name(),
                            setup.label,
                            NAMES[i],
                            s.ops_per_sec,
                            s.p50_us,
                            s.p99_us
                        );
                    }
                    samples[u][o][i].push(s);
                }
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
        println!("redis bench: smoke run passed (run `cargo bench --bench redis` to measure)");
        return;
    }

    // med[setup][op][variant]: each field the median over the rounds.
    let med: Vec<Vec<Vec<Sample>>> = samples
        .iter()
        .map(|per_op| {
            per_op
                .iter()
                .map(|per_variant| {
                    per_variant
                        .iter()
                        .map(|runs| {
                            let pick = |f: fn(&Sample) -> f64| {
                                median(&mut runs.iter().map(f).collect::<Vec<_>>())
                            };
                            Sample {
                                ops_per_sec: pick(|s| s.ops_per_sec),
                                p50_us: pick(|s| s.p50_us),
                                p99_us: pick(|s| s.p99_us),
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect();

    println!();
    println!(
        "median of {rounds} rounds: ops/s (min..max over the rounds), p50 and p99 of one op in us"
    );
    println!(
        "  {:<45} {:<4} {:<7} {:>7} {:>15} {:>6} {:>6}",
        "variant", "op", "clients", "ops/s", "min..max", "p50", "p99"
    );
    for (o, &op) in OPS.iter().enumerate() {
        for (u, setup) in setups.iter().enumerate() {
            for (i, name) in NAMES.iter().enumerate() {
                let runs = &samples[u][o][i];
                let min = runs
                    .iter()
                    .map(|s| s.ops_per_sec)
                    .fold(f64::INFINITY, f64::min);
                let max = runs.iter().map(|s| s.ops_per_sec).fold(0.0, f64::max);
                let m = med[u][o][i];
                println!(
                    "  {:<45} {:<4} {:<7} {:>7.0} {:>15} {:>6.1} {:>6.1}",
                    name,
                    op.name(),
                    setup.label,
                    m.ops_per_sec,
                    format!("{min:.0}..{max:.0}"),
                    m.p50_us,
                    m.p99_us
                );
            }
        }
    }

    // Paired with the other variant of the same round, then the median.
    let paired = |u: usize, o: usize, a: usize, b: usize, f: fn(&Sample) -> f64| {
        let s = &samples[u][o];
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
        "goal 1: edgepool throughput >= 1.00x the redis crate's at 8 threads \
         (ratio of the medians; median of the per-round ratios in brackets)"
    );
    for (u, setup) in setups.iter().enumerate() {
        if THREADS[setup.t] != 8 {
            continue;
        }
        for (o, &op) in OPS.iter().enumerate() {
            let m = &med[u][o];
            let e = m[EDGE].ops_per_sec;
            println!(
                "  {:<4} vs test_on_check_out true: {:.2}x [{:.2}x]   vs false: {:.2}x [{:.2}x]",
                op.name(),
                e / m[CRATE_TEST].ops_per_sec,
                paired(u, o, EDGE, CRATE_TEST, |s| s.ops_per_sec),
                e / m[CRATE_NO_TEST].ops_per_sec,
                paired(u, o, EDGE, CRATE_NO_TEST, |s| s.ops_per_sec),
            );
        }
    }
    println!(
        "goal 2: edgepool single-thread latency <= 1.10x the raw loop's \
         (p50 ratio; mean ratio = raw ops/s / edgepool ops/s; per-round medians in brackets)"
    );
    for (u, setup) in setups.iter().enumerate() {
        if THREADS[setup.t] != 1 {
            continue;
        }
        for (o, &op) in OPS.iter().enumerate() {
            let m = &med[u][o];
            println!(
                "  {:<7} {:<4} p50: {:.2}x [{:.2}x]   mean: {:.2}x [{:.2}x]   p99: {:.2}x",
                setup.label,
                op.name(),
                m[EDGE].p50_us / m[RAW].p50_us,
                paired(u, o, EDGE, RAW, |s| s.p50_us),
                m[RAW].ops_per_sec / m[EDGE].ops_per_sec,
                paired(u, o, RAW, EDGE, |s| s.ops_per_sec),
                m[EDGE].p99_us / m[RAW].p99_us,
            );
        }
    }

    redis_benchmark(server.port);
    drop(targets);
    drop(server);
}
