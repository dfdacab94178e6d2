//! One connection: ISO-on-TCP frames in, answers out; the read and write
//! items and the SZL records.

use super::{
    lock, Faults, Identity, S7SimBuilder, Shared, DR_ADDRESS_UNKNOWN, LOCAL_REF, MAX_AMQ, MAX_FRAME,
};
use crate::s7::iso::{self, Reassembly, Tpdu};
use crate::s7::pdu::{
    self, Message, DATA_BIT, DATA_BYTE, DATA_DINT, DATA_INT, DATA_OCTETS, DATA_REAL, FN_READ,
    FN_SETUP, FN_WRITE, GROUP_SZL, JOB, RC_OK, SUB_READ_SZL, TS_BIT, TS_BYTE, USERDATA,
};
use crate::s7::{Area, ReturnCode};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

// Transport sizes of an item specification that only the server side
// reads (the client sends bits and bytes, timers and counters).
const TS_CHAR: u8 = 0x03;
const TS_WORD: u8 = 0x04;
const TS_INT: u8 = 0x05;
const TS_DWORD: u8 = 0x06;
const TS_DINT: u8 = 0x07;
const TS_REAL: u8 = 0x08;

// Error class and code of a refused job.
const ERR_NOT_IMPLEMENTED: (u8, u8) = (0x81, 0x04);
const ERR_PDU_SIZE: (u8, u8) = (0x85, 0x00);
// Userdata error codes.
const UD_NOT_IMPLEMENTED: u16 = 0x8104;
const UD_BAD_SZL_ID: u16 = 0xd401;
const UD_BAD_SZL_INDEX: u16 = 0xd402;
const UD_UNAVAILABLE: u16 = 0xd406;

// ---- one connection -----------------------------------------------------

/// Runs one connection until the client closes it, the server shuts it
/// down, or the client sends something that breaks ISO-on-TCP.
pub(super) fn serve(mut stream: TcpStream, faults: &Faults, shared: &Shared) {
    if let Err(e) = serve_frames(&mut stream, faults, shared) {
        log::debug!("S7 simulator: closing a connection: {e}");
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve_frames(stream: &mut TcpStream, faults: &Faults, shared: &Shared) -> io::Result<()> {
    let mut conn = Conn::new(shared);
    let mut rx = vec![0u8; 2 * MAX_FRAME];
    let (mut start, mut end) = (0, 0);
    loop {
        let mut send = |frame: &[u8]| stream.write_all(frame);
        match conn.feed(&rx[start..end], faults, &mut send)? {
            Some(used) => start += used,
            None => return Ok(()),
        }
        if start == end {
            (start, end) = (0, 0);
        } else if end == rx.len() {
            rx.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        match stream.read(&mut rx[end..]) {
            Ok(0) => return Ok(()),
            Ok(n) => end += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Runs a whole client byte stream through a fresh simulator with the
/// defaults of [`S7Sim::start`] (no faults, no socket) and returns the
/// frames it answers, up to where it would close the connection. For
/// fuzzing: it is the code a connection runs, minus the socket.
///
/// ```
/// use edgepool::s7::iso::{self, Tpdu};
/// let mut connect = Vec::new();
/// iso::encode_connect_request(1, 0x0100, 0x0102, &mut connect);
/// let answer = edgepool::sim::s7::fuzz_session(&connect);
/// assert!(matches!(iso::decode(&answer, 4096)?, Some((Tpdu::ConnectConfirm { .. }, 22))));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[doc(hidden)]
pub fn fuzz_session(input: &[u8]) -> Vec<u8> {
    let Ok(shared) = S7SimBuilder::default().into_shared() else {
        return Vec::new(); // never: the defaults are valid
    };
    let mut out = Vec::new();
    let mut send = |frame: &[u8]| {
        out.extend_from_slice(frame);
        Ok(())
    };
    let _ = Conn::new(&shared).feed(input, &Faults::default(), &mut send);
    out
}

/// The state of one connection above the socket: the session, the message
/// being reassembled, and the buffer answers are built in.
pub(super) struct Conn<'a> {
    session: Session<'a>,
    msg: Reassembly,
    out: Vec<u8>,
}

impl<'a> Conn<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        Conn {
            session: Session::new(shared),
            msg: Reassembly::new(MAX_FRAME),
            out: Vec::with_capacity(MAX_FRAME),
        }
    }

    /// Handles every whole frame at the front of `buf`, handing each
    /// answer to `send`. Returns the bytes consumed (read more then), `None`
    /// to close the connection after the last answer (a refused
    /// connection), or an error to close it at once (anything that breaks
    /// ISO-on-TCP, or `send`'s error).
    pub(super) fn feed(
        &mut self,
        buf: &[u8],
        faults: &Faults,
        send: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Option<usize>> {
        let closing = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let mut start = 0;
        while start < buf.len() {
            let (tpdu, used) = match iso::decode(&buf[start..], MAX_FRAME) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return Err(closing(&e.to_string())),
            };
            start += used;
            self.out.clear();
            let outcome = match tpdu {
                Tpdu::ConnectRequest {
                    src_ref,
                    src_tsap,
                    dst_tsap,
                } => {
                    if !faults.before_reply() {
                        continue;
                    }
                    self.session
                        .connect(src_ref, src_tsap, dst_tsap, &mut self.out)
                }
                Tpdu::Data { eot, payload } => {
                    match self.msg.push(payload, eot) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => return Err(closing(&e.to_string())),
                    }
                    self.session.shared.requests.fetch_add(1, Ordering::SeqCst);
                    if !faults.before_reply() {
                        continue;
                    }
                    self.session.message(self.msg.message(), &mut self.out)
                }
                other => return Err(closing(&format!("the client sent {other:?}"))),
            };
            match outcome {
                Outcome::Reply => send(&self.out)?,
                Outcome::ReplyAndClose => {
                    send(&self.out)?;
                    return Ok(None);
                }
                Outcome::Close(why) => return Err(closing(why)),
            }
        }
        Ok(Some(start))
    }
}

pub(super) enum Outcome {
    /// Send what was written to `out`.
    Reply,
    /// Send it, then close (a refused connection).
    ReplyAndClose,
    /// Close without answering.
    Close(&'static str),
}

/// The protocol state of one connection, sans-IO: complete requests in,
/// whole TPKT frames out.
pub(super) struct Session<'a> {
    shared: &'a Shared,
    connected: bool,
    /// The negotiated PDU size; 0 before setup communication.
    pdu: u16,
    /// The rest of a multi-part SZL answer and its sequence number.
    szl_rest: Option<(u8, Vec<u8>)>,
    szl_seq: u8,
}

impl<'a> Session<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        Session {
            shared,
            connected: false,
            pdu: 0,
            szl_rest: None,
            szl_seq: 0,
        }
    }

    pub(super) fn connect(
        &mut self,
        src_ref: u16,
        src_tsap: Option<u16>,
        dst_tsap: Option<u16>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        if self.connected {
            return Outcome::Close("a second connection request");
        }
        let accepted = match self.shared.tsap {
            None => true,
            Some(want) => dst_tsap.is_some_and(|t| t & 0xff == u16::from(want)),
        };
        if accepted {
            iso::encode_connect_confirm(src_ref, LOCAL_REF, src_tsap, dst_tsap, out);
            self.connected = true;
            Outcome::Reply
        } else {
            iso::encode_disconnect(src_ref, LOCAL_REF, DR_ADDRESS_UNKNOWN, out);
            Outcome::ReplyAndClose
        }
    }

    /// Answers one complete S7 message with one data TPDU.
    pub(super) fn message(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Outcome {
        if !self.connected {
            return Outcome::Close("data before the connection request");
        }
        let Ok(m) = pdu::parse(bytes) else {
            return Outcome::Close("a malformed S7 header");
        };
        let frame = iso::begin_data(out);
        match m.rosctr {
            JOB => self.job(&m, bytes.len(), out),
            USERDATA => self.userdata(&m, out),
            _ => refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED),
        }
        iso::finish_data(out, frame);
        Outcome::Reply
    }

    fn job(&mut self, m: &Message<'_>, len: usize, out: &mut Vec<u8>) {
        match m.params.first().copied() {
            Some(FN_SETUP) => self.setup(m, out),
            _ if self.pdu == 0 => refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED),
            _ if len > usize::from(self.pdu) => refuse(out, m.pdu_ref, ERR_PDU_SIZE),
            Some(FN_READ) => self.read(m, out),
            Some(FN_WRITE) => self.write(m, out),
            _ => refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED),
        }
    }

    fn setup(&mut self, m: &Message<'_>, out: &mut Vec<u8>) {
        let &[FN_SETUP, _, c0, c1, d0, d1, s0, s1] = m.params else {
            return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED);
        };
        let amq = |hi, lo| u16::from_be_bytes([hi, lo]).clamp(1, MAX_AMQ).to_be_bytes();
        let granted = u16::from_be_bytes([s0, s1])
            .min(self.shared.max_pdu)
            .max(pdu::MIN_PDU_SIZE);
        self.pdu = granted;
        pdu::encode_ack_header(out, true, m.pdu_ref, 8, 0, (0, 0));
        out.extend_from_slice(&[FN_SETUP, 0]);
        out.extend_from_slice(&amq(c0, c1));
        out.extend_from_slice(&amq(d0, d1));
        out.extend_from_slice(&granted.to_be_bytes());
    }

    fn read(&mut self, m: &Message<'_>, out: &mut Vec<u8>) {
        let Some(specs) = parse_specs(m.params) else {
            return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED);
        };
        let n = specs.len();
        let answer: usize = pdu::ACK_HEADER
            + 2
            + specs
                .iter()
                .enumerate()
                .map(|(i, s)| pdu::read_answer_item_len(s.planned_len(), i + 1 == n))
                .sum::<usize>();
        if answer > usize::from(self.pdu) {
            return refuse(out, m.pdu_ref, ERR_PDU_SIZE);
        }
        let mut data = Vec::with_capacity(answer);
        {
            let memory = lock(&self.shared.memory);
            for (i, spec) in specs.iter().enumerate() {
                let area = spec.area.and_then(|a| memory.get(a, spec.db));
                let found = spec.locate(area.map(Vec::len)).and_then(|loc| {
                    area.and_then(|a| a.get(loc.start..loc.start + loc.len))
                        .map(|bytes| (loc, bytes))
                        .ok_or(ReturnCode::AddressOutOfRange)
                });
                let (loc, bytes) = match found {
                    Ok(found) => found,
                    Err(rc) => {
                        data.extend_from_slice(&[rc.code(), 0, 0, 0]);
                        continue;
                    }
                };
                let bits = u16::try_from(bytes.len() * 8).unwrap_or(u16::MAX);
                let bytes_len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
                match loc.bit {
                    Some(bit) => {
                        data.extend_from_slice(&[RC_OK, DATA_BIT, 0, 1]);
                        data.push(bytes.first().map_or(0, |b| (b >> bit) & 1));
                    }
                    None => {
                        let (ts, len) = match spec.ts {
                            TS_INT | TS_DINT => (DATA_INT, bits),
                            TS_REAL => (DATA_REAL, bytes_len),
                            _ => (DATA_BYTE, bits),
                        };
                        data.extend_from_slice(&[RC_OK, ts]);
                        data.extend_from_slice(&len.to_be_bytes());
                        data.extend_from_slice(bytes);
                    }
                }
                if i + 1 < n && loc.len % 2 == 1 {
                    data.push(0);
                }
            }
        }
        pdu::encode_ack_header(out, true, m.pdu_ref, 2, data.len(), (0, 0));
        out.extend_from_slice(&[FN_READ, u8::try_from(n).unwrap_or(u8::MAX)]);
        out.extend_from_slice(&data);
    }

    fn write(&mut self, m: &Message<'_>, out: &mut Vec<u8>) {
        let Some(specs) = parse_specs(m.params) else {
            return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED);
        };
        let n = specs.len();
        let mut values: Vec<&[u8]> = Vec::with_capacity(n);
        let mut d = m.data;
        for i in 0..n {
            let [_, ts, l0, l1, rest @ ..] = d else {
                return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED);
            };
            let len = usize::from(u16::from_be_bytes([*l0, *l1]));
            let bytes = match *ts {
                // bit, byte/word/dword, int: the length counts bits
                DATA_BIT | DATA_BYTE | DATA_INT => len.div_ceil(8),
                // dint, real, octet string: bytes
                DATA_DINT | DATA_REAL | DATA_OCTETS => len,
                _ => return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED),
            };
            let Some(value) = rest.get(..bytes) else {
                return refuse(out, m.pdu_ref, ERR_NOT_IMPLEMENTED);
            };
            values.push(value);
            let fill = usize::from(i + 1 < n && bytes % 2 == 1);
            d = rest.get(bytes + fill..).unwrap_or(&[]);
        }
        let mut codes = Vec::with_capacity(n);
        {
            let mut memory = lock(&self.shared.memory);
            for (spec, value) in specs.iter().zip(&values) {
                let area = spec.area.and_then(|a| memory.get_mut(a, spec.db));
                let code = match spec.locate(area.as_ref().map(|a| a.len())) {
                    Err(rc) => rc.code(),
                    Ok(loc) if loc.len != value.len() => ReturnCode::DataTypeInconsistent.code(),
                    Ok(loc) => match area.and_then(|a| a.get_mut(loc.start..loc.start + loc.len)) {
                        Some(target) => {
                            match (loc.bit, target.first_mut(), value.first()) {
                                (Some(bit), Some(byte), Some(v)) => {
                                    if v & 1 != 0 {
                                        *byte |= 1 << bit;
                                    } else {
                                        *byte &= !(1 << bit);
                                    }
                                }
                                _ => target.copy_from_slice(value),
                            }
                            RC_OK
                        }
                        None => ReturnCode::AddressOutOfRange.code(),
                    },
                };
                codes.push(code);
            }
        }
        pdu::encode_ack_header(out, true, m.pdu_ref, 2, n, (0, 0));
        out.extend_from_slice(&[FN_WRITE, u8::try_from(n).unwrap_or(u8::MAX)]);
        out.extend_from_slice(&codes);
    }

    fn userdata(&mut self, m: &Message<'_>, out: &mut Vec<u8>) {
        let (plen, group, sub, seq) = match m.params {
            [0x00, 0x01, 0x12, plen, _, tg, sub, seq, ..] if tg >> 4 == 4 => {
                (*plen, tg & 0x0f, *sub, *seq)
            }
            _ => return userdata_error(out, m.pdu_ref, (0, 0, 0), UD_NOT_IMPLEMENTED),
        };
        let head = (group, sub, seq);
        if group != GROUP_SZL || sub != SUB_READ_SZL {
            return userdata_error(out, m.pdu_ref, head, UD_NOT_IMPLEMENTED);
        }
        if plen == 8 {
            // A follow-up: the next part of a multi-part answer.
            return match self.szl_rest.take() {
                Some((s, rest)) if s == seq => self.szl_part(out, m.pdu_ref, (seq, false), rest),
                _ => userdata_error(out, m.pdu_ref, head, UD_UNAVAILABLE),
            };
        }
        let &[_, _, 0, 4, i0, i1, x0, x1] = m.data else {
            return userdata_error(out, m.pdu_ref, head, UD_NOT_IMPLEMENTED);
        };
        let (id, index) = (u16::from_be_bytes([i0, i1]), u16::from_be_bytes([x0, x1]));
        self.szl_rest = None;
        match self.szl(id, index) {
            Ok(list) => self.szl_part(out, m.pdu_ref, (seq, true), list),
            Err(code) => userdata_error(out, m.pdu_ref, head, code),
        }
    }

    /// Sends as much of `bytes` as fits the PDU; keeps the rest for a
    /// follow-up request.
    /// The first part of a multi-part answer gets a new sequence number;
    /// the follow-ups keep it.
    fn szl_part(
        &mut self,
        out: &mut Vec<u8>,
        pdu_ref: u16,
        (seq, first): (u8, bool),
        mut bytes: Vec<u8>,
    ) {
        let room = usize::from(self.pdu).saturating_sub(pdu::REQUEST_HEADER + 12 + 4);
        let n = bytes.len().min(room);
        let more = n < bytes.len();
        let seq = if first && more {
            self.szl_seq = self.szl_seq.wrapping_add(1).max(1);
            self.szl_seq
        } else {
            seq
        };
        let rest = bytes.split_off(n);
        pdu::encode_userdata_answer(
            out,
            pdu_ref,
            (GROUP_SZL, SUB_READ_SZL, seq),
            more,
            0,
            (RC_OK, DATA_OCTETS, &bytes),
        );
        if more {
            self.szl_rest = Some((seq, rest));
        }
    }

    /// The whole SZL `id`/`index`: its 8-byte header and records.
    fn szl(&self, id: u16, index: u16) -> std::result::Result<Vec<u8>, u16> {
        let identity = &self.shared.identity;
        let (record_len, mut records): (u16, Vec<Vec<u8>>) = match id {
            0x0011 | 0x0111 => (28, identification(identity)),
            0x001c | 0x011c => (34, components(identity)),
            0x0424 => (20, vec![cpu_mode(self.shared.run.load(Ordering::SeqCst))]),
            _ => return Err(UD_BAD_SZL_ID),
        };
        if id >> 8 == 0x01 {
            // A partial list: the one record with that index.
            records.retain(|r| r.get(..2) == Some(&index.to_be_bytes()[..]));
            if records.is_empty() {
                return Err(UD_BAD_SZL_INDEX);
            }
        }
        let count = u16::try_from(records.len()).unwrap_or(0);
        let mut list = Vec::with_capacity(8 + records.len() * usize::from(record_len));
        for field in [id, index, record_len, count] {
            list.extend_from_slice(&field.to_be_bytes());
        }
        for r in records {
            list.extend_from_slice(&r);
        }
        Ok(list)
    }
}

/// A plain acknowledgement refusing the whole job.
fn refuse(out: &mut Vec<u8>, pdu_ref: u16, error: (u8, u8)) {
    pdu::encode_ack_header(out, false, pdu_ref, 0, 0, error);
}

/// A userdata answer carrying an error code and return code 0x0a.
fn userdata_error(out: &mut Vec<u8>, pdu_ref: u16, head: (u8, u8, u8), code: u16) {
    let no_object = ReturnCode::ObjectDoesNotExist.code();
    pdu::encode_userdata_answer(out, pdu_ref, head, false, code, (no_object, 0, &[]));
}

// ---- read/write items ---------------------------------------------------

/// One S7ANY item specification of a read or write request.
#[derive(Debug, Clone, Copy)]
struct Spec {
    ts: u8,
    count: u16,
    db: u16,
    /// The area, `None` for a code this simulator does not know.
    area: Option<Area>,
    /// Bit address.
    addr: u32,
}

/// Where an item is: bytes `start..start + len` (and one bit of them).
struct Loc {
    start: usize,
    len: usize,
    bit: Option<u8>,
}

/// The item specifications of a read or write request; `None` when they
/// are not what the function byte and item count promise.
fn parse_specs(params: &[u8]) -> Option<Vec<Spec>> {
    let [_, n, specs @ ..] = params else {
        return None;
    };
    let n = usize::from(*n);
    if n == 0 || specs.len() != n * pdu::ITEM_SPEC {
        return None;
    }
    specs
        .chunks_exact(pdu::ITEM_SPEC)
        .map(|s| match *s {
            [0x12, 0x0a, 0x10, ts, c0, c1, d0, d1, area, a0, a1, a2] => Some(Spec {
                ts,
                count: u16::from_be_bytes([c0, c1]),
                db: u16::from_be_bytes([d0, d1]),
                area: Area::from_code(area),
                addr: u32::from_be_bytes([0, a0, a1, a2]),
            }),
            _ => None,
        })
        .collect()
}

impl Spec {
    /// Bytes per element, for the transport sizes the simulator serves.
    fn element(&self) -> Option<usize> {
        match self.ts {
            TS_BIT | TS_BYTE | TS_CHAR => Some(1),
            TS_WORD | TS_INT => Some(2),
            TS_DWORD | TS_DINT | TS_REAL => Some(4),
            _ => None,
        }
    }

    /// Bytes the client expects in the answer.
    fn planned_len(&self) -> usize {
        self.element().unwrap_or(0) * usize::from(self.count)
    }

    /// Finds the item in an area of `size` bytes (`None`: no such area),
    /// or says which return code refuses it.
    fn locate(&self, size: Option<usize>) -> std::result::Result<Loc, ReturnCode> {
        use ReturnCode::{AddressOutOfRange, DataTypeNotSupported, ObjectDoesNotExist};
        let size = size.ok_or(ObjectDoesNotExist)?;
        let element = self.element().ok_or(DataTypeNotSupported)?;
        let start = usize::try_from(self.addr >> 3).map_err(|_| AddressOutOfRange)?;
        let (len, bit) = if self.ts == TS_BIT {
            if self.count != 1 {
                return Err(AddressOutOfRange);
            }
            (1, u8::try_from(self.addr & 7).ok())
        } else {
            if self.addr & 7 != 0 || self.count == 0 {
                return Err(AddressOutOfRange);
            }
            (element * usize::from(self.count), None)
        };
        match start.checked_add(len) {
            Some(end) if end <= size => Ok(Loc { start, len, bit }),
            _ => Err(AddressOutOfRange),
        }
    }
}

// ---- SZL contents -------------------------------------------------------

/// SZL 0x0011 records (28 bytes): order code twice (indexes 1 and 6), then
/// the firmware version (index 7), last, where Snap7's client looks for it.
fn identification(identity: &Identity) -> Vec<Vec<u8>> {
    let record = |index: u16, text: &str, tail: [u8; 6]| {
        let mut r = index.to_be_bytes().to_vec();
        r.extend_from_slice(text.as_bytes());
        r.resize(22, b' ');
        r.extend_from_slice(&tail);
        r
    };
    let module = [0x00, 0xc0, 0x00, 0x04, 0x00, 0x01];
    let (v1, v2, v3) = identity.firmware;
    vec![
        record(0x0001, &identity.order_code, module),
        record(0x0006, &identity.order_code, module),
        record(0x0007, "", [0x00, 0xc0, b'V', v1, v2, v3]),
    ]
}

/// SZL 0x001C records (34 bytes: index and a zero-padded name), in the
/// order Snap7's `get_cpu_info` expects.
fn components(identity: &Identity) -> Vec<Vec<u8>> {
    [
        (0x0001, "EDGEPOOL-SIM"),                // automation system name
        (0x0002, identity.module_name.as_str()), // module name
        (0x0003, ""),                            // plant designation
        (0x0004, "edgepool S7 simulator"),       // copyright
        (0x0005, "S C-SIM00000001"),             // serial number
        (0x0007, identity.module_name.as_str()), // module type name
    ]
    .into_iter()
    .map(|(index, text): (u16, &str)| {
        let mut r = index.to_be_bytes().to_vec();
        r.extend_from_slice(text.as_bytes());
        r.resize(34, 0);
        r
    })
    .collect()
}

/// The SZL 0x0424 record: the mode byte (RUN 0x08, STOP 0x04) at offset 3
/// and the time of the answer at offset 12, as a CPU 315 sends it.
fn cpu_mode(run: bool) -> Vec<u8> {
    let mut r = vec![0x51, 0x44, 0xff, if run { 0x08 } else { 0x04 }];
    r.extend_from_slice(&[0; 8]);
    r.extend_from_slice(&s7_time(SystemTime::now()));
    r
}

/// An S7 DATE_AND_TIME (BCD; UTC): year, month, day, hour, minute,
/// second, milliseconds (3 digits) and day of the week (1 = Sunday).
pub(super) fn s7_time(at: SystemTime) -> [u8; 8] {
    let bcd = |v: u64| u8::try_from(((v / 10 % 10) << 4) | (v % 10)).unwrap_or(0);
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let ms = u64::from(since.subsec_millis());
    let weekday = (days + 4) % 7 + 1; // 1970-01-01 was a Thursday
    [
        bcd(year % 100),
        bcd(month),
        bcd(day),
        bcd(secs / 3600 % 24),
        bcd(secs / 60 % 60),
        bcd(secs % 60),
        bcd(ms / 10),
        u8::try_from(((ms % 10) << 4) | weekday).unwrap_or(0),
    ]
}

/// Year, month, day of the day `days` after 1970-01-01 (H. Hinnant's
/// algorithm, for days on or after the epoch).
pub(super) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
