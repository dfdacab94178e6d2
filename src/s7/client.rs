//! [`Client`]: one blocking ISO-on-TCP connection to an S7 PLC.

use super::error::{ReturnCode, S7Error};
use super::iso::{self, Reassembly, Tpdu};
use super::pdu::{self, Area, Item, Message, MAX_ITEMS};
use super::Config;
use crate::net::{ConnectOptions, Stream, TlsMode};
use crate::Probe;
use crate::{Error, Phase, Result};
use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Receive buffer: a few whole TPKT frames of the largest PDU.
const READ_CHUNK: usize = 4096;
/// Bound on a whole SZL answer over all its parts.
const MAX_SZL: usize = 64 * 1024;
/// Bound on the parts of one SZL answer.
const MAX_SZL_PARTS: usize = 1024;
/// Smallest PDU size a PLC may grant that still carries a 1-byte read.
const MIN_GRANTED_PDU: u16 = 64;

/// What a multi-item read returns per item: its bytes or the PLC's refusal.
///
/// ```
/// use edgepool::s7::ReadResult;
/// let results: Vec<ReadResult> = vec![Ok(vec![1, 2]), Ok(vec![3])];
/// let total: usize = results.iter().flatten().map(Vec::len).sum();
/// assert_eq!(total, 3);
/// ```
pub type ReadResult = std::result::Result<Vec<u8>, S7Error>;
/// What a multi-item write returns per item.
///
/// ```
/// use edgepool::s7::WriteResult;
/// let results: Vec<WriteResult> = vec![Ok(()), Ok(())];
/// assert!(results.iter().all(Result::is_ok));
/// ```
pub type WriteResult = std::result::Result<(), S7Error>;

/// The operating state of the CPU, from SZL 0x0424.
///
/// ```
/// use edgepool::s7::CpuStatus;
/// assert_eq!(CpuStatus::from_code(0x08), CpuStatus::Run);
/// assert_eq!(CpuStatus::from_code(0x04), CpuStatus::Stop);
/// assert_eq!(CpuStatus::Run.to_string(), "RUN");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CpuStatus {
    /// RUN.
    Run,
    /// STOP (any of the STOP states: 0x01–0x04).
    Stop,
    /// Anything else: startup, HALT, or a code this crate does not know.
    Unknown,
}

impl CpuStatus {
    /// Maps the mode byte of an SZL 0x0424 record (its low nibble).
    ///
    /// ```
    /// use edgepool::s7::CpuStatus;
    /// assert_eq!(CpuStatus::from_code(0x03), CpuStatus::Stop);
    /// assert_eq!(CpuStatus::from_code(0x00), CpuStatus::Unknown);
    /// ```
    pub fn from_code(code: u8) -> CpuStatus {
        match code & 0x0f {
            0x08 => CpuStatus::Run,
            0x01..=0x04 => CpuStatus::Stop,
            _ => CpuStatus::Unknown,
        }
    }
}

impl fmt::Display for CpuStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpuStatus::Run => "RUN",
            CpuStatus::Stop => "STOP",
            CpuStatus::Unknown => "unknown",
        })
    }
}

/// The CPU's order code (MLFB) and firmware version, from SZL 0x0011.
///
/// ```
/// use edgepool::s7::OrderCode;
/// let oc = OrderCode { code: "6ES7 315-2EH14-0AB0".into(), firmware: Some((3, 2, 6)) };
/// assert_eq!(oc.to_string(), "6ES7 315-2EH14-0AB0 V3.2.6");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderCode {
    /// The order code, trailing blanks removed.
    pub code: String,
    /// Firmware version (from the record with index 0x0007), when present.
    pub firmware: Option<(u8, u8, u8)>,
}

impl fmt::Display for OrderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)?;
        if let Some((a, b, c)) = self.firmware {
            write!(f, " V{a}.{b}.{c}")?;
        }
        Ok(())
    }
}

/// A system status list (SZL) as read from the PLC, all parts joined.
///
/// ```
/// use edgepool::s7::Szl;
/// let szl = Szl { id: 0x11, index: 0, record_len: 2, record_count: 2, data: vec![1, 2, 3, 4] };
/// assert_eq!(szl.records().collect::<Vec<_>>(), [&[1, 2][..], &[3, 4][..]]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Szl {
    /// The SZL ID the PLC answered with.
    pub id: u16,
    /// The index the PLC answered with.
    pub index: u16,
    /// Bytes per record.
    pub record_len: u16,
    /// Records the PLC announced.
    pub record_count: u16,
    /// The record bytes.
    pub data: Vec<u8>,
}

impl Szl {
    /// The complete records in `data` (a PLC that truncates its answer, as
    /// the Snap7 server does past one PDU, yields fewer than
    /// `record_count`).
    ///
    /// ```
    /// use edgepool::s7::Szl;
    /// let szl = Szl { id: 0x11, index: 0, record_len: 0, record_count: 0, data: vec![] };
    /// assert_eq!(szl.records().count(), 0);
    /// ```
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let len = usize::from(self.record_len).max(1);
        let usable = if self.record_len == 0 {
            0
        } else {
            self.data.len() - self.data.len() % len
        };
        self.data[..usable].chunks_exact(len)
    }
}

/// A blocking S7 connection (ISO-on-TCP, port 102). Every call is bounded by
/// the config's `timeout`. A PLC's refusal (an item out of range, an
/// unknown SZL) becomes [`Error::S7`] and a whole answer whose content is
/// unusable becomes [`Error::UnexpectedAnswer`]; both leave the connection
/// usable. An I/O error, a timeout or a stream out of step (malformed
/// framing, an answer to another request: [`Error::Protocol`]) marks it
/// broken (a pool then discards it).
///
/// Reads and writes larger than the negotiated PDU are split into several
/// requests; multi-item calls are packed into as few requests as the PDU
/// and the 20-items-per-request limit allow.
///
/// ```no_run
/// use edgepool::s7::{Area, Client, Config};
/// let mut plc = Client::connect(&Config::new("192.168.0.10:102").slot(2))?;
/// let bytes = plc.read_db(1, 0, 16)?;
/// plc.write_area(Area::Merkers, 0, 10, &[0x01])?;
/// println!("{} bytes, CPU {}", bytes.len(), plc.cpu_status()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct Client {
    stream: Stream,
    /// Received bytes; `rx[start..end]` is not decoded yet.
    rx: Vec<u8>,
    start: usize,
    end: usize,
    msg: Reassembly,
    out: Vec<u8>,
    pdu_size: u16,
    next_ref: u16,
    timeout: Duration,
    /// The read timeout currently set on the socket.
    sock_timeout: Duration,
    broken: bool,
    /// The CPU refused SZL 0x0424 once: the probe goes to 0x0011 directly.
    no_szl_424: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("s7::Client")
            .field("peer", &self.stream.peer_addr().ok())
            .field("pdu_size", &self.pdu_size)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Client {
    /// Connects: TCP, the ISO connection (COTP, with the config's TSAPs) and
    /// the S7 setup that negotiates the PDU size, all within
    /// `connect_timeout`.
    ///
    /// Errors: [`Error::Config`] for invalid settings,
    /// [`Error::Timeout`]`(`[`Phase::Connect`]`)` when TCP does not connect
    /// in time, [`Error::Timeout`]`(`[`Phase::Handshake`]`)` when the PLC
    /// accepts TCP but does not complete the ISO/S7 setup in time,
    /// [`S7Error::ConnectionRefused`] when it refuses the TSAP.
    ///
    /// ```no_run
    /// use edgepool::s7::{Client, Config};
    /// let plc = Client::connect(&Config::new("192.168.0.10:102").rack(0).slot(1))?;
    /// assert!(plc.pdu_size() >= 240);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn connect(config: &Config) -> Result<Client> {
        config.validate()?;
        let deadline = Instant::now() + config.connect_timeout;
        let opts = ConnectOptions::default()
            .connect_timeout(config.connect_timeout)
            .read_timeout(Some(config.connect_timeout))
            .write_timeout(Some(config.connect_timeout));
        let stream = Stream::connect(&config.connect_addr()?, &opts, &TlsMode::Off)?;
        let mut client = Client {
            stream,
            rx: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            msg: Reassembly::new(usize::from(config.pdu_size)),
            out: Vec::with_capacity(usize::from(config.pdu_size) + iso::DATA_HEADER),
            pdu_size: config.pdu_size,
            next_ref: 0,
            timeout: config.connect_timeout,
            sock_timeout: config.connect_timeout,
            broken: false,
            no_szl_424: false,
        };
        client.handshake(config, deadline).map_err(|e| match e {
            Error::Timeout(Phase::Read | Phase::Write) => Error::Timeout(Phase::Handshake),
            e => e,
        })?;
        client.timeout = config.timeout;
        client.set_sock_timeout(config.timeout)?;
        client.stream.set_write_timeout(Some(config.timeout))?;
        Ok(client)
    }

    fn handshake(&mut self, config: &Config, deadline: Instant) -> Result<()> {
        let remote_tsap = config.remote_tsap();
        self.out.clear();
        iso::encode_connect_request(1, config.local_tsap(), remote_tsap, &mut self.out);
        self.send()?;
        self.receive(deadline, true).map_err(|e| match e {
            Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
                Error::S7(S7Error::ConnectionRefused {
                    remote_tsap,
                    reason: "the PLC closed the connection (wrong rack/slot or TSAP?)".into(),
                })
            }
            Error::Protocol(crate::ProtocolError::Other(why)) if why.starts_with("refused:") => {
                Error::S7(S7Error::ConnectionRefused {
                    remote_tsap,
                    reason: why.trim_start_matches("refused:").trim().to_owned(),
                })
            }
            e => e,
        })?;
        let pdu_ref = self.begin();
        pdu::encode_setup(pdu_ref, config.pdu_size, &mut self.out);
        self.finish();
        self.send()?;
        self.receive(deadline, false)?;
        let m = self.answer(pdu_ref)?;
        let granted = pdu::decode_setup(&m)?;
        if granted < MIN_GRANTED_PDU {
            return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                "S7: the PLC granted a PDU of {granted} bytes"
            ))));
        }
        self.pdu_size = granted.min(config.pdu_size);
        self.msg.set_limit(usize::from(self.pdu_size));
        Ok(())
    }

    /// The PDU size negotiated with the PLC (bytes per request and answer,
    /// S7 header included).
    ///
    /// ```no_run
    /// # let plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// println!("PDU {} bytes", plc.pdu_size());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn pdu_size(&self) -> u16 {
        self.pdu_size
    }

    /// True after a transport error, a timeout or a malformed answer.
    ///
    /// ```no_run
    /// # let plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// assert!(!plc.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Reads `len` bytes of `area` from byte `start` (for [`Area::Timers`]
    /// and [`Area::Counters`]: `len` elements of 2 bytes from element
    /// `start`). `db` is the DB number for [`Area::Db`], ignored otherwise.
    ///
    /// ```no_run
    /// use edgepool::s7::Area;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let inputs = plc.read_area(Area::Inputs, 0, 0, 4)?;
    /// let timers = plc.read_area(Area::Timers, 0, 0, 2)?; // 4 bytes
    /// assert_eq!(timers.len(), 4);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_area(&mut self, area: Area, db: u16, start: u32, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; len.saturating_mul(area.element_size())];
        self.read_area_into(area, db, start, &mut buf)?;
        Ok(buf)
    }

    /// Like [`read_area`](Client::read_area), into `buf` (its length says
    /// how much; even for timers and counters). Allocates nothing per call
    /// beyond the decoder's item list.
    ///
    /// ```no_run
    /// use edgepool::s7::Area;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let mut buf = [0u8; 64];
    /// plc.read_area_into(Area::Db, 1, 0, &mut buf)?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_area_into(
        &mut self,
        area: Area,
        db: u16,
        start: u32,
        buf: &mut [u8],
    ) -> Result<()> {
        let elem = area.element_size();
        if buf.len() % elem != 0 {
            return Err(Error::Config(format!(
                "{area:?}: {} bytes is not a whole number of 2-byte elements",
                buf.len()
            )));
        }
        let max = self.max_read_bytes(elem);
        let mut done = 0;
        while done < buf.len() {
            let n = (buf.len() - done).min(max);
            let item = chunk_item(area, db, start, done, n)?;
            let dest = &mut buf[done..done + n];
            self.call(|c| {
                let pdu_ref = c.begin();
                pdu::encode_read(pdu_ref, &[item], &mut c.out);
                c.finish();
                c.transact()?;
                let m = c.answer(pdu_ref)?;
                match pdu::decode_read(&m, &[item])?.first() {
                    Some(Ok(data)) => {
                        dest.copy_from_slice(data);
                        Ok(())
                    }
                    Some(Err(code)) => Err(item_error(item, *code)),
                    None => Err(Error::UnexpectedAnswer("S7: empty read answer".into())),
                }
            })?;
            done += n;
        }
        Ok(())
    }

    /// Writes `data` to `area` from byte `start` (timers and counters:
    /// from element `start`, 2 bytes each).
    ///
    /// ```no_run
    /// use edgepool::s7::Area;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// plc.write_area(Area::Outputs, 0, 0, &[0b0000_0101])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_area(&mut self, area: Area, db: u16, start: u32, data: &[u8]) -> Result<()> {
        let elem = area.element_size();
        if data.len() % elem != 0 {
            return Err(Error::Config(format!(
                "{area:?}: {} bytes is not a whole number of 2-byte elements",
                data.len()
            )));
        }
        let max = self.max_write_bytes(elem);
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(max);
            let item = chunk_item(area, db, start, done, n)?;
            let chunk = &data[done..done + n];
            self.call(|c| {
                let pdu_ref = c.begin();
                pdu::encode_write(pdu_ref, &[(item, chunk)], &mut c.out);
                c.finish();
                c.transact()?;
                let m = c.answer(pdu_ref)?;
                match pdu::decode_write(&m, 1)?.first() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(code)) => Err(item_error(item, *code)),
                    None => Err(Error::UnexpectedAnswer("S7: empty write answer".into())),
                }
            })?;
            done += n;
        }
        Ok(())
    }

    /// Reads `len` bytes of data block `db` from byte `start`.
    ///
    /// ```no_run
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let data = plc.read_db(10, 0, 32)?;
    /// let temperature = f32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_db(&mut self, db: u16, start: u32, len: usize) -> Result<Vec<u8>> {
        self.read_area(Area::Db, db, start, len)
    }

    /// Writes `data` to data block `db` from byte `start`.
    ///
    /// ```no_run
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// plc.write_db(10, 4, &21.5f32.to_be_bytes())?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_db(&mut self, db: u16, start: u32, data: &[u8]) -> Result<()> {
        self.write_area(Area::Db, db, start, data)
    }

    /// Reads bit `bit` (0–7) of byte `byte`.
    ///
    /// ```no_run
    /// use edgepool::s7::Area;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let running = plc.read_bit(Area::Merkers, 0, 10, 3)?; // M10.3
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_bit(&mut self, area: Area, db: u16, byte: u32, bit: u8) -> Result<bool> {
        let item = Item::bit(area, db, byte, bit);
        match self.read_multi(&[item])?.pop() {
            Some(Ok(v)) => Ok(v.first().is_some_and(|b| b & 1 != 0)),
            Some(Err(e)) => Err(Error::S7(e)),
            None => Err(Error::UnexpectedAnswer("S7: empty read answer".into())),
        }
    }

    /// Sets or clears bit `bit` (0–7) of byte `byte`, leaving the other bits.
    ///
    /// ```no_run
    /// use edgepool::s7::Area;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// plc.write_bit(Area::Db, 3, 0, 1, true)?; // DB3.DBX0.1 := 1
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_bit(
        &mut self,
        area: Area,
        db: u16,
        byte: u32,
        bit: u8,
        value: bool,
    ) -> Result<()> {
        let item = Item::bit(area, db, byte, bit);
        match self.write_multi(&[(item, &[u8::from(value)])])?.pop() {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Error::S7(e)),
            None => Err(Error::UnexpectedAnswer("S7: empty write answer".into())),
        }
    }

    /// Reads several items, in as few requests as the PDU size and the
    /// 20-items-per-request limit allow (an item too large for one answer
    /// is split). One result per item, in order: an item the PLC refuses
    /// is an `Err` in its place and does not fail the others. The call
    /// itself fails only on transport or protocol errors (or an invalid
    /// item, [`Error::Config`]).
    ///
    /// ```no_run
    /// use edgepool::s7::{Area, Item};
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let items = [Item::db(1, 0, 4), Item::bytes(Area::Merkers, 0, 0, 2), Item::bit(Area::Inputs, 0, 0, 1)];
    /// for (item, result) in items.iter().zip(plc.read_multi(&items)?) {
    ///     match result {
    ///         Ok(bytes) => println!("{item}: {bytes:02x?}"),
    ///         Err(e) => println!("{item}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_multi(&mut self, items: &[Item]) -> Result<Vec<ReadResult>> {
        for item in items {
            item.validate()?;
        }
        let mut results: Vec<ReadResult> =
            items.iter().map(|i| Ok(vec![0; i.byte_len()])).collect();
        let pieces = self.split(items, self.max_read_bytes(1));
        let pdu = usize::from(self.pdu_size);
        let mut batch: Vec<Piece> = Vec::new();
        let mut answer_len = pdu::ACK_HEADER + 2;
        for piece in pieces {
            let need = pdu::read_answer_item_len(piece.item.byte_len(), false);
            if batch.len() == MAX_ITEMS
                || pdu::read_request_len(batch.len() + 1) > pdu
                || answer_len + need > pdu
            {
                self.read_batch(&batch, &mut results)?;
                batch.clear();
                answer_len = pdu::ACK_HEADER + 2;
            }
            answer_len += need;
            batch.push(piece);
        }
        if !batch.is_empty() {
            self.read_batch(&batch, &mut results)?;
        }
        Ok(results)
    }

    fn read_batch(&mut self, batch: &[Piece], results: &mut [ReadResult]) -> Result<()> {
        let wire: Vec<Item> = batch.iter().map(|p| p.item).collect();
        self.call(|c| {
            let pdu_ref = c.begin();
            pdu::encode_read(pdu_ref, &wire, &mut c.out);
            c.finish();
            c.transact()?;
            let m = c.answer(pdu_ref)?;
            for (piece, r) in batch.iter().zip(pdu::decode_read(&m, &wire)?) {
                let Some(slot) = results.get_mut(piece.index) else {
                    continue;
                };
                match (r, slot) {
                    (Ok(data), Ok(buf)) => {
                        buf[piece.offset..piece.offset + data.len()].copy_from_slice(data)
                    }
                    (Err(code), slot @ Ok(_)) => {
                        *slot = Err(S7Error::Item {
                            item: piece.whole,
                            code,
                        })
                    }
                    // Already failed in an earlier piece.
                    (_, Err(_)) => {}
                }
            }
            Ok(())
        })
    }

    /// Writes several items, each with its bytes (`data.len()` must be the
    /// item's [`Item::byte_len`]), packed like [`read_multi`](Client::read_multi).
    /// One result per item, in order.
    ///
    /// ```no_run
    /// use edgepool::s7::{Area, Item};
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let results = plc.write_multi(&[
    ///     (Item::db(3, 0, 2), &[0x12, 0x34][..]),
    ///     (Item::bit(Area::Merkers, 0, 5, 0), &[1][..]),
    /// ])?;
    /// assert!(results.iter().all(|r| r.is_ok()));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write_multi(&mut self, items: &[(Item, &[u8])]) -> Result<Vec<WriteResult>> {
        for (item, data) in items {
            item.validate()?;
            if data.len() != item.byte_len() {
                return Err(Error::Config(format!(
                    "S7 item {item}: {} bytes given, {} expected",
                    data.len(),
                    item.byte_len()
                )));
            }
        }
        let plain: Vec<Item> = items.iter().map(|(i, _)| *i).collect();
        let pieces = self.split(&plain, self.max_write_bytes(1));
        let mut results: Vec<WriteResult> = vec![Ok(()); items.len()];
        let pdu = usize::from(self.pdu_size);
        let mut batch: Vec<Piece> = Vec::new();
        let mut request_len = pdu::REQUEST_HEADER + 2;
        for piece in pieces {
            let need = pdu::ITEM_SPEC + pdu::write_data_item_len(piece.item.byte_len(), false);
            if batch.len() == MAX_ITEMS
                || request_len + need > pdu
                || pdu::ACK_HEADER + 2 + batch.len() + 1 > pdu
            {
                self.write_batch(&batch, items, &mut results)?;
                batch.clear();
                request_len = pdu::REQUEST_HEADER + 2;
            }
            request_len += need;
            batch.push(piece);
        }
        if !batch.is_empty() {
            self.write_batch(&batch, items, &mut results)?;
        }
        Ok(results)
    }

    fn write_batch(
        &mut self,
        batch: &[Piece],
        items: &[(Item, &[u8])],
        results: &mut [WriteResult],
    ) -> Result<()> {
        let wire: Vec<(Item, &[u8])> = batch
            .iter()
            .map(|p| {
                let data = items.get(p.index).map_or(&[][..], |(_, d)| *d);
                let end = (p.offset + p.item.byte_len()).min(data.len());
                (p.item, &data[p.offset.min(end)..end])
            })
            .collect();
        self.call(|c| {
            let pdu_ref = c.begin();
            pdu::encode_write(pdu_ref, &wire, &mut c.out);
            c.finish();
            c.transact()?;
            let m = c.answer(pdu_ref)?;
            for (piece, r) in batch.iter().zip(pdu::decode_write(&m, wire.len())?) {
                if let (Err(code), Some(slot @ Ok(()))) = (r, results.get_mut(piece.index)) {
                    *slot = Err(S7Error::Item {
                        item: piece.whole,
                        code,
                    });
                }
            }
            Ok(())
        })
    }

    /// Reads a system status list (SZL): `id` and `index` as in Siemens'
    /// documentation (0x0011 identification, 0x001C component
    /// identification, 0x0424 operating mode, …). Multi-part answers are
    /// requested part by part and joined (at most 64 KiB in all). A list
    /// the CPU does not have gives [`S7Error::Szl`].
    ///
    /// ```no_run
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let szl = plc.read_szl(0x001c, 0)?;
    /// for record in szl.records() {
    ///     println!("{:02x?}", record);
    /// }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read_szl(&mut self, id: u16, index: u16) -> Result<Szl> {
        self.call(|c| {
            let mut szl: Option<Szl> = None;
            let mut seq = 0;
            for part_no in 0..MAX_SZL_PARTS {
                let first = part_no == 0;
                let pdu_ref = c.begin();
                if first {
                    pdu::encode_szl(pdu_ref, id, index, &mut c.out);
                } else {
                    pdu::encode_szl_next(pdu_ref, seq, &mut c.out);
                }
                c.finish();
                c.transact()?;
                let m = c.answer(pdu_ref)?;
                let part = pdu::decode_szl(&m, first, id, index)?;
                let list = match (&mut szl, part.header) {
                    (Some(list), _) => list,
                    (None, Some(h)) => szl.insert(Szl {
                        id: h.id,
                        index: h.index,
                        record_len: h.record_len,
                        record_count: h.record_count,
                        data: Vec::new(),
                    }),
                    (None, None) => {
                        return Err(Error::UnexpectedAnswer("S7: SZL without header".into()))
                    }
                };
                if list.data.len() + part.data.len() > MAX_SZL {
                    return Err(Error::UnexpectedAnswer(format!(
                        "S7: SZL {id:#06x} is larger than {MAX_SZL} bytes"
                    )));
                }
                list.data.extend_from_slice(part.data);
                if part.last {
                    return szl.ok_or_else(|| Error::UnexpectedAnswer("S7: empty SZL".into()));
                }
                if !first && part.data.is_empty() {
                    return Err(Error::UnexpectedAnswer(
                        "S7: an empty SZL part that is not the last".into(),
                    ));
                }
                seq = part.seq;
            }
            Err(Error::UnexpectedAnswer(format!(
                "S7: SZL {id:#06x} in more than {MAX_SZL_PARTS} parts"
            )))
        })
    }

    /// The CPU's operating state, from SZL 0x0424 (the mode byte of its
    /// first record).
    ///
    /// ```no_run
    /// use edgepool::s7::CpuStatus;
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// if plc.cpu_status()? == CpuStatus::Stop {
    ///     eprintln!("the PLC is in STOP");
    /// }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn cpu_status(&mut self) -> Result<CpuStatus> {
        let szl = self.read_szl(0x0424, 0)?;
        let mode = szl.records().next().and_then(|r| r.get(3).copied());
        Ok(mode.map_or(CpuStatus::Unknown, CpuStatus::from_code))
    }

    /// The CPU's order code and firmware version, from SZL 0x0011.
    ///
    /// ```no_run
    /// # let mut plc = edgepool::s7::Client::connect(&edgepool::s7::Config::default())?;
    /// let oc = plc.order_code()?;
    /// println!("{oc}"); // e.g. "6ES7 315-2EH14-0AB0 V3.2.6"
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn order_code(&mut self) -> Result<OrderCode> {
        let szl = self.read_szl(0x0011, 0)?;
        let mut code = None;
        let mut firmware = None;
        // A record is index (2), MLFB (20), BGTyp (2), Ausbg (2), Ausbe (2)
        // = 28 bytes on real CPUs; some servers send shorter ones (26 bytes
        // from python-snap7 3.x): the code needs the first 22, the firmware
        // (Ausbe of record 7) all 28.
        for r in szl.records() {
            let (Some(index), Some(mlfb)) = (r.get(..2), r.get(2..22)) else {
                continue;
            };
            let index = u16::from_be_bytes([index[0], index[1]]);
            if code.is_none() || index == 0x0001 {
                let mlfb = String::from_utf8_lossy(mlfb);
                code = Some(mlfb.trim_end_matches([' ', '\0']).to_owned());
            }
            if let (0x0007, Some(&[a, b, c])) = (index, r.get(25..28)) {
                firmware = Some((a, b, c));
            }
        }
        match code {
            Some(code) => Ok(OrderCode { code, firmware }),
            None => Err(Error::UnexpectedAnswer(
                "S7: SZL 0x0011 holds no identification record".into(),
            )),
        }
    }

    // ---- planning -------------------------------------------------------

    /// Most data bytes one read answer carries for a single item, a whole
    /// number of `elem`-byte elements.
    fn max_read_bytes(&self, elem: usize) -> usize {
        let room = usize::from(self.pdu_size) - pdu::ACK_HEADER - 2 - 4;
        (room - room % 2).max(elem) / elem * elem
    }

    /// Most data bytes one write request carries for a single item.
    fn max_write_bytes(&self, elem: usize) -> usize {
        let room = usize::from(self.pdu_size) - pdu::REQUEST_HEADER - 2 - pdu::ITEM_SPEC - 4;
        (room - room % 2).max(elem) / elem * elem
    }

    /// Splits items into pieces of at most `max` bytes (whole elements).
    fn split(&self, items: &[Item], max: usize) -> Vec<Piece> {
        let mut pieces = Vec::with_capacity(items.len());
        for (index, whole) in items.iter().enumerate() {
            let elem = whole.area.element_size();
            let max = (max / elem).max(1) * elem;
            let total = whole.byte_len();
            if whole.bit.is_some() || total <= max {
                pieces.push(Piece {
                    index,
                    whole: *whole,
                    item: *whole,
                    offset: 0,
                });
                continue;
            }
            let mut offset = 0;
            while offset < total {
                let n = (total - offset).min(max);
                let step = u32::try_from(offset / elem).unwrap_or(u32::MAX);
                let item = Item::bytes(
                    whole.area,
                    whole.db,
                    whole.start.saturating_add(step),
                    u16::try_from(n / elem).unwrap_or(u16::MAX),
                );
                pieces.push(Piece {
                    index,
                    whole: *whole,
                    item,
                    offset,
                });
                offset += n;
            }
        }
        pieces
    }

    // ---- transport ------------------------------------------------------

    /// Runs `f`; a transport or protocol error marks the connection broken.
    fn call<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        if self.broken {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                "the S7 connection is broken",
            )));
        }
        let r = f(self);
        if let Err(e) = &r {
            if e.is_transport() {
                self.broken = true;
            }
        }
        r
    }

    /// Starts a request frame in `out`; returns its PDU reference.
    fn begin(&mut self) -> u16 {
        self.next_ref = self.next_ref.wrapping_add(1);
        self.out.clear();
        iso::begin_data(&mut self.out);
        self.next_ref
    }

    fn finish(&mut self) {
        iso::finish_data(&mut self.out, 0);
    }

    fn transact(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        self.send()?;
        self.receive(deadline, false)
    }

    /// Parses the reassembled answer and checks its PDU reference.
    fn answer(&self, pdu_ref: u16) -> Result<Message<'_>> {
        let m = pdu::parse(self.msg.message())?;
        if m.pdu_ref != pdu_ref {
            return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                "S7: answer for request {} while waiting for {pdu_ref}",
                m.pdu_ref
            ))));
        }
        Ok(m)
    }

    fn send(&mut self) -> Result<()> {
        if let Err(e) = self.stream.write_all(&self.out) {
            self.broken = true;
            return Err(Error::from_io(e, Phase::Write));
        }
        Ok(())
    }

    /// Reads frames until a whole message (or, with `confirm`, a connection
    /// confirm) arrived, by `deadline`.
    fn receive(&mut self, deadline: Instant, confirm: bool) -> Result<()> {
        let r = self.receive_frames(deadline, confirm);
        if r.is_ok() && self.sock_timeout != self.timeout {
            self.set_sock_timeout(self.timeout)?;
        }
        r
    }

    fn receive_frames(&mut self, deadline: Instant, confirm: bool) -> Result<()> {
        let max_frame = iso::DATA_HEADER + usize::from(self.pdu_size).max(64);
        self.msg.clear();
        loop {
            while self.end > self.start {
                let decoded = iso::decode(&self.rx[self.start..self.end], max_frame)?;
                let Some((tpdu, used)) = decoded else {
                    break;
                };
                self.start += used;
                match (tpdu, confirm) {
                    (Tpdu::Data { eot, payload }, false) => {
                        if self.msg.push(payload, eot)? {
                            return Ok(());
                        }
                    }
                    (Tpdu::ConnectConfirm { .. }, true) => return Ok(()),
                    (Tpdu::Disconnect { reason }, _) => {
                        return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                            "refused: ISO disconnect request, reason {reason:#04x}"
                        ))))
                    }
                    (Tpdu::Error { cause }, _) => {
                        return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                            "refused: ISO TPDU error, cause {cause:#04x}"
                        ))))
                    }
                    (other, _) => {
                        return Err(Error::Protocol(crate::ProtocolError::Other(format!(
                            "ISO-on-TCP: unexpected {other:?}"
                        ))))
                    }
                }
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.end == self.rx.len() {
                self.rx.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(Phase::Read));
            }
            // Narrow the socket timeout only when the deadline is nearer
            // than it (the usual whole-answer-in-one-read costs no syscall).
            if left + Duration::from_millis(1) < self.sock_timeout {
                self.set_sock_timeout(left)?;
            }
            let read = self.stream.read(&mut self.rx[self.end..]);
            match read {
                Ok(0) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the PLC closed the connection",
                    )))
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from_io(e, Phase::Read)),
            }
        }
    }

    fn set_sock_timeout(&mut self, t: Duration) -> Result<()> {
        self.stream
            .set_read_timeout(Some(t.max(Duration::from_millis(1))))?;
        self.sock_timeout = t;
        Ok(())
    }
}

/// One request item covering part (or all) of a caller's item.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Index of the caller's item.
    index: usize,
    /// The caller's item (named in errors).
    whole: Item,
    /// What goes on the wire.
    item: Item,
    /// Byte offset of this piece in the caller's item.
    offset: usize,
}

fn chunk_item(area: Area, db: u16, start: u32, done: usize, n: usize) -> Result<Item> {
    let elem = area.element_size();
    let step = u32::try_from(done / elem).ok();
    let len = u16::try_from(n / elem).ok();
    let item = match (step.and_then(|s| start.checked_add(s)), len) {
        (Some(s), Some(l)) => Item::bytes(area, db, s, l),
        _ => {
            return Err(Error::Config(format!(
                "S7 {area:?} start {start} + {done} bytes is out of range"
            )))
        }
    };
    item.validate()?;
    Ok(item)
}

fn item_error(item: Item, code: ReturnCode) -> Error {
    Error::S7(S7Error::Item { item, code })
}

impl Probe for Client {
    /// Reads SZL 0x0424 (operating mode; a CPU in STOP answers too), or
    /// SZL 0x0011 when the CPU refused 0x0424 before. Any answer, even a
    /// refusal, proves the connection alive.
    fn probe(&mut self) -> Result<()> {
        if !self.no_szl_424 {
            match self.read_szl(0x0424, 0) {
                Ok(_) => return Ok(()),
                Err(Error::S7(e)) => {
                    log::debug!("SZL 0x0424 refused ({e}); probing with SZL 0x0011");
                    self.no_szl_424 = true;
                }
                Err(e) => return Err(e),
            }
        }
        match self.read_szl(0x0011, 0) {
            Ok(_) => Ok(()),
            Err(Error::S7(e)) => {
                log::debug!("SZL 0x0011 refused too ({e}); the PLC answers, so it is alive");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
