//! A sans-IO codec for S7comm PDUs (the payload of ISO-on-TCP data TPDUs):
//! setup communication, read var / write var with one or many items, and
//! SZL reads (first and follow-up parts).
//!
//! Encoders append one S7 PDU to a buffer; [`parse`] splits a received PDU
//! into header, parameters and data with every length checked against what
//! arrived; the `decode_*` functions check that the answer fits the request
//! and hand out borrowed slices. Nothing here allocates from a length field.
//!
//! ```
//! use edgepool::s7::pdu::{self, Item};
//! use edgepool::s7::Area;
//!
//! let items = [Item::bytes(Area::Db, 1, 0, 16)];
//! let mut out = Vec::new();
//! pdu::encode_read(1, &items, &mut out);
//! assert_eq!(out.len(), 10 + 2 + 12);
//! # Ok::<(), edgepool::Error>(())
//! ```

use super::error::{ReturnCode, S7Error};
use crate::{Error, Result};
use std::fmt;

/// Bytes of a job / userdata header.
///
/// ```
/// use edgepool::s7::pdu::{encode_setup, REQUEST_HEADER};
/// let mut out = Vec::new();
/// encode_setup(1, 480, &mut out);
/// assert_eq!(out.len(), REQUEST_HEADER + 8); // header + setup parameters
/// ```
pub const REQUEST_HEADER: usize = 10;
/// Bytes of an acknowledgement header (with error class and code).
///
/// ```
/// assert_eq!(edgepool::s7::pdu::ACK_HEADER, edgepool::s7::pdu::REQUEST_HEADER + 2);
/// ```
pub const ACK_HEADER: usize = 12;
/// Most items in one read or write request (an S7 limit).
///
/// ```
/// use edgepool::s7::pdu::{read_request_len, MAX_ITEMS};
/// assert_eq!(read_request_len(MAX_ITEMS), 252); // so 20 items need a PDU of 252+ bytes
/// ```
pub const MAX_ITEMS: usize = 20;
/// Bytes one item takes in a read/write request's parameters.
///
/// ```
/// use edgepool::s7::pdu::{read_request_len, ITEM_SPEC};
/// assert_eq!(read_request_len(2) - read_request_len(1), ITEM_SPEC);
/// ```
pub const ITEM_SPEC: usize = 12;

const PROTOCOL_ID: u8 = 0x32;
const JOB: u8 = 0x01;
const ACK: u8 = 0x02;
const ACK_DATA: u8 = 0x03;
const USERDATA: u8 = 0x07;
const FN_SETUP: u8 = 0xf0;
const FN_READ: u8 = 0x04;
const FN_WRITE: u8 = 0x05;
const OK: u8 = 0xff;

/// A memory area of the PLC.
///
/// ```
/// use edgepool::s7::Area;
/// assert_eq!(Area::Db.code(), 0x84);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Area {
    /// Process inputs (I / E, "PE").
    Inputs,
    /// Process outputs (Q / A, "PA").
    Outputs,
    /// Merkers / flags (M).
    Merkers,
    /// Data blocks (DB); the item's `db` says which.
    Db,
    /// Counters (C / Z): 2 bytes each.
    Counters,
    /// Timers (T): 2 bytes each.
    Timers,
}

impl Area {
    /// The area code on the wire.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// assert_eq!(Area::Inputs.code(), 0x81);
    /// assert_eq!(Area::Timers.code(), 0x1d);
    /// ```
    pub fn code(self) -> u8 {
        match self {
            Area::Inputs => 0x81,
            Area::Outputs => 0x82,
            Area::Merkers => 0x83,
            Area::Db => 0x84,
            Area::Counters => 0x1c,
            Area::Timers => 0x1d,
        }
    }

    /// Bytes per element: 2 for timers and counters, 1 otherwise.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// assert_eq!(Area::Counters.element_size(), 2);
    /// assert_eq!(Area::Merkers.element_size(), 1);
    /// ```
    pub fn element_size(self) -> usize {
        match self {
            Area::Counters | Area::Timers => 2,
            _ => 1,
        }
    }
}

/// One variable to read or write: an area, a DB number (for [`Area::Db`]),
/// a start and a length.
///
/// For inputs, outputs, merkers and DBs, `start` is a byte offset and `len`
/// a number of bytes; for timers and counters both count elements (2 bytes
/// each). A bit item (`bit: Some(0..=7)`) is one bit of byte `start`.
///
/// ```
/// use edgepool::s7::{Area, Item};
/// assert_eq!(Item::bytes(Area::Db, 5, 10, 4).to_string(), "DB5.DBB10 (4 bytes)");
/// assert_eq!(Item::bit(Area::Merkers, 0, 3, 7).to_string(), "M3.7");
/// assert_eq!(Item::bytes(Area::Timers, 0, 2, 3).byte_len(), 6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Item {
    /// The area.
    pub area: Area,
    /// The DB number; 0 for other areas.
    pub db: u16,
    /// Byte offset (or first timer/counter).
    pub start: u32,
    /// Bytes (or timers/counters); 1 for a bit.
    pub len: u16,
    /// The bit (0–7) of byte `start`, for a bit item.
    pub bit: Option<u8>,
}

impl Item {
    /// `len` bytes (or timers/counters) from `start`. `db` is ignored for
    /// areas other than [`Area::Db`].
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// let i = Item::bytes(Area::Merkers, 7, 0, 2);
    /// assert_eq!(i.db, 0);
    /// ```
    pub fn bytes(area: Area, db: u16, start: u32, len: u16) -> Item {
        Item {
            area,
            db: if area == Area::Db { db } else { 0 },
            start,
            len,
            bit: None,
        }
    }

    /// `len` bytes of data block `db` from byte `start`.
    ///
    /// ```
    /// let i = edgepool::s7::Item::db(1, 0, 64);
    /// assert_eq!(i.to_string(), "DB1.DBB0 (64 bytes)");
    /// ```
    pub fn db(db: u16, start: u32, len: u16) -> Item {
        Item::bytes(Area::Db, db, start, len)
    }

    /// Bit `bit` (0–7) of byte `byte`.
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// assert_eq!(Item::bit(Area::Db, 2, 4, 1).to_string(), "DB2.DBX4.1");
    /// ```
    pub fn bit(area: Area, db: u16, byte: u32, bit: u8) -> Item {
        Item {
            bit: Some(bit),
            len: 1,
            ..Item::bytes(area, db, byte, 1)
        }
    }

    /// Bytes of data this item reads or writes.
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// assert_eq!(Item::bit(Area::Inputs, 0, 0, 0).byte_len(), 1);
    /// ```
    pub fn byte_len(&self) -> usize {
        if self.bit.is_some() {
            1
        } else {
            usize::from(self.len) * self.area.element_size()
        }
    }

    /// Checks that the item can be encoded: bit 0–7, timers and counters not
    /// as bits, a length of at least 1, and an address within 24 bits.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("S7 item {self}: {why}")));
        match self.bit {
            Some(b) if b > 7 => return bad("bit must be 0 to 7"),
            Some(_) if self.area.element_size() == 2 => {
                return bad("timers and counters have no bits")
            }
            Some(_) if self.len != 1 => return bad("a bit item has length 1"),
            _ => {}
        }
        if self.len == 0 {
            return bad("length must be at least 1");
        }
        if self.address() > 0x00ff_ffff {
            return bad("start is beyond the 24-bit S7 address range");
        }
        Ok(())
    }

    fn transport_size(&self) -> u8 {
        match (self.bit, self.area) {
            (Some(_), _) => 0x01,
            (None, Area::Timers) => 0x1d,
            (None, Area::Counters) => 0x1c,
            (None, _) => 0x02,
        }
    }

    /// The 24-bit address: bit address for bytes and bits, element number
    /// for timers and counters.
    fn address(&self) -> u64 {
        match (self.bit, self.area.element_size()) {
            (_, 2) => u64::from(self.start),
            (Some(b), _) => u64::from(self.start) * 8 + u64::from(b),
            (None, _) => u64::from(self.start) * 8,
        }
    }

    fn encode_spec(&self, out: &mut Vec<u8>) {
        let addr = u32::try_from(self.address() & 0x00ff_ffff).unwrap_or(0);
        let [_, a0, a1, a2] = addr.to_be_bytes();
        let [l0, l1] = self.len.to_be_bytes();
        let [d0, d1] = self.db.to_be_bytes();
        out.extend_from_slice(&[
            0x12,
            0x0a,
            0x10,
            self.transport_size(),
            l0,
            l1,
            d0,
            d1,
            self.area.code(),
            a0,
            a1,
            a2,
        ]);
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, byte) = match self.area {
            Area::Inputs => ("I", "IB"),
            Area::Outputs => ("Q", "QB"),
            Area::Merkers => ("M", "MB"),
            Area::Db => ("", ""),
            Area::Timers => return plural(f, "T", self.start, self.len, "timer"),
            Area::Counters => return plural(f, "C", self.start, self.len, "counter"),
        };
        match (self.area, self.bit) {
            (Area::Db, Some(b)) => write!(f, "DB{}.DBX{}.{b}", self.db, self.start),
            (Area::Db, None) => {
                write!(f, "DB{}.DBB{}", self.db, self.start)?;
                plural_suffix(f, self.len, "byte")
            }
            (_, Some(b)) => write!(f, "{prefix}{}.{b}", self.start),
            (_, None) => {
                write!(f, "{byte}{}", self.start)?;
                plural_suffix(f, self.len, "byte")
            }
        }
    }
}

fn plural(f: &mut fmt::Formatter<'_>, p: &str, start: u32, n: u16, what: &str) -> fmt::Result {
    write!(f, "{p}{start}")?;
    plural_suffix(f, n, what)
}

fn plural_suffix(f: &mut fmt::Formatter<'_>, n: u16, what: &str) -> fmt::Result {
    let s = if n == 1 { "" } else { "s" };
    write!(f, " ({n} {what}{s})")
}

/// A header that does not hold together: the stream is out of step.
fn bad(msg: impl Into<String>) -> Error {
    Error::Protocol(crate::ProtocolError::Other(format!("S7: {}", msg.into())))
}

/// A whole answer whose content is unusable: the connection stays in step.
fn unusable(msg: impl Into<String>) -> Error {
    Error::UnexpectedAnswer(format!("S7: {}", msg.into()))
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A received S7 PDU, split into its parts.
///
/// ```
/// use edgepool::s7::pdu;
/// let m = pdu::parse(&[0x32, 0x03, 0, 0, 0, 7, 0, 2, 0, 1, 0, 0, 0x05, 0x01, 0xff])?;
/// assert_eq!((m.rosctr, m.pdu_ref, m.params, m.data), (3, 7, &[5, 1][..], &[0xff][..]));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The message type: 1 job, 2 ack, 3 ack with data, 7 userdata.
    pub rosctr: u8,
    /// The PDU reference, echoed from the request.
    pub pdu_ref: u16,
    /// Error class and code of an acknowledgement (0 when none or absent).
    pub error: (u8, u8),
    /// The parameter part.
    pub params: &'a [u8],
    /// The data part.
    pub data: &'a [u8],
}

/// Splits one complete S7 PDU into header, parameters and data. The
/// parameter and data lengths must add up to exactly what arrived.
///
/// ```
/// use edgepool::s7::pdu;
/// assert!(pdu::parse(&[0x32, 0x03, 0, 0, 0, 7, 0, 9, 0, 1, 0, 0]).is_err());
/// ```
pub fn parse(buf: &[u8]) -> Result<Message<'_>> {
    if buf.len() < REQUEST_HEADER {
        return Err(bad(format!("a {}-byte PDU is too short", buf.len())));
    }
    if buf[0] != PROTOCOL_ID {
        return Err(bad(format!("protocol id {:#04x}, expected 0x32", buf[0])));
    }
    let rosctr = buf[1];
    let header = match rosctr {
        JOB | USERDATA => REQUEST_HEADER,
        ACK | ACK_DATA => ACK_HEADER,
        other => return Err(bad(format!("unknown message type {other:#04x}"))),
    };
    if buf.len() < header {
        return Err(bad("truncated acknowledgement header"));
    }
    let pdu_ref = be16(buf, 4);
    let plen = usize::from(be16(buf, 6));
    let dlen = usize::from(be16(buf, 8));
    let error = if header == ACK_HEADER {
        (buf[10], buf[11])
    } else {
        (0, 0)
    };
    if header + plen + dlen != buf.len() {
        return Err(bad(format!(
            "lengths {plen} + {dlen} do not match the {} bytes received",
            buf.len() - header
        )));
    }
    Ok(Message {
        rosctr,
        pdu_ref,
        error,
        params: &buf[header..header + plen],
        data: &buf[header + plen..],
    })
}

fn header(out: &mut Vec<u8>, rosctr: u8, pdu_ref: u16, plen: usize, dlen: usize) {
    let [r0, r1] = pdu_ref.to_be_bytes();
    let [p0, p1] = u16::try_from(plen).unwrap_or(u16::MAX).to_be_bytes();
    let [d0, d1] = u16::try_from(dlen).unwrap_or(u16::MAX).to_be_bytes();
    out.extend_from_slice(&[PROTOCOL_ID, rosctr, 0, 0, r0, r1, p0, p1, d0, d1]);
}

/// Server side (the S7 simulator): appends an acknowledgement header, ack
/// with data (`with_data`) or plain ack, carrying error class and code.
#[cfg(feature = "sim")]
pub(crate) fn encode_ack_header(
    out: &mut Vec<u8>,
    with_data: bool,
    pdu_ref: u16,
    plen: usize,
    dlen: usize,
    error: (u8, u8),
) {
    let rosctr = if with_data { ACK_DATA } else { ACK };
    header(out, rosctr, pdu_ref, plen, dlen);
    out.extend_from_slice(&[error.0, error.1]);
}

/// Server side (the S7 simulator): appends a userdata header.
#[cfg(feature = "sim")]
pub(crate) fn encode_userdata_header(out: &mut Vec<u8>, pdu_ref: u16, plen: usize, dlen: usize) {
    header(out, USERDATA, pdu_ref, plen, dlen);
}

/// Appends a setup-communication job asking for `pdu_size` bytes (one
/// parallel job each way).
///
/// ```
/// let mut out = Vec::new();
/// edgepool::s7::pdu::encode_setup(0, 480, &mut out);
/// // What the Snap7 client sends.
/// assert_eq!(out, [0x32, 0x01, 0, 0, 0, 0, 0, 8, 0, 0, 0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]);
/// ```
pub fn encode_setup(pdu_ref: u16, pdu_size: u16, out: &mut Vec<u8>) {
    header(out, JOB, pdu_ref, 8, 0);
    let [s0, s1] = pdu_size.to_be_bytes();
    out.extend_from_slice(&[FN_SETUP, 0, 0, 1, 0, 1, s0, s1]);
}

fn check_ack(m: &Message<'_>, what: &'static str) -> Result<()> {
    if m.rosctr != ACK_DATA && m.rosctr != ACK {
        return Err(unusable(format!(
            "message type {:#04x} in answer to {what}",
            m.rosctr
        )));
    }
    if m.error != (0, 0) {
        return Err(Error::S7(S7Error::Refused {
            what,
            class: m.error.0,
            code: m.error.1,
        }));
    }
    Ok(())
}

/// Decodes the answer to setup communication: the PDU size the PLC grants.
///
/// ```
/// use edgepool::s7::pdu;
/// // Captured from the Snap7 server.
/// let ack = [0x32, 0x03, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0];
/// assert_eq!(pdu::decode_setup(&pdu::parse(&ack)?)?, 480);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode_setup(m: &Message<'_>) -> Result<u16> {
    check_ack(m, "setup communication")?;
    match m.params {
        [FN_SETUP, _, _, _, _, _, s0, s1, ..] => Ok(u16::from_be_bytes([*s0, *s1])),
        _ => Err(unusable("malformed setup communication answer")),
    }
}

/// Appends a read-var job for `items` (at most [`MAX_ITEMS`]; the caller
/// keeps the request and its answer within the PDU size).
///
/// ```
/// use edgepool::s7::pdu::{self, Item};
/// let mut out = Vec::new();
/// pdu::encode_read(0x0100, &[Item::db(1, 0, 16)], &mut out);
/// // What the Snap7 client sends for db_read(1, 0, 16) (its first request
/// // after setup: Snap7 puts its counter 1 on the wire as 0x0100).
/// assert_eq!(out, [0x32, 0x01, 0, 0, 1, 0, 0, 0x0e, 0, 0, 0x04, 0x01, 0x12, 0x0a, 0x10, 0x02,
///                  0, 0x10, 0, 0x01, 0x84, 0, 0, 0]);
/// ```
pub fn encode_read(pdu_ref: u16, items: &[Item], out: &mut Vec<u8>) {
    header(out, JOB, pdu_ref, 2 + ITEM_SPEC * items.len(), 0);
    out.extend_from_slice(&[FN_READ, u8::try_from(items.len()).unwrap_or(u8::MAX)]);
    for item in items {
        item.encode_spec(out);
    }
}

/// Bytes of a read request for `n` items.
///
/// ```
/// assert_eq!(edgepool::s7::pdu::read_request_len(1), 24);
/// ```
pub fn read_request_len(n: usize) -> usize {
    REQUEST_HEADER + 2 + ITEM_SPEC * n
}

/// Bytes one item takes in a read answer (4-byte item header, data, and
/// the fill byte after odd data unless it is the last item).
///
/// ```
/// assert_eq!(edgepool::s7::pdu::read_answer_item_len(3, false), 8);
/// assert_eq!(edgepool::s7::pdu::read_answer_item_len(3, true), 7);
/// ```
pub fn read_answer_item_len(bytes: usize, last: bool) -> usize {
    4 + bytes + usize::from(!last && bytes % 2 == 1)
}

/// The outcome of one item of a read: its bytes, or the PLC's return code.
///
/// ```
/// use edgepool::s7::pdu::ItemResult;
/// let results: Vec<ItemResult<'_>> = vec![Ok(&[0x2a][..])];
/// assert_eq!(results[0], Ok(&[0x2a][..]));
/// ```
pub type ItemResult<'a> = std::result::Result<&'a [u8], ReturnCode>;

/// Decodes the answer to a read-var job for `items`: one result per item,
/// in order. A refused item is an `Err` in place; a malformed answer (wrong
/// count, data of the wrong length, truncated) is an error for the whole
/// message.
///
/// ```
/// use edgepool::s7::{pdu::{self, Item}, Area, ReturnCode};
/// // Captured from the Snap7 server: 4 items, the third out of range.
/// let ack = [0x32, 0x03, 0, 0, 6, 0, 0, 2, 0, 0x19, 0, 0, 0x04, 0x04,
///     0xff, 0x04, 0, 0x20, 0x1f, 0x26, 0x2d, 0x34,
///     0xff, 0x04, 0, 0x18, 0xe4, 0xeb, 0xf2, 0x6c,
///     0x05, 0x00, 0, 0x04,
///     0xff, 0x03, 0, 0x01, 0x01];
/// let items = [Item::db(1, 0, 4), Item::bytes(Area::Merkers, 0, 1, 3), Item::db(1, 300, 2),
///              Item::bit(Area::Db, 1, 2, 3)];
/// let r = pdu::decode_read(&pdu::parse(&ack)?, &items)?;
/// assert_eq!(r[1], Ok(&[0xe4, 0xeb, 0xf2][..]));
/// assert_eq!(r[2], Err(ReturnCode::AddressOutOfRange));
/// assert_eq!(r[3], Ok(&[1][..]));
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode_read<'a>(m: &Message<'a>, items: &[Item]) -> Result<Vec<ItemResult<'a>>> {
    check_ack(m, "read")?;
    match m.params {
        [FN_READ, n] if usize::from(*n) == items.len() => {}
        _ => return Err(unusable("malformed read answer parameters")),
    }
    let mut out = Vec::with_capacity(items.len());
    let mut d = m.data;
    for (i, item) in items.iter().enumerate() {
        let [rc, ts, l0, l1, rest @ ..] = d else {
            return Err(unusable(format!("read answer truncated at item {}", i + 1)));
        };
        if *rc != OK {
            // Snap7 announces 4 bytes here, a real CPU 0; neither sends data.
            out.push(Err(ReturnCode::from_code(*rc)));
            d = rest;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let bytes = match ts {
            0x03 => len.div_ceil(8),   // bit: length in bits
            0x04 | 0x05 => len / 8,    // byte/word/dword, integer: in bits
            0x06 | 0x07 | 0x09 => len, // dinteger, real, octet string: in bytes
            other => return Err(unusable(format!("unknown transport size {other:#04x}"))),
        };
        if bytes != item.byte_len() {
            return Err(unusable(format!(
                "{item}: {bytes} bytes in the answer, {} requested",
                item.byte_len()
            )));
        }
        let Some(data) = rest.get(..bytes) else {
            return Err(unusable(format!("{item}: answer truncated")));
        };
        out.push(Ok(data));
        let last = i + 1 == items.len();
        let fill = usize::from(!last && bytes % 2 == 1);
        d = rest.get(bytes + fill..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Appends a write-var job: each item with its bytes (`data.len()` must be
/// the item's [`Item::byte_len`]).
///
/// ```
/// use edgepool::s7::pdu::{self, Item};
/// let mut out = Vec::new();
/// pdu::encode_write(0x0200, &[(Item::db(3, 4, 3), &[1, 2, 3][..])], &mut out);
/// // What the Snap7 client sends for db_write(3, 4, b"\x01\x02\x03").
/// assert_eq!(out, [0x32, 0x01, 0, 0, 2, 0, 0, 0x0e, 0, 7, 0x05, 0x01, 0x12, 0x0a, 0x10, 0x02,
///     0, 3, 0, 3, 0x84, 0, 0, 0x20, 0x00, 0x04, 0, 0x18, 1, 2, 3]);
/// ```
pub fn encode_write(pdu_ref: u16, items: &[(Item, &[u8])], out: &mut Vec<u8>) {
    let n = items.len();
    let dlen: usize = items
        .iter()
        .enumerate()
        .map(|(i, (_, d))| write_data_item_len(d.len(), i + 1 == n))
        .sum();
    header(out, JOB, pdu_ref, 2 + ITEM_SPEC * n, dlen);
    out.extend_from_slice(&[FN_WRITE, u8::try_from(n).unwrap_or(u8::MAX)]);
    for (item, _) in items {
        item.encode_spec(out);
    }
    for (i, (item, data)) in items.iter().enumerate() {
        let (ts, len) = match (item.bit, item.area.element_size()) {
            (Some(_), _) => (0x03, data.len()),
            (None, 2) => (0x09, data.len()),
            (None, _) => (0x04, data.len() * 8),
        };
        let [l0, l1] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        out.extend_from_slice(&[0x00, ts, l0, l1]);
        out.extend_from_slice(data);
        if i + 1 < n && data.len() % 2 == 1 {
            out.push(0);
        }
    }
}

/// Bytes one item takes in a write request's data part.
///
/// ```
/// assert_eq!(edgepool::s7::pdu::write_data_item_len(3, false), 8);
/// ```
pub fn write_data_item_len(bytes: usize, last: bool) -> usize {
    read_answer_item_len(bytes, last)
}

/// Decodes the answer to a write-var job of `count` items: one result per
/// item, in order.
///
/// ```
/// use edgepool::s7::pdu;
/// // Captured from the Snap7 server.
/// let ack = [0x32, 0x03, 0, 0, 2, 0, 0, 2, 0, 1, 0, 0, 0x05, 0x01, 0xff];
/// assert_eq!(pdu::decode_write(&pdu::parse(&ack)?, 1)?, vec![Ok(())]);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode_write(
    m: &Message<'_>,
    count: usize,
) -> Result<Vec<std::result::Result<(), ReturnCode>>> {
    check_ack(m, "write")?;
    match m.params {
        [FN_WRITE, n] if usize::from(*n) == count => {}
        _ => return Err(unusable("malformed write answer parameters")),
    }
    if m.data.len() != count {
        return Err(unusable(format!(
            "{} return codes for {count} written items",
            m.data.len()
        )));
    }
    Ok(m.data
        .iter()
        .map(|&rc| match rc {
            OK => Ok(()),
            other => Err(ReturnCode::from_code(other)),
        })
        .collect())
}

/// Appends the first request of an SZL read.
///
/// ```
/// let mut out = Vec::new();
/// edgepool::s7::pdu::encode_szl(0x0300, 0x0424, 0, &mut out);
/// // What the Snap7 client sends for its CPU status.
/// assert_eq!(out, [0x32, 0x07, 0, 0, 3, 0, 0, 8, 0, 8, 0x00, 0x01, 0x12, 0x04, 0x11, 0x44,
///     0x01, 0x00, 0xff, 0x09, 0, 4, 0x04, 0x24, 0, 0]);
/// ```
pub fn encode_szl(pdu_ref: u16, id: u16, index: u16, out: &mut Vec<u8>) {
    header(out, USERDATA, pdu_ref, 8, 8);
    let [i0, i1] = id.to_be_bytes();
    let [x0, x1] = index.to_be_bytes();
    out.extend_from_slice(&[
        0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00, OK, 0x09, 0, 4, i0, i1, x0, x1,
    ]);
}

/// Appends the request for the next part of a multi-part SZL answer; `seq`
/// is the sequence number the PLC gave in the previous part.
///
/// ```
/// let mut out = Vec::new();
/// edgepool::s7::pdu::encode_szl_next(4, 0x21, &mut out);
/// assert_eq!(&out[10..], [0x00, 0x01, 0x12, 0x08, 0x12, 0x44, 0x01, 0x21, 0, 0, 0, 0,
///     0x0a, 0x00, 0x00, 0x00]);
/// ```
pub fn encode_szl_next(pdu_ref: u16, seq: u8, out: &mut Vec<u8>) {
    header(out, USERDATA, pdu_ref, 12, 4);
    out.extend_from_slice(&[
        0x00, 0x01, 0x12, 0x08, 0x12, 0x44, 0x01, seq, 0, 0, 0, 0, 0x0a, 0x00, 0x00, 0x00,
    ]);
}

/// One part of an SZL answer.
///
/// ```
/// use edgepool::s7::pdu::SzlPart;
/// let p = SzlPart { seq: 0, last: true, header: None, data: &[][..] };
/// assert!(p.last);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SzlPart<'a> {
    /// The sequence number to send with the request for the next part.
    pub seq: u8,
    /// True when no part follows.
    pub last: bool,
    /// In the first part: the SZL ID, index, record length and record count.
    pub header: Option<SzlHeader>,
    /// The record bytes of this part.
    pub data: &'a [u8],
}

/// The header at the start of an SZL answer.
///
/// ```
/// use edgepool::s7::pdu::SzlHeader;
/// let h = SzlHeader { id: 0x11, index: 0, record_len: 28, record_count: 4 };
/// assert_eq!(h.record_len, 28);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SzlHeader {
    /// The SZL ID.
    pub id: u16,
    /// The index.
    pub index: u16,
    /// Bytes per record.
    pub record_len: u16,
    /// Records in the whole list (all parts).
    pub record_count: u16,
}

/// Decodes one part of an SZL answer; `first` says whether it answers the
/// first request (which carries the [`SzlHeader`]). `id` and `index` name
/// the list in errors.
///
/// ```
/// use edgepool::s7::pdu;
/// // The Snap7 server's SZL 0x0424 (CPU status RUN), captured.
/// let ud = [0x32, 0x07, 0, 0, 3, 0, 0, 0x0c, 0, 0x20,
///     0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
///     0xff, 0x09, 0, 0x1c, 0x04, 0x24, 0, 0, 0, 0x14, 0, 0x01,
///     0x51, 0x44, 0xff, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x26, 0x11, 0x22, 0x05, 0x56, 0x55, 0, 0];
/// let part = pdu::decode_szl(&pdu::parse(&ud)?, true, 0x0424, 0)?;
/// assert!(part.last);
/// assert_eq!(part.header.unwrap().record_len, 20);
/// assert_eq!(part.data[3], 0x08);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode_szl<'a>(m: &Message<'a>, first: bool, id: u16, index: u16) -> Result<SzlPart<'a>> {
    if m.rosctr != USERDATA {
        return Err(unusable(format!(
            "message type {:#04x} in answer to an SZL read",
            m.rosctr
        )));
    }
    let p = m.params;
    // 00 01 12 | length 8 | 12 | type+group 0x84 | subfunction 01 | seq |
    // data unit ref | last data unit | error code (2)
    if p.len() < 12 || p[..3] != [0x00, 0x01, 0x12] || p[5] & 0x0f != 0x04 || p[6] != 0x01 {
        return Err(unusable("malformed SZL answer parameters"));
    }
    let seq = p[7];
    let last = p[9] == 0;
    let error = be16(p, 10);
    let refused = |rc: u8| {
        Error::S7(S7Error::Szl {
            id,
            index,
            error,
            code: ReturnCode::from_code(rc),
        })
    };
    let [rc, _ts, l0, l1, rest @ ..] = m.data else {
        return if error != 0 {
            Err(refused(0))
        } else {
            Err(unusable("SZL answer without data"))
        };
    };
    if error != 0 || *rc != OK {
        return Err(refused(*rc));
    }
    let len = usize::from(u16::from_be_bytes([*l0, *l1]));
    let Some(payload) = rest.get(..len) else {
        return Err(unusable("SZL answer shorter than its length field"));
    };
    if !first {
        return Ok(SzlPart {
            seq,
            last,
            header: None,
            data: payload,
        });
    }
    if payload.len() < 8 {
        return Err(unusable("SZL answer without its header"));
    }
    let header = SzlHeader {
        id: be16(payload, 0),
        index: be16(payload, 2),
        record_len: be16(payload, 4),
        record_count: be16(payload, 6),
    };
    Ok(SzlPart {
        seq,
        last,
        header: Some(header),
        data: &payload[8..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The S7 payload of a captured ISO frame (skips TPKT + COTP DT).
    fn s7(frame: &str) -> Vec<u8> {
        hex(frame)[7..].to_vec()
    }

    // Golden vectors: captured with a hex-dumping TCP proxy between
    // python-snap7 2.1.0's client (libsnap7.so) and the C++ Snap7 server of
    // the same wheel, serving tests/s7_server.py's areas. `_C` is what the
    // Snap7 client sent, `_S` what the server answered. Snap7 writes its
    // PDU reference counter little-endian, so its request n carries the
    // reference n << 8 (the server echoes it; the value is opaque).
    const SETUP_C: &str = "0300001902f08032010000000000080000f0000001000101e0";
    const SETUP_S: &str = "0300001b02f080320300000000000800000000f0000001000101e0";
    const READ_C: &str = "0300001f02f080320100000100000e00000401120a10020010000184000000";
    const READ_S: &str =
        "0300002902f0803203000001000002001400000401ff0400801f262d343b424950575e656c737a8188";
    const WRITE_C: &str =
        "0300002602f080320100000200000e00070501120a1002000300038400002000040018010203";
    const WRITE_S: &str = "0300001602f0803203000002000002000100000501ff";
    const SZL424_C: &str = "0300002102f080320700000300000800080001120411440100ff09000404240000";
    const SZL424_S: &str = "0300003d02f080320700000300000c0020000112081284010000000000ff09001c04240000001400015144ff0800000000000000002611220556550000";
    const SZL11_S: &str = "0300009902f080320700000400000c007c000112081284010000000000ff09007800110000001c0004000136455337203331352d32454831342d304142302000c000040001000636455337203331352d32454831342d304142302000c0000400010007202020202020202020202020202020202020202000c0560302060081426f6f74204c6f61646572202020202020202020000041200909";
    const MULTI_C: &str = "0300004302f080320100000600003200000404120a10020004000184000000120a10020003000083000008120a10020002000184000960120a10010001000184000013";
    const MULTI_S: &str = "0300002e02f0803203000006000002001900000404ff0400201f262d34ff040018e4ebf26c05000004ff03000101";
    const WBIT_C: &str = "0300002402f080320100000700000e00050501120a100100010003840000010003000101";
    const TIMER_C: &str = "0300001f02f080320100000800000e00000401120a101d000200001d000000";
    const TIMER_S: &str = "0300001d02f0803203000008000002000800000401ff090004838a9198";

    fn multi_items() -> [Item; 4] {
        [
            Item::db(1, 0, 4),
            Item::bytes(Area::Merkers, 0, 1, 3),
            Item::db(1, 300, 2),
            Item::bit(Area::Db, 1, 2, 3),
        ]
    }

    #[test]
    fn requests_match_the_snap7_client() {
        let mut out = Vec::new();
        encode_setup(0, 480, &mut out);
        assert_eq!(out, s7(SETUP_C));
        out.clear();
        encode_read(0x0100, &[Item::db(1, 0, 16)], &mut out);
        assert_eq!(out, s7(READ_C));
        out.clear();
        encode_write(0x0200, &[(Item::db(3, 4, 3), &[1, 2, 3][..])], &mut out);
        assert_eq!(out, s7(WRITE_C));
        out.clear();
        encode_szl(0x0300, 0x0424, 0, &mut out);
        assert_eq!(out, s7(SZL424_C));
        out.clear();
        encode_read(0x0600, &multi_items(), &mut out);
        assert_eq!(out, s7(MULTI_C));
        out.clear();
        encode_write(
            0x0700,
            &[(Item::bit(Area::Db, 3, 0, 1), &[1][..])],
            &mut out,
        );
        assert_eq!(out, s7(WBIT_C));
        out.clear();
        encode_read(0x0800, &[Item::bytes(Area::Timers, 0, 0, 2)], &mut out);
        assert_eq!(out, s7(TIMER_C));
    }

    #[test]
    fn answers_from_the_snap7_server() {
        let setup = s7(SETUP_S);
        assert_eq!(decode_setup(&parse(&setup).unwrap()).unwrap(), 480);

        let read = s7(READ_S);
        let m = parse(&read).unwrap();
        assert_eq!(m.pdu_ref, 0x0100);
        let r = decode_read(&m, &[Item::db(1, 0, 16)]).unwrap();
        assert_eq!(r[0].unwrap(), &hex("1f262d343b424950575e656c737a8188")[..]);

        let write = s7(WRITE_S);
        assert_eq!(decode_write(&parse(&write).unwrap(), 1).unwrap(), [Ok(())]);

        let multi = s7(MULTI_S);
        let r = decode_read(&parse(&multi).unwrap(), &multi_items()).unwrap();
        assert_eq!(
            r,
            [
                Ok(&hex("1f262d34")[..]),
                Ok(&hex("e4ebf2")[..]),
                Err(ReturnCode::AddressOutOfRange),
                Ok(&[1u8][..]),
            ]
        );

        let timers = s7(TIMER_S);
        let r = decode_read(
            &parse(&timers).unwrap(),
            &[Item::bytes(Area::Timers, 0, 0, 2)],
        )
        .unwrap();
        assert_eq!(r[0].unwrap(), &hex("838a9198")[..]);

        let szl = s7(SZL424_S);
        let part = decode_szl(&parse(&szl).unwrap(), true, 0x0424, 0).unwrap();
        assert_eq!(
            part.header,
            Some(SzlHeader {
                id: 0x0424,
                index: 0,
                record_len: 20,
                record_count: 1
            })
        );
        assert_eq!(part.data.len(), 20);
        assert_eq!(part.data[3], 0x08, "RUN");

        let szl = s7(SZL11_S);
        let part = decode_szl(&parse(&szl).unwrap(), true, 0x0011, 0).unwrap();
        assert_eq!(part.header.unwrap().record_count, 4);
        assert_eq!(part.data.len(), 4 * 28);
        assert_eq!(&part.data[2..22], b"6ES7 315-2EH14-0AB0 ");
    }

    #[test]
    fn every_truncation_of_a_captured_answer_is_an_error() {
        for (frame, items) in [
            (READ_S, vec![Item::db(1, 0, 16)]),
            (MULTI_S, multi_items().to_vec()),
        ] {
            let full = s7(frame);
            for cut in 0..full.len() {
                let r = parse(&full[..cut]).and_then(|m| decode_read(&m, &items).map(drop));
                assert!(r.is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn wrong_answers_are_unexpected_answers() {
        // Fewer bytes than requested.
        let read = s7(READ_S);
        let m = parse(&read).unwrap();
        assert!(matches!(
            decode_read(&m, &[Item::db(1, 0, 15)]),
            Err(Error::UnexpectedAnswer(_))
        ));
        // Wrong item count.
        assert!(decode_read(&m, &[Item::db(1, 0, 8), Item::db(1, 8, 8)]).is_err());
        // A read answer is not a write answer.
        assert!(decode_write(&m, 1).is_err());
        // An SZL answer is not a read answer.
        let szl = s7(SZL424_S);
        assert!(decode_read(&parse(&szl).unwrap(), &[Item::db(1, 0, 1)]).is_err());
    }

    #[test]
    fn header_errors_are_s7_errors() {
        // An ack-data with error class 0x85 (e.g. a PDU size exceeded).
        let ack = [0x32, 0x03, 0, 0, 0, 9, 0, 2, 0, 0, 0x85, 0x00, 0x04, 0x01];
        let e = decode_read(&parse(&ack).unwrap(), &[Item::db(1, 0, 1)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::S7(S7Error::Refused {
                    class: 0x85,
                    code: 0,
                    ..
                })
            ),
            "{e}"
        );
        assert!(!e.is_transport());
    }

    // Multi-part SZL: the Snap7 server truncates SZL answers to one PDU
    // instead of splitting them, so these two parts are written by hand
    // after the S7comm format (the Wireshark dissector's field layout):
    // the first part carries the SZL header and "last data unit" = 1, the
    // follow-up carries only records and "last data unit" = 0.
    pub(crate) const SZL_PART1: [u8; 36] = [
        0x32, 0x07, 0, 0, 0, 1, 0, 12, 0, 14, // header: userdata, ref 1
        0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, 0x05, 0x00, 0x01, 0, 0, // seq 5, more
        0xff, 0x09, 0, 10, 0x00, 0x1c, 0, 0, 0, 2, 0, 3, 0xa1, 0xa2, // 3 records of 2
    ];
    pub(crate) const SZL_PART2: [u8; 30] = [
        0x32, 0x07, 0, 0, 0, 2, 0, 12, 0, 8, // header: userdata, ref 2
        0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, 0x05, 0x00, 0x00, 0, 0, // last
        0xff, 0x09, 0, 4, 0xb1, 0xb2, 0xc1, 0xc2,
    ];

    #[test]
    fn multi_part_szl() {
        let p1 = decode_szl(&parse(&SZL_PART1).unwrap(), true, 0x1c, 0).unwrap();
        assert_eq!((p1.seq, p1.last), (5, false));
        assert_eq!(p1.header.unwrap().record_count, 3);
        assert_eq!(p1.data, [0xa1, 0xa2]);
        let p2 = decode_szl(&parse(&SZL_PART2).unwrap(), false, 0x1c, 0).unwrap();
        assert!(p2.last);
        assert_eq!(p2.data, [0xb1, 0xb2, 0xc1, 0xc2]);
        let mut next = Vec::new();
        encode_szl_next(2, p1.seq, &mut next);
        assert_eq!(next[17], 0x05);
    }

    #[test]
    fn szl_refusal() {
        // The Snap7 server's answer to read_szl(0x0999, 1), captured like the
        // vectors above: error 0xd402 in the parameters, return code 0x0a.
        let ud = s7("0300002102f080320700000100000c000400011208128401000000d4020a000000");
        let e = decode_szl(&parse(&ud).unwrap(), true, 0x0999, 1).unwrap_err();
        match e {
            Error::S7(S7Error::Szl {
                id: 0x0999,
                index: 1,
                error: 0xd402,
                code: ReturnCode::ObjectDoesNotExist,
            }) => {}
            other => panic!("{other}"),
        }
    }

    #[test]
    fn item_validation() {
        assert!(Item::bit(Area::Db, 1, 0, 8).validate().is_err());
        assert!(Item::db(1, 0, 0).validate().is_err());
        assert!(Item::db(1, 0x20_0000, 1).validate().is_err());
        assert!(Item::db(1, 0x1f_ffff, 1).validate().is_ok());
        let mut t = Item::bytes(Area::Timers, 0, 3, 1);
        assert!(t.validate().is_ok());
        t.bit = Some(0);
        assert!(t.validate().is_err());
    }

    #[test]
    fn item_names() {
        assert_eq!(
            Item::bytes(Area::Inputs, 0, 0, 1).to_string(),
            "IB0 (1 byte)"
        );
        assert_eq!(Item::bit(Area::Outputs, 0, 2, 5).to_string(), "Q2.5");
        assert_eq!(
            Item::bytes(Area::Counters, 0, 4, 2).to_string(),
            "C4 (2 counters)"
        );
        assert_eq!(
            Item::bytes(Area::Timers, 0, 0, 1).to_string(),
            "T0 (1 timer)"
        );
    }
}
