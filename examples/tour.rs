//! The tour: edgepool's whole job on built-in defaults, with no device needed.
//!
//! Starts the built-in simulators (a Redis server, an SNMP agent that also
//! answers SNMPv3, an S7 CPU, and eight more SNMP agents for a `PoolSet`) and
//! a tunnel server pool, builds a pool per protocol, and runs worker threads
//! through them for about 10 s with a live status line per pool (redrawn in
//! place on a terminal, printed as plain lines otherwise). Midway the Redis
//! simulator (or, with a real Redis, another one) stops answering for 3 s: watch the errors, the failed health
//! probes, and the pool recovering on its own. Ends with each pool's final
//! stats and a health check.
//!
//! ```sh
//! cargo run --example tour
//! cargo run --example tour -- --duration 20 --threads 4
//! cargo run --example tour -- --redis redis://127.0.0.1:6379 --snmp snmp://public@127.0.0.1:161 --s7 127.0.0.1:102
//! ```
//!
//! `--snmp`, `--s7` and `--redis` run the same tour against real devices
//! instead of the simulators (only reads, except `INCR` on the Redis keys
//! `edgepool:tour:N`, one per worker thread). `--snmp` with net-snmp's v3
//! options (`-u -l -a -A -x -X -n`) polls the agent with SNMPv3:
//!
//! ```sh
//! cargo run --example tour -- --snmp udp://10.0.0.7 -u ops -a SHA -A authpass -x AES -X privpass
//! ```
//!
//! Request timeouts are 1 s: far above what a loaded machine adds (a debug
//! build on two busy cores answers in milliseconds), and below the injected
//! outage, so every timeout the tour shows is the injected fault, and the
//! output labels it so.

#[path = "common/snmp_v3.rs"]
mod snmp_v3;

use edgepool::net::TlsMode;
use edgepool::s7::Area;
use edgepool::sim::{redis::RedisSim, s7::S7Sim, snmp::SnmpSim};
use edgepool::snmp::{self, oid, AuthProtocol, PrivProtocol, Usm};
use edgepool::tunnel::{ClientPool, ConnId, ServerPool, ServerTls};
use edgepool::{redis, s7, Error, HealthReport, Pool, PoolBuilder, PoolSet, Stats};
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Agents behind the `PoolSet` lane.
const SET_AGENTS: usize = 8;
/// How long the Redis simulator stays silent midway (shorter in short runs).
const OUTAGE: Duration = Duration::from_secs(3);
/// Each request's (and connect's) time limit. Loaded machines add
/// milliseconds, never this much; the outage lasts longer, so it shows.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let opts = Options::parse()?;
    let tty = std::io::stdout().is_terminal();

    // The peers: simulators unless a real target was given.
    let redis_sim = opts.redis.is_none().then(RedisSim::start).transpose()?;
    let snmp_sim = opts.snmp.is_none().then(SnmpSim::start).transpose()?;
    let s7_sim = opts.s7.is_none().then(S7Sim::start).transpose()?;
    let set_sims = if opts.snmp.is_none() {
        (0..SET_AGENTS)
            .map(|_| SnmpSim::start())
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let tunnel_server = ServerPool::builder()
        .tls(if cfg!(feature = "tls") {
            ServerTls::SelfSigned
        } else {
            ServerTls::Off
        })
        .bind("127.0.0.1:0")?;

    let redis_config = match (&opts.redis, &redis_sim) {
        (Some(url), _) => redis::Config::from_url(url)?,
        (None, Some(sim)) => redis::Config::from_url(&sim.url())?,
        (None, None) => unreachable!("a simulator runs when no URL is given"),
    }
    .read_timeout(REQUEST_TIMEOUT)
    .write_timeout(REQUEST_TIMEOUT)
    .connect_timeout(REQUEST_TIMEOUT);
    let (snmp_target, community) = match (&opts.snmp, &snmp_sim) {
        (Some(url), _) => parse_snmp_url(url)?,
        (None, Some(sim)) => (format!("udp://{}", sim.addr()), "public".to_string()),
        (None, None) => unreachable!("a simulator runs when no URL is given"),
    };
    let usm = opts.v3.usm()?;
    // A real agent with a v3 user is polled with v3 only; otherwise v2c
    // (and, with the simulator, v3 on a lane of its own).
    let real_v3 = opts.snmp.is_some() && usm.is_some();
    let snmp_config = |target: &str| {
        let config = snmp::Config::new(target)
            .community(community.clone())
            .timeout(REQUEST_TIMEOUT)
            .retries(1);
        match (&usm, real_v3) {
            (Some(u), true) => config.v3(u.clone()),
            _ => config,
        }
    };
    let snmp_name = if real_v3 { "snmp v3" } else { "snmp v2c" };
    let s7_addr = match (&opts.s7, &s7_sim) {
        (Some(addr), _) => addr.clone(),
        (None, Some(sim)) => sim.addr().to_string(),
        (None, None) => unreachable!("a simulator runs when no address is given"),
    };

    // The pools: same settings everywhere, tuned to show things within seconds.
    fn builder<M: edgepool::Manage>(threads: usize) -> PoolBuilder<M> {
        Pool::builder()
            .max_size(threads as u32 + 1)
            .min_idle(1)
            .acquire_timeout(REQUEST_TIMEOUT * 2)
            .health_check_interval(Some(Duration::from_secs(1)))
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
    }
    let redis_pool = builder(opts.threads).build(redis::Manager::new(redis_config.clone()))?;
    let snmp_pool = builder(opts.threads).build(snmp::Manager::new(snmp_config(&snmp_target)))?;
    let snmp_v3_pool = match &snmp_sim {
        Some(sim) => Some(
            builder(opts.threads).build(snmp::Manager::new(
                snmp::Config::new(format!("udp://{}", sim.addr()))
                    .timeout(REQUEST_TIMEOUT)
                    .retries(1)
                    .v3(usm.clone().unwrap_or_else(|| {
                        Usm::new("simuser")
                            .auth(AuthProtocol::Sha1, "simauthpass")
                            .privacy(PrivProtocol::Aes128, "simprivpass")
                    })),
            ))?,
        ),
        None => None,
    };
    let s7_config = s7::Config::new(s7_addr.clone())
        .connect_timeout(REQUEST_TIMEOUT)
        .read_timeout(REQUEST_TIMEOUT)
        .write_timeout(REQUEST_TIMEOUT);
    let s7_pool = builder(opts.threads).build(s7::Manager::new(s7_config))?;
    let set_targets: Vec<String> = if set_sims.is_empty() {
        vec![snmp_target.clone()]
    } else {
        set_sims
            .iter()
            .map(|s| format!("udp://{}", s.addr()))
            .collect()
    };
    let set_config = snmp_config("");
    let snmp_set = PoolSet::new(builder(1).min_idle(0), move |target: &String| {
        let mut config = set_config.clone();
        config.addr = target.clone();
        snmp::Manager::new(config)
    });
    let tunnel_client = ClientPool::builder(tunnel_server.local_addr().to_string())
        .min_capacity(4)
        .max_capacity(64)
        .min_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(250))
        .tls(if cfg!(feature = "tls") {
            TlsMode::Insecure
        } else {
            TlsMode::Off
        })
        .start()?;

    println!(
        "edgepool tour: {} worker threads per pool for {} s{}",
        opts.threads,
        opts.duration.as_secs(),
        if redis_sim.is_some() && snmp_sim.is_some() && s7_sim.is_some() {
            ", against the built-in simulators"
        } else {
            ""
        }
    );
    let v3_target = snmp_sim.as_ref().map(|s| format!("udp://{} v3", s.addr()));
    let set_label = format!("{} agents", set_targets.len());
    let mut lanes = vec![
        Lane::new("redis", redis_config.addr.clone(), {
            let p = redis_pool.clone();
            Box::new(move || (p.stats(), p.health_check()))
        }),
        Lane::new(snmp_name, snmp_target.clone(), {
            let p = snmp_pool.clone();
            Box::new(move || (p.stats(), p.health_check()))
        }),
    ];
    if let (Some(p), Some(t)) = (&snmp_v3_pool, v3_target) {
        let p = p.clone();
        lanes.push(Lane::new(
            "snmp v3",
            t,
            Box::new(move || (p.stats(), p.health_check())),
        ));
    }
    lanes.push(Lane::new("s7", s7_addr.clone(), {
        let p = s7_pool.clone();
        Box::new(move || (p.stats(), p.health_check()))
    }));
    lanes.push(Lane::new("snmp set", set_label, {
        let set = snmp_set.clone();
        Box::new(move || set_status(&set))
    }));
    lanes.push(Lane::new(
        "tunnel",
        tunnel_server.local_addr().to_string(),
        Box::new(|| (Stats::default(), HealthReport::default())),
    ));
    let lanes: Vec<Arc<Lane>> = lanes.into_iter().map(Arc::new).collect();
    let lane = |name: &str| {
        Arc::clone(
            lanes
                .iter()
                .find(|l| l.name == name)
                .unwrap_or_else(|| unreachable!("lane {name} exists")),
        )
    };
    let warmed = redis_pool.warm_up(Duration::from_secs(2))?
        + snmp_pool.warm_up(Duration::from_secs(2))?
        + s7_pool.warm_up(Duration::from_secs(2))?;
    println!("warm-up: {warmed} connections ready\n");

    // The workers.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    let mut spawn =
        |lane: Arc<Lane>, mut request: Box<dyn FnMut() -> edgepool::Result<()> + Send>| {
            let stop = Arc::clone(&stop);
            workers.push(thread::spawn(move || {
                while !stop.load(Relaxed) {
                    let start = Instant::now();
                    match request() {
                        Ok(()) => lane.ok(start.elapsed()),
                        Err(e) => {
                            lane.error(&e);
                            thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }));
        };
    for t in 0..opts.threads {
        let p = redis_pool.clone();
        let key = format!("edgepool:tour:{t}");
        spawn(
            lane("redis"),
            Box::new(move || {
                p.execute(|c| {
                    c.incr(&key)?;
                    c.get(&key).map(drop)
                })
            }),
        );
        let p = snmp_pool.clone();
        let oids = [oid::SYS_UPTIME, oid::SYS_DESCR];
        spawn(
            lane(snmp_name),
            Box::new(move || p.execute(|c| c.get(&oids).map(drop))),
        );
        if let Some(p) = snmp_v3_pool.clone() {
            spawn(
                lane("snmp v3"),
                Box::new(move || p.execute(|c| c.get(&[oid::SYS_UPTIME]).map(drop))),
            );
        }
        let p = s7_pool.clone();
        spawn(
            lane("s7"),
            Box::new(move || {
                p.execute(|c| {
                    c.read_db(1, 0, 64)?;
                    c.read_area(Area::Merkers, 0, 0, 16).map(drop)
                })
            }),
        );
        let (set, targets) = (snmp_set.clone(), set_targets.clone());
        let mut next = t;
        spawn(
            lane("snmp set"),
            Box::new(move || {
                next = (next + 1) % targets.len();
                set.pool(&targets[next])?
                    .execute(|c| c.get(&[oid::SYS_UPTIME]).map(drop))
            }),
        );
    }
    let (announce, announced) = mpsc::channel::<ConnId>();
    let far_end = {
        let client = tunnel_client.clone();
        thread::spawn(move || {
            for id in announced {
                if let Ok(mut conn) = client.get(id, Duration::from_secs(2)) {
                    let mut buf = [0u8; 64];
                    if let Ok(n @ 1..) = conn.read(&mut buf) {
                        let _ = conn.write_all(&buf[..n]);
                    }
                }
            }
        })
    };
    {
        let (server, lane) = (tunnel_server.clone(), lane("tunnel"));
        let stop = Arc::clone(&stop);
        workers.push(thread::spawn(move || {
            while !stop.load(Relaxed) {
                let start = Instant::now();
                match tunnel_round_trip(&server, &announce) {
                    Ok(()) => lane.ok(start.elapsed()),
                    Err(e) => {
                        lane.error(&e);
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }));
    }

    // The status display, and the outage midway.
    let mut screen = Screen::new(tty);
    let started = Instant::now();
    let outage_at = opts.duration * 2 / 5;
    // Longer than a request timeout, so the silence shows as timeouts.
    let outage_len = OUTAGE
        .min(opts.duration * 3 / 10)
        .max(REQUEST_TIMEOUT + Duration::from_millis(500));
    let mut outage: Option<Instant> = None;
    let mut outage_done = false;
    // The Redis simulator goes silent midway; with a real Redis, another simulator does.
    let victim = redis_sim
        .as_ref()
        .map(|s| ("Redis", s.faults()))
        .or_else(|| s7_sim.as_ref().map(|s| ("S7", s.faults())))
        .or_else(|| snmp_sim.as_ref().map(|s| ("SNMP", s.faults())));
    // The lanes whose errors the outage explains.
    let victim_lanes: Vec<Arc<Lane>> = match victim {
        Some(("Redis", _)) => vec![lane("redis")],
        Some(("S7", _)) => vec![lane("s7")],
        Some(_) => lanes
            .iter()
            .filter(|l| l.name.starts_with("snmp v"))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let refresh = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut last_draw = Instant::now();
    while started.elapsed() < opts.duration {
        thread::sleep(Duration::from_millis(100));
        let t = started.elapsed();
        if let Some((name, faults)) = victim {
            if outage.is_none() && t >= outage_at {
                faults.set_silent(true);
                outage = Some(Instant::now());
                for l in &victim_lanes {
                    l.fault_started();
                }
                screen.event(format!(
                    "[{:>4.1}s] injected fault: the {name} simulator stops answering for {:.1} s \
                     (errors it causes are marked *)",
                    t.as_secs_f64(),
                    outage_len.as_secs_f64()
                ));
            }
            if let (Some(since), false) = (outage, outage_done) {
                if since.elapsed() >= outage_len {
                    faults.set_silent(false);
                    outage_done = true;
                    for l in &victim_lanes {
                        l.fault_ended();
                    }
                    screen.event(format!(
                        "[{:>4.1}s] the {name} simulator answers again",
                        t.as_secs_f64()
                    ));
                }
            }
        }
        if last_draw.elapsed() >= refresh {
            let secs = last_draw.elapsed().as_secs_f64();
            last_draw = Instant::now();
            let rows = lanes.iter().map(|l| l.status_row(secs, &tunnel_client));
            screen.draw(t, rows.collect());
        }
    }
    // The last interval too, so the run ends on its final state.
    let secs = last_draw.elapsed().as_secs_f64();
    if secs >= 0.25 {
        let rows = lanes.iter().map(|l| l.status_row(secs, &tunnel_client));
        screen.draw(started.elapsed(), rows.collect());
    }
    stop.store(true, Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let _ = far_end.join();
    screen.finish();

    // The final table.
    println!(
        "\nfinal stats (errors: all / during the injected fault; wait: average over the \
         checkouts that had to wait / longest):"
    );
    println!(
        "{:<9} {:>9} {:>11} {:>7} {:>7} {:>8} {:>9} {:>19}   health check",
        "pool", "requests", "errors", "opened", "closed", "timeouts", "probes", "wait"
    );
    for l in &lanes {
        let (s, report) = (l.status)();
        let ok = l.ok_total.load(Relaxed);
        let errors = format!(
            "{} / {}",
            l.errors_total.load(Relaxed),
            l.injected_total.load(Relaxed)
        );
        if l.name == "tunnel" {
            println!(
                "{:<9} {:>9} {:>11} {:>7} {:>7} {:>8} {:>9} {:>19}   client stock {} (target {}), {} failed dials",
                l.name,
                ok,
                errors,
                "-",
                "-",
                "-",
                "-",
                "-",
                tunnel_client.active(),
                tunnel_client.capacity(),
                tunnel_client.errors()
            );
            continue;
        }
        println!(
            "{:<9} {:>9} {:>11} {:>7} {:>7} {:>8} {:>9} {:>19}   {}",
            l.name,
            ok,
            errors,
            s.created,
            s.closed,
            s.timeouts,
            format!("{}/{}", s.health_failures, s.health_checks),
            format!(
                "{} / {}",
                fmt_dur(average_wait(&s)),
                fmt_dur(s.wait_time_max)
            ),
            report
        );
    }
    let errors: Vec<String> = lanes.iter().filter_map(|l| l.first_error()).collect();
    if !errors.is_empty() {
        println!("\nfirst error per pool:");
        for e in errors {
            println!("  {e}");
        }
    }
    let unexplained: u64 = lanes
        .iter()
        .map(|l| l.errors_total.load(Relaxed) - l.injected_total.load(Relaxed))
        .sum();
    match (victim, outage) {
        (Some((name, _)), Some(since)) => {
            let from = since.duration_since(started);
            println!(
                "\ninjected fault: the {name} simulator was silent from {:.1} s to {:.1} s; errors \
                 until {:.0} s after it are counted as injected.",
                from.as_secs_f64(),
                (from + outage_len).as_secs_f64(),
                FAULT_GRACE.as_secs_f64()
            );
            if unexplained == 0 {
                println!("no other errors: every failure above was the injected fault.");
            } else {
                println!(
                    "{unexplained} errors were NOT injected: see the first error per pool above."
                );
            }
        }
        _ if victim.is_none() => println!(
            "\nall targets are real devices (the tunnel pair runs on loopback): no fault was \
             injected, so every error above is real."
        ),
        _ => {}
    }
    if let Some(sim) = &redis_sim {
        println!(
            "\nthe simulators answered: redis {} commands, snmp {} requests, s7 {} requests",
            sim.commands(),
            snmp_sim.as_ref().map_or(0, SnmpSim::requests)
                + set_sims.iter().map(SnmpSim::requests).sum::<u64>(),
            s7_sim.as_ref().map_or(0, S7Sim::requests)
        );
    }
    redis_pool.close();
    snmp_pool.close();
    if let Some(p) = &snmp_v3_pool {
        p.close();
    }
    s7_pool.close();
    snmp_set.close();
    tunnel_client.close();
    tunnel_server.close();
    Ok(())
}

/// One matched pair through the tunnel: the server end takes a stocked
/// connection, names it to the far end, and sends a message it echoes.
fn tunnel_round_trip(server: &ServerPool, announce: &mpsc::Sender<ConnId>) -> edgepool::Result<()> {
    let (id, mut conn) = server.get(Duration::from_secs(1))?;
    announce
        .send(id)
        .map_err(|_| Error::Unhealthy("the far end is gone".into()))?;
    conn.write_all(b"hello through the tunnel")?;
    let mut reply = [0u8; 24];
    conn.read_exact(&mut reply)?;
    Ok(())
}

/// A `PoolSet`'s pools summed into one row, with the worst health report.
fn set_status(set: &PoolSet<String, snmp::Manager>) -> (Stats, HealthReport) {
    let mut total = Stats::default();
    let mut health = HealthReport::default();
    for key in set.keys() {
        let Ok(pool) = set.pool(&key) else { continue };
        let s = pool.stats();
        total.size += s.size;
        total.in_use += s.in_use;
        total.idle += s.idle;
        total.waiting += s.waiting;
        total.acquired += s.acquired;
        total.released += s.released;
        total.created += s.created;
        total.closed += s.closed;
        total.timeouts += s.timeouts;
        total.health_checks += s.health_checks;
        total.health_failures += s.health_failures;
        total.waits += s.waits;
        total.wait_time_total += s.wait_time_total;
        total.wait_time_max = total.wait_time_max.max(s.wait_time_max);
        let r = pool.health_check();
        health.healthy += r.healthy;
        health.unhealthy += r.unhealthy;
        if r.last_error.is_some() {
            health.last_error = r.last_error;
        }
    }
    (total, health)
}

type Status = Box<dyn Fn() -> (Stats, HealthReport) + Send + Sync>;

/// One pool on the display: its request counters and latency samples.
struct Lane {
    name: &'static str,
    target: String,
    status: Status,
    ok_total: AtomicU64,
    errors_total: AtomicU64,
    /// Errors while a fault was injected into this lane's peer (or up to
    /// FAULT_GRACE after).
    injected_total: AtomicU64,
    /// When the injected fault started and ended.
    fault: Mutex<(Option<Instant>, Option<Instant>)>,
    interval: Mutex<Interval>,
    first_error: Mutex<Option<String>>,
}

/// After an injected fault ends, requests sent into it may still time out
/// (and reconnects back off) for a while: their errors count as injected.
const FAULT_GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Interval {
    ok: u64,
    errors: u64,
    injected: u64,
    samples: Vec<Duration>,
}

impl Lane {
    fn new(name: &'static str, target: impl Into<String>, status: Status) -> Lane {
        Lane {
            name,
            target: target.into(),
            status,
            ok_total: AtomicU64::new(0),
            errors_total: AtomicU64::new(0),
            injected_total: AtomicU64::new(0),
            fault: Mutex::default(),
            interval: Mutex::default(),
            first_error: Mutex::default(),
        }
    }

    fn ok(&self, took: Duration) {
        let n = self.ok_total.fetch_add(1, Relaxed);
        if let Ok(mut i) = self.interval.lock() {
            i.ok += 1;
            // Every 4th latency is plenty for p50/p99 and keeps the lock short.
            if n % 4 == 0 && i.samples.len() < 100_000 {
                i.samples.push(took);
            }
        }
    }

    fn fault_started(&self) {
        if let Ok(mut f) = self.fault.lock() {
            *f = (Some(Instant::now()), None);
        }
    }

    fn fault_ended(&self) {
        if let Ok(mut f) = self.fault.lock() {
            f.1 = Some(Instant::now());
        }
    }

    /// Whether an error now is explained by the injected fault.
    fn in_fault(&self) -> bool {
        match self.fault.lock().map(|f| *f) {
            Ok((Some(_), None)) => true,
            Ok((Some(_), Some(end))) => end.elapsed() <= FAULT_GRACE,
            _ => false,
        }
    }

    fn error(&self, e: &Error) {
        let injected = self.in_fault();
        self.errors_total.fetch_add(1, Relaxed);
        if injected {
            self.injected_total.fetch_add(1, Relaxed);
        }
        if let Ok(mut i) = self.interval.lock() {
            i.errors += 1;
            i.injected += u64::from(injected);
        }
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| {
                let label = if injected { " (injected fault)" } else { "" };
                format!("{}: {e}{label}", self.name)
            });
        }
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|f| f.clone())
    }

    /// The row for the interval since the last call, which it resets.
    fn status_row(&self, secs: f64, tunnel: &ClientPool) -> String {
        let i = match self.interval.lock() {
            Ok(mut i) => std::mem::take(&mut *i),
            Err(_) => Interval::default(),
        };
        let mut samples = i.samples;
        samples.sort_unstable();
        let pct = |q: f64| {
            samples
                .get(((samples.len().saturating_sub(1)) as f64 * q) as usize)
                .map_or_else(|| "-".to_string(), |d| fmt_dur(*d))
        };
        let pool_columns = if self.name == "tunnel" {
            format!(
                "stock {:>2}/{:<2}          ",
                tunnel.active(),
                tunnel.capacity()
            )
        } else {
            let s = (self.status)().0;
            format!(
                "{:>3} {:>4} {:>4} {:>6}",
                s.in_use, s.idle, s.waiting, s.health_failures
            )
        };
        format!(
            "{:<9} {:<26} {:>8.0} {} {:>6} {:>8} {:>8}",
            self.name,
            truncate(&self.target, 26),
            i.ok as f64 / secs,
            pool_columns,
            if i.injected > 0 {
                format!("{}*", i.errors)
            } else {
                i.errors.to_string()
            },
            pct(0.50),
            pct(0.99)
        )
    }
}

const HEADER: &str =
    "pool      target                        req/s use idle wait health errors      p50      p99";

/// Draws the status block: in place on a terminal, appended otherwise.
struct Screen {
    tty: bool,
    drawn: usize,
    events: Vec<String>,
}

impl Screen {
    fn new(tty: bool) -> Screen {
        Screen {
            tty,
            drawn: 0,
            events: Vec::new(),
        }
    }

    fn event(&mut self, text: String) {
        if self.tty {
            self.events.push(text);
        } else {
            println!("{text}");
        }
    }

    fn draw(&mut self, t: Duration, rows: Vec<String>) {
        let mut out = std::io::stdout().lock();
        if self.tty {
            if self.drawn > 0 {
                let _ = write!(out, "\x1b[{}A", self.drawn);
            }
            for e in self.events.drain(..) {
                let _ = writeln!(out, "\x1b[2K{e}");
            }
            let _ = writeln!(out, "\x1b[2K[{:>4.1}s] {HEADER}", t.as_secs_f64());
            for r in &rows {
                let _ = writeln!(out, "\x1b[2K        {r}");
            }
            self.drawn = rows.len() + 1;
        } else {
            let _ = writeln!(out, "[{:>4.1}s] {HEADER}", t.as_secs_f64());
            for r in &rows {
                let _ = writeln!(out, "        {r}");
            }
        }
        let _ = out.flush();
    }

    fn finish(&mut self) {
        if self.tty {
            let mut out = std::io::stdout().lock();
            for e in self.events.drain(..) {
                let _ = writeln!(out, "{e}");
            }
        }
    }
}

/// The average wait of the checkouts that had to wait (`Stats::waits`);
/// checkouts served at once from an idle connection are not in it.
fn average_wait(s: &Stats) -> Duration {
    match u32::try_from(s.waits) {
        Ok(0) => Duration::ZERO,
        Ok(n) => s.wait_time_total / n,
        Err(_) => s.wait_time_total.div_f64(s.waits as f64),
    }
}

fn fmt_dur(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        format!("{} ns", d.as_nanos())
    } else if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// `snmp://[COMMUNITY@]HOST[:PORT]` or `udp://HOST[:PORT]` (community `public`).
fn parse_snmp_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("snmp://")
        .or_else(|| url.strip_prefix("udp://"))
        .ok_or_else(|| format!("--snmp wants snmp://[COMMUNITY@]HOST[:PORT], not {url}"))?;
    let (community, host) = match rest.rsplit_once('@') {
        Some((c, h)) => (c.to_string(), h),
        None => ("public".to_string(), rest),
    };
    // snmp::Config takes `host:port` or `host` (port 161) itself.
    let target = format!("udp://{host}");
    Ok((target, community))
}

struct Options {
    duration: Duration,
    threads: usize,
    snmp: Option<String>,
    v3: snmp_v3::V3Options,
    s7: Option<String>,
    redis: Option<String>,
}

const USAGE: &str = "\
usage: tour [OPTIONS]

Runs pools for Redis, SNMP v2c and v3, S7, a PoolSet of SNMP agents and a
tunnel pair, against the built-in simulators unless real targets are given,
with a live status line per pool; midway one simulator stops answering for a
while (an injected fault, marked in the output). Ends with each pool's stats.

  --duration SECS             how long to run, 1 to 3600 (default 10)
  --threads N                 worker threads per pool, 1 to 64 (default 2)
  --redis redis://[user:pass@]HOST[:PORT][/DB]
                              a real Redis (INCR/GET on keys edgepool:tour:N)
  --snmp snmp://[COMMUNITY@]HOST[:PORT] or udp://HOST[:PORT]
                              a real SNMP agent (GETs only; community public
                              by default, or SNMPv3 with -u and the options below)
  --s7 HOST[:PORT]            a real S7 PLC (reads DB1 and merkers; port 102)
  -h, --help                  this text
";

impl Options {
    fn parse() -> Result<Options, String> {
        let mut o = Options {
            duration: Duration::from_secs(10),
            threads: 2,
            snmp: None,
            v3: snmp_v3::V3Options::default(),
            s7: None,
            redis: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            if o.v3
                .take(&a, &mut || args.next().ok_or(format!("{a} needs a value")))?
            {
                continue;
            }
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            let mut number = |name: &str| {
                value(name)?
                    .parse::<u64>()
                    .ok()
                    .filter(|v| (1..=3600).contains(v))
                    .ok_or(format!("{name} needs a number from 1 to 3600"))
            };
            match a.as_str() {
                "--duration" => o.duration = Duration::from_secs(number("--duration")?),
                "--threads" => o.threads = number("--threads")?.min(64) as usize,
                "--snmp" => o.snmp = Some(value("--snmp")?),
                "--s7" => o.s7 = Some(value("--s7")?),
                "--redis" => o.redis = Some(value("--redis")?),
                "-h" | "--help" => {
                    println!("{USAGE}\n{}", snmp_v3::HELP);
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option {other} (try --help)")),
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_wait_counts_only_checkouts_that_waited() {
        // 1000 checkouts, 2 of which waited 500 ms and 100 ms.
        let mut s = Stats::default();
        s.acquired = 1000;
        s.waits = 2;
        s.wait_time_total = Duration::from_millis(600);
        s.wait_time_max = Duration::from_millis(500);
        assert_eq!(average_wait(&s), Duration::from_millis(300));
        assert!(average_wait(&s) <= s.wait_time_max);
        assert_eq!(average_wait(&Stats::default()), Duration::ZERO);
    }

    #[test]
    fn snmp_urls() {
        let parse = |u: &str| parse_snmp_url(u).ok();
        let pair = |t: &str, c: &str| Some((t.to_string(), c.to_string()));
        assert_eq!(
            parse("snmp://private@10.0.0.7:1161"),
            pair("udp://10.0.0.7:1161", "private")
        );
        assert_eq!(parse("udp://10.0.0.7"), pair("udp://10.0.0.7", "public"));
        assert_eq!(parse("tcp://10.0.0.7"), None);
    }

    #[test]
    fn v3_options() {
        let mut o = snmp_v3::V3Options::default();
        let args = [
            "-u",
            "ops",
            "-a",
            "sha-256",
            "-A",
            "authpass1",
            "-x",
            "aes-256",
            "-X",
            "privpass1",
            "-n",
            "ctx",
        ];
        let mut it = args.iter().map(|s| s.to_string());
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| "needs a value".to_string());
            assert_eq!(o.take(&flag, &mut value), Ok(true), "{flag}");
        }
        let usm = o.usm().ok().flatten().unwrap_or_else(|| Usm::new("none"));
        assert_eq!(usm.user, "ops");
        assert_eq!(usm.auth, AuthProtocol::Sha256);
        assert_eq!(usm.privacy, PrivProtocol::Aes256);
        assert_eq!(usm.level, snmp::SecurityLevel::AuthPriv);
        assert_eq!(usm.context_name, "ctx");
        let mut bad = snmp_v3::V3Options::default();
        assert!(bad.take("-a", &mut || Ok("sha-3".into())).is_err());
        assert!(bad.take("--walk", &mut || Ok(String::new())) == Ok(false));
        assert!(bad.take("-A", &mut || Ok("authpass1".into())).is_ok());
        assert!(bad.usm().is_err(), "a password without a user");
    }
}
