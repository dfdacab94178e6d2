//! [`Value`], a variable binding's value (every SMI type and the v2
//! exceptions), and [`VarBind`], an OID with its value.

use super::ber::{self, tag, BerError, Reader};
use super::oid::Oid;
use std::fmt;

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;

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

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
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

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Value> {
        let (t, v) = r.tlv()?;
        Value::from_tlv(t, v)
    }

    /// The value of a TLV with tag `t` and contents `v`.
    pub(super) fn from_tlv(t: u8, v: &[u8]) -> Result<Value> {
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
pub(super) fn decode_opaque(v: &[u8]) -> Value {
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
