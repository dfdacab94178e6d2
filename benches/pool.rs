//! Checkout + return of a pooled no-op connection: `edgepool::Pool` against a
//! bare `r2d2::Pool` with the same manager, on 1 thread and on 8 threads.
//!
//! A plain harness (no criterion). Every round builds new pools, measures
//! every variant once, in an order that rotates from round to round, and the
//! table shows the median over the rounds of the nanoseconds per checkout +
//! return (on 8 threads: wall time / total checkouts, so aggregate
//! throughput). See `benches/README.md`.
//!
//! `cargo bench --bench pool` runs it. `EDGEPOOL_BENCH_ROUNDS` (default 21)
//! and `EDGEPOOL_BENCH_CHECKOUTS` (per measurement, default 500,000) change
//! the size; `EDGEPOOL_BENCH_VERBOSE=1` prints every measurement. Without
//! `--bench` (as `cargo test --all-targets` runs it) it only checks that every
//! variant works, in a few milliseconds.

mod harness;

use edgepool::Pool;
use harness::{env_u64, median};
use r2d2::ManageConnection;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Connections in every pool; all of them opened before measuring.
const POOL_SIZE: u32 = 8;
/// Thread counts measured.
const THREADS: [usize; 2] = [1, 8];

/// A manager whose connections do nothing: what is left is the pool.
#[derive(Debug, Default)]
struct Noop {
    opened: AtomicU64,
}

#[derive(Debug)]
struct NoopConn {
    id: u64,
    _buf: [u8; 16],
}

impl edgepool::Manage for Noop {}

impl ManageConnection for Noop {
    type Connection = NoopConn;
    type Error = std::io::Error;

    fn connect(&self) -> Result<NoopConn, std::io::Error> {
        Ok(NoopConn {
            id: self.opened.fetch_add(1, Relaxed),
            _buf: [0; 16],
        })
    }

    fn is_valid(&self, _: &mut NoopConn) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut NoopConn) -> bool {
        false
    }
}

/// One checkout and its return.
trait Checkout: Sync {
    fn checkout_return(&self);
}

impl Checkout for Pool<Noop> {
    #[inline]
    fn checkout_return(&self) {
        let conn = self.get().expect("edgepool checkout");
        black_box(conn.id);
    }
}

impl Checkout for r2d2::Pool<Noop> {
    #[inline]
    fn checkout_return(&self) {
        let conn = self.get().expect("r2d2 checkout");
        black_box(conn.id);
    }
}

enum Target {
    Edge(Pool<Noop>),
    R2d2(r2d2::Pool<Noop>),
}

struct Variant {
    name: &'static str,
    target: Target,
}

impl Variant {
    /// Nanoseconds per checkout + return over `total` checkouts on `threads`.
    fn measure(&self, threads: usize, total: u64) -> f64 {
        match &self.target {
            Target::Edge(pool) => measure(pool, threads, total),
            Target::R2d2(pool) => measure(pool, threads, total),
        }
    }
}

fn measure<P: Checkout>(pool: &P, threads: usize, total: u64) -> f64 {
    let per_thread = total / threads as u64;
    let elapsed = if threads == 1 {
        let start = Instant::now();
        for _ in 0..per_thread {
            pool.checkout_return();
        }
        start.elapsed()
    } else {
        let barrier = Barrier::new(threads + 1);
        thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        for _ in 0..per_thread {
                            pool.checkout_return();
                        }
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            for w in workers {
                w.join().expect("bench thread panicked");
            }
            start.elapsed()
        })
    };
    elapsed.as_nanos() as f64 / (per_thread * threads as u64) as f64
}

fn edge_pool(health_checks: bool) -> Pool<Noop> {
    let mut builder = Pool::builder().max_size(POOL_SIZE).min_idle(POOL_SIZE);
    if !health_checks {
        builder = builder.health_check_interval(None);
    }
    let pool = builder.build(Noop::default()).expect("edgepool build");
    let ready = pool
        .warm_up(Duration::from_secs(10))
        .expect("edgepool warm up");
    assert_eq!(ready, POOL_SIZE, "edgepool did not open all connections");
    pool
}

fn bare_r2d2(test_on_check_out: bool) -> r2d2::Pool<Noop> {
    // `build` waits until min_idle connections are open.
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(POOL_SIZE))
        .test_on_check_out(test_on_check_out)
        .build(Noop::default())
        .expect("r2d2 build")
}

/// Where `NAMES` and `variants()` put the two bare r2d2 pools, the baselines.
const R2D2_TEST: usize = 2;
const R2D2_NO_TEST: usize = 3;

const NAMES: [&str; 4] = [
    "edgepool (defaults)",
    "edgepool (health_check_interval None)",
    "r2d2 (test_on_check_out true)",
    "r2d2 (test_on_check_out false)",
];

fn variants() -> Vec<Variant> {
    let targets = [
        Target::Edge(edge_pool(true)),
        Target::Edge(edge_pool(false)),
        Target::R2d2(bare_r2d2(true)),
        Target::R2d2(bare_r2d2(false)),
    ];
    NAMES
        .into_iter()
        .zip(targets)
        .map(|(name, target)| Variant { name, target })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let bench = std::env::args().any(|a| a == "--bench");
    let (rounds, total) = if bench {
        (
            env_u64("EDGEPOOL_BENCH_ROUNDS", 21).max(1),
            env_u64("EDGEPOOL_BENCH_CHECKOUTS", 500_000).max(8),
        )
    } else {
        (1, 800)
    };

    let verbose = bench && std::env::var_os("EDGEPOOL_BENCH_VERBOSE").is_some();
    // samples[threads index][variant index], one per round.
    let mut samples = vec![vec![Vec::new(); NAMES.len()]; THREADS.len()];

    if bench {
        println!(
            "checkout + return of a no-op connection, pools of {POOL_SIZE} (all open); \
             {rounds} rounds of {total} checkouts per variant and thread count, new pools \
             every round"
        );
    }
    for round in 0..rounds as usize {
        // New pools every round, at shifting heap addresses: on 8 threads a
        // pool's result depends on which of its hot fields share a cache line
        // (up to 1.5x between two identical pools), so no variant should keep
        // one lucky or unlucky layout for the whole run.
        let shift = vec![0u8; 1 + 16 * (round % 8)];
        let variants = variants();
        black_box(&shift);
        // Warms caches and the CPU clock; not recorded.
        for v in &variants {
            for &threads in &THREADS {
                v.measure(threads, (total / 20).max(8));
            }
        }
        for (t, &threads) in THREADS.iter().enumerate() {
            // Interleaved: each round starts with a different variant.
            for k in 0..variants.len() {
                let i = (round + k) % variants.len();
                let ns = variants[i].measure(threads, total);
                if verbose {
                    eprintln!(
                        "round {round}, {threads} thread(s), {}: {ns:.1} ns",
                        variants[i].name
                    );
                }
                samples[t][i].push(ns);
            }
        }
        for v in &variants {
            if let Target::Edge(pool) = &v.target {
                let s = pool.stats();
                assert_eq!(s.acquired, s.released, "{}: {s}", v.name);
                assert_eq!(s.created, u64::from(POOL_SIZE), "{}: {s}", v.name);
                assert_eq!(s.timeouts, 0, "{}: {s}", v.name);
                if verbose {
                    eprintln!("round {round}, {}: {s}", v.name);
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

    if !bench {
        println!("pool bench: smoke run passed (run `cargo bench --bench pool` to measure)");
        return;
    }

    for (t, &threads) in THREADS.iter().enumerate() {
        let runs = &samples[t];
        let medians: Vec<f64> = runs.iter().map(|s| median(&mut s.clone())).collect();
        println!();
        println!(
            "{threads} thread(s): ns per checkout + return, median of {rounds} rounds (min..max); \
             ratios: of the medians, and median of the per-round ratios"
        );
        println!(
            "  {:<38} {:>7} {:>14} {:>11} {:>12} {:>12}",
            "variant", "median", "min..max", "/r2d2 true", "/r2d2 false", "per round"
        );
        for (i, name) in NAMES.iter().enumerate() {
            let s = &runs[i];
            let min = s.iter().copied().fold(f64::INFINITY, f64::min);
            let max = s.iter().copied().fold(0.0, f64::max);
            // Paired with r2d2 (test_on_check_out true) of the same round.
            let mut paired: Vec<f64> = s.iter().zip(&runs[R2D2_TEST]).map(|(a, b)| a / b).collect();
            println!(
                "  {:<38} {:>7.1} {:>14} {:>10.2}x {:>11.2}x {:>11.2}x",
                name,
                medians[i],
                format!("{min:.1}..{max:.1}"),
                medians[i] / medians[R2D2_TEST],
                medians[i] / medians[R2D2_NO_TEST],
                median(&mut paired),
            );
        }
    }
}
