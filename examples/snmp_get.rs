//! GET, walk or SET OIDs on an SNMP agent (v1, v2c or v3) through a pool.
//!
//! ```sh
//! cargo run --example snmp_get                      # the built-in SNMP agent simulator
//! cargo run --example snmp_get -- --walk            # walk its system group
//! cargo run --example snmp_get -- udp://10.0.0.7:161 public 1.3.6.1.2.1.1.5.0
//! # SNMPv3 with net-snmp's options (here the simulator's user):
//! cargo run --example snmp_get -- -u simuser -l authPriv -a SHA -A simauthpass -x AES -X simprivpass
//! # SET sysName.0 (the simulator's `private` community may write):
//! cargo run --example snmp_get -- -c private --set 1.3.6.1.2.1.1.5.0 s gw-7
//! ```
//!
//! `--help` lists every option. With no target it starts the SNMP simulator
//! (feature `sim`) on loopback.

#[path = "common/snmp_v3.rs"]
mod snmp_v3;

use edgepool::sim::snmp::SnmpSim;
use edgepool::snmp::{self, oid, Oid, Value, VarBind, Version};
use edgepool::Pool;
use std::time::Duration;

const USAGE: &str = "\
usage: snmp_get [OPTIONS] [TARGET] [COMMUNITY] [OID…]

GETs the OIDs (default sysDescr.0 sysUpTime.0) from TARGET (udp://HOST:PORT,
HOST:PORT or HOST for port 161). With no TARGET: the built-in SNMP agent
simulator on loopback (communities public and private, v3 users simuser with
SHA/AES and passwords simauthpass/simprivpass, and simnoauth).

  -v 1|2c|3                   SNMP version (default 2c; 3 with -u)
  --v1                        same as -v 1
  -c COMMUNITY                v1/v2c community (default public; or the second
                              positional argument)
  --walk                      walk the OIDs' subtrees (default: the system group)
  --set OID TYPE VALUE        SET instead of GET; repeatable. TYPE as net-snmp:
                              i INTEGER, u Gauge32, c Counter32, C Counter64,
                              t TimeTicks, a IpAddress, o OID, s STRING, x HEX
  -t, --timeout SECS          wait per request (default 2)
  -r, --retries N             retransmissions (default 1)
  -h, --help                  this text
";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut positional, mut walk) = (Vec::new(), false);
    let (mut version, mut community) = (None, None);
    let (mut timeout, mut retries) = (Duration::from_secs(2), 1u32);
    let mut sets: Vec<VarBind> = Vec::new();
    let mut v3 = snmp_v3::V3Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        if v3.take(&a, &mut value)? {
            continue;
        }
        match a.as_str() {
            "--walk" => walk = true,
            "--v1" => version = Some(Version::V1),
            "-v" => {
                version = Some(match value()?.as_str() {
                    "1" => Version::V1,
                    "2c" | "2" => Version::V2c,
                    "3" => Version::V3,
                    other => return Err(format!("-v {other}: use 1, 2c or 3").into()),
                })
            }
            "-c" => community = Some(value()?),
            "-t" | "--timeout" => {
                let secs: f64 = value()?.parse()?;
                if !(0.001..=600.0).contains(&secs) {
                    return Err("--timeout wants 0.001 to 600 seconds".into());
                }
                timeout = Duration::from_secs_f64(secs);
            }
            "-r" | "--retries" => retries = value()?.parse()?,
            "--set" => {
                let oid: Oid = value()?.parse()?;
                let (kind, text) = (value()?, value()?);
                sets.push(VarBind::new(oid, parse_value(&kind, &text)?));
            }
            "-h" | "--help" => {
                println!("{USAGE}\n{}", snmp_v3::HELP);
                return Ok(());
            }
            other if other.starts_with('-') && other.len() > 1 => {
                return Err(format!("unknown option {other} (try --help)").into())
            }
            _ => positional.push(a),
        }
    }
    let usm = v3.usm()?;
    let version = match (version, &usm) {
        (Some(Version::V3), None) => return Err("-v 3 needs a user: -u NAME".into()),
        (Some(v), Some(_)) if v != Version::V3 => {
            return Err("-u is for SNMPv3: drop -v or use -v 3".into())
        }
        (_, Some(_)) => Version::V3,
        (Some(v), None) => v,
        (None, None) => Version::V2c,
    };

    let mut args = positional.into_iter();
    let (target, _sim) = match args.next() {
        Some(t) => (t, None),
        None => {
            let sim = SnmpSim::start()?;
            println!("no target given: asking the built-in SNMP agent simulator");
            (format!("udp://{}", sim.addr()), Some(sim))
        }
    };
    let mut args = args.peekable();
    // The second positional is the community (v1/v2c without -c), unless
    // it reads as an OID.
    if version != Version::V3 && community.is_none() {
        if let Some(next) = args.peek() {
            if next.parse::<Oid>().is_err() {
                community = args.next();
            }
        }
    }
    let mut oids: Vec<Oid> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if oids.is_empty() {
        oids = if walk {
            vec![oid::SYSTEM]
        } else {
            vec![oid::SYS_DESCR, oid::SYS_UPTIME]
        };
    }
    let mut config = snmp::Config::new(target)
        .version(version)
        .community(community.unwrap_or_else(|| "public".into()))
        .timeout(timeout)
        .retries(retries);
    if let Some(usm) = usm {
        config = config.v3(usm);
    }
    let pool = Pool::builder()
        .max_size(1)
        .build(snmp::Manager::new(config))?;
    if !sets.is_empty() {
        for vb in pool.execute(|c| c.set(&sets))? {
            println!("{vb}");
        }
    } else if walk {
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

/// A SET value written as net-snmp's `snmpset` takes it: `TYPE VALUE`.
fn parse_value(kind: &str, text: &str) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(match kind {
        "i" => Value::Integer(text.parse()?),
        "u" => Value::Gauge32(text.parse()?),
        "c" => Value::Counter32(text.parse()?),
        "C" => Value::Counter64(text.parse()?),
        "t" => Value::TimeTicks(text.parse()?),
        "a" => Value::IpAddress(text.parse::<std::net::Ipv4Addr>()?.octets()),
        "o" => Value::ObjectId(text.parse()?),
        "s" => Value::OctetString(text.as_bytes().to_vec()),
        "x" => {
            let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            if hex.len() % 2 != 0 || !hex.is_ascii() {
                return Err(format!("x {text}: not an even number of hex digits").into());
            }
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map(Value::OctetString)?
        }
        other => return Err(format!("--set type {other}: use i, u, c, C, t, a, o, s or x").into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_as_net_snmp_writes_them() {
        let v = |k: &str, t: &str| parse_value(k, t).ok();
        assert_eq!(v("i", "-5"), Some(Value::Integer(-5)));
        assert_eq!(v("u", "7"), Some(Value::Gauge32(7)));
        assert_eq!(v("C", "1"), Some(Value::Counter64(1)));
        assert_eq!(v("a", "10.0.0.1"), Some(Value::IpAddress([10, 0, 0, 1])));
        assert_eq!(v("s", "gw"), Some(Value::OctetString(b"gw".to_vec())));
        assert_eq!(v("x", "41 42"), Some(Value::OctetString(b"AB".to_vec())));
        assert_eq!(
            v("o", "1.3.6"),
            Some(Value::ObjectId(
                "1.3.6".parse().unwrap_or_else(|e| panic!("{e}"))
            ))
        );
        assert_eq!(v("x", "4"), None);
        assert_eq!(v("x", "éé"), None);
        assert_eq!(v("q", "1"), None);
    }
}
