//! Reads bytes from a PLC through an S7 pool and prints them in hex, with
//! the CPU's status and order code.
//!
//! ```sh
//! cargo run --example s7_read                       # the built-in S7 simulator
//! cargo run --example s7_read -- 192.168.0.10 --rack 0 --slot 1 --db 1 --start 0 --len 16
//! ```
//!
//! With no address it starts the S7 simulator (feature `sim`) on loopback and
//! reads from it.
//!
//! `--area db|i|q|m|t|c` picks another area (`--db` is then ignored; for
//! timers and counters `--start` and `--len` count 2-byte elements).

use edgepool::sim::s7::S7Sim;
use edgepool::{s7, Pool};
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = None;
    let (mut rack, mut slot, mut db, mut start, mut len) = (0u16, 1u16, 1u16, 0u32, 16usize);
    let mut area = s7::Area::Db;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--rack" => rack = value()?.parse()?,
            "--slot" => slot = value()?.parse()?,
            "--db" => db = value()?.parse()?,
            "--start" => start = value()?.parse()?,
            "--len" => len = value()?.parse()?,
            "--area" => {
                area = match value()?.as_str() {
                    "db" => s7::Area::Db,
                    "i" | "e" => s7::Area::Inputs,
                    "q" | "a" => s7::Area::Outputs,
                    "m" => s7::Area::Merkers,
                    "t" => s7::Area::Timers,
                    "c" | "z" => s7::Area::Counters,
                    other => return Err(format!("unknown area {other}").into()),
                }
            }
            "-h" | "--help" => {
                println!(
                    "usage: s7_read [HOST[:PORT]] [OPTIONS]\n\n\
                     Reads bytes from a PLC (port 102 unless given) and prints them in hex, with\n\
                     the CPU's status and order code. With no address: the built-in S7\n\
                     simulator on loopback.\n\n\
                     \x20 --rack N                 rack of the CPU (default 0)\n\
                     \x20 --slot N                 slot of the CPU (default 1; S7-300: 2)\n\
                     \x20 --area db|i|q|m|t|c      memory area (default db)\n\
                     \x20 --db N                   data block number (default 1)\n\
                     \x20 --start N                first byte (timers, counters: element) (default 0)\n\
                     \x20 --len N                  bytes (timers, counters: elements) (default 16)\n\
                     \x20 -h, --help               this text"
                );
                return Ok(());
            }
            other if !other.starts_with('-') => addr = Some(other.to_string()),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    // No address: a simulated CPU with a recognisable pattern in DB1.
    let sim = match addr {
        Some(_) => None,
        None => {
            let sim = S7Sim::start()?;
            sim.write(s7::Area::Db, 1, 0, b"edgepool S7 sim\0")?;
            println!("no address given: reading the built-in S7 simulator");
            Some(sim)
        }
    };
    let addr = match (&addr, &sim) {
        (Some(a), _) => a.clone(),
        (None, Some(sim)) => sim.addr().to_string(),
        (None, None) => unreachable!("a simulator runs when no address is given"),
    };
    let config = s7::Config::new(&addr).rack(rack).slot(slot);
    let pool = Pool::builder()
        .max_size(1)
        .acquire_timeout(Duration::from_secs(5))
        .build(s7::Manager::new(config))?;
    let mut plc = pool.get()?;
    println!(
        "connected to {addr} (rack {rack}, slot {slot}), PDU {} bytes",
        plc.pdu_size()
    );
    match plc.cpu_status() {
        Ok(status) => println!("CPU status: {status}"),
        Err(e) => println!("CPU status: not available ({e})"),
    }
    match plc.order_code() {
        Ok(oc) => println!("order code: {oc}"),
        Err(e) => println!("order code: not available ({e})"),
    }
    let data = plc.read_area(area, db, start, len)?;
    let item = s7::Item::bytes(area, db, start, u16::try_from(len).unwrap_or(u16::MAX));
    println!("{item}:");
    for (i, row) in data.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = row
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        println!("  {:6}  {:<47}  {ascii}", i * 16, hex.join(" "));
    }
    drop(plc);
    println!("pool: {}", pool.stats());
    Ok(())
}
