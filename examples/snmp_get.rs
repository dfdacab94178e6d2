//! GET (or walk) OIDs from an SNMP agent through a pool.
//!
//! ```sh
//! cargo run --example snmp_get                      # the built-in SNMP agent simulator
//! cargo run --example snmp_get -- --walk            # walk its system group
//! cargo run --example snmp_get -- udp://10.0.0.7:161 public 1.3.6.1.2.1.1.5.0
//! ```
//!
//! Arguments: `[udp://HOST:PORT] [COMMUNITY] [OID…] [--walk] [--v1]`. With no
//! target it starts the SNMP simulator (feature `sim`) on loopback. Defaults:
//! community `public`, `sysDescr.0 sysUpTime.0` (walk: the system group).

use edgepool::sim::snmp::SnmpSim;
use edgepool::snmp::{self, oid, Oid, Version};
use edgepool::Pool;
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut positional, mut walk, mut version) = (Vec::new(), false, Version::V2c);
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--walk" => walk = true,
            "--v1" => version = Version::V1,
            "-h" | "--help" => {
                println!("usage: snmp_get [udp://HOST:PORT] [COMMUNITY] [OID…] [--walk] [--v1]");
                return Ok(());
            }
            _ => positional.push(a),
        }
    }
    let mut args = positional.into_iter();
    let (target, _sim) = match args.next() {
        Some(t) => (t, None),
        None => {
            let sim = SnmpSim::start()?;
            println!("no target given: asking the built-in SNMP agent simulator");
            (format!("udp://{}", sim.addr()), Some(sim))
        }
    };
    let community = args.next().unwrap_or_else(|| "public".into());
    let mut oids: Vec<Oid> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if oids.is_empty() {
        oids = if walk {
            vec![oid::SYSTEM]
        } else {
            vec![oid::SYS_DESCR, oid::SYS_UPTIME]
        };
    }
    let config = snmp::Config::new(target)
        .version(version)
        .community(community)
        .timeout(Duration::from_secs(2))
        .retries(1);
    let pool = Pool::builder()
        .max_size(1)
        .build(snmp::Manager::new(config))?;
    if walk {
        for root in &oids {
            for vb in pool.execute(|c| c.walk(root))? {
                println!("{vb}");
            }
        }
    } else {
        for vb in pool.execute(|c| c.get(&oids))? {
            println!("{vb}");
        }
    }
    Ok(())
}
