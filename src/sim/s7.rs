//! A small Siemens S7 CPU on a loopback port: ISO-on-TCP (RFC 1006), S7
//! setup communication, read var / write var and a few SZL lists, over data
//! blocks, inputs, outputs and merkers held in memory.
//!
//! ```
//! use std::time::Duration;
//! use edgepool::s7::{self, Area, CpuStatus};
//! use edgepool::sim::s7::S7Sim;
//! use edgepool::Pool;
//!
//! let plc = S7Sim::start()?;
//! plc.write(Area::Db, 1, 0, &[0x12, 0x34])?; // test setup, no network
//! let config = s7::Config::new(plc.addr().to_string())
//!     .connect_timeout(Duration::from_secs(1))
//!     .timeout(Duration::from_secs(1));
//! let pool = Pool::builder().max_size(2).build(s7::Manager::new(config))?;
//! assert_eq!(pool.execute(|c| c.read_db(1, 0, 2))?, [0x12, 0x34]);
//! pool.execute(|c| c.write_area(Area::Merkers, 0, 4, &[0xff]))?;
//! assert_eq!(plc.read(Area::Merkers, 0, 4, 1)?, [0xff]);
//! plc.set_run(false);
//! assert_eq!(pool.execute(|c| c.cpu_status())?, CpuStatus::Stop);
//! # Ok::<(), edgepool::Error>(())
//! ```
//!
//! # What it answers
//!
//! - **Connect.** A COTP connection request gets a connection confirm
//!   echoing its TSAPs. By default any called TSAP (any rack, slot and
//!   connection type) is accepted, like the Snap7 server;
//!   [`S7SimBuilder::rack_slot`] accepts only one rack/slot and refuses
//!   the others with a disconnect request (reason 0x03, "address unknown"),
//!   which edgepool's client reports as
//!   [`S7Error::ConnectionRefused`](crate::s7::S7Error::ConnectionRefused).
//! - **Setup communication** grants the smaller of the requested PDU size
//!   and [`S7SimBuilder::pdu_size`] (never less than 64 bytes), and one
//!   parallel job each way. Other jobs before it are refused.
//! - **Read var / write var** on DBs, inputs, outputs and merkers, with the
//!   S7ANY addressing real clients use: bit, byte, char, word, int, dword,
//!   dint and real transport sizes, many items per request. Every item gets
//!   its own return code: 0xff OK, 0x05 address out of range (past the end,
//!   a byte item not on a byte boundary, a bit item longer than 1), 0x06
//!   data type not supported, 0x07 data type inconsistent (written data of
//!   the wrong length), 0x0a object does not exist (a missing DB, and timers
//!   and counters, which the simulator has not). A refused item carries no
//!   data, as on a real CPU.
//! - **Whole-request errors** come as an acknowledgement with an error
//!   class and code, like a real CPU: 0x85/0x00 when the request, or the
//!   answer it asks for, is larger than the negotiated PDU; 0x81/0x04
//!   ("service not implemented or frame error") for any other function or
//!   malformed parameters. The connection stays up.
//! - **SZL reads** (userdata, function group 4, subfunction 1): 0x0011
//!   (module identification: the order code and the firmware version),
//!   0x001C (component identification: station and module names, serial
//!   number), 0x0111 and 0x011C (one record of those, by index), and
//!   0x0424 (the CPU mode: RUN 0x08 or STOP 0x04, and the current time). An
//!   answer larger than the PDU is sent in parts, each fetched with a
//!   follow-up request. An unknown SZL ID is refused with error 0xd401, an
//!   unknown index with 0xd402 (return code 0x0a); other userdata functions
//!   with 0x8104.
//! - **Anything that breaks ISO-on-TCP** (a bad TPKT header, a frame over
//!   4096 bytes, a data TPDU before the connection request, an S7 header
//!   whose lengths do not add up) closes the connection. Nothing a client
//!   sends can make the simulator panic or allocate more than 4096 bytes
//!   for one message.
//!
//! The [`Faults`] work as for every simulator: silent (every request,
//! the connection request included, is read and dropped unanswered, so a
//! connect hangs until the client's timeout), a delay before each answer,
//! and dropping all connections. [`S7Sim::restart`] keeps the memory.

use super::{lock, ConnHandler, Faults, TcpServer};
use crate::s7::iso::{self, Reassembly, Tpdu};
use crate::s7::pdu::{self, Area, Message};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest TPKT frame and largest reassembled message accepted.
const MAX_FRAME: usize = 4096;
/// Bounds on the configured PDU size (the sizes real CPUs grant: 240 on an
/// S7-300 or S7-1200, 480 on an S7-400, 960 on an S7-1500).
const MIN_PDU: u16 = 128;
const MAX_PDU: u16 = 960;
/// Smallest PDU size granted, whatever the client asks for.
const MIN_GRANT: u16 = 64;
/// Parallel jobs granted each way.
const MAX_AMQ: u16 = 1;
/// Largest area: what the 24-bit S7ANY bit address reaches.
const MAX_AREA: usize = 1 << 21;
/// Our COTP reference.
const LOCAL_REF: u16 = 0x0001;
/// DR reason "address unknown" (ISO 8073), for a refused TSAP.
const DR_ADDRESS_UNKNOWN: u8 = 0x03;

const DEFAULT_DB_SIZE: usize = 1024;
const DEFAULT_AREA_SIZE: usize = 256;
const DEFAULT_PDU: u16 = 480;
const DEFAULT_ORDER_CODE: &str = "6ES7 315-2EH14-0AB0";
const DEFAULT_MODULE_NAME: &str = "CPU 315-2 PN/DP";
const DEFAULT_FIRMWARE: (u8, u8, u8) = (3, 2, 6);

// S7 message types and functions.
const JOB: u8 = 0x01;
const USERDATA: u8 = 0x07;
const FN_SETUP: u8 = 0xf0;
const FN_READ: u8 = 0x04;
const FN_WRITE: u8 = 0x05;
const GROUP_SZL: u8 = 0x04;
const SUB_READ_SZL: u8 = 0x01;

// Area codes.
const AREA_INPUTS: u8 = 0x81;
const AREA_OUTPUTS: u8 = 0x82;
const AREA_MERKERS: u8 = 0x83;
const AREA_DB: u8 = 0x84;

// Transport sizes of an item specification.
const TS_BIT: u8 = 0x01;
const TS_BYTE: u8 = 0x02;
const TS_CHAR: u8 = 0x03;
const TS_WORD: u8 = 0x04;
const TS_INT: u8 = 0x05;
const TS_DWORD: u8 = 0x06;
const TS_DINT: u8 = 0x07;
const TS_REAL: u8 = 0x08;

// Item return codes.
const RC_OK: u8 = 0xff;
const RC_OUT_OF_RANGE: u8 = 0x05;
const RC_TYPE_NOT_SUPPORTED: u8 = 0x06;
const RC_TYPE_INCONSISTENT: u8 = 0x07;
const RC_NO_OBJECT: u8 = 0x0a;

// Error class and code of a refused job.
const ERR_NOT_IMPLEMENTED: (u8, u8) = (0x81, 0x04);
const ERR_PDU_SIZE: (u8, u8) = (0x85, 0x00);
// Userdata error codes.
const UD_NOT_IMPLEMENTED: u16 = 0x8104;
const UD_BAD_SZL_ID: u16 = 0xd401;
const UD_BAD_SZL_INDEX: u16 = 0xd402;
const UD_UNAVAILABLE: u16 = 0xd406;

/// A simulated S7 CPU listening on 127.0.0.1 (a free port). Stops when
/// dropped.
///
/// [`S7Sim::start`] gives DB1 and DB2 of 1024 bytes each, 256 bytes each of
/// inputs, outputs and merkers (all zero), order code
/// `6ES7 315-2EH14-0AB0` with firmware V3.2.6, a PDU of up to 480 bytes, any
/// rack and slot accepted, and the CPU in RUN. [`S7Sim::builder`] changes
/// those. See the [module docs](self) for what it answers.
///
/// ```
/// use edgepool::s7::{Area, Client, Config};
/// let plc = edgepool::sim::s7::S7Sim::start()?;
/// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
/// client.write_db(2, 100, b"hello")?;
/// assert_eq!(plc.read(Area::Db, 2, 100, 5)?, b"hello");
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct S7Sim {
    shared: Arc<Shared>,
    faults: Faults,
    server: TcpServer,
}

impl S7Sim {
    /// Starts a simulator with the defaults (see [`S7Sim`]).
    ///
    /// ```
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// assert!(plc.addr().ip().is_loopback());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start() -> Result<S7Sim> {
        S7Sim::builder().start()
    }

    /// A builder to choose the memory, identity and PDU size.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// let plc = edgepool::sim::s7::S7Sim::builder()
    ///     .db(10, 64)
    ///     .area_size(Area::Inputs, 16)
    ///     .start()?;
    /// assert_eq!(plc.read(Area::Db, 10, 0, 64)?.len(), 64);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn builder() -> S7SimBuilder {
        S7SimBuilder::default()
    }

    /// The address it listens on (`127.0.0.1:port`): use it in
    /// [`s7::Config::new`](crate::s7::Config::new).
    ///
    /// ```
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// let config = edgepool::s7::Config::new(plc.addr().to_string());
    /// assert_ne!(plc.addr().port(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The fault switches (silent, delay, drop connections).
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::s7::{Client, Config};
    /// use edgepool::{Error, Phase};
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// plc.faults().set_silent(true); // even the ISO connect goes unanswered
    /// let config = Config::new(plc.addr().to_string()).connect_timeout(Duration::from_millis(100));
    /// assert!(matches!(Client::connect(&config), Err(Error::Timeout(Phase::Handshake))));
    /// plc.faults().clear();
    /// assert!(Client::connect(&config).is_ok());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Puts the CPU in RUN (`true`) or STOP, as SZL 0x0424 (and so
    /// [`Client::cpu_status`](crate::s7::Client::cpu_status)) reports it.
    /// Reads and writes work in both modes. Starts in RUN.
    ///
    /// ```
    /// use edgepool::s7::{Client, Config, CpuStatus};
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
    /// assert_eq!(client.cpu_status()?, CpuStatus::Run);
    /// plc.set_run(false);
    /// assert_eq!(client.cpu_status()?, CpuStatus::Stop);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set_run(&self, run: bool) {
        self.shared.run.store(run, Ordering::SeqCst);
    }

    /// Writes `bytes` into the memory from byte `start`, without the
    /// network (for test setup). `db` names the DB for [`Area::Db`] and is
    /// ignored otherwise. [`Error::Config`] for an area the simulator does
    /// not have (a missing DB, timers, counters) or a range past its end.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// plc.write(Area::Inputs, 0, 0, &[0b0000_0101])?;
    /// assert!(plc.write(Area::Db, 7, 0, &[1]).is_err()); // no DB7
    /// assert!(plc.write(Area::Db, 1, 1023, &[1, 2]).is_err()); // DB1 has 1024 bytes
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn write(&self, area: Area, db: u16, start: usize, bytes: &[u8]) -> Result<()> {
        let mut memory = lock(&self.shared.memory);
        let buf = memory
            .get_mut(area.code(), db)
            .ok_or_else(|| missing(area, db))?;
        let size = buf.len();
        let range = span(area, db, start, bytes.len(), size)?;
        buf[range].copy_from_slice(bytes);
        Ok(())
    }

    /// Reads `len` bytes of the memory from byte `start`, without the
    /// network (to inspect what a client wrote). Errors as for
    /// [`write`](S7Sim::write).
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// assert_eq!(plc.read(Area::Merkers, 0, 10, 2)?, [0, 0]);
    /// assert!(plc.read(Area::Outputs, 0, 250, 10).is_err()); // 256 bytes of outputs
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn read(&self, area: Area, db: u16, start: usize, len: usize) -> Result<Vec<u8>> {
        let memory = lock(&self.shared.memory);
        let buf = memory
            .get(area.code(), db)
            .ok_or_else(|| missing(area, db))?;
        let range = span(area, db, start, len, buf.len())?;
        Ok(buf[range].to_vec())
    }

    /// How many S7 requests (setup, reads, writes, SZL reads, anything
    /// else) the simulator received, including those a silent fault left
    /// unanswered. ISO connection requests do not count.
    ///
    /// ```
    /// use edgepool::s7::{Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?; // setup: 1
    /// client.read_db(1, 0, 4)?;
    /// assert_eq!(plc.requests(), 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Power-cycles the CPU: closes the port and every connection, waits
    /// `downtime`, then listens on the same port again. The memory, the
    /// RUN/STOP state and the request count are kept, like a CPU whose data
    /// is retentive; connections must be opened (and PDUs negotiated) anew.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::s7::{Area, Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::start()?;
    /// plc.write(Area::Db, 1, 0, &[42])?;
    /// plc.restart(Duration::from_millis(20))?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
    /// assert_eq!(client.read_db(1, 0, 1)?, [42]);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn restart(&self, downtime: Duration) -> Result<()> {
        self.server.restart(downtime, || {})?;
        Ok(())
    }
}

impl fmt::Debug for S7Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S7Sim")
            .field("addr", &self.addr())
            .field("run", &self.shared.run.load(Ordering::SeqCst))
            .field("faults", &self.faults)
            .finish()
    }
}

/// Builds an [`S7Sim`]; from [`S7Sim::builder`]. Settings are checked by
/// [`start`](S7SimBuilder::start).
///
/// ```
/// use edgepool::s7::{Area, Client, Config};
/// let plc = edgepool::sim::s7::S7Sim::builder()
///     .db(1, 16)
///     .order_code("6ES7 516-3AN01-0AB0")
///     .firmware(2, 9, 4)
///     .pdu_size(960)
///     .start()?;
/// let mut client = Client::connect(&Config::new(plc.addr().to_string()).pdu_size(960))?;
/// assert_eq!(client.pdu_size(), 960);
/// assert_eq!(client.order_code()?.to_string(), "6ES7 516-3AN01-0AB0 V2.9.4");
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct S7SimBuilder {
    dbs: Option<BTreeMap<u16, usize>>,
    inputs: usize,
    outputs: usize,
    merkers: usize,
    order_code: String,
    module_name: String,
    firmware: (u8, u8, u8),
    pdu_size: u16,
    rack_slot: Option<(u16, u16)>,
    invalid: Option<String>,
}

impl Default for S7SimBuilder {
    fn default() -> Self {
        S7SimBuilder {
            dbs: None,
            inputs: DEFAULT_AREA_SIZE,
            outputs: DEFAULT_AREA_SIZE,
            merkers: DEFAULT_AREA_SIZE,
            order_code: DEFAULT_ORDER_CODE.into(),
            module_name: DEFAULT_MODULE_NAME.into(),
            firmware: DEFAULT_FIRMWARE,
            pdu_size: DEFAULT_PDU,
            rack_slot: None,
            invalid: None,
        }
    }
}

impl S7SimBuilder {
    /// Adds data block `number` (1–65535) of `size` bytes (up to 2 MiB, all
    /// zero), or changes its size. The first call replaces the defaults:
    /// without any, the simulator has DB1 and DB2 of 1024 bytes each.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// let plc = edgepool::sim::s7::S7Sim::builder().db(5, 8).start()?;
    /// assert!(plc.read(Area::Db, 5, 0, 8).is_ok());
    /// assert!(plc.read(Area::Db, 1, 0, 1).is_err()); // the defaults are gone
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn db(mut self, number: u16, size: usize) -> Self {
        self.dbs
            .get_or_insert_with(BTreeMap::new)
            .insert(number, size);
        self
    }

    /// Sets the size in bytes (up to 2 MiB) of [`Area::Inputs`],
    /// [`Area::Outputs`] or [`Area::Merkers`]. Defaults to 256 bytes each.
    /// Other areas are an error at [`start`](S7SimBuilder::start): DBs are
    /// set with [`db`](S7SimBuilder::db), and the simulator has no timers
    /// or counters.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// let plc = edgepool::sim::s7::S7Sim::builder().area_size(Area::Merkers, 2048).start()?;
    /// assert!(plc.read(Area::Merkers, 0, 2047, 1).is_ok());
    /// assert!(edgepool::sim::s7::S7Sim::builder().area_size(Area::Timers, 8).start().is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn area_size(mut self, area: Area, size: usize) -> Self {
        match area {
            Area::Inputs => self.inputs = size,
            Area::Outputs => self.outputs = size,
            Area::Merkers => self.merkers = size,
            other => {
                self.invalid.get_or_insert_with(|| {
                    format!(
                        "S7 simulator: area_size() sets inputs, outputs or merkers, not {other:?}"
                    )
                });
            }
        }
        self
    }

    /// The order code (MLFB) in SZL 0x0011: up to 20 ASCII characters.
    /// Defaults to `6ES7 315-2EH14-0AB0` (a CPU 315-2 PN/DP).
    ///
    /// ```
    /// use edgepool::s7::{Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::builder().order_code("6ES7 214-1AG40-0XB0").start()?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
    /// assert_eq!(client.order_code()?.code, "6ES7 214-1AG40-0XB0");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn order_code(mut self, code: &str) -> Self {
        self.order_code = code.into();
        self
    }

    /// The firmware version in SZL 0x0011. Defaults to V3.2.6.
    ///
    /// ```
    /// use edgepool::s7::{Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::builder().firmware(4, 5, 0).start()?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
    /// assert_eq!(client.order_code()?.firmware, Some((4, 5, 0)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn firmware(mut self, major: u8, minor: u8, patch: u8) -> Self {
        self.firmware = (major, minor, patch);
        self
    }

    /// The module name and module type name in SZL 0x001C (what Snap7's
    /// `get_cpu_info` shows): up to 24 ASCII characters. Defaults to
    /// `CPU 315-2 PN/DP`.
    ///
    /// ```
    /// use edgepool::s7::{Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::builder().module_name("CPU 1516-3 PN/DP").start()?;
    /// let mut client = Client::connect(&Config::new(plc.addr().to_string()))?;
    /// let szl = client.read_szl(0x011c, 0x0002)?; // index 2: module name
    /// assert!(szl.data[2..].starts_with(b"CPU 1516-3 PN/DP"));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn module_name(mut self, name: &str) -> Self {
        self.module_name = name.into();
        self
    }

    /// The largest PDU size granted at setup communication (128–960 bytes);
    /// a client asking for less gets what it asked for. Defaults to 480,
    /// like the Snap7 server and what edgepool's client asks for by default
    /// (a real S7-300 grants 240: use `pdu_size(240)` to see how requests
    /// split there).
    ///
    /// ```
    /// use edgepool::s7::{Client, Config};
    /// let plc = edgepool::sim::s7::S7Sim::builder().pdu_size(240).start()?;
    /// let client = Client::connect(&Config::new(plc.addr().to_string()))?; // asks for 480
    /// assert_eq!(client.pdu_size(), 240);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn pdu_size(mut self, bytes: u16) -> Self {
        self.pdu_size = bytes;
        self
    }

    /// Accepts only connections to this rack (0–7) and slot (0–31), with
    /// any connection type (PG, OP, basic); other called TSAPs are refused
    /// with a disconnect request. Defaults to accepting any.
    ///
    /// ```
    /// use edgepool::s7::{Client, Config, S7Error};
    /// use edgepool::Error;
    /// let plc = edgepool::sim::s7::S7Sim::builder().rack_slot(0, 2).start()?;
    /// let config = Config::new(plc.addr().to_string());
    /// assert!(Client::connect(&config.clone().slot(2)).is_ok());
    /// assert!(matches!(
    ///     Client::connect(&config.slot(1)),
    ///     Err(Error::S7(S7Error::ConnectionRefused { .. }))
    /// ));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn rack_slot(mut self, rack: u16, slot: u16) -> Self {
        self.rack_slot = Some((rack, slot));
        self
    }

    /// Checks the settings ([`Error::Config`] names the first bad one) and
    /// starts the simulator on a free loopback port.
    ///
    /// ```
    /// let plc = edgepool::sim::s7::S7Sim::builder().start()?;
    /// assert!(edgepool::sim::s7::S7Sim::builder().pdu_size(20).start().is_err());
    /// assert!(edgepool::sim::s7::S7Sim::builder().db(0, 10).start().is_err()); // no DB0
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start(self) -> Result<S7Sim> {
        let shared = Arc::new(self.into_shared()?);
        let faults = Faults::default();
        let handler: ConnHandler = {
            let shared = Arc::clone(&shared);
            Arc::new(move |stream: TcpStream, faults: &Faults| serve(stream, faults, &shared))
        };
        let server = TcpServer::start(faults.clone(), handler)?;
        Ok(S7Sim {
            shared,
            faults,
            server,
        })
    }

    fn into_shared(self) -> Result<Shared> {
        let bad = |msg: String| Err(Error::Config(format!("S7 simulator: {msg}")));
        if let Some(msg) = self.invalid {
            return Err(Error::Config(msg));
        }
        if !(MIN_PDU..=MAX_PDU).contains(&self.pdu_size) {
            return bad(format!(
                "pdu_size must be {MIN_PDU} to {MAX_PDU}, not {}",
                self.pdu_size
            ));
        }
        if self.order_code.len() > 20 || !self.order_code.is_ascii() {
            return bad(format!(
                "the order code must be up to 20 ASCII characters, not {:?}",
                self.order_code
            ));
        }
        if self.module_name.len() > 24 || !self.module_name.is_ascii() {
            return bad(format!(
                "the module name must be up to 24 ASCII characters, not {:?}",
                self.module_name
            ));
        }
        let tsap = match self.rack_slot {
            None => None,
            Some((rack @ 0..=7, slot @ 0..=31)) => u8::try_from(rack * 0x20 + slot).ok(),
            Some((rack, slot)) => {
                return bad(format!(
                    "rack must be 0 to 7 and slot 0 to 31, not {rack}/{slot}"
                ))
            }
        };
        let dbs = self
            .dbs
            .unwrap_or_else(|| BTreeMap::from([(1, DEFAULT_DB_SIZE), (2, DEFAULT_DB_SIZE)]));
        let mut memory = Memory::default();
        for (number, size) in dbs {
            if number == 0 {
                return bad("DB numbers start at 1".into());
            }
            if size > MAX_AREA {
                return bad(format!("DB{number}: {size} bytes is over 2 MiB"));
            }
            memory.dbs.insert(number, vec![0; size]);
        }
        for (name, size, buf) in [
            ("inputs", self.inputs, &mut memory.inputs),
            ("outputs", self.outputs, &mut memory.outputs),
            ("merkers", self.merkers, &mut memory.merkers),
        ] {
            if size > MAX_AREA {
                return bad(format!("{name}: {size} bytes is over 2 MiB"));
            }
            *buf = vec![0; size];
        }
        Ok(Shared {
            memory: Mutex::new(memory),
            run: AtomicBool::new(true),
            requests: AtomicU64::new(0),
            identity: Identity {
                order_code: self.order_code,
                module_name: self.module_name,
                firmware: self.firmware,
            },
            max_pdu: self.pdu_size,
            tsap,
        })
    }
}

// ---- state shared by the connections ------------------------------------

struct Shared {
    memory: Mutex<Memory>,
    run: AtomicBool,
    requests: AtomicU64,
    identity: Identity,
    max_pdu: u16,
    /// The rack/slot byte a called TSAP must end in; `None`: any.
    tsap: Option<u8>,
}

struct Identity {
    order_code: String,
    module_name: String,
    firmware: (u8, u8, u8),
}

#[derive(Default)]
struct Memory {
    dbs: BTreeMap<u16, Vec<u8>>,
    inputs: Vec<u8>,
    outputs: Vec<u8>,
    merkers: Vec<u8>,
}

impl Memory {
    /// The area with wire code `area` (and DB number `db`), if it exists.
    fn get(&self, area: u8, db: u16) -> Option<&Vec<u8>> {
        match area {
            AREA_INPUTS => Some(&self.inputs),
            AREA_OUTPUTS => Some(&self.outputs),
            AREA_MERKERS => Some(&self.merkers),
            AREA_DB => self.dbs.get(&db),
            _ => None,
        }
    }

    fn get_mut(&mut self, area: u8, db: u16) -> Option<&mut Vec<u8>> {
        match area {
            AREA_INPUTS => Some(&mut self.inputs),
            AREA_OUTPUTS => Some(&mut self.outputs),
            AREA_MERKERS => Some(&mut self.merkers),
            AREA_DB => self.dbs.get_mut(&db),
            _ => None,
        }
    }
}

fn area_name(area: Area, db: u16) -> String {
    match area {
        Area::Db => format!("DB{db}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn missing(area: Area, db: u16) -> Error {
    Error::Config(format!("the S7 simulator has no {}", area_name(area, db)))
}

fn span(
    area: Area,
    db: u16,
    start: usize,
    len: usize,
    size: usize,
) -> Result<std::ops::Range<usize>> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(Error::Config(format!(
            "S7 simulator: {len} bytes from byte {start} run past the end of {} ({size} bytes)",
            area_name(area, db)
        ))),
    }
}

// ---- one connection -----------------------------------------------------

/// Runs one connection until the client closes it, the server shuts it
/// down, or the client sends something that breaks ISO-on-TCP.
fn serve(mut stream: TcpStream, faults: &Faults, shared: &Shared) {
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
struct Conn<'a> {
    session: Session<'a>,
    msg: Reassembly,
    out: Vec<u8>,
}

impl<'a> Conn<'a> {
    fn new(shared: &'a Shared) -> Self {
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
    fn feed(
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

enum Outcome {
    /// Send what was written to `out`.
    Reply,
    /// Send it, then close (a refused connection).
    ReplyAndClose,
    /// Close without answering.
    Close(&'static str),
}

/// The protocol state of one connection, sans-IO: complete requests in,
/// whole TPKT frames out.
struct Session<'a> {
    shared: &'a Shared,
    connected: bool,
    /// The negotiated PDU size; 0 before setup communication.
    pdu: u16,
    /// The rest of a multi-part SZL answer and its sequence number.
    szl_rest: Option<(u8, Vec<u8>)>,
    szl_seq: u8,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared) -> Self {
        Session {
            shared,
            connected: false,
            pdu: 0,
            szl_rest: None,
            szl_seq: 0,
        }
    }

    fn connect(
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
    fn message(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Outcome {
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
            .max(MIN_GRANT);
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
                let area = memory.get(spec.area, spec.db);
                let found = spec.locate(area.map(Vec::len)).and_then(|loc| {
                    area.and_then(|a| a.get(loc.start..loc.start + loc.len))
                        .map(|bytes| (loc, bytes))
                        .ok_or(RC_OUT_OF_RANGE)
                });
                let (loc, bytes) = match found {
                    Ok(found) => found,
                    Err(rc) => {
                        data.extend_from_slice(&[rc, 0, 0, 0]);
                        continue;
                    }
                };
                let bits = u16::try_from(bytes.len() * 8).unwrap_or(u16::MAX);
                let bytes_len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
                match loc.bit {
                    Some(bit) => {
                        data.extend_from_slice(&[RC_OK, 0x03, 0, 1]);
                        data.push(bytes.first().map_or(0, |b| (b >> bit) & 1));
                    }
                    None => {
                        let (ts, len) = match spec.ts {
                            TS_INT | TS_DINT => (0x05, bits),
                            TS_REAL => (0x07, bytes_len),
                            _ => (0x04, bits),
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
            let bytes = match ts {
                // bit, byte/word/dword, int: the length counts bits
                0x03..=0x05 => len.div_ceil(8),
                // dint, real, octet string: bytes
                0x06 | 0x07 | 0x09 => len,
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
                let area = memory.get_mut(spec.area, spec.db);
                let code = match spec.locate(area.as_ref().map(|a| a.len())) {
                    Err(rc) => rc,
                    Ok(loc) if loc.len != value.len() => RC_TYPE_INCONSISTENT,
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
                        None => RC_OUT_OF_RANGE,
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
        pdu::encode_userdata_header(out, pdu_ref, 12, 4 + n);
        out.extend_from_slice(&[
            0x00,
            0x01,
            0x12,
            0x08,
            0x12,
            0x80 | GROUP_SZL,
            SUB_READ_SZL,
            seq,
            0x00,
            u8::from(more),
            0,
            0,
            RC_OK,
            0x09,
        ]);
        out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&bytes);
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
fn userdata_error(out: &mut Vec<u8>, pdu_ref: u16, (group, sub, seq): (u8, u8, u8), code: u16) {
    let [e0, e1] = code.to_be_bytes();
    pdu::encode_userdata_header(out, pdu_ref, 12, 4);
    out.extend_from_slice(&[
        0x00,
        0x01,
        0x12,
        0x08,
        0x12,
        0x80 | group,
        sub,
        seq,
        0,
        0,
        e0,
        e1,
        RC_NO_OBJECT,
        0,
        0,
        0,
    ]);
}

// ---- read/write items ---------------------------------------------------

/// One S7ANY item specification of a read or write request.
#[derive(Debug, Clone, Copy)]
struct Spec {
    ts: u8,
    count: u16,
    db: u16,
    area: u8,
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
                area,
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
    fn locate(&self, size: Option<usize>) -> std::result::Result<Loc, u8> {
        let size = size.ok_or(RC_NO_OBJECT)?;
        let element = self.element().ok_or(RC_TYPE_NOT_SUPPORTED)?;
        let start = usize::try_from(self.addr >> 3).map_err(|_| RC_OUT_OF_RANGE)?;
        let (len, bit) = if self.ts == TS_BIT {
            if self.count != 1 {
                return Err(RC_OUT_OF_RANGE);
            }
            (1, u8::try_from(self.addr & 7).ok())
        } else {
            if self.addr & 7 != 0 || self.count == 0 {
                return Err(RC_OUT_OF_RANGE);
            }
            (element * usize::from(self.count), None)
        };
        match start.checked_add(len) {
            Some(end) if end <= size => Ok(Loc { start, len, bit }),
            _ => Err(RC_OUT_OF_RANGE),
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
fn s7_time(at: SystemTime) -> [u8; 8] {
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
fn civil_from_days(days: u64) -> (u64, u64, u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s7::pdu::Item;
    use crate::s7::ReturnCode;
    use std::time::Instant;

    fn shared() -> Shared {
        S7SimBuilder::default()
            .db(1, 16)
            .db(3, 600)
            .pdu_size(240)
            .into_shared()
            .unwrap()
    }

    /// A connected session after setup (PDU `pdu`).
    fn session(shared: &Shared, pdu: u16) -> Session<'_> {
        let mut s = Session::new(shared);
        let mut out = Vec::new();
        assert!(matches!(
            s.connect(1, Some(0x0100), Some(0x0101), &mut out),
            Outcome::Reply
        ));
        out.clear();
        pdu::encode_setup(0, pdu, &mut out);
        let answer = exchange(&mut s, &out);
        assert_eq!(
            pdu::decode_setup(&pdu::parse(&answer).unwrap()).unwrap(),
            240.min(pdu).max(64)
        );
        s
    }

    /// Sends one S7 message; returns the S7 answer (frame header checked
    /// and stripped).
    fn exchange(s: &mut Session<'_>, request: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(matches!(s.message(request, &mut out), Outcome::Reply));
        let (tpdu, used) = iso::decode(&out, MAX_FRAME).unwrap().unwrap();
        assert_eq!(used, out.len());
        match tpdu {
            Tpdu::Data { eot: true, payload } => payload.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // 2024-03-05 14:07:09.123 UTC, a Tuesday (3).
        let t = UNIX_EPOCH + Duration::from_millis(1_709_647_629_123);
        assert_eq!(s7_time(t), [0x24, 0x03, 0x05, 0x14, 0x07, 0x09, 0x12, 0x33]);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn answers_match_snap7_captures() {
        // The golden vectors of src/s7/pdu.rs: python-snap7's client
        // against the C++ Snap7 server (S7 payloads only).
        let shared = S7SimBuilder::default().into_shared().unwrap();
        let mut s = Session::new(&shared);
        s.connect(1, Some(0x0100), Some(0x0101), &mut Vec::new());
        let setup = exchange(&mut s, &hex("32010000000000080000f0000001000101e0"));
        assert_eq!(setup, hex("320300000000000800000000f0000001000101e0"));
        let db1 = hex("1f262d343b424950575e656c737a8188");
        lock(&shared.memory).dbs.insert(1, db1.clone());
        let read = exchange(
            &mut s,
            &hex("320100000100000e00000401120a10020010000184000000"),
        );
        let mut want = hex("3203000001000002001400000401ff040080");
        want.extend_from_slice(&db1);
        assert_eq!(read, want);
        lock(&shared.memory).dbs.insert(3, vec![0; 16]);
        let write = exchange(
            &mut s,
            &hex("320100000200000e00070501120a1002000300038400002000040018010203"),
        );
        assert_eq!(write, hex("3203000002000002000100000501ff"));
        assert_eq!(lock(&shared.memory).dbs[&3][4..7], [1, 2, 3]);
    }

    #[test]
    fn reads_writes_and_item_codes() {
        let shared = shared();
        let mut s = session(&shared, 480);
        let mut req = Vec::new();
        pdu::encode_write(
            1,
            &[
                (Item::db(1, 2, 3), &[7, 8, 9][..]),
                (Item::bit(Area::Db, 1, 0, 5), &[1][..]),
                (Item::db(1, 15, 2), &[1, 2][..]),   // past the end
                (Item::db(9, 0, 1), &[1][..]),       // no DB9
                (Item::db(1, 0, 2), &[1, 2, 3][..]), // wrong length
            ],
            &mut req,
        );
        let a = exchange(&mut s, &req);
        use ReturnCode::*;
        assert_eq!(
            pdu::decode_write(&pdu::parse(&a).unwrap(), 5).unwrap(),
            [
                Ok(()),
                Ok(()),
                Err(AddressOutOfRange),
                Err(ObjectDoesNotExist),
                Err(DataTypeInconsistent)
            ]
        );
        req.clear();
        let items = [
            Item::db(1, 0, 5),
            Item::bit(Area::Db, 1, 0, 5),
            Item::db(1, 16, 1),
            Item::bytes(Area::Timers, 0, 0, 1),
            Item::bytes(Area::Merkers, 0, 255, 1),
        ];
        pdu::encode_read(2, &items, &mut req);
        let a = exchange(&mut s, &req);
        let r = pdu::decode_read(&pdu::parse(&a).unwrap(), &items).unwrap();
        assert_eq!(
            r,
            [
                Ok(&[0b0010_0000, 0, 7, 8, 9][..]),
                Ok(&[1][..]),
                Err(AddressOutOfRange),
                Err(ObjectDoesNotExist),
                Ok(&[0][..]),
            ]
        );
    }

    #[test]
    fn pdu_limits_and_unknown_functions() {
        let shared = shared();
        let mut s = session(&shared, 480); // granted 240
        let mut req = Vec::new();
        pdu::encode_read(3, &[Item::db(3, 0, 300)], &mut req);
        let a = exchange(&mut s, &req);
        let m = pdu::parse(&a).unwrap();
        assert_eq!((m.rosctr, m.pdu_ref, m.error), (2, 3, (0x85, 0x00)));
        // Exactly fits: 240 - 12 - 2 - 4 = 222 bytes.
        req.clear();
        pdu::encode_read(4, &[Item::db(3, 0, 222)], &mut req);
        let a = exchange(&mut s, &req);
        assert_eq!(a.len(), 240);
        // A write request over the PDU.
        req.clear();
        pdu::encode_write(5, &[(Item::db(3, 0, 250), &[0; 250][..])], &mut req);
        let m_err = pdu::parse(&exchange(&mut s, &req)).unwrap().error;
        assert_eq!(m_err, (0x85, 0x00));
        // Unknown function 0x28 (PI service).
        let pi = [0x32, 0x01, 0, 0, 0, 6, 0, 1, 0, 0, 0x28];
        let m_err = pdu::parse(&exchange(&mut s, &pi)).unwrap().error;
        assert_eq!(m_err, (0x81, 0x04));
    }

    #[test]
    fn jobs_before_setup_are_refused() {
        let shared = shared();
        let mut s = Session::new(&shared);
        let mut out = Vec::new();
        let mut req = Vec::new();
        pdu::encode_read(1, &[Item::db(1, 0, 1)], &mut req);
        // Not even connected: close.
        assert!(matches!(s.message(&req, &mut out), Outcome::Close(_)));
        s.connect(1, None, None, &mut out);
        let m_err = pdu::parse(&exchange(&mut s, &req)).unwrap().error;
        assert_eq!(m_err, (0x81, 0x04));
    }

    #[test]
    fn szl_lists_and_parts() {
        let shared = shared();
        let mut s = session(&shared, 64);
        let mut req = Vec::new();
        pdu::encode_szl(1, 0x001c, 0, &mut req);
        let a = exchange(&mut s, &req);
        let part = pdu::decode_szl(&pdu::parse(&a).unwrap(), true, 0x001c, 0).unwrap();
        assert!(!part.last);
        assert_eq!(part.header.unwrap().record_count, 6);
        let mut data = part.data.to_vec();
        let mut seq = part.seq;
        assert_ne!(seq, 0);
        for r in 2.. {
            req.clear();
            pdu::encode_szl_next(r, seq, &mut req);
            let a = exchange(&mut s, &req);
            assert!(a.len() <= 64);
            let part = pdu::decode_szl(&pdu::parse(&a).unwrap(), false, 0x001c, 0).unwrap();
            data.extend_from_slice(part.data);
            seq = part.seq;
            if part.last {
                break;
            }
        }
        assert_eq!(data.len(), 6 * 34);
        assert_eq!(&data[36..51], b"CPU 315-2 PN/DP");
        // A stray follow-up.
        req.clear();
        pdu::encode_szl_next(9, seq, &mut req);
        let a = exchange(&mut s, &req);
        assert!(pdu::decode_szl(&pdu::parse(&a).unwrap(), false, 0x001c, 0).is_err());
        // Unknown ID and index.
        for (id, index, code) in [
            (0x0999, 0, 0xd401),
            (0x0111, 9, 0xd402),
            (0x0024, 0, 0xd401),
        ] {
            req.clear();
            pdu::encode_szl(10, id, index, &mut req);
            let a = exchange(&mut s, &req);
            match pdu::decode_szl(&pdu::parse(&a).unwrap(), true, id, index) {
                Err(Error::S7(crate::s7::S7Error::Szl {
                    error, code: rc, ..
                })) => {
                    assert_eq!((error, rc), (code, ReturnCode::ObjectDoesNotExist))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// A data TPDU carrying `payload`, the last of its message or not.
    fn dt(payload: &[u8], eot: bool) -> Vec<u8> {
        let len = u16::try_from(7 + payload.len()).unwrap();
        let mut f = vec![3, 0];
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[2, 0xf0, if eot { 0x80 } else { 0 }]);
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `input` to a fresh connection in pieces of the given sizes
    /// (cycled), as reads would deliver it; returns the answers.
    fn feed_in_pieces(shared: &Shared, input: &[u8], pieces: &[usize]) -> Vec<u8> {
        let mut conn = Conn::new(shared);
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let mut rest = input;
        for &k in pieces.iter().cycle() {
            let (piece, tail) = rest.split_at(k.clamp(1, rest.len().max(1)).min(rest.len()));
            rest = tail;
            buf.extend_from_slice(piece);
            let mut send = |frame: &[u8]| {
                out.extend_from_slice(frame);
                Ok(())
            };
            match conn.feed(&buf, &Faults::default(), &mut send) {
                Ok(Some(used)) => drop(buf.drain(..used)),
                Ok(None) | Err(_) => return out,
            }
            if rest.is_empty() {
                return out;
            }
        }
        unreachable!()
    }

    /// A whole client session (connect, setup, a read split over two data
    /// TPDUs, a write, a multi-part SZL read and its follow-up), corrupted
    /// at random from a fixed seed, through the code a connection runs:
    /// never a panic, every input answered quickly with whole frames, and
    /// reads of any size give the same answers.
    #[test]
    fn random_sessions_never_panic() {
        let mut session = Vec::new();
        iso::encode_connect_request(1, 0x0100, 0x0102, &mut session);
        let mut req = Vec::new();
        pdu::encode_setup(1, 64, &mut req);
        iso::encode_data(&req, &mut session);
        req.clear();
        pdu::encode_read(
            2,
            &[Item::db(1, 0, 4), Item::bit(Area::Merkers, 0, 3, 1)],
            &mut req,
        );
        session.extend(dt(&req[..9], false));
        session.extend(dt(&req[9..], true));
        req.clear();
        pdu::encode_write(3, &[(Item::db(1, 1, 3), &[1, 2, 3][..])], &mut req);
        iso::encode_data(&req, &mut session);
        req.clear();
        pdu::encode_szl(4, 0x001c, 0, &mut req);
        iso::encode_data(&req, &mut session);
        req.clear();
        pdu::encode_szl_next(5, 1, &mut req);
        iso::encode_data(&req, &mut session);
        let frames = |mut out: &[u8]| {
            let mut n = 0;
            while !out.is_empty() {
                let (_, used) = iso::decode(out, MAX_FRAME).unwrap().unwrap();
                out = &out[used..];
                n += 1;
            }
            n
        };
        assert_eq!(frames(&fuzz_session(&session)), 6);

        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let mut slowest = Duration::ZERO;
        for _ in 0..20_000 {
            let mut input = session.clone();
            for _ in 0..1 + next(4) {
                let at = next(input.len() + 1);
                let byte = u8::try_from(next(256)).unwrap();
                match next(6) {
                    0 if at < input.len() => input[at] = byte,
                    1 if at < input.len() => input[at] ^= 1 << next(8),
                    2 => input.insert(at, byte),
                    3 if at < input.len() => drop(input.remove(at)),
                    4 => {
                        // Repeat a stretch (a frame sent twice, a splice).
                        let len = next(40);
                        let from = next(input.len().max(1));
                        let chunk = input
                            .get(from..(from + len).min(input.len()))
                            .unwrap_or(&[])
                            .to_vec();
                        input.splice(at..at, chunk);
                    }
                    _ => input.truncate(at),
                }
            }
            let t = Instant::now();
            let whole = fuzz_session(&input);
            slowest = slowest.max(t.elapsed());
            frames(&whole);
            // SZL 0x0424 carries the time: two runs may differ.
            if !input.windows(2).any(|w| w == [0x04, 0x24]) {
                let pieces = [1 + next(9), 1 + next(600)];
                let shared = S7SimBuilder::default().into_shared().unwrap();
                let split = feed_in_pieces(&shared, &input, &pieces);
                assert_eq!(split, whole, "{input:02x?} in pieces {pieces:?}");
            }
        }
        assert!(
            slowest < Duration::from_secs(2),
            "{slowest:?} for one input"
        );
    }

    #[test]
    fn hostile_messages_never_panic() {
        let shared = shared();
        let mut requests = Vec::new();
        let mut req = Vec::new();
        pdu::encode_read(
            1,
            &[Item::db(1, 0, 4), Item::bit(Area::Merkers, 0, 3, 1)],
            &mut req,
        );
        requests.push(req.clone());
        req.clear();
        pdu::encode_write(
            2,
            &[
                (Item::db(1, 1, 3), &[1, 2, 3][..]),
                (Item::db(3, 0, 2), &[4, 5][..]),
            ],
            &mut req,
        );
        requests.push(req.clone());
        req.clear();
        pdu::encode_szl(3, 0x0011, 0, &mut req);
        requests.push(req.clone());
        req.clear();
        pdu::encode_setup(4, 480, &mut req);
        requests.push(req.clone());
        let mut s = session(&shared, 240);
        let mut out = Vec::new();
        for request in &requests {
            // Every truncation, with the header lengths kept or fixed up,
            // and every single-byte corruption.
            for cut in 0..request.len() {
                let mut r = request[..cut].to_vec();
                out.clear();
                s.message(&r, &mut out);
                if r.len() >= 10 {
                    let body = r.len() - 10;
                    r[6..8].copy_from_slice(&u16::try_from(body).unwrap().to_be_bytes());
                    r[8..10].copy_from_slice(&[0, 0]);
                    s.message(&r, &mut out);
                }
            }
            for i in 0..request.len() {
                for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                    let mut r = request.clone();
                    r[i] = v;
                    s.message(&r, &mut out);
                }
            }
        }
    }
}
