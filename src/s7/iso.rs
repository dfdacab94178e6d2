//! A sans-IO codec for ISO-on-TCP (RFC 1006): TPKT framing around COTP
//! (ISO 8073) connection request / confirm and data TPDUs, and the
//! reassembly of a message split over several data TPDUs.
//!
//! Every length is checked against a bound before it is used, and nothing is
//! allocated from a length field: [`decode`] borrows from its input, and
//! [`Reassembly`] grows only with bytes that arrived, up to its limit.
//!
//! ```
//! use edgepool::s7::iso::{self, Tpdu};
//!
//! let mut out = Vec::new();
//! iso::encode_data(b"\x32\x01", &mut out);
//! assert_eq!(out, b"\x03\x00\x00\x09\x02\xf0\x80\x32\x01");
//! let (tpdu, used) = iso::decode(&out, 1024)?.expect("a whole frame");
//! assert_eq!(tpdu, Tpdu::Data { eot: true, payload: &b"\x32\x01"[..] });
//! assert_eq!(used, out.len());
//! # Ok::<(), edgepool::Error>(())
//! ```

use crate::{Error, Result};

/// Bytes of a TPKT header (version, reserved, length).
///
/// ```
/// let mut frame = Vec::new();
/// edgepool::s7::iso::encode_data(&[0x32, 0x01], &mut frame);
/// assert_eq!(&frame[..edgepool::s7::iso::TPKT_HEADER], &[0x03, 0x00, 0x00, 0x09]);
/// ```
pub const TPKT_HEADER: usize = 4;
/// Bytes of a TPKT header plus a COTP data TPDU header: the overhead in
/// front of every S7 PDU.
///
/// ```
/// use edgepool::s7::iso::{encode_data, DATA_HEADER};
/// let mut frame = Vec::new();
/// encode_data(b"payload", &mut frame);
/// assert_eq!(frame.len(), DATA_HEADER + 7);
/// ```
pub const DATA_HEADER: usize = TPKT_HEADER + 3;

const TPKT_VERSION: u8 = 3;
const CR: u8 = 0xe0;
const CC: u8 = 0xd0;
const DR: u8 = 0x80;
const DT: u8 = 0xf0;
const ER: u8 = 0x70;
const EOT: u8 = 0x80;
/// Parameter codes in CR/CC.
const P_TPDU_SIZE: u8 = 0xc0;
const P_SRC_TSAP: u8 = 0xc1;
const P_DST_TSAP: u8 = 0xc2;

/// One decoded TPDU.
///
/// ```
/// use edgepool::s7::iso::Tpdu;
/// let t = Tpdu::Data { eot: false, payload: &[1, 2][..] };
/// assert!(matches!(t, Tpdu::Data { eot: false, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tpdu<'a> {
    /// Connection confirm (CC): the peer accepted the connection request.
    ConnectConfirm {
        /// The peer's reference.
        src_ref: u16,
        /// The largest TPDU the peer accepts, when it said (bytes).
        tpdu_size: Option<u32>,
        /// The TSAPs the peer echoed, when present.
        src_tsap: Option<u16>,
        /// The called TSAP the peer echoed, when present.
        dst_tsap: Option<u16>,
    },
    /// Connection request (CR); a client only sends these, but a decoder
    /// must know them.
    ConnectRequest {
        /// The caller's reference.
        src_ref: u16,
        /// Calling TSAP.
        src_tsap: Option<u16>,
        /// Called TSAP.
        dst_tsap: Option<u16>,
    },
    /// Disconnect request (DR): the peer refuses or ends the connection.
    Disconnect {
        /// The reason byte (ISO 8073: 0 = not specified, 0x80 normal, …).
        reason: u8,
    },
    /// TPDU error (ER): the peer could not parse what we sent.
    Error {
        /// The reject cause.
        cause: u8,
    },
    /// A data TPDU (DT): part of a message, the last part when `eot` is set.
    Data {
        /// End of TSDU: this fragment completes the message.
        eot: bool,
        /// The fragment's bytes.
        payload: &'a [u8],
    },
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Protocol(crate::ProtocolError::Other(format!(
        "ISO-on-TCP: {}",
        msg.into()
    )))
}

/// Decodes one TPKT frame from the front of `buf`.
///
/// `max_frame` bounds the TPKT length (header included); a longer frame is
/// an error, before any of it is read. `Ok(None)`: `buf` holds only part of
/// a frame. `Ok(Some((tpdu, used)))`: one frame of `used` bytes.
///
/// ```
/// use edgepool::s7::iso::{decode, Tpdu};
/// // A connection confirm captured from the Snap7 server.
/// let cc = [0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x01, 0x00, 0xc0, 0x01,
///           0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x01];
/// let (t, used) = decode(&cc, 1024)?.unwrap();
/// assert_eq!(used, 22);
/// assert!(matches!(t, Tpdu::ConnectConfirm { tpdu_size: Some(1024), dst_tsap: Some(0x0101), .. }));
/// assert_eq!(decode(&cc[..10], 1024)?, None);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode(buf: &[u8], max_frame: usize) -> Result<Option<(Tpdu<'_>, usize)>> {
    let [version, _, hi, lo, ..] = *buf else {
        return Ok(None);
    };
    if version != TPKT_VERSION {
        return Err(bad(format!("TPKT version {version}, expected 3")));
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < TPKT_HEADER + 2 {
        return Err(bad(format!("TPKT length {len} is too short")));
    }
    if len > max_frame {
        return Err(bad(format!(
            "TPKT length {len} exceeds the limit of {max_frame}"
        )));
    }
    let Some(frame) = buf.get(TPKT_HEADER..len) else {
        return Ok(None);
    };
    let li = usize::from(frame[0]);
    // The header (li bytes after the LI byte) must hold the type byte and fit.
    if li == 0 || li + 1 > frame.len() {
        return Err(bad(format!(
            "COTP header length {li} does not fit a {}-byte frame",
            frame.len()
        )));
    }
    let header = &frame[1..=li];
    let rest = &frame[li + 1..];
    let tpdu = match header[0] & 0xf0 {
        DT => {
            if li != 2 {
                return Err(bad(format!("data TPDU header length {li}, expected 2")));
            }
            Tpdu::Data {
                eot: header[1] & EOT != 0,
                payload: rest,
            }
        }
        CC | CR => {
            if header.len() < 6 {
                return Err(bad("connection TPDU header too short"));
            }
            if !rest.is_empty() {
                return Err(bad("user data in a connection TPDU"));
            }
            let src_ref = u16::from_be_bytes([header[3], header[4]]);
            let params = parse_params(&header[6..])?;
            if header[0] & 0xf0 == CC {
                Tpdu::ConnectConfirm {
                    src_ref,
                    tpdu_size: params.tpdu_size,
                    src_tsap: params.src_tsap,
                    dst_tsap: params.dst_tsap,
                }
            } else {
                Tpdu::ConnectRequest {
                    src_ref,
                    src_tsap: params.src_tsap,
                    dst_tsap: params.dst_tsap,
                }
            }
        }
        DR => Tpdu::Disconnect {
            reason: header.get(5).copied().unwrap_or(0),
        },
        ER => Tpdu::Error {
            cause: header.get(3).copied().unwrap_or(0),
        },
        other => return Err(bad(format!("unexpected TPDU type {other:#04x}"))),
    };
    Ok(Some((tpdu, len)))
}

#[derive(Default)]
struct Params {
    tpdu_size: Option<u32>,
    src_tsap: Option<u16>,
    dst_tsap: Option<u16>,
}

fn parse_params(mut p: &[u8]) -> Result<Params> {
    let mut out = Params::default();
    while let [code, len, rest @ ..] = p {
        let len = usize::from(*len);
        let Some(value) = rest.get(..len) else {
            return Err(bad("COTP parameter runs past the header"));
        };
        match (*code, value) {
            // 2^n bytes, n = 7..=13 (ISO 8073).
            (P_TPDU_SIZE, [n]) if (7..=13).contains(n) => out.tpdu_size = Some(1 << n),
            (P_TPDU_SIZE, _) => return Err(bad("bad TPDU size parameter")),
            (P_SRC_TSAP, [a, b]) => out.src_tsap = Some(u16::from_be_bytes([*a, *b])),
            (P_DST_TSAP, [a, b]) => out.dst_tsap = Some(u16::from_be_bytes([*a, *b])),
            // Longer TSAPs (strings on some devices) and unknown parameters.
            _ => {}
        }
        p = &rest[len..];
    }
    if !p.is_empty() {
        return Err(bad("truncated COTP parameter"));
    }
    Ok(out)
}

/// Appends a connection request (CR) asking for 1024-byte TPDUs, with the
/// given source reference and TSAPs.
///
/// ```
/// use edgepool::s7::iso::encode_connect_request;
/// let mut out = Vec::new();
/// encode_connect_request(0x0001, 0x0100, 0x0101, &mut out);
/// // Byte for byte what the Snap7 client sends for rack 0, slot 1 (PG).
/// assert_eq!(out, [0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0,
///                  0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x01]);
/// ```
pub fn encode_connect_request(src_ref: u16, local_tsap: u16, remote_tsap: u16, out: &mut Vec<u8>) {
    let [sr0, sr1] = src_ref.to_be_bytes();
    let [l0, l1] = local_tsap.to_be_bytes();
    let [r0, r1] = remote_tsap.to_be_bytes();
    out.extend_from_slice(&[
        TPKT_VERSION,
        0,
        0,
        22,
        17, // LI: the 17 header bytes after it
        CR,
        0,
        0, // destination reference
        sr0,
        sr1,
        0, // class 0
        P_TPDU_SIZE,
        1,
        10, // 2^10 = 1024
        P_SRC_TSAP,
        2,
        l0,
        l1,
        P_DST_TSAP,
        2,
        r0,
        r1,
    ]);
}

/// Server side (the S7 simulator): appends a connection confirm (CC)
/// answering the request with reference `dst_ref`, granting 1024-byte
/// TPDUs and echoing the TSAPs the request named.
#[cfg(feature = "sim")]
pub(crate) fn encode_connect_confirm(
    dst_ref: u16,
    src_ref: u16,
    src_tsap: Option<u16>,
    dst_tsap: Option<u16>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let [d0, d1] = dst_ref.to_be_bytes();
    let [s0, s1] = src_ref.to_be_bytes();
    // TPKT length and LI are filled in below.
    out.extend_from_slice(&[TPKT_VERSION, 0, 0, 0, 0, CC, d0, d1, s0, s1, 0]);
    out.extend_from_slice(&[P_TPDU_SIZE, 1, 10]);
    for (code, tsap) in [(P_SRC_TSAP, src_tsap), (P_DST_TSAP, dst_tsap)] {
        if let Some(tsap) = tsap {
            let [t0, t1] = tsap.to_be_bytes();
            out.extend_from_slice(&[code, 2, t0, t1]);
        }
    }
    let len = out.len() - start;
    out[start + 2..start + 4].copy_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
    out[start + 4] = u8::try_from(len - TPKT_HEADER - 1).unwrap_or(0);
}

/// Server side (the S7 simulator): appends a disconnect request (DR)
/// refusing the connection request with reference `dst_ref`.
#[cfg(feature = "sim")]
pub(crate) fn encode_disconnect(dst_ref: u16, src_ref: u16, reason: u8, out: &mut Vec<u8>) {
    let [d0, d1] = dst_ref.to_be_bytes();
    let [s0, s1] = src_ref.to_be_bytes();
    out.extend_from_slice(&[TPKT_VERSION, 0, 0, 11, 6, DR, d0, d1, s0, s1, reason]);
}

/// Appends `payload` as one data TPDU (end of TSDU set) in a TPKT frame.
///
/// `payload` must be shorter than 65,529 bytes (the TPKT length is 16 bits);
/// an S7 PDU always is.
///
/// ```
/// let mut out = Vec::new();
/// edgepool::s7::iso::encode_data(&[0x32], &mut out);
/// assert_eq!(out, [0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x80, 0x32]);
/// ```
pub fn encode_data(payload: &[u8], out: &mut Vec<u8>) {
    let start = begin_data(out);
    out.extend_from_slice(payload);
    finish_data(out, start);
}

/// Writes the TPKT + DT header with a zero length; returns where it starts.
pub(crate) fn begin_data(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[TPKT_VERSION, 0, 0, 0, 2, DT, EOT]);
    start
}

/// Fills in the TPKT length of the frame begun at `start`.
pub(crate) fn finish_data(out: &mut [u8], start: usize) {
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Collects the payloads of data TPDUs until one carries the end-of-TSDU
/// mark, refusing messages longer than `limit` bytes.
///
/// ```
/// use edgepool::s7::iso::Reassembly;
/// let mut r = Reassembly::new(8);
/// assert!(!r.push(b"\x32\x03", false)?);
/// assert!(r.push(b"\x00\x00", true)?);
/// assert_eq!(r.message(), b"\x32\x03\x00\x00");
/// assert!(Reassembly::new(2).push(b"abc", true).is_err());
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Reassembly {
    buf: Vec<u8>,
    limit: usize,
    done: bool,
}

impl Reassembly {
    /// An empty reassembly that accepts messages of up to `limit` bytes.
    ///
    /// ```
    /// let r = edgepool::s7::iso::Reassembly::new(480);
    /// assert!(r.message().is_empty());
    /// ```
    pub fn new(limit: usize) -> Reassembly {
        Reassembly {
            buf: Vec::new(),
            limit,
            done: false,
        }
    }

    /// Changes the limit (e.g. after the PDU size was negotiated).
    ///
    /// ```
    /// let mut r = edgepool::s7::iso::Reassembly::new(480);
    /// r.set_limit(240);
    /// assert!(r.push(&[0; 241], true).is_err());
    /// ```
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Adds one fragment; true when the message is complete. A fragment
    /// after a complete message starts a new one.
    ///
    /// ```
    /// let mut r = edgepool::s7::iso::Reassembly::new(16);
    /// assert!(r.push(b"hello", true)?);
    /// assert!(r.push(b"again", true)?);
    /// assert_eq!(r.message(), b"again");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn push(&mut self, payload: &[u8], eot: bool) -> Result<bool> {
        if self.done {
            self.buf.clear();
            self.done = false;
        }
        if self.buf.len() + payload.len() > self.limit {
            return Err(bad(format!(
                "a message of more than {} bytes (the negotiated PDU size)",
                self.limit
            )));
        }
        self.buf.extend_from_slice(payload);
        self.done = eot;
        Ok(eot)
    }

    /// The complete message (or what arrived so far).
    ///
    /// ```
    /// let mut r = edgepool::s7::iso::Reassembly::new(16);
    /// r.push(b"ab", false)?;
    /// assert_eq!(r.message(), b"ab");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn message(&self) -> &[u8] {
        &self.buf
    }

    /// Drops what was collected.
    ///
    /// ```
    /// let mut r = edgepool::s7::iso::Reassembly::new(16);
    /// r.push(b"ab", false)?;
    /// r.clear();
    /// assert!(r.message().is_empty());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.buf.clear();
        self.done = false;
    }
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

    // Golden vectors: captured with a hex-dumping TCP proxy between
    // python-snap7 2.1.0's client and its bundled C++ Snap7 server
    // (libsnap7.so), connecting to rack 0, slot 1.
    const CR_CAPTURED: &str = "0300001611e00000000100c0010ac1020100c2020101";
    const CC_CAPTURED: &str = "0300001611d00001000100c0010ac1020100c2020101";
    const SETUP_REPLY_CAPTURED: &str = "0300001b02f080320300000000000800000000f0000001000101e0";

    #[test]
    fn connect_request_matches_snap7() {
        let mut out = Vec::new();
        encode_connect_request(1, 0x0100, 0x0101, &mut out);
        assert_eq!(out, hex(CR_CAPTURED));
        let (t, used) = decode(&out, 1024).unwrap().unwrap();
        assert_eq!(used, 22);
        assert_eq!(
            t,
            Tpdu::ConnectRequest {
                src_ref: 1,
                src_tsap: Some(0x0100),
                dst_tsap: Some(0x0101)
            }
        );
    }

    #[test]
    fn connect_confirm_from_snap7() {
        let cc = hex(CC_CAPTURED);
        let (t, used) = decode(&cc, 1024).unwrap().unwrap();
        assert_eq!(used, cc.len());
        assert_eq!(
            t,
            Tpdu::ConnectConfirm {
                src_ref: 1,
                tpdu_size: Some(1024),
                src_tsap: Some(0x0100),
                dst_tsap: Some(0x0101)
            }
        );
        for cut in 0..cc.len() {
            assert_eq!(decode(&cc[..cut], 1024).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn data_frames() {
        let reply = hex(SETUP_REPLY_CAPTURED);
        let mut two = reply.clone();
        two.extend_from_slice(&reply);
        let (t, used) = decode(&two, 1024).unwrap().unwrap();
        assert_eq!(used, reply.len());
        match t {
            Tpdu::Data { eot, payload } => {
                assert!(eot);
                assert_eq!(payload, &reply[7..]);
            }
            other => panic!("{other:?}"),
        }
        let mut out = Vec::new();
        encode_data(&reply[7..], &mut out);
        assert_eq!(out, reply);
    }

    #[test]
    fn hostile_frames_are_errors() {
        let cases: &[&[u8]] = &[
            &[0x02, 0, 0, 7, 2, 0xf0, 0x80],                       // TPKT version
            &[0x03, 0, 0, 5, 2],                                   // too short
            &[0x03, 0, 0xff, 0xff],                                // over the limit
            &[0x03, 0, 0, 7, 9, 0xf0, 0x80],                       // LI past the frame
            &[0x03, 0, 0, 7, 0, 0xf0, 0x80],                       // LI zero
            &[0x03, 0, 0, 8, 3, 0xf0, 0x80, 0],                    // DT with LI 3
            &[0x03, 0, 0, 7, 2, 0x10, 0x80],                       // unknown type
            &[0x03, 0, 0, 9, 4, 0xd0, 0, 0, 0],                    // CC too short
            &[0x03, 0, 0, 13, 8, 0xd0, 0, 0, 0, 0, 0, 0xc1, 5],    // param past the end
            &[0x03, 0, 0, 14, 9, 0xd0, 0, 0, 0, 0, 0, 0xc0, 1, 3], // TPDU size 2^3
        ];
        for case in cases {
            assert!(
                matches!(decode(case, 1024), Err(Error::Protocol(_))),
                "{case:02x?}"
            );
        }
    }

    #[test]
    fn disconnect_and_error() {
        let dr = [0x03, 0, 0, 11, 6, 0x80, 0, 1, 0, 2, 0x85];
        assert_eq!(
            decode(&dr, 1024).unwrap().unwrap().0,
            Tpdu::Disconnect { reason: 0x85 }
        );
        let er = [0x03, 0, 0, 9, 4, 0x70, 0, 1, 0x02];
        assert_eq!(
            decode(&er, 1024).unwrap().unwrap().0,
            Tpdu::Error { cause: 0x02 }
        );
    }

    #[cfg(feature = "sim")]
    #[test]
    fn server_side_confirm_and_disconnect() {
        // What the Snap7 server answers to the captured request.
        let mut out = Vec::new();
        encode_connect_confirm(1, 1, Some(0x0100), Some(0x0101), &mut out);
        assert_eq!(out, hex(CC_CAPTURED));
        out.clear();
        encode_connect_confirm(7, 2, None, None, &mut out);
        let (t, used) = decode(&out, 1024).unwrap().unwrap();
        assert_eq!(used, out.len());
        assert!(matches!(
            t,
            Tpdu::ConnectConfirm {
                src_ref: 2,
                tpdu_size: Some(1024),
                src_tsap: None,
                dst_tsap: None
            }
        ));
        out.clear();
        encode_disconnect(1, 2, 0x03, &mut out);
        assert_eq!(
            decode(&out, 1024).unwrap().unwrap(),
            (Tpdu::Disconnect { reason: 0x03 }, 11)
        );
    }

    #[test]
    fn reassembly_limit_counts_all_fragments() {
        let mut r = Reassembly::new(5);
        assert!(!r.push(b"abc", false).unwrap());
        assert!(r.push(b"def", true).is_err());
        r.clear();
        assert!(r.push(b"abcde", true).unwrap());
    }
}
