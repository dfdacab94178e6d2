//! The lean v1/v2c path: requests encoded straight from the OIDs (and
//! cached for a poller that asks the same again), and replies matched and
//! decoded straight from the datagram.

use super::ber::{self, tag, BerError, Reader};
use super::message::{Body, Message};
use super::oid::{self, Oid};
use super::pdu::{int32, Pdu, PduKind, Version};
use super::value::{Value, VarBind};

/// `Result` with a [`BerError`]: what the decoders return.
type Result<T, E = BerError> = std::result::Result<T, E>;

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
mod tests;
