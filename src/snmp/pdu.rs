//! SNMP messages (v1 and v2c) and their parts: [`Oid`], [`Value`], [`VarBind`],
//! [`Pdu`], [`Message`]. Sans-IO: [`Message::encode`] and [`Message::decode`].

use super::ber::{self, tag, BerError, Reader};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;

/// An object identifier, such as `1.3.6.1.2.1.1.3.0`.
///
/// ```
/// use edgepool::snmp::{oid, Oid};
/// let o: Oid = "1.3.6.1.2.1.1.3.0".parse()?;
/// assert_eq!(o, oid::SYS_UPTIME);
/// assert_eq!(o.to_string(), "1.3.6.1.2.1.1.3.0");
/// assert!(o.starts_with(&oid::SYSTEM));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Cow<'static, [u32]>);

impl Oid {
    /// An OID from a static slice (usable in `const`).
    ///
    /// ```
    /// const MY: edgepool::snmp::Oid = edgepool::snmp::Oid::from_static(&[1, 3, 6, 1, 4, 1, 99999]);
    /// assert_eq!(MY.len(), 7);
    /// ```
    pub const fn from_static(arcs: &'static [u32]) -> Oid {
        Oid(Cow::Borrowed(arcs))
    }

    /// An OID from its sub-identifiers.
    ///
    /// ```
    /// let o = edgepool::snmp::Oid::new(vec![1, 3, 6]);
    /// assert_eq!(o.to_string(), "1.3.6");
    /// ```
    pub fn new(arcs: Vec<u32>) -> Oid {
        Oid(Cow::Owned(arcs))
    }

    /// The sub-identifiers.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYSTEM.arcs(), &[1, 3, 6, 1, 2, 1, 1]);
    /// ```
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// A clone; for a static OID without a call.
    #[inline]
    fn clone_cheap(&self) -> Oid {
        match &self.0 {
            Cow::Borrowed(a) => Oid(Cow::Borrowed(a)),
            Cow::Owned(_) => self.clone(),
        }
    }

    /// Number of sub-identifiers.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_UPTIME.len(), 9);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty OID.
    ///
    /// ```
    /// assert!(!edgepool::snmp::oid::SYSTEM.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `prefix` is a prefix of this OID (or equal to it).
    ///
    /// ```
    /// use edgepool::snmp::oid;
    /// assert!(oid::SYS_DESCR.starts_with(&oid::SYSTEM));
    /// ```
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// This OID with `arc` appended.
    ///
    /// ```
    /// use edgepool::snmp::oid;
    /// assert_eq!(oid::SYSTEM.child(3).child(0), oid::SYS_UPTIME);
    /// ```
    pub fn child(&self, arc: u32) -> Oid {
        let mut v = self.0.to_vec();
        v.push(arc);
        Oid::new(v)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl FromStr for Oid {
    type Err = crate::Error;

    /// Parses dotted form; a leading dot is allowed.
    fn from_str(s: &str) -> crate::Result<Oid> {
        let t = s.strip_prefix('.').unwrap_or(s);
        let arcs: Option<Vec<u32>> = t.split('.').map(|p| p.parse::<u32>().ok()).collect();
        match arcs {
            Some(a)
                if a.len() >= 2
                    && a.len() <= ber::MAX_OID_LEN
                    && a[0] <= 2
                    && (a[0] == 2 || a[1] < 40) =>
            {
                Ok(Oid::new(a))
            }
            _ => Err(crate::Error::Config(format!("not an OID: {s:?}"))),
        }
    }
}

impl From<&[u32]> for Oid {
    fn from(arcs: &[u32]) -> Oid {
        Oid::new(arcs.to_vec())
    }
}

impl AsRef<[u32]> for Oid {
    fn as_ref(&self) -> &[u32] {
        &self.0
    }
}

/// Well-known OIDs: the MIB-2 system group.
///
/// ```
/// use edgepool::snmp::oid;
/// assert_eq!(oid::SYS_NAME.to_string(), "1.3.6.1.2.1.1.5.0");
/// assert!(oid::SYS_UPTIME.starts_with(&oid::SYSTEM));
/// assert_eq!(oid::SYSTEM.child(6).child(0), oid::SYS_LOCATION);
/// ```
pub mod oid {
    use super::Oid;

    /// `1.3.6.1.2.1.1`: the system group.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYSTEM.to_string(), "1.3.6.1.2.1.1");
    /// ```
    pub const SYSTEM: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1]);
    /// `sysDescr.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_DESCR.to_string(), "1.3.6.1.2.1.1.1.0");
    /// ```
    pub const SYS_DESCR: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 1, 0]);
    /// `sysObjectID.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_OBJECT_ID.to_string(), "1.3.6.1.2.1.1.2.0");
    /// ```
    pub const SYS_OBJECT_ID: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 2, 0]);
    /// `sysUpTime.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_UPTIME.to_string(), "1.3.6.1.2.1.1.3.0");
    /// ```
    pub const SYS_UPTIME: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 3, 0]);
    /// `sysContact.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_CONTACT.to_string(), "1.3.6.1.2.1.1.4.0");
    /// ```
    pub const SYS_CONTACT: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 4, 0]);
    /// `sysName.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_NAME.to_string(), "1.3.6.1.2.1.1.5.0");
    /// ```
    pub const SYS_NAME: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 5, 0]);
    /// `sysLocation.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_LOCATION.to_string(), "1.3.6.1.2.1.1.6.0");
    /// ```
    pub const SYS_LOCATION: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 6, 0]);
    /// `sysServices.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_SERVICES.to_string(), "1.3.6.1.2.1.1.7.0");
    /// ```
    pub const SYS_SERVICES: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 7, 0]);
    /// `sysORLastChange.0`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_OR_LAST_CHANGE.to_string(), "1.3.6.1.2.1.1.8.0");
    /// ```
    pub const SYS_OR_LAST_CHANGE: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 8, 0]);
    /// `sysORTable`.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_OR_TABLE.to_string(), "1.3.6.1.2.1.1.9");
    /// ```
    pub const SYS_OR_TABLE: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 9]);
}

/// A value in a variable binding: every SMI type and the v2 exceptions.
///
/// ```
/// use edgepool::snmp::Value;
/// assert_eq!(Value::TimeTicks(12345).to_string(), "Timeticks: (12345) 0:02:03.45");
/// assert_eq!(Value::OctetString(b"lab".to_vec()).to_string(), "STRING: \"lab\"");
/// ```
#[derive(Clone)]
pub enum Value {
    /// INTEGER (Integer32).
    Integer(i64),
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// NULL (what requests carry).
    Null,
    /// OBJECT IDENTIFIER.
    ObjectId(Oid),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks (hundredths of a second).
    TimeTicks(u32),
    /// Opaque (its contents, when not one of the typed forms below).
    Opaque(Vec<u8>),
    /// Opaque holding a float: the net-snmp/UCD extension (tag 0x9f78, 4
    /// bytes, big-endian IEEE 754), as in UCD-SNMP-MIB's `laLoadFloat`.
    /// Only that exact form is decoded so; [`Value::opaque_raw`] gives its
    /// bytes back.
    OpaqueFloat(f32),
    /// Opaque holding a double (tag 0x9f79, 8 bytes).
    OpaqueDouble(f64),
    /// Counter64.
    Counter64(u64),
    /// v2 exception: no such object.
    NoSuchObject,
    /// v2 exception: no such instance.
    NoSuchInstance,
    /// v2 exception: end of the MIB view.
    EndOfMibView,
}

impl Value {
    /// True for the three v2 exceptions.
    ///
    /// ```
    /// assert!(edgepool::snmp::Value::NoSuchObject.is_exception());
    /// ```
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }

    /// The bytes of an OCTET STRING or Opaque.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::Value::OctetString(b"x".to_vec()).as_bytes(), Some(&b"x"[..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::OctetString(b) | Value::Opaque(b) => Some(b),
            _ => None,
        }
    }

    /// The contents of an Opaque value as they travel: the raw bytes of
    /// [`Value::Opaque`], and the encoded float or double of
    /// [`Value::OpaqueFloat`] / [`Value::OpaqueDouble`].
    ///
    /// ```
    /// use edgepool::snmp::Value;
    /// assert_eq!(Value::OpaqueFloat(0.67).opaque_raw(), Some(vec![0x9f, 0x78, 0x04, 0x3f, 0x2b, 0x85, 0x1f]));
    /// assert_eq!(Value::Integer(1).opaque_raw(), None);
    /// ```
    pub fn opaque_raw(&self) -> Option<Vec<u8>> {
        match self {
            Value::Opaque(b) => Some(b.clone()),
            Value::OpaqueFloat(x) => {
                let mut v = vec![0x9f, OPAQUE_FLOAT, 4];
                v.extend_from_slice(&x.to_be_bytes());
                Some(v)
            }
            Value::OpaqueDouble(x) => {
                let mut v = vec![0x9f, OPAQUE_DOUBLE, 8];
                v.extend_from_slice(&x.to_be_bytes());
                Some(v)
            }
            _ => None,
        }
    }

    /// An Opaque-wrapped float or double as f64.
    ///
    /// ```
    /// use edgepool::snmp::Value;
    /// assert_eq!(Value::OpaqueDouble(2.5).as_f64(), Some(2.5));
    /// assert_eq!(Value::Integer(2).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::OpaqueFloat(x) => Some(f64::from(*x)),
            Value::OpaqueDouble(x) => Some(*x),
            _ => None,
        }
    }

    /// A numeric value as u64 (INTEGER ≥ 0, counters, gauges, time ticks).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::Value::TimeTicks(5).as_u64(), Some(5));
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Integer(i) => u64::try_from(*i).ok(),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => Some(u64::from(*v)),
            Value::Counter64(v) => Some(*v),
            _ => None,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Integer(i) => ber::write_i64(out, tag::INTEGER, *i),
            Value::OctetString(b) => ber::write_bytes(out, tag::OCTET_STRING, b),
            Value::Null => ber::write_bytes(out, tag::NULL, &[]),
            Value::ObjectId(o) => ber::write_oid(out, o.arcs()),
            Value::IpAddress(a) => ber::write_bytes(out, tag::IP_ADDRESS, a),
            Value::Counter32(v) => ber::write_u64(out, tag::COUNTER32, u64::from(*v)),
            Value::Gauge32(v) => ber::write_u64(out, tag::GAUGE32, u64::from(*v)),
            Value::TimeTicks(v) => ber::write_u64(out, tag::TIMETICKS, u64::from(*v)),
            Value::Opaque(b) => ber::write_bytes(out, tag::OPAQUE, b),
            Value::OpaqueFloat(_) | Value::OpaqueDouble(_) => {
                let raw = self.opaque_raw().unwrap_or_default();
                ber::write_bytes(out, tag::OPAQUE, &raw)
            }
            Value::Counter64(v) => ber::write_u64(out, tag::COUNTER64, *v),
            Value::NoSuchObject => ber::write_bytes(out, tag::NO_SUCH_OBJECT, &[]),
            Value::NoSuchInstance => ber::write_bytes(out, tag::NO_SUCH_INSTANCE, &[]),
            Value::EndOfMibView => ber::write_bytes(out, tag::END_OF_MIB_VIEW, &[]),
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Value> {
        let (t, v) = r.tlv()?;
        Value::from_tlv(t, v)
    }

    /// The value of a TLV with tag `t` and contents `v`.
    fn from_tlv(t: u8, v: &[u8]) -> Result<Value> {
        Ok(match t {
            tag::INTEGER => Value::Integer(ber::decode_i64(v)?),
            tag::OCTET_STRING => Value::OctetString(v.to_vec()),
            tag::NULL => Value::Null,
            tag::OID => Value::ObjectId(Oid::new(ber::decode_oid(v)?)),
            tag::IP_ADDRESS => Value::IpAddress(
                v.try_into()
                    .map_err(|_| BerError::BadAddress { len: v.len() })?,
            ),
            tag::COUNTER32 => Value::Counter32(ber::decode_u32(v)?),
            tag::GAUGE32 => Value::Gauge32(ber::decode_u32(v)?),
            tag::TIMETICKS => Value::TimeTicks(ber::decode_u32(v)?),
            tag::OPAQUE => decode_opaque(v),
            tag::COUNTER64 => Value::Counter64(ber::decode_u64(v, 9)?),
            tag::NO_SUCH_OBJECT => Value::NoSuchObject,
            tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
            tag::END_OF_MIB_VIEW => Value::EndOfMibView,
            other => {
                return Err(BerError::UnknownTag {
                    what: "value",
                    found: other,
                })
            }
        })
    }
}

/// The net-snmp/UCD Opaque extension tags (after 0x9f).
const OPAQUE_FLOAT: u8 = 0x78;
const OPAQUE_DOUBLE: u8 = 0x79;

/// An Opaque's contents: a float or double in the exact net-snmp form, raw
/// bytes otherwise.
fn decode_opaque(v: &[u8]) -> Value {
    match v {
        [0x9f, OPAQUE_FLOAT, 4, b @ ..] => match <[u8; 4]>::try_from(b) {
            Ok(b) => Value::OpaqueFloat(f32::from_be_bytes(b)),
            Err(_) => Value::Opaque(v.to_vec()),
        },
        [0x9f, OPAQUE_DOUBLE, 8, b @ ..] => match <[u8; 8]>::try_from(b) {
            Ok(b) => Value::OpaqueDouble(f64::from_be_bytes(b)),
            Err(_) => Value::Opaque(v.to_vec()),
        },
        _ => Value::Opaque(v.to_vec()),
    }
}

/// Floats compare (and hash) by their bits, so that `Value` is `Eq` and a
/// value equals itself (NaN included).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Integer(a), Integer(b)) => a == b,
            (OctetString(a), OctetString(b)) | (Opaque(a), Opaque(b)) => a == b,
            (ObjectId(a), ObjectId(b)) => a == b,
            (IpAddress(a), IpAddress(b)) => a == b,
            (Counter32(a), Counter32(b))
            | (Gauge32(a), Gauge32(b))
            | (TimeTicks(a), TimeTicks(b)) => a == b,
            (OpaqueFloat(a), OpaqueFloat(b)) => a.to_bits() == b.to_bits(),
            (OpaqueDouble(a), OpaqueDouble(b)) => a.to_bits() == b.to_bits(),
            (Counter64(a), Counter64(b)) => a == b,
            (Null, Null)
            | (NoSuchObject, NoSuchObject)
            | (NoSuchInstance, NoSuchInstance)
            | (EndOfMibView, EndOfMibView) => true,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Integer(i) => i.hash(state),
            Value::OctetString(b) | Value::Opaque(b) => b.hash(state),
            Value::ObjectId(o) => o.hash(state),
            Value::IpAddress(a) => a.hash(state),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => v.hash(state),
            Value::OpaqueFloat(x) => x.to_bits().hash(state),
            Value::OpaqueDouble(x) => x.to_bits().hash(state),
            Value::Counter64(v) => v.hash(state),
            Value::Null | Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView => {}
        }
    }
}

impl fmt::Display for Value {
    /// net-snmp's style (`STRING: "…"`, `INTEGER: 5`, `Timeticks: (n) d:hh:mm:ss.cc`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(i) => write!(f, "INTEGER: {i}"),
            Value::OctetString(b) => match std::str::from_utf8(b) {
                Ok(s)
                    if !s
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') =>
                {
                    write!(f, "STRING: {s:?}")
                }
                _ => write!(f, "Hex-STRING: {}", hex(b)),
            },
            Value::Null => f.write_str("NULL"),
            Value::ObjectId(o) => write!(f, "OID: {o}"),
            Value::IpAddress([a, b, c, d]) => write!(f, "IpAddress: {a}.{b}.{c}.{d}"),
            Value::Counter32(v) => write!(f, "Counter32: {v}"),
            Value::Gauge32(v) => write!(f, "Gauge32: {v}"),
            Value::TimeTicks(t) => {
                let cs = t % 100;
                let s = t / 100;
                let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
                if d > 0 {
                    write!(
                        f,
                        "Timeticks: ({t}) {d} day{}, {h}:{m:02}:{s:02}.{cs:02}",
                        if d == 1 { "" } else { "s" }
                    )
                } else {
                    write!(f, "Timeticks: ({t}) {h}:{m:02}:{s:02}.{cs:02}")
                }
            }
            Value::Opaque(b) => write!(f, "OPAQUE: {}", hex(b)),
            Value::OpaqueFloat(x) => write!(f, "Opaque: Float: {x:.6}"),
            Value::OpaqueDouble(x) => write!(f, "Opaque: Float: {x:.6}"), // as net-snmp prints it
            Value::Counter64(v) => write!(f, "Counter64: {v}"),
            Value::NoSuchObject => {
                f.write_str("No Such Object available on this agent at this OID")
            }
            Value::NoSuchInstance => f.write_str("No Such Instance currently exists at this OID"),
            Value::EndOfMibView => f.write_str(
                "No more variables left in this MIB View (It is past the end of the MIB tree)",
            ),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An OID and its value.
///
/// ```
/// use edgepool::snmp::{oid, Value, VarBind};
/// let vb = VarBind::new(oid::SYS_NAME, Value::OctetString(b"gw-7".to_vec()));
/// assert_eq!(vb.to_string(), "1.3.6.1.2.1.1.5.0 = STRING: \"gw-7\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct VarBind {
    /// The object.
    pub oid: Oid,
    /// Its value (NULL in requests).
    pub value: Value,
}

impl VarBind {
    /// A variable binding.
    ///
    /// ```
    /// let vb = edgepool::snmp::VarBind::new(edgepool::snmp::oid::SYS_UPTIME, edgepool::snmp::Value::Null);
    /// # let _ = vb;
    /// ```
    pub fn new(oid: Oid, value: Value) -> VarBind {
        VarBind { oid, value }
    }
}

impl fmt::Display for VarBind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.oid, self.value)
    }
}

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
    fn number(self) -> i64 {
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

    fn from_tag(t: u8) -> Option<PduKind> {
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
const TRAP_V1: u8 = 0xa4;

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

fn encode_varbinds(out: &mut Vec<u8>, varbinds: &[VarBind]) {
    ber::write_tlv(out, tag::SEQUENCE, |o| {
        for vb in varbinds {
            ber::write_tlv(o, tag::SEQUENCE, |o| {
                ber::write_oid(o, vb.oid.arcs());
                vb.value.encode(o);
            });
        }
    });
}

fn decode_varbinds(r: &mut Reader<'_>) -> Result<Vec<VarBind>> {
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

// ---- the lean v1/v2c request path ----------------------------------------

/// Bytes of `v` in base 128.
fn base128_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// The first sub-identifier and the rest, as `ber::write_oid` encodes them.
fn oid_parts(arcs: &[u32]) -> (u64, &[u32]) {
    match arcs {
        [a, b, rest @ ..] => (u64::from(*a) * 40 + u64::from(*b), rest),
        [a] => (u64::from(*a) * 40, &[][..]),
        [] => (0, &[][..]),
    }
}

/// An INTEGER's shortest two's-complement bytes (as `ber::write_i64`).
fn int_bytes(v: i32) -> ([u8; 4], usize) {
    let b = v.to_be_bytes();
    let mut skip = 0;
    while skip < 3
        && ((b[skip] == 0 && b[skip + 1] & 0x80 == 0)
            || (b[skip] == 0xff && b[skip + 1] & 0x80 != 0))
    {
        skip += 1;
    }
    (b, skip)
}

/// Appends a v1/v2c request for `oids` (NULL values): byte for byte what
/// [`Message::encode`] writes for the same message, in one pass without
/// building it. Every length is written in the short form and patched at
/// the end; a message of 128 bytes or more (many OIDs, a long community)
/// goes through [`Message::encode`] instead.
pub(crate) fn encode_request(
    out: &mut Vec<u8>,
    version: Version,
    community: &[u8],
    kind: PduKind,
    ids: [i32; 3],
    oids: &[Oid],
) {
    if let Some((buf, n)) = encode_short(version, community, kind, ids, oids) {
        out.extend_from_slice(&buf[..n]);
        return;
    }
    encode_request_long(out, version, community, kind, ids, oids)
}

/// [`encode_request`]'s message in a stack buffer, when it is under 128
/// bytes (every length then has the short form); `None` otherwise.
fn encode_short(
    version: Version,
    community: &[u8],
    kind: PduKind,
    ids: [i32; 3],
    oids: &[Oid],
) -> Option<([u8; 130], usize)> {
    let mut b = [0u8; 130];
    let version_code = match version {
        Version::V1 => 0,
        Version::V2c => 1,
        Version::V3 => 3,
    };
    b[..5].copy_from_slice(&[tag::SEQUENCE, 0, tag::INTEGER, 1, version_code]);
    let mut n = 5;
    // With at most 100 community bytes every index below stays under 130.
    let c = community.len();
    if c > 100 {
        return None;
    }
    b[n] = tag::OCTET_STRING;
    b[n + 1] = c as u8;
    b[n + 2..n + 2 + c].copy_from_slice(community);
    n += 2 + c;
    let pdu_at = n;
    b[n] = kind.tag();
    n += 2;
    for v in ids {
        let (x, skip) = int_bytes(v);
        let len = 4 - skip;
        b[n] = tag::INTEGER;
        b[n + 1] = len as u8;
        b[n + 2..n + 2 + len].copy_from_slice(&x[skip..]);
        n += 2 + len;
    }
    let list_at = n;
    b[n] = tag::SEQUENCE;
    n += 2;
    for o in oids {
        let vb_at = n;
        if n + 4 > 124 {
            return None;
        }
        b[n] = tag::SEQUENCE;
        b[n + 2] = tag::OID;
        n += 4;
        let (first, rest) = oid_parts(o.arcs());
        let mut put = |v: u64, n: &mut usize| -> Option<()> {
            if v < 0x80 {
                *b.get_mut(*n)? = v as u8;
                *n += 1;
            } else {
                for k in (0..base128_len(v)).rev() {
                    *b.get_mut(*n)? = ((v >> (7 * k)) & 0x7f) as u8 | if k > 0 { 0x80 } else { 0 };
                    *n += 1;
                }
            }
            Some(())
        };
        put(first, &mut n)?;
        for &a in rest {
            put(u64::from(a), &mut n)?;
        }
        let oid_len = n - vb_at - 4;
        b.get_mut(n..n + 2)?.copy_from_slice(&[tag::NULL, 0]);
        n += 2;
        b[vb_at + 1] = (n - vb_at - 2) as u8;
        b[vb_at + 3] = oid_len as u8;
    }
    let total = n - 2;
    if total >= 0x80 {
        return None;
    }
    b[1] = total as u8;
    b[pdu_at + 1] = (n - pdu_at - 2) as u8;
    b[list_at + 1] = (n - list_at - 2) as u8;
    Some((b, n))
}

/// One client's last short v1/v2c request encoded from OIDs (a GET,
/// GETNEXT or GETBULK under 128 bytes), kept so that the same request again
/// (same kind, error fields and OIDs: a poller asking for the same objects)
/// only has its request-id rewritten in place, and so that the reply can be
/// checked against it byte for byte ([`decode_reply_mirror`]). The version
/// and community are the client's and never change.
pub(crate) struct RequestCache {
    buf: [u8; 130],
    /// Bytes of the message in `buf`; 0: nothing cached.
    n: usize,
    /// Where the PDU's tag is (after the version and community TLVs).
    pdu_at: usize,
    /// Length of the request-id's contents.
    id_len: usize,
    /// Where the variable-binding list's tag is.
    list_at: usize,
    kind: PduKind,
    /// error-status and error-index (GETBULK: non-repeaters, max-repetitions).
    rest: [i32; 2],
    /// The OIDs: each one's number of arcs, then its arcs.
    key: Vec<u32>,
    /// Where each OID's encoded contents are in `buf` (start, end).
    spans: Vec<(usize, usize)>,
}

impl RequestCache {
    pub(crate) fn new() -> RequestCache {
        RequestCache {
            buf: [0; 130],
            n: 0,
            pdu_at: 0,
            id_len: 0,
            list_at: 0,
            kind: PduKind::Get,
            rest: [0; 2],
            key: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The request as [`encode_request`] encodes it: `true` when it is in
    /// [`RequestCache::bytes`], `false` when it is too long to keep (the
    /// caller encodes it with [`encode_request`]).
    pub(crate) fn encode(
        &mut self,
        version: Version,
        community: &[u8],
        kind: PduKind,
        ids: [i32; 3],
        oids: &[Oid],
    ) -> bool {
        let (id, skip) = int_bytes(ids[0]);
        if self.n != 0
            && self.kind == kind
            && self.rest == [ids[1], ids[2]]
            && 4 - skip == self.id_len
            && same_oids(&self.key, oids)
        {
            debug_assert_eq!(
                encode_short(version, community, kind, ids, oids).map(|(b, n)| b[..n].to_vec()),
                Some({
                    let mut b = self.buf;
                    b[self.pdu_at + 4..self.pdu_at + 4 + self.id_len].copy_from_slice(&id[skip..]);
                    b[..self.n].to_vec()
                })
            );
            // Copies of a fixed size: no call to memcpy.
            let at = self.pdu_at + 4;
            let b = &mut self.buf;
            match skip {
                0 => b[at..at + 4].copy_from_slice(&id),
                1 => b[at..at + 3].copy_from_slice(&id[1..]),
                2 => b[at..at + 2].copy_from_slice(&id[2..]),
                _ => b[at] = id[3],
            }
            return true;
        }
        self.n = 0;
        let Some((buf, n)) = encode_short(version, community, kind, ids, oids) else {
            return false;
        };
        self.buf = buf;
        self.n = n;
        self.pdu_at = 7 + community.len();
        self.id_len = 4 - skip;
        // After the PDU header and three INTEGER TLVs.
        let mut at = self.pdu_at + 2;
        for _ in 0..3 {
            at += 2 + usize::from(buf[at + 1]);
        }
        self.list_at = at;
        self.kind = kind;
        self.rest = [ids[1], ids[2]];
        self.key.clear();
        for o in oids {
            self.key.push(o.len() as u32);
            self.key.extend_from_slice(o.arcs());
        }
        // Each varbind: SEQUENCE, length, OID, length, contents, NULL.
        self.spans.clear();
        let mut at = self.list_at + 2;
        for _ in oids {
            let len = usize::from(buf[at + 3]);
            self.spans.push((at + 4, at + 4 + len));
            at += 2 + usize::from(buf[at + 1]);
        }
        true
    }

    /// The message of the last [`RequestCache::encode`] that returned `true`.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.n]
    }
}

/// True when `key` (see [`RequestCache`]) holds exactly `oids`.
fn same_oids(key: &[u32], oids: &[Oid]) -> bool {
    let mut k = key;
    for o in oids {
        let a = o.arcs();
        match k.split_first() {
            Some((&len, rest)) if len as usize == a.len() && rest.get(..a.len()) == Some(a) => {
                k = &rest[a.len()..];
            }
            _ => return false,
        }
    }
    k.is_empty()
}

/// [`encode_request`] for messages of 128 bytes or more.
fn encode_request_long(
    out: &mut Vec<u8>,
    version: Version,
    community: &[u8],
    kind: PduKind,
    ids: [i32; 3],
    oids: &[Oid],
) {
    Message {
        version,
        community: community.to_vec(),
        body: Body::Pdu(Pdu {
            kind,
            request_id: ids[0],
            error_status: ids[1],
            error_index: ids[2],
            varbinds: oids
                .iter()
                .map(|o| VarBind::new(o.clone(), Value::Null))
                .collect(),
        }),
    }
    .encode(out)
}

/// True when `raw` (an OID's contents) is exactly the encoding of `arcs`,
/// for arcs that decode back to themselves.
fn oid_matches(raw: &[u8], arcs: &[u32]) -> bool {
    if !canonical(arcs) {
        return false;
    }
    let (first, rest) = oid_parts(arcs);
    let mut pos = 0;
    let mut next = |v: u64| -> bool {
        if v < 0x80 {
            let ok = raw.get(pos) == Some(&(v as u8));
            pos += 1;
            return ok;
        }
        for k in (0..base128_len(v)).rev() {
            let byte = ((v >> (7 * k)) & 0x7f) as u8 | if k > 0 { 0x80 } else { 0 };
            if raw.get(pos) != Some(&byte) {
                return false;
            }
            pos += 1;
        }
        true
    };
    next(first) && rest.iter().all(|&a| next(u64::from(a))) && pos == raw.len()
}

/// True when the encoding of `arcs` decodes back to them (as far as the
/// first two arcs go).
#[inline]
fn canonical(arcs: &[u32]) -> bool {
    match arcs {
        [a, b, ..] => *a < 2 && *b < 40 || *a == 2,
        _ => false,
    }
}

/// Why [`decode_reply`] passed a datagram over.
pub(crate) enum NotOurs {
    /// Another version, community, PDU type or request-id.
    Other(&'static str),
    /// It does not decode.
    Malformed(BerError),
}

/// Decodes the reply to v1/v2c request `id` straight from the datagram:
/// the community is compared in place, and an answer OID equal to the one
/// sent at its position reuses it (free for constants such as
/// `oid::SYS_UPTIME`) instead of being decoded.
pub(crate) fn decode_reply(
    buf: &[u8],
    version: Version,
    community: &[u8],
    id: i32,
    sent: &[Oid],
) -> std::result::Result<Pdu, NotOurs> {
    match decode_reply_fast(buf, version, community, id, sent) {
        Some(r) => r,
        None => decode_reply_full(buf, version, community, id, sent),
    }
}

/// The reply to the request in `req` (the last one it encoded: request-id
/// `id`, for `sent`)
/// when it mirrors it: the same version and community bytes, the same
/// request-id bytes, and an answer OID whose bytes equal those sent at its
/// position is reused from `sent` (exactly when [`oid_matches`] holds).
/// Whatever this returns is what [`decode_reply`] returns for the datagram;
/// `None` for anything else (another request-id or community, other
/// shapes), and [`decode_reply`] decides.
pub(crate) fn decode_reply_mirror(
    buf: &[u8],
    req: &RequestCache,
    id: i32,
    sent: &[Oid],
) -> Option<Pdu> {
    let rq = req.bytes();
    let mut m = Cur {
        buf: Cur { buf, pos: 0 }.expect(tag::SEQUENCE)?,
        pos: 0,
    };
    // Version and community: byte for byte the request's.
    let prefix = rq.get(2..req.pdu_at)?;
    if !m
        .buf
        .get(..prefix.len())
        .is_some_and(|b| same_bytes(b, prefix))
    {
        return None;
    }
    m.pos = prefix.len();
    let (pt, pv) = m.tlv()?;
    let kind = match PduKind::from_tag(pt) {
        Some(k @ (PduKind::Response | PduKind::Report)) => k,
        _ => return None,
    };
    if !m.done() {
        return None;
    }
    // The request-id TLV: byte for byte the request's.
    let id_tlv = rq.get(req.pdu_at + 2..req.pdu_at + 4 + req.id_len)?;
    if !pv
        .get(..id_tlv.len())
        .is_some_and(|b| same_bytes(b, id_tlv))
    {
        return None;
    }
    let mut p = Cur {
        buf: pv,
        pos: id_tlv.len(),
    };
    debug_assert_eq!(
        Cur {
            buf: id_tlv,
            pos: 0
        }
        .int32(),
        Some(id)
    );
    let request_id = id;
    let error_status = p.int32()?;
    let error_index = p.int32()?;
    let mut list = Cur {
        buf: p.expect(tag::SEQUENCE)?,
        pos: 0,
    };
    if !p.done() {
        return None;
    }
    let mut varbinds = Vec::with_capacity(sent.len().max(1));
    while !list.done() {
        let mut vb = Cur {
            buf: list.expect(tag::SEQUENCE)?,
            pos: 0,
        };
        let raw = vb.expect(tag::OID)?;
        let i = varbinds.len();
        let oid = match (sent.get(i), req.spans.get(i)) {
            (Some(o), Some(&(a, b)))
                if rq.get(a..b).is_some_and(|r| same_bytes(r, raw)) && canonical(o.arcs()) =>
            {
                o.clone_cheap()
            }
            _ => Oid::new(ber::decode_oid(raw).ok()?),
        };
        let (t, v) = vb.tlv()?;
        if !vb.done() {
            return None;
        }
        varbinds.push(VarBind {
            oid,
            value: value_fast(t, v)?,
        });
    }
    Some(Pdu {
        kind,
        request_id,
        error_status,
        error_index,
        varbinds,
    })
}

/// `a == b`, for the short slices of [`decode_reply_mirror`] (4 to 16
/// bytes) in two overlapping word compares instead of a call to memcmp.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn w8(s: &[u8], i: usize) -> u64 {
        u64::from_ne_bytes(
            s.get(i..i + 8)
                .and_then(|x| x.try_into().ok())
                .unwrap_or([0; 8]),
        )
    }
    fn w4(s: &[u8], i: usize) -> u32 {
        u32::from_ne_bytes(
            s.get(i..i + 4)
                .and_then(|x| x.try_into().ok())
                .unwrap_or([0; 4]),
        )
    }
    match n {
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        _ => a == b,
    }
}

/// [`Value::from_tlv`] (`None` for its errors), with the 32-bit counters of
/// up to four bytes decoded inline.
#[inline]
fn value_fast(t: u8, v: &[u8]) -> Option<Value> {
    let u32_of = |v: &[u8]| v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    match (t, v.len()) {
        (tag::TIMETICKS, 1..=4) => Some(Value::TimeTicks(u32_of(v))),
        (tag::COUNTER32, 1..=4) => Some(Value::Counter32(u32_of(v))),
        (tag::GAUGE32, 1..=4) => Some(Value::Gauge32(u32_of(v))),
        _ => Value::from_tlv(t, v).ok(),
    }
}

/// A TLV cursor for the common shapes (one-byte tags, lengths below 64 KiB):
/// `None` for anything else, and the full decoder takes over.
struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    #[inline(always)]
    fn tlv(&mut self) -> Option<(u8, &'a [u8])> {
        let b = self.buf;
        let p = self.pos;
        let (&tag, &first) = (b.get(p)?, b.get(p + 1)?);
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (len, start) = match first {
            0..=0x7f => (usize::from(first), p + 2),
            0x81 => (usize::from(*b.get(p + 2)?), p + 3),
            0x82 => (
                usize::from(*b.get(p + 2)?) << 8 | usize::from(*b.get(p + 3)?),
                p + 4,
            ),
            _ => return None,
        };
        let v = b.get(start..start + len)?;
        self.pos = start + len;
        Some((tag, v))
    }

    #[inline(always)]
    fn expect(&mut self, want: u8) -> Option<&'a [u8]> {
        match self.tlv()? {
            (t, v) if t == want => Some(v),
            _ => None,
        }
    }

    #[inline(always)]
    fn int32(&mut self) -> Option<i32> {
        // The common one-byte INTEGER (error-status and error-index 0).
        if let Some(&[tag::INTEGER, 1, b]) = self.buf.get(self.pos..self.pos + 3) {
            self.pos += 3;
            return Some(i32::from(b as i8));
        }
        match self.expect(tag::INTEGER)? {
            [b] => Some(i32::from(*b as i8)),
            v @ [first, ..] if v.len() <= 4 => Some(
                v[1..]
                    .iter()
                    .fold(i32::from(*first as i8), |acc, &b| (acc << 8) | i32::from(b)),
            ),
            _ => None,
        }
    }

    fn done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// [`decode_reply`] for well-formed replies in the common shapes; `None`
/// hands the datagram to the full decoder (which says what is wrong).
fn decode_reply_fast(
    buf: &[u8],
    version: Version,
    community: &[u8],
    id: i32,
    sent: &[Oid],
) -> Option<std::result::Result<Pdu, NotOurs>> {
    let mut m = Cur {
        buf: Cur { buf, pos: 0 }.expect(tag::SEQUENCE)?,
        pos: 0,
    };
    let v = match m.int32()? {
        0 => Version::V1,
        1 => Version::V2c,
        _ => return None,
    };
    if v != version || m.expect(tag::OCTET_STRING)? != community {
        return Some(Err(NotOurs::Other("another version or community")));
    }
    let (pt, pv) = m.tlv()?;
    let kind = match PduKind::from_tag(pt) {
        Some(k @ (PduKind::Response | PduKind::Report)) => k,
        _ => return None,
    };
    let mut p = Cur { buf: pv, pos: 0 };
    let request_id = p.int32()?;
    if request_id != id {
        return Some(Err(NotOurs::Other("another request-id")));
    }
    let error_status = p.int32()?;
    let error_index = p.int32()?;
    let mut list = Cur {
        buf: p.expect(tag::SEQUENCE)?,
        pos: 0,
    };
    if !p.done() || !m.done() {
        return None;
    }
    let mut varbinds = Vec::with_capacity(sent.len().max(1));
    while !list.done() {
        let mut vb = Cur {
            buf: list.expect(tag::SEQUENCE)?,
            pos: 0,
        };
        let raw = vb.expect(tag::OID)?;
        let oid = match sent.get(varbinds.len()) {
            Some(o) if oid_matches(raw, o.arcs()) => o.clone(),
            _ => Oid::new(ber::decode_oid(raw).ok()?),
        };
        let (t, v) = vb.tlv()?;
        if !vb.done() {
            return None;
        }
        varbinds.push(VarBind {
            oid,
            value: Value::from_tlv(t, v).ok()?,
        });
    }
    Some(Ok(Pdu {
        kind,
        request_id,
        error_status,
        error_index,
        varbinds,
    }))
}

fn decode_reply_full(
    buf: &[u8],
    version: Version,
    community: &[u8],
    id: i32,
    sent: &[Oid],
) -> std::result::Result<Pdu, NotOurs> {
    let bad_ = NotOurs::Malformed;
    let mut m = Reader::new(buf).nested(tag::SEQUENCE).map_err(bad_)?;
    let v = match m.integer().map_err(bad_)? {
        0 => Version::V1,
        1 => Version::V2c,
        _ => return Err(NotOurs::Other("another version")),
    };
    if v != version || m.octets().map_err(bad_)? != community {
        return Err(NotOurs::Other("another version or community"));
    }
    let (pt, pv) = m.tlv().map_err(bad_)?;
    let kind = match PduKind::from_tag(pt) {
        Some(k @ (PduKind::Response | PduKind::Report)) => k,
        _ => return Err(NotOurs::Other("not a response")),
    };
    let mut p = Reader::new(pv);
    let request_id = int32(&mut p, "request-id").map_err(bad_)?;
    if request_id != id {
        return Err(NotOurs::Other("another request-id"));
    }
    let error_status = int32(&mut p, "error-status").map_err(bad_)?;
    let error_index = int32(&mut p, "error-index").map_err(bad_)?;
    let decode = |p: &mut Reader<'_>| -> Result<Vec<VarBind>> {
        let mut list = p.nested(tag::SEQUENCE)?;
        let mut out = Vec::with_capacity(sent.len().max(1));
        while !list.is_empty() {
            let mut vb = list.nested(tag::SEQUENCE)?;
            let raw = vb.expect(tag::OID)?;
            let oid = match sent.get(out.len()) {
                Some(o) if oid_matches(raw, o.arcs()) => o.clone(),
                _ => Oid::new(ber::decode_oid(raw)?),
            };
            let value = Value::decode(&mut vb)?;
            if !vb.is_empty() {
                return Err(BerError::TrailingBytes {
                    after: "a variable binding",
                });
            }
            out.push(VarBind { oid, value });
        }
        if !p.is_empty() {
            return Err(BerError::TrailingBytes { after: "the PDU" });
        }
        Ok(out)
    };
    let varbinds = decode(&mut p).map_err(bad_)?;
    Ok(Pdu {
        kind,
        request_id,
        error_status,
        error_index,
        varbinds,
    })
}

fn int32(r: &mut Reader<'_>, what: &'static str) -> Result<i32> {
    i32::try_from(r.integer()?).map_err(|_| BerError::IntegerOverflow { what })
}

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
        let Some((t, start, len)) = ber::header(buf, 0)? else {
            return Ok(None);
        };
        if t != tag::SEQUENCE {
            return Err(BerError::UnexpectedTag {
                expected: tag::SEQUENCE,
                found: t,
            });
        }
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

/// The fuzz entry of `edgepool::fuzzing::snmp_reply`: the three ways a
/// v1/v2c reply is decoded (the mirror check against the cached request, the
/// fast cursor and the full decoder) agree on `data`. `data[0]` picks the
/// version, the request-id and the OIDs sent; with its top bit set the rest
/// is a list of (position, byte) changes to a well-formed reply, otherwise
/// the datagram itself.
pub(crate) fn fuzz_reply_decoders(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let version = if mode & 1 == 0 {
        Version::V2c
    } else {
        Version::V1
    };
    let id = if mode & 2 == 0 { 5 } else { 0x1234_5678 };
    let sent: &[Oid] = match (mode >> 2) & 3 {
        0 => &[oid::SYS_UPTIME],
        1 => &[oid::SYS_UPTIME, oid::SYS_NAME],
        2 => &[oid::SYS_OR_TABLE],
        _ => &[],
    };
    let community = b"public";
    let datagram = if mode & 0x80 == 0 {
        rest.to_vec()
    } else {
        let mut b = Vec::new();
        Message {
            version,
            community: community.to_vec(),
            body: Body::Pdu(Pdu {
                kind: PduKind::Response,
                request_id: id,
                error_status: 0,
                error_index: 0,
                varbinds: sent
                    .iter()
                    .map(|o| VarBind::new(o.clone(), Value::TimeTicks(7)))
                    .collect(),
            }),
        }
        .encode(&mut b);
        for pair in rest.chunks_exact(2) {
            if let Some(byte) = b.get_mut(usize::from(pair[0])) {
                *byte = pair[1];
            }
        }
        if rest.len() % 2 == 1 {
            b.truncate(usize::from(rest[rest.len() - 1]));
        }
        b
    };
    let full = decode_reply_full(&datagram, version, community, id, sent);
    if let Some(fast) = decode_reply_fast(&datagram, version, community, id, sent) {
        match (&fast, &full) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "fast and full decoders disagree"),
            (Err(_), Err(_)) => {}
            _ => panic!("fast and full decoders disagree on whether the datagram is ours"),
        }
    }
    let mut cache = RequestCache::new();
    if cache.encode(version, community, PduKind::Get, [id, 0, 0], sent) {
        if let Some(p) = decode_reply_mirror(&datagram, &cache, id, sent) {
            assert_eq!(full.ok(), Some(p), "mirror and full decoders disagree");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A response snmpsim 1.2.2 sent net-snmp 5.9.3's `snmpget -d` for three
    /// Opaque rows of tests/data/snmpsim/opaque-types.snmprec; net-snmp
    /// printed `Opaque: Float: 0.670000`, `Opaque: Float: -1234.567800` (a
    /// double, which net-snmp also calls Float) and `OPAQUE: 01 02 03 04 05`.
    const OPAQUE_RESPONSE: &str =
        "306b02010104 0c6f70617175652d7479706573a25802041f3b7c92020100020100304a\
        3016060b2b060104018f650a0106014407 9f78043f2b851f 301a060b2b060104018f650a0106044\
        40b9f7908c0934a456d5cfaad 3014060b2b060104018f650a010605440501020304 05";

    #[test]
    fn lean_request_encoding_matches_message_encode() {
        let oids: Vec<Oid> = [
            "1.3.6.1.2.1.1.3.0",
            "1.3.6.1.4.1.2011.2.23.1.3.1.1.1.56.145.213.251.116.117.1",
            "2.999.4294967295.0.127.128.16383.16384",
            "0.39",
            "1.3",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let community = vec![b'c'; 300]; // long-form lengths
        for version in [Version::V1, Version::V2c] {
            for kind in [PduKind::Get, PduKind::GetNext, PduKind::GetBulk] {
                for ids in [[1, 0, 0], [0x7fff_ffff, -1, 128], [-129, 255, i32::MIN]] {
                    for n in [0, 1, 5, 40] {
                        let list: Vec<Oid> = oids.iter().cycle().take(n).cloned().collect();
                        for c in [
                            &b"public"[..],
                            &community,
                            &community[..60],
                            &community[..75],
                            &community[..90],
                            &community[..100],
                            &community[..101],
                        ] {
                            let msg = Message {
                                version,
                                community: c.to_vec(),
                                body: Body::Pdu(Pdu {
                                    kind,
                                    request_id: ids[0],
                                    error_status: ids[1],
                                    error_index: ids[2],
                                    varbinds: list
                                        .iter()
                                        .map(|o| VarBind::new(o.clone(), Value::Null))
                                        .collect(),
                                }),
                            };
                            let mut want = Vec::new();
                            msg.encode(&mut want);
                            let mut got = Vec::new();
                            encode_request(&mut got, version, c, kind, ids, &list);
                            assert_eq!(got, want, "{version:?} {kind:?} {ids:?} {n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn request_cache_encodes_what_encode_request_does() {
        let oids: Vec<Oid> = [
            "1.3.6.1.2.1.1.3.0",
            "1.3.6.1.4.1.2011.2.23.1.3.1.1.1.56.145.213.251.116.117.1",
            "2.999.4294967295.0.127.128.16383.16384",
            "1.3",
            "1.3.6.1.2.1.1.3",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut cache = RequestCache::new();
        let mut hits = 0;
        // Request-ids across every change of their encoded length, each
        // request asked twice in a row (the second from the cache), and
        // requests that change one thing at a time.
        let ids = [
            1,
            2,
            0x7f,
            0x80,
            0x81,
            0x7fff,
            0x8000,
            0x7f_ffff,
            0x80_0000,
            0x7fff_ffff,
        ];
        let lists: Vec<Vec<Oid>> = vec![
            vec![oids[0].clone()],
            vec![oids[4].clone()],
            vec![oids[0].clone(), oids[3].clone()],
            vec![oids[0].clone(), oids[3].clone(), oids[1].clone()],
            vec![oids[3].clone(), oids[0].clone()],
            vec![],
            oids.iter().cycle().take(12).cloned().collect(), // too long to keep
            vec![Oid::new(vec![1, 3, 6, 1, 2, 1, 1, 3, 0])],
        ];
        for version in [Version::V1, Version::V2c] {
            for c in [&b"public"[..], &[b'c'; 100], &[b'c'; 101]] {
                for kind in [PduKind::Get, PduKind::GetNext, PduKind::GetBulk] {
                    for rest in [[0, 0], [0, 10], [1, 10]] {
                        for list in &lists {
                            for &id in &ids {
                                for _ in 0..2 {
                                    let ids = [id, rest[0], rest[1]];
                                    let mut want = Vec::new();
                                    encode_request(&mut want, version, c, kind, ids, list);
                                    let was = cache.n != 0;
                                    if cache.encode(version, c, kind, ids, list) {
                                        assert_eq!(cache.bytes(), &want[..]);
                                        hits += usize::from(was);
                                    } else {
                                        // Left to encode_request's long path.
                                        assert!(encode_short(version, c, kind, ids, list).is_none());
                                        assert!(want.len() >= 120, "{}", want.len());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(hits > 1000, "{hits}");
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let a: Vec<u8> = (0..40).collect();
        for n in 0..=20 {
            for i in 0..n {
                let mut b = a[..n].to_vec();
                assert!(same_bytes(&a[..n], &b));
                b[i] ^= 0x10;
                assert!(!same_bytes(&a[..n], &b), "{n} {i}");
            }
            assert!(!same_bytes(&a[..n], &a[..n + 1]));
        }
    }

    #[test]
    fn mirror_decoding_agrees_with_decode_reply() {
        let sent: Vec<Oid> = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut cache = RequestCache::new();
        let reply = |community: &[u8], id: i32, kind: PduKind, vbs: Vec<VarBind>, st: [i32; 2]| {
            let mut b = Vec::new();
            Message {
                version: Version::V2c,
                community: community.to_vec(),
                body: Body::Pdu(Pdu {
                    kind,
                    request_id: id,
                    error_status: st[0],
                    error_index: st[1],
                    varbinds: vbs,
                }),
            }
            .encode(&mut b);
            b
        };
        let vb = |o: &str, v: Value| VarBind::new(o.parse().unwrap(), v);
        let long = Value::OctetString(vec![b'x'; 300]); // long-form lengths
        let mut datagrams = Vec::new();
        for id in [5, 0x1234_5678] {
            for (community, kind, st) in [
                (&b"public"[..], PduKind::Response, [0, 0]),
                (b"public", PduKind::Report, [0, 0]),
                (b"public", PduKind::Response, [2, 1]),
                (b"public", PduKind::Response, [-1, 300]),
                (b"public", PduKind::Get, [0, 0]),
                (b"publiC", PduKind::Response, [0, 0]),
            ] {
                for vbs in [
                    vec![vb("1.3.6.1.2.1.1.3.0", Value::TimeTicks(7))],
                    vec![
                        vb("1.3.6.1.2.1.1.3.0", Value::TimeTicks(0xffff_ffff)),
                        vb("1.3.6.1.2.1.1.5.0", long.clone()),
                    ],
                    vec![
                        vb("1.3.6.1.2.1.1.3.1", Value::Counter32(1)),
                        vb("1.3.6.1.2.1.1.5", Value::Gauge32(300)),
                        vb("1.3.6.1.2.1.1.6.0", Value::NoSuchObject),
                    ],
                    vec![vb("1.3.6.1.2.1.1.5.0", Value::Integer(-3))],
                    vec![],
                ] {
                    datagrams.push(reply(community, id, kind, vbs, st));
                }
            }
        }
        let mut checked = 0;
        for (k, d) in datagrams.iter().enumerate() {
            // Every datagram, cut short and with each byte changed.
            let mut variants = vec![d.clone()];
            for cut in 0..d.len() {
                variants.push(d[..cut].to_vec());
            }
            for i in 0..d.len().min(80) {
                for x in [0x00, 0x01, 0x30, 0x7f, 0x80, 0x81, 0x82, 0xff] {
                    let mut v = d.clone();
                    v[i] = x;
                    variants.push(v);
                }
            }
            for id in [5, 0x1234_5678] {
                assert!(cache.encode(Version::V2c, b"public", PduKind::Get, [id, 0, 0], &sent));
                for v in &variants {
                    let full = decode_reply(v, Version::V2c, b"public", id, &sent);
                    if let Some(p) = decode_reply_mirror(v, &cache, id, &sent) {
                        checked += 1;
                        assert_eq!(full.ok(), Some(p), "datagram {k}: {v:02x?}");
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
        // The plain answer mirrors; another request-id or community does not.
        assert!(cache.encode(Version::V2c, b"public", PduKind::Get, [5, 0, 0], &sent));
        assert!(decode_reply_mirror(&datagrams[0], &cache, 5, &sent).is_some());
        assert!(decode_reply_mirror(&datagrams[30], &cache, 5, &sent).is_none());
        assert!(decode_reply_mirror(&datagrams[25], &cache, 5, &sent).is_none());
    }

    #[test]
    fn lean_reply_decoding_matches_message_decode() {
        let sent: Vec<Oid> = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let answer = |oids: &[&str], community: &[u8], id: i32, kind: PduKind| {
            let msg = Message {
                version: Version::V2c,
                community: community.to_vec(),
                body: Body::Pdu(Pdu {
                    kind,
                    request_id: id,
                    error_status: 0,
                    error_index: 0,
                    varbinds: oids
                        .iter()
                        .map(|o| VarBind::new(o.parse().unwrap(), Value::TimeTicks(7)))
                        .collect(),
                }),
            };
            let mut b = Vec::new();
            msg.encode(&mut b);
            (msg, b)
        };
        // The same OIDs (reused), other OIDs (decoded), fewer, more.
        for oids in [
            &["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"][..],
            &["1.3.6.1.2.1.1.3.1", "1.3.6.1.2.1.1.5"],
            &["1.3.6.1.2.1.1.5.0"],
            &[
                "1.3.6.1.2.1.1.3.0",
                "1.3.6.1.2.1.1.5.0",
                "1.3.6.1.2.1.1.6.0",
            ],
        ] {
            let (msg, b) = answer(oids, b"public", 42, PduKind::Response);
            let Ok(p) = decode_reply(&b, Version::V2c, b"public", 42, &sent) else {
                panic!()
            };
            assert_eq!(Body::Pdu(p), msg.body);
        }
        let (_, b) = answer(&["1.3.6.1.2.1.1.3.0"], b"public", 42, PduKind::Response);
        assert!(matches!(
            decode_reply(&b, Version::V2c, b"private", 42, &sent),
            Err(NotOurs::Other(_))
        ));
        assert!(matches!(
            decode_reply(&b, Version::V1, b"public", 42, &sent),
            Err(NotOurs::Other(_))
        ));
        assert!(matches!(
            decode_reply(&b, Version::V2c, b"public", 43, &sent),
            Err(NotOurs::Other(_))
        ));
        let (_, g) = answer(&["1.3.6.1.2.1.1.3.0"], b"public", 42, PduKind::Get);
        assert!(matches!(
            decode_reply(&g, Version::V2c, b"public", 42, &sent),
            Err(NotOurs::Other(_))
        ));
        for cut in 0..b.len() {
            assert!(decode_reply(&b[..cut], Version::V2c, b"public", 42, &sent).is_err());
        }
        // Arcs that do not decode back to themselves are never matched.
        assert!(!oid_matches(&[0x83, 0x23], &[5, 3]));
        assert!(oid_matches(&[0x2b, 0x06], &[1, 3, 6]));
    }

    #[test]
    fn opaque_float_and_double_golden() {
        let bytes = unhex(&OPAQUE_RESPONSE.replace([' ', '\n'], ""));
        let (m, used) = Message::decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let Body::Pdu(p) = &m.body else { panic!() };
        let shown: Vec<String> = p.varbinds.iter().map(|vb| vb.value.to_string()).collect();
        assert_eq!(
            shown,
            [
                "Opaque: Float: 0.670000",
                "Opaque: Float: -1234.567800",
                "OPAQUE: 01 02 03 04 05"
            ]
        );
        assert_eq!(p.varbinds[0].value, Value::OpaqueFloat(0.67));
        assert_eq!(p.varbinds[1].value, Value::OpaqueDouble(-1234.5678));
        assert_eq!(p.varbinds[1].value.as_f64(), Some(-1234.5678));
        assert_eq!(p.varbinds[2].value, Value::Opaque(vec![1, 2, 3, 4, 5]));
        // Byte for byte back.
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, bytes);
        // Not the exact form: stays raw.
        for raw in [
            &[0x9f, 0x78, 0x04, 0x3f, 0x2b, 0x85][..],
            &[0x9f, 0x78, 0x05, 1, 2, 3, 4, 5],
            &[0x9f, 0x79, 0x04, 1, 2, 3, 4],
        ] {
            assert_eq!(decode_opaque(raw), Value::Opaque(raw.to_vec()));
        }
        // Equal to itself by bits, NaN included; hashing agrees.
        let nan = Value::OpaqueDouble(f64::NAN);
        assert_eq!(nan, nan.clone());
        assert_ne!(Value::OpaqueFloat(0.0), Value::OpaqueFloat(-0.0));
        assert_ne!(Value::OpaqueFloat(1.0), Value::OpaqueDouble(1.0));
        let set: std::collections::HashSet<Value> = [nan.clone(), nan].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    /// Datagrams net-snmp 5.9.3 (Debian 12) exchanged with its own snmpd,
    /// captured with `snmpget -d` / `snmpbulkget -d` / `snmpset -d` /
    /// `snmptrap -d` on loopback.
    const CAPTURED: &[(&str, &str)] = &[
        ("v2c_get_uptime sending", "302902010104067075626c6963a01c0204532ffcba020100020100300e300c06082b060102010103000500"),
        ("v2c_get_uptime received", "302b02010104067075626c6963a21e0204532ffcba0201000201003010300e06082b0601020101030043020a2f"),
        ("v1_get_services_objectid sending", "303702010004067075626c6963a02a020458bf6d2a020100020100301c300c06082b060102010107000500300c06082b060102010102000500"),
        ("v1_get_services_objectid received", "304202010004067075626c6963a235020458bf6d2a0201000201003027300d06082b06010201010700020148301606082b06010201010200060a2b06010401bf0803020a"),
        ("v1_nosuchname sending", "302902010004067075626c6963a01c02047dc6c555020100020100300e300c06082b060102010163000500"),
        ("v1_nosuchname received", "302902010004067075626c6963a21c02047dc6c555020102020101300e300c06082b060102010163000500"),
        ("v2c_nosuch sending", "303702010104067075626c6963a02a02046cf99d66020100020100301c300c06082b060102010163000500300c06082b060102010101010500"),
        ("v2c_nosuch received", "303702010104067075626c6963a22a02046cf99d66020100020100301c300c06082b060102010163008000300c06082b060102010101018100"),
        ("v2c_getnext sending", "302802010104067075626c6963a11b020442671747020100020100300d300b06072b0601020101060500"),
        ("v2c_getnext received", "303a02010104067075626c6963a22d020442671747020100020100301f301d06082b06010201010600041165646765706f6f6c2d746573742d6c6162"),
        ("v2c_endofmib sending", "302802010104067075626c6963a11b020400f5cc8d020100020100300d300b06072b0601060387670500"),
        ("v2c_endofmib received", "302802010104067075626c6963a21b020400f5cc8d020100020100300d300b06072b0601060387678200"),
        ("v2c_types sending", "305f02010104067075626c6963a05202044b9f46250201000201003044300e060a2b060102010202010a010500300e060a2b0601020102020105010500300f060b2b060102011f010101060105003011060d2b06010201041401017f0000010500"),
        ("v2c_types received", "307102010104067075626c6963a26402044b9f462502010002010030563013060a2b060102010202010a01410500ca9ed3b23012060a2b0601020102020105014204009896803014060b2b060102011f0101010601460500ca9ed3b23015060d2b06010201041401017f00000140047f000001"),
        ("v2c_set_notwritable sending", "302b020101040770726976617465a31d02047ec1bba4020100020100300f300d06082b06010201010600040178"),
        ("v2c_set_notwritable received", "302b020101040770726976617465a21d02047ec1bba4020111020101300f300d06082b06010201010600040178"),
        ("v2c_bulk sending", "302702010104067075626c6963a51a02040f489fd0020100020103300c300a06062b06010201010500"),
        ("v2c_bulk received", "30818a02010104067075626c6963a27d02040f489fd0020100020100306f304506082b0601020101010004394c696e757820766d20362e31382e34342d66632d7635303920233120534d5020505245454d50545f44594e414d4943204030207838365f3634301606082b06010201010200060a2b06010401bf0803020a300e06082b0601020101030043020a3f"),
        ("v1_trap sending", "303a02010004067075626c6963a42d06092b06010401bf08020340047f000001020106020111430230393010300e06082b0601020101050004026777"),
        ("v2_trap sending", "305402010104067075626c6963a74702045bb961340201000201003039300e06082b06010201010300430230393017060a2b06010603010104010006092b0601060301010501300e06082b0601020101050004026777"),
    ];

    fn captured(name: &str) -> Message {
        let (_, h) = CAPTURED.iter().find(|(n, _)| *n == name).unwrap();
        let bytes = unhex(h);
        Message::decode(&bytes).unwrap().unwrap().0
    }

    fn pdu(m: &Message) -> &Pdu {
        match &m.body {
            Body::Pdu(p) => p,
            Body::TrapV1(_) => panic!("a trap"),
        }
    }

    #[test]
    fn captured_datagrams_decode_and_encode_back_byte_for_byte() {
        for (name, h) in CAPTURED {
            let bytes = unhex(h);
            let (msg, used) = Message::decode(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap();
            assert_eq!(used, bytes.len(), "{name}");
            let mut out = Vec::new();
            msg.encode(&mut out);
            assert_eq!(out, bytes, "{name}");
        }
    }

    #[test]
    fn every_truncation_is_incomplete_never_a_panic() {
        for (name, h) in CAPTURED {
            let bytes = unhex(h);
            for cut in 0..bytes.len() {
                assert!(
                    matches!(Message::decode(&bytes[..cut]), Ok(None)),
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn corrupted_datagrams_never_panic() {
        for (_, h) in CAPTURED {
            let bytes = unhex(h);
            for i in 0..bytes.len() {
                for x in [0x00u8, 0x7f, 0x80, 0x81, 0x84, 0xff] {
                    let mut b = bytes.clone();
                    b[i] = x;
                    let _ = Message::decode(&b);
                }
            }
        }
    }

    #[test]
    fn decoded_fields_match_what_net_snmp_printed() {
        let m = captured("v2c_get_uptime received");
        assert_eq!(
            (m.version, &m.community[..]),
            (Version::V2c, &b"public"[..])
        );
        let p = pdu(&m);
        assert_eq!(
            (p.kind, p.request_id, p.error_status),
            (PduKind::Response, 0x532ffcba, 0)
        );
        assert_eq!(
            p.varbinds,
            vec![VarBind::new(oid::SYS_UPTIME, Value::TimeTicks(2607))]
        );
        assert_eq!(
            p.varbinds[0].value.to_string(),
            "Timeticks: (2607) 0:00:26.07"
        );

        let m = captured("v1_get_services_objectid received");
        let p = pdu(&m);
        assert_eq!(m.version, Version::V1);
        assert_eq!(p.varbinds[0].value, Value::Integer(72));
        assert_eq!(
            p.varbinds[1].value.to_string(),
            "OID: 1.3.6.1.4.1.8072.3.2.10"
        );

        let p = pdu(&captured("v1_nosuchname received")).clone();
        assert_eq!((p.error_status, p.error_index), (2, 1));

        let p = pdu(&captured("v2c_nosuch received")).clone();
        assert_eq!(p.varbinds[0].value, Value::NoSuchObject);
        assert_eq!(p.varbinds[1].value, Value::NoSuchInstance);

        let p = pdu(&captured("v2c_getnext received")).clone();
        assert_eq!(
            p.varbinds[0].to_string(),
            "1.3.6.1.2.1.1.6.0 = STRING: \"edgepool-test-lab\""
        );

        let p = pdu(&captured("v2c_endofmib received")).clone();
        assert_eq!(p.varbinds[0].value, Value::EndOfMibView);

        let p = pdu(&captured("v2c_types received")).clone();
        let values: Vec<_> = p.varbinds.iter().map(|v| v.value.clone()).collect();
        assert_eq!(
            values,
            vec![
                Value::Counter32(3_399_406_514),
                Value::Gauge32(10_000_000),
                Value::Counter64(3_399_406_514),
                Value::IpAddress([127, 0, 0, 1]),
            ]
        );

        let p = pdu(&captured("v2c_set_notwritable received")).clone();
        assert_eq!((p.error_status, p.error_index), (17, 1));
        assert_eq!(
            crate::snmp::ErrorStatus::from_code(p.error_status).to_string(),
            "notWritable"
        );

        let m = captured("v2c_bulk sending");
        let p = pdu(&m);
        assert_eq!(
            (p.kind, p.error_status, p.error_index),
            (PduKind::GetBulk, 0, 3)
        );
        let p = pdu(&captured("v2c_bulk received")).clone();
        assert_eq!(p.varbinds.len(), 3);
        assert_eq!(p.varbinds[0].oid, oid::SYS_DESCR);

        match captured("v1_trap sending").body {
            Body::TrapV1(t) => {
                assert_eq!(t.enterprise.to_string(), "1.3.6.1.4.1.8072.2.3");
                assert_eq!(
                    (t.agent_addr, t.generic_trap, t.specific_trap, t.timestamp),
                    ([127, 0, 0, 1], 6, 17, 12345)
                );
                assert_eq!(t.varbinds[0].value, Value::OctetString(b"gw".to_vec()));
            }
            Body::Pdu(_) => panic!("not a v1 trap"),
        }
        let p = pdu(&captured("v2_trap sending")).clone();
        assert_eq!(p.kind, PduKind::TrapV2);
        assert_eq!(p.varbinds[1].value.to_string(), "OID: 1.3.6.1.6.3.1.1.5.1");
    }

    #[test]
    fn our_requests_match_net_snmp_s() {
        // Same request-id, same bytes as snmpget's GET sysUpTime.0.
        let m = Message {
            version: Version::V2c,
            community: b"public".to_vec(),
            body: Body::Pdu(Pdu::request(PduKind::Get, 0x532ffcba, &[oid::SYS_UPTIME])),
        };
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, unhex(CAPTURED[0].1));
    }

    #[test]
    fn oid_parsing() {
        assert_eq!(".1.3.6.1".parse::<Oid>().unwrap().arcs(), &[1, 3, 6, 1]);
        for bad in ["", "1", "1..3", "a.b", "3.1", "1.40", "1.3.99999999999"] {
            assert!(bad.parse::<Oid>().is_err(), "{bad}");
        }
        assert!(Oid::from_static(&[1, 3, 6, 2]) > oid::SYS_UPTIME);
    }

    #[test]
    fn other_hostile_inputs() {
        // v3 where v1/v2c is expected, unknown version, trailing garbage.
        assert!(Message::decode(&unhex("3003020103")).is_err());
        assert!(Message::decode(&unhex("3003020109")).is_err());
        assert!(Message::decode(&unhex("0403616263")).is_err());
        let mut b = unhex(CAPTURED[0].1);
        b[1] += 2;
        b.extend_from_slice(&[0x05, 0x00]);
        assert!(Message::decode(&b).is_err(), "extra bytes after the PDU");
    }
}
