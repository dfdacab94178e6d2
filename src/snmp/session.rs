//! The SNMPv3 side of a client (RFC 3414 §3.1, §3.2, §4): engine discovery,
//! the agent's clock, and the USM processing of every outgoing and incoming
//! message. Sans-IO: the client sends what [`Session::encode`] writes and
//! hands every datagram it receives to [`Session::decode`].
//!
//! The costly and shareable state (the password hashes, the agent's engine
//! ID, the keys localized to it, its boots and time) lives in a [`UsmCache`]
//! that every client of a [`Manager`](super::Manager) shares, so a new pooled
//! connection neither hashes the passwords again nor rediscovers the engine.

pub(crate) use super::exchange::Incoming;
use super::exchange::{Exchange, Request, Tries};
use super::pdu::{Pdu, PduKind};
use super::usm::{LocalKeys, MasterKeys, SecurityLevel, Usm, ENGINE_ID_LEN};
use super::v3::{
    self, usm_stats, MessageV3, ScopedData, ScopedPdu, UsmParams, MAX_INT, MAX_MSG_SIZE,
    TIME_WINDOW, USM_STATS,
};
use super::SnmpError;
use crate::backoff::random_u64;
use crate::{Error, Phase};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// What the clients of one manager share: the password hashes and what they
/// know of the agent's engine. Locked briefly per message.
#[derive(Default)]
pub(crate) struct UsmCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The settings the keys come from; other settings reset the cache.
    usm: Option<Usm>,
    master: Option<Arc<MasterKeys>>,
    engine: Option<Engine>,
}

/// The agent's engine as last seen.
#[derive(Clone)]
struct Engine {
    id: Arc<[u8]>,
    keys: Arc<LocalKeys>,
    boots: u32,
    /// snmpEngineTime at `synced`.
    time: u32,
    synced: Instant,
    /// latestReceivedEngineTime (RFC 3414 §2.3).
    latest: u32,
    /// An answer proved the keys (or, without auth, the engine ID) right.
    confirmed: bool,
}

impl Engine {
    /// The agent's snmpEngineTime now, as far as we can tell.
    fn now(&self) -> u32 {
        let elapsed = u32::try_from(self.synced.elapsed().as_secs()).unwrap_or(MAX_INT);
        self.time.saturating_add(elapsed).min(MAX_INT)
    }
}

impl fmt::Debug for UsmCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("UsmCache")
            .field("keys", &st.master.as_ref().map(|_| "<redacted>"))
            .field(
                "engine_id",
                &st.engine
                    .as_ref()
                    .map(|e| e.id.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            )
            .finish()
    }
}

impl UsmCache {
    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // A panic elsewhere while holding the lock leaves plain data behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The password hashes for `usm`, computed on first use (under the lock,
    /// so concurrent connects wait for one computation instead of racing).
    fn master(&self, usm: &Usm) -> Arc<MasterKeys> {
        let mut st = self.lock();
        if st.usm.as_ref() != Some(usm) {
            *st = CacheState {
                usm: Some(usm.clone()),
                ..CacheState::default()
            };
        }
        if let Some(m) = &st.master {
            return m.clone();
        }
        let m = Arc::new(MasterKeys::new(usm));
        st.master = Some(m.clone());
        m
    }

    fn engine(&self) -> Option<Engine> {
        self.lock().engine.clone()
    }

    fn set_engine(&self, engine: Engine) {
        self.lock().engine = Some(engine);
    }

    fn forget_engine(&self, id: &[u8]) {
        let mut st = self.lock();
        if st.engine.as_ref().is_some_and(|e| *e.id == *id) {
            st.engine = None;
        }
    }

    fn update(&self, id: &[u8], f: impl FnOnce(&mut Engine) -> bool) -> bool {
        let mut st = self.lock();
        match st.engine.as_mut() {
            Some(e) if *e.id == *id => f(e),
            _ => false,
        }
    }

    /// True when a cached engine exists and an answer has confirmed it.
    #[cfg(test)]
    pub(crate) fn confirmed(&self) -> bool {
        self.lock().engine.as_ref().is_some_and(|e| e.confirmed)
    }
}

fn drop_it(why: impl Into<Cow<'static, str>>) -> Incoming {
    Incoming::Drop(why.into())
}

/// One client's USM state.
pub(crate) struct Session {
    usm: Usm,
    cache: Arc<UsmCache>,
    master: Arc<MasterKeys>,
    /// The privacy salt counter (RFC 3414 §8.1.1.1, RFC 3826 §3.1.2.1).
    salt: u64,
    /// msgID of the discovery probe in flight.
    discovery: Option<i32>,
    /// The next request follows a discovery / a resynchronisation: remember
    /// its msgID so that the same report about it ends the request.
    after_discovery: bool,
    sent_after_discovery: Option<i32>,
    after_resync: bool,
    sent_after_resync: Option<i32>,
    /// The agent answered something (discovery, a report) in this exchange.
    heard: bool,
    /// (msgID, request-id) of the last request sent (ours are equal).
    sent: Option<(i32, i32)>,
    params: UsmParams,
    plain: Vec<u8>,
    scratch: Vec<u8>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.usm.user)
            .field("level", &self.usm.level)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for `usm` (validated) sharing `cache`; hashes the passwords
    /// unless the cache already has them.
    pub(crate) fn new(usm: &Usm, cache: Arc<UsmCache>) -> Session {
        let master = cache.master(usm);
        Session {
            usm: usm.clone(),
            cache,
            master,
            salt: random_u64(),
            discovery: None,
            after_discovery: false,
            sent_after_discovery: None,
            after_resync: false,
            sent_after_resync: None,
            heard: false,
            sent: None,
            params: UsmParams {
                user_name: usm.user.as_bytes().to_vec(),
                ..UsmParams::default()
            },
            plain: Vec::with_capacity(512),
            scratch: Vec::with_capacity(512),
        }
    }

    /// A new request begins.
    pub(crate) fn begin(&mut self) {
        self.heard = false;
        self.after_discovery = false;
        self.after_resync = false;
    }

    /// Writes the message for `pdu` (msgID = its request-id) into `out`: the
    /// discovery probe instead while the agent's engine is unknown.
    pub(crate) fn encode(&mut self, pdu: &Pdu, out: &mut Vec<u8>) {
        let id = pdu.request_id;
        let Some(engine) = self.cache.engine() else {
            // RFC 3414 §4: a reportable, unauthenticated request with an
            // empty engine ID and user makes the agent report its engine.
            self.discovery = Some(id);
            let probe = Pdu {
                kind: PduKind::Get,
                request_id: id,
                error_status: 0,
                error_index: 0,
                varbinds: Vec::new(),
            };
            v3::encode_message(
                out,
                id,
                MAX_MSG_SIZE,
                MessageV3::REPORTABLE,
                v3::USM,
                &UsmParams::default(),
                |o| v3::encode_scoped(o, &[], &[], &probe),
            );
            return;
        };
        self.discovery = None;
        self.sent = Some((id, pdu.request_id));
        if std::mem::take(&mut self.after_discovery) {
            self.sent_after_discovery = Some(id);
        }
        if std::mem::take(&mut self.after_resync) {
            self.sent_after_resync = Some(id);
        }
        let level = self.usm.level;
        let (boots, time) = (engine.boots, engine.now());
        let p = &mut self.params;
        if *p.engine_id != *engine.id {
            p.engine_id = engine.id.to_vec();
        }
        p.engine_boots = boots;
        p.engine_time = time;
        p.auth_params.clear();
        p.priv_params.clear();
        let mut flags = MessageV3::REPORTABLE;
        let mac = engine
            .keys
            .mac
            .as_ref()
            .filter(|_| level >= SecurityLevel::AuthNoPriv);
        if mac.is_some() {
            flags |= MessageV3::AUTH;
            p.auth_params.resize(self.usm.auth.mac_len(), 0);
        }
        let context_engine_id = self.usm.context_engine_id.as_deref().unwrap_or(&engine.id);
        let context_name = self.usm.context_name.as_bytes();
        match engine
            .keys
            .cipher
            .as_ref()
            .filter(|_| level == SecurityLevel::AuthPriv)
        {
            Some(cipher) => {
                flags |= MessageV3::PRIV;
                self.plain.clear();
                v3::encode_scoped(&mut self.plain, context_engine_id, context_name, pdu);
                self.salt = self.salt.wrapping_add(1);
                let salt = cipher.encrypt(boots, time, self.salt, &mut self.plain);
                p.priv_params.extend_from_slice(&salt);
                let plain = &self.plain;
                v3::encode_message(out, id, MAX_MSG_SIZE, flags, v3::USM, p, |o| {
                    super::ber::write_bytes(o, super::ber::tag::OCTET_STRING, plain)
                });
            }
            None => v3::encode_message(out, id, MAX_MSG_SIZE, flags, v3::USM, p, |o| {
                v3::encode_scoped(o, context_engine_id, context_name, pdu)
            }),
        }
        if let Some(mac) = mac {
            mac.sign_message(out);
        }
    }

    /// What `datagram` means to the exchange waiting for msgID `id`.
    pub(crate) fn decode(&mut self, datagram: &[u8], id: i32) -> Incoming {
        let (m, used) = match MessageV3::decode(datagram) {
            Ok(Some(x)) => x,
            Ok(None) => return drop_it("a truncated datagram"),
            Err(e) => return drop_it(format!("a malformed datagram ({e})")),
        };
        if m.msg_id != id {
            return drop_it(format!(
                "msgID {} (waiting for {id}): late or foreign",
                m.msg_id
            ));
        }
        if self.discovery == Some(id) {
            return self.discovered(m);
        }
        let Some(engine) = self.cache.engine() else {
            return drop_it("an answer while no engine is known");
        };
        let authenticated = m.flags & MessageV3::AUTH != 0;
        if authenticated {
            if let Err(why) = self.authenticate(&engine, &m.usm, &datagram[..used]) {
                return drop_it(why);
            }
        }
        let scoped = match m.data {
            ScopedData::Plain(s) => s,
            ScopedData::Encrypted(mut bytes) => {
                let Some(cipher) = engine.keys.cipher.as_ref() else {
                    return drop_it("an encrypted message for a user without privacy");
                };
                if !cipher.decrypt(
                    m.usm.engine_boots,
                    m.usm.engine_time,
                    &m.usm.priv_params,
                    &mut bytes,
                ) {
                    return drop_it("bad privacy parameters");
                }
                match ScopedPdu::decode_prefix(&bytes) {
                    Ok((s, _)) => s,
                    Err(_) => return drop_it("a message that does not decrypt"),
                }
            }
        };
        match scoped.pdu.kind {
            PduKind::Report => self.report(&engine, &m.usm, scoped.pdu, authenticated, id),
            PduKind::Response => {
                let level = self.usm.level;
                if level >= SecurityLevel::AuthNoPriv && !authenticated {
                    return drop_it("an unauthenticated response");
                }
                if level == SecurityLevel::AuthPriv && m.flags & MessageV3::PRIV == 0 {
                    return drop_it("an unencrypted response");
                }
                let want = match self.sent {
                    Some((msg_id, request_id)) if msg_id == id => request_id,
                    _ => id,
                };
                if scoped.pdu.request_id != want {
                    return drop_it("a response with another request-id");
                }
                if level == SecurityLevel::NoAuthNoPriv && *m.usm.engine_id != *engine.id {
                    return drop_it("a response from another engine");
                }
                self.cache.update(&engine.id, |e| {
                    e.confirmed = true;
                    true
                });
                Incoming::Reply(scoped.pdu)
            }
            other => drop_it(format!("a {other:?} PDU")),
        }
    }

    /// RFC 3414 §3.2 steps 4 to 7: the engine, the user, the HMAC, the time
    /// window. `Err` says why the message must be dropped.
    fn authenticate(
        &mut self,
        engine: &Engine,
        p: &UsmParams,
        msg: &[u8],
    ) -> Result<(), &'static str> {
        let Some(mac) = engine.keys.mac.as_ref() else {
            return Err("an authenticated message for a user without authentication");
        };
        if *p.engine_id != *engine.id {
            return Err("an authenticated message from another engine");
        }
        if p.user_name != self.usm.user.as_bytes() {
            return Err("an authenticated message for another user");
        }
        let mac_len = self.usm.auth.mac_len();
        mac.verify_message(msg, &p.auth_params, mac_len, &mut self.scratch)?;
        let (boots, time) = (p.engine_boots, p.engine_time);
        let in_window = self.cache.update(&engine.id, |e| {
            if boots > e.boots || (boots == e.boots && time > e.latest) {
                e.boots = boots;
                e.time = time;
                e.latest = time;
                e.synced = Instant::now();
            }
            !(e.boots == MAX_INT
                || boots < e.boots
                || (boots == e.boots && e.now() > time.saturating_add(TIME_WINDOW)))
        });
        if !in_window {
            return Err("an authenticated message outside the time window");
        }
        Ok(())
    }

    /// The answer to the discovery probe: learn the engine, localize the keys.
    fn discovered(&mut self, m: MessageV3) -> Incoming {
        let id = m.usm.engine_id;
        if !ENGINE_ID_LEN.contains(&id.len()) {
            return drop_it(format!(
                "a discovery answer with an engine ID of {} bytes",
                id.len()
            ));
        }
        if !matches!(&m.data, ScopedData::Plain(s) if matches!(s.pdu.kind, PduKind::Report | PduKind::Response))
        {
            return drop_it("a discovery answer that is not a plaintext report");
        }
        let keys = match self.master.localize(&self.usm, &id) {
            Ok(k) => Arc::new(k),
            Err(e) => return drop_it(format!("keys that do not localize ({e})")),
        };
        log::debug!(
            "SNMPv3: discovered engine {} (boots {}, time {})",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            m.usm.engine_boots,
            m.usm.engine_time
        );
        self.cache.set_engine(Engine {
            id: id.into(),
            keys,
            boots: m.usm.engine_boots,
            time: m.usm.engine_time,
            synced: Instant::now(),
            latest: m.usm.engine_time,
            confirmed: false,
        });
        self.discovery = None;
        self.after_discovery = true;
        self.heard = true;
        Incoming::Again
    }

    /// A Report about our request (RFC 3414 §3.2 and §4).
    fn report(
        &mut self,
        engine: &Engine,
        p: &UsmParams,
        pdu: Pdu,
        authenticated: bool,
        id: i32,
    ) -> Incoming {
        self.heard = true;
        let Some(vb) = pdu.varbinds.into_iter().next() else {
            return drop_it("an empty report");
        };
        let counter = match vb.oid.arcs().strip_prefix(&USM_STATS[..]) {
            Some([n, 0]) | Some([n]) => *n,
            _ => return Incoming::Fail(SnmpError::Report { oid: vb.oid }),
        };
        match counter {
            // usmStatsNotInTimeWindows: the report carries the agent's clock.
            usm_stats::NOT_IN_TIME_WINDOWS => {
                if self.usm.level == SecurityLevel::NoAuthNoPriv
                    || self.sent_after_resync == Some(id)
                {
                    return Incoming::Fail(SnmpError::NotInTimeWindow);
                }
                if !authenticated {
                    return drop_it("an unauthenticated notInTimeWindows report");
                }
                let (boots, time) = (p.engine_boots, p.engine_time);
                log::debug!(
                    "SNMPv3: resynchronised with the agent's clock (boots {boots}, time {time})"
                );
                self.cache.update(&engine.id, |e| {
                    e.boots = boots;
                    e.time = time;
                    e.latest = time;
                    e.synced = Instant::now();
                    true
                });
                self.after_resync = true;
                Incoming::Again
            }
            // usmStatsUnknownEngineIDs: the agent's engine ID changed.
            usm_stats::UNKNOWN_ENGINE_IDS => {
                if self.sent_after_discovery == Some(id) {
                    return Incoming::Fail(SnmpError::UnknownEngineId);
                }
                log::debug!(
                    "SNMPv3: the agent no longer knows its engine ID; discovering it again"
                );
                self.cache.forget_engine(&engine.id);
                Incoming::Again
            }
            usm_stats::UNSUPPORTED_SEC_LEVELS => Incoming::Fail(SnmpError::UnsupportedSecLevel {
                level: self.usm.level,
            }),
            usm_stats::UNKNOWN_USER_NAMES => Incoming::Fail(SnmpError::UnknownUserName {
                user: self.usm.user.clone(),
            }),
            usm_stats::WRONG_DIGESTS => Incoming::Fail(SnmpError::WrongDigest),
            usm_stats::DECRYPTION_ERRORS => Incoming::Fail(SnmpError::DecryptionError),
            _ => Incoming::Fail(SnmpError::Report { oid: vb.oid }),
        }
    }

    /// An authPriv request timed out after the agent answered discovery for
    /// it, and no authenticated answer ever confirmed this engine: agents
    /// silently drop what they cannot decrypt, so sending the same request
    /// again cannot help (a wrong privacy password or protocol).
    pub(crate) fn encrypted_unanswered(&self) -> bool {
        self.usm.level == SecurityLevel::AuthPriv
            && self.heard
            && self.cache.engine().is_some_and(|e| !e.confirmed)
    }

    /// Every attempt of the request timed out: what that most likely means.
    /// An engine no answer ever confirmed is forgotten, so the next request
    /// discovers it again.
    pub(crate) fn timed_out(&mut self) -> Option<SnmpError> {
        let engine = self.cache.engine()?;
        if engine.confirmed {
            return None;
        }
        self.cache.forget_engine(&engine.id);
        (self.usm.level == SecurityLevel::AuthPriv && self.heard)
            .then_some(SnmpError::NoReplyToEncrypted)
    }
}

impl Exchange for Session {
    fn begin(&mut self) {
        Session::begin(self)
    }

    fn encode<'s>(&'s mut self, request: &Request<'_>, id: i32, out: &'s mut Vec<u8>) -> &'s [u8] {
        out.clear();
        Session::encode(self, &request.pdu(id), out);
        out
    }

    fn decode(&mut self, datagram: &[u8], _: &Request<'_>, id: i32) -> Incoming {
        Session::decode(self, datagram, id)
    }

    fn hopeless(&self) -> bool {
        self.encrypted_unanswered()
    }

    fn timed_out(&mut self, _: &Tries) -> Error {
        match Session::timed_out(self) {
            Some(e) => Error::Snmp(e),
            None => Error::Timeout(Phase::Read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::usm::{AuthProtocol, PrivProtocol};
    use crate::snmp::v3::tests::{captured, unhex};
    use crate::snmp::v3::Layout;
    use crate::snmp::{oid, Value, VarBind};

    const ENGINE: &str = "80001f8880e9bd0c1d12667a5100000000";

    /// The users of the capture (tests/snmp_v3.rs's snmpd.conf).
    fn user(name: &str) -> Usm {
        match name {
            "shaaes" => Usm::new(name)
                .auth(AuthProtocol::Sha1, "shaauthpass")
                .privacy(PrivProtocol::Aes128, "shaprivpass"),
            "md5des" => Usm::new(name)
                .auth(AuthProtocol::Md5, "md5authpass")
                .privacy(PrivProtocol::Des, "md5privpass"),
            "sha256u" => Usm::new(name).auth(AuthProtocol::Sha256, "sha256authpass"),
            "sha512aes" => Usm::new(name)
                .auth(AuthProtocol::Sha512, "sha512authpass")
                .privacy(PrivProtocol::Aes128, "sha512privpass"),
            other => Usm::new(other),
        }
    }

    /// A session that knows the captured agent's engine (boots 1, time 34).
    fn session(name: &str) -> Session {
        let usm = user(name);
        let s = Session::new(&usm, Arc::default());
        let id = unhex(ENGINE);
        let keys = Arc::new(s.master.localize(&usm, &id).unwrap());
        s.cache.set_engine(Engine {
            id: id.into(),
            keys,
            boots: 1,
            time: 34,
            synced: Instant::now(),
            latest: 34,
            confirmed: false,
        });
        s
    }

    /// net-snmp's request-ids differ from its msgIDs (ours are equal).
    fn request_id(name: &str) -> i32 {
        let key = MessageV3::decode(&captured(name)).unwrap().unwrap().0;
        let s = session(match name {
            "md5_des received" => "md5des",
            "sha256 received" => "sha256u",
            "sha512_aes received" => "sha512aes",
            _ => "shaaes",
        });
        let keys = s.cache.engine().unwrap().keys;
        match key.data {
            ScopedData::Plain(p) => p.pdu.request_id,
            ScopedData::Encrypted(mut c) => {
                let p = &key.usm;
                let cipher = keys.cipher.as_ref().unwrap();
                assert!(cipher.decrypt(p.engine_boots, p.engine_time, &p.priv_params, &mut c));
                ScopedPdu::decode_prefix(&c).unwrap().0.pdu.request_id
            }
        }
    }

    fn msg_id(name: &str) -> i32 {
        MessageV3::decode(&captured(name))
            .unwrap()
            .unwrap()
            .0
            .msg_id
    }

    fn location() -> Vec<VarBind> {
        vec![VarBind::new(
            oid::SYS_LOCATION,
            Value::OctetString(b"edgepool-test-lab".to_vec()),
        )]
    }

    #[test]
    fn net_snmp_s_responses_authenticate_and_decrypt() {
        for (name, capture) in [
            ("shaaes", "sha_aes received"),
            ("md5des", "md5_des received"),
            ("sha256u", "sha256 received"),
            ("sha512aes", "sha512_aes received"),
        ] {
            let mut s = session(name);
            let id = msg_id(capture);
            let bytes = captured(capture);
            s.sent = Some((id, request_id(capture)));
            let Incoming::Reply(pdu) = s.decode(&bytes, id) else {
                panic!("{name}: {:?}", s.decode(&bytes, id));
            };
            assert_eq!(pdu.varbinds, location(), "{name}");
            assert!(s.cache.confirmed());
            // One flipped bit anywhere, the wrong msgID, another user's keys:
            // dropped, never accepted, never an error.
            for i in [0x40, bytes.len() / 2, bytes.len() - 1] {
                let mut b = bytes.clone();
                b[i] ^= 0x10;
                assert!(
                    matches!(s.decode(&b, id), Incoming::Drop(_)),
                    "{name} byte {i}"
                );
            }
            assert!(matches!(
                s.decode(&bytes, id.wrapping_add(1)),
                Incoming::Drop(_)
            ));
            let mut other = session(if name == "shaaes" { "md5des" } else { "shaaes" });
            assert!(
                matches!(other.decode(&bytes, id), Incoming::Drop(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn net_snmp_s_requests_have_our_hmac_and_our_ciphertext() {
        // What net-snmp sent, checked with our keys: the HMAC over the
        // message with the parameters zeroed, and our encryption of the
        // plaintext (with net-snmp's salt, boots and time) gives its bytes.
        for (name, capture) in [
            ("shaaes", "sha_aes sending"),
            ("md5des", "md5_des sending"),
            ("sha256u", "sha256 sending"),
        ] {
            let s = session(name);
            let bytes = captured(capture);
            let (m, _) = MessageV3::decode(&bytes).unwrap().unwrap();
            let keys = s.cache.engine().unwrap().keys;
            let layout = Layout::parse(&bytes).unwrap().unwrap();
            let mut zeroed = bytes.clone();
            zeroed[layout.auth_params].fill(0);
            let mut tag = vec![0; m.usm.auth_params.len()];
            keys.mac.as_ref().unwrap().sign(&zeroed, &mut tag);
            assert_eq!(tag, m.usm.auth_params, "{name}");
            let ScopedData::Encrypted(cipher_text) = m.data else {
                continue;
            };
            let cipher = keys.cipher.as_ref().unwrap();
            let mut plain = cipher_text.clone();
            let (boots, time) = (m.usm.engine_boots, m.usm.engine_time);
            assert!(cipher.decrypt(boots, time, &m.usm.priv_params, &mut plain));
            let (scoped, used) = ScopedPdu::decode_prefix(&plain).unwrap();
            assert_eq!(scoped.pdu.varbinds[0].oid, oid::SYS_LOCATION, "{name}");
            assert_eq!(scoped.context_engine_id, unhex(ENGINE));
            let salt = u64::from_be_bytes(m.usm.priv_params.clone().try_into().unwrap());
            // net-snmp pads DES plaintext with bytes of its own: keep them.
            assert!(used <= plain.len());
            let mut again = plain.clone();
            let params = cipher.encrypt(boots, time, salt, &mut again);
            assert_eq!(params.to_vec(), m.usm.priv_params, "{name}");
            assert_eq!(again, cipher_text, "{name}");
        }
    }

    #[test]
    fn our_requests_look_like_net_snmp_s() {
        // Discovery: the same probe as net-snmp's but for the IDs.
        let mut s = Session::new(&user("shaaes"), Arc::default());
        let mut out = Vec::new();
        s.encode(&Pdu::request(PduKind::Get, 0x719d61d0, &[]), &mut out);
        let ours = MessageV3::decode(&out).unwrap().unwrap().0;
        let mut theirs = MessageV3::decode(&captured("discovery sending"))
            .unwrap()
            .unwrap()
            .0;
        theirs.msg_id = ours.msg_id;
        assert_eq!(ours, theirs);
        // The report teaches the engine; then requests are authenticated and
        // encrypted, and authenticate with net-snmp's keys.
        let report = captured("discovery report");
        let mut report_msg = MessageV3::decode(&report).unwrap().unwrap().0;
        report_msg.msg_id = 0x719d61d0;
        let mut fixed = Vec::new();
        report_msg.encode(&mut fixed);
        assert!(matches!(s.decode(&fixed, 0x719d61d0), Incoming::Again));
        out.clear();
        s.encode(
            &Pdu::request(PduKind::Get, 77, &[oid::SYS_LOCATION]),
            &mut out,
        );
        let (m, _) = MessageV3::decode(&out).unwrap().unwrap();
        assert_eq!(
            m.flags,
            MessageV3::AUTH | MessageV3::PRIV | MessageV3::REPORTABLE
        );
        assert_eq!(
            (m.usm.engine_id.clone(), m.usm.engine_boots),
            (unhex(ENGINE), 1)
        );
        assert_eq!(m.usm.auth_params.len(), 12);
        let keys = session("shaaes").cache.engine().unwrap().keys;
        let layout = Layout::parse(&out).unwrap().unwrap();
        let mut zeroed = out.clone();
        zeroed[layout.auth_params].fill(0);
        assert!(keys
            .mac
            .as_ref()
            .unwrap()
            .verify(&zeroed, &m.usm.auth_params));
        let ScopedData::Encrypted(mut c) = m.data else {
            panic!()
        };
        let ok =
            keys.cipher
                .as_ref()
                .unwrap()
                .decrypt(1, m.usm.engine_time, &m.usm.priv_params, &mut c);
        assert!(ok);
        let (scoped, _) = ScopedPdu::decode_prefix(&c).unwrap();
        assert_eq!(
            scoped.pdu,
            Pdu::request(PduKind::Get, 77, &[oid::SYS_LOCATION])
        );
        // Salts never repeat.
        out.clear();
        s.encode(
            &Pdu::request(PduKind::Get, 78, &[oid::SYS_LOCATION]),
            &mut out,
        );
        let (m2, _) = MessageV3::decode(&out).unwrap().unwrap();
        assert_ne!(m2.usm.priv_params, m.usm.priv_params);
    }

    #[test]
    fn reports_become_typed_errors() {
        let mut s = session("sha256u");
        let id = msg_id("wrong digest report");
        match s.decode(&captured("wrong digest report"), id) {
            Incoming::Fail(SnmpError::WrongDigest) => {}
            other => panic!("{other:?}"),
        }
        let mut s = session("nosuchuser");
        let id = msg_id("unknown user report");
        match s.decode(&captured("unknown user report"), id) {
            Incoming::Fail(SnmpError::UnknownUserName { user }) => assert_eq!(user, "nosuchuser"),
            other => panic!("{other:?}"),
        }
        // Not for our msgID: dropped.
        assert!(matches!(
            s.decode(&captured("unknown user report"), id ^ 1),
            Incoming::Drop(_)
        ));
    }

    /// A report about msgID `id` with `counter` and the given boots/time,
    /// authenticated with `usm`'s keys when `auth`.
    fn report(s: &Session, id: i32, counter: u32, boots: u32, time: u32, auth: bool) -> Vec<u8> {
        let e = s.cache.engine().unwrap();
        let mut oid = USM_STATS.to_vec();
        oid.extend([counter, 0]);
        let pdu = Pdu {
            kind: PduKind::Report,
            request_id: id,
            error_status: 0,
            error_index: 0,
            varbinds: vec![VarBind::new(
                crate::snmp::Oid::new(oid),
                Value::Counter32(1),
            )],
        };
        let params = UsmParams {
            engine_id: e.id.to_vec(),
            engine_boots: boots,
            engine_time: time,
            user_name: s.usm.user.as_bytes().to_vec(),
            auth_params: if auth {
                vec![0; s.usm.auth.mac_len()]
            } else {
                vec![]
            },
            priv_params: vec![],
        };
        let flags = if auth { MessageV3::AUTH } else { 0 };
        let mut out = Vec::new();
        v3::encode_message(&mut out, id, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
            v3::encode_scoped(o, &e.id, &[], &pdu)
        });
        if auth {
            let layout = Layout::parse(&out).unwrap().unwrap();
            let mut tag = vec![0; s.usm.auth.mac_len()];
            e.keys.mac.as_ref().unwrap().sign(&out, &mut tag);
            out[layout.auth_params].copy_from_slice(&tag);
        }
        out
    }

    #[test]
    fn other_reports_name_their_counter() {
        let mut s = session("sha256u");
        let mut r = MessageV3::decode(&report(&s, 30, 3, 1, 34, false))
            .unwrap()
            .unwrap()
            .0;
        let ScopedData::Plain(p) = &mut r.data else {
            panic!()
        };
        // snmpUnknownContexts.0 (RFC 3412).
        p.pdu.varbinds[0].oid = "1.3.6.1.6.3.12.1.5.0".parse().unwrap();
        let mut out = Vec::new();
        r.encode(&mut out);
        match s.decode(&out, 30) {
            Incoming::Fail(e @ SnmpError::Report { .. }) => {
                assert!(e.to_string().contains("snmpUnknownContexts"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        for (counter, want) in [
            (1, "usmStatsUnsupportedSecLevels"),
            (6, "usmStatsDecryptionErrors"),
        ] {
            let r = report(&s, 31, counter, 1, 34, false);
            match s.decode(&r, 31) {
                Incoming::Fail(e) => assert!(e.to_string().contains(want), "{e}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn not_in_time_window_resyncs_once() {
        let mut s = session("sha256u");
        s.begin();
        let mut out = Vec::new();
        s.encode(
            &Pdu::request(PduKind::Get, 10, &[oid::SYS_UPTIME]),
            &mut out,
        );
        // Unauthenticated: ignored (a forger must not move our clock).
        let forged = report(&s, 10, 2, 9, 999, false);
        assert!(matches!(s.decode(&forged, 10), Incoming::Drop(_)));
        // Authenticated: adopt the agent's clock and send again.
        let real = report(&s, 10, 2, 2, 500, true);
        assert!(matches!(s.decode(&real, 10), Incoming::Again));
        let e = s.cache.engine().unwrap();
        assert_eq!((e.boots, e.now()), (2, 500));
        out.clear();
        s.encode(
            &Pdu::request(PduKind::Get, 11, &[oid::SYS_UPTIME]),
            &mut out,
        );
        let (m, _) = MessageV3::decode(&out).unwrap().unwrap();
        assert_eq!((m.usm.engine_boots, m.usm.engine_time), (2, 500));
        // The same report about the resent request: a typed error.
        let again = report(&s, 11, 2, 2, 500, true);
        assert!(matches!(
            s.decode(&again, 11),
            Incoming::Fail(SnmpError::NotInTimeWindow)
        ));
    }

    #[test]
    fn authenticated_messages_outside_the_time_window_are_dropped() {
        let mut s = session("sha256u");
        // Our clock: boots 1, time 34. An older boots, or a time more than
        // 150 s behind, is a replay.
        for (boots, time) in [(0, 34), (1, 0)] {
            s.cache.update(&unhex(ENGINE), |e| {
                e.time = 400;
                e.latest = 400;
                true
            });
            let r = report(&s, 5, 5, boots, time, true);
            assert!(
                matches!(s.decode(&r, 5), Incoming::Drop(_)),
                "{boots} {time}"
            );
        }
        // A newer boots moves the clock forward.
        let r = report(&s, 6, 5, 3, 7, true);
        assert!(matches!(
            s.decode(&r, 6),
            Incoming::Fail(SnmpError::WrongDigest)
        ));
        assert_eq!(s.cache.engine().unwrap().boots, 3);
    }

    #[test]
    fn unknown_engine_ids_rediscover_once() {
        let mut s = session("sha256u");
        s.begin();
        let r = report(&s, 20, 4, 1, 34, false);
        assert!(matches!(s.decode(&r, 20), Incoming::Again));
        assert!(
            s.cache.engine().is_none(),
            "forgotten: the next encode discovers"
        );
        let mut out = Vec::new();
        s.encode(
            &Pdu::request(PduKind::Get, 21, &[oid::SYS_UPTIME]),
            &mut out,
        );
        let mut m = MessageV3::decode(&captured("discovery report"))
            .unwrap()
            .unwrap()
            .0;
        m.msg_id = 21;
        out.clear();
        m.encode(&mut out);
        assert!(matches!(s.decode(&out, 21), Incoming::Again));
        out.clear();
        s.encode(
            &Pdu::request(PduKind::Get, 22, &[oid::SYS_UPTIME]),
            &mut out,
        );
        let r = report(&s, 22, 4, 1, 34, false);
        assert!(matches!(
            s.decode(&r, 22),
            Incoming::Fail(SnmpError::UnknownEngineId)
        ));
    }

    #[test]
    fn a_timeout_after_discovery_at_auth_priv_names_the_privacy_settings() {
        let mut s = Session::new(&user("shaaes"), Arc::default());
        s.begin();
        let mut out = Vec::new();
        s.encode(&Pdu::request(PduKind::Get, 1, &[]), &mut out);
        let mut m = MessageV3::decode(&captured("discovery report"))
            .unwrap()
            .unwrap()
            .0;
        m.msg_id = 1;
        out.clear();
        m.encode(&mut out);
        assert!(matches!(s.decode(&out, 1), Incoming::Again));
        assert!(matches!(s.timed_out(), Some(SnmpError::NoReplyToEncrypted)));
        assert!(
            s.cache.engine().is_none(),
            "an unconfirmed engine is forgotten"
        );
        // A confirmed engine: a plain timeout.
        let mut s = session("shaaes");
        let id = msg_id("sha_aes received");
        s.sent = Some((id, request_id("sha_aes received")));
        assert!(matches!(
            s.decode(&captured("sha_aes received"), id),
            Incoming::Reply(_)
        ));
        s.begin();
        assert!(s.timed_out().is_none());
        assert!(s.cache.engine().is_some());
    }

    #[test]
    fn the_cache_hashes_once_and_resets_for_other_settings() {
        let cache: Arc<UsmCache> = Arc::default();
        let a = Session::new(&user("shaaes"), cache.clone());
        let b = Session::new(&user("shaaes"), cache.clone());
        assert!(Arc::ptr_eq(&a.master, &b.master));
        let c = Session::new(&user("md5des"), cache.clone());
        assert!(!Arc::ptr_eq(&a.master, &c.master));
        assert!(!format!("{cache:?} {a:?}").contains("pass"));
    }
}
