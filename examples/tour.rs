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
use edgepool::sim::{redis::RedisSim, s7::S7Sim, snmp::SnmpSim, Faults};
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
    let peers = Peers::start(&opts)?;
    let targets = Targets::new(&opts, &peers)?;
    let pools = Pools::build(opts.threads, &peers, &targets)?;
    print_banner(&opts, &peers);
    let lanes = Lanes::new(&peers, &targets, &pools);
    let warmed = pools.warm_up()?;
    println!("warm-up: {warmed} connections ready\n");

    let mut workers = Workers::default();
    for t in 0..opts.threads {
        redis_worker(&mut workers, &lanes, &pools.redis, t);
        snmp_workers(&mut workers, &lanes, &targets.snmp, &pools);
        s7_worker(&mut workers, &lanes, &pools.s7);
        snmp_set_worker(&mut workers, &lanes, &pools, t);
    }
    let far_end = tunnel_workers(
        &mut workers,
        &lanes,
        &peers.tunnel_server,
        &pools.tunnel_client,
    );

    let mut screen = Screen::new(std::io::stdout().is_terminal());
    let started = Instant::now();
    let mut outage = Outage::plan(&peers, &lanes, opts.duration);
    watch(
        opts.duration,
        started,
        &lanes,
        &mut outage,
        &pools.tunnel_client,
        &mut screen,
    );
    workers.stop();
    let _ = far_end.join();
    screen.finish();

    print_final_stats(&lanes, &pools.tunnel_client);
    print_errors(&lanes, &outage, started);
    print_simulator_counts(&peers);
    pools.close();
    peers.tunnel_server.close();
    Ok(())
}

// ---- The peers: simulators unless a real target was given ----

/// The simulators the tour runs (those no real target replaces) and the
/// tunnel server pool.
struct Peers {
    redis: Option<RedisSim>,
    snmp: Option<SnmpSim>,
    s7: Option<S7Sim>,
    /// The agents behind the `PoolSet` lane (none with a real SNMP agent).
    set: Vec<SnmpSim>,
    tunnel_server: ServerPool,
}

impl Peers {
    fn start(opts: &Options) -> Result<Peers, Box<dyn std::error::Error>> {
        let redis = opts.redis.is_none().then(RedisSim::start).transpose()?;
        let snmp = opts.snmp.is_none().then(SnmpSim::start).transpose()?;
        let s7 = opts.s7.is_none().then(S7Sim::start).transpose()?;
        let set = if opts.snmp.is_none() {
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
        Ok(Peers {
            redis,
            snmp,
            s7,
            set,
            tunnel_server,
        })
    }

    fn all_simulated(&self) -> bool {
        self.redis.is_some() && self.snmp.is_some() && self.s7.is_some()
    }
}

/// Where each protocol's pool connects, and how.
struct Targets {
    redis: redis::Config,
    snmp: SnmpTarget,
    s7: String,
}

impl Targets {
    fn new(opts: &Options, peers: &Peers) -> Result<Targets, Box<dyn std::error::Error>> {
        let s7 = match (&opts.s7, &peers.s7) {
            (Some(addr), _) => addr.clone(),
            (None, Some(sim)) => sim.addr().to_string(),
            (None, None) => unreachable!("a simulator runs when no address is given"),
        };
        Ok(Targets {
            redis: redis_config(opts, peers)?,
            snmp: SnmpTarget::new(opts, peers)?,
            s7,
        })
    }
}

/// The Redis server: `--redis`, or the simulator; every call within
/// REQUEST_TIMEOUT, the connect (with its AUTH/SELECT) too.
fn redis_config(opts: &Options, peers: &Peers) -> Result<redis::Config, edgepool::Error> {
    let config = match (&opts.redis, &peers.redis) {
        (Some(url), _) => redis::Config::from_url(url)?,
        (None, Some(sim)) => redis::Config::from_url(&sim.url())?,
        (None, None) => unreachable!("a simulator runs when no URL is given"),
    };
    Ok(config
        .read_timeout(REQUEST_TIMEOUT)
        .write_timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT))
}

/// The SNMP agent: `--snmp` (with v3 when a user is given), or the simulator.
struct SnmpTarget {
    target: String,
    community: String,
    usm: Option<Usm>,
    /// A real agent with a v3 user is polled with v3 only; otherwise v2c
    /// (and, with the simulator, v3 on a lane of its own).
    real_v3: bool,
}

impl SnmpTarget {
    fn new(opts: &Options, peers: &Peers) -> Result<SnmpTarget, Box<dyn std::error::Error>> {
        let (target, community) = match (&opts.snmp, &peers.snmp) {
            (Some(url), _) => parse_snmp_url(url)?,
            (None, Some(sim)) => (format!("udp://{}", sim.addr()), "public".to_string()),
            (None, None) => unreachable!("a simulator runs when no URL is given"),
        };
        let usm = opts.v3.usm()?;
        let real_v3 = opts.snmp.is_some() && usm.is_some();
        Ok(SnmpTarget {
            target,
            community,
            usm,
            real_v3,
        })
    }

    /// The config of the main SNMP lane, for `target`.
    fn config(&self, target: &str) -> snmp::Config {
        let config = snmp::Config::new(target)
            .community(self.community.clone())
            .timeout(REQUEST_TIMEOUT)
            .retries(1);
        match (&self.usm, self.real_v3) {
            (Some(u), true) => config.v3(u.clone()),
            _ => config,
        }
    }

    /// The main SNMP lane's name.
    fn lane_name(&self) -> &'static str {
        if self.real_v3 {
            "snmp v3"
        } else {
            "snmp v2c"
        }
    }
}

// ---- The pools: same settings everywhere, tuned to show things within seconds ----

fn builder<M: edgepool::Manage>(threads: usize) -> PoolBuilder<M> {
    Pool::builder()
        .max_size(threads as u32 + 1)
        .min_idle(1)
        .acquire_timeout(REQUEST_TIMEOUT * 2)
        .health_check_interval(Some(Duration::from_secs(1)))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

struct Pools {
    redis: Pool<redis::Manager>,
    snmp: Pool<snmp::Manager>,
    /// SNMPv3 against the simulator (none with a real agent).
    snmp_v3: Option<Pool<snmp::Manager>>,
    s7: Pool<s7::Manager>,
    snmp_set: PoolSet<String, snmp::Manager>,
    set_targets: Vec<String>,
    tunnel_client: ClientPool,
}

impl Pools {
    fn build(
        threads: usize,
        peers: &Peers,
        targets: &Targets,
    ) -> Result<Pools, Box<dyn std::error::Error>> {
        let redis = builder(threads).build(redis::Manager::new(targets.redis.clone()))?;
        let snmp = builder(threads).build(snmp::Manager::new(
            targets.snmp.config(&targets.snmp.target),
        ))?;
        let snmp_v3 = snmp_v3_pool(threads, peers, &targets.snmp)?;
        let s7_config = s7::Config::new(targets.s7.clone())
            .connect_timeout(REQUEST_TIMEOUT)
            .read_timeout(REQUEST_TIMEOUT)
            .write_timeout(REQUEST_TIMEOUT);
        let s7 = builder(threads).build(s7::Manager::new(s7_config))?;
        let set_targets: Vec<String> = if peers.set.is_empty() {
            vec![targets.snmp.target.clone()]
        } else {
            peers
                .set
                .iter()
                .map(|s| format!("udp://{}", s.addr()))
                .collect()
        };
        let set_config = targets.snmp.config("");
        let snmp_set = PoolSet::new(builder(1).min_idle(0), move |target: &String| {
            let mut config = set_config.clone();
            config.addr = target.clone();
            snmp::Manager::new(config)
        });
        let tunnel_client = tunnel_client(&peers.tunnel_server)?;
        Ok(Pools {
            redis,
            snmp,
            snmp_v3,
            s7,
            snmp_set,
            set_targets,
            tunnel_client,
        })
    }

    /// Opens the first connections of the Redis, SNMP and S7 pools.
    fn warm_up(&self) -> edgepool::Result<u32> {
        Ok(self.redis.warm_up(Duration::from_secs(2))?
            + self.snmp.warm_up(Duration::from_secs(2))?
            + self.s7.warm_up(Duration::from_secs(2))?)
    }

    fn close(&self) {
        self.redis.close();
        self.snmp.close();
        if let Some(p) = &self.snmp_v3 {
            p.close();
        }
        self.s7.close();
        self.snmp_set.close();
        self.tunnel_client.close();
    }
}

/// SNMPv3 on a lane of its own, against the simulator only.
fn snmp_v3_pool(
    threads: usize,
    peers: &Peers,
    snmp: &SnmpTarget,
) -> edgepool::Result<Option<Pool<snmp::Manager>>> {
    let Some(sim) = &peers.snmp else {
        return Ok(None);
    };
    let pool = builder(threads).build(snmp::Manager::new(
        snmp::Config::new(format!("udp://{}", sim.addr()))
            .timeout(REQUEST_TIMEOUT)
            .retries(1)
            .v3(snmp.usm.clone().unwrap_or_else(|| {
                Usm::new("simuser")
                    .auth(AuthProtocol::Sha1, "simauthpass")
                    .privacy(PrivProtocol::Aes128, "simprivpass")
            })),
    ))?;
    Ok(Some(pool))
}

/// The tunnel's client end, dialling the tunnel server pool.
fn tunnel_client(server: &ServerPool) -> edgepool::Result<ClientPool> {
    ClientPool::builder(server.local_addr().to_string())
        .min_capacity(4)
        .max_capacity(64)
        .min_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(250))
        .tls(if cfg!(feature = "tls") {
            TlsMode::Insecure
        } else {
            TlsMode::Off
        })
        .start()
}

fn print_banner(opts: &Options, peers: &Peers) {
    println!(
        "edgepool tour: {} worker threads per pool for {} s{}",
        opts.threads,
        opts.duration.as_secs(),
        if peers.all_simulated() {
            ", against the built-in simulators"
        } else {
            ""
        }
    );
}

// ---- The lanes (one per pool on the display) and their workers ----

/// The lanes, in display order.
struct Lanes(Vec<Arc<Lane>>);

impl Lanes {
    fn new(peers: &Peers, targets: &Targets, pools: &Pools) -> Lanes {
        let v3_target = peers
            .snmp
            .as_ref()
            .map(|s| format!("udp://{} v3", s.addr()));
        let set_label = format!("{} agents", pools.set_targets.len());
        let mut lanes = vec![
            Lane::new("redis", targets.redis.addr.clone(), {
                let p = pools.redis.clone();
                Box::new(move || (p.stats(), p.health_check()))
            }),
            Lane::new(targets.snmp.lane_name(), targets.snmp.target.clone(), {
                let p = pools.snmp.clone();
                Box::new(move || (p.stats(), p.health_check()))
            }),
        ];
        if let (Some(p), Some(t)) = (&pools.snmp_v3, v3_target) {
            let p = p.clone();
            lanes.push(Lane::new(
                "snmp v3",
                t,
                Box::new(move || (p.stats(), p.health_check())),
            ));
        }
        lanes.push(Lane::new("s7", targets.s7.clone(), {
            let p = pools.s7.clone();
            Box::new(move || (p.stats(), p.health_check()))
        }));
        lanes.push(Lane::new("snmp set", set_label, {
            let set = pools.snmp_set.clone();
            Box::new(move || set_status(&set))
        }));
        lanes.push(Lane::new(
            "tunnel",
            peers.tunnel_server.local_addr().to_string(),
            Box::new(|| (Stats::default(), HealthReport::default())),
        ));
        Lanes(lanes.into_iter().map(Arc::new).collect())
    }

    fn get(&self, name: &str) -> Arc<Lane> {
        Arc::clone(
            self.0
                .iter()
                .find(|l| l.name == name)
                .unwrap_or_else(|| unreachable!("lane {name} exists")),
        )
    }

    fn iter(&self) -> std::slice::Iter<'_, Arc<Lane>> {
        self.0.iter()
    }
}

type Request = Box<dyn FnMut() -> edgepool::Result<()> + Send>;

/// The worker threads, each sending requests on one lane until stopped.
#[derive(Default)]
struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    fn spawn(&mut self, lane: Arc<Lane>, mut request: Request) {
        let stop = Arc::clone(&self.stop);
        self.threads.push(thread::spawn(move || {
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
    }

    fn stop(self) {
        self.stop.store(true, Relaxed);
        for w in self.threads {
            let _ = w.join();
        }
    }
}

/// `INCR` and `GET` on a key of the worker's own.
fn redis_worker(workers: &mut Workers, lanes: &Lanes, pool: &Pool<redis::Manager>, t: usize) {
    let p = pool.clone();
    let key = format!("edgepool:tour:{t}");
    workers.spawn(
        lanes.get("redis"),
        Box::new(move || {
            p.execute(|c| {
                c.incr(&key)?;
                c.get(&key).map(drop)
            })
        }),
    );
}

/// GETs on the main SNMP lane, and on the v3 lane when there is one.
fn snmp_workers(workers: &mut Workers, lanes: &Lanes, snmp: &SnmpTarget, pools: &Pools) {
    let p = pools.snmp.clone();
    let oids = [oid::SYS_UPTIME, oid::SYS_DESCR];
    workers.spawn(
        lanes.get(snmp.lane_name()),
        Box::new(move || p.execute(|c| c.get(&oids).map(drop))),
    );
    if let Some(p) = pools.snmp_v3.clone() {
        workers.spawn(
            lanes.get("snmp v3"),
            Box::new(move || p.execute(|c| c.get(&[oid::SYS_UPTIME]).map(drop))),
        );
    }
}

/// Reads of DB1 and of the merkers.
fn s7_worker(workers: &mut Workers, lanes: &Lanes, pool: &Pool<s7::Manager>) {
    let p = pool.clone();
    workers.spawn(
        lanes.get("s7"),
        Box::new(move || {
            p.execute(|c| {
                c.read_db(1, 0, 64)?;
                c.read_area(Area::Merkers, 0, 0, 16).map(drop)
            })
        }),
    );
}

/// A GET on each agent of the `PoolSet` in turn.
fn snmp_set_worker(workers: &mut Workers, lanes: &Lanes, pools: &Pools, t: usize) {
    let (set, targets) = (pools.snmp_set.clone(), pools.set_targets.clone());
    let mut next = t;
    workers.spawn(
        lanes.get("snmp set"),
        Box::new(move || {
            next = (next + 1) % targets.len();
            set.pool(&targets[next])?
                .execute(|c| c.get(&[oid::SYS_UPTIME]).map(drop))
        }),
    );
}

/// Round trips through the tunnel: a worker at the server end, and the far
/// end (returned, to join) echoing on the client end.
fn tunnel_workers(
    workers: &mut Workers,
    lanes: &Lanes,
    server: &ServerPool,
    client: &ClientPool,
) -> thread::JoinHandle<()> {
    let (announce, announced) = mpsc::channel::<ConnId>();
    let far_end = {
        let client = client.clone();
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
    let server = server.clone();
    workers.spawn(
        lanes.get("tunnel"),
        Box::new(move || tunnel_round_trip(&server, &announce)),
    );
    far_end
}

// ---- The run: the status display, and the fault injected midway ----

/// The injected fault: one simulator goes silent midway.
struct Outage {
    /// The simulator that goes silent: the Redis one, or, with a real Redis,
    /// another; none when every target is real.
    victim: Option<(&'static str, Faults)>,
    /// The lanes whose errors the outage explains.
    lanes: Vec<Arc<Lane>>,
    at: Duration,
    len: Duration,
    since: Option<Instant>,
    done: bool,
}

impl Outage {
    fn plan(peers: &Peers, lanes: &Lanes, duration: Duration) -> Outage {
        let victim = peers
            .redis
            .as_ref()
            .map(|s| ("Redis", s.faults().clone()))
            .or_else(|| peers.s7.as_ref().map(|s| ("S7", s.faults().clone())))
            .or_else(|| peers.snmp.as_ref().map(|s| ("SNMP", s.faults().clone())));
        let victim_lanes: Vec<Arc<Lane>> = match &victim {
            Some(("Redis", _)) => vec![lanes.get("redis")],
            Some(("S7", _)) => vec![lanes.get("s7")],
            Some(_) => lanes
                .iter()
                .filter(|l| l.name.starts_with("snmp v"))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        Outage {
            victim,
            lanes: victim_lanes,
            at: duration * 2 / 5,
            // Longer than a request timeout, so the silence shows as timeouts.
            len: OUTAGE
                .min(duration * 3 / 10)
                .max(REQUEST_TIMEOUT + Duration::from_millis(500)),
            since: None,
            done: false,
        }
    }

    /// Starts or ends the outage when due, `t` into the run.
    fn tick(&mut self, t: Duration, screen: &mut Screen) {
        let Some((name, faults)) = &self.victim else {
            return;
        };
        if self.since.is_none() && t >= self.at {
            faults.set_silent(true);
            self.since = Some(Instant::now());
            for l in &self.lanes {
                l.fault_started();
            }
            screen.event(format!(
                "[{:>4.1}s] injected fault: the {name} simulator stops answering for {:.1} s \
                 (errors it causes are marked *)",
                t.as_secs_f64(),
                self.len.as_secs_f64()
            ));
        }
        if let (Some(since), false) = (self.since, self.done) {
            if since.elapsed() >= self.len {
                faults.set_silent(false);
                self.done = true;
                for l in &self.lanes {
                    l.fault_ended();
                }
                screen.event(format!(
                    "[{:>4.1}s] the {name} simulator answers again",
                    t.as_secs_f64()
                ));
            }
        }
    }
}

/// Redraws the status every refresh until `duration` is over, injecting
/// the outage on the way.
fn watch(
    duration: Duration,
    started: Instant,
    lanes: &Lanes,
    outage: &mut Outage,
    tunnel: &ClientPool,
    screen: &mut Screen,
) {
    let refresh = if screen.tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut last_draw = Instant::now();
    while started.elapsed() < duration {
        thread::sleep(Duration::from_millis(100));
        let t = started.elapsed();
        outage.tick(t, screen);
        if last_draw.elapsed() >= refresh {
            let secs = last_draw.elapsed().as_secs_f64();
            last_draw = Instant::now();
            let rows = lanes.iter().map(|l| l.status_row(secs, tunnel));
            screen.draw(t, rows.collect());
        }
    }
    // The last interval too, so the run ends on its final state.
    let secs = last_draw.elapsed().as_secs_f64();
    if secs >= 0.25 {
        let rows = lanes.iter().map(|l| l.status_row(secs, tunnel));
        screen.draw(started.elapsed(), rows.collect());
    }
}

// ---- The report ----

fn print_final_stats(lanes: &Lanes, tunnel_client: &ClientPool) {
    println!(
        "\nfinal stats (errors: all / during the injected fault; wait: average over the \
         checkouts that had to wait / longest):"
    );
    println!(
        "{:<9} {:>9} {:>11} {:>7} {:>7} {:>8} {:>9} {:>19}   health check",
        "pool", "requests", "errors", "opened", "closed", "timeouts", "probes", "wait"
    );
    for l in lanes.iter() {
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
}

/// The first error per pool, and which errors the injected fault explains.
fn print_errors(lanes: &Lanes, outage: &Outage, started: Instant) {
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
    match (&outage.victim, outage.since) {
        (Some((name, _)), Some(since)) => {
            let from = since.duration_since(started);
            println!(
                "\ninjected fault: the {name} simulator was silent from {:.1} s to {:.1} s; errors \
                 until {:.0} s after it are counted as injected.",
                from.as_secs_f64(),
                (from + outage.len).as_secs_f64(),
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
        (None, _) => println!(
            "\nall targets are real devices (the tunnel pair runs on loopback): no fault was \
             injected, so every error above is real."
        ),
        _ => {}
    }
}

fn print_simulator_counts(peers: &Peers) {
    if let Some(sim) = &peers.redis {
        println!(
            "\nthe simulators answered: redis {} commands, snmp {} requests, s7 {} requests",
            sim.commands(),
            peers.snmp.as_ref().map_or(0, SnmpSim::requests)
                + peers.set.iter().map(SnmpSim::requests).sum::<u64>(),
            peers.s7.as_ref().map_or(0, S7Sim::requests)
        );
    }
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
