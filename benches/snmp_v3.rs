//! SNMPv3 costs against one real net-snmp `snmpd` on loopback (its users
//! from tests/common's `SNMP_V3_USERS`):
//!
//! 1. password-to-key (RFC 3414 A.2: about 1 MiB hashed) per auth protocol;
//! 2. opening pooled v3 connections: the 1st (hashes the passwords and
//!    discovers the engine) against the 2nd..10th of the same manager (share
//!    both), and against clients without a shared manager; each "open"
//!    includes its first GET. Goal: 2nd..10th <= 1/10 of the 1st;
//! 3. GET sysUpTime.0 on one thread: edgepool v2c, edgepool v3 authPriv
//!    SHA/AES-128, and the `snmp2` crate's v3 `SyncSession` with the same
//!    user. Goals: v3 <= 1.3x v2c's cost per request; edgepool v3 >= 1.0x
//!    snmp2 v3's throughput;
//! 4. the same GET from 8 threads at once (aggregate GET/s): edgepool v3
//!    authPriv SHA/AES-128 through one `Pool` of 8 (`pool.execute`, so each
//!    thread has a pooled connection of its own and nobody waits), against 8
//!    `snmp2` v3 `SyncSession`s (one per thread, each discovered once), and
//!    edgepool v2c / snmp2 v2c the same way for reference. Goal: edgepool v3
//!    >= 1.15x snmp2 v3.
//!
//! A plain harness. Every round measures every variant, in an order that
//! rotates; the table shows medians over the rounds.
//! `cargo bench --no-default-features --features snmp --bench snmp_v3` runs
//! it (about a minute); `EDGEPOOL_BENCH_ROUNDS` (default 5) and
//! `EDGEPOOL_BENCH_MILLIS` (per throughput measurement, default 1000) change
//! the size. Without `--bench` (as `cargo test --all-targets` runs it) it only
//! checks that every variant works.

#[path = "../tests/common/mod.rs"]
mod common;
mod harness;

use common::SnmpServer;
use edgepool::snmp::usm::password_to_key;
use edgepool::snmp::{oid, AuthProtocol, Client, Config, Manager, PrivProtocol, Usm, Value};
use edgepool::Pool;
use harness::{env_u64, median};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const SYS_UPTIME_ARCS: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];

fn user() -> Usm {
    Usm::new("shaaes")
        .auth(AuthProtocol::Sha1, "shaauthpass")
        .privacy(PrivProtocol::Aes128, "shaprivpass")
}

fn v3_config(addr: &str) -> Config {
    Config::new(addr)
        .v3(user())
        .timeout(Duration::from_secs(2))
        .retries(1)
}

fn check(vbs: &[edgepool::snmp::VarBind]) {
    assert!(
        matches!(vbs, [vb] if matches!(vb.value, Value::TimeTicks(_))),
        "{vbs:?}"
    );
}

/// Connect + first GET, in µs: (1st of a manager, mean of its 2nd..10th,
/// mean of unshared `Client::connect`s, 1st and mean of 2nd..10th through a
/// `Pool`, whose `get` hands the connect to its worker thread).
fn connects(addr: &str) -> [f64; 5] {
    use r2d2::ManageConnection;
    let manager = Manager::new(v3_config(addr));
    let mut held = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut c = manager.connect().expect("v3 connection");
        check(&c.get(&[oid::SYS_UPTIME]).expect("v3 GET"));
        direct.push(start.elapsed().as_secs_f64() * 1e6);
        held.push(c);
    }
    let mut alone = 0.0;
    for _ in 0..9 {
        let start = Instant::now();
        let mut c = Client::connect(&v3_config(addr)).expect("v3 client");
        check(&c.get(&[oid::SYS_UPTIME]).expect("v3 GET"));
        alone += start.elapsed().as_secs_f64() * 1e6;
    }
    let pool = Pool::builder()
        .max_size(10)
        .build(Manager::new(v3_config(addr)))
        .expect("pool");
    let mut guards = Vec::new();
    let mut pooled = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut c = pool.get().expect("pooled v3 connection");
        check(&c.get(&[oid::SYS_UPTIME]).expect("v3 GET"));
        pooled.push(start.elapsed().as_secs_f64() * 1e6);
        guards.push(c);
    }
    [
        direct[0],
        direct[1..].iter().sum::<f64>() / 9.0,
        alone / 9.0,
        pooled[0],
        pooled[1..].iter().sum::<f64>() / 9.0,
    ]
}

enum Variant {
    Edge(Pool<Manager>),
    Snmp2(Box<snmp2::SyncSession>),
}

fn variants(addr: &str) -> Vec<(&'static str, Variant)> {
    let v2 = Pool::builder()
        .max_size(1)
        .build(Manager::new(
            Config::new(addr)
                .community("public")
                .timeout(Duration::from_secs(2)),
        ))
        .expect("v2c pool");
    let v3 = Pool::builder()
        .max_size(1)
        .build(Manager::new(v3_config(addr)))
        .expect("v3 pool");
    let security = snmp2::v3::Security::new(b"shaaes", b"shaauthpass")
        .with_auth_protocol(snmp2::v3::AuthProtocol::Sha1)
        .with_auth(snmp2::v3::Auth::AuthPriv {
            cipher: snmp2::v3::Cipher::Aes128,
            privacy_password: b"shaprivpass".to_vec(),
        });
    let mut s = snmp2::SyncSession::new_v3(addr, Some(Duration::from_secs(2)), 1, security)
        .expect("snmp2 v3 session");
    s.init().expect("snmp2 v3 discovery");
    vec![
        ("edgepool v2c", Variant::Edge(v2)),
        ("edgepool v3 authPriv SHA/AES", Variant::Edge(v3)),
        ("snmp2 v3 authPriv SHA/AES", Variant::Snmp2(Box::new(s))),
    ]
}

/// GETs per second for `time`.
fn throughput(v: &mut Variant, time: Duration) -> f64 {
    let oid2 = snmp2::Oid::from(&SYS_UPTIME_ARCS).expect("snmp2 OID");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < time {
        match v {
            Variant::Edge(pool) => check(
                &pool
                    .execute(|c| c.get(&[oid::SYS_UPTIME]))
                    .expect("edgepool GET"),
            ),
            Variant::Snmp2(s) => {
                let mut pdu = s.get(&oid2).expect("snmp2 GET");
                assert!(matches!(
                    pdu.varbinds.next(),
                    Some((_, snmp2::Value::Timeticks(_)))
                ));
            }
        }
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Client threads of the 8-thread comparison.
const THREADS: usize = 8;

/// One 8-thread variant: a pool of 8 shared by the threads, or one `snmp2`
/// session per thread.
enum Multi {
    Edge(Pool<Manager>),
    Snmp2(Vec<Box<snmp2::SyncSession>>),
}

fn snmp2_v3_session(addr: &str) -> Box<snmp2::SyncSession> {
    let security = snmp2::v3::Security::new(b"shaaes", b"shaauthpass")
        .with_auth_protocol(snmp2::v3::AuthProtocol::Sha1)
        .with_auth(snmp2::v3::Auth::AuthPriv {
            cipher: snmp2::v3::Cipher::Aes128,
            privacy_password: b"shaprivpass".to_vec(),
        });
    let mut s = snmp2::SyncSession::new_v3(addr, Some(Duration::from_secs(2)), 1, security)
        .expect("snmp2 v3 session");
    s.init().expect("snmp2 v3 discovery");
    // Two 64 KiB buffers inside: keep it off the stack.
    Box::new(s)
}

fn multi_variants(addr: &str) -> Vec<(&'static str, Multi)> {
    let pool = |cfg: Config| {
        let p = Pool::builder()
            .max_size(THREADS as u32)
            .min_idle(THREADS as u32)
            .build(Manager::new(cfg))
            .expect("pool");
        // All 8 connections open (and, v3, discovered) before any measurement.
        let held: Vec<_> = (0..THREADS)
            .map(|_| {
                let mut c = p.get().expect("pooled connection");
                check(&c.get(&[oid::SYS_UPTIME]).expect("warm-up GET"));
                c
            })
            .collect();
        drop(held);
        p
    };
    let v2 = Config::new(addr)
        .community("public")
        .timeout(Duration::from_secs(2));
    vec![
        ("edgepool v2c", Multi::Edge(pool(v2))),
        ("snmp2 v2c", {
            Multi::Snmp2(
                (0..THREADS)
                    .map(|t| {
                        Box::new(
                            snmp2::SyncSession::new_v2c(
                                addr,
                                b"public",
                                Some(Duration::from_secs(2)),
                                1 + (t as i32) * 1_000_000,
                            )
                            .expect("snmp2 v2c session"),
                        )
                    })
                    .collect(),
            )
        }),
        (
            "edgepool v3 authPriv SHA/AES",
            Multi::Edge(pool(v3_config(addr))),
        ),
        (
            "snmp2 v3 authPriv SHA/AES",
            Multi::Snmp2((0..THREADS).map(|_| snmp2_v3_session(addr)).collect()),
        ),
    ]
}

/// Nanoseconds a thread has run on a CPU, from its `schedstat` (`None`
/// where Linux does not provide it).
fn cpu_ns(schedstat: &str) -> Option<u64> {
    let s = std::fs::read_to_string(schedstat).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// One 8-thread measurement.
#[derive(Clone, Copy)]
struct Sample8 {
    ops_per_sec: f64,
    /// The client threads' CPU time per GET, µs.
    client_us: f64,
    /// snmpd's CPU time over the measurement's wall time (1.0: one CPU busy).
    agent_busy: f64,
}

/// Aggregate GETs per second of 8 threads released together, each running
/// for `time`: all GETs over the time until the last thread stopped; and
/// where the CPU went (snmpd is single-threaded: its main thread's
/// `schedstat` is all of it).
fn throughput8(v: &mut Multi, time: Duration, agent_pid: Option<u32>) -> Sample8 {
    let agent_stat = agent_pid.map(|p| format!("/proc/{p}/schedstat"));
    let agent_cpu = || agent_stat.as_deref().and_then(cpu_ns);
    let barrier = Barrier::new(THREADS + 1);
    let run = |n: &mut u64, get: &mut dyn FnMut()| {
        barrier.wait();
        let cpu0 = cpu_ns("/proc/thread-self/schedstat");
        let start = Instant::now();
        while start.elapsed() < time {
            get();
            *n += 1;
        }
        let cpu = cpu_ns("/proc/thread-self/schedstat").zip(cpu0);
        (start.elapsed(), cpu.map(|(b, a)| b.saturating_sub(a)))
    };
    // Per thread: GETs, time, CPU ns.
    type Run = (u64, Duration, Option<u64>);
    let (runs, agent_ns, wall): (Vec<Run>, Option<u64>, Duration) = std::thread::scope(|s| {
        let run = &run;
        let handles: Vec<_> = match v {
            Multi::Edge(pool) => {
                let pool = &*pool;
                (0..THREADS)
                    .map(|_| {
                        s.spawn(move || {
                            let mut n = 0;
                            let (t, cpu) = run(&mut n, &mut || {
                                check(
                                    &pool
                                        .execute(|c| c.get(&[oid::SYS_UPTIME]))
                                        .expect("edgepool GET"),
                                )
                            });
                            (n, t, cpu)
                        })
                    })
                    .collect()
            }
            Multi::Snmp2(sessions) => sessions
                .iter_mut()
                .map(|session| {
                    s.spawn(move || {
                        let oid2 = snmp2::Oid::from(&SYS_UPTIME_ARCS).expect("snmp2 OID");
                        let mut n = 0;
                        let (t, cpu) = run(&mut n, &mut || {
                            let mut pdu = session.get(&oid2).expect("snmp2 GET");
                            assert!(matches!(
                                pdu.varbinds.next(),
                                Some((_, snmp2::Value::Timeticks(_)))
                            ));
                        });
                        (n, t, cpu)
                    })
                })
                .collect(),
        };
        barrier.wait();
        let a0 = agent_cpu();
        let start = Instant::now();
        let runs: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect();
        let wall = start.elapsed();
        let agent = agent_cpu().zip(a0).map(|(b, a)| b.saturating_sub(a));
        (runs, agent, wall)
    });
    let total: u64 = runs.iter().map(|r| r.0).sum();
    let longest = runs.iter().map(|r| r.1).max().unwrap_or_default();
    let client_ns: Option<u64> = runs.iter().map(|r| r.2).sum();
    Sample8 {
        ops_per_sec: total as f64 / longest.as_secs_f64(),
        client_us: client_ns.map_or(f64::NAN, |n| n as f64 / 1e3 / total as f64),
        agent_busy: agent_ns.map_or(f64::NAN, |n| n as f64 / wall.as_nanos() as f64),
    }
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `EDGEPOOL_BENCH_CALLGRIND=<variant>:<n>`: set up one variant, run `n`
/// GETs and exit, for `valgrind --tool=callgrind` (run twice with two `n`
/// and subtract: the difference divided by the extra GETs is the
/// instructions per GET, setup excluded). Variants: `edge-v2c-pool`,
/// `edge-v2c-client`, `edge-v2c-get-one`, `edge-v3-pool`, `edge-v3-client`,
/// `snmp2-v2c`, `snmp2-v3`. The agent is `$EDGEPOOL_BENCH_AGENT` (started
/// once outside valgrind: tests/common's v3 users) or a fresh snmpd.
fn callgrind(spec: &str) {
    let (name, n) = spec.split_once(':').expect("variant:n");
    let n: u64 = n.parse().expect("n");
    let server = std::env::var("EDGEPOOL_BENCH_AGENT")
        .is_err()
        .then(|| SnmpServer::start_v3(""));
    let addr = std::env::var("EDGEPOOL_BENCH_AGENT")
        .unwrap_or_else(|_| server.as_ref().map(|s| s.addr()).unwrap_or_default());
    let v2 = || {
        Config::new(addr.as_str())
            .community("public")
            .timeout(Duration::from_secs(2))
    };
    let oid2 = snmp2::Oid::from(&SYS_UPTIME_ARCS).expect("snmp2 OID");
    match name {
        "edge-v2c-pool" | "edge-v3-pool" => {
            let cfg = if name == "edge-v2c-pool" {
                v2()
            } else {
                v3_config(&addr)
            };
            let pool = Pool::builder()
                .max_size(1)
                .build(Manager::new(cfg))
                .expect("pool");
            for _ in 0..n {
                check(&pool.execute(|c| c.get(&[oid::SYS_UPTIME])).expect("GET"));
            }
        }
        "edge-v2c-client" | "edge-v3-client" => {
            let cfg = if name == "edge-v2c-client" {
                v2()
            } else {
                v3_config(&addr)
            };
            let mut c = Client::connect(&cfg).expect("client");
            for _ in 0..n {
                check(&c.get(&[oid::SYS_UPTIME]).expect("GET"));
            }
        }
        "edge-v2c-get-one" => {
            let mut c = Client::connect(&v2()).expect("client");
            for _ in 0..n {
                let v = c.get_one(&oid::SYS_UPTIME).expect("GET");
                assert!(matches!(v, Value::TimeTicks(_)));
            }
        }
        "snmp2-v2c" => {
            let mut s = snmp2::SyncSession::new_v2c(
                addr.as_str(),
                b"public",
                Some(Duration::from_secs(2)),
                1,
            )
            .expect("snmp2 session");
            for _ in 0..n {
                let mut pdu = s.get(&oid2).expect("snmp2 GET");
                assert!(matches!(
                    pdu.varbinds.next(),
                    Some((_, snmp2::Value::Timeticks(_)))
                ));
            }
        }
        "snmp2-v3" => {
            let Variant::Snmp2(mut s) = variants(&addr).pop().expect("snmp2").1 else {
                unreachable!()
            };
            for _ in 0..n {
                let mut pdu = s.get(&oid2).expect("snmp2 GET");
                assert!(matches!(
                    pdu.varbinds.next(),
                    Some((_, snmp2::Value::Timeticks(_)))
                ));
            }
        }
        other => panic!("unknown variant {other}"),
    }
    drop(server);
}

fn main() {
    if let Ok(spec) = std::env::var("EDGEPOOL_BENCH_CALLGRIND") {
        return callgrind(&spec);
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench {
        env_u64("EDGEPOOL_BENCH_ROUNDS", 5).max(1) as usize
    } else {
        1
    };
    let time = Duration::from_millis(if bench {
        env_u64("EDGEPOOL_BENCH_MILLIS", 1000).max(10)
    } else {
        10
    });
    let server = SnmpServer::start_v3("");
    let addr = server.addr();

    // 1. Password-to-key.
    let protocols = [
        AuthProtocol::Md5,
        AuthProtocol::Sha1,
        AuthProtocol::Sha224,
        AuthProtocol::Sha256,
        AuthProtocol::Sha384,
        AuthProtocol::Sha512,
    ];
    let reps = if bench { 10 } else { 1 };
    let mut p2k = Vec::new();
    for auth in protocols {
        let mut ms: Vec<f64> = (0..rounds.max(3))
            .map(|_| {
                let start = Instant::now();
                for _ in 0..reps {
                    std::hint::black_box(password_to_key(auth, b"shaauthpass"));
                }
                start.elapsed().as_secs_f64() * 1e3 / f64::from(reps)
            })
            .collect();
        p2k.push((auth, median(&mut ms)));
    }

    // 2. Connects.
    let mut samples = vec![Vec::new(); 5];
    for _ in 0..rounds {
        for (s, v) in samples.iter_mut().zip(connects(&addr)) {
            s.push(v);
        }
    }
    let c: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();

    // 3. Throughput, interleaved.
    let mut vs = variants(&addr);
    let mut ops = vec![Vec::new(); vs.len()];
    if bench {
        for (_, v) in vs.iter_mut() {
            throughput(v, Duration::from_millis(200));
        }
    }
    for round in 0..rounds {
        for k in 0..vs.len() {
            let i = (round + k) % vs.len();
            ops[i].push(throughput(&mut vs[i].1, time));
        }
    }
    let med: Vec<f64> = ops.iter_mut().map(|o| median(o)).collect();

    // 4. 8 threads, interleaved.
    let load_before = load_average();
    let mut multi = multi_variants(&addr);
    let mut ops8 = vec![Vec::new(); multi.len()];
    if bench {
        for (_, v) in multi.iter_mut() {
            throughput8(v, Duration::from_millis(200), server.pid());
        }
    }
    for round in 0..rounds {
        for k in 0..multi.len() {
            let i = (round + k) % multi.len();
            ops8[i].push(throughput8(&mut multi[i].1, time, server.pid()));
        }
    }
    let load_after = load_average();
    // Per-round ratio edgepool v3 / snmp2 v3 (the same round measured both).
    let v3_ratios: Vec<f64> = ops8[2]
        .iter()
        .zip(&ops8[3])
        .map(|(e, s)| e.ops_per_sec / s.ops_per_sec)
        .collect();
    let field = |f: fn(&Sample8) -> f64| -> Vec<Vec<f64>> {
        ops8.iter().map(|o| o.iter().map(f).collect()).collect()
    };
    let rounds8 = field(|s| s.ops_per_sec);
    let med8: Vec<f64> = rounds8.clone().iter_mut().map(|o| median(o)).collect();
    let client8: Vec<f64> = field(|s| s.client_us)
        .iter_mut()
        .map(|o| median(o))
        .collect();
    let agent8: Vec<f64> = field(|s| s.agent_busy)
        .iter_mut()
        .map(|o| median(o))
        .collect();
    let names8: Vec<&str> = multi.iter().map(|(n, _)| *n).collect();
    drop(multi);

    if !bench {
        println!(
            "snmp_v3 bench: smoke run passed (run `cargo bench --no-default-features \
             --features snmp --bench snmp_v3` to measure)"
        );
        return;
    }
    println!(
        "SNMPv3 on loopback, one net-snmp snmpd; {rounds} rounds; {} CPU(s)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("password-to-key (1 MiB hashed), ms per call:");
    for (auth, ms) in &p2k {
        println!("  {:<8} {ms:>7.2}", auth.to_string());
    }
    println!();
    println!("open a v3 connection + its first GET (SHA/AES), us (median of rounds):");
    println!(
        "  1st of a manager (hash + discovery)          {:>9.0}",
        c[0]
    );
    println!(
        "  2nd..10th of the same manager (mean)         {:>9.0}",
        c[1]
    );
    println!(
        "  unshared Client::connect (mean)              {:>9.0}",
        c[2]
    );
    println!(
        "  through a Pool: 1st                          {:>9.0}",
        c[3]
    );
    println!(
        "  through a Pool: 2nd..10th (mean)             {:>9.0}",
        c[4]
    );
    println!(
        "  goal 2nd..10th <= 0.10x the 1st: {:.3}x (through a Pool: {:.3}x)",
        c[1] / c[0],
        c[4] / c[3]
    );
    println!();
    println!("GET sysUpTime.0, 1 thread, ops/s (median of rounds):");
    for ((name, _), m) in vs.iter().zip(&med) {
        println!("  {name:<32} {m:>8.0}");
    }
    println!(
        "  goal v3 cost per request <= 1.30x v2c's: {:.2}x",
        med[0] / med[1]
    );
    println!(
        "  goal edgepool v3 throughput >= 1.00x snmp2 v3's: {:.2}x",
        med[1] / med[2]
    );
    println!();
    println!(
        "GET sysUpTime.0, {THREADS} threads, aggregate ops/s (median of rounds; \
         load average {load_before} before, {load_after} after):"
    );
    println!(
        "  {:<32} {:>8} {:>14} {:>11}   rounds",
        "", "GET/s", "client us/GET", "snmpd busy"
    );
    for (i, name) in names8.iter().enumerate() {
        let all: Vec<String> = rounds8[i].iter().map(|x| format!("{x:.0}")).collect();
        println!(
            "  {name:<32} {:>8.0} {:>14.2} {:>10.0}%   {}",
            med8[i],
            client8[i],
            agent8[i] * 100.0,
            all.join(" ")
        );
    }
    println!("  edgepool v2c / snmp2 v2c: {:.2}x", med8[0] / med8[1]);
    println!(
        "  goal edgepool v3 / snmp2 v3 >= 1.15x: {:.2}x",
        med8[2] / med8[3]
    );
    let per_round: Vec<String> = v3_ratios.iter().map(|r| format!("{r:.2}")).collect();
    let mut v3_ratios = v3_ratios;
    println!(
        "  per round: {} (median {:.2}x)",
        per_round.join(" "),
        median(&mut v3_ratios)
    );
}
