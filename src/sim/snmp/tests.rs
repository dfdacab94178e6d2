use super::*;
use crate::snmp::v3::{self, MessageV3, UsmParams};
use crate::snmp::{Body, Message, Pdu, PduKind, PrivProtocol, Usm, Version};

/// Requests of every kind the agent answers (v1, v2c GETBULK and SET, v3
/// noAuthNoPriv, the discovery probe, authPriv), corrupted at random
/// from a fixed seed, through [`fuzz_datagram`]: never a panic, every
/// datagram handled quickly, every reply a whole SNMP message.
#[test]
fn random_datagrams_never_panic() {
    let builder = SnmpSimBuilder::default();
    let agent = builder.clone().into_agent(builder.users().unwrap());
    let community = |version, community: &[u8], pdu: Pdu| {
        let mut out = Vec::new();
        Message {
            version,
            community: community.to_vec(),
            body: Body::Pdu(pdu),
        }
        .encode(&mut out);
        out
    };
    let mut bulk = Pdu::request(PduKind::GetBulk, 2, &[oid::SYS_DESCR, oid::SYSTEM]);
    (bulk.error_status, bulk.error_index) = (1, 10);
    let mut set = Pdu::request(PduKind::Set, 3, &[]);
    set.varbinds = vec![VarBind::new(
        oid::SYS_NAME,
        Value::OctetString(b"x".to_vec()),
    )];
    let get = Pdu::request(PduKind::Get, 4, &[oid::SYS_UPTIME, oid::SYS_NAME]);
    let v3 = |user: &[u8], pdu: &Pdu| {
        let params = UsmParams {
            engine_id: DEFAULT_ENGINE_ID.to_vec(),
            engine_boots: 1,
            user_name: user.to_vec(),
            ..UsmParams::default()
        };
        let mut out = Vec::new();
        let flags = MessageV3::REPORTABLE;
        v3::encode_message(&mut out, 5, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
            v3::encode_scoped(o, DEFAULT_ENGINE_ID, &[], pdu)
        });
        out
    };
    let mut auth_priv = Vec::new();
    let user = &agent.users[&b"simuser".to_vec()];
    let now = agent.clock();
    let level = SecurityLevel::AuthPriv;
    agent.encode_v3(
        &mut auth_priv,
        6,
        level,
        user,
        DEFAULT_ENGINE_ID,
        &get,
        &now,
    );
    let seeds = [
        community(Version::V1, b"public", get.clone()),
        community(Version::V2c, b"public", bulk.clone()),
        community(Version::V2c, b"private", set.clone()),
        v3(b"simnoauth", &bulk),
        v3(b"", &Pdu::request(PduKind::Get, 7, &[])),
        auth_priv,
    ];
    let answered = |reply: &[u8]| {
        matches!(Message::decode(reply), Ok(Some(_)))
            || matches!(MessageV3::decode(reply), Ok(Some(_)))
    };
    for seed in &seeds {
        let reply = fuzz_datagram(seed).unwrap();
        assert!(answered(&reply), "{seed:02x?}");
    }

    let mut state = 0xD1B5_4A32_D192_ED03_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n.max(1) as u64).unwrap()
    };
    let (mut slowest, mut replies) = (Duration::ZERO, 0);
    for _ in 0..20_000 {
        let mut input = seeds[next(seeds.len())].clone();
        for _ in 0..1 + next(2) * next(4) {
            let at = next(input.len() + 1);
            let byte = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff][next(8)];
            match next(7) {
                _ if at == input.len() => input.push(byte),
                0 | 1 => input[at] = byte,
                2 => input[at] = u8::try_from(next(256)).unwrap(),
                3 => input[at] ^= 1 << next(8),
                4 => input.insert(at, byte),
                5 => drop(input.remove(at)),
                _ => input.truncate(at),
            }
        }
        let t = Instant::now();
        let reply = fuzz_datagram(&input);
        slowest = slowest.max(t.elapsed());
        if let Some(reply) = reply {
            assert!(answered(&reply), "{input:02x?} -> {reply:02x?}");
            replies += 1;
        }
    }
    assert!(
        slowest < Duration::from_secs(2),
        "{slowest:?} for one datagram"
    );
    assert!(replies > 1000, "only {replies} datagrams answered");
}

/// Every truncation and many corruptions of a v2c request, the v3
/// discovery probe and an authPriv request: dropped or answered, never
/// a panic.
#[test]
fn hostile_datagrams_never_panic() {
    let sim = SnmpSim::builder()
        .clear_access()
        .community("public", false)
        .user(
            Usm::new("u")
                .auth(AuthProtocol::Sha1, "auth-password")
                .privacy(PrivProtocol::Aes128, "priv-password"),
        )
        .start()
        .unwrap();
    let agent = &sim.agent;
    let get = Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME]);
    let mut v2c = Vec::new();
    Message {
        version: Version::V2c,
        community: b"public".to_vec(),
        body: Body::Pdu(get.clone()),
    }
    .encode(&mut v2c);
    let mut probe = Vec::new();
    v3::encode_message(
        &mut probe,
        1,
        MAX_MSG_SIZE,
        MessageV3::REPORTABLE,
        v3::USM,
        &UsmParams::default(),
        |o| v3::encode_scoped(o, &[], &[], &Pdu::request(PduKind::Get, 1, &[])),
    );
    // The agent's own encoding is what a client sends too.
    let mut auth_priv = Vec::new();
    let user = &agent.users[&b"u".to_vec()];
    let now = agent.clock();
    agent.encode_v3(
        &mut auth_priv,
        1,
        SecurityLevel::AuthPriv,
        user,
        &agent.engine_id,
        &get,
        &now,
    );
    for bytes in [v2c, probe, auth_priv] {
        assert!(agent.handle(&bytes).is_some());
        for cut in 0..bytes.len() {
            let _ = agent.handle(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for x in [0x00u8, 0x7f, 0x80, 0x84, 0xff] {
                let mut b = bytes.clone();
                b[i] = x;
                let _ = agent.handle(&b);
            }
        }
    }
    assert!(sim.dropped() > 100);
}
