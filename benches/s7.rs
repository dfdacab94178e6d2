//! 64-byte DB reads against one real C++ Snap7 server on loopback
//! (`libsnap7.so` from PyPI's python-snap7 2.1.0, `tests/s7_server.py`), on
//! 1 and 4 threads:
//!
//! - edgepool through a `Pool<s7::Manager>` (`execute` + `read_area_into`,
//!   one checkout per read; `max_size` = threads),
//! - the same through a pool with the default settings, as a new user
//!   builds it (`Pool::new`: `max_size` 10, nothing opened in advance),
//! - edgepool `s7::Client`s without a pool (one per thread),
//! - the `rust7` crate's `S7Client` (one per thread),
//! - the Snap7 C client (`Cli_DBRead` of the same `libsnap7.so`), driven by
//!   python-snap7 2.1's `Client.db_read` from `benches/s7_snap7_client.py`
//!   (one client per thread). Its numbers include python-snap7's Python and
//!   ctypes cost per call; nothing is subtracted, and the script reports an
//!   estimate of that cost measured without the network.
//!
//! A plain harness (no criterion). Every round measures every variant for a
//! fixed time, in an order that rotates from round to round; the table shows
//! the median over the rounds of the reads per second. The first read of
//! every variant is checked byte for byte.
//!
//! `cargo bench --bench s7` runs it (about 1 minute with the defaults);
//! `EDGEPOOL_BENCH_ROUNDS` (default 5) and `EDGEPOOL_BENCH_MILLIS` (per
//! measurement, default 1000) change the size; `EDGEPOOL_BENCH_VERBOSE=1`
//! prints every measurement. Without `--bench` (as `cargo test
//! --all-targets` runs it) it only checks that every variant works.
//!
//! The client threads share the machine's CPUs with the server: compare the
//! variants of one run, not runs.

#[path = "../tests/common/mod.rs"]
mod common;
mod harness;

use common::{s7_bytes, s7_python, S7Server};
use edgepool::{s7, Pool};
use harness::median;
use std::process::Command;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const THREADS: [usize; 2] = [1, 4];
/// DB4 holds 1024 bytes of `s7_pattern(4, i)`.
const DB: u16 = 4;
const LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Pool,
    PoolDefaults,
    Client,
    Rust7,
    Snap7,
}

const VARIANTS: [Variant; 5] = [
    Variant::Pool,
    Variant::PoolDefaults,
    Variant::Client,
    Variant::Rust7,
    Variant::Snap7,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Pool => "edgepool Pool<s7::Manager>",
            Variant::PoolDefaults => "edgepool Pool::new (defaults)",
            Variant::Client => "edgepool s7::Client (no pool)",
            Variant::Rust7 => "rust7 0.1.2 S7Client",
            Variant::Snap7 => "Snap7 C client (python-snap7 2.1)",
        }
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn expected() -> Vec<u8> {
    s7_bytes(u32::from(DB), 0, LEN)
}

/// Runs `threads` workers for `dur`; each gets its own state from `setup`
/// (made before the clock starts) and calls `read` until time is up.
/// Returns reads per second.
fn run<S: Send>(
    threads: usize,
    dur: Duration,
    setup: impl Fn() -> S + Sync,
    read: impl Fn(&mut S, &mut [u8; LEN]) + Sync,
) -> f64 {
    let barrier = Barrier::new(threads + 1);
    let (total, elapsed) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (barrier, setup, read) = (&barrier, &setup, &read);
                s.spawn(move || {
                    let mut state = setup();
                    let mut buf = [0u8; LEN];
                    read(&mut state, &mut buf);
                    assert_eq!(buf[..], expected()[..], "first read differs");
                    barrier.wait();
                    let end = Instant::now() + dur;
                    let mut n = 0u64;
                    while Instant::now() < end {
                        read(&mut state, &mut buf);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let total: u64 = handles.into_iter().map(|h| h.join().expect("worker")).sum();
        (total, start.elapsed())
    });
    total as f64 / elapsed.as_secs_f64()
}

struct Snap7Result {
    rate: f64,
    overhead_us: f64,
}

fn run_snap7(port: u16, threads: usize, dur: Duration) -> Snap7Result {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/s7_snap7_client.py");
    let out = Command::new(s7_python())
        .arg(script)
        .args([
            port.to_string(),
            threads.to_string(),
            dur.as_millis().to_string(),
            DB.to_string(),
            LEN.to_string(),
        ])
        .output()
        .expect("run benches/s7_snap7_client.py");
    assert!(
        out.status.success(),
        "s7_snap7_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> &str {
        let key = format!("\"{name}\": ");
        let at = text.find(&key).expect("field") + key.len();
        let rest = &text[at..];
        let end = rest.find([',', '}']).expect("end of field");
        rest[..end].trim().trim_matches('"')
    };
    let hex: String = expected().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(field("first"), hex, "the Snap7 client read other bytes");
    let reads: f64 = field("reads").parse().expect("reads");
    let secs: f64 = field("seconds").parse().expect("seconds");
    Snap7Result {
        rate: reads / secs,
        overhead_us: field("overhead_us").parse().expect("overhead"),
    }
}

fn measure(
    variant: Variant,
    server: &S7Server,
    threads: usize,
    dur: Duration,
    overhead: &mut Vec<f64>,
) -> f64 {
    let addr = server.addr();
    let port = server.port;
    let config = s7::Config::new(&addr);
    match variant {
        Variant::Pool => {
            let pool = Pool::builder()
                .max_size(threads as u32)
                .min_idle(threads as u32)
                .build(s7::Manager::new(config))
                .expect("pool");
            assert_eq!(
                pool.warm_up(Duration::from_secs(5)).expect("warm up"),
                threads as u32
            );
            run(
                threads,
                dur,
                || pool.clone(),
                |pool, buf| {
                    pool.execute(|plc| plc.read_area_into(s7::Area::Db, DB, 0, buf))
                        .expect("read");
                },
            )
        }
        Variant::PoolDefaults => {
            let pool = Pool::new(s7::Manager::new(config)).expect("pool");
            run(
                threads,
                dur,
                || pool.clone(),
                |pool, buf| {
                    pool.execute(|plc| plc.read_area_into(s7::Area::Db, DB, 0, buf))
                        .expect("read");
                },
            )
        }
        Variant::Client => run(
            threads,
            dur,
            || s7::Client::connect(&config).expect("connect"),
            |plc, buf| plc.read_area_into(s7::Area::Db, DB, 0, buf).expect("read"),
        ),
        Variant::Rust7 => run(
            threads,
            dur,
            || {
                let mut c = rust7::client::S7Client::new();
                c.set_connection_port(port).expect("port");
                c.connect_rack_slot("127.0.0.1", 0, 1)
                    .expect("rust7 connect");
                c
            },
            |c, buf| c.read_db(DB, 0, buf).expect("rust7 read"),
        ),
        Variant::Snap7 => {
            let r = run_snap7(server.port, threads, dur);
            overhead.push(r.overhead_us);
            r.rate
        }
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench {
        env_num("EDGEPOOL_BENCH_ROUNDS", 5).max(1) as usize
    } else {
        1
    };
    let dur = Duration::from_millis(if bench {
        env_num("EDGEPOOL_BENCH_MILLIS", 1000)
    } else {
        100
    });
    let verbose = std::env::var_os("EDGEPOOL_BENCH_VERBOSE").is_some();
    let server = S7Server::start();
    if bench {
        println!(
            "64-byte reads of DB{DB} from the Snap7 server on {}; {rounds} rounds of {dur:?} \
             per variant; {} CPUs",
            server.addr(),
            thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    // results[threads][variant] = per-round rates
    let mut results = vec![vec![Vec::new(); VARIANTS.len()]; THREADS.len()];
    let mut overhead = Vec::new();
    for round in 0..rounds {
        for (ti, &threads) in THREADS.iter().enumerate() {
            for k in 0..VARIANTS.len() {
                let vi = (k + round) % VARIANTS.len();
                let rate = measure(VARIANTS[vi], &server, threads, dur, &mut overhead);
                if verbose {
                    println!(
                        "round {round}: {threads} threads, {}: {rate:.0} reads/s",
                        VARIANTS[vi].name()
                    );
                }
                results[ti][vi].push(rate);
            }
        }
    }
    if !bench {
        println!("s7 bench: every variant works (run `cargo bench --bench s7` for numbers)");
        return;
    }
    for (ti, &threads) in THREADS.iter().enumerate() {
        println!("\n{threads} thread(s), median reads/s (µs per read per thread):");
        let at = |v: Variant| VARIANTS.iter().position(|&x| x == v).unwrap_or(0);
        let snap7 = median(&mut results[ti][at(Variant::Snap7)].clone());
        let client = median(&mut results[ti][at(Variant::Client)].clone());
        for (vi, v) in VARIANTS.iter().enumerate() {
            let m = median(&mut results[ti][vi]);
            println!(
                "  {:<36} {:>9.0} ({:>6.1} µs)  {:.2}x Snap7  {:.2}x s7::Client",
                v.name(),
                m,
                threads as f64 * 1e6 / m,
                m / snap7,
                m / client
            );
        }
    }
    println!(
        "\npython-snap7's Python + ctypes cost per call (no network), median: {:.2} µs",
        median(&mut overhead)
    );
}
