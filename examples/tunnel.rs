//! A tunnel server pool and client pool on loopback, used as NodePass uses
//! them: a control connection (ID `00000000`, taken by ID on both ends)
//! carries the IDs of data connections, and data starts from either end.
//! Prints both stocks as the client's pool adjusts.
//!
//! ```sh
//! cargo run --example tunnel             # TLS 1.3 with a self-signed certificate
//! cargo run --example tunnel -- --plain  # plain TCP
//! cargo run --example tunnel -- --hex    # the older 8-hex-character ID format
//! cargo run --example tunnel -- --help
//! ```
//!
//! Each line shows `client stock A/C`: A connections in stock, C the
//! capacity the manager aims for. While idle, C drops by one per round
//! towards the minimum (2); the stock is not trimmed, only not refilled, so A
//! stays above C until connections are used. Bursts of 8 that drain the
//! stock raise C (towards the maximum, 16) and shorten the interval between
//! rounds. Without the `tls` feature the example runs on plain TCP.

use std::io::{self, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use edgepool::net::{Stream, TlsMode};
use edgepool::tunnel::{ClientPool, ConnId, IdFormat, ServerPool, ServerTls};

const HELP: &str = "\
tunnel: a tunnel ServerPool and ClientPool on loopback, with a control connection
and data started from both ends.

usage: cargo run --example tunnel -- [--plain] [--hex]

  --plain   plain TCP (default: TLS with a self-signed certificate, when the
            `tls` feature is on)
  --hex     send IDs as 8 hex characters (NodePass's pool before mid-2025)
            instead of 4 bytes
  --help    print this and exit
";

const WAIT: Duration = Duration::from_secs(5);

fn main() -> edgepool::Result<()> {
    let mut plain = !cfg!(feature = "tls");
    let mut format = IdFormat::Bytes;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--help" | "-h" => {
                print!("{HELP}");
                return Ok(());
            }
            "--plain" => plain = true,
            "--hex" => format = IdFormat::Hex,
            other => {
                eprint!("unknown option {other:?}\n\n{HELP}");
                std::process::exit(2);
            }
        }
    }
    let (server_tls, client_tls) = if plain {
        (ServerTls::Off, TlsMode::Off)
    } else {
        (ServerTls::SelfSigned, TlsMode::Insecure)
    };
    let server = ServerPool::builder()
        .tls(server_tls)
        .id_format(format)
        .bind("127.0.0.1:0")?;
    let client = ClientPool::builder(server.local_addr().to_string())
        .min_capacity(2)
        .max_capacity(16)
        .min_interval(Duration::from_millis(50))
        .max_interval(Duration::from_millis(500))
        .tls(client_tls)
        .id_format(format)
        .start()?;
    println!(
        "server on {} ({}, IDs as {format:?}), client capacity 2 → 16",
        server.local_addr(),
        if plain {
            "plain TCP"
        } else {
            "TLS, self-signed"
        },
    );

    // The control connection: the first one the server stocked.
    let mut control_far = client.get_by_id(ConnId::CONTROL, WAIT)?;
    let mut control_near = server.get_by_id(ConnId::CONTROL, WAIT)?;
    println!("control connection {} taken on both ends", ConnId::CONTROL);

    let start = Instant::now();
    let show = |what: &str| {
        println!(
            "[{:>5.2} s] {what:<24} client stock {:>2}/{:<2} interval {:>3} ms | server stock {:>2}",
            start.elapsed().as_secs_f64(),
            client.active(),
            client.capacity(),
            client.interval().as_millis(),
            server.active()
        )
    };

    // The client's end, on its own thread: follows the control connection.
    // "S <id>": the server started on <id>; answer its message in upper
    // case. "C <n>": start <n> exchanges from this end (take any
    // connection, announce its ID, send, read the answer). "Q": quit.
    let far_client = client.clone();
    let far = thread::spawn(move || -> edgepool::Result<(usize, usize)> {
        let (mut answered, mut started) = (0, 0);
        loop {
            let line = read_line(&mut control_far)?;
            let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
            match verb {
                "S" => {
                    let mut conn = far_client.get_by_id(arg.parse()?, WAIT)?;
                    let msg = read_line(&mut conn)?;
                    conn.write_all(format!("{}\n", msg.to_uppercase()).as_bytes())?;
                    answered += 1;
                }
                "C" => {
                    for i in 0..arg.parse::<usize>().unwrap_or(0) {
                        let (id, mut conn) = far_client.get_any(WAIT)?;
                        control_far.write_all(format!("C {id}\n").as_bytes())?;
                        conn.write_all(format!("client message {i}\n").as_bytes())?;
                        let reply = read_line(&mut conn)?;
                        if i == 0 {
                            println!("           client → server via {id}: {reply:?}");
                        }
                        started += 1;
                    }
                }
                _ => return Ok((answered, started)),
            }
        }
    });

    for _ in 0..4 {
        thread::sleep(Duration::from_millis(250));
        show("idle");
    }

    let mut sent = 0;
    for burst in 0..6 {
        show(&format!("before burst {burst}"));
        if burst % 2 == 0 {
            // The server starts: any connection, its ID over control.
            for i in 0..8 {
                let (id, mut conn) = server.get_any(WAIT)?;
                control_near.write_all(format!("S {id}\n").as_bytes())?;
                let msg = format!("burst {burst} message {i}");
                conn.write_all(format!("{msg}\n").as_bytes())?;
                let reply = read_line(&mut conn)?;
                if i == 0 {
                    println!("           server → client via {id}: {msg:?} → {reply:?}");
                }
                sent += 1;
            }
        } else {
            // The client starts: it names each connection over control.
            control_near.write_all(b"C 8\n")?;
            for _ in 0..8 {
                let line = read_line(&mut control_near)?;
                let id: ConnId = line.trim_start_matches("C ").parse()?;
                let mut conn = server.get_by_id(id, WAIT)?;
                let msg = read_line(&mut conn)?;
                let reversed: String = msg.chars().rev().collect();
                conn.write_all(format!("{reversed}\n").as_bytes())?;
            }
        }
        thread::sleep(Duration::from_millis(300));
    }

    for _ in 0..4 {
        thread::sleep(Duration::from_millis(250));
        show("idle");
    }

    control_near.write_all(b"Q\n")?;
    let (answered, started) = far.join().expect("the client's end panicked")?;
    println!(
        "server started {sent} exchanges ({answered} answered), client started {started}; \
         {} failed dials",
        client.errors()
    );
    client.close();
    server.close();
    Ok(())
}

/// One line without its `\n`, a byte at a time (lines are short; nothing
/// after the `\n` is taken).
fn read_line(conn: &mut Stream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        conn.read_exact(&mut byte)?;
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}
