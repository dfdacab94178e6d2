//! Many targets, some offline: a `PoolSet` over 1,000 simulated SNMP agents
//! (`edgepool::sim`), 50 of which never answer, polled by 8 threads.
//!
//! Every round measures two variants, in alternating order, for the same time:
//! - **all healthy**: the 8 threads poll the 950 agents that answer;
//! - **with 50 down**: the same 8 threads poll all 1,000 (the 50 silent ones
//!   are spread evenly through the list).
//!
//! The figure is GETs/s answered by the 950 healthy agents; the ratio of the
//! medians says what the offline devices cost the others. Both variants use
//! the same pools (one `PoolSet`), so the silent agents' pools keep their
//! backoff from round to round, as on a gateway that polls them forever. The
//! output also gives edgepool's background threads (named `edgepool-*`).
//!
//! `cargo bench --bench many_targets` (about 2 minutes: a 20 s warm-up, then
//! 7 rounds of 2 × 4 s). `EDGEPOOL_BENCH_ROUNDS`, `EDGEPOOL_BENCH_MILLIS`
//! (per measurement) and `EDGEPOOL_BENCH_WARMUP_MILLIS` change the size.
//! Without `--bench` it runs 60 agents for a moment to check that it works.

mod harness;

use edgepool::sim::snmp::SnmpSim;
use edgepool::snmp::{self, oid};
use edgepool::{Pool, PoolSet};
use harness::{env_u64, median};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 8;
/// One agent in this many is silent.
const SILENT_EVERY: usize = 20;

/// Polls `targets` (flagged healthy or not) from `THREADS` threads for `dur`;
/// returns the answered GETs per second and the failed polls.
fn poll(
    set: &PoolSet<String, snmp::Manager>,
    targets: &[(String, bool)],
    dur: Duration,
) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let ok = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let start = Instant::now();
    thread::scope(|s| {
        for t in 0..THREADS {
            let (stop, ok, failed) = (&stop, &ok, &failed);
            s.spawn(move || {
                let mut i = t * targets.len() / THREADS;
                let (mut n_ok, mut n_failed) = (0u64, 0u64);
                while !stop.load(Relaxed) {
                    i = (i + 1) % targets.len();
                    let (target, _) = &targets[i];
                    let polled = set
                        .pool(target)
                        .and_then(|p| p.execute(|c| c.get(&[oid::SYS_UPTIME])));
                    match polled {
                        Ok(_) => n_ok += 1,
                        Err(_) => n_failed += 1,
                    }
                }
                ok.fetch_add(n_ok, Relaxed);
                failed.fetch_add(n_failed, Relaxed);
            });
        }
        thread::sleep(dur);
        stop.store(true, Relaxed);
    });
    let secs = start.elapsed().as_secs_f64();
    (ok.load(Relaxed) as f64 / secs, failed.load(Relaxed))
}

/// edgepool's shared background threads in this process (Linux): the
/// reaper and the workers (the simulators' threads are not counted).
fn edgepool_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| {
                    c.starts_with("edgepool-reaper") || c.starts_with("edgepool-worker")
                })
            })
            .count(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = std::env::args().any(|a| a == "--bench");
    let (agents, rounds, dur, warmup) = if bench {
        (
            1000,
            env_u64("EDGEPOOL_BENCH_ROUNDS", 7).max(1),
            Duration::from_millis(env_u64("EDGEPOOL_BENCH_MILLIS", 4000)),
            Duration::from_millis(env_u64("EDGEPOOL_BENCH_WARMUP_MILLIS", 20_000)),
        )
    } else {
        (
            60,
            1,
            Duration::from_millis(300),
            Duration::from_millis(300),
        )
    };
    let sims = (0..agents)
        .map(|_| SnmpSim::start())
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<(String, bool)> = sims
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let healthy = i % SILENT_EVERY != SILENT_EVERY / 2;
            if !healthy {
                s.faults().set_silent(true);
            }
            (format!("udp://{}", s.addr()), healthy)
        })
        .collect();
    let healthy: Vec<(String, bool)> = all.iter().filter(|t| t.1).cloned().collect();
    let down = all.len() - healthy.len();

    let base = snmp::Config::new("")
        .timeout(Duration::from_millis(250))
        .retries(1);
    let set = PoolSet::new(
        Pool::builder()
            .max_size(2)
            .acquire_timeout(Duration::from_secs(1)),
        move |target: &String| {
            let mut config = base.clone();
            config.addr = target.clone();
            snmp::Manager::new(config)
        },
    );
    if bench {
        println!(
            "{agents} simulated SNMP agents ({down} silent), {THREADS} polling threads, \
             {rounds} rounds of 2 × {dur:?} after a {warmup:?} warm-up; {} CPUs",
            thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    // Warm-up: every pool exists, the silent ones are well into their backoff.
    let (_, failed) = poll(&set, &all, warmup);
    if bench {
        println!("warm-up: {failed} failed polls (the silent agents)");
    }
    let (mut clean, mut mixed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let order: [bool; 2] = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let (mut c, mut m) = (0.0, 0.0);
        for with_down in order {
            if with_down {
                m = poll(&set, &all, dur).0;
            } else {
                c = poll(&set, &healthy, dur).0;
            }
        }
        if bench {
            println!(
                "round {round}: all healthy {c:>8.0} GET/s, with {down} down {m:>8.0} GET/s ({:.3}x)",
                m / c
            );
        }
        clean.push(c);
        mixed.push(m);
        ratios.push(m / c);
    }
    let threads = edgepool_threads();
    if !bench {
        println!("many_targets bench: works (run `cargo bench --bench many_targets` for numbers)");
        return Ok(());
    }
    let (c, m) = (median(&mut clean), median(&mut mixed));
    println!(
        "\nmedian GET/s answered by the {} healthy agents: all healthy {c:.0}, with {down} down {m:.0}: {:.3}x (median of per-round ratios {:.3}x)",
        healthy.len(),
        m / c,
        median(&mut ratios)
    );
    println!(
        "edgepool background threads: {} for {} pools",
        threads.map_or("?".to_string(), |n| n.to_string()),
        set.len()
    );
    set.close();
    Ok(())
}
