//! The S7 CPU simulator (`edgepool::sim::s7`) against the real
//! python-snap7 2.1.0 client (the C++ `libsnap7.so` it bundles), against
//! edgepool's own client, manager and pool, and against raw frames.
#![cfg(all(feature = "sim", feature = "s7"))]

mod common;
use common::{eventually, eventually_within};

use edgepool::s7::iso::{self, Tpdu};
use edgepool::s7::pdu::{self, Item};
use edgepool::s7::{Area, Client, Config, ConnectionType, CpuStatus, Manager, ReturnCode, S7Error};
use edgepool::sim::s7::S7Sim;
use edgepool::{Error, Phase, Pool, Probe};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn config(sim: &S7Sim) -> Config {
    Config::new(sim.addr().to_string())
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_millis(500))
        .write_timeout(Duration::from_millis(500))
}

fn pool(sim: &S7Sim, max_size: u32) -> Pool<Manager> {
    Pool::builder()
        .max_size(max_size)
        .acquire_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .build(Manager::new(config(sim)))
        .unwrap()
}

// ---- python-snap7 -----------------------------------------------------------

/// The venv Python with python-snap7 2.1.0; fails the test (never skips it)
/// when there is none.
fn python() -> PathBuf {
    std::panic::catch_unwind(common::s7_python).unwrap_or_else(|_| {
        panic!(
            "these tests check the S7 simulator with the real python-snap7 2.1.0 client, \
             which is missing: run `bash scripts/test` (it creates target/s7-venv), or \
             `python3 -m venv target/s7-venv && target/s7-venv/bin/pip install \
             python-snap7==2.1.0`"
        )
    })
}

/// Kills the Python process on drop, also when the test panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `script` with the port as its argument; returns its output as
/// "key rest-of-line" pairs. Bounded: 20 s.
fn run_python(script: &str, port: u16) -> HashMap<String, String> {
    let child = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for python") {
            break status;
        }
        assert!(Instant::now() < deadline, "the python-snap7 script hung");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "python failed ({status}):\n{out}\n{err}");
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

const SNAP7_SESSION: &str = r#"
import ctypes, sys
import snap7
from snap7.type import Area, WordLen, S7DataItem

port = int(sys.argv[1])
c = snap7.client.Client()
c.connect("127.0.0.1", 0, 1, port)
print("connected", c.get_connected())
print("pdu", c.get_pdu_length())
print("db1", c.db_read(1, 0, 8).hex())
c.db_write(2, 10, bytearray(b"\x01\x02\x03"))
print("db2", c.db_read(2, 9, 5).hex())
print("mk", c.read_area(Area.MK, 0, 0, 4).hex())
print("pe", c.read_area(Area.PE, 0, 2, 2).hex())
c.write_area(Area.PA, 0, 7, bytearray(b"\xa5"))
print("pa", c.read_area(Area.PA, 0, 6, 3).hex())
big = c.db_read(1, 0, 1024)
print("big", len(big), big[1000:1004].hex())
print("state", c.get_cpu_state())
oc = c.get_order_code()
print("order", oc.OrderCode.decode().strip(), oc.V1, oc.V2, oc.V3)
info = c.get_cpu_info()
print("module", info.ModuleTypeName.decode())
print("asname", info.ASName.decode())
items = (S7DataItem * 3)()
bufs = [(ctypes.c_uint8 * 4)() for _ in range(3)]
specs = [
    (Area.DB, WordLen.Byte, 1, 4, 4),
    (Area.MK, WordLen.Bit, 0, 1 * 8 + 5, 1),
    (Area.DB, WordLen.Byte, 99, 0, 2),
]
for item, buf, (area, wordlen, db, start, amount) in zip(items, bufs, specs):
    item.Area = area
    item.WordLen = wordlen
    item.DBNumber = db
    item.Start = start
    item.Amount = amount
    item.pData = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
c.read_multi_vars(items)
print("multi", bytes(bufs[0]).hex(), bufs[1][0], items[0].Result, items[1].Result,
      items[2].Result != 0)
try:
    c.db_read(1, 1020, 8)
    print("range accepted")
except Exception as e:
    print("range refused", type(e).__name__)
print("after", c.db_read(1, 0, 2).hex())
c.disconnect()
"#;

#[test]
fn the_python_snap7_client_reads_writes_and_identifies() {
    let sim = S7Sim::start().unwrap();
    sim.write(Area::Db, 1, 0, &[1, 2, 3, 4, 5, 6, 7, 8])
        .unwrap();
    sim.write(Area::Db, 1, 1000, &[0xde, 0xad, 0xbe, 0xef])
        .unwrap();
    sim.write(Area::Merkers, 0, 0, &[0x11, 0x22, 0x33, 0x44])
        .unwrap(); // M1.5 is set (0x22)
    sim.write(Area::Inputs, 0, 2, &[0xab, 0xcd]).unwrap();

    let out = run_python(SNAP7_SESSION, sim.addr().port());
    let get = |k: &str| out.get(k).map(String::as_str).unwrap_or("<missing>");
    assert_eq!(get("connected"), "True");
    assert_eq!(get("pdu"), "480");
    assert_eq!(get("db1"), "0102030405060708");
    assert_eq!(get("db2"), "0001020300");
    assert_eq!(get("mk"), "11223344");
    assert_eq!(get("pe"), "abcd");
    assert_eq!(get("pa"), "00a500");
    assert_eq!(get("big"), "1024 deadbeef", "a read Snap7 splits over PDUs");
    assert_eq!(get("state"), "S7CpuStatusRun");
    assert_eq!(get("order"), "6ES7 315-2EH14-0AB0 3 2 6");
    assert_eq!(get("module"), "CPU 315-2 PN/DP");
    assert_eq!(get("asname"), "EDGEPOOL-SIM");
    // Items: DB1.DBB4 (4 bytes), M1.5, DB99 (refused, no data).
    assert_eq!(get("multi"), "05060708 1 0 0 True");
    assert!(get("range").starts_with("refused"), "{}", get("range"));
    assert_eq!(
        get("after"),
        "0102",
        "the connection survives a refused item"
    );

    assert_eq!(sim.read(Area::Db, 2, 10, 3).unwrap(), [1, 2, 3]);
    assert_eq!(sim.read(Area::Outputs, 0, 7, 1).unwrap(), [0xa5]);
    assert!(sim.requests() >= 10, "{}", sim.requests());
}

#[test]
fn the_python_snap7_client_sees_stop_and_the_tsap_policy() {
    let sim = S7Sim::builder().rack_slot(0, 2).start().unwrap();
    sim.set_run(false);
    let script = r#"
import sys
import snap7
port = int(sys.argv[1])
try:
    snap7.client.Client().connect("127.0.0.1", 0, 1, port)
    print("slot1 accepted")
except Exception as e:
    print("slot1 refused")
c = snap7.client.Client()
c.connect("127.0.0.1", 0, 2, port)
print("state", c.get_cpu_state())
c.disconnect()
"#;
    let out = run_python(script, sim.addr().port());
    assert_eq!(out.get("slot1").map(String::as_str), Some("refused"));
    assert_eq!(
        out.get("state").map(String::as_str),
        Some("S7CpuStatusStop")
    );
}

// ---- edgepool's client, manager and pool --------------------------------------

#[test]
fn pool_round_trips_bits_and_item_errors() {
    let sim = S7Sim::start().unwrap();
    sim.write(Area::Db, 1, 0, &[1, 2, 3, 4]).unwrap();
    let pool = pool(&sim, 2);
    assert_eq!(pool.execute(|c| c.read_db(1, 0, 4)).unwrap(), [1, 2, 3, 4]);

    // Larger than a PDU: the client splits, the sim serves every part.
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    pool.execute(|c| c.write_db(2, 10, &data)).unwrap();
    assert_eq!(sim.read(Area::Db, 2, 10, 1000).unwrap(), data);
    assert_eq!(pool.execute(|c| c.read_db(2, 10, 1000)).unwrap(), data);

    // Bits: set and clear M3.6, read an input bit.
    pool.execute(|c| c.write_bit(Area::Merkers, 0, 3, 6, true))
        .unwrap();
    assert_eq!(sim.read(Area::Merkers, 0, 3, 1).unwrap(), [0b0100_0000]);
    assert!(pool
        .execute(|c| c.read_bit(Area::Merkers, 0, 3, 6))
        .unwrap());
    pool.execute(|c| c.write_bit(Area::Merkers, 0, 3, 6, false))
        .unwrap();
    assert_eq!(sim.read(Area::Merkers, 0, 3, 1).unwrap(), [0]);
    sim.write(Area::Inputs, 0, 0, &[0b1000_0001]).unwrap();
    assert!(pool.execute(|c| c.read_bit(Area::Inputs, 0, 0, 7)).unwrap());
    assert!(!pool.execute(|c| c.read_bit(Area::Inputs, 0, 0, 6)).unwrap());

    // Refused items are typed errors that keep the connection.
    let err = pool.execute(|c| c.read_db(1, 1020, 8)).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::S7(S7Error::Item {
                code: ReturnCode::AddressOutOfRange,
                ..
            })
        ),
        "{err}"
    );
    assert!(!err.is_transport());
    let err = pool.execute(|c| c.write_db(7, 0, &[1])).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::S7(S7Error::Item {
                code: ReturnCode::ObjectDoesNotExist,
                ..
            })
        ),
        "{err}"
    );
    let r = pool
        .execute(|c| {
            c.read_multi(&[
                Item::db(1, 0, 2),
                Item::db(1, 1023, 2),
                Item::db(9, 0, 1),
                Item::bytes(Area::Outputs, 0, 255, 1),
                Item::bytes(Area::Timers, 0, 0, 1),
                Item::bit(Area::Db, 1, 0, 0),
            ])
        })
        .unwrap();
    assert_eq!(r[0].as_deref().unwrap(), [1, 2]);
    let code = |i: usize| match &r[i] {
        Err(S7Error::Item { code, .. }) => *code,
        other => panic!("item {i}: {other:?}"),
    };
    assert_eq!(code(1), ReturnCode::AddressOutOfRange);
    assert_eq!(code(2), ReturnCode::ObjectDoesNotExist);
    assert_eq!(r[3].as_deref().unwrap(), [0]);
    assert_eq!(code(4), ReturnCode::ObjectDoesNotExist, "no timers");
    assert_eq!(r[5].as_deref().unwrap(), [1]);
    let w = pool
        .execute(|c| {
            c.write_multi(&[
                (Item::db(1, 100, 2), &[0xaa, 0xbb][..]),
                (Item::bytes(Area::Outputs, 0, 256, 1), &[1][..]),
                (Item::bit(Area::Outputs, 0, 0, 2), &[1][..]),
            ])
        })
        .unwrap();
    assert!(w[0].is_ok() && w[1].is_err() && w[2].is_ok(), "{w:?}");
    assert_eq!(sim.read(Area::Db, 1, 100, 2).unwrap(), [0xaa, 0xbb]);
    assert_eq!(sim.read(Area::Outputs, 0, 0, 1).unwrap(), [0b100]);

    let s = pool.stats();
    assert_eq!(s.closed, 0, "no connection was lost: {s}");
    assert!(s.created <= 2, "{s}");
}

#[test]
fn cpu_status_identity_and_pdu_sizes() {
    let sim = S7Sim::builder()
        .pdu_size(240)
        .order_code("6ES7 317-2EK14-0AB0")
        .firmware(3, 3, 10)
        .start()
        .unwrap();
    let mut c = Client::connect(&config(&sim)).unwrap(); // asks for 480
    assert_eq!(c.pdu_size(), 240);
    assert_eq!(c.cpu_status().unwrap(), CpuStatus::Run);
    sim.set_run(false);
    assert_eq!(c.cpu_status().unwrap(), CpuStatus::Stop);
    c.probe().unwrap();
    sim.set_run(true);
    assert_eq!(c.cpu_status().unwrap(), CpuStatus::Run);
    let oc = c.order_code().unwrap();
    assert_eq!(oc.to_string(), "6ES7 317-2EK14-0AB0 V3.3.10");

    let err = c.read_szl(0x0999, 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::S7(S7Error::Szl {
                id: 0x0999,
                error: 0xd401,
                code: ReturnCode::ObjectDoesNotExist,
                ..
            })
        ),
        "{err}"
    );
    assert!(!c.is_broken());

    // With the smallest PDU the client asks for, SZL 0x001C comes in parts.
    let mut small = Client::connect(&config(&sim).pdu_size(128)).unwrap();
    assert_eq!(small.pdu_size(), 128);
    let szl = small.read_szl(0x001c, 0).unwrap();
    assert_eq!((szl.record_len, szl.record_count), (34, 6));
    let records: Vec<&[u8]> = szl.records().collect();
    assert_eq!(records.len(), 6);
    assert!(records[1][2..].starts_with(b"CPU 315-2 PN/DP"));
    let pattern: Vec<u8> = (0..1024u32).map(|i| (i * 13 % 256) as u8).collect();
    sim.write(Area::Db, 1, 0, &pattern).unwrap();
    assert_eq!(small.read_db(1, 0, 1024).unwrap(), pattern);
    assert_eq!(c.read_db(1, 0, 1024).unwrap(), pattern);
}

#[test]
fn silent_and_slow_plc() {
    let sim = S7Sim::start().unwrap();
    let pool = pool(&sim, 1);
    assert_eq!(pool.execute(|c| c.read_db(1, 0, 2)).unwrap(), [0, 0]);

    sim.faults().set_silent(true);
    let start = Instant::now();
    let err = pool.execute(|c| c.read_db(1, 0, 2)).unwrap_err();
    // The 500 ms request timeout (or, on a loaded machine where the pool
    // probes first, the 2 s acquire timeout).
    assert!(err.is_timeout(), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // A connect hangs at the ISO connection request.
    let err = Client::connect(&config(&sim)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Phase::Handshake)), "{err}");

    sim.faults().set_silent(false);
    assert!(
        eventually(|| pool.execute(|c| c.read_db(1, 0, 2)).is_ok()),
        "the pool did not recover: {}",
        pool.stats()
    );
    assert!(
        pool.stats().closed >= 1,
        "the timed-out connection was dropped"
    );

    sim.faults().set_delay(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(pool.execute(|c| c.read_db(1, 0, 2)).unwrap(), [0, 0]);
    assert!(start.elapsed() >= Duration::from_millis(150));
    // Longer than the client's timeout: a timeout, then fine again.
    sim.faults().set_delay(Duration::from_millis(700));
    assert!(pool.execute(|c| c.read_db(1, 0, 2)).is_err());
    sim.faults().clear();
    assert!(eventually(|| pool.execute(|c| c.read_db(1, 0, 2)).is_ok()));
}

#[test]
fn dropped_connections_and_restarts() {
    let sim = S7Sim::start().unwrap();
    sim.write(Area::Db, 1, 0, &[9, 9]).unwrap();
    let pool = pool(&sim, 2);
    assert_eq!(pool.execute(|c| c.read_db(1, 0, 2)).unwrap(), [9, 9]);

    sim.faults().drop_connections();
    assert!(eventually(|| pool
        .execute(|c| c.read_db(1, 0, 2))
        .is_ok_and(|d| d == [9, 9])));
    assert!(pool.stats().created >= 2, "{}", pool.stats());

    let port = sim.addr().port();
    sim.restart(Duration::from_millis(200)).unwrap();
    assert_eq!(sim.addr().port(), port);
    let ok = eventually_within(Duration::from_secs(5), || {
        pool.execute(|c| c.read_db(1, 0, 2))
            .is_ok_and(|d| d == [9, 9])
    });
    assert!(ok, "the pool did not recover: {}", pool.stats());
    assert_eq!(pool.health_check().unhealthy, 0);
}

#[test]
fn rack_slot_policy() {
    let sim = S7Sim::builder().rack_slot(0, 2).start().unwrap();
    assert!(Client::connect(&config(&sim).slot(2)).is_ok());
    assert!(Client::connect(&config(&sim).slot(2).connection_type(ConnectionType::Op)).is_ok());
    assert!(Client::connect(&config(&sim).tsaps(0x1000, 0x0302)).is_ok());
    for wrong in [config(&sim).slot(1), config(&sim).rack(1).slot(2)] {
        match Client::connect(&wrong) {
            Err(Error::S7(S7Error::ConnectionRefused {
                remote_tsap,
                reason,
            })) => {
                assert_eq!(remote_tsap, wrong.remote_tsap());
                assert_eq!(reason, "disconnect request (DR) from the peer, reason 0x03");
            }
            other => panic!("{other:?}"),
        }
    }
    // The default accepts any rack and slot.
    let any = S7Sim::start().unwrap();
    assert!(Client::connect(&config(&any).rack(3).slot(17)).is_ok());
}

#[test]
fn builder_and_host_access_are_checked() {
    let bad = [
        S7Sim::builder().pdu_size(100),
        S7Sim::builder().pdu_size(2000),
        S7Sim::builder().order_code("6ES7 315-2EH14-0AB0 and more"),
        S7Sim::builder().module_name("a module name longer than 24"),
        S7Sim::builder().db(0, 10),
        S7Sim::builder().db(1, 3 << 20),
        S7Sim::builder().area_size(Area::Db, 10),
        S7Sim::builder().area_size(Area::Counters, 10),
        S7Sim::builder().rack_slot(8, 0),
    ];
    for b in bad {
        let shown = format!("{b:?}");
        assert!(matches!(b.start(), Err(Error::Config(_))), "{shown}");
    }
    let sim = S7Sim::builder()
        .db(3, 10)
        .area_size(Area::Inputs, 1)
        .start()
        .unwrap();
    assert!(
        sim.read(Area::Db, 1, 0, 1).is_err(),
        "db() replaces the defaults"
    );
    assert_eq!(sim.read(Area::Db, 3, 0, 10).unwrap(), [0; 10]);
    assert!(sim.read(Area::Db, 3, 5, 6).is_err());
    assert!(sim.read(Area::Db, 3, usize::MAX, 2).is_err());
    assert!(sim.write(Area::Inputs, 0, 1, &[1]).is_err());
    assert!(sim.write(Area::Timers, 0, 0, &[1]).is_err());
    sim.write(Area::Inputs, 0, 0, &[7]).unwrap();
    assert_eq!(sim.read(Area::Inputs, 0, 0, 1).unwrap(), [7]);
    assert!(format!("{sim:?}").contains("S7Sim"));
}

// ---- raw frames ------------------------------------------------------------------

/// A raw ISO-on-TCP connection, connected and set up (PDU 480).
fn raw(sim: &S7Sim) -> TcpStream {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut out = Vec::new();
    iso::encode_connect_request(1, 0x0100, 0x0101, &mut out);
    s.write_all(&out).unwrap();
    let cc = read_frame(&mut s).unwrap();
    assert!(matches!(
        iso::decode(&cc, 4096).unwrap().unwrap().0,
        Tpdu::ConnectConfirm {
            src_tsap: Some(0x0100),
            dst_tsap: Some(0x0101),
            ..
        }
    ));
    let mut setup = Vec::new();
    pdu::encode_setup(0, 480, &mut setup);
    let answer = exchange(&mut s, &setup);
    assert_eq!(
        pdu::decode_setup(&pdu::parse(&answer).unwrap()).unwrap(),
        480
    );
    s
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    s.read_exact(&mut frame)?;
    let len = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    frame.resize(len, 0);
    s.read_exact(&mut frame[4..])?;
    Ok(frame)
}

/// Sends one S7 PDU in one data TPDU; returns the S7 answer.
fn exchange(s: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    iso::encode_data(request, &mut out);
    s.write_all(&out).unwrap();
    let frame = read_frame(s).unwrap();
    match iso::decode(&frame, 4096).unwrap().unwrap().0 {
        Tpdu::Data { eot: true, payload } => payload.to_vec(),
        other => panic!("{other:?}"),
    }
}

/// True when the peer closed the connection (EOF or reset) within 2 s.
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0))
        || matches!(s.read(&mut buf), Err(e) if e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut)
}

#[test]
fn raw_requests_get_s7_errors_not_hangs() {
    let sim = S7Sim::start().unwrap();
    let mut s = raw(&sim);

    // Written data shorter than the item: 0x07.
    let mut req = Vec::new();
    pdu::encode_write(1, &[(Item::db(1, 0, 4), &[1, 2, 3][..])], &mut req);
    let a = exchange(&mut s, &req);
    assert_eq!(
        pdu::decode_write(&pdu::parse(&a).unwrap(), 1).unwrap(),
        [Err(ReturnCode::DataTypeInconsistent)]
    );

    // An answer larger than the PDU: the whole request is refused.
    req.clear();
    pdu::encode_read(2, &[Item::db(1, 0, 500)], &mut req);
    let a = exchange(&mut s, &req);
    let err = pdu::decode_read(&pdu::parse(&a).unwrap(), &[Item::db(1, 0, 500)]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::S7(S7Error::Refused {
                class: 0x85,
                code: 0x00,
                ..
            })
        ),
        "{err}"
    );

    // A function the simulator does not have (PI service).
    let a = exchange(&mut s, &[0x32, 0x01, 0, 0, 0, 3, 0, 1, 0, 0, 0x28]);
    let m = pdu::parse(&a).unwrap();
    assert_eq!((m.rosctr, m.pdu_ref, m.error), (2, 3, (0x81, 0x04)));

    // A userdata function it does not have (read the clock).
    let clock = [
        0x32, 0x07, 0, 0, 0, 4, 0, 8, 0, 4, 0x00, 0x01, 0x12, 0x04, 0x11, 0x47, 0x01, 0x00, 0x0a,
        0, 0, 0,
    ];
    let a = exchange(&mut s, &clock);
    let m = pdu::parse(&a).unwrap();
    assert_eq!((m.rosctr, m.pdu_ref), (7, 4));
    assert_eq!(&m.params[10..], [0x81, 0x04]);

    // One request in two data TPDUs.
    req.clear();
    pdu::encode_read(5, &[Item::db(1, 0, 2)], &mut req);
    let (head, tail) = req.split_at(10);
    let mut frames = Vec::new();
    for (part, eot) in [(head, 0x00), (tail, 0x80)] {
        let len = u16::try_from(7 + part.len()).unwrap().to_be_bytes();
        frames.extend_from_slice(&[3, 0, len[0], len[1], 2, 0xf0, eot]);
        frames.extend_from_slice(part);
    }
    s.write_all(&frames).unwrap();
    let frame = read_frame(&mut s).unwrap();
    let Tpdu::Data { payload, .. } = iso::decode(&frame, 4096).unwrap().unwrap().0 else {
        panic!("not data");
    };
    let r = pdu::decode_read(&pdu::parse(payload).unwrap(), &[Item::db(1, 0, 2)]).unwrap();
    assert_eq!(r[0], Ok(&[0u8, 0][..]));
    assert_eq!(sim.requests(), 6, "setup + 5");

    // Garbage closes the connection; the simulator goes on.
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed(&mut s));
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut dt = Vec::new();
    iso::encode_data(&req, &mut dt);
    s.write_all(&dt).unwrap(); // data before the connection request
    assert!(closed(&mut s));
    let mut s = raw(&sim);
    s.write_all(&[3, 0, 0xff, 0xff, 2, 0xf0, 0x80]).unwrap(); // a 64 KiB frame
    assert!(closed(&mut s));
    let mut s = raw(&sim);
    assert_eq!(exchange(&mut s, &req).len(), 12 + 2 + 4 + 2);
}
