//! A short load through a Redis pool, then the pool's stats.
//!
//! ```sh
//! cargo run --example redis_ping                    # the built-in Redis simulator
//! cargo run --example redis_ping -- redis://127.0.0.1:6379 --threads 8 --seconds 5
//! ```
//!
//! With no URL it starts the Redis simulator (feature `sim`) on loopback.

use edgepool::sim::redis::RedisSim;
use edgepool::{redis, Pool};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = None;
    let (mut threads, mut seconds) = (4usize, 3u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--threads N")?
            }
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seconds N")?
            }
            "-h" | "--help" => {
                println!(
                    "usage: redis_ping [URL] [--threads N] [--seconds N]\n\n\
                     PING/SET/GET through a Redis pool, then the pool's stats. URL is\n\
                     redis://[user:pass@]HOST[:PORT][/DB] or rediss://… (TLS); with no URL,\n\
                     the built-in Redis simulator on loopback.\n\n\
                     \x20 --threads N   worker threads and pool size (default 4)\n\
                     \x20 --seconds N   how long to run (default 3)\n\
                     \x20 -h, --help    this text"
                );
                return Ok(());
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option {other} (try --help)").into())
            }
            other => url = Some(other.to_string()),
        }
    }
    let sim = match url {
        Some(_) => None,
        None => {
            println!("no URL given: using the built-in Redis simulator");
            Some(RedisSim::start()?)
        }
    };
    let url = match (url, &sim) {
        (Some(u), _) => u,
        (None, Some(sim)) => sim.url(),
        (None, None) => unreachable!("a simulator runs when no URL is given"),
    };
    let config = redis::Config::from_url(&url)?;
    println!(
        "{threads} threads for {seconds} s against {} (db {})",
        config.addr, config.db
    );
    let pool = Pool::builder()
        .max_size(threads as u32)
        .acquire_timeout(Duration::from_secs(2))
        .build(redis::Manager::new(config))?;
    // One call first, so that a wrong address or password says so at once.
    pool.execute(|c| c.ping())?;

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (pool, ok, failed) = (pool.clone(), ok.clone(), failed.clone());
            thread::spawn(move || {
                let key = format!("edgepool:example:{t}");
                let mut n = 0u64;
                while Instant::now() < end {
                    n += 1;
                    let r = match n % 3 {
                        0 => pool.execute(|c| c.ping()),
                        1 => pool.execute(|c| c.set(&key, n.to_string())),
                        _ => pool.execute(|c| c.get(&key)).map(drop),
                    };
                    match r {
                        Ok(()) => ok.fetch_add(1, Relaxed),
                        Err(e) => {
                            eprintln!("error: {e}");
                            thread::sleep(Duration::from_millis(100));
                            failed.fetch_add(1, Relaxed)
                        }
                    };
                }
                let _ = pool.execute(|c| c.del(&[&key]));
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let done = ok.load(Relaxed);
    println!(
        "{done} requests ({:.0}/s), {} failed",
        done as f64 / seconds.max(1) as f64,
        failed.load(Relaxed)
    );
    println!("pool: {}", pool.stats());
    println!("health: {}", pool.health_check());
    Ok(())
}
