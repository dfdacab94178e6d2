//! A community-based (v1/v2c) [`Message`] and what it carries ([`Body`]:
//! a [`Pdu`] or a v1 [`TrapV1`]). Sans-IO: [`Message::encode`] and
//! [`Message::decode`].

use super::ber::{self, tag, BerError, Reader};
use super::oid::Oid;
use super::pdu::{decode_varbinds, encode_varbinds, int32, Pdu, PduKind, Version, TRAP_V1};
use super::value::VarBind;
use std::fmt;

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;

/// A v1 Trap-PDU.
///
/// ```
/// use edgepool::snmp::{oid, Body, Message, TrapV1, Value, VarBind, Version};
/// let trap = TrapV1 {
///     enterprise: "1.3.6.1.4.1.8072.2.3".parse()?,
///     agent_addr: [127, 0, 0, 1],
///     generic_trap: 6, // enterpriseSpecific
///     specific_trap: 17,
///     timestamp: 12345,
///     varbinds: vec![VarBind::new(oid::SYS_NAME, Value::OctetString(b"gw".to_vec()))],
/// };
/// let msg = Message {
///     version: Version::V1,
///     community: b"public".to_vec(),
///     body: Body::TrapV1(trap),
/// };
/// let mut bytes = Vec::new();
/// msg.encode(&mut bytes);
/// // Byte for byte what net-snmp's `snmptrap -v1` sends for the same trap.
/// assert_eq!(
///     bytes,
///     [
///         0x30, 0x3a, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
///         0xa4, 0x2d, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03,
///         0x40, 0x04, 0x7f, 0x00, 0x00, 0x01, 0x02, 0x01, 0x06, 0x02, 0x01, 0x11,
///         0x43, 0x02, 0x30, 0x39, 0x30, 0x10, 0x30, 0x0e,
///         0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x04, 0x02, b'g', b'w',
///     ]
/// );
/// assert_eq!(Message::decode(&bytes)?, Some((msg, bytes.len())));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapV1 {
    /// enterprise.
    pub enterprise: Oid,
    /// agent-addr.
    pub agent_addr: [u8; 4],
    /// generic-trap.
    pub generic_trap: i32,
    /// specific-trap.
    pub specific_trap: i32,
    /// time-stamp.
    pub timestamp: u32,
    /// The variable bindings.
    pub varbinds: Vec<VarBind>,
}

/// What a v1/v2c message carries.
///
/// ```
/// use edgepool::snmp::{oid, Body, Pdu, PduKind};
/// let body = Body::Pdu(Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME]));
/// match &body {
///     Body::Pdu(pdu) => assert_eq!(pdu.kind, PduKind::Get),
///     Body::TrapV1(trap) => println!("v1 trap from {:?}", trap.agent_addr),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Any PDU but the v1 trap.
    Pdu(Pdu),
    /// A v1 trap.
    TrapV1(TrapV1),
}

/// A community-based (v1/v2c) SNMP message.
///
/// ```
/// use edgepool::snmp::{oid, Body, Message, Pdu, PduKind, Version};
/// let msg = Message {
///     version: Version::V2c,
///     community: b"public".to_vec(),
///     body: Body::Pdu(Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME])),
/// };
/// let mut bytes = Vec::new();
/// msg.encode(&mut bytes);
/// assert_eq!(Message::decode(&bytes)?, Some((msg, bytes.len())));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// V1 or V2c.
    pub version: Version,
    /// The community string (a secret: not shown in `Debug`).
    pub community: Vec<u8>,
    /// The PDU.
    pub body: Body,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("version", &self.version)
            .field("community", &"<redacted>")
            .field("body", &self.body)
            .finish()
    }
}

impl Message {
    /// Appends the message's BER encoding.
    ///
    /// ```
    /// use edgepool::snmp::{oid, Body, Message, Pdu, PduKind, Version};
    /// let msg = Message {
    ///     version: Version::V2c,
    ///     community: b"public".to_vec(),
    ///     body: Body::Pdu(Pdu::request(PduKind::Get, 0x532ffcba, &[oid::SYS_UPTIME])),
    /// };
    /// let mut out = Vec::new();
    /// msg.encode(&mut out);
    /// // Byte for byte what net-snmp's `snmpget -v2c -c public … sysUpTime.0` sends.
    /// assert_eq!(
    ///     out,
    ///     [
    ///         0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
    ///         0xa0, 0x1c, 0x02, 0x04, 0x53, 0x2f, 0xfc, 0xba, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    ///         0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00,
    ///         0x05, 0x00,
    ///     ]
    /// );
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        ber::write_tlv(out, tag::SEQUENCE, |o| {
            ber::write_i64(o, tag::INTEGER, self.version.number());
            ber::write_bytes(o, tag::OCTET_STRING, &self.community);
            match &self.body {
                Body::Pdu(p) => p.encode(o),
                Body::TrapV1(t) => ber::write_tlv(o, TRAP_V1, |o| {
                    ber::write_oid(o, t.enterprise.arcs());
                    ber::write_bytes(o, tag::IP_ADDRESS, &t.agent_addr);
                    ber::write_i64(o, tag::INTEGER, i64::from(t.generic_trap));
                    ber::write_i64(o, tag::INTEGER, i64::from(t.specific_trap));
                    ber::write_u64(o, tag::TIMETICKS, u64::from(t.timestamp));
                    encode_varbinds(o, &t.varbinds);
                }),
            }
        });
    }

    /// Decodes a message from the front of `buf`: `Ok(None)` when `buf` holds
    /// only part of it, `Ok(Some((message, used)))`, or `Error::Protocol`.
    /// Over UDP a datagram is whole, so `None` means a truncated datagram.
    ///
    /// ```
    /// use edgepool::snmp::{oid, Body, Message, PduKind, Value, Version};
    /// // net-snmp's snmpd answering GET sysUpTime.0 (v2c, community "public").
    /// let bytes = [
    ///     0x30, 0x2b, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
    ///     0xa2, 0x1e, 0x02, 0x04, 0x53, 0x2f, 0xfc, 0xba, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    ///     0x30, 0x10, 0x30, 0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00,
    ///     0x43, 0x02, 0x0a, 0x2f,
    /// ];
    /// let (msg, used) = Message::decode(&bytes)?.expect("a whole message");
    /// assert_eq!((msg.version, used), (Version::V2c, bytes.len()));
    /// let Body::Pdu(pdu) = msg.body else { unreachable!("not a v1 trap") };
    /// assert_eq!((pdu.kind, pdu.request_id), (PduKind::Response, 0x532ffcba));
    /// assert_eq!(pdu.varbinds[0].oid, oid::SYS_UPTIME);
    /// assert_eq!(pdu.varbinds[0].value, Value::TimeTicks(2607));
    /// // Cut short: incomplete, not an error.
    /// assert_eq!(Message::decode(&bytes[..20])?, None);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>> {
        let Some((start, len)) = ber::sequence(buf)? else {
            return Ok(None);
        };
        let used = start + len;
        let mut r = Reader::new(&buf[start..used]);
        let version = match r.integer()? {
            0 => Version::V1,
            1 => Version::V2c,
            3 => Version::V3,
            v => return Err(BerError::UnexpectedVersion(v)),
        };
        if version == Version::V3 {
            return Err(BerError::UnexpectedVersion(3));
        }
        let community = r.octets()?.to_vec();
        let (pt, pv) = r.tlv()?;
        if !r.is_empty() {
            return Err(BerError::TrailingBytes { after: "the PDU" });
        }
        let mut p = Reader::new(pv);
        let body = if pt == TRAP_V1 {
            let enterprise = Oid::new(ber::decode_oid(p.expect(tag::OID)?)?);
            let addr = p.expect(tag::IP_ADDRESS)?;
            let agent_addr = addr
                .try_into()
                .map_err(|_| BerError::BadAddress { len: addr.len() })?;
            let generic_trap = int32(&mut p, "generic-trap")?;
            let specific_trap = int32(&mut p, "specific-trap")?;
            let timestamp = ber::decode_u32(p.expect(tag::TIMETICKS)?)?;
            let varbinds = decode_varbinds(&mut p)?;
            Body::TrapV1(TrapV1 {
                enterprise,
                agent_addr,
                generic_trap,
                specific_trap,
                timestamp,
                varbinds,
            })
        } else {
            let kind = PduKind::from_tag(pt).ok_or(BerError::UnknownTag {
                what: "PDU",
                found: pt,
            })?;
            let request_id = int32(&mut p, "request-id")?;
            let error_status = int32(&mut p, "error-status")?;
            let error_index = int32(&mut p, "error-index")?;
            let varbinds = decode_varbinds(&mut p)?;
            Body::Pdu(Pdu {
                kind,
                request_id,
                error_status,
                error_index,
                varbinds,
            })
        };
        if !p.is_empty() {
            return Err(BerError::TrailingBytes { after: "the PDU" });
        }
        Ok(Some((
            Message {
                version,
                community,
                body,
            },
            used,
        )))
    }
}
