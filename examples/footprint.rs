//! A gateway poller in miniature, for measuring what edgepool adds to a
//! binary: SNMPv3, S7 and Redis through pools (built without `tls` and
//! `sim`; see `benches/README.md`, "Footprint").
//!
//! ```sh
//! cargo build --release --example footprint --no-default-features --features snmp,s7,redis
//! cargo run --example footprint -- udp://127.0.0.1:161 127.0.0.1:102 127.0.0.1:6379
//! ```
//!
//! Arguments: an SNMP agent (v3 user `edgepool`, SHA-1/AES-128, passwords
//! `authpass1`/`privpass1`), an S7 CPU and a Redis server; each is polled once
//! and the result printed. With `--help`, prints this usage.

use edgepool::{redis, s7, snmp, Pool};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: footprint SNMP_TARGET S7_ADDR REDIS_ADDR");
        return;
    }
    let user = snmp::Usm::new("edgepool")
        .auth(snmp::AuthProtocol::Sha1, "authpass1")
        .privacy(snmp::PrivProtocol::Aes128, "privpass1");
    let timeout = Duration::from_secs(2);
    let snmp = Pool::builder()
        .acquire_timeout(timeout)
        .build(snmp::Manager::new(snmp::Config::new(&args[0]).v3(user)));
    let plc = Pool::builder()
        .acquire_timeout(timeout)
        .build(s7::Manager::new(s7::Config::new(&args[1])));
    let cache = Pool::builder()
        .acquire_timeout(timeout)
        .build(redis::Manager::new(redis::Config::new(&args[2])));
    match (snmp, plc, cache) {
        (Ok(snmp), Ok(plc), Ok(cache)) => {
            let up = snmp.execute(|c| c.get(&[snmp::oid::SYS_UPTIME]));
            let db = plc.execute(|c| c.read_db(1, 0, 4));
            let n = cache.execute(|c| c.incr("edgepool:footprint"));
            println!("snmp {up:?}\ns7 {db:?}\nredis {n:?}");
        }
        (a, b, c) => eprintln!("bad settings: {:?} {:?} {:?}", a.err(), b.err(), c.err()),
    }
}
