//! The tour: edgepool's whole job on built-in defaults, with no device needed.
//!
//! Starts a small line-protocol server on loopback, builds a TCP pool to it,
//! runs worker threads through the pool and prints one status line per second
//! (redrawn in place on a terminal). Midway the server drops every connection
//! and refuses new ones for a moment: watch the errors, the health checks and
//! the pool recovering on its own. Ends with the final stats.
//!
//! `cargo run --example tour -- [--duration SECS] [--threads N]`

use edgepool::{tcp, Error, Pool};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = Options::parse()?;
    let server = Server::start()?;
    println!(
        "edgepool tour: {} worker threads for {} s against a loopback server at {}",
        opts.threads,
        opts.duration.as_secs(),
        server.addr
    );

    let config = tcp::Config::new(server.addr.clone())
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Some(Duration::from_secs(1)))
        .write_timeout(Some(Duration::from_secs(1)));
    let pool = Pool::builder()
        .max_size(opts.threads as u32 + 2)
        .min_idle(2)
        .acquire_timeout(Duration::from_millis(500))
        .health_check_interval(Some(Duration::from_millis(500)))
        .max_idle_time(Some(Duration::from_secs(60)))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build(tcp::Manager::new(config))?;
    let ready = pool.warm_up(Duration::from_secs(2))?;
    println!("warm-up: {ready} idle connections ready");

    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..opts.threads)
        .map(|_| {
            let (pool, load, stop) = (pool.clone(), load.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Relaxed) {
                    let start = Instant::now();
                    match pool.execute(ping) {
                        Ok(()) => load.ok(start.elapsed()),
                        Err(_) => {
                            load.errors.fetch_add(1, Relaxed);
                            thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();

    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let outage_at = opts.duration / 2;
    let mut outage = false;
    let mut last = (Instant::now(), 0u64, 0u64);
    while started.elapsed() < opts.duration {
        thread::sleep(Duration::from_millis(250));
        let t = started.elapsed();
        if !outage && t >= outage_at {
            outage = true;
            server.outage(Duration::from_millis(1500));
            line(
                tty,
                &format!(
                    "[{:>4.1}s] server drops every connection and refuses new ones for 1.5 s",
                    t.as_secs_f64()
                ),
            );
            println!();
        }
        if last.0.elapsed() >= Duration::from_secs(1) {
            let (ok, errors) = (load.done.load(Relaxed), load.errors.load(Relaxed));
            let secs = last.0.elapsed().as_secs_f64();
            let rate = (ok - last.1) as f64 / secs;
            let (p50, p99) = load.percentiles();
            let s = pool.stats();
            line(
                tty,
                &format!(
                    "[{:>4.1}s] tcp  {:>7.0} req/s  size {}  in use {}  idle {}  waiting {}  errors {:>3}  probes {} ({} failed)  p50 {:?}  p99 {:?}",
                    t.as_secs_f64(), rate, s.size, s.in_use, s.idle, s.waiting, errors - last.2,
                    s.health_checks, s.health_failures, p50, p99
                ),
            );
            if !tty {
                println!();
            }
            last = (Instant::now(), ok, errors);
        }
    }
    stop.store(true, Relaxed);
    for w in workers {
        let _ = w.join();
    }
    if tty {
        println!();
    }
    let report = pool.health_check();
    println!("\nfinal stats:   {}", pool.stats());
    println!("health check:  {report}");
    println!(
        "requests:      {} ok, {} failed",
        load.done.load(Relaxed),
        load.errors.load(Relaxed)
    );
    pool.close();
    Ok(())
}

/// One request: "PING\n" → "PONG\n".
fn ping(conn: &mut tcp::Connection) -> edgepool::Result<()> {
    conn.write_all(b"PING\n")?;
    let mut reply = [0u8; 5];
    conn.read_exact(&mut reply)?;
    if &reply != b"PONG\n" {
        return Err(Error::Unhealthy(format!("unexpected reply {reply:?}")));
    }
    Ok(())
}

fn line(tty: bool, text: &str) {
    if tty {
        print!("\r\x1b[2K{text}");
        let _ = std::io::stdout().flush();
    } else {
        print!("{text}");
    }
}

#[derive(Default)]
struct Load {
    done: AtomicU64,
    errors: AtomicU64,
    samples: Mutex<Vec<Duration>>,
}

impl Load {
    fn ok(&self, took: Duration) {
        let n = self.done.fetch_add(1, Relaxed);
        if n % 16 == 0 {
            if let Ok(mut s) = self.samples.lock() {
                s.push(took);
            }
        }
    }

    /// p50 and p99 of the samples since the last call.
    fn percentiles(&self) -> (Duration, Duration) {
        let mut s = match self.samples.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(_) => return (Duration::ZERO, Duration::ZERO),
        };
        if s.is_empty() {
            return (Duration::ZERO, Duration::ZERO);
        }
        s.sort();
        let at = |q: f64| s[((s.len() - 1) as f64 * q) as usize];
        (at(0.50), at(0.99))
    }
}

/// A tiny line server: answers "PONG\n" to every line; can simulate an outage.
struct Server {
    addr: String,
    down_until: Arc<Mutex<Option<Instant>>>,
}

impl Server {
    fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let down_until: Arc<Mutex<Option<Instant>>> = Arc::default();
        let down = down_until.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if is_down(&down) {
                    continue; // refused: closed at once
                }
                let down = down.clone();
                thread::spawn(move || serve(stream, down));
            }
        });
        Ok(Server { addr, down_until })
    }

    fn outage(&self, length: Duration) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + length);
        }
    }
}

fn is_down(down: &Mutex<Option<Instant>>) -> bool {
    matches!(down.lock().map(|d| *d), Ok(Some(t)) if t > Instant::now())
}

fn serve(stream: TcpStream, down: Arc<Mutex<Option<Instant>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut buf = String::new();
    loop {
        if is_down(&down) {
            return; // drops the connection
        }
        match reader.read_line(&mut buf) {
            Ok(0) => return,
            Ok(_) => {
                buf.clear();
                if writer.write_all(b"PONG\n").is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

struct Options {
    duration: Duration,
    threads: usize,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut o = Options {
            duration: Duration::from_secs(8),
            threads: 4,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|v| *v > 0)
                    .ok_or(format!("{name} needs a positive number"))
            };
            match a.as_str() {
                "--duration" => o.duration = Duration::from_secs(value("--duration")?),
                "--threads" => o.threads = value("--threads")? as usize,
                "-h" | "--help" => {
                    println!("usage: tour [--duration SECS] [--threads N]");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option {other} (try --help)")),
            }
        }
        Ok(o)
    }
}
