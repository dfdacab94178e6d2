//! A pool under load, its metrics scraped once by HTTP in the Prometheus text
//! format.
//!
//! Eight threads share a pool of four connections to a loopback echo server
//! (so some of them wait, which fills the wait histogram) and call it through
//! `execute_with_retry`. The server hangs up on every connection after
//! 16 KiB, so some calls fail on a dead connection and are retried. The `metrics-exporter-prometheus` recorder collects
//! what edgepool publishes; a small `std::net` endpoint on 127.0.0.1 serves
//! its rendering at `/metrics`, and the example GETs it once and prints it.
//! (In a service, `PrometheusBuilder::new().with_http_listener(addr).install()`
//! does the serving, on a Tokio thread of its own.)
//!
//! ```sh
//! cargo run --example metrics --features metrics
//! ```

use edgepool::{tcp, Pool, RetryPolicy};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 8;
const REQUESTS_PER_THREAD: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(a) = std::env::args().nth(1) {
        if a == "-h" || a == "--help" {
            println!(
                "usage: metrics\n\n\
                 {THREADS} threads make {REQUESTS_PER_THREAD} calls each through a pool of four \
                 connections to a\nloopback echo server (with retries), then the example scrapes \
                 edgepool's metrics once\nfrom its Prometheus endpoint on 127.0.0.1 and prints \
                 them. No options."
            );
            return Ok(());
        }
        return Err(format!("unknown argument {a} (try --help)").into());
    }
    // 1. The exporter's recorder, installed globally before any pool exists.
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("edgepool_pool_wait_seconds".into()),
            &[0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
        )?
        .install_recorder()?;

    // 2. The "device": an echo server on a loopback port.
    let device = echo_server()?;

    // 3. The pool; its metrics carry the label pool="echo".
    let pool = Pool::builder()
        .name("echo")
        .max_size(4)
        .acquire_timeout(Duration::from_secs(2))
        .build(tcp::Manager::new(
            tcp::Config::new(device.to_string())
                .read_timeout(Some(Duration::from_secs(1)))
                .write_timeout(Some(Duration::from_secs(1))),
        ))?;

    // 4. Load: more threads than connections.
    let policy = RetryPolicy::default().deadline(Some(Duration::from_secs(3)));
    let start = Instant::now();
    thread::scope(|s| {
        for t in 0..THREADS {
            let (pool, policy) = (&pool, &policy);
            s.spawn(move || {
                for i in 0..REQUESTS_PER_THREAD {
                    let msg = format!("{t}:{i}\n");
                    let echoed = pool.execute_with_retry(policy, |conn| {
                        conn.write_all(msg.as_bytes())?;
                        let mut buf = vec![0u8; msg.len()];
                        conn.read_exact(&mut buf)?;
                        Ok(buf)
                    });
                    match echoed {
                        Ok(buf) if buf == msg.as_bytes() => {}
                        Ok(_) => eprintln!("thread {t}: wrong echo"),
                        Err(e) => eprintln!("thread {t}: {e}"),
                    }
                }
            });
        }
    });
    let took = start.elapsed();
    println!(
        "{} requests on {THREADS} threads in {took:.2?}; stats: {}\n",
        THREADS * REQUESTS_PER_THREAD,
        pool.stats()
    );

    // 5. The reaper publishes about once a second; publish now to be exact.
    pool.publish_metrics();

    // 6. The scrape endpoint, and one scrape.
    let endpoint = metrics_endpoint(prometheus)?;
    let scrape = http_get(&endpoint.to_string(), "/metrics")?;
    println!("GET http://{endpoint}/metrics\n\n{scrape}");

    pool.close();
    Ok(())
}

/// Echoes bytes back, one thread per connection, and hangs up after
/// `HANG_UP_AFTER` bytes (or when the peer leaves).
fn echo_server() -> std::io::Result<std::net::SocketAddr> {
    const HANG_UP_AFTER: usize = 16 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut buf = [0u8; 256];
                let mut budget = HANG_UP_AFTER;
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    let n = n.min(budget);
                    budget -= n;
                    if stream.write_all(&buf[..n]).is_err() || budget == 0 {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Serves `GET /metrics` (the exporter's rendering) on a loopback port.
fn metrics_endpoint(prometheus: PrometheusHandle) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(e) = serve(stream, &prometheus) {
                eprintln!("metrics endpoint: {e}");
            }
        }
    });
    Ok(addr)
}

fn serve(stream: TcpStream, prometheus: &PrometheusHandle) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers, up to the empty line (bounded by the read timeout).
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let (status, body) = if request_line.starts_with("GET /metrics ") {
        ("200 OK", prometheus.render())
    } else {
        ("404 Not Found", String::from("try /metrics\n"))
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A minimal HTTP/1.1 GET over loopback; returns the body.
fn http_get(host: &str, path: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected response: {head}").into());
    }
    Ok(body.to_string())
}
