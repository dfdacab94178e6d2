//! [`Pdu`]s (request, response, report, v2 trap), their [`PduKind`], and the
//! message [`Version`].

use super::ber::{self, tag, BerError, Reader};
use super::oid::Oid;
use super::value::{Value, VarBind};

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;

/// The SNMP version of a message.
///
/// ```
/// assert_eq!(edgepool::snmp::Version::default(), edgepool::snmp::Version::V2c);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// SNMPv1 (RFC 1157).
    V1,
    /// SNMPv2c (RFC 1901).
    #[default]
    V2c,
    /// SNMPv3 (RFC 3412).
    V3,
}

impl Version {
    pub(super) fn number(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
            Version::V3 => 3,
        }
    }
}

/// The kind of a PDU (its context tag).
///
/// ```
/// assert_eq!(edgepool::snmp::PduKind::GetBulk.tag(), 0xa5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PduKind {
    /// GetRequest.
    Get,
    /// GetNextRequest.
    GetNext,
    /// Response (v1: GetResponse).
    Response,
    /// SetRequest.
    Set,
    /// GetBulkRequest (v2c+); `error_status` is non-repeaters and
    /// `error_index` max-repetitions.
    GetBulk,
    /// InformRequest.
    Inform,
    /// SNMPv2-Trap.
    TrapV2,
    /// Report (v3).
    Report,
}

impl PduKind {
    /// The BER tag.
    ///
    /// ```
    /// use edgepool::snmp::PduKind;
    /// assert_eq!(PduKind::Get.tag(), 0xa0);
    /// assert_eq!(PduKind::Response.tag(), 0xa2);
    /// ```
    pub fn tag(self) -> u8 {
        match self {
            PduKind::Get => 0xa0,
            PduKind::GetNext => 0xa1,
            PduKind::Response => 0xa2,
            PduKind::Set => 0xa3,
            PduKind::GetBulk => 0xa5,
            PduKind::Inform => 0xa6,
            PduKind::TrapV2 => 0xa7,
            PduKind::Report => 0xa8,
        }
    }

    pub(super) fn from_tag(t: u8) -> Option<PduKind> {
        Some(match t {
            0xa0 => PduKind::Get,
            0xa1 => PduKind::GetNext,
            0xa2 => PduKind::Response,
            0xa3 => PduKind::Set,
            0xa5 => PduKind::GetBulk,
            0xa6 => PduKind::Inform,
            0xa7 => PduKind::TrapV2,
            0xa8 => PduKind::Report,
            _ => return None,
        })
    }
}

/// Tag of the v1 Trap-PDU.
pub(super) const TRAP_V1: u8 = 0xa4;

/// A request, response, report or v2 trap PDU.
///
/// ```
/// use edgepool::snmp::{oid, Pdu, PduKind};
/// let pdu = Pdu::request(PduKind::Get, 42, &[oid::SYS_UPTIME]);
/// assert_eq!(pdu.varbinds.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// Which PDU.
    pub kind: PduKind,
    /// Matches a response to its request.
    pub request_id: i32,
    /// error-status (GetBulk: non-repeaters).
    pub error_status: i32,
    /// error-index (GetBulk: max-repetitions).
    pub error_index: i32,
    /// The variable bindings.
    pub varbinds: Vec<VarBind>,
}

impl Pdu {
    /// A request for `oids`, with NULL values.
    ///
    /// ```
    /// use edgepool::snmp::{oid, Pdu, PduKind, Value};
    /// let pdu = Pdu::request(PduKind::GetNext, 7, &[oid::SYS_NAME, oid::SYS_LOCATION]);
    /// assert_eq!((pdu.request_id, pdu.error_status, pdu.error_index), (7, 0, 0));
    /// assert_eq!(pdu.varbinds[1].oid, oid::SYS_LOCATION);
    /// assert!(pdu.varbinds.iter().all(|vb| vb.value == Value::Null));
    /// ```
    pub fn request(kind: PduKind, request_id: i32, oids: &[Oid]) -> Pdu {
        Pdu {
            kind,
            request_id,
            error_status: 0,
            error_index: 0,
            varbinds: oids
                .iter()
                .map(|o| VarBind::new(o.clone(), Value::Null))
                .collect(),
        }
    }

    /// Appends the PDU's BER encoding.
    ///
    /// ```
    /// use edgepool::snmp::{oid, Pdu, PduKind};
    /// let mut out = Vec::new();
    /// Pdu::request(PduKind::Get, 0x532ffcba, &[oid::SYS_UPTIME]).encode(&mut out);
    /// assert_eq!(
    ///     out,
    ///     [
    ///         0xa0, 0x1c, // GetRequest
    ///         0x02, 0x04, 0x53, 0x2f, 0xfc, 0xba, // request-id
    ///         0x02, 0x01, 0x00, 0x02, 0x01, 0x00, // error-status, error-index
    ///         0x30, 0x0e, 0x30, 0x0c, // varbind list, varbind
    ///         0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, // sysUpTime.0
    ///         0x05, 0x00, // NULL
    ///     ]
    /// );
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        ber::write_tlv(out, self.kind.tag(), |o| {
            ber::write_i64(o, tag::INTEGER, i64::from(self.request_id));
            ber::write_i64(o, tag::INTEGER, i64::from(self.error_status));
            ber::write_i64(o, tag::INTEGER, i64::from(self.error_index));
            encode_varbinds(o, &self.varbinds);
        });
    }

    /// Decodes a PDU (any but the v1 trap) from its tag and contents, as
    /// SNMPv3's ScopedPDU carries it.
    pub(crate) fn decode_tagged(pt: u8, contents: &[u8]) -> Result<Pdu> {
        let kind = PduKind::from_tag(pt).ok_or(BerError::UnknownTag {
            what: "PDU",
            found: pt,
        })?;
        let mut p = Reader::new(contents);
        let request_id = int32(&mut p, "request-id")?;
        let error_status = int32(&mut p, "error-status")?;
        let error_index = int32(&mut p, "error-index")?;
        let varbinds = decode_varbinds(&mut p)?;
        if !p.is_empty() {
            return Err(BerError::TrailingBytes { after: "the PDU" });
        }
        Ok(Pdu {
            kind,
            request_id,
            error_status,
            error_index,
            varbinds,
        })
    }
}

pub(super) fn encode_varbinds(out: &mut Vec<u8>, varbinds: &[VarBind]) {
    ber::write_tlv(out, tag::SEQUENCE, |o| {
        for vb in varbinds {
            ber::write_tlv(o, tag::SEQUENCE, |o| {
                ber::write_oid(o, vb.oid.arcs());
                vb.value.encode(o);
            });
        }
    });
}

pub(super) fn decode_varbinds(r: &mut Reader<'_>) -> Result<Vec<VarBind>> {
    let mut list = r.nested(tag::SEQUENCE)?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let mut vb = list.nested(tag::SEQUENCE)?;
        let oid = Oid::new(ber::decode_oid(vb.expect(tag::OID)?)?);
        let value = Value::decode(&mut vb)?;
        if !vb.is_empty() {
            return Err(BerError::TrailingBytes {
                after: "a variable binding",
            });
        }
        out.push(VarBind { oid, value });
    }
    Ok(out)
}

pub(super) fn int32(r: &mut Reader<'_>, what: &'static str) -> Result<i32> {
    i32::try_from(r.integer()?).map_err(|_| BerError::IntegerOverflow { what })
}
