//! The agent at work: the receive loop, and answering each datagram
//! (communities, USM, the PDUs).

use super::{lock, Agent, Entry, Now, Object, Running, User};
use crate::snmp::ber::{self, tag, Reader};
use crate::snmp::usm::MacKey;
use crate::snmp::v3::usm_stats::{
    DECRYPTION_ERRORS, NOT_IN_TIME_WINDOWS, UNKNOWN_ENGINE_IDS, UNKNOWN_USER_NAMES,
    UNSUPPORTED_SEC_LEVELS, WRONG_DIGESTS,
};
use crate::snmp::v3::{
    self, MessageV3, ScopedData, ScopedPdu, UsmParams, MAX_INT, MAX_MSG_SIZE, TIME_WINDOW,
    UNKNOWN_CONTEXTS, USM_STATS,
};
use crate::snmp::{
    AuthProtocol, Body, ErrorStatus, Message, Oid, Pdu, PduKind, SecurityLevel, Value, VarBind,
    Version,
};
use crate::Result;
use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// How often the receive loop looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);

pub(super) fn spawn(socket: UdpSocket, agent: Arc<Agent>) -> Result<Running> {
    socket.set_read_timeout(Some(POLL))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("edgepool-sim-snmp".into())
        .spawn(move || serve(&socket, &agent, &flag))?;
    Ok(Running { stop, thread })
}

/// The receive loop: one datagram at a time until `stop`.
fn serve(socket: &UdpSocket, agent: &Agent, stop: &AtomicBool) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(_) if stop.load(Ordering::SeqCst) => break,
            Ok(x) => x,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) {
                    log::debug!("sim: SNMP receive: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        agent.requests.fetch_add(1, Ordering::Relaxed);
        let datagram = &buf[..n];
        // Belt and braces: a bug must not take the agent down.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| agent.handle(datagram)))
                .unwrap_or_else(|_| agent.drop_it("a datagram that made the agent panic"));
        if let Some(reply) = reply {
            if agent.faults.before_reply() {
                if let Err(e) = socket.send_to(&reply, from) {
                    log::debug!("sim: SNMP send to {from}: {e}");
                }
            }
        }
    }
}
/// What a request may do.
#[derive(Clone, Copy)]
struct Access {
    v1: bool,
    writable: bool,
}

impl Agent {
    pub(super) fn clock(&self) -> Now {
        let c = lock(&self.clock);
        let elapsed = c.started.elapsed();
        Now {
            boots: c.boots,
            time: u32::try_from(elapsed.as_secs())
                .unwrap_or(MAX_INT)
                .min(MAX_INT),
            elapsed,
        }
    }

    fn drop_it(&self, why: &str) -> Option<Vec<u8>> {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        log::debug!("sim: SNMP agent dropped {why}");
        None
    }

    /// The reply to one datagram, if any.
    pub(super) fn handle(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let version = Reader::new(datagram)
            .nested(tag::SEQUENCE)
            .and_then(|mut r| r.integer());
        match version {
            Ok(0 | 1) => self.handle_community(datagram),
            Ok(3) => self.handle_v3(datagram),
            Ok(_) => self.drop_it("a datagram of an unknown SNMP version"),
            Err(_) => self.drop_it("a datagram that is not SNMP"),
        }
    }

    fn handle_community(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let Ok(Some((m, _))) = Message::decode(datagram) else {
            return self.drop_it("a malformed v1/v2c datagram");
        };
        let Some(&(_, writable)) = self.communities.iter().find(|(c, _)| *c == m.community) else {
            return self.drop_it("a request with an unknown community");
        };
        let Body::Pdu(req) = &m.body else {
            return self.drop_it("a v1 trap");
        };
        let v1 = m.version == Version::V1;
        if !is_request(req.kind) || (v1 && req.kind == PduKind::GetBulk) {
            return self.drop_it("a PDU that is not a request");
        }
        let max = self.max_reply;
        let resp = self.process(req, Access { v1, writable }, max);
        let mut msg = Message {
            version: m.version,
            community: m.community,
            body: Body::Pdu(Pdu::request(PduKind::Response, 0, &[])),
        };
        Some(bounded(
            resp,
            max,
            req.kind == PduKind::GetBulk,
            |pdu, out| {
                msg.body = Body::Pdu(pdu.clone());
                msg.encode(out);
            },
        ))
    }

    /// RFC 3414 §3.2 (the authoritative side), then the request.
    fn handle_v3(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let (m, used) = match MessageV3::decode(datagram) {
            Ok(Some(x)) => x,
            Ok(None) => return self.drop_it("a truncated SNMPv3 datagram"),
            Err(_) => return self.drop_it("a malformed SNMPv3 datagram"),
        };
        let reportable = m.flags & MessageV3::REPORTABLE != 0;
        let request_id = match &m.data {
            ScopedData::Plain(s) => s.pdu.request_id,
            ScopedData::Encrypted(_) => 0,
        };
        let now = self.clock();
        let report = |counter: u32, user: Option<&User>| {
            if !reportable {
                return self.drop_it("an SNMPv3 request that fails USM checks (not reportable)");
            }
            Some(self.usm_report(m.msg_id, &m.usm.user_name, request_id, counter, user, &now))
        };
        if m.usm.engine_id != self.engine_id {
            return report(UNKNOWN_ENGINE_IDS, None);
        }
        let Some(user) = self.users.get(&m.usm.user_name) else {
            return report(UNKNOWN_USER_NAMES, None);
        };
        let level = match (
            m.flags & MessageV3::AUTH != 0,
            m.flags & MessageV3::PRIV != 0,
        ) {
            (false, _) => SecurityLevel::NoAuthNoPriv,
            (true, false) => SecurityLevel::AuthNoPriv,
            (true, true) => SecurityLevel::AuthPriv,
        };
        if level > user.level
            || (user.level >= SecurityLevel::AuthNoPriv && level == SecurityLevel::NoAuthNoPriv)
        {
            return report(UNSUPPORTED_SEC_LEVELS, None);
        }
        if let Some(mac) = user
            .keys
            .mac
            .as_ref()
            .filter(|_| level > SecurityLevel::NoAuthNoPriv)
        {
            if !authentic(mac, user.auth, &m.usm, &datagram[..used]) {
                return report(WRONG_DIGESTS, None);
            }
            if now.boots == MAX_INT
                || m.usm.engine_boots != now.boots
                || m.usm.engine_time.abs_diff(now.time) > TIME_WINDOW
            {
                return report(NOT_IN_TIME_WINDOWS, Some(user));
            }
        }
        let scoped = match m.data {
            ScopedData::Plain(s) => s,
            ScopedData::Encrypted(mut bytes) => {
                let Some(cipher) = user.keys.cipher.as_ref() else {
                    return report(DECRYPTION_ERRORS, None);
                };
                let (b, t) = (m.usm.engine_boots, m.usm.engine_time);
                if !cipher.decrypt(b, t, &m.usm.priv_params, &mut bytes) {
                    return report(DECRYPTION_ERRORS, None);
                }
                match ScopedPdu::decode_prefix(&bytes) {
                    Ok((s, _)) => s,
                    Err(_) => return report(DECRYPTION_ERRORS, None),
                }
            }
        };
        let req = &scoped.pdu;
        if !is_request(req.kind) {
            return self.drop_it("an SNMPv3 PDU that is not a request");
        }
        let context_engine_id = if scoped.context_engine_id.is_empty() {
            &self.engine_id
        } else {
            &scoped.context_engine_id
        };
        let reply = |pdu: &Pdu, out: &mut Vec<u8>| {
            self.encode_v3(out, m.msg_id, level, user, context_engine_id, pdu, &now)
        };
        if !scoped.context_name.is_empty() {
            let pdu = Pdu {
                kind: PduKind::Report,
                request_id: req.request_id,
                error_status: 0,
                error_index: 0,
                varbinds: vec![VarBind::new(
                    // snmpUnknownContexts.0
                    Oid::new([&UNKNOWN_CONTEXTS[..], &[0]].concat()),
                    Value::Counter32(1),
                )],
            };
            let mut out = Vec::new();
            reply(&pdu, &mut out);
            return Some(out);
        }
        let max = self.max_reply.min(usize::try_from(m.max_size).unwrap_or(0));
        let access = Access {
            v1: false,
            writable: true,
        };
        let resp = self.process(req, access, max);
        Some(bounded(resp, max, req.kind == PduKind::GetBulk, reply))
    }

    /// A usmStats report: unauthenticated, except notInTimeWindows
    /// (authenticated with `user`'s key, so the client may trust the clock).
    fn usm_report(
        &self,
        msg_id: i32,
        user_name: &[u8],
        request_id: i32,
        counter: u32,
        user: Option<&User>,
        now: &Now,
    ) -> Vec<u8> {
        let n = self.usm_stats[counter as usize - 1].fetch_add(1, Ordering::Relaxed) + 1;
        let mut arcs = USM_STATS.to_vec();
        arcs.extend([counter, 0]);
        let pdu = Pdu {
            kind: PduKind::Report,
            request_id,
            error_status: 0,
            error_index: 0,
            varbinds: vec![VarBind::new(Oid::new(arcs), Value::Counter32(n))],
        };
        let mut out = Vec::with_capacity(128);
        match user {
            Some(u) => self.encode_v3(
                &mut out,
                msg_id,
                SecurityLevel::AuthNoPriv,
                u,
                &self.engine_id,
                &pdu,
                now,
            ),
            None => {
                let params = UsmParams {
                    engine_id: self.engine_id.clone(),
                    engine_boots: now.boots,
                    engine_time: now.time,
                    user_name: user_name.to_vec(),
                    ..UsmParams::default()
                };
                v3::encode_message(&mut out, msg_id, MAX_MSG_SIZE, 0, v3::USM, &params, |o| {
                    v3::encode_scoped(o, &self.engine_id, &[], &pdu)
                });
            }
        }
        out
    }

    /// A response (or report) to `user` at `level`: encrypted with a fresh
    /// salt, then authenticated.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn encode_v3(
        &self,
        out: &mut Vec<u8>,
        msg_id: i32,
        level: SecurityLevel,
        user: &User,
        context_engine_id: &[u8],
        pdu: &Pdu,
        now: &Now,
    ) {
        let mut params = UsmParams {
            engine_id: self.engine_id.clone(),
            engine_boots: now.boots,
            engine_time: now.time,
            user_name: user.name.clone(),
            ..UsmParams::default()
        };
        let mut flags = 0;
        let mac = user
            .keys
            .mac
            .as_ref()
            .filter(|_| level >= SecurityLevel::AuthNoPriv);
        if mac.is_some() {
            flags |= MessageV3::AUTH;
            params.auth_params = vec![0; user.auth.mac_len()];
        }
        let cipher = user
            .keys
            .cipher
            .as_ref()
            .filter(|_| level == SecurityLevel::AuthPriv);
        match cipher {
            Some(cipher) => {
                flags |= MessageV3::PRIV;
                let mut plain = Vec::with_capacity(256);
                v3::encode_scoped(&mut plain, context_engine_id, &[], pdu);
                let salt = self.salt.fetch_add(1, Ordering::Relaxed);
                params.priv_params = cipher
                    .encrypt(now.boots, now.time, salt, &mut plain)
                    .to_vec();
                v3::encode_message(out, msg_id, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
                    ber::write_bytes(o, tag::OCTET_STRING, &plain)
                });
            }
            None => v3::encode_message(out, msg_id, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
                v3::encode_scoped(o, context_engine_id, &[], pdu)
            }),
        }
        if let Some(mac) = mac {
            mac.sign_message(out);
        }
    }

    /// The response PDU to a request (sizes are bounded by the caller; GETBULK
    /// stops producing once the reply could not fit in `max` bytes anyway).
    fn process(&self, req: &Pdu, access: Access, max: usize) -> Pdu {
        let elapsed = self.clock().elapsed;
        let mut table = lock(&self.table);
        let mut resp = Pdu {
            kind: PduKind::Response,
            request_id: req.request_id,
            error_status: 0,
            error_index: 0,
            varbinds: Vec::with_capacity(req.varbinds.len()),
        };
        let v1 = access.v1;
        let fail = |status: ErrorStatus, i: usize| Pdu {
            kind: PduKind::Response,
            request_id: req.request_id,
            error_status: if v1 { v1_status(status) } else { status }.code(),
            error_index: i32::try_from(i + 1).unwrap_or(i32::MAX),
            varbinds: req.varbinds.clone(),
        };
        match req.kind {
            PduKind::Get => {
                for (i, vb) in req.varbinds.iter().enumerate() {
                    let value = match table.entries.get(&vb.oid) {
                        Some(e) if !v1 || e.in_v1() => e.object.value(elapsed),
                        _ if v1 => return fail(ErrorStatus::NoSuchName, i),
                        _ => table.missing(&vb.oid),
                    };
                    resp.varbinds.push(VarBind::new(vb.oid.clone(), value));
                }
            }
            PduKind::GetNext => {
                for (i, vb) in req.varbinds.iter().enumerate() {
                    match table.next(&vb.oid, v1) {
                        Some((o, e)) => resp
                            .varbinds
                            .push(VarBind::new(o.clone(), e.object.value(elapsed))),
                        None if v1 => return fail(ErrorStatus::NoSuchName, i),
                        None => resp
                            .varbinds
                            .push(VarBind::new(vb.oid.clone(), Value::EndOfMibView)),
                    }
                }
            }
            PduKind::GetBulk => {
                // A varbind takes at least 7 bytes: stop where nothing more fits.
                let limit = max / 7 + 1;
                let n = req.varbinds.len();
                let non_rep = usize::try_from(req.error_status).unwrap_or(0).min(n);
                let reps = usize::try_from(req.error_index).unwrap_or(0).min(limit);
                let push_next = |cur: &Oid, out: &mut Vec<VarBind>| match table.next(cur, false) {
                    Some((o, e)) => {
                        out.push(VarBind::new(o.clone(), e.object.value(elapsed)));
                        true
                    }
                    None => {
                        out.push(VarBind::new(cur.clone(), Value::EndOfMibView));
                        false
                    }
                };
                for vb in req.varbinds.iter().take(non_rep.min(limit)) {
                    push_next(&vb.oid, &mut resp.varbinds);
                }
                let mut cursors: Vec<Oid> = req.varbinds[non_rep..]
                    .iter()
                    .map(|v| v.oid.clone())
                    .collect();
                'rows: for _ in 0..reps {
                    if cursors.is_empty() {
                        break;
                    }
                    let mut any = false;
                    for cur in cursors.iter_mut() {
                        if resp.varbinds.len() >= limit {
                            break 'rows;
                        }
                        if push_next(cur, &mut resp.varbinds) {
                            any = true;
                        }
                        if let Some(last) = resp.varbinds.last() {
                            cur.clone_from(&last.oid);
                        }
                    }
                    if !any {
                        break;
                    }
                }
            }
            PduKind::Set => {
                if !access.writable {
                    return fail(ErrorStatus::NoAccess, 0);
                }
                for (i, vb) in req.varbinds.iter().enumerate() {
                    let status = match table.entries.get(&vb.oid) {
                        None => ErrorStatus::NoCreation,
                        Some(e) if !e.writable => ErrorStatus::NotWritable,
                        Some(Entry {
                            object: Object::Fixed(cur),
                            ..
                        }) if std::mem::discriminant(cur) == std::mem::discriminant(&vb.value) => {
                            continue
                        }
                        Some(_) => ErrorStatus::WrongType,
                    };
                    return fail(status, i);
                }
                for vb in &req.varbinds {
                    table.insert(vb.oid.clone(), Object::Fixed(vb.value.clone()), None);
                }
                resp.varbinds = req.varbinds.clone();
            }
            _ => {}
        }
        resp
    }
}

fn is_request(kind: PduKind) -> bool {
    matches!(
        kind,
        PduKind::Get | PduKind::GetNext | PduKind::GetBulk | PduKind::Set
    )
}

/// RFC 3584 §4.4: a v2 error-status as v1 says it.
fn v1_status(status: ErrorStatus) -> ErrorStatus {
    use ErrorStatus::*;
    match status {
        NoAccess | NoCreation | AuthorizationError | NotWritable | InconsistentName => NoSuchName,
        WrongType | WrongLength | WrongEncoding | WrongValue | InconsistentValue => BadValue,
        ResourceUnavailable | CommitFailed | UndoFailed => GenErr,
        s => s,
    }
}

/// True when the message's HMAC is right (RFC 3414 §6.3.2).
fn authentic(mac: &MacKey, auth: AuthProtocol, p: &UsmParams, msg: &[u8]) -> bool {
    let mut scratch = Vec::new();
    mac.verify_message(msg, &p.auth_params, auth.mac_len(), &mut scratch)
        .is_ok()
}

/// Encodes `pdu` with `encode` within `max` bytes: a GETBULK reply loses
/// varbinds from its end (like net-snmp), anything else becomes `tooBig`
/// with no varbinds (RFC 3416 §4.2.1).
fn bounded(
    mut pdu: Pdu,
    max: usize,
    bulk: bool,
    mut encode: impl FnMut(&Pdu, &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(max.min(4096));
    loop {
        out.clear();
        encode(&pdu, &mut out);
        let n = pdu.varbinds.len();
        if out.len() <= max || n == 0 {
            return out;
        }
        if bulk && n > 1 && pdu.error_status == 0 {
            let keep = (n * max / out.len()).clamp(1, n - 1);
            pdu.varbinds.truncate(keep);
        } else {
            pdu.error_status = ErrorStatus::TooBig.code();
            pdu.error_index = 0;
            pdu.varbinds.clear();
        }
    }
}
