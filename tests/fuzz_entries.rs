//! The fuzz targets' entry points (`edgepool::fuzzing`) in the normal suite:
//! every committed seed (`fuzz/seeds/TARGET`) and every input a campaign
//! found a crash with (`fuzz/regressions/TARGET`), plus a fixed-seed run of
//! mutations of them, so that a property broken later fails here too, on
//! stable, without cargo-fuzz. The Redis and tunnel entries talk to a
//! loopback socket pair they make themselves.
#![cfg(all(feature = "redis", feature = "snmp", feature = "tunnel"))]

use std::path::Path;

/// The committed inputs of `target`.
fn inputs(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(&f).expect("read a fuzz input"));
        }
    }
    out
}

/// `n` mutations of `seeds` (bit flips, byte changes, cuts, splices) from a
/// fixed xorshift seed: the same inputs on every run.
fn mutations(seeds: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut v = seeds[(next() as usize) % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let r = next();
            match r % 5 {
                0 if !v.is_empty() => {
                    let i = (next() as usize) % v.len();
                    v[i] ^= 1 << ((r >> 8) % 8);
                }
                1 if !v.is_empty() => {
                    let i = (next() as usize) % v.len();
                    v[i] = (r >> 16) as u8;
                }
                2 if !v.is_empty() => {
                    let i = (next() as usize) % v.len();
                    v.truncate(i);
                }
                3 => {
                    let other = &seeds[(next() as usize) % seeds.len()];
                    let i = (next() as usize) % (other.len() + 1);
                    v.extend_from_slice(&other[i..]);
                }
                _ => v.push((r >> 24) as u8),
            }
        }
        v.truncate(4096);
        out.push(v);
    }
    out
}

fn check(target: &str, n: usize, entry: fn(&[u8])) {
    let seeds = inputs(target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} has seeds");
    for s in &seeds {
        entry(s);
    }
    for m in mutations(&seeds, n) {
        entry(&m);
    }
}

#[test]
fn snmp_v3_incoming() {
    check(
        "snmp_v3_incoming",
        3000,
        edgepool::fuzzing::snmp_v3_incoming,
    );
}

#[test]
fn redis_reply_stream() {
    check(
        "redis_reply_stream",
        1000,
        edgepool::fuzzing::redis_reply_stream,
    );
}

#[test]
fn tunnel_read_id() {
    check("tunnel_read_id", 300, edgepool::fuzzing::tunnel_read_id);
}

#[test]
fn snmp_reply() {
    check("snmp_reply", 20_000, edgepool::fuzzing::snmp_reply);
}
