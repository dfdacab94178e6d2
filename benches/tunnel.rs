//! Time to a matched tunnel connection: from `server.get()` to the client's
//! `get(id)` with a warm stock, against dialling a fresh TCP or TLS
//! connection per request (connect, TLS handshake, 4-byte ID, then
//! `server.get()`), on 1 thread and on 8 threads, all on loopback.
//!
//! A plain harness (no criterion). Every round measures every variant once,
//! in an order that rotates from round to round; the table shows the median
//! over the rounds of the microseconds per request (on 8 threads: wall time /
//! requests, so aggregate throughput). See `benches/README.md`.
//!
//! A measurement is a number of batches of requests (see `Plan`); the warm
//! stocks are refilled between batches, outside the clock, so that no
//! variant is measured while a pool dials in the background.
//!
//! `cargo bench --bench tunnel` runs it (about 2 minutes).
//! `EDGEPOOL_BENCH_ROUNDS` (default 11) changes the number of rounds;
//! `EDGEPOOL_BENCH_VERBOSE=1` prints every measurement.
//! Without `--bench` (as `cargo test --all-targets` runs it) it only checks
//! that every variant works, with a few requests each.

mod harness;

use harness::median;
use std::io::Read;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use edgepool::net::{ConnectOptions, Stream, TlsMode};
use edgepool::tunnel::{ClientPool, ConnId, ServerPool, ServerTls};

/// Connections kept in the warm stocks; each measurement takes fewer.
const STOCK: usize = 256;
const THREADS: [usize; 2] = [1, 8];
const WAIT: Duration = Duration::from_secs(10);

/// Something that hands out matched pairs of connection ends.
enum Variant {
    /// Both pools stocked: `server.get()` then `client.get(id)`.
    Warm {
        server: ServerPool,
        client: ClientPool,
    },
    /// Per request: dial, (TLS,) read the ID, then `server.get()`.
    Fresh { server: ServerPool, tls: TlsMode },
    /// As `Fresh` with TLS, but through one `native_tls::TlsConnector` made
    /// once (`net::Stream::connect` makes a connector per call, which loads
    /// the system's trusted roots each time).
    #[cfg(feature = "tls")]
    FreshReusedConnector {
        server: ServerPool,
        connector: native_tls::TlsConnector,
    },
}

type Pair = (Stream, Stream);

impl Variant {
    fn one(&self) -> Pair {
        match self {
            Variant::Warm { server, client } => {
                let (id, near) = server.get(WAIT).expect("server.get");
                let far = client.get(id, WAIT).expect("client.get(id)");
                (near, far)
            }
            Variant::Fresh { server, tls } => {
                let addr = server.local_addr().to_string();
                let opts = ConnectOptions::default().tls(tls.clone());
                let mut far = Stream::open(&addr, &opts).expect("dial");
                read_id(&mut far);
                let (_, near) = server.get(WAIT).expect("server.get");
                (near, far)
            }
            #[cfg(feature = "tls")]
            Variant::FreshReusedConnector { server, connector } => {
                let tcp = edgepool::net::connect(
                    &server.local_addr().to_string(),
                    &ConnectOptions::default(),
                )
                .expect("connect");
                let tls = connector.connect("localhost", tcp).expect("TLS handshake");
                let mut far = Stream::Tls(Box::new(tls));
                read_id(&mut far);
                let (_, near) = server.get(WAIT).expect("server.get");
                (near, far)
            }
        }
    }

    /// Refills the stocks after a measurement (warm only).
    fn settle(&self) {
        if let Variant::Warm { server, client } = self {
            let end = Instant::now() + Duration::from_secs(60);
            while client.active() < STOCK || server.active() < STOCK {
                assert!(Instant::now() < end, "the stock did not refill: {client:?}");
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Microseconds per matched pair over `plan.batches` batches of
    /// `plan.requests` on `threads`.
    fn measure(&self, threads: usize, plan: Plan) -> f64 {
        let mut total = 0.0;
        for _ in 0..plan.batches {
            self.settle();
            total += self.batch(threads, plan.requests);
        }
        self.settle();
        total / plan.batches as f64
    }

    /// Microseconds per matched pair over `requests` on `threads`. The ends
    /// are closed after the clock stops, server end first.
    fn batch(&self, threads: usize, requests: usize) -> f64 {
        let per_thread = (requests / threads).max(1);
        let run = || -> Vec<Pair> { (0..per_thread).map(|_| self.one()).collect() };
        let (elapsed, pairs) = if threads == 1 {
            let start = Instant::now();
            let pairs = run();
            (start.elapsed(), vec![pairs])
        } else {
            // Each worker reads the clock itself right after the barrier: on
            // 2 cores the main thread may run late and miss the start.
            let barrier = Barrier::new(threads);
            let runs: Vec<(Instant, Instant, Vec<Pair>)> = thread::scope(|s| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            let pairs = run();
                            (start, Instant::now(), pairs)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("bench thread panicked"))
                    .collect()
            });
            let start = runs.iter().map(|r| r.0).min().expect("threads");
            let end = runs.iter().map(|r| r.1).max().expect("threads");
            (end - start, runs.into_iter().map(|r| r.2).collect())
        };
        for (near, far) in pairs.into_iter().flatten() {
            drop(near);
            drop(far);
        }
        elapsed.as_secs_f64() * 1e6 / (per_thread * threads) as f64
    }
}

fn read_id(stream: &mut Stream) -> ConnId {
    let mut id = [0u8; 4];
    stream.read_exact(&mut id).expect("the connection ID");
    ConnId::from_bytes(id)
}

fn server(tls: ServerTls) -> ServerPool {
    ServerPool::builder()
        .tls(tls)
        .max_capacity(4 * STOCK)
        .bind("127.0.0.1:0")
        .expect("bind")
}

fn warm(tls: bool) -> Variant {
    let (server_tls, client_tls) = tls_modes(tls);
    let server = server(server_tls);
    let client = ClientPool::builder(server.local_addr().to_string())
        .min_capacity(STOCK)
        .max_capacity(STOCK)
        .min_interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(100))
        .tls(client_tls)
        .start()
        .expect("client pool");
    Variant::Warm { server, client }
}

fn fresh(tls: bool) -> Variant {
    let (server_tls, client_tls) = tls_modes(tls);
    Variant::Fresh {
        server: server(server_tls),
        tls: client_tls,
    }
}

fn tls_modes(tls: bool) -> (ServerTls, TlsMode) {
    if tls {
        (ServerTls::SelfSigned, TlsMode::Insecure)
    } else {
        (ServerTls::Off, TlsMode::Off)
    }
}

/// How many requests one measurement makes: `batches` × `requests`.
#[derive(Clone, Copy)]
struct Plan {
    batches: usize,
    requests: usize,
}

/// Warm stocks hold 256; a batch takes 200 of them.
const WARM: Plan = Plan {
    batches: 5,
    requests: 200,
};

type Named = (&'static str, Plan, Variant);

fn variants() -> Vec<Named> {
    let mut v = vec![
        ("warm stock, TCP", WARM, warm(false)),
        (
            "fresh TCP dial",
            Plan {
                batches: 5,
                requests: 200,
            },
            fresh(false),
        ),
    ];
    v.extend(tls_variants());
    v
}

#[cfg(not(feature = "tls"))]
fn tls_variants() -> Vec<Named> {
    Vec::new()
}

#[cfg(feature = "tls")]
fn tls_variants() -> Vec<Named> {
    let mut builder = native_tls::TlsConnector::builder();
    builder
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true);
    vec![
        ("warm stock, TLS", WARM, warm(true)),
        // Tens of milliseconds each (a connector per dial): fewer of them.
        (
            "fresh TLS dial",
            Plan {
                batches: 1,
                requests: 16,
            },
            fresh(true),
        ),
        (
            "fresh TLS dial, one connector",
            Plan {
                batches: 1,
                requests: 200,
            },
            Variant::FreshReusedConnector {
                server: server(ServerTls::SelfSigned),
                connector: builder.build().expect("connector"),
            },
        ),
    ]
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer, not {v:?}")),
        Err(_) => default,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench {
        env_usize("EDGEPOOL_BENCH_ROUNDS", 11).max(1)
    } else {
        1
    };
    let smoke = Plan {
        batches: 1,
        requests: 16,
    };
    let verbose = bench && std::env::var_os("EDGEPOOL_BENCH_VERBOSE").is_some();
    let variants = variants();
    // samples[threads index][variant index], one per round.
    let mut samples = vec![vec![Vec::new(); variants.len()]; THREADS.len()];
    if bench {
        println!(
            "time to a matched pair of tunnel connection ends on loopback; warm stocks of \
             {STOCK}; {rounds} rounds"
        );
    }
    // Warms caches, the TLS libraries and the stocks; not recorded.
    for (_, _, v) in &variants {
        for &threads in &THREADS {
            v.measure(threads, smoke);
        }
    }
    for round in 0..rounds {
        for (t, &threads) in THREADS.iter().enumerate() {
            // Interleaved: each round starts with a different variant.
            for k in 0..variants.len() {
                let i = (round + k) % variants.len();
                let (_, plan, variant) = &variants[i];
                let us = variant.measure(threads, if bench { *plan } else { smoke });
                if verbose {
                    eprintln!(
                        "round {round}, {threads} thread(s), {}: {us:.1} µs",
                        variants[i].0
                    );
                }
                samples[t][i].push(us);
            }
        }
        if bench && !verbose {
            eprint!("round {}/{rounds} done\r", round + 1);
        }
    }
    for (name, _, v) in &variants {
        if let Variant::Warm { client, .. } = v {
            assert_eq!(client.errors(), 0, "{name}: {:?}", client.last_error());
        }
    }
    if !bench {
        println!("tunnel bench: smoke run passed (run `cargo bench --bench tunnel` to measure)");
        return;
    }
    eprintln!();
    for (t, &threads) in THREADS.iter().enumerate() {
        let runs = &samples[t];
        let medians: Vec<f64> = runs.iter().map(|s| median(&mut s.clone())).collect();
        println!();
        println!(
            "{threads} thread(s): µs per matched pair, median of {rounds} rounds (min..max); \
             ÷ warm = median / the warm stock's median of the same transport"
        );
        println!(
            "  {:<32} {:>9} {:>20} {:>9} {:>9}",
            "variant", "median", "min..max", "÷ warm", "requests"
        );
        for (i, (name, plan, _)) in variants.iter().enumerate() {
            let s = &runs[i];
            let min = s.iter().copied().fold(f64::INFINITY, f64::min);
            let max = s.iter().copied().fold(0.0, f64::max);
            let warm = if name.contains("TLS") { 2 } else { 0 };
            println!(
                "  {:<32} {:>9.1} {:>20} {:>8.1}x {:>9}",
                name,
                medians[i],
                format!("{min:.1}..{max:.1}"),
                medians[i] / medians[warm],
                plan.batches * plan.requests,
            );
        }
    }
}
