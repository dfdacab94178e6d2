//! A sans-IO subset of BER (X.690) as SNMP uses it: definite lengths, short
//! and long form, primitive and constructed TLVs.
//!
//! Decoding never allocates more than the input holds and never panics:
//! every length is checked against the bytes that are there.

/// `Result` with a [`BerError`].
type Result<T, E = BerError> = std::result::Result<T, E>;

/// Why bytes are not a well-formed SNMP message: what the BER decoder, the
/// v1/v2c message decoder and the SNMPv3 header decoder find wrong. Small
/// and `Copy` (like `httparse::Error`), so decoding allocates nothing even
/// when it fails; it reaches users as
/// [`Error::Protocol`](crate::Error::Protocol)`(`[`ProtocolError::Ber`](crate::ProtocolError::Ber)`)`.
///
/// ```
/// use edgepool::snmp::{ber::Reader, BerError, Message};
/// use edgepool::{Error, ProtocolError};
/// // An OCTET STRING where an INTEGER belongs.
/// let e = Reader::new(&[0x04, 0x01, b'x']).integer().unwrap_err();
/// assert_eq!(e, BerError::UnexpectedTag { expected: 0x02, found: 0x04 });
/// assert_eq!(e.to_string(), "expected tag 0x02, found 0x04");
/// // A length that runs past the end of the datagram.
/// assert_eq!(Reader::new(&[0x04, 0x05, b'x']).tlv().unwrap_err(), BerError::Truncated);
/// // An INTEGER of nine bytes.
/// let e = Reader::new(&[0x02, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9]).integer().unwrap_err();
/// assert_eq!(e, BerError::BadInteger { len: 9 });
/// // Into the crate's error: the stream is out of step.
/// let e = Error::from(BerError::IndefiniteLength);
/// assert!(e.is_transport());
/// assert!(matches!(e, Error::Protocol(ProtocolError::Ber(BerError::IndefiniteLength))));
/// assert!(Message::decode(&[0x31, 0x00]).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum BerError {
    /// The bytes end inside a TLV (its header or its value), or a TLV runs
    /// past the one that holds it.
    #[error("truncated TLV")]
    Truncated,
    /// A TLV with another tag than the one its position requires.
    #[error("expected tag 0x{expected:02x}, found 0x{found:02x}")]
    UnexpectedTag {
        /// The tag the position requires.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// A tag SNMP does not define where one of several is allowed (a
    /// value, a PDU, an SNMPv3 msgData).
    #[error("unknown {what} tag 0x{found:02x}")]
    UnknownTag {
        /// What the TLV holds: "value", "PDU", "msgData".
        what: &'static str,
        /// The tag found.
        found: u8,
    },
    /// A tag number of 31 or more (several tag bytes): SNMP uses none.
    #[error("multi-byte tags are not used by SNMP")]
    MultiByteTag,
    /// An indefinite length (0x80), which SNMP forbids.
    #[error("indefinite lengths are not allowed")]
    IndefiniteLength,
    /// A length of more than 4 bytes, or one that overflows.
    #[error("length field of more than 4 bytes, or overflowing")]
    BadLength,
    /// An INTEGER (or unsigned value) of no bytes or of more than its type holds.
    #[error("INTEGER of {len} bytes")]
    BadInteger {
        /// Bytes of its contents.
        len: usize,
    },
    /// A number that does not fit the field that holds it.
    #[error("{what} out of range")]
    IntegerOverflow {
        /// The field: "Counter32", "request-id", "msgID", "OID sub-identifier", …
        what: &'static str,
    },
    /// A NULL with contents.
    #[error("NULL with contents")]
    NullWithContents,
    /// An OBJECT IDENTIFIER that is empty, has a sub-identifier starting
    /// with 0x80, or ends inside a sub-identifier.
    #[error("malformed OBJECT IDENTIFIER")]
    BadOid,
    /// A field longer than SNMP allows.
    #[error("{what} of {len} (at most {max})")]
    TooLarge {
        /// The field: "OID" (sub-identifiers), "msgUserName" (bytes), …
        what: &'static str,
        /// Its size.
        len: u32,
        /// The most allowed.
        max: u32,
    },
    /// Bytes left over inside a constructed value after its last field.
    #[error("extra bytes after {after}")]
    TrailingBytes {
        /// The last field read: "the PDU", "a variable binding", …
        after: &'static str,
    },
    /// An IpAddress (or a v1 trap's agent-addr) of another size than 4 bytes.
    #[error("IpAddress of {len} bytes")]
    BadAddress {
        /// Bytes of its contents.
        len: usize,
    },
    /// A message version other than the decoder's (v1/v2c: 0 or 1;
    /// SNMPv3: 3).
    #[error("unexpected SNMP version {0}")]
    UnexpectedVersion(i64),
    /// SNMPv3 msgMaxSize below 484 (RFC 3412).
    #[error("msgMaxSize {0} below 484")]
    MaxSizeTooSmall(i32),
    /// SNMPv3 msgFlags not one byte, privacy without authentication, or
    /// msgData encrypted other than as the flags say.
    #[error("bad SNMPv3 msgFlags")]
    BadFlags,
    /// An SNMPv3 security model other than USM (3).
    #[error("security model {0} (only USM, 3)")]
    UnsupportedSecurityModel(i32),
}

/// Tags of the universal, application and context types SNMP uses.
///
/// ```
/// use edgepool::snmp::ber::{tag, Reader};
/// // SEQUENCE { INTEGER 1, OCTET STRING "public", NULL }
/// let bytes = [0x30, 0x0d, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0x05, 0x00];
/// let mut seq = Reader::new(&bytes).nested(tag::SEQUENCE)?;
/// assert_eq!(seq.peek_tag(), Some(tag::INTEGER));
/// assert_eq!(seq.expect(tag::INTEGER)?, &[0x01]);
/// assert_eq!(seq.expect(tag::OCTET_STRING)?, b"public");
/// assert_eq!(seq.tlv()?, (tag::NULL, &[][..]));
/// assert!(seq.is_empty());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub mod tag {
    /// INTEGER.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::INTEGER, 0x02);
    /// ```
    pub const INTEGER: u8 = 0x02;
    /// OCTET STRING.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::OCTET_STRING, 0x04);
    /// ```
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::NULL, 0x05);
    /// ```
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::OID, 0x06);
    /// ```
    pub const OID: u8 = 0x06;
    /// SEQUENCE.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::SEQUENCE, 0x30);
    /// ```
    pub const SEQUENCE: u8 = 0x30;
    /// IpAddress (APPLICATION 0).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::IP_ADDRESS, 0x40);
    /// ```
    pub const IP_ADDRESS: u8 = 0x40;
    /// Counter32 (APPLICATION 1).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::COUNTER32, 0x41);
    /// ```
    pub const COUNTER32: u8 = 0x41;
    /// Gauge32 / Unsigned32 (APPLICATION 2).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::GAUGE32, 0x42);
    /// ```
    pub const GAUGE32: u8 = 0x42;
    /// TimeTicks (APPLICATION 3).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::TIMETICKS, 0x43);
    /// ```
    pub const TIMETICKS: u8 = 0x43;
    /// Opaque (APPLICATION 4).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::OPAQUE, 0x44);
    /// ```
    pub const OPAQUE: u8 = 0x44;
    /// Counter64 (APPLICATION 6).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::COUNTER64, 0x46);
    /// ```
    pub const COUNTER64: u8 = 0x46;
    /// noSuchObject exception (context 0, primitive).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::NO_SUCH_OBJECT, 0x80);
    /// ```
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    /// noSuchInstance exception (context 1, primitive).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::NO_SUCH_INSTANCE, 0x81);
    /// ```
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    /// endOfMibView exception (context 2, primitive).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::tag::END_OF_MIB_VIEW, 0x82);
    /// ```
    pub const END_OF_MIB_VIEW: u8 = 0x82;
}

/// Most sub-identifiers in an OID (RFC 2578 §3.5).
///
/// ```
/// use edgepool::snmp::{ber::MAX_OID_LEN, Oid};
/// assert!(vec!["1"; MAX_OID_LEN].join(".").parse::<Oid>().is_ok());
/// assert!(vec!["1"; MAX_OID_LEN + 1].join(".").parse::<Oid>().is_err());
/// ```
pub const MAX_OID_LEN: usize = 128;

/// Reads TLVs from a byte slice.
///
/// ```
/// use edgepool::snmp::ber::{tag, Reader};
/// // SEQUENCE { INTEGER 1, OCTET STRING "public" }
/// let bytes = [0x30, 0x0b, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c'];
/// let mut r = Reader::new(&bytes);
/// let mut seq = r.nested(tag::SEQUENCE)?;
/// assert_eq!(seq.integer()?, 1);
/// assert_eq!(seq.octets()?, b"public");
/// assert!(seq.is_empty() && r.is_empty());
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    ///
    /// ```
    /// use edgepool::snmp::ber::{tag, Reader};
    /// let mut r = Reader::new(&[0x02, 0x01, 0x05]);
    /// assert_eq!(r.integer()?, 5);
    /// assert!(r.is_empty());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True when every byte has been read.
    ///
    /// ```
    /// assert!(edgepool::snmp::ber::Reader::new(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes read so far.
    ///
    /// ```
    /// let mut r = edgepool::snmp::ber::Reader::new(&[0x05, 0x00]);
    /// r.null()?;
    /// assert_eq!(r.position(), 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The tag of the next TLV, without reading it.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::ber::Reader::new(&[0x30, 0x00]).peek_tag(), Some(0x30));
    /// ```
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads one TLV: its tag and its value bytes.
    ///
    /// ```
    /// let mut r = edgepool::snmp::ber::Reader::new(&[0x04, 0x02, b'h', b'i']);
    /// assert_eq!(r.tlv()?, (0x04, &b"hi"[..]));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn tlv(&mut self) -> Result<(u8, &'a [u8])> {
        let (tag, start, len) = header(self.buf, self.pos)?.ok_or(BerError::Truncated)?;
        let end = start + len;
        self.pos = end;
        Ok((tag, &self.buf[start..end]))
    }

    /// Reads a TLV that must carry `want`.
    ///
    /// ```
    /// use edgepool::snmp::ber::{tag, Reader};
    /// assert_eq!(Reader::new(&[0x04, 0x01, b'x']).expect(tag::OCTET_STRING)?, b"x");
    /// assert!(Reader::new(&[0x04, 0x01, b'x']).expect(tag::INTEGER).is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn expect(&mut self, want: u8) -> Result<&'a [u8]> {
        let (tag, value) = self.tlv()?;
        if tag != want {
            return Err(BerError::UnexpectedTag {
                expected: want,
                found: tag,
            });
        }
        Ok(value)
    }

    /// Reads a constructed TLV with tag `want` and returns a reader over its
    /// contents.
    ///
    /// ```
    /// use edgepool::snmp::ber::{tag, Reader};
    /// // SEQUENCE { NULL }, then INTEGER 7.
    /// let mut r = Reader::new(&[0x30, 0x02, 0x05, 0x00, 0x02, 0x01, 0x07]);
    /// let mut inner = r.nested(tag::SEQUENCE)?;
    /// inner.null()?;
    /// assert!(inner.is_empty());
    /// assert_eq!(r.integer()?, 7);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn nested(&mut self, want: u8) -> Result<Reader<'a>> {
        self.expect(want).map(Reader::new)
    }

    /// Reads an INTEGER (up to 64 bits).
    ///
    /// ```
    /// use edgepool::snmp::ber::Reader;
    /// assert_eq!(Reader::new(&[0x02, 0x02, 0x00, 0x80]).integer()?, 128);
    /// assert_eq!(Reader::new(&[0x02, 0x02, 0xff, 0x7f]).integer()?, -129);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn integer(&mut self) -> Result<i64> {
        let v = self.expect(tag::INTEGER)?;
        decode_i64(v)
    }

    /// Reads an OCTET STRING.
    ///
    /// ```
    /// let mut r = edgepool::snmp::ber::Reader::new(&[0x04, 0x03, b'l', b'a', b'b']);
    /// assert_eq!(r.octets()?, b"lab");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn octets(&mut self) -> Result<&'a [u8]> {
        self.expect(tag::OCTET_STRING)
    }

    /// Reads a NULL.
    ///
    /// ```
    /// use edgepool::snmp::ber::Reader;
    /// Reader::new(&[0x05, 0x00]).null()?;
    /// assert!(Reader::new(&[0x05, 0x01, 0x00]).null().is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn null(&mut self) -> Result<()> {
        match self.expect(tag::NULL)? {
            [] => Ok(()),
            _ => Err(BerError::NullWithContents),
        }
    }
}

/// Parses a TLV header at `pos`: `(tag, value start, value length)`, or
/// `None` when `buf` ends before the header or the value does.
pub(crate) fn header(buf: &[u8], pos: usize) -> Result<Option<(u8, usize, usize)>> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Err(BerError::MultiByteTag);
    }
    let Some(&first) = buf.get(pos + 1) else {
        return Ok(None);
    };
    let (len, start) = if first < 0x80 {
        (first as usize, pos + 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 {
            return Err(BerError::IndefiniteLength);
        }
        if n > 4 {
            return Err(BerError::BadLength);
        }
        let Some(bytes) = buf.get(pos + 2..pos + 2 + n) else {
            return Ok(None);
        };
        let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, pos + 2 + n)
    };
    match start.checked_add(len) {
        Some(end) if end <= buf.len() => Ok(Some((tag, start, len))),
        Some(_) => Ok(None),
        None => Err(BerError::BadLength),
    }
}

/// The outer SEQUENCE of a message: `(value start, value length)`, `None`
/// when `buf` ends inside it, an error when `buf` starts with another tag.
pub(crate) fn sequence(buf: &[u8]) -> Result<Option<(usize, usize)>> {
    match header(buf, 0)? {
        Some((tag::SEQUENCE, start, len)) => Ok(Some((start, len))),
        Some((found, ..)) => Err(BerError::UnexpectedTag {
            expected: tag::SEQUENCE,
            found,
        }),
        None => Ok(None),
    }
}

pub(crate) fn decode_i64(v: &[u8]) -> Result<i64> {
    if v.is_empty() || v.len() > 8 {
        return Err(BerError::BadInteger { len: v.len() });
    }
    let mut x: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in v {
        x = (x << 8) | b as i64;
    }
    Ok(x)
}

pub(crate) fn decode_u64(v: &[u8], max_bytes: usize) -> Result<u64> {
    if v.is_empty() || v.len() > max_bytes {
        return Err(BerError::BadInteger { len: v.len() });
    }
    if v.len() == max_bytes && v[0] != 0 {
        return Err(BerError::IntegerOverflow {
            what: "unsigned value",
        });
    }
    Ok(v.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

pub(crate) fn decode_u32(v: &[u8]) -> Result<u32> {
    // Agents send Counter32 etc. as signed-looking INTEGER encodings with a
    // leading zero; some send 0xFF… for large values without it: accept both.
    let x = decode_u64(v, 5)?;
    u32::try_from(x).map_err(|_| BerError::IntegerOverflow {
        what: "32-bit value",
    })
}

const SUB_ID_OVERFLOW: BerError = BerError::IntegerOverflow {
    what: "OID sub-identifier",
};

/// Decodes OID contents into sub-identifiers.
pub(crate) fn decode_oid(v: &[u8]) -> Result<Vec<u32>> {
    if v.is_empty() {
        return Err(BerError::BadOid);
    }
    let mut out = Vec::with_capacity((v.len() + 1).min(MAX_OID_LEN));
    let mut acc: u64 = 0;
    let mut in_progress = false;
    for (i, &b) in v.iter().enumerate() {
        if !in_progress && b == 0x80 {
            return Err(BerError::BadOid);
        }
        acc = (acc << 7) | (b & 0x7f) as u64;
        if acc > u32::MAX as u64 + 80 {
            return Err(SUB_ID_OVERFLOW);
        }
        in_progress = b & 0x80 != 0;
        if in_progress {
            continue;
        }
        if out.is_empty() {
            let (a, b) = match acc {
                0..=39 => (0, acc),
                40..=79 => (1, acc - 40),
                _ => (2, acc - 80),
            };
            let b = u32::try_from(b).map_err(|_| SUB_ID_OVERFLOW)?;
            out.push(a);
            out.push(b);
        } else {
            let x = u32::try_from(acc).map_err(|_| SUB_ID_OVERFLOW)?;
            out.push(x);
        }
        if out.len() > MAX_OID_LEN {
            return Err(BerError::TooLarge {
                what: "OID",
                len: out.len() as u32,
                max: MAX_OID_LEN as u32,
            });
        }
        acc = 0;
        let _ = i;
    }
    if in_progress {
        return Err(BerError::BadOid);
    }
    Ok(out)
}

/// Appends a TLV whose contents `f` writes.
pub(crate) fn write_tlv(out: &mut Vec<u8>, tag: u8, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let len_at = out.len();
    out.push(0);
    let start = out.len();
    f(out);
    let len = out.len() - start;
    if len < 0x80 {
        out[len_at] = len as u8;
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let long = &bytes[skip..];
        out[len_at] = 0x80 | long.len() as u8;
        // Make room for the long form after the first length byte.
        out.splice(start..start, long.iter().copied());
    }
}

/// Appends a primitive TLV.
pub(crate) fn write_bytes(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    write_tlv(out, tag, |o| o.extend_from_slice(value));
}

/// Appends an INTEGER in its shortest two's-complement form.
pub(crate) fn write_i64(out: &mut Vec<u8>, tag: u8, v: i64) {
    let bytes = v.to_be_bytes();
    let mut skip = 0;
    while skip < 7 {
        let (b, next) = (bytes[skip], bytes[skip + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            skip += 1;
        } else {
            break;
        }
    }
    write_bytes(out, tag, &bytes[skip..]);
}

/// Appends an unsigned value (Counter32, Gauge32, TimeTicks, Counter64).
pub(crate) fn write_u64(out: &mut Vec<u8>, tag: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    write_tlv(out, tag, |o| {
        if bytes[skip] & 0x80 != 0 {
            o.push(0);
        }
        o.extend_from_slice(&bytes[skip..]);
    });
}

/// Appends an OID.
pub(crate) fn write_oid(out: &mut Vec<u8>, oid: &[u32]) {
    write_tlv(out, tag::OID, |o| {
        let (first, rest) = match oid {
            [a, b, rest @ ..] => (u64::from(*a) * 40 + u64::from(*b), rest),
            [a] => (u64::from(*a) * 40, &[][..]),
            [] => (0, &[][..]),
        };
        base128(o, first);
        for &s in rest {
            base128(o, u64::from(s));
        }
    });
}

fn base128(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = (v & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_shortest_form() {
        for (v, enc) in [
            (0i64, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (256, &[0x01, 0x00]),
            (-1, &[0xff]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
            (2_147_483_647, &[0x7f, 0xff, 0xff, 0xff]),
            (-2_147_483_648, &[0x80, 0x00, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            write_i64(&mut out, tag::INTEGER, v);
            assert_eq!(&out[2..], enc, "{v}");
            assert_eq!(Reader::new(&out).integer().unwrap(), v);
        }
    }

    #[test]
    fn unsigned_values() {
        for (v, enc) in [
            (0u64, &[0x00][..]),
            (0x80, &[0x00, 0x80]),
            (u32::MAX as u64, &[0x00, 0xff, 0xff, 0xff, 0xff]),
            (
                u64::MAX,
                &[0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, tag::COUNTER64, v);
            assert_eq!(&out[2..], enc, "{v}");
            assert_eq!(decode_u64(&out[2..], 9).unwrap(), v);
        }
        assert!(decode_u32(&[0x01, 0x00, 0x00, 0x00, 0x00]).is_err());
        assert!(decode_u64(&[0x01; 10], 9).is_err());
    }

    #[test]
    fn oids() {
        // X.690 8.19.5: { 2 999 3 } encodes as 88 37 03.
        let mut out = Vec::new();
        write_oid(&mut out, &[2, 999, 3]);
        assert_eq!(out, [0x06, 0x03, 0x88, 0x37, 0x03]);
        assert_eq!(decode_oid(&out[2..]).unwrap(), vec![2, 999, 3]);
        let sys_uptime = [1, 3, 6, 1, 2, 1, 1, 3, 0];
        out.clear();
        write_oid(&mut out, &sys_uptime);
        assert_eq!(
            out,
            [0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00]
        );
        out.clear();
        write_oid(&mut out, &[1, 3, 4_294_967_295]);
        assert_eq!(decode_oid(&out[2..]).unwrap(), vec![1, 3, u32::MAX]);
        assert!(
            decode_oid(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x80, 0x00]).is_err(),
            "over 32 bits"
        );
        assert!(
            decode_oid(&[0x2b, 0x86]).is_err(),
            "ends mid sub-identifier"
        );
        assert!(decode_oid(&[0x2b, 0x80, 0x01]).is_err(), "leading 0x80");
        assert!(decode_oid(&[]).is_err());
        assert!(decode_oid(&[0x2b; 200]).is_err(), "too long");
    }

    #[test]
    fn long_form_lengths() {
        let value = vec![7u8; 300];
        let mut out = Vec::new();
        write_bytes(&mut out, tag::OCTET_STRING, &value);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Reader::new(&out);
        assert_eq!(r.octets().unwrap(), &value[..]);
        assert!(r.is_empty());
        // Header checks.
        assert_eq!(header(&[0x04, 0x81], 0).unwrap(), None);
        assert_eq!(header(&[0x04, 0x05, 1, 2], 0).unwrap(), None);
        assert!(header(&[0x04, 0x80], 0).is_err(), "indefinite");
        assert!(
            header(&[0x04, 0x85, 1, 1, 1, 1, 1], 0).is_err(),
            "5 length bytes"
        );
        assert!(header(&[0x1f, 0x01, 0x00], 0).is_err(), "multi-byte tag");
        assert!(Reader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff])
            .tlv()
            .is_err());
    }
}
