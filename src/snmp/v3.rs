//! SNMPv3 messages (RFC 3412 §6, RFC 3414 §2.4), sans-IO: [`MessageV3`]
//! with its USM security parameters ([`UsmParams`]) and its plaintext
//! [`ScopedPdu`] or encrypted bytes ([`ScopedData`]). Every length is checked
//! against the bytes that are there; nothing here panics on input.
//!
//! ```
//! use edgepool::snmp::v3::{MessageV3, ScopedData, ScopedPdu, UsmParams};
//! use edgepool::snmp::{oid, Pdu, PduKind};
//! let msg = MessageV3 {
//!     msg_id: 7,
//!     max_size: 65507,
//!     flags: MessageV3::REPORTABLE,
//!     security_model: 3,
//!     usm: UsmParams::default(),
//!     data: ScopedData::Plain(ScopedPdu {
//!         context_engine_id: vec![],
//!         context_name: vec![],
//!         pdu: Pdu::request(PduKind::Get, 7, &[oid::SYS_UPTIME]),
//!     }),
//! };
//! let mut bytes = Vec::new();
//! msg.encode(&mut bytes);
//! assert_eq!(MessageV3::decode(&bytes)?, Some((msg, bytes.len())));
//! # Ok::<(), edgepool::Error>(())
//! ```

use super::ber::{self, tag, BerError, Reader};
use super::pdu::Pdu;

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;
use std::fmt;
use std::ops::Range;

/// The user-based security model's number (RFC 3411).
///
/// ```
/// assert_eq!(edgepool::snmp::v3::USM, 3);
/// ```
pub const USM: i32 = 3;

/// The msgMaxSize announced (the largest UDP payload over IPv4, as net-snmp).
pub(crate) const MAX_MSG_SIZE: i32 = 65_507;
/// RFC 3414 §3.2 step 7: a message more than this many seconds off the
/// engine's clock is outside the time window.
pub(crate) const TIME_WINDOW: u32 = 150;
/// snmpEngineBoots and snmpEngineTime stop here (2^31 - 1).
pub(crate) const MAX_INT: u32 = i32::MAX as u32;
/// usmStats (RFC 3414 §5): the report counters' common prefix; a counter's
/// OID adds its number from [`usm_stats`] and the instance `0`.
pub(crate) const USM_STATS: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];

/// snmpUnknownContexts (RFC 3412): the report for a context name the agent
/// does not serve.
pub(crate) const UNKNOWN_CONTEXTS: [u32; 9] = [1, 3, 6, 1, 6, 3, 12, 1, 5];

/// The usmStats counters, by their arc after [`USM_STATS`].
pub(crate) mod usm_stats {
    /// usmStatsUnsupportedSecLevels.
    pub(crate) const UNSUPPORTED_SEC_LEVELS: u32 = 1;
    /// usmStatsNotInTimeWindows.
    pub(crate) const NOT_IN_TIME_WINDOWS: u32 = 2;
    /// usmStatsUnknownUserNames.
    pub(crate) const UNKNOWN_USER_NAMES: u32 = 3;
    /// usmStatsUnknownEngineIDs.
    pub(crate) const UNKNOWN_ENGINE_IDS: u32 = 4;
    /// usmStatsWrongDigests.
    pub(crate) const WRONG_DIGESTS: u32 = 5;
    /// usmStatsDecryptionErrors.
    pub(crate) const DECRYPTION_ERRORS: u32 = 6;
}

/// Longest engine ID, user name or context field accepted (RFC 3411 allows 32).
const MAX_ID: usize = 32;
/// Longest msgAuthenticationParameters accepted (HMAC-SHA-512's is 48).
const MAX_AUTH_PARAMS: usize = 64;

/// msgSecurityParameters for the USM (RFC 3414 §2.4).
///
/// ```
/// let p = edgepool::snmp::v3::UsmParams::default();
/// assert!(p.engine_id.is_empty());
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct UsmParams {
    /// msgAuthoritativeEngineID.
    pub engine_id: Vec<u8>,
    /// msgAuthoritativeEngineBoots (0 to 2^31-1).
    pub engine_boots: u32,
    /// msgAuthoritativeEngineTime (0 to 2^31-1).
    pub engine_time: u32,
    /// msgUserName.
    pub user_name: Vec<u8>,
    /// msgAuthenticationParameters: the truncated HMAC, or empty.
    pub auth_params: Vec<u8>,
    /// msgPrivacyParameters: the salt, or empty.
    pub priv_params: Vec<u8>,
}

impl fmt::Debug for UsmParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsmParams")
            .field("engine_id", &Hex(&self.engine_id))
            .field("engine_boots", &self.engine_boots)
            .field("engine_time", &self.engine_time)
            .field("user_name", &String::from_utf8_lossy(&self.user_name))
            .field("auth_params", &Hex(&self.auth_params))
            .field("priv_params", &Hex(&self.priv_params))
            .finish()
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A ScopedPDU: the context and the PDU.
///
/// ```
/// use edgepool::snmp::v3::ScopedPdu;
/// use edgepool::snmp::{oid, Pdu, PduKind};
/// let scoped = ScopedPdu {
///     context_engine_id: vec![0x80, 0x00, 0x1f, 0x88, 0x04],
///     context_name: b"bridge1".to_vec(),
///     pdu: Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME]),
/// };
/// let mut bytes = Vec::new();
/// scoped.encode(&mut bytes);
/// assert_eq!(ScopedPdu::decode_prefix(&bytes)?, (scoped, bytes.len()));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedPdu {
    /// contextEngineID.
    pub context_engine_id: Vec<u8>,
    /// contextName.
    pub context_name: Vec<u8>,
    /// The PDU (never a v1 trap).
    pub pdu: Pdu,
}

impl ScopedPdu {
    /// Appends the ScopedPDU's BER encoding.
    ///
    /// ```
    /// use edgepool::snmp::v3::ScopedPdu;
    /// use edgepool::snmp::{Pdu, PduKind};
    /// let discovery = ScopedPdu {
    ///     context_engine_id: vec![],
    ///     context_name: vec![],
    ///     pdu: Pdu::request(PduKind::Get, 0x719d61d0, &[]),
    /// };
    /// let mut out = Vec::new();
    /// discovery.encode(&mut out);
    /// // The ScopedPDU of net-snmp's engine-discovery probe.
    /// let golden = [
    ///     0x30, 0x14, // ScopedPDU
    ///     0x04, 0x00, 0x04, 0x00, // empty contextEngineID and contextName
    ///     0xa0, 0x0e, 0x02, 0x04, 0x71, 0x9d, 0x61, 0xd0, // GetRequest, request-id
    ///     0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00, // no variable bindings
    /// ];
    /// assert_eq!(out, golden);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_scoped(out, &self.context_engine_id, &self.context_name, &self.pdu);
    }

    /// Decodes a ScopedPDU from the front of `buf` and returns it with the
    /// bytes it used; what follows (DES padding) is left alone.
    ///
    /// ```
    /// use edgepool::snmp::v3::ScopedPdu;
    /// use edgepool::snmp::PduKind;
    /// // A decrypted DES block: the ScopedPDU, then two bytes of padding.
    /// let plaintext = [
    ///     0x30, 0x14, // ScopedPDU
    ///     0x04, 0x00, 0x04, 0x00, // empty contextEngineID and contextName
    ///     0xa0, 0x0e, 0x02, 0x04, 0x71, 0x9d, 0x61, 0xd0, // GetRequest, request-id
    ///     0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00, // no variable bindings
    ///     0x00, 0x00, // padding
    /// ];
    /// let (scoped, used) = ScopedPdu::decode_prefix(&plaintext)?;
    /// assert_eq!(used, 22);
    /// assert_eq!((scoped.pdu.kind, scoped.pdu.request_id), (PduKind::Get, 0x719d61d0));
    /// assert!(scoped.context_engine_id.is_empty() && scoped.pdu.varbinds.is_empty());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn decode_prefix(buf: &[u8]) -> Result<(ScopedPdu, usize)> {
        let Some((start, len)) = ber::sequence(buf)? else {
            return Err(BerError::Truncated);
        };
        let mut r = Reader::new(&buf[start..start + len]);
        let context_engine_id = bounded(r.octets()?, MAX_ID, "contextEngineID")?.to_vec();
        let context_name = bounded(r.octets()?, MAX_ID, "contextName")?.to_vec();
        let (pt, pv) = r.tlv()?;
        let pdu = Pdu::decode_tagged(pt, pv)?;
        if !r.is_empty() {
            return Err(BerError::TrailingBytes {
                after: "the ScopedPDU's PDU",
            });
        }
        Ok((
            ScopedPdu {
                context_engine_id,
                context_name,
                pdu,
            },
            start + len,
        ))
    }
}

/// msgData: a plaintext ScopedPDU or the encrypted one.
///
/// ```
/// use edgepool::snmp::v3::{ScopedData, ScopedPdu};
/// use edgepool::snmp::{ber::tag, Pdu, PduKind};
/// let data = ScopedData::Plain(ScopedPdu {
///     context_engine_id: vec![],
///     context_name: vec![],
///     pdu: Pdu::request(PduKind::Get, 1, &[]),
/// });
/// let mut bytes = Vec::new();
/// match &data {
///     ScopedData::Plain(scoped) => scoped.encode(&mut bytes),
///     ScopedData::Encrypted(sealed) => bytes.extend_from_slice(sealed),
/// }
/// assert_eq!(bytes[0], tag::SEQUENCE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopedData {
    /// noAuthNoPriv and authNoPriv.
    Plain(ScopedPdu),
    /// authPriv: the encrypted ScopedPDU.
    Encrypted(Vec<u8>),
}

/// An SNMPv3 message.
///
/// An authPriv message carries its ScopedPDU encrypted (the [`usm`](super::usm)
/// module computes the HMAC and the ciphertext; here they are placeholders):
///
/// ```
/// use edgepool::snmp::v3::{MessageV3, ScopedData, UsmParams, USM};
/// let msg = MessageV3 {
///     msg_id: 1,
///     max_size: 65507,
///     flags: MessageV3::AUTH | MessageV3::PRIV | MessageV3::REPORTABLE,
///     security_model: USM,
///     usm: UsmParams {
///         engine_id: vec![0x80, 0x00, 0x1f, 0x88, 0x04],
///         engine_boots: 1,
///         engine_time: 34,
///         user_name: b"monitor".to_vec(),
///         auth_params: vec![0; 12],
///         priv_params: vec![0; 8],
///     },
///     data: ScopedData::Encrypted(vec![0x5a; 32]),
/// };
/// let mut bytes = Vec::new();
/// msg.encode(&mut bytes);
/// let (back, _) = MessageV3::decode(&bytes)?.expect("a whole message");
/// assert!(matches!(back.data, ScopedData::Encrypted(ref b) if b.len() == 32));
/// assert_eq!(back, msg);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageV3 {
    /// msgID: matches a response or report to its request.
    pub msg_id: i32,
    /// msgMaxSize: the largest message the sender accepts.
    pub max_size: i32,
    /// msgFlags: [`MessageV3::AUTH`], [`MessageV3::PRIV`], [`MessageV3::REPORTABLE`].
    pub flags: u8,
    /// msgSecurityModel (3 = USM).
    pub security_model: i32,
    /// The USM's msgSecurityParameters.
    pub usm: UsmParams,
    /// msgData.
    pub data: ScopedData,
}

impl MessageV3 {
    /// msgFlags bit: authenticated.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::v3::MessageV3::AUTH, 0x01);
    /// ```
    pub const AUTH: u8 = 0x01;
    /// msgFlags bit: encrypted.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::v3::MessageV3::PRIV, 0x02);
    /// ```
    pub const PRIV: u8 = 0x02;
    /// msgFlags bit: the receiver may answer with a Report.
    ///
    /// ```
    /// use edgepool::snmp::v3::MessageV3;
    /// assert_eq!(MessageV3::REPORTABLE, 0x04);
    /// // An authPriv request's msgFlags.
    /// assert_eq!(MessageV3::AUTH | MessageV3::PRIV | MessageV3::REPORTABLE, 0x07);
    /// ```
    pub const REPORTABLE: u8 = 0x04;

    /// Appends the message's BER encoding.
    ///
    /// ```
    /// use edgepool::snmp::v3::{MessageV3, ScopedData, ScopedPdu, UsmParams, USM};
    /// use edgepool::snmp::{Pdu, PduKind};
    /// // net-snmp's engine-discovery probe: noAuthNoPriv, reportable, empty USM fields.
    /// let probe = MessageV3 {
    ///     msg_id: 0x091b59b7,
    ///     max_size: 65507,
    ///     flags: MessageV3::REPORTABLE,
    ///     security_model: USM,
    ///     usm: UsmParams::default(),
    ///     data: ScopedData::Plain(ScopedPdu {
    ///         context_engine_id: vec![],
    ///         context_name: vec![],
    ///         pdu: Pdu::request(PduKind::Get, 0x719d61d0, &[]),
    ///     }),
    /// };
    /// let mut out = Vec::new();
    /// probe.encode(&mut out);
    /// let golden = [
    ///     0x30, 0x3e, 0x02, 0x01, 0x03, // SNMPv3
    ///     0x30, 0x11, 0x02, 0x04, 0x09, 0x1b, 0x59, 0xb7, // msgGlobalData: msgID
    ///     0x02, 0x03, 0x00, 0xff, 0xe3, 0x04, 0x01, 0x04, 0x02, 0x01, 0x03, // size, flags, USM
    ///     0x04, 0x10, 0x30, 0x0e, 0x04, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, // USM params
    ///     0x04, 0x00, 0x04, 0x00, 0x04, 0x00,
    ///     0x30, 0x14, // ScopedPDU
    ///     0x04, 0x00, 0x04, 0x00, // empty contextEngineID and contextName
    ///     0xa0, 0x0e, 0x02, 0x04, 0x71, 0x9d, 0x61, 0xd0, // GetRequest, request-id
    ///     0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00, // no variable bindings
    /// ];
    /// assert_eq!(out, golden);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_message(
            out,
            self.msg_id,
            self.max_size,
            self.flags,
            self.security_model,
            &self.usm,
            |o| match &self.data {
                ScopedData::Plain(s) => s.encode(o),
                ScopedData::Encrypted(e) => ber::write_bytes(o, tag::OCTET_STRING, e),
            },
        );
    }

    /// Decodes a message from the front of `buf`: `Ok(None)` when `buf` holds
    /// only part of it, `Ok(Some((message, used)))`, or `Error::Protocol`.
    ///
    /// ```
    /// use edgepool::snmp::v3::{MessageV3, ScopedData, ScopedPdu, UsmParams, USM};
    /// use edgepool::snmp::{oid, Pdu, PduKind};
    /// let msg = MessageV3 {
    ///     msg_id: 1,
    ///     max_size: 65507,
    ///     flags: MessageV3::REPORTABLE,
    ///     security_model: USM,
    ///     usm: UsmParams::default(),
    ///     data: ScopedData::Plain(ScopedPdu {
    ///         context_engine_id: vec![],
    ///         context_name: vec![],
    ///         pdu: Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME]),
    ///     }),
    /// };
    /// let mut bytes = Vec::new();
    /// msg.encode(&mut bytes);
    /// assert_eq!(MessageV3::decode(&bytes)?, Some((msg, bytes.len())));
    /// // Cut short: incomplete, not an error.
    /// assert_eq!(MessageV3::decode(&bytes[..10])?, None);
    /// // A v2c message (version 1) is refused.
    /// assert!(MessageV3::decode(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn decode(buf: &[u8]) -> Result<Option<(MessageV3, usize)>> {
        let Some(layout) = Layout::parse(buf)? else {
            return Ok(None);
        };
        let mut r = Reader::new(&buf[layout.header.clone()]);
        let msg_id = int31(&mut r, "msgID")?;
        let max_size = int31(&mut r, "msgMaxSize")?;
        if max_size < 484 {
            return Err(BerError::MaxSizeTooSmall(max_size));
        }
        let flags = match r.octets()? {
            [f] => *f,
            _ => return Err(BerError::BadFlags),
        };
        if flags & MessageV3::PRIV != 0 && flags & MessageV3::AUTH == 0 {
            return Err(BerError::BadFlags);
        }
        let security_model = int31(&mut r, "msgSecurityModel")?;
        if !r.is_empty() {
            return Err(BerError::TrailingBytes {
                after: "msgSecurityModel",
            });
        }
        if security_model != USM {
            return Err(BerError::UnsupportedSecurityModel(security_model));
        }
        let usm = UsmParams::decode(&buf[layout.security.clone()])?;
        if (flags & MessageV3::PRIV != 0) != (layout.data_tag == tag::OCTET_STRING) {
            return Err(BerError::BadFlags);
        }
        let data = match layout.data_tag {
            tag::SEQUENCE => {
                let (s, used) = ScopedPdu::decode_prefix(&buf[layout.data.clone()])?;
                if used != layout.data.len() {
                    return Err(BerError::TrailingBytes {
                        after: "the ScopedPDU",
                    });
                }
                ScopedData::Plain(s)
            }
            _ => ScopedData::Encrypted(buf[layout.data_value.clone()].to_vec()),
        };
        Ok(Some((
            MessageV3 {
                msg_id,
                max_size,
                flags,
                security_model,
                usm,
                data,
            },
            layout.used,
        )))
    }
}

impl UsmParams {
    fn decode(buf: &[u8]) -> Result<UsmParams> {
        let mut outer = Reader::new(buf);
        let mut r = outer.nested(tag::SEQUENCE)?;
        if !outer.is_empty() {
            return Err(BerError::TrailingBytes {
                after: "UsmSecurityParameters",
            });
        }
        let engine_id = bounded(r.octets()?, MAX_ID, "msgAuthoritativeEngineID")?.to_vec();
        let engine_boots = int31(&mut r, "msgAuthoritativeEngineBoots")? as u32;
        let engine_time = int31(&mut r, "msgAuthoritativeEngineTime")? as u32;
        let user_name = bounded(r.octets()?, MAX_ID, "msgUserName")?.to_vec();
        let auth_params =
            bounded(r.octets()?, MAX_AUTH_PARAMS, "msgAuthenticationParameters")?.to_vec();
        let priv_params = bounded(r.octets()?, 8, "msgPrivacyParameters")?.to_vec();
        if !r.is_empty() {
            return Err(BerError::TrailingBytes {
                after: "msgPrivacyParameters",
            });
        }
        Ok(UsmParams {
            engine_id,
            engine_boots,
            engine_time,
            user_name,
            auth_params,
            priv_params,
        })
    }
}

/// Where the parts of an encoded message are (byte ranges into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Contents of msgGlobalData.
    pub header: Range<usize>,
    /// Contents of msgSecurityParameters (the USM SEQUENCE, whole).
    pub security: Range<usize>,
    /// Contents of msgAuthenticationParameters.
    pub auth_params: Range<usize>,
    /// Tag of msgData (SEQUENCE or OCTET STRING).
    pub data_tag: u8,
    /// msgData, whole TLV.
    pub data: Range<usize>,
    /// msgData's value.
    pub data_value: Range<usize>,
    /// Bytes of the whole message.
    pub used: usize,
}

impl Layout {
    /// Finds the parts without copying anything: `None` when `buf` ends
    /// inside the message.
    pub(crate) fn parse(buf: &[u8]) -> Result<Option<Layout>> {
        let Some((start, len)) = ber::sequence(buf)? else {
            return Ok(None);
        };
        let end = start + len;
        let mut pos = start;
        let (version, p) = tlv_at(buf, pos, end)?;
        pos = p;
        if version.0 != tag::INTEGER {
            return Err(BerError::UnexpectedTag {
                expected: tag::INTEGER,
                found: version.0,
            });
        }
        match ber::decode_i64(&buf[version.1.clone()])? {
            3 => {}
            v => return Err(BerError::UnexpectedVersion(v)),
        }
        let (header, p) = tlv_at(buf, pos, end)?;
        pos = p;
        if header.0 != tag::SEQUENCE {
            return Err(BerError::UnexpectedTag {
                expected: tag::SEQUENCE,
                found: header.0,
            });
        }
        let (security, p) = tlv_at(buf, pos, end)?;
        pos = p;
        if security.0 != tag::OCTET_STRING {
            return Err(BerError::UnexpectedTag {
                expected: tag::OCTET_STRING,
                found: security.0,
            });
        }
        let (data, p) = tlv_at(buf, pos, end)?;
        if p != end {
            return Err(BerError::TrailingBytes { after: "msgData" });
        }
        if data.0 != tag::SEQUENCE && data.0 != tag::OCTET_STRING {
            return Err(BerError::UnknownTag {
                what: "msgData",
                found: data.0,
            });
        }
        // Inside the security parameters: SEQUENCE { engineID, boots, time,
        // user, auth params, … }.
        let sp = security.1.clone();
        let (seq, _) = tlv_at(buf, sp.start, sp.end)?;
        if seq.0 != tag::SEQUENCE {
            return Err(BerError::UnexpectedTag {
                expected: tag::SEQUENCE,
                found: seq.0,
            });
        }
        let mut q = seq.1.start;
        for _ in 0..4 {
            q = tlv_at(buf, q, seq.1.end)?.1;
        }
        let (auth, _) = tlv_at(buf, q, seq.1.end)?;
        if auth.0 != tag::OCTET_STRING {
            return Err(BerError::UnexpectedTag {
                expected: tag::OCTET_STRING,
                found: auth.0,
            });
        }
        Ok(Some(Layout {
            header: header.1,
            security: sp,
            auth_params: auth.1,
            data_tag: data.0,
            data: data.2,
            data_value: data.1,
            used: end,
        }))
    }
}

/// The TLV at `pos`, which must end by `end`: (tag, value range, whole
/// range) and the position after it.
type Tlv = (u8, Range<usize>, Range<usize>);

fn tlv_at(buf: &[u8], pos: usize, end: usize) -> Result<(Tlv, usize)> {
    let within = buf.get(..end).ok_or(BerError::Truncated)?;
    let (t, start, len) = ber::header(within, pos)?.ok_or(BerError::Truncated)?;
    Ok(((t, start..start + len, pos..start + len), start + len))
}

fn int31(r: &mut Reader<'_>, what: &'static str) -> Result<i32> {
    let v = r.integer()?;
    i32::try_from(v)
        .ok()
        .filter(|v| *v >= 0)
        .ok_or(BerError::IntegerOverflow { what })
}

fn bounded<'a>(v: &'a [u8], max: usize, what: &'static str) -> Result<&'a [u8]> {
    if v.len() > max {
        return Err(BerError::TooLarge {
            what,
            len: v.len() as u32,
            max: max as u32,
        });
    }
    Ok(v)
}

/// Appends a ScopedPDU from its parts.
pub(crate) fn encode_scoped(
    out: &mut Vec<u8>,
    context_engine_id: &[u8],
    context_name: &[u8],
    pdu: &Pdu,
) {
    ber::write_tlv(out, tag::SEQUENCE, |o| {
        ber::write_bytes(o, tag::OCTET_STRING, context_engine_id);
        ber::write_bytes(o, tag::OCTET_STRING, context_name);
        pdu.encode(o);
    });
}

/// Appends a message from its parts; `data` writes msgData (the ScopedPDU
/// SEQUENCE or the encrypted OCTET STRING).
pub(crate) fn encode_message(
    out: &mut Vec<u8>,
    msg_id: i32,
    max_size: i32,
    flags: u8,
    security_model: i32,
    usm: &UsmParams,
    data: impl FnOnce(&mut Vec<u8>),
) {
    ber::write_tlv(out, tag::SEQUENCE, |o| {
        ber::write_i64(o, tag::INTEGER, 3);
        ber::write_tlv(o, tag::SEQUENCE, |o| {
            ber::write_i64(o, tag::INTEGER, i64::from(msg_id));
            ber::write_i64(o, tag::INTEGER, i64::from(max_size));
            ber::write_bytes(o, tag::OCTET_STRING, &[flags]);
            ber::write_i64(o, tag::INTEGER, i64::from(security_model));
        });
        ber::write_tlv(o, tag::OCTET_STRING, |o| {
            ber::write_tlv(o, tag::SEQUENCE, |o| {
                ber::write_bytes(o, tag::OCTET_STRING, &usm.engine_id);
                ber::write_i64(o, tag::INTEGER, i64::from(usm.engine_boots));
                ber::write_i64(o, tag::INTEGER, i64::from(usm.engine_time));
                ber::write_bytes(o, tag::OCTET_STRING, &usm.user_name);
                ber::write_bytes(o, tag::OCTET_STRING, &usm.auth_params);
                ber::write_bytes(o, tag::OCTET_STRING, &usm.priv_params);
            });
        });
        data(o);
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::snmp::{oid, PduKind, Value, VarBind};

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Datagrams net-snmp 5.9.3 (Debian 12) exchanged with its own snmpd on
    /// loopback, from `snmpget -d -v3 …` (engine ID
    /// 80001f8880e9bd0c1d12667a5100000000 set with `exactEngineID`; users
    /// from `createUser` lines, see tests/snmp_v3.rs).
    pub(crate) const CAPTURED: &[(&str, &str)] = &[
        ("discovery sending", "303e02010330110204091b59b7020300ffe30401040201030410300e0400020100020100040004000400301404000400a00e0204719d61d00201000201003000"),
        ("discovery report", "307102010330110204091b59b7020300ffe30401000201030421301f041180001f8880e9bd0c1d12667a51000000000201010201220400040004003036041180001f8880e9bd0c1d12667a51000000000400a81f0204719d61d00201000201003011300f060a2b060106030f0101040041010c"),
        ("sha_aes sending", "30818a02010330110204091b59b6020300ffe3040107020103043b3039041180001f8880e9bd0c1d12667a51000000000201010201220406736861616573040ce6d9d96be46d404a6297df59040809f15b0d5d9c40560435ade99892f215a294c3589f7b1f7d92e56bdb6200cb7d67d8f6ae31ceb758c55b9d3ec6752f64e20e129994426ae2772126f089be29"),
        ("sha_aes received", "30819b02010330110204091b59b6020300ffe3040103020103043b3039041180001f8880e9bd0c1d12667a51000000000201010201220406736861616573040cadcd5fac60985b691b7b85500408a48e82fbc8e08bac044679623117a22980043dc44643ea18508b721f0018fd644e369657aa391b620c7ea544de385b0493a66b5da4c62299cdc8ef68e75e1c370c2122748731432d06cfc3d749faac79"),
        ("md5_des sending", "30818d0201033011020409ca9e73020300ffe3040107020103043b3039041180001f8880e9bd0c1d12667a510000000002010102012204066d6435646573040ca2e0068812c94295a289ddcb040800000001d534117104387287256e3210d5bc75dd8cd3747d0f6035cfd505e9fc8a681b6c53ec90ed616b9bd71af1953947b41f7b307d1034863aa40f1283115bda7f"),
        ("md5_des received", "30819d0201033011020409ca9e73020300ffe3040103020103043b3039041180001f8880e9bd0c1d12667a510000000002010102012204066d6435646573040ca46cce7f9209075eb299b2b4040800000001c2990d7a0448cf0373c8747e21299c8a0d6b96c70ec5aabef70fb91a644536e9c48acddc8b2b2bd4875c170af63d261fce356bb0806bb7929381a21b1d4864819f75367b1261f125f4ea730dab66"),
        ("sha256 sending", "30818d020103301102044bdc3bbb020300ffe30401050201030440303e041180001f8880e9bd0c1d12667a5100000000020101020122040773686132353675041896dec0049a2f3e06e7d94dec2ebf35146e0e971383e1992c04003033041180001f8880e9bd0c1d12667a51000000000400a01c0204202f8f37020100020100300e300c06082b060102010106000500"),
        ("sha256 received", "30819e020103301102044bdc3bbb020300ffe30401010201030440303e041180001f8880e9bd0c1d12667a510000000002010102012204077368613235367504188093ebc8524cb63a89271cda1c10cf31762ce2933bb105c404003044041180001f8880e9bd0c1d12667a51000000000400a22d0204202f8f37020100020100301f301d06082b06010201010600041165646765706f6f6c2d746573742d6c6162"),
        ("sha512_aes received", "3081c20201033011020458b5d2e4020300ffe304010302010304623060041180001f8880e9bd0c1d12667a51000000000201010201220409736861353132616573043004e8336cd5997da24f9e7bedd39c32917a627fd6fb9d009e08c35685a6140ea0f930fc5b7289bd30e44db4c530b2b15a0408a48e82fbc8e08bad0446a228a165d71c99f012848e8a1e6aa981467f7e84cc4d27e832a014116a7dc0d9f5504eb3f728fae018041ba15d026bebbf0fc947a04d0e5e218791e4cc2b2afe08ef355e99e3"),
        ("wrong digest report", "30780201033011020466d9358a020300ffe304010002010304283026041180001f8880e9bd0c1d12667a5100000000020101020122040773686132353675040004003036041180001f8880e9bd0c1d12667a51000000000400a81f0204731d10870201000201003011300f060a2b060106030f01010500410102"),
        ("unknown user sending", "30780201033011020442716670020300ffe3040104020103042b3029041180001f8880e9bd0c1d12667a5100000000020101020122040a6e6f7375636875736572040004003033041180001f8880e9bd0c1d12667a51000000000400a01c020467778139020100020100300e300c06082b060102010106000500"),
        ("unknown user report", "307b0201033011020442716670020300ffe3040100020103042b3029041180001f8880e9bd0c1d12667a5100000000020101020122040a6e6f7375636875736572040004003036041180001f8880e9bd0c1d12667a51000000000400a81f0204677781390201000201003011300f060a2b060106030f01010300410102"),
        // gosnmp's v3_usm_test.go: net-snmp's snmpget against
        // demo.snmplabs.com, SHA-224 and SHA-512, password "authkey1".
        ("gosnmp sha224", "308184020103300e02025f84020205c0040105020103043f303d040e80004fb805636c6f75644dab22cc02012b0203203ea5040f7573722d7368613232342d6e6f6e65041066cd2d9b04cd48b02a9df0c77dc3415d0400302e040e80004fb805636c6f75644dab22cc0400a01a02023ced020100020100300e300c06082b060102010101000500"),
        ("gosnmp sha512", "3081a4020103300e0202366e020205c0040105020103045f305d040e80004fb805636c6f75644dab22cc02012b0203203eea040f7573722d7368613531322d6e6f6e65043026f8087ced336a394642b8698eba9810929a9bfa44afbf43975a7ad6c4cc55bd279b549a77ec56d791467612747d6f570400302e040e80004fb805636c6f75644dab22cc0400a01a020214d9020100020100300e300c06082b060102010101000500"),
    ];

    pub(crate) fn captured(name: &str) -> Vec<u8> {
        let (_, h) = CAPTURED.iter().find(|(n, _)| *n == name).unwrap();
        unhex(h)
    }

    #[test]
    fn captured_messages_decode_and_encode_back_byte_for_byte() {
        for (name, h) in CAPTURED {
            let bytes = unhex(h);
            let (msg, used) = MessageV3::decode(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap();
            assert_eq!(used, bytes.len(), "{name}");
            let mut out = Vec::new();
            msg.encode(&mut out);
            assert_eq!(out, bytes, "{name}");
        }
    }

    #[test]
    fn discovery_probe_and_report_fields() {
        let (m, _) = MessageV3::decode(&captured("discovery sending"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.msg_id, m.max_size, m.flags),
            (0x091b59b7, 65507, MessageV3::REPORTABLE)
        );
        assert_eq!(m.usm, UsmParams::default());
        match &m.data {
            ScopedData::Plain(s) => {
                assert_eq!((s.pdu.kind, s.pdu.request_id), (PduKind::Get, 0x719d61d0));
                assert!(s.pdu.varbinds.is_empty() && s.context_engine_id.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let (r, _) = MessageV3::decode(&captured("discovery report"))
            .unwrap()
            .unwrap();
        assert_eq!(r.flags, 0);
        assert_eq!(r.usm.engine_id, unhex("80001f8880e9bd0c1d12667a5100000000"));
        assert_eq!((r.usm.engine_boots, r.usm.engine_time), (1, 34));
        let ScopedData::Plain(s) = &r.data else {
            panic!()
        };
        assert_eq!(s.pdu.kind, PduKind::Report);
        assert_eq!(
            s.pdu.varbinds,
            vec![VarBind::new(
                "1.3.6.1.6.3.15.1.1.4.0".parse().unwrap(),
                Value::Counter32(12)
            )]
        );
        let (a, _) = MessageV3::decode(&captured("sha256 received"))
            .unwrap()
            .unwrap();
        assert_eq!(a.flags, MessageV3::AUTH);
        let ScopedData::Plain(s) = &a.data else {
            panic!()
        };
        assert_eq!(s.pdu.varbinds[0].oid, oid::SYS_LOCATION);
        let (e, _) = MessageV3::decode(&captured("sha_aes received"))
            .unwrap()
            .unwrap();
        assert_eq!(e.flags, MessageV3::AUTH | MessageV3::PRIV);
        assert!(matches!(e.data, ScopedData::Encrypted(ref b) if b.len() == 70));
        assert_eq!(e.usm.priv_params, unhex("a48e82fbc8e08bac"));
    }

    #[test]
    fn the_layout_finds_the_auth_params() {
        for name in [
            "sha_aes received",
            "md5_des sending",
            "sha256 received",
            "gosnmp sha512",
        ] {
            let bytes = captured(name);
            let layout = Layout::parse(&bytes).unwrap().unwrap();
            let (m, _) = MessageV3::decode(&bytes).unwrap().unwrap();
            assert_eq!(
                bytes[layout.auth_params.clone()],
                m.usm.auth_params[..],
                "{name}"
            );
        }
    }

    #[test]
    fn every_truncation_is_incomplete_or_an_error_never_a_panic() {
        for (name, h) in CAPTURED {
            let bytes = unhex(h);
            for cut in 0..bytes.len() {
                assert!(
                    matches!(MessageV3::decode(&bytes[..cut]), Ok(None)),
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn corrupted_messages_never_panic() {
        for (_, h) in CAPTURED {
            let bytes = unhex(h);
            for i in 0..bytes.len() {
                for x in [0x00u8, 0x01, 0x7f, 0x80, 0x81, 0x84, 0xff] {
                    let mut b = bytes.clone();
                    b[i] = x;
                    let _ = MessageV3::decode(&b);
                    let _ = Layout::parse(&b);
                    let _ = ScopedPdu::decode_prefix(&b[i..]);
                }
            }
        }
    }

    #[test]
    fn hostile_fields_are_refused() {
        let ok = captured("discovery report");
        // v2c where v3 is expected.
        assert!(MessageV3::decode(&unhex("3003020101")).is_err());
        // Privacy without authentication (flags 0x02).
        let mut b = ok.clone();
        let at = b.windows(3).position(|w| w == [0x04, 0x01, 0x00]).unwrap();
        b[at + 2] = 0x02;
        assert!(MessageV3::decode(&b).is_err());
        // Another security model.
        let mut b = ok.clone();
        let at = b
            .windows(4)
            .position(|w| w == [0x00, 0x02, 0x01, 0x03])
            .unwrap();
        b[at + 3] = 0x02;
        assert!(MessageV3::decode(&b).is_err());
        // A negative msgID.
        let mut b = ok.clone();
        b[9] = 0x89;
        assert!(MessageV3::decode(&b).is_err());
        // An engine ID over 32 bytes.
        let mut m = MessageV3::decode(&ok).unwrap().unwrap().0;
        m.usm.engine_id = vec![1; 33];
        let mut out = Vec::new();
        m.encode(&mut out);
        assert!(MessageV3::decode(&out).is_err());
    }
}
