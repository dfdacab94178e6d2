use super::session::{civil_from_days, s7_time, Conn, Outcome, Session};
use super::*;
use crate::s7::iso::{self, Tpdu};
use crate::s7::pdu;
use crate::s7::pdu::Item;
use crate::s7::ReturnCode;
use std::time::{Instant, UNIX_EPOCH};

fn shared() -> Shared {
    S7SimBuilder::default()
        .db(1, 16)
        .db(3, 600)
        .pdu_size(240)
        .into_shared()
        .unwrap()
}

/// A connected session after setup (PDU `pdu`).
fn session(shared: &Shared, pdu: u16) -> Session<'_> {
    let mut s = Session::new(shared);
    let mut out = Vec::new();
    assert!(matches!(
        s.connect(1, Some(0x0100), Some(0x0101), &mut out),
        Outcome::Reply
    ));
    out.clear();
    pdu::encode_setup(0, pdu, &mut out);
    let answer = exchange(&mut s, &out);
    assert_eq!(
        pdu::decode_setup(&pdu::parse(&answer).unwrap()).unwrap(),
        240.min(pdu).max(64)
    );
    s
}

/// Sends one S7 message; returns the S7 answer (frame header checked
/// and stripped).
fn exchange(s: &mut Session<'_>, request: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(matches!(s.message(request, &mut out), Outcome::Reply));
    let (tpdu, used) = iso::decode(&out, MAX_FRAME).unwrap().unwrap();
    assert_eq!(used, out.len());
    match tpdu {
        Tpdu::Data { eot: true, payload } => payload.to_vec(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    // 2024-03-05 14:07:09.123 UTC, a Tuesday (3).
    let t = UNIX_EPOCH + Duration::from_millis(1_709_647_629_123);
    assert_eq!(s7_time(t), [0x24, 0x03, 0x05, 0x14, 0x07, 0x09, 0x12, 0x33]);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn answers_match_snap7_captures() {
    // The golden vectors of src/s7/pdu.rs: python-snap7's client
    // against the C++ Snap7 server (S7 payloads only).
    let shared = S7SimBuilder::default().into_shared().unwrap();
    let mut s = Session::new(&shared);
    s.connect(1, Some(0x0100), Some(0x0101), &mut Vec::new());
    let setup = exchange(&mut s, &hex("32010000000000080000f0000001000101e0"));
    assert_eq!(setup, hex("320300000000000800000000f0000001000101e0"));
    let db1 = hex("1f262d343b424950575e656c737a8188");
    lock(&shared.memory).dbs.insert(1, db1.clone());
    let read = exchange(
        &mut s,
        &hex("320100000100000e00000401120a10020010000184000000"),
    );
    let mut want = hex("3203000001000002001400000401ff040080");
    want.extend_from_slice(&db1);
    assert_eq!(read, want);
    lock(&shared.memory).dbs.insert(3, vec![0; 16]);
    let write = exchange(
        &mut s,
        &hex("320100000200000e00070501120a1002000300038400002000040018010203"),
    );
    assert_eq!(write, hex("3203000002000002000100000501ff"));
    assert_eq!(lock(&shared.memory).dbs[&3][4..7], [1, 2, 3]);
}

#[test]
fn reads_writes_and_item_codes() {
    let shared = shared();
    let mut s = session(&shared, 480);
    let mut req = Vec::new();
    pdu::encode_write(
        1,
        &[
            (Item::db(1, 2, 3), &[7, 8, 9][..]),
            (Item::bit(Area::Db, 1, 0, 5), &[1][..]),
            (Item::db(1, 15, 2), &[1, 2][..]),   // past the end
            (Item::db(9, 0, 1), &[1][..]),       // no DB9
            (Item::db(1, 0, 2), &[1, 2, 3][..]), // wrong length
        ],
        &mut req,
    );
    let a = exchange(&mut s, &req);
    use ReturnCode::*;
    assert_eq!(
        pdu::decode_write(&pdu::parse(&a).unwrap(), 5).unwrap(),
        [
            Ok(()),
            Ok(()),
            Err(AddressOutOfRange),
            Err(ObjectDoesNotExist),
            Err(DataTypeInconsistent)
        ]
    );
    req.clear();
    let items = [
        Item::db(1, 0, 5),
        Item::bit(Area::Db, 1, 0, 5),
        Item::db(1, 16, 1),
        Item::bytes(Area::Timers, 0, 0, 1),
        Item::bytes(Area::Merkers, 0, 255, 1),
    ];
    pdu::encode_read(2, &items, &mut req);
    let a = exchange(&mut s, &req);
    let r = pdu::decode_read(&pdu::parse(&a).unwrap(), &items).unwrap();
    assert_eq!(
        r,
        [
            Ok(&[0b0010_0000, 0, 7, 8, 9][..]),
            Ok(&[1][..]),
            Err(AddressOutOfRange),
            Err(ObjectDoesNotExist),
            Ok(&[0][..]),
        ]
    );
}

#[test]
fn pdu_limits_and_unknown_functions() {
    let shared = shared();
    let mut s = session(&shared, 480); // granted 240
    let mut req = Vec::new();
    pdu::encode_read(3, &[Item::db(3, 0, 300)], &mut req);
    let a = exchange(&mut s, &req);
    let m = pdu::parse(&a).unwrap();
    assert_eq!((m.rosctr, m.pdu_ref, m.error), (2, 3, (0x85, 0x00)));
    // Exactly fits: 240 - 12 - 2 - 4 = 222 bytes.
    req.clear();
    pdu::encode_read(4, &[Item::db(3, 0, 222)], &mut req);
    let a = exchange(&mut s, &req);
    assert_eq!(a.len(), 240);
    // A write request over the PDU.
    req.clear();
    pdu::encode_write(5, &[(Item::db(3, 0, 250), &[0; 250][..])], &mut req);
    let m_err = pdu::parse(&exchange(&mut s, &req)).unwrap().error;
    assert_eq!(m_err, (0x85, 0x00));
    // Unknown function 0x28 (PI service).
    let pi = [0x32, 0x01, 0, 0, 0, 6, 0, 1, 0, 0, 0x28];
    let m_err = pdu::parse(&exchange(&mut s, &pi)).unwrap().error;
    assert_eq!(m_err, (0x81, 0x04));
}

#[test]
fn jobs_before_setup_are_refused() {
    let shared = shared();
    let mut s = Session::new(&shared);
    let mut out = Vec::new();
    let mut req = Vec::new();
    pdu::encode_read(1, &[Item::db(1, 0, 1)], &mut req);
    // Not even connected: close.
    assert!(matches!(s.message(&req, &mut out), Outcome::Close(_)));
    s.connect(1, None, None, &mut out);
    let m_err = pdu::parse(&exchange(&mut s, &req)).unwrap().error;
    assert_eq!(m_err, (0x81, 0x04));
}

#[test]
fn szl_lists_and_parts() {
    let shared = shared();
    let mut s = session(&shared, 64);
    let mut req = Vec::new();
    pdu::encode_szl(1, 0x001c, 0, &mut req);
    let a = exchange(&mut s, &req);
    let part = pdu::decode_szl(&pdu::parse(&a).unwrap(), true, 0x001c, 0).unwrap();
    assert!(!part.last);
    assert_eq!(part.header.unwrap().record_count, 6);
    let mut data = part.data.to_vec();
    let mut seq = part.seq;
    assert_ne!(seq, 0);
    for r in 2.. {
        req.clear();
        pdu::encode_szl_next(r, seq, &mut req);
        let a = exchange(&mut s, &req);
        assert!(a.len() <= 64);
        let part = pdu::decode_szl(&pdu::parse(&a).unwrap(), false, 0x001c, 0).unwrap();
        data.extend_from_slice(part.data);
        seq = part.seq;
        if part.last {
            break;
        }
    }
    assert_eq!(data.len(), 6 * 34);
    assert_eq!(&data[36..51], b"CPU 315-2 PN/DP");
    // A stray follow-up.
    req.clear();
    pdu::encode_szl_next(9, seq, &mut req);
    let a = exchange(&mut s, &req);
    assert!(pdu::decode_szl(&pdu::parse(&a).unwrap(), false, 0x001c, 0).is_err());
    // Unknown ID and index.
    for (id, index, code) in [
        (0x0999, 0, 0xd401),
        (0x0111, 9, 0xd402),
        (0x0024, 0, 0xd401),
    ] {
        req.clear();
        pdu::encode_szl(10, id, index, &mut req);
        let a = exchange(&mut s, &req);
        match pdu::decode_szl(&pdu::parse(&a).unwrap(), true, id, index) {
            Err(Error::S7(crate::s7::S7Error::Szl {
                error, code: rc, ..
            })) => {
                assert_eq!((error, rc), (code, ReturnCode::ObjectDoesNotExist))
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A data TPDU carrying `payload`, the last of its message or not.
fn dt(payload: &[u8], eot: bool) -> Vec<u8> {
    let len = u16::try_from(7 + payload.len()).unwrap();
    let mut f = vec![3, 0];
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[2, 0xf0, if eot { 0x80 } else { 0 }]);
    f.extend_from_slice(payload);
    f
}

/// Feeds `input` to a fresh connection in pieces of the given sizes
/// (cycled), as reads would deliver it; returns the answers.
fn feed_in_pieces(shared: &Shared, input: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut conn = Conn::new(shared);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut rest = input;
    for &k in pieces.iter().cycle() {
        let (piece, tail) = rest.split_at(k.clamp(1, rest.len().max(1)).min(rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        let mut send = |frame: &[u8]| {
            out.extend_from_slice(frame);
            Ok(())
        };
        match conn.feed(&buf, &Faults::default(), &mut send) {
            Ok(Some(used)) => drop(buf.drain(..used)),
            Ok(None) | Err(_) => return out,
        }
        if rest.is_empty() {
            return out;
        }
    }
    unreachable!()
}

/// A whole client session (connect, setup, a read split over two data
/// TPDUs, a write, a multi-part SZL read and its follow-up), corrupted
/// at random from a fixed seed, through the code a connection runs:
/// never a panic, every input answered quickly with whole frames, and
/// reads of any size give the same answers.
#[test]
fn random_sessions_never_panic() {
    let mut session = Vec::new();
    iso::encode_connect_request(1, 0x0100, 0x0102, &mut session);
    let mut req = Vec::new();
    pdu::encode_setup(1, 64, &mut req);
    iso::encode_data(&req, &mut session);
    req.clear();
    pdu::encode_read(
        2,
        &[Item::db(1, 0, 4), Item::bit(Area::Merkers, 0, 3, 1)],
        &mut req,
    );
    session.extend(dt(&req[..9], false));
    session.extend(dt(&req[9..], true));
    req.clear();
    pdu::encode_write(3, &[(Item::db(1, 1, 3), &[1, 2, 3][..])], &mut req);
    iso::encode_data(&req, &mut session);
    req.clear();
    pdu::encode_szl(4, 0x001c, 0, &mut req);
    iso::encode_data(&req, &mut session);
    req.clear();
    pdu::encode_szl_next(5, 1, &mut req);
    iso::encode_data(&req, &mut session);
    let frames = |mut out: &[u8]| {
        let mut n = 0;
        while !out.is_empty() {
            let (_, used) = iso::decode(out, MAX_FRAME).unwrap().unwrap();
            out = &out[used..];
            n += 1;
        }
        n
    };
    assert_eq!(frames(&fuzz_session(&session)), 6);

    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap()
    };
    let mut slowest = Duration::ZERO;
    for _ in 0..20_000 {
        let mut input = session.clone();
        for _ in 0..1 + next(4) {
            let at = next(input.len() + 1);
            let byte = u8::try_from(next(256)).unwrap();
            match next(6) {
                0 if at < input.len() => input[at] = byte,
                1 if at < input.len() => input[at] ^= 1 << next(8),
                2 => input.insert(at, byte),
                3 if at < input.len() => drop(input.remove(at)),
                4 => {
                    // Repeat a stretch (a frame sent twice, a splice).
                    let len = next(40);
                    let from = next(input.len().max(1));
                    let chunk = input
                        .get(from..(from + len).min(input.len()))
                        .unwrap_or(&[])
                        .to_vec();
                    input.splice(at..at, chunk);
                }
                _ => input.truncate(at),
            }
        }
        let t = Instant::now();
        let whole = fuzz_session(&input);
        slowest = slowest.max(t.elapsed());
        frames(&whole);
        // SZL 0x0424 carries the time: two runs may differ.
        if !input.windows(2).any(|w| w == [0x04, 0x24]) {
            let pieces = [1 + next(9), 1 + next(600)];
            let shared = S7SimBuilder::default().into_shared().unwrap();
            let split = feed_in_pieces(&shared, &input, &pieces);
            assert_eq!(split, whole, "{input:02x?} in pieces {pieces:?}");
        }
    }
    assert!(
        slowest < Duration::from_secs(2),
        "{slowest:?} for one input"
    );
}

#[test]
fn hostile_messages_never_panic() {
    let shared = shared();
    let mut requests = Vec::new();
    let mut req = Vec::new();
    pdu::encode_read(
        1,
        &[Item::db(1, 0, 4), Item::bit(Area::Merkers, 0, 3, 1)],
        &mut req,
    );
    requests.push(req.clone());
    req.clear();
    pdu::encode_write(
        2,
        &[
            (Item::db(1, 1, 3), &[1, 2, 3][..]),
            (Item::db(3, 0, 2), &[4, 5][..]),
        ],
        &mut req,
    );
    requests.push(req.clone());
    req.clear();
    pdu::encode_szl(3, 0x0011, 0, &mut req);
    requests.push(req.clone());
    req.clear();
    pdu::encode_setup(4, 480, &mut req);
    requests.push(req.clone());
    let mut s = session(&shared, 240);
    let mut out = Vec::new();
    for request in &requests {
        // Every truncation, with the header lengths kept or fixed up,
        // and every single-byte corruption.
        for cut in 0..request.len() {
            let mut r = request[..cut].to_vec();
            out.clear();
            s.message(&r, &mut out);
            if r.len() >= 10 {
                let body = r.len() - 10;
                r[6..8].copy_from_slice(&u16::try_from(body).unwrap().to_be_bytes());
                r[8..10].copy_from_slice(&[0, 0]);
                s.message(&r, &mut out);
            }
        }
        for i in 0..request.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut r = request.clone();
                r[i] = v;
                s.message(&r, &mut out);
            }
        }
    }
}
