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
//!     .read_timeout(Duration::from_secs(1));
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

mod session;
#[cfg(test)]
mod tests;

use super::{lock, ConnHandler, Faults, TcpServer};
use crate::s7::pdu::Area;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use session::fuzz_session;
use session::serve;

/// Largest TPKT frame and largest reassembled message accepted.
const MAX_FRAME: usize = 4096;
/// Bounds on the configured PDU size (the sizes real CPUs grant: 240 on an
/// S7-300 or S7-1200, 480 on an S7-400, 960 on an S7-1500).
const MIN_PDU: u16 = 128;
const MAX_PDU: u16 = 960;
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
        let buf = memory.get_mut(area, db).ok_or_else(|| missing(area, db))?;
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
        let buf = memory.get(area, db).ok_or_else(|| missing(area, db))?;
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
    /// The area (and DB number `db`), if it exists: timers and counters
    /// do not.
    fn get(&self, area: Area, db: u16) -> Option<&Vec<u8>> {
        match area {
            Area::Inputs => Some(&self.inputs),
            Area::Outputs => Some(&self.outputs),
            Area::Merkers => Some(&self.merkers),
            Area::Db => self.dbs.get(&db),
            _ => None,
        }
    }

    fn get_mut(&mut self, area: Area, db: u16) -> Option<&mut Vec<u8>> {
        match area {
            Area::Inputs => Some(&mut self.inputs),
            Area::Outputs => Some(&mut self.outputs),
            Area::Merkers => Some(&mut self.merkers),
            Area::Db => self.dbs.get_mut(&db),
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
