//! The S7 client, manager and pool against the real C++ Snap7 server
//! (`libsnap7.so` from PyPI's python-snap7 2.1.0, started from
//! `tests/s7_server.py`), plus scripted loopback peers for what that server
//! cannot do (stay silent, split SZL answers, send garbage).
#![cfg(feature = "s7")]

mod common;
use common::{eventually_within, s7_bytes, S7Server};

use edgepool::s7::{Area, Client, Config, CpuStatus, Item, Manager, ReturnCode, S7Error};
use edgepool::{Error, Phase, Pool, Probe};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

fn quick(addr: &str) -> Config {
    Config::new(addr)
        .connect_timeout(Duration::from_millis(1000))
        .timeout(Duration::from_millis(1000))
}

fn connect(server: &S7Server) -> Client {
    Client::connect(&quick(&server.addr())).unwrap()
}

#[test]
fn reads_are_byte_exact_in_every_area() {
    let server = S7Server::start();
    let mut plc = connect(&server);
    assert_eq!(plc.pdu_size(), 480);
    assert_eq!(plc.read_db(1, 0, 256).unwrap(), s7_bytes(1, 0, 256));
    assert_eq!(plc.read_db(1, 17, 33).unwrap(), s7_bytes(1, 17, 33));
    assert_eq!(plc.read_db(4, 1000, 24).unwrap(), s7_bytes(4, 1000, 24));
    for (area, seed) in [
        (Area::Inputs, 0x81),
        (Area::Outputs, 0x82),
        (Area::Merkers, 0x83),
    ] {
        assert_eq!(
            plc.read_area(area, 0, 0, 256).unwrap(),
            s7_bytes(seed, 0, 256),
            "{area:?}"
        );
        assert_eq!(
            plc.read_area(area, 0, 100, 3).unwrap(),
            s7_bytes(seed, 100, 3),
            "{area:?}"
        );
    }
    // Timers and counters: 2 bytes each, counted in elements.
    assert_eq!(
        plc.read_area(Area::Timers, 0, 0, 4).unwrap(),
        s7_bytes(0x1d, 0, 8)
    );
    assert_eq!(
        plc.read_area(Area::Counters, 0, 0, 64).unwrap(),
        s7_bytes(0x1c, 0, 128)
    );
    let mut buf = [0u8; 64];
    plc.read_area_into(Area::Db, 4, 0, &mut buf).unwrap();
    assert_eq!(buf[..], s7_bytes(4, 0, 64)[..]);
    // Bits of DB1.DBB5.
    let byte = s7_bytes(1, 5, 1)[0];
    for bit in 0..8 {
        assert_eq!(
            plc.read_bit(Area::Db, 1, 5, bit).unwrap(),
            byte & (1 << bit) != 0,
            "bit {bit}"
        );
    }
    assert!(!plc.is_broken());
}

#[test]
fn writes_read_back() {
    let server = S7Server::start();
    let mut plc = connect(&server);
    let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(13)).collect();
    plc.write_db(3, 10, &data).unwrap();
    assert_eq!(plc.read_db(3, 10, 100).unwrap(), data);
    assert_eq!(plc.read_db(3, 9, 1).unwrap(), [0], "nothing before");
    assert_eq!(plc.read_db(3, 110, 1).unwrap(), [0], "nothing after");

    plc.write_area(Area::Merkers, 0, 200, &[0xde, 0xad])
        .unwrap();
    assert_eq!(
        plc.read_area(Area::Merkers, 0, 199, 4).unwrap(),
        [
            s7_bytes(0x83, 199, 1)[0],
            0xde,
            0xad,
            s7_bytes(0x83, 202, 1)[0]
        ]
    );
    plc.write_area(Area::Outputs, 0, 0, &[0x55]).unwrap();
    assert_eq!(plc.read_area(Area::Outputs, 0, 0, 1).unwrap(), [0x55]);
    plc.write_area(Area::Counters, 0, 0, &[0x01, 0x23, 0x45, 0x67])
        .unwrap();
    assert_eq!(
        plc.read_area(Area::Counters, 0, 0, 2).unwrap(),
        [0x01, 0x23, 0x45, 0x67]
    );
    plc.write_area(Area::Timers, 0, 0, &[0x10, 0x20]).unwrap();
    assert_eq!(plc.read_area(Area::Timers, 0, 0, 1).unwrap(), [0x10, 0x20]);

    // Bits: set DB3.DBX500.1 and .6, clear .1 again; the rest stays.
    plc.write_bit(Area::Db, 3, 500, 1, true).unwrap();
    plc.write_bit(Area::Db, 3, 500, 6, true).unwrap();
    assert!(plc.read_bit(Area::Db, 3, 500, 1).unwrap());
    assert_eq!(plc.read_db(3, 500, 1).unwrap(), [0b0100_0010]);
    plc.write_bit(Area::Db, 3, 500, 1, false).unwrap();
    assert_eq!(plc.read_db(3, 500, 1).unwrap(), [0b0100_0000]);
    assert!(!plc.read_bit(Area::Db, 3, 500, 1).unwrap());
}

#[test]
fn large_reads_and_writes_split_across_pdus() {
    let server = S7Server::start();
    let mut plc = connect(&server);
    let start = Instant::now();
    let data = plc.read_db(2, 0, 30_000).unwrap();
    let took = start.elapsed();
    assert_eq!(data.len(), 30_000);
    assert!(data == s7_bytes(2, 0, 30_000), "30 KB read differs");
    // An odd start and length across the 462-byte answer limit.
    assert_eq!(plc.read_db(2, 1001, 1999).unwrap(), s7_bytes(2, 1001, 1999));
    eprintln!("30 KB in {took:?} (PDU {})", plc.pdu_size());

    let big: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    plc.write_db(3, 3, &big).unwrap();
    assert_eq!(plc.read_db(3, 3, 1000).unwrap(), big);
    // A smaller PDU splits more, with the same result.
    let mut small = Client::connect(&quick(&server.addr()).pdu_size(240)).unwrap();
    assert_eq!(small.pdu_size(), 240);
    assert!(small.read_db(2, 5, 5000).unwrap() == s7_bytes(2, 5, 5000));
}

#[test]
fn multi_read_mixes_areas_and_keeps_good_items() {
    let server = S7Server::start();
    let mut plc = connect(&server);
    let items = [
        Item::db(1, 0, 4),
        Item::bytes(Area::Merkers, 0, 1, 3),
        Item::db(1, 300, 2), // DB1 has 256 bytes
        Item::bit(Area::Db, 1, 2, 3),
        Item::bytes(Area::Inputs, 0, 10, 5),
        Item::bytes(Area::Timers, 0, 0, 2),
        Item::db(99, 0, 1), // no such DB
        Item::bytes(Area::Outputs, 0, 255, 1),
    ];
    let r = plc.read_multi(&items).unwrap();
    assert_eq!(r.len(), items.len());
    assert_eq!(r[0].as_deref().unwrap(), s7_bytes(1, 0, 4));
    assert_eq!(r[1].as_deref().unwrap(), s7_bytes(0x83, 1, 3));
    match &r[2] {
        Err(e @ S7Error::Item { item, code }) => {
            assert_eq!(*code, ReturnCode::AddressOutOfRange);
            assert_eq!(*item, items[2]);
            assert!(e.to_string().contains("DB1.DBB300"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let bit = (s7_bytes(1, 2, 1)[0] >> 3) & 1;
    assert_eq!(r[3].as_deref().unwrap(), [bit]);
    assert_eq!(r[4].as_deref().unwrap(), s7_bytes(0x81, 10, 5));
    assert_eq!(r[5].as_deref().unwrap(), s7_bytes(0x1d, 0, 4));
    assert!(matches!(
        r[6],
        Err(S7Error::Item {
            code: ReturnCode::ObjectDoesNotExist,
            ..
        })
    ));
    assert_eq!(r[7].as_deref().unwrap(), s7_bytes(0x82, 255, 1));

    // More than 20 items, and items larger than a PDU: split, same results.
    let mut many: Vec<Item> = (0..45).map(|i| Item::db(1, i * 5, 3)).collect();
    many.push(Item::db(2, 100, 3000));
    many.push(Item::db(1, 250, 10)); // runs past the end
    many.push(Item::bytes(Area::Merkers, 0, 0, 256));
    let r = plc.read_multi(&many).unwrap();
    for (i, item) in many.iter().enumerate().take(45) {
        assert_eq!(
            r[i].as_deref().unwrap(),
            s7_bytes(1, item.start as usize, 3),
            "{item}"
        );
    }
    assert!(r[45].as_deref().unwrap() == s7_bytes(2, 100, 3000));
    assert!(r[46].is_err());
    assert_eq!(r[47].as_deref().unwrap(), s7_bytes(0x83, 0, 256));
    assert!(!plc.is_broken());
}

#[test]
fn multi_write_reports_per_item() {
    let server = S7Server::start();
    let mut plc = connect(&server);
    let big = vec![0xabu8; 900];
    let r = plc
        .write_multi(&[
            (Item::db(3, 0, 2), &[0x12, 0x34][..]),
            (Item::db(3, 2000, 1), &[1][..]), // past the end of DB3
            (Item::bit(Area::Db, 3, 4, 7), &[1][..]),
            (Item::bytes(Area::Merkers, 0, 50, 3), &[7, 8, 9][..]),
            (Item::db(3, 100, 900), &big[..]),
        ])
        .unwrap();
    assert!(
        r[0].is_ok() && r[2].is_ok() && r[3].is_ok() && r[4].is_ok(),
        "{r:?}"
    );
    assert!(matches!(
        r[1],
        Err(S7Error::Item {
            code: ReturnCode::AddressOutOfRange,
            ..
        })
    ));
    assert_eq!(plc.read_db(3, 0, 5).unwrap(), [0x12, 0x34, 0, 0, 0x80]);
    assert_eq!(plc.read_area(Area::Merkers, 0, 50, 3).unwrap(), [7, 8, 9]);
    assert_eq!(plc.read_db(3, 100, 900).unwrap(), big);
    // A length that does not match the item is the caller's mistake.
    assert!(matches!(
        plc.write_multi(&[(Item::db(3, 0, 2), &[1][..])]),
        Err(Error::Config(_))
    ));
}

#[test]
fn szl_cpu_status_and_order_code() {
    let mut server = S7Server::start();
    let mut plc = connect(&server);
    let oc = plc.order_code().unwrap();
    assert_eq!(oc.code, "6ES7 315-2EH14-0AB0");
    assert_eq!(oc.firmware, Some((3, 2, 6)));
    assert_eq!(oc.to_string(), "6ES7 315-2EH14-0AB0 V3.2.6");

    let szl = plc.read_szl(0x0011, 0).unwrap();
    assert_eq!((szl.id, szl.record_len, szl.record_count), (0x0011, 28, 4));
    assert_eq!(szl.records().count(), 4);

    // Component identification: 10 records of 34 bytes.
    let szl = plc.read_szl(0x001c, 0).unwrap();
    assert_eq!((szl.id, szl.record_len, szl.record_count), (0x001c, 34, 10));
    let records: Vec<&[u8]> = szl.records().collect();
    assert_eq!(records.len(), 10);
    assert_eq!(&records[0][..2], [0, 1], "index 1: automation system name");
    assert!(records[0][2..].starts_with(b"SNAP7-SERVER"));
    assert!(records[1][2..].starts_with(b"CPU 315-2 PN/DP"));

    let szl = plc.read_szl(0x0424, 0).unwrap();
    assert_eq!((szl.id, szl.record_len), (0x0424, 20));
    assert_eq!(plc.cpu_status().unwrap(), CpuStatus::Run);
    server.set_run(false);
    assert_eq!(plc.cpu_status().unwrap(), CpuStatus::Stop);
    // A CPU in STOP still passes the probe.
    plc.probe().unwrap();
    server.set_run(true);
    assert_eq!(plc.cpu_status().unwrap(), CpuStatus::Run);

    // An SZL the CPU does not have: a typed error, the connection stays.
    let err = plc.read_szl(0x0999, 1).unwrap_err();
    match &err {
        Error::S7(S7Error::Szl {
            id: 0x0999,
            index: 1,
            code: ReturnCode::ObjectDoesNotExist,
            ..
        }) => {}
        other => panic!("{other}"),
    }
    assert!(!err.is_transport());
    assert!(!plc.is_broken());
    assert_eq!(plc.read_db(1, 0, 2).unwrap(), s7_bytes(1, 0, 2));
}

#[test]
fn refused_items_keep_the_pooled_connection() {
    let server = S7Server::start();
    let pool = Pool::builder()
        .max_size(1)
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    let err = pool.execute(|plc| plc.read_db(99, 0, 4)).unwrap_err();
    match &err {
        Error::S7(S7Error::Item { item, code }) => {
            assert_eq!(*code, ReturnCode::ObjectDoesNotExist);
            assert_eq!(item.to_string(), "DB99.DBB0 (4 bytes)");
        }
        other => panic!("{other}"),
    }
    assert!(!err.is_transport());
    let err = pool
        .execute(|plc| plc.write_db(1, 250, &[0; 10]))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::S7(S7Error::Item {
            code: ReturnCode::AddressOutOfRange,
            ..
        })
    ));
    assert_eq!(
        pool.execute(|plc| plc.read_db(1, 0, 8)).unwrap(),
        s7_bytes(1, 0, 8)
    );
    let report = pool.health_check();
    assert_eq!((report.healthy, report.unhealthy), (1, 0));
    let s = pool.stats();
    assert_eq!(
        (s.created, s.closed),
        (1, 0),
        "the connection survived: {s}"
    );
}

#[test]
fn explicit_tsaps_and_connection_types() {
    let server = S7Server::start();
    let mut plc = Client::connect(&quick(&server.addr()).tsaps(0x1000, 0x0302)).unwrap();
    assert_eq!(plc.read_db(1, 0, 1).unwrap(), s7_bytes(1, 0, 1));
    for ct in [
        edgepool::s7::ConnectionType::Op,
        edgepool::s7::ConnectionType::Basic,
    ] {
        let mut plc = Client::connect(&quick(&server.addr()).connection_type(ct).slot(2)).unwrap();
        assert_eq!(plc.read_db(1, 0, 1).unwrap(), s7_bytes(1, 0, 1));
    }
    assert!(matches!(
        Client::connect(&quick(&server.addr()).rack(9)),
        Err(Error::Config(_))
    ));
}

#[test]
fn pool_recovers_after_the_server_restarts() {
    let mut server = S7Server::start();
    let pool = Pool::builder()
        .max_size(2)
        .acquire_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    assert_eq!(
        pool.execute(|plc| plc.read_db(1, 0, 4)).unwrap(),
        s7_bytes(1, 0, 4)
    );
    server.stop();
    let err = pool.execute(|plc| plc.read_db(1, 0, 4)).unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert_eq!(pool.stats().size, 0, "the dead connection was dropped");
    server.restart();
    let ok = eventually_within(Duration::from_secs(10), || {
        pool.execute(|plc| plc.read_db(1, 0, 4))
            .is_ok_and(|d| d == s7_bytes(1, 0, 4))
    });
    assert!(ok, "the pool did not recover: {}", pool.stats());
    let report = pool.health_check();
    assert_eq!(report.unhealthy, 0);
}

#[test]
fn concurrent_readers_through_a_pool() {
    let server = S7Server::start();
    let pool = Pool::builder()
        .max_size(4)
        .build(Manager::new(quick(&server.addr())))
        .unwrap();
    thread::scope(|s| {
        for t in 0..4usize {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..50usize {
                    let start = (t * 200 + i * 3) % 900;
                    let got = pool
                        .execute(|plc| plc.read_db(4, start as u32, 64))
                        .unwrap();
                    assert_eq!(got, s7_bytes(4, start, 64));
                }
            });
        }
    });
    assert!(pool.stats().created <= 4);
}

// ---- scripted peers -------------------------------------------------------

/// Captured from the Snap7 server (see src/s7/iso.rs and pdu.rs): the
/// connection confirm and the setup-communication answer (PDU 480).
const CC: &str = "0300001611d00001000100c0010ac1020100c2020101";
const SETUP_ANSWER: &str = "320300000000000800000000f0000001000101e0";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Reads one TPKT frame; returns its S7 payload (after the COTP header).
fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut rest = vec![0; len - 4];
    s.read_exact(&mut rest)?;
    let li = usize::from(rest[0]);
    Ok(rest[li + 1..].to_vec())
}

/// Sends an S7 PDU as one data TPDU, with the request's PDU reference.
fn send_pdu(s: &mut TcpStream, request: &[u8], mut pdu: Vec<u8>) {
    pdu[4..6].copy_from_slice(&request[4..6]);
    let mut frame = vec![3, 0, 0, 0, 2, 0xf0, 0x80];
    frame.extend_from_slice(&pdu);
    let len = frame.len() as u16;
    frame[2..4].copy_from_slice(&len.to_be_bytes());
    s.write_all(&frame).unwrap();
}

/// A loopback peer that answers the ISO connect and the S7 setup as the
/// Snap7 server does, then hands the socket to `then`.
fn scripted_peer(
    then: impl FnOnce(TcpStream) + Send + 'static,
) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = [0u8; 22];
        s.read_exact(&mut head).unwrap();
        assert_eq!(head[5], 0xe0, "a connection request");
        s.write_all(&hex(CC)).unwrap();
        let setup = read_frame(&mut s).unwrap();
        send_pdu(&mut s, &setup, hex(SETUP_ANSWER));
        then(s);
    });
    (addr, handle)
}

#[test]
fn a_silent_peer_cannot_block_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let holder = thread::spawn(move || {
        // Accept and say nothing.
        let conn = listener.accept().map(|(s, _)| s);
        thread::sleep(Duration::from_millis(1500));
        drop(conn);
    });
    let start = Instant::now();
    let err = Client::connect(
        &Config::new(&addr)
            .connect_timeout(Duration::from_millis(300))
            .timeout(Duration::from_secs(5)),
    )
    .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout(Phase::Handshake)), "{err}");
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    holder.join().unwrap();
}

#[test]
fn a_peer_that_stops_answering_times_out_and_breaks_the_client() {
    let (addr, peer) = scripted_peer(|mut s| {
        let _ = read_frame(&mut s);
        thread::sleep(Duration::from_millis(800));
    });
    let mut plc = Client::connect(&quick(&addr).timeout(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let err = plc.read_db(1, 0, 4).unwrap_err();
    assert!(matches!(err, Error::Timeout(Phase::Read)), "{err}");
    assert!(start.elapsed() < Duration::from_millis(700));
    assert!(plc.is_broken());
    // Broken: fails at once, without touching the socket.
    let start = Instant::now();
    assert!(plc.read_db(1, 0, 4).unwrap_err().is_transport());
    assert!(start.elapsed() < Duration::from_millis(50));
    peer.join().unwrap();
}

#[test]
fn a_malformed_answer_breaks_the_client() {
    let (addr, peer) = scripted_peer(|mut s| {
        let req = read_frame(&mut s).unwrap();
        // An ack-data claiming 200 bytes of data that are not there.
        send_pdu(
            &mut s,
            &req,
            vec![0x32, 0x03, 0, 0, 0, 0, 0, 2, 0, 200, 0, 0, 0x04, 0x01],
        );
        let _ = read_frame(&mut s);
    });
    let mut plc = Client::connect(&quick(&addr)).unwrap();
    let err = plc.read_db(1, 0, 4).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    assert!(plc.is_broken());
    drop(plc);
    peer.join().unwrap();
}

#[test]
fn an_oversized_frame_is_refused_before_it_arrives() {
    let (addr, peer) = scripted_peer(|mut s| {
        let _ = read_frame(&mut s);
        // A TPKT header announcing 60,000 bytes (more than the 480-byte PDU).
        s.write_all(&[3, 0, 0xea, 0x60, 2, 0xf0, 0x80]).unwrap();
        let _ = read_frame(&mut s);
    });
    let mut plc = Client::connect(&quick(&addr)).unwrap();
    let err = plc.read_db(1, 0, 4).unwrap_err();
    assert!(
        matches!(&err, Error::Protocol(edgepool::ProtocolError::Other(m)) if m.contains("exceeds")),
        "{err}"
    );
    assert!(plc.is_broken());
    drop(plc);
    peer.join().unwrap();
}

#[test]
fn multi_part_szl_answers_are_joined() {
    // The Snap7 server never splits an SZL answer, so this peer does: a
    // first part with the SZL header and "more follows", then the rest.
    let (addr, peer) = scripted_peer(|mut s| {
        let first = read_frame(&mut s).unwrap();
        assert_eq!(&first[10..], hex("0001120411440100ff090004001c0000"));
        let part1 = hex("320700000000000c000e000112081284010500010000ff09000a001c0000000200030a0b");
        send_pdu(&mut s, &first, part1);
        let next = read_frame(&mut s).unwrap();
        // The follow-up request carries the sequence number 0x05.
        assert_eq!(
            &next[10..],
            hex("000112081244010500000000 0a000000"
                .replace(' ', "")
                .as_str())
        );
        send_pdu(
            &mut s,
            &next,
            hex("320700000000000c0008000112081284010500000000ff0900040c0d0e0f"),
        );
    });
    let mut plc = Client::connect(&quick(&addr)).unwrap();
    let szl = plc.read_szl(0x001c, 0).unwrap();
    assert_eq!((szl.id, szl.record_len, szl.record_count), (0x001c, 2, 3));
    assert_eq!(szl.data, [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
    assert_eq!(szl.records().count(), 3);
    peer.join().unwrap();
}

/// An SZL answer (one part, the last) with the request's PDU reference
/// filled in by `send_pdu`.
fn szl_answer(id: u16, record_len: u16, records: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(&[0, 0]);
    payload.extend_from_slice(&record_len.to_be_bytes());
    payload.extend_from_slice(&(records.len() as u16).to_be_bytes());
    for r in records {
        payload.extend_from_slice(r);
    }
    let mut data = vec![0xff, 0x09];
    data.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    data.extend_from_slice(&payload);
    let mut pdu = vec![0x32, 0x07, 0, 0, 0, 0, 0, 12];
    pdu.extend_from_slice(&(data.len() as u16).to_be_bytes());
    pdu.extend_from_slice(&hex("000112081284010000000000"));
    pdu.extend_from_slice(&data);
    pdu
}

/// An identification record of SZL 0x0011: index, MLFB, then `tail`.
fn ident(index: u16, mlfb: &str, tail: &[u8]) -> Vec<u8> {
    let mut r = index.to_be_bytes().to_vec();
    r.extend_from_slice(format!("{mlfb:<20}").as_bytes());
    r.extend_from_slice(tail);
    r
}

/// The read answer for DB1.DBB0, 4 bytes: 1 2 3 4.
const READ_ANSWER: &str = "3203000000000002000800000401ff04002001020304";

#[test]
fn short_identification_records_and_unusable_answers_keep_the_connection() {
    let (addr, peer) = scripted_peer(|mut s| {
        // python-snap7 3.x's server: 26-byte records (real CPUs: 28).
        let req = read_frame(&mut s).unwrap();
        let short = [
            ident(1, "6ES7 315-2EH14-0AB0", &[0, 0, 0, 0]),
            ident(7, "", &[0, 0, 0, 0]),
        ];
        send_pdu(&mut s, &req, szl_answer(0x0011, 26, &short));
        // Records too short to hold an order code: unusable, but whole.
        let req = read_frame(&mut s).unwrap();
        send_pdu(&mut s, &req, szl_answer(0x0011, 10, &[vec![0; 10]]));
        // A read answer with no item in it: whole, unusable.
        let req = read_frame(&mut s).unwrap();
        send_pdu(&mut s, &req, hex("3203000000000002000000000401"));
        // Still in step: a normal read works on the same connection.
        let req = read_frame(&mut s).unwrap();
        send_pdu(&mut s, &req, hex(READ_ANSWER));
        let _ = read_frame(&mut s);
    });
    let mut plc = Client::connect(&quick(&addr)).unwrap();
    let oc = plc.order_code().unwrap();
    assert_eq!(oc.code, "6ES7 315-2EH14-0AB0");
    assert_eq!(
        oc.firmware, None,
        "a 26-byte record holds no firmware version"
    );
    let err = plc.order_code().unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedAnswer(m) if m.contains("identification")),
        "{err}"
    );
    assert!(!err.is_transport());
    let err = plc.read_db(1, 0, 4).unwrap_err();
    assert!(matches!(&err, Error::UnexpectedAnswer(_)), "{err}");
    assert!(!plc.is_broken());
    assert_eq!(plc.read_db(1, 0, 4).unwrap(), [1, 2, 3, 4]);
    drop(plc);
    peer.join().unwrap();
}

#[test]
fn an_answer_to_another_request_is_out_of_step_and_breaks_the_client() {
    let (addr, peer) = scripted_peer(|mut s| {
        let req = read_frame(&mut s).unwrap();
        let mut other = req.clone();
        other[4] ^= 0x55; // another PDU reference
        send_pdu(&mut s, &other, hex(READ_ANSWER));
        let _ = read_frame(&mut s);
    });
    let mut plc = Client::connect(&quick(&addr)).unwrap();
    let err = plc.read_db(1, 0, 4).unwrap_err();
    assert!(
        matches!(&err, Error::Protocol(edgepool::ProtocolError::Other(m)) if m.contains("while waiting")),
        "{err}"
    );
    assert!(err.is_transport());
    assert!(plc.is_broken());
    drop(plc);
    peer.join().unwrap();
}
