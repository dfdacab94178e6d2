//! A tunnel server pool and client pool on loopback forwarding messages over
//! matched connection IDs, printing the client's stock as it adjusts.
//!
//! ```sh
//! cargo run --example tunnel
//! ```
//!
//! The server end takes a stocked connection, tells the client end its ID
//! over a control channel (here an in-process channel; a real tunnel sends
//! the 8 hex characters over its control connection), and both ends talk
//! over that connection at once, without dialling. With the `tls` feature
//! the server uses a self-signed certificate made at start and the client
//! accepts it (`TlsMode::Insecure`).

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use edgepool::net::TlsMode;
use edgepool::tunnel::{ClientPool, ConnId, ServerPool, ServerTls};

fn main() -> edgepool::Result<()> {
    let (server_tls, client_tls) = if cfg!(feature = "tls") {
        (ServerTls::SelfSigned, TlsMode::Insecure)
    } else {
        (ServerTls::Off, TlsMode::Off)
    };
    let server = ServerPool::builder().tls(server_tls).bind("127.0.0.1:0")?;
    let client = ClientPool::builder(server.local_addr().to_string())
        .min_capacity(2)
        .max_capacity(16)
        .min_interval(Duration::from_millis(50))
        .max_interval(Duration::from_millis(500))
        .tls(client_tls)
        .start()?;
    println!(
        "server on {} ({}), client stock {} → {}",
        server.local_addr(),
        if cfg!(feature = "tls") {
            "TLS, self-signed"
        } else {
            "plain TCP"
        },
        2,
        16
    );
    let start = Instant::now();
    let show = |what: &str| {
        println!(
            "[{:>5.2} s] {what:<28} client stock {:>2}/{:<2} interval {:>3} ms | server stock {:>2}",
            start.elapsed().as_secs_f64(),
            client.active(),
            client.capacity(),
            client.interval().as_millis(),
            server.active()
        )
    };

    // The far end: takes the connection the control channel names, answers
    // each message in upper case.
    let (control, announced) = mpsc::channel::<ConnId>();
    let far_client = client.clone();
    let far = thread::spawn(move || -> edgepool::Result<usize> {
        let mut served = 0;
        for id in announced {
            let mut conn = far_client.get(id, Duration::from_secs(5))?;
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf)?;
            conn.write_all(&buf[..n].to_ascii_uppercase())?;
            served += 1;
        }
        Ok(served)
    });

    // Idle: nothing is used, so the stock shrinks to 2 and rounds slow down.
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(250));
        show("idle");
    }

    // Busy: bursts of 8 requests drain the stock, so it grows and rounds
    // speed up.
    let mut forwarded = 0;
    for burst in 0..6 {
        show(&format!("before burst {burst}"));
        for i in 0..8 {
            let (id, mut conn) = server.get(Duration::from_secs(5))?;
            let _ = control.send(id);
            let msg = format!("burst {burst} message {i}");
            conn.write_all(msg.as_bytes())?;
            let mut reply = vec![0u8; msg.len()];
            conn.read_exact(&mut reply)?;
            if i == 0 {
                println!(
                    "           via {id}: {msg:?} -> {:?}",
                    String::from_utf8_lossy(&reply)
                );
            }
            forwarded += 1;
        }
        thread::sleep(Duration::from_millis(300));
    }

    // Idle again.
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(250));
        show("idle");
    }

    drop(control);
    let served = far.join().expect("the far end panicked")?;
    println!(
        "forwarded {forwarded} messages, {served} answered; {} failed dials",
        client.errors()
    );
    client.close();
    server.close();
    Ok(())
}
