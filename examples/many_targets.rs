//! Many targets: one `PoolSet` over 50 SNMP agents, polled by 8 threads.
//!
//! ```sh
//! cargo run --example many_targets                       # 50 simulated agents
//! cargo run --example many_targets -- 10.0.0.7 10.0.0.8  # real agents (community public)
//! cargo run --example many_targets -- --community private --seconds 10 udp://10.0.0.7:1161
//! ```
//!
//! Every target gets its own small pool, created on first use; all of them
//! share edgepool's one reaper thread and one worker pool, so the thread count
//! stays flat however many devices there are. Each second prints polls/s and
//! the pools' combined stats; the end shows the slowest agents, the first
//! error of each failing agent, and the process's thread count.

use edgepool::sim::snmp::SnmpSim;
use edgepool::snmp::{self, oid};
use edgepool::{Pool, PoolSet};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SIMULATED: usize = 50;
const THREADS: usize = 8;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut targets, mut community, mut seconds) = (Vec::new(), "public".to_string(), 5u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--community" => community = args.next().ok_or("--community NAME")?,
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|v| (1..=3600).contains(v))
                    .ok_or("--seconds N (1..=3600)")?
            }
            "-h" | "--help" => {
                println!(
                    "usage: many_targets [--community NAME] [--seconds N] [TARGET…]\n\n\
                     Polls sysUpTime.0 and sysDescr.0 from every TARGET (udp://HOST:PORT,\n\
                     HOST:PORT or HOST for port 161) with {THREADS} threads through one PoolSet.\n\
                     With no TARGET: {SIMULATED} simulated agents on 127.0.0.1.\n\n\
                     \x20 --community NAME  SNMP v2c community (default public)\n\
                     \x20 --seconds N       how long to poll, 1 to 3600 (default 5)\n\
                     \x20 -h, --help        this text"
                );
                return Ok(());
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option {other} (try --help)").into())
            }
            _ => targets.push(a),
        }
    }
    let threads_before = threads_in_process();
    let sims = if targets.is_empty() {
        let sims = (0..SIMULATED)
            .map(|_| SnmpSim::start())
            .collect::<Result<Vec<_>, _>>()?;
        targets = sims.iter().map(|s| format!("udp://{}", s.addr())).collect();
        println!("{SIMULATED} simulated agents on 127.0.0.1");
        sims
    } else {
        Vec::new()
    };

    let base = snmp::Config::new("")
        .community(community)
        .timeout(Duration::from_millis(500))
        .retries(1);
    let set = PoolSet::new(
        Pool::builder()
            .max_size(2)
            .acquire_timeout(Duration::from_secs(1))
            .health_check_interval(Some(Duration::from_secs(5))),
        move |target: &String| {
            let mut config = base.clone();
            config.addr = target.clone();
            snmp::Manager::new(config)
        },
    );
    let targets = Arc::new(targets);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Per failing target: how many polls failed, and the first error.
    let failures: Arc<Mutex<BTreeMap<String, (u64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (set, targets, ok, failed, failures, stop) = (
                set.clone(),
                targets.clone(),
                ok.clone(),
                failed.clone(),
                failures.clone(),
                stop.clone(),
            );
            thread::spawn(move || {
                // Each thread walks the targets from its own offset.
                let mut i = t * targets.len() / THREADS;
                while !stop.load(Relaxed) {
                    i = (i + 1) % targets.len();
                    let polled = set
                        .pool(&targets[i])
                        .and_then(|p| p.execute(|c| c.get(&[oid::SYS_UPTIME, oid::SYS_DESCR])));
                    match polled {
                        Ok(_) => {
                            ok.fetch_add(1, Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Relaxed);
                            if let Ok(mut f) = failures.lock() {
                                let entry = f
                                    .entry(targets[i].clone())
                                    .or_insert_with(|| (0, e.to_string()));
                                entry.0 += 1;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        thread::sleep(Duration::from_secs(1));
        let done = ok.load(Relaxed);
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        let stats = set.stats();
        let (size, in_use, idle) = stats.values().fold((0, 0, 0), |a, s| {
            (a.0 + s.size, a.1 + s.in_use, a.2 + s.idle)
        });
        println!(
            "[{:>2.0}s] {rate:>7.0} polls/s  {} pools  {size} connections ({in_use} in use, {idle} idle)  {} failed",
            started.elapsed().as_secs_f64(),
            stats.len(),
            failed.load(Relaxed)
        );
    }
    stop.store(true, Relaxed);
    for w in workers {
        let _ = w.join();
    }

    let mut slowest: Vec<(String, Duration, u64)> = set
        .stats()
        .into_iter()
        .map(|(k, s)| (k, s.wait_time_max, s.acquired))
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    println!(
        "\n{} polls, {} failed, across {} targets",
        ok.load(Relaxed),
        failed.load(Relaxed),
        targets.len()
    );
    if let Ok(f) = failures.lock() {
        if !f.is_empty() {
            println!("failing targets ({}), first error of each:", f.len());
            for (target, (n, first)) in f.iter().take(20) {
                println!("  {target:<24} {n:>6} failed  {first}");
            }
            if f.len() > 20 {
                println!("  … and {} more", f.len() - 20);
            }
        }
    }
    println!("longest acquire waits:");
    for (target, wait, acquired) in slowest.iter().take(3) {
        println!("  {target:<24} {wait:>10.1?}  ({acquired} checkouts)");
    }
    if let (Some(before), Some(now)) = (threads_before, threads_in_process()) {
        println!(
            "threads in this process: {before} before the agents, {now} now = main + {} simulated agents + edgepool's shared reaper and workers, for {} pools (the {THREADS} polling threads have exited)",
            sims.len(),
            set.len()
        );
    }
    set.close();
    Ok(())
}

/// The process's thread count, where the OS tells (Linux).
fn threads_in_process() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}
