//! A sans-IO subset of BER (X.690) as SNMP uses it: definite lengths, short
//! and long form, primitive and constructed TLVs.
//!
//! Decoding never allocates more than the input holds and never panics:
//! every length is checked against the bytes that are there.

use crate::{Error, Result};

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

pub(crate) fn bad(msg: impl Into<String>) -> Error {
    Error::Protocol(msg.into().into())
}

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
        let (tag, start, len) = header(self.buf, self.pos)?.ok_or_else(|| bad("truncated TLV"))?;
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
            return Err(bad(format!("expected tag 0x{want:02x}, found 0x{tag:02x}")));
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
            _ => Err(bad("NULL with contents")),
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
        return Err(bad("multi-byte tags are not used by SNMP"));
    }
    let Some(&first) = buf.get(pos + 1) else {
        return Ok(None);
    };
    let (len, start) = if first < 0x80 {
        (first as usize, pos + 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 {
            return Err(bad("indefinite lengths are not allowed"));
        }
        if n > 4 {
            return Err(bad(format!("length of {n} bytes")));
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
        None => Err(bad("length overflows")),
    }
}

pub(crate) fn decode_i64(v: &[u8]) -> Result<i64> {
    if v.is_empty() || v.len() > 8 {
        return Err(bad(format!("INTEGER of {} bytes", v.len())));
    }
    let mut x: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in v {
        x = (x << 8) | b as i64;
    }
    Ok(x)
}

pub(crate) fn decode_u64(v: &[u8], max_bytes: usize) -> Result<u64> {
    if v.is_empty() || v.len() > max_bytes {
        return Err(bad(format!("unsigned of {} bytes", v.len())));
    }
    if v.len() == max_bytes && v[0] != 0 {
        return Err(bad("unsigned value out of range"));
    }
    Ok(v.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

pub(crate) fn decode_u32(v: &[u8]) -> Result<u32> {
    // Agents send Counter32 etc. as signed-looking INTEGER encodings with a
    // leading zero; some send 0xFF… for large values without it: accept both.
    let x = decode_u64(v, 5)?;
    u32::try_from(x).map_err(|_| bad("32-bit value out of range"))
}

/// Decodes OID contents into sub-identifiers.
pub(crate) fn decode_oid(v: &[u8]) -> Result<Vec<u32>> {
    if v.is_empty() {
        return Err(bad("empty OID"));
    }
    let mut out = Vec::with_capacity((v.len() + 1).min(MAX_OID_LEN));
    let mut acc: u64 = 0;
    let mut in_progress = false;
    for (i, &b) in v.iter().enumerate() {
        if !in_progress && b == 0x80 {
            return Err(bad("OID sub-identifier with a leading 0x80"));
        }
        acc = (acc << 7) | (b & 0x7f) as u64;
        if acc > u32::MAX as u64 + 80 {
            return Err(bad("OID sub-identifier over 32 bits"));
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
            let b = u32::try_from(b).map_err(|_| bad("OID sub-identifier over 32 bits"))?;
            out.push(a);
            out.push(b);
        } else {
            let x = u32::try_from(acc).map_err(|_| bad("OID sub-identifier over 32 bits"))?;
            out.push(x);
        }
        if out.len() > MAX_OID_LEN {
            return Err(bad(format!(
                "OID longer than {MAX_OID_LEN} sub-identifiers"
            )));
        }
        acc = 0;
        let _ = i;
    }
    if in_progress {
        return Err(bad("OID ends inside a sub-identifier"));
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
