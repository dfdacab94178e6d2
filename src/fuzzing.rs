//! Entry points for the fuzz targets in `fuzz/` (not a public API: hidden
//! from the docs, may change at any time). Each one feeds bytes a peer could
//! send to one of the crate's internal readers and panics when a property
//! the reader promises does not hold.
//!
//! The SNMPv3 entry is socket-free. The Redis and tunnel readers are written
//! against a real socket (`net::Stream`), so their entries use a loopback TCP
//! pair (127.0.0.1 only).

#[cfg(any(feature = "redis", feature = "tunnel"))]
use std::net::{TcpListener, TcpStream};

/// A connected loopback pair: (the end the reader under test uses, the end
/// that plays the peer). One listener per thread, kept between inputs.
#[cfg(any(feature = "redis", feature = "tunnel"))]
fn loopback_pair(connect: impl FnOnce(&str) -> crate::Result<()>) -> Option<TcpStream> {
    thread_local! {
        static LISTENER: Option<TcpListener> = TcpListener::bind("127.0.0.1:0").ok();
    }
    LISTENER.with(|l| {
        let l = l.as_ref()?;
        let addr = l.local_addr().ok()?.to_string();
        connect(&addr).ok()?;
        l.accept().ok().map(|(s, _)| s)
    })
}

/// The Redis client reading a reply stream: `data` (repeated 8 times, so
/// that replies straddle the client's 16 KiB reads and its buffer moves and
/// grows) is what the server sends before closing. The replies the client
/// returns, one command at a time, must be exactly those `resp::decode`
/// finds in the same bytes, and it must end with an error (never hang, never
/// panic) where the decoder stops.
#[cfg(feature = "redis")]
pub fn redis_reply_stream(data: &[u8]) {
    use crate::redis::{resp, Client, Config, Limits, Value};
    use crate::{Error, ProtocolError};
    use std::io::Write;
    use std::time::Duration;

    let stream: Vec<u8> = data.repeat(8);
    let limits = Limits::default();
    let config = Config::new("127.0.0.1:1")
        .read_timeout(Duration::from_secs(2))
        .write_timeout(Duration::from_secs(2))
        .limits(limits);
    let mut client = None;
    let Some(mut server) = loopback_pair(|addr| {
        let mut c = config.clone();
        c.addr = addr.to_string();
        client = Some(Client::connect(&c)?);
        Ok(())
    }) else {
        return; // no loopback socket: nothing to fuzz
    };
    let Some(mut client) = client else { return };
    if server.write_all(&stream).is_err() {
        return;
    }
    let _ = server.shutdown(std::net::Shutdown::Write);

    let mut rest = &stream[..];
    loop {
        let expected = resp::decode(rest, &limits);
        let got = client.cmd(&["PING"]);
        match expected {
            Ok(Some((v, used))) => {
                rest = &rest[used..];
                match (v, got) {
                    (Value::Error(msg), Err(Error::Redis(m))) => assert_eq!(msg, m),
                    (v, Ok(g)) => assert_eq!(v, g),
                    (v, g) => panic!("the decoder found {v:?}, the client returned {g:?}"),
                }
            }
            Ok(None) | Err(_) => {
                assert!(
                    matches!(got, Err(ref e) if !matches!(e, Error::Redis(_))),
                    "the client went past where the decoder stops: {got:?}"
                );
                // Where the decoder finds malformed bytes, so does the client.
                if expected.is_err() {
                    assert!(
                        matches!(got, Err(Error::Protocol(ProtocolError::Resp(_)))),
                        "malformed bytes gave {got:?}"
                    );
                }
                assert!(client.is_broken());
                return;
            }
        }
    }
}

/// The tunnel client reading a connection ID: the server sends `data` (the
/// first byte says how many bytes go in a first write, the rest follows
/// after a short pause) and closes. Four bytes or more give exactly the ID
/// of the first four and leave the rest unread; fewer give an error before
/// the deadline.
#[cfg(feature = "tunnel")]
pub fn tunnel_read_id(data: &[u8]) {
    use crate::net::Stream;
    use crate::tunnel::{wire, ConnId};
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let mut reader = None;
    let Some(mut server) = loopback_pair(|addr| {
        reader = Some(TcpStream::connect(addr)?);
        Ok(())
    }) else {
        return;
    };
    let Some(reader) = reader else { return };
    let first = usize::from(split).min(data.len());
    let (a, b) = (data[..first].to_vec(), data[first..].to_vec());
    let writer = std::thread::spawn(move || {
        let _ = server.write_all(&a);
        if !b.is_empty() {
            std::thread::sleep(Duration::from_micros(200));
            let _ = server.write_all(&b);
        }
        let _ = server.shutdown(std::net::Shutdown::Write);
        server
    });
    let mut stream = Stream::Plain(reader);
    let deadline = Instant::now() + Duration::from_secs(2);
    let got = wire::read_id(&mut stream, deadline, crate::tunnel::IdFormat::Bytes);
    let _server = writer.join();
    assert!(Instant::now() < deadline + Duration::from_millis(500));
    if data.len() >= 4 {
        let id = got.expect("four bytes or more give an ID");
        assert_eq!(id, ConnId::from_bytes([data[0], data[1], data[2], data[3]]));
        let mut rest = Vec::new();
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.read_to_end(&mut rest);
        assert_eq!(rest, &data[4..], "read_id consumed only the ID");
    } else {
        assert!(got.is_err(), "fewer than four bytes are an error");
    }
}

/// The SNMPv3 USM processing of a whole incoming message (RFC 3414 §3.2:
/// the engine, the user, the HMAC, the time window, decryption, then the
/// ScopedPDU and reports), socket-free, for a session that has discovered
/// its agent's engine and sent a GET.
///
/// `data[0]` picks the user (noAuthNoPriv, SHA authNoPriv, SHA/AES authPriv)
/// and how the rest is fixed up; `data[1..]` is read as a v3 message which,
/// when it parses, gets the msgID the session waits for, the engine ID (if
/// asked), the request-id (if asked), its ScopedPDU encrypted with the real
/// key when it is flagged encrypted, and a real HMAC when flagged
/// authenticated, so that the fuzzer reaches every step behind the crypto.
/// Properties: never panics; a reply is the response to the request sent,
/// and authenticated (and encrypted) as the user's level demands.
#[cfg(feature = "snmp")]
pub fn snmp_v3_incoming(data: &[u8]) {
    use crate::snmp::session::{Incoming, Session, UsmCache};
    use crate::snmp::usm::{MasterKeys, SecurityLevel};
    use crate::snmp::v3::{MessageV3, ScopedData, ScopedPdu, UsmParams};
    use crate::snmp::{AuthProtocol, Oid, Pdu, PduKind, PrivProtocol, Usm, Value, VarBind};
    use std::sync::{Arc, OnceLock};

    const ENGINE: &[u8] = &[0x80, 0x00, 0x1f, 0x88, 0x80, 0xe9, 0xbd, 0x0c, 0x1d, 0x12];
    const FORGET_ID: i32 = 0x1233;
    const DISCOVERY_ID: i32 = 0x1234;
    const REQUEST_ID: i32 = 0x1235;

    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let users: &'static [Usm; 3] = {
        static USERS: OnceLock<[Usm; 3]> = OnceLock::new();
        USERS.get_or_init(|| {
            [
                Usm::new("noauthu"),
                Usm::new("shaauth").auth(AuthProtocol::Sha1, "shaauthpass"),
                Usm::new("shaaes")
                    .auth(AuthProtocol::Sha1, "shaauthpass")
                    .privacy(PrivProtocol::Aes128, "shaprivpass"),
            ]
        })
    };
    let usm = &users[usize::from(mode % 3)];
    // One cache per user, kept between inputs so that the passwords are
    // hashed once; every input starts from the same state all the same: the
    // engine is forgotten (an unknownEngineIDs report) and discovered again.
    let (cache, keys) = {
        type PerUser = (Arc<UsmCache>, Option<crate::snmp::usm::LocalKeys>);
        static STATE: OnceLock<Vec<PerUser>> = OnceLock::new();
        let state = STATE.get_or_init(|| {
            users
                .iter()
                .map(|u| {
                    let keys = MasterKeys::new(u).localize(u, ENGINE).ok();
                    (Arc::new(UsmCache::default()), keys)
                })
                .collect()
        });
        let (cache, keys) = &state[usize::from(mode % 3)];
        (cache.clone(), keys)
    };
    let Some(keys) = keys else { return };

    let report = |id: i32, varbinds: Vec<VarBind>| MessageV3 {
        msg_id: id,
        max_size: 65_507,
        flags: 0,
        security_model: crate::snmp::v3::USM,
        usm: UsmParams {
            engine_id: ENGINE.to_vec(),
            engine_boots: 3,
            engine_time: 1000,
            ..UsmParams::default()
        },
        data: ScopedData::Plain(ScopedPdu {
            context_engine_id: ENGINE.to_vec(),
            context_name: Vec::new(),
            pdu: Pdu {
                kind: PduKind::Report,
                request_id: id,
                error_status: 0,
                error_index: 0,
                varbinds,
            },
        }),
    };
    let is_probe = |out: &[u8]| matches!(MessageV3::decode(out), Ok(Some((m, _))) if m.usm.engine_id.is_empty());
    let mut session = Session::new(usm, cache);
    let mut out = Vec::new();
    session.begin();
    session.encode(&Pdu::request(PduKind::Get, FORGET_ID, &[]), &mut out);
    if !is_probe(&out) {
        let unknown_engine = VarBind::new(
            Oid::new(vec![1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0]),
            Value::Counter32(1),
        );
        out.clear();
        report(FORGET_ID, vec![unknown_engine]).encode(&mut out);
        assert!(matches!(session.decode(&out, FORGET_ID), Incoming::Again));
        out.clear();
        session.encode(&Pdu::request(PduKind::Get, DISCOVERY_ID, &[]), &mut out);
        assert!(is_probe(&out), "the engine was forgotten");
    }
    // Discovery: the probe was sent, the agent's report names its engine.
    let discovery_id = match MessageV3::decode(&out) {
        Ok(Some((m, _))) => m.msg_id,
        _ => unreachable!("the session encodes valid messages"),
    };
    out.clear();
    report(discovery_id, Vec::new()).encode(&mut out);
    assert!(matches!(
        session.decode(&out, discovery_id),
        Incoming::Again
    ));
    // The request.
    session.begin();
    out.clear();
    session.encode(&Pdu::request(PduKind::Get, REQUEST_ID, &[]), &mut out);

    // The fuzzer's bytes as they are, then fixed up.
    let _ = session.decode(msg, REQUEST_ID);
    let Ok(Some((mut m, _))) = MessageV3::decode(msg) else {
        return;
    };
    m.msg_id = REQUEST_ID;
    if mode & 0x10 != 0 {
        m.usm.engine_id = ENGINE.to_vec();
    }
    let fix_id = mode & 0x20 != 0;
    m.data = match m.data {
        ScopedData::Plain(mut s) => {
            if fix_id {
                s.pdu.request_id = REQUEST_ID;
            }
            ScopedData::Plain(s)
        }
        ScopedData::Encrypted(mut plain) => {
            if fix_id {
                if let Ok((mut s, _)) = ScopedPdu::decode_prefix(&plain) {
                    s.pdu.request_id = REQUEST_ID;
                    plain.clear();
                    s.encode(&mut plain);
                }
            }
            if let Some(cipher) = &keys.cipher {
                let salt = u64::from(mode);
                let params =
                    cipher.encrypt(m.usm.engine_boots, m.usm.engine_time, salt, &mut plain);
                m.usm.priv_params = params.to_vec();
            }
            ScopedData::Encrypted(plain)
        }
    };
    let mac = keys.mac.as_ref().filter(|_| m.flags & MessageV3::AUTH != 0);
    if mac.is_some() {
        m.usm.auth_params = vec![0; usm.auth.mac_len()];
    }
    out.clear();
    m.encode(&mut out);
    if let Some(mac) = mac {
        mac.sign_message(&mut out);
    }
    if let Incoming::Reply(pdu) = session.decode(&out, REQUEST_ID) {
        assert_eq!(pdu.request_id, REQUEST_ID, "a reply to another request");
        assert_eq!(pdu.kind, PduKind::Response);
        let (auth, privacy) = (
            m.flags & MessageV3::AUTH != 0,
            m.flags & MessageV3::PRIV != 0,
        );
        if usm.level >= SecurityLevel::AuthNoPriv {
            assert!(auth, "an unauthenticated reply for an auth user");
        }
        if usm.level == SecurityLevel::AuthPriv {
            assert!(privacy, "an unencrypted reply for a priv user");
        }
    }
}

/// The SNMP v1/v2c client's reply decoders on one datagram: the check
/// against the cached request and the fast cursor agree with the full
/// decoder wherever they give an answer (differential), and nothing panics.
/// `data[0]` picks version, request-id and OIDs; with its top bit set the
/// rest edits a well-formed reply ((position, byte) pairs, an odd last byte
/// truncates), otherwise it is the datagram.
#[cfg(feature = "snmp")]
pub fn snmp_reply(data: &[u8]) {
    crate::snmp::community::fuzz_reply_decoders(data);
}
