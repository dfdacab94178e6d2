//! A small SNMP agent on a free UDP port of 127.0.0.1 (features `sim` and
//! `snmp`): v1, v2c and v3 (USM), GET, GETNEXT, GETBULK and SET over an
//! in-memory table, for demos and tests of SNMP pools.
//!
//! [`SnmpSim::start`] gives the defaults:
//!
//! | access | name | rights |
//! |---|---|---|
//! | community | `public` | read-only |
//! | community | `private` | read-write |
//! | v3 user, authPriv | `simuser`: SHA (SHA-1) `simauthpass`, AES (AES-128) `simprivpass` | read-write |
//! | v3 user, noAuthNoPriv | `simnoauth` | read-write |
//!
//! The table holds the MIB-2 system group (sysUpTime.0 counts from the
//! start; sysContact.0, sysName.0 and sysLocation.0 are writable) and an
//! ifTable of two interfaces whose octet counters grow with time. The engine
//! ID is [`DEFAULT_ENGINE_ID`], the engine boots 1.
//!
//! The agent answers one datagram at a time on one thread, and is not a
//! conformance reference (no VACM, no notifications, no sub-agents).
//!
//! ```
//! use std::time::Duration;
//! use edgepool::sim::snmp::SnmpSim;
//! use edgepool::{snmp, Pool};
//!
//! let agent = SnmpSim::start()?;
//! let config = snmp::Config::new(agent.addr().to_string())
//!     .timeout(Duration::from_millis(300))
//!     .retries(0);
//! let pool = Pool::builder().build(snmp::Manager::new(config))?;
//! let descr = pool.execute(|c| c.get(&[snmp::oid::SYS_DESCR]))?;
//! assert_eq!(descr[0].value.as_bytes(), Some(&b"edgepool simulated agent"[..]));
//!
//! agent.faults().set_silent(true); // the agent stops answering
//! assert!(pool.execute(|c| c.get(&[snmp::oid::SYS_UPTIME])).is_err());
//! agent.faults().set_silent(false);
//! assert_eq!(pool.execute(|c| c.walk(&snmp::oid::SYSTEM))?.len(), 7);
//! # Ok::<(), edgepool::Error>(())
//! ```

use super::{lock, Faults};
use crate::snmp::ber::{self, tag, Reader};
use crate::snmp::usm::{LocalKeys, MacKey, MasterKeys, ENGINE_ID_LEN};
use crate::snmp::v3::{self, Layout, MessageV3, ScopedData, ScopedPdu, UsmParams};
use crate::snmp::{
    oid, AuthProtocol, Body, Message, Oid, Pdu, PduKind, PrivProtocol, SecurityLevel, Usm, Value,
    VarBind, Version,
};
use crate::{Error, Result};
use portable_atomic::AtomicU64;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The default snmpEngineID: net-snmp's enterprise (8072), format 4 (text),
/// `edgepool-sim`.
///
/// ```
/// let agent = edgepool::sim::snmp::SnmpSim::start()?;
/// assert_eq!(agent.engine_id(), edgepool::sim::snmp::DEFAULT_ENGINE_ID);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub const DEFAULT_ENGINE_ID: &[u8] = b"\x80\x00\x1f\x88\x04edgepool-sim";

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// The msgMaxSize the agent announces (the largest UDP payload over IPv4).
const MAX_MSG_SIZE: i32 = 65_507;
/// Replies are at most this big by default (an Ethernet frame's UDP payload).
const DEFAULT_MAX_REPLY: usize = 1472;
/// The smallest message every SNMP engine must accept (RFC 3417).
const MIN_REPLY: usize = 484;
/// RFC 3414 §3.2 step 7a: ±150 s.
const TIME_WINDOW: u32 = 150;
/// snmpEngineBoots and snmpEngineTime stop at 2^31 - 1.
const MAX_INT: u32 = i32::MAX as u32;
/// How often the receive loop looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// usmStats (RFC 3414 §5).
const USM_STATS: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];
/// snmpUnknownContexts.0 (RFC 3412).
const UNKNOWN_CONTEXTS: [u32; 10] = [1, 3, 6, 1, 6, 3, 12, 1, 5, 0];

/// usmStats counters, by their last arc.
const UNSUPPORTED_SEC_LEVELS: u32 = 1;
const NOT_IN_TIME_WINDOWS: u32 = 2;
const UNKNOWN_USER_NAMES: u32 = 3;
const UNKNOWN_ENGINE_IDS: u32 = 4;
const WRONG_DIGESTS: u32 = 5;
const DECRYPTION_ERRORS: u32 = 6;

/// error-status codes (RFC 3416).
const TOO_BIG: i32 = 1;
const NO_SUCH_NAME: i32 = 2;
const NO_ACCESS: i32 = 6;
const WRONG_TYPE: i32 = 7;
const NO_CREATION: i32 = 11;
const NOT_WRITABLE: i32 = 17;

/// A running SNMP agent simulator. Dropping it stops the agent.
///
/// ```
/// use edgepool::sim::snmp::SnmpSim;
/// use edgepool::snmp::{oid, Client, Config};
///
/// let agent = SnmpSim::start()?;
/// let mut client = Client::connect(&Config::new(agent.addr().to_string()))?;
/// println!("{}", client.get(&[oid::SYS_UPTIME])?[0]);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct SnmpSim {
    addr: SocketAddr,
    agent: Arc<Agent>,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Running {
    /// Stops the receive thread (waking it with an empty datagram, so the
    /// port closes at once) and waits for it; its socket closes with it.
    fn halt(self, addr: SocketAddr) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
            let _ = s.send_to(&[], addr);
        }
        let _ = self.thread.join();
    }
}

impl SnmpSim {
    /// Starts an agent with the defaults (see the [module docs](self)) on a
    /// free port of 127.0.0.1. Hashes the v3 users' passwords first (a few
    /// MiB of SHA-1).
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// assert!(agent.addr().ip().is_loopback());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start() -> Result<SnmpSim> {
        SnmpSim::builder().start()
    }

    /// A builder, starting from the defaults.
    ///
    /// ```
    /// use edgepool::sim::snmp::SnmpSim;
    /// use edgepool::snmp::{Oid, Value};
    /// let agent = SnmpSim::builder()
    ///     .community("ops", true)
    ///     .oid(Oid::new(vec![1, 3, 6, 1, 4, 1, 99999, 1, 0]), Value::Integer(42))
    ///     .start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn builder() -> SnmpSimBuilder {
        SnmpSimBuilder::default()
    }

    /// The agent's address (127.0.0.1 and the port it got).
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// let config = edgepool::snmp::Config::new(agent.addr().to_string());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault switches: silence (datagrams are read and dropped) and an
    /// answer delay. [`Faults::drop_connections`] does nothing here (UDP).
    ///
    /// ```
    /// use std::time::Duration;
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// agent.faults().set_delay(Duration::from_millis(50));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn faults(&self) -> &Faults {
        &self.agent.faults
    }

    /// Sets an object's value now, adding the object when the table lacks
    /// it (read-only then; an existing object keeps its writability). A value
    /// set on sysUpTime.0 or an octet counter stops it ticking.
    ///
    /// ```
    /// use edgepool::sim::snmp::SnmpSim;
    /// use edgepool::snmp::{oid, Value};
    /// let agent = SnmpSim::start()?;
    /// agent.set(oid::SYS_LOCATION, Value::OctetString(b"rack 7".to_vec()));
    /// assert_eq!(agent.get(&oid::SYS_LOCATION), Some(Value::OctetString(b"rack 7".to_vec())));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set(&self, oid: Oid, value: Value) {
        lock(&self.agent.table).insert(oid, Object::Fixed(value), None);
    }

    /// An object's current value, `None` when the table lacks it.
    ///
    /// ```
    /// use edgepool::snmp::{oid, Value};
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// assert_eq!(agent.get(&oid::SYS_SERVICES), Some(Value::Integer(72)));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&self, oid: &Oid) -> Option<Value> {
        let elapsed = self.agent.clock().elapsed;
        let table = lock(&self.agent.table);
        table.entries.get(oid).map(|e| e.object.value(elapsed))
    }

    /// Every object and its current value, in OID order: what a full walk
    /// returns.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// let all = agent.snapshot();
    /// assert!(all.windows(2).all(|w| w[0].oid < w[1].oid));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn snapshot(&self) -> Vec<VarBind> {
        let elapsed = self.agent.clock().elapsed;
        let table = lock(&self.agent.table);
        table
            .entries
            .iter()
            .map(|(o, e)| VarBind::new(o.clone(), e.object.value(elapsed)))
            .collect()
    }

    /// Datagrams received so far (answered, silenced or dropped).
    ///
    /// ```
    /// use edgepool::snmp::{oid, Client, Config};
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// Client::connect(&Config::new(agent.addr().to_string()))?.get(&[oid::SYS_NAME])?;
    /// assert_eq!(agent.requests(), 1);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn requests(&self) -> u64 {
        self.agent.requests.load(Ordering::Relaxed)
    }

    /// Datagrams dropped without an answer (not counting silence):
    /// undecodable, an unknown community, a PDU that is not a request, a v3
    /// error with no reportable flag.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::snmp::{oid, Client, Config};
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// let config = Config::new(agent.addr().to_string())
    ///     .community("wrong")
    ///     .timeout(Duration::from_millis(200))
    ///     .retries(0);
    /// assert!(Client::connect(&config)?.get(&[oid::SYS_NAME]).is_err()); // no answer
    /// assert_eq!(agent.dropped(), 1);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.agent.dropped.load(Ordering::Relaxed)
    }

    /// The snmpEngineID.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().engine_id(b"\x80\x00\x1f\x88\x04lab-7".to_vec()).start()?;
    /// assert_eq!(agent.engine_id(), b"\x80\x00\x1f\x88\x04lab-7");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn engine_id(&self) -> &[u8] {
        &self.agent.engine_id
    }

    /// snmpEngineBoots: 1 at the start, one more at each [`restart`](Self::restart).
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// assert_eq!(agent.engine_boots(), 1);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn engine_boots(&self) -> u32 {
        self.agent.clock().boots
    }

    /// Restarts the agent like a rebooting device: closes the port (requests
    /// then get ICMP port-unreachable) for `downtime`, binds the same port
    /// again, restarts sysUpTime and the octet counters at zero and adds one
    /// to snmpEngineBoots. The table's other values are kept.
    ///
    /// ```
    /// use std::time::Duration;
    /// let agent = edgepool::sim::snmp::SnmpSim::start()?;
    /// agent.restart(Duration::from_millis(50))?;
    /// assert_eq!(agent.engine_boots(), 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn restart(&self, downtime: Duration) -> Result<()> {
        let mut running = lock(&self.running);
        if let Some(r) = running.take() {
            r.halt(self.addr);
        }
        std::thread::sleep(downtime);
        {
            let mut clock = lock(&self.agent.clock);
            clock.boots = clock.boots.saturating_add(1).min(MAX_INT);
            clock.started = Instant::now();
        }
        let mut tries = 0;
        let socket = loop {
            match UdpSocket::bind(self.addr) {
                Ok(s) => break s,
                Err(e) if tries < 50 => {
                    tries += 1;
                    log::debug!("sim: rebinding {}: {e}", self.addr);
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(Error::Io(e)),
            }
        };
        *running = Some(spawn(socket, Arc::clone(&self.agent))?);
        Ok(())
    }

    fn stop(&self) {
        if let Some(r) = lock(&self.running).take() {
            r.halt(self.addr);
        }
    }
}

impl Drop for SnmpSim {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for SnmpSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<_> = self
            .agent
            .users
            .values()
            .map(|u| (String::from_utf8_lossy(&u.name).into_owned(), u.level))
            .collect();
        users.sort();
        f.debug_struct("SnmpSim")
            .field("addr", &self.addr)
            .field("engine_id", &Hex(&self.agent.engine_id))
            .field("engine_boots", &self.engine_boots())
            .field("communities", &self.agent.communities.len())
            .field("users", &users)
            .field("faults", &self.agent.faults)
            .field("requests", &self.requests())
            .finish()
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Settings for an [`SnmpSim`], starting from the defaults of
/// [`SnmpSim::start`]. Communities and passwords never show in `Debug`.
///
/// ```
/// use edgepool::sim::snmp::SnmpSim;
/// use edgepool::snmp::{AuthProtocol, PrivProtocol, Usm};
/// let agent = SnmpSim::builder()
///     .clear_access()
///     .community("lab-secret", false)
///     .user(Usm::new("ops").auth(AuthProtocol::Sha256, "ops-auth-pw").privacy(PrivProtocol::Aes128, "ops-priv-pw"))
///     .start()?;
/// assert!(!format!("{agent:?}").contains("lab-secret"));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone)]
pub struct SnmpSimBuilder {
    communities: Vec<(String, bool)>,
    users: Vec<Usm>,
    engine_id: Vec<u8>,
    entries: Vec<(Oid, Value, Option<bool>)>,
    max_reply_size: usize,
}

impl Default for SnmpSimBuilder {
    fn default() -> Self {
        SnmpSimBuilder {
            communities: vec![("public".into(), false), ("private".into(), true)],
            users: vec![
                Usm::new("simuser")
                    .auth(AuthProtocol::Sha1, "simauthpass")
                    .privacy(PrivProtocol::Aes128, "simprivpass"),
                Usm::new("simnoauth"),
            ],
            engine_id: DEFAULT_ENGINE_ID.to_vec(),
            entries: Vec::new(),
            max_reply_size: DEFAULT_MAX_REPLY,
        }
    }
}

impl fmt::Debug for SnmpSimBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnmpSimBuilder")
            .field("communities", &self.communities.len())
            .field("users", &self.users)
            .field("engine_id", &Hex(&self.engine_id))
            .field("entries", &self.entries.len())
            .field("max_reply_size", &self.max_reply_size)
            .finish()
    }
}

impl SnmpSimBuilder {
    /// Adds a community (v1 and v2c), or changes the rights of one: with
    /// `writable`, SET is allowed. Defaults to `public` read-only and
    /// `private` read-write.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().community("public", true).start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn community(mut self, name: impl Into<String>, writable: bool) -> Self {
        let name = name.into();
        self.communities.retain(|(n, _)| *n != name);
        self.communities.push((name, writable));
        self
    }

    /// Adds an SNMPv3 user (every auth and privacy protocol of
    /// [`Usm`] works), or replaces the one of that name. v3 users may read
    /// and write. A user with authentication must use it (like net-snmp's
    /// `rwuser`); a request above the user's level gets a report
    /// (usmStatsUnsupportedSecLevels). Defaults to `simuser` (SHA/AES
    /// authPriv, `simauthpass`/`simprivpass`) and `simnoauth` (noAuthNoPriv).
    ///
    /// ```
    /// use edgepool::snmp::{AuthProtocol, Usm};
    /// let agent = edgepool::sim::snmp::SnmpSim::builder()
    ///     .user(Usm::new("md5user").auth(AuthProtocol::Md5, "md5-password"))
    ///     .start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn user(mut self, user: Usm) -> Self {
        self.users.retain(|u| u.user != user.user);
        self.users.push(user);
        self
    }

    /// Removes every community and user, the defaults included; add your own
    /// after it.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().clear_access().community("only-me", false).start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn clear_access(mut self) -> Self {
        self.communities.clear();
        self.users.clear();
        self
    }

    /// Sets the snmpEngineID (5 to 32 bytes). Defaults to [`DEFAULT_ENGINE_ID`].
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().engine_id(vec![0x80, 0, 0, 0, 4, b'x']).start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn engine_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.engine_id = id.into();
        self
    }

    /// Adds a read-only object, or gives an existing one this fixed value
    /// (keeping its writability).
    ///
    /// ```
    /// use edgepool::snmp::{oid, Value};
    /// let agent = edgepool::sim::snmp::SnmpSim::builder()
    ///     .oid(oid::SYS_DESCR, Value::OctetString(b"PLC gateway".to_vec()))
    ///     .start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn oid(mut self, oid: Oid, value: Value) -> Self {
        self.entries.push((oid, value, None));
        self
    }

    /// Adds an object that SET may change (with a value of the same type),
    /// or makes an existing one writable with this value.
    ///
    /// ```
    /// use edgepool::snmp::{Oid, Value};
    /// let setpoint: Oid = "1.3.6.1.4.1.99999.1.1.0".parse()?;
    /// let agent = edgepool::sim::snmp::SnmpSim::builder()
    ///     .writable_oid(setpoint, Value::Integer(20))
    ///     .start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn writable_oid(mut self, oid: Oid, value: Value) -> Self {
        self.entries.push((oid, value, Some(true)));
        self
    }

    /// The largest reply in bytes (484 to 65,507): a GETBULK reply is cut to
    /// fit, any other reply too big becomes `tooBig`. SNMPv3 requests may ask
    /// for less (msgMaxSize). Defaults to 1472 (one Ethernet frame), like
    /// net-snmp.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().max_reply_size(484).start()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn max_reply_size(mut self, bytes: usize) -> Self {
        self.max_reply_size = bytes;
        self
    }

    /// Checks the settings, localizes the v3 users' keys to the engine ID,
    /// binds a free port of 127.0.0.1 and starts answering.
    ///
    /// ```
    /// let agent = edgepool::sim::snmp::SnmpSim::builder().start()?;
    /// assert!(edgepool::sim::snmp::SnmpSim::builder().engine_id(vec![1]).start().is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start(self) -> Result<SnmpSim> {
        let users = self.users()?;
        let agent = Arc::new(self.into_agent(users));
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let addr = socket.local_addr()?;
        let running = spawn(socket, Arc::clone(&agent))?;
        Ok(SnmpSim {
            addr,
            agent,
            running: Mutex::new(Some(running)),
        })
    }

    /// Checks the settings; then the v3 users with their keys localized to
    /// the engine ID (the expensive part of [`start`](Self::start)).
    fn users(&self) -> Result<HashMap<Vec<u8>, User>> {
        if !ENGINE_ID_LEN.contains(&self.engine_id.len()) {
            return Err(Error::Config(
                "the simulator's engine ID must be 5 to 32 bytes".into(),
            ));
        }
        if !(MIN_REPLY..=MAX_MSG_SIZE as usize).contains(&self.max_reply_size) {
            return Err(Error::Config(format!(
                "max_reply_size must be {MIN_REPLY} to {MAX_MSG_SIZE} bytes"
            )));
        }
        let mut users = HashMap::new();
        for usm in &self.users {
            usm.validate()?;
            let keys = MasterKeys::new(usm).localize(usm, &self.engine_id)?;
            let name = usm.user.as_bytes().to_vec();
            users.insert(
                name.clone(),
                User {
                    name,
                    level: usm.level,
                    auth: usm.auth,
                    keys,
                },
            );
        }
        Ok(users)
    }

    /// The agent, without a socket, with `users` from
    /// [`users`](Self::users) (which checked the settings).
    fn into_agent(self, users: HashMap<Vec<u8>, User>) -> Agent {
        let mut table = Table::default();
        for (oid, object, writable) in default_table() {
            table.insert(oid, object, Some(writable));
        }
        for (oid, value, writable) in self.entries {
            table.insert(oid, Object::Fixed(value), writable);
        }
        Agent {
            engine_id: self.engine_id,
            communities: self
                .communities
                .into_iter()
                .map(|(n, w)| (n.into_bytes(), w))
                .collect(),
            users,
            table: Mutex::new(table),
            clock: Mutex::new(Clock {
                boots: 1,
                started: Instant::now(),
            }),
            max_reply: self.max_reply_size,
            faults: Faults::default(),
            requests: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            usm_stats: Default::default(),
            salt: AtomicU64::new(crate::backoff::random_u64()),
        }
    }
}

/// Answers one datagram with a fresh agent with the defaults of
/// [`SnmpSim::start`] (no faults, no socket): the reply, or `None` when the
/// agent drops the datagram. For fuzzing: it is the code the agent runs for
/// each datagram, minus the socket (and minus the guard that turns a panic
/// into a dropped datagram). The default users' keys are hashed once per
/// process.
///
/// ```
/// // v2c, community "public", GET with no varbinds.
/// let get = b"\x30\x18\x02\x01\x01\x04\x06public\xa0\x0b\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x00";
/// assert!(edgepool::sim::snmp::fuzz_datagram(get).is_some());
/// assert_eq!(edgepool::sim::snmp::fuzz_datagram(b"not SNMP"), None);
/// ```
#[doc(hidden)]
pub fn fuzz_datagram(datagram: &[u8]) -> Option<Vec<u8>> {
    static USERS: OnceLock<Option<HashMap<Vec<u8>, User>>> = OnceLock::new();
    let builder = SnmpSimBuilder::default();
    // Never `None`: the defaults are valid.
    let users = USERS.get_or_init(|| builder.users().ok()).as_ref()?;
    let users = users.iter().map(|(k, u)| (k.clone(), u.clone())).collect();
    builder.into_agent(users).handle(datagram)
}

fn spawn(socket: UdpSocket, agent: Arc<Agent>) -> Result<Running> {
    socket.set_read_timeout(Some(POLL))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("edgepool-sim-snmp".into())
        .spawn(move || serve(&socket, &agent, &flag))?;
    Ok(Running { stop, thread })
}

/// The receive loop: one datagram at a time until `stop`.
fn serve(socket: &UdpSocket, agent: &Agent, stop: &AtomicBool) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(_) if stop.load(Ordering::SeqCst) => break,
            Ok(x) => x,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) {
                    log::debug!("sim: SNMP receive: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        agent.requests.fetch_add(1, Ordering::Relaxed);
        let datagram = &buf[..n];
        // Belt and braces: a bug must not take the agent down.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| agent.handle(datagram)))
                .unwrap_or_else(|_| agent.drop_it("a datagram that made the agent panic"));
        if let Some(reply) = reply {
            if agent.faults.before_reply() {
                if let Err(e) = socket.send_to(&reply, from) {
                    log::debug!("sim: SNMP send to {from}: {e}");
                }
            }
        }
    }
}

/// What the receive thread and the handle share.
struct Agent {
    engine_id: Vec<u8>,
    /// (community, writable). Secrets: never logged.
    communities: Vec<(Vec<u8>, bool)>,
    users: HashMap<Vec<u8>, User>,
    table: Mutex<Table>,
    clock: Mutex<Clock>,
    max_reply: usize,
    faults: Faults,
    requests: AtomicU64,
    dropped: AtomicU64,
    /// usmStats 1 to 6.
    usm_stats: [AtomicU32; 6],
    /// The privacy salt counter.
    salt: AtomicU64,
}

/// A v3 user with its keys localized to the agent's engine.
struct User {
    name: Vec<u8>,
    level: SecurityLevel,
    auth: AuthProtocol,
    keys: LocalKeys,
}

impl Clone for User {
    fn clone(&self) -> User {
        User {
            name: self.name.clone(),
            level: self.level,
            auth: self.auth,
            keys: LocalKeys {
                mac: self.keys.mac.clone(),
                cipher: self.keys.cipher.clone(),
            },
        }
    }
}

struct Clock {
    boots: u32,
    started: Instant,
}

/// The engine's clock now.
struct Now {
    boots: u32,
    /// snmpEngineTime (seconds since the last boot).
    time: u32,
    elapsed: Duration,
}

#[derive(Clone)]
enum Object {
    Fixed(Value),
    /// sysUpTime: TimeTicks since the start.
    Uptime,
    /// An octet counter: Counter32 growing by `per_sec` a second.
    Octets {
        per_sec: u32,
    },
}

impl Object {
    fn value(&self, elapsed: Duration) -> Value {
        match self {
            Object::Fixed(v) => v.clone(),
            // Both wrap like the real 32-bit counters.
            Object::Uptime => Value::TimeTicks((elapsed.as_millis() / 10) as u32),
            Object::Octets { per_sec } => {
                Value::Counter32((elapsed.as_millis() * u128::from(*per_sec) / 1000) as u32)
            }
        }
    }
}

struct Entry {
    object: Object,
    writable: bool,
}

impl Entry {
    /// v1 has no Counter64.
    fn in_v1(&self) -> bool {
        !matches!(self.object, Object::Fixed(Value::Counter64(_)))
    }
}

#[derive(Default)]
struct Table {
    entries: BTreeMap<Oid, Entry>,
    /// Every entry's OID minus its last arc: a GET below one of these is a
    /// missing instance (noSuchInstance), anything else noSuchObject.
    objects: BTreeSet<Vec<u32>>,
}

impl Table {
    /// `writable`: `None` keeps an existing entry's (new entries: read-only).
    fn insert(&mut self, oid: Oid, object: Object, writable: Option<bool>) {
        if let Some((_, parent)) = oid.arcs().split_last() {
            if parent.len() >= 2 && !self.objects.contains(parent) {
                self.objects.insert(parent.to_vec());
            }
        }
        let writable = writable
            .or_else(|| self.entries.get(&oid).map(|e| e.writable))
            .unwrap_or(false);
        self.entries.insert(oid, Entry { object, writable });
    }

    fn next(&self, after: &Oid, v1: bool) -> Option<(&Oid, &Entry)> {
        self.entries
            .range((Bound::Excluded(after), Bound::Unbounded))
            .find(|(_, e)| !v1 || e.in_v1())
    }

    fn missing(&self, oid: &Oid) -> Value {
        let arcs = oid.arcs();
        if (1..=arcs.len()).any(|k| self.objects.contains(&arcs[..k])) {
            Value::NoSuchInstance
        } else {
            Value::NoSuchObject
        }
    }
}

fn default_table() -> Vec<(Oid, Object, bool)> {
    let text = |s: &str| Object::Fixed(Value::OctetString(s.as_bytes().to_vec()));
    let int = |i: i64| Object::Fixed(Value::Integer(i));
    let mut t = vec![
        (oid::SYS_DESCR, text("edgepool simulated agent"), false),
        (
            oid::SYS_OBJECT_ID,
            // NET-SNMP-TC's netSnmpAgentOIDs.255 ("unknown" platform).
            Object::Fixed(Value::ObjectId(Oid::from_static(&[
                1, 3, 6, 1, 4, 1, 8072, 3, 2, 255,
            ]))),
            false,
        ),
        (oid::SYS_UPTIME, Object::Uptime, false),
        (oid::SYS_CONTACT, text("ops@example.com"), true),
        (oid::SYS_NAME, text("edgepool-sim"), true),
        (oid::SYS_LOCATION, text("loopback"), true),
        (oid::SYS_SERVICES, int(72), false),
        (
            Oid::from_static(&[1, 3, 6, 1, 2, 1, 2, 1, 0]), // ifNumber.0
            int(2),
            false,
        ),
    ];
    // ifTable: (descr, speed, oper status, in and out octets per second).
    let ifs = [
        ("eth0", 1_000_000_000u32, 1, 12_500u32, 4_000u32),
        ("eth1", 100_000_000, 2, 0, 0),
    ];
    let column = |c: u32, i: u32| Oid::new(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, c, i]);
    for (n, (descr, speed, oper, in_rate, out_rate)) in ifs.into_iter().enumerate() {
        let i = n as u32 + 1;
        t.extend([
            (column(1, i), int(i64::from(i)), false), // ifIndex
            (column(2, i), text(descr), false),       // ifDescr
            (column(3, i), int(6), false),            // ifType: ethernetCsmacd
            (column(4, i), int(1500), false),         // ifMtu
            (
                column(5, i),
                Object::Fixed(Value::Gauge32(speed)), // ifSpeed
                false,
            ),
            (column(7, i), int(1), true),     // ifAdminStatus: up
            (column(8, i), int(oper), false), // ifOperStatus
            (column(10, i), Object::Octets { per_sec: in_rate }, false), // ifInOctets
            (column(16, i), Object::Octets { per_sec: out_rate }, false), // ifOutOctets
        ]);
    }
    t
}

/// What a request may do.
#[derive(Clone, Copy)]
struct Access {
    v1: bool,
    writable: bool,
}

impl Agent {
    fn clock(&self) -> Now {
        let c = lock(&self.clock);
        let elapsed = c.started.elapsed();
        Now {
            boots: c.boots,
            time: u32::try_from(elapsed.as_secs())
                .unwrap_or(MAX_INT)
                .min(MAX_INT),
            elapsed,
        }
    }

    fn drop_it(&self, why: &str) -> Option<Vec<u8>> {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        log::debug!("sim: SNMP agent dropped {why}");
        None
    }

    /// The reply to one datagram, if any.
    fn handle(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let version = Reader::new(datagram)
            .nested(tag::SEQUENCE)
            .and_then(|mut r| r.integer());
        match version {
            Ok(0 | 1) => self.handle_community(datagram),
            Ok(3) => self.handle_v3(datagram),
            Ok(_) => self.drop_it("a datagram of an unknown SNMP version"),
            Err(_) => self.drop_it("a datagram that is not SNMP"),
        }
    }

    fn handle_community(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let Ok(Some((m, _))) = Message::decode(datagram) else {
            return self.drop_it("a malformed v1/v2c datagram");
        };
        let Some(&(_, writable)) = self.communities.iter().find(|(c, _)| *c == m.community) else {
            return self.drop_it("a request with an unknown community");
        };
        let Body::Pdu(req) = &m.body else {
            return self.drop_it("a v1 trap");
        };
        let v1 = m.version == Version::V1;
        if !is_request(req.kind) || (v1 && req.kind == PduKind::GetBulk) {
            return self.drop_it("a PDU that is not a request");
        }
        let max = self.max_reply;
        let resp = self.process(req, Access { v1, writable }, max);
        let mut msg = Message {
            version: m.version,
            community: m.community,
            body: Body::Pdu(Pdu::request(PduKind::Response, 0, &[])),
        };
        Some(bounded(
            resp,
            max,
            req.kind == PduKind::GetBulk,
            |pdu, out| {
                msg.body = Body::Pdu(pdu.clone());
                msg.encode(out);
            },
        ))
    }

    /// RFC 3414 §3.2 (the authoritative side), then the request.
    fn handle_v3(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let (m, used) = match MessageV3::decode(datagram) {
            Ok(Some(x)) => x,
            Ok(None) => return self.drop_it("a truncated SNMPv3 datagram"),
            Err(_) => return self.drop_it("a malformed SNMPv3 datagram"),
        };
        let reportable = m.flags & MessageV3::REPORTABLE != 0;
        let request_id = match &m.data {
            ScopedData::Plain(s) => s.pdu.request_id,
            ScopedData::Encrypted(_) => 0,
        };
        let now = self.clock();
        let report = |counter: u32, user: Option<&User>| {
            if !reportable {
                return self.drop_it("an SNMPv3 request that fails USM checks (not reportable)");
            }
            Some(self.usm_report(m.msg_id, &m.usm.user_name, request_id, counter, user, &now))
        };
        if m.usm.engine_id != self.engine_id {
            return report(UNKNOWN_ENGINE_IDS, None);
        }
        let Some(user) = self.users.get(&m.usm.user_name) else {
            return report(UNKNOWN_USER_NAMES, None);
        };
        let level = match (
            m.flags & MessageV3::AUTH != 0,
            m.flags & MessageV3::PRIV != 0,
        ) {
            (false, _) => SecurityLevel::NoAuthNoPriv,
            (true, false) => SecurityLevel::AuthNoPriv,
            (true, true) => SecurityLevel::AuthPriv,
        };
        if level > user.level
            || (user.level >= SecurityLevel::AuthNoPriv && level == SecurityLevel::NoAuthNoPriv)
        {
            return report(UNSUPPORTED_SEC_LEVELS, None);
        }
        if let Some(mac) = user
            .keys
            .mac
            .as_ref()
            .filter(|_| level > SecurityLevel::NoAuthNoPriv)
        {
            if !authentic(mac, user.auth, &m.usm, &datagram[..used]) {
                return report(WRONG_DIGESTS, None);
            }
            if now.boots == MAX_INT
                || m.usm.engine_boots != now.boots
                || m.usm.engine_time.abs_diff(now.time) > TIME_WINDOW
            {
                return report(NOT_IN_TIME_WINDOWS, Some(user));
            }
        }
        let scoped = match m.data {
            ScopedData::Plain(s) => s,
            ScopedData::Encrypted(mut bytes) => {
                let Some(cipher) = user.keys.cipher.as_ref() else {
                    return report(DECRYPTION_ERRORS, None);
                };
                let (b, t) = (m.usm.engine_boots, m.usm.engine_time);
                if !cipher.decrypt(b, t, &m.usm.priv_params, &mut bytes) {
                    return report(DECRYPTION_ERRORS, None);
                }
                match ScopedPdu::decode_prefix(&bytes) {
                    Ok((s, _)) => s,
                    Err(_) => return report(DECRYPTION_ERRORS, None),
                }
            }
        };
        let req = &scoped.pdu;
        if !is_request(req.kind) {
            return self.drop_it("an SNMPv3 PDU that is not a request");
        }
        let context_engine_id = if scoped.context_engine_id.is_empty() {
            &self.engine_id
        } else {
            &scoped.context_engine_id
        };
        let reply = |pdu: &Pdu, out: &mut Vec<u8>| {
            self.encode_v3(out, m.msg_id, level, user, context_engine_id, pdu, &now)
        };
        if !scoped.context_name.is_empty() {
            let pdu = Pdu {
                kind: PduKind::Report,
                request_id: req.request_id,
                error_status: 0,
                error_index: 0,
                varbinds: vec![VarBind::new(
                    Oid::from_static(&UNKNOWN_CONTEXTS),
                    Value::Counter32(1),
                )],
            };
            let mut out = Vec::new();
            reply(&pdu, &mut out);
            return Some(out);
        }
        let max = self.max_reply.min(usize::try_from(m.max_size).unwrap_or(0));
        let access = Access {
            v1: false,
            writable: true,
        };
        let resp = self.process(req, access, max);
        Some(bounded(resp, max, req.kind == PduKind::GetBulk, reply))
    }

    /// A usmStats report: unauthenticated, except notInTimeWindows
    /// (authenticated with `user`'s key, so the client may trust the clock).
    fn usm_report(
        &self,
        msg_id: i32,
        user_name: &[u8],
        request_id: i32,
        counter: u32,
        user: Option<&User>,
        now: &Now,
    ) -> Vec<u8> {
        let n = self.usm_stats[counter as usize - 1].fetch_add(1, Ordering::Relaxed) + 1;
        let mut arcs = USM_STATS.to_vec();
        arcs.extend([counter, 0]);
        let pdu = Pdu {
            kind: PduKind::Report,
            request_id,
            error_status: 0,
            error_index: 0,
            varbinds: vec![VarBind::new(Oid::new(arcs), Value::Counter32(n))],
        };
        let mut out = Vec::with_capacity(128);
        match user {
            Some(u) => self.encode_v3(
                &mut out,
                msg_id,
                SecurityLevel::AuthNoPriv,
                u,
                &self.engine_id,
                &pdu,
                now,
            ),
            None => {
                let params = UsmParams {
                    engine_id: self.engine_id.clone(),
                    engine_boots: now.boots,
                    engine_time: now.time,
                    user_name: user_name.to_vec(),
                    ..UsmParams::default()
                };
                v3::encode_message(&mut out, msg_id, MAX_MSG_SIZE, 0, v3::USM, &params, |o| {
                    v3::encode_scoped(o, &self.engine_id, &[], &pdu)
                });
            }
        }
        out
    }

    /// A response (or report) to `user` at `level`: encrypted with a fresh
    /// salt, then authenticated.
    #[allow(clippy::too_many_arguments)]
    fn encode_v3(
        &self,
        out: &mut Vec<u8>,
        msg_id: i32,
        level: SecurityLevel,
        user: &User,
        context_engine_id: &[u8],
        pdu: &Pdu,
        now: &Now,
    ) {
        let mut params = UsmParams {
            engine_id: self.engine_id.clone(),
            engine_boots: now.boots,
            engine_time: now.time,
            user_name: user.name.clone(),
            ..UsmParams::default()
        };
        let mut flags = 0;
        let mac = user
            .keys
            .mac
            .as_ref()
            .filter(|_| level >= SecurityLevel::AuthNoPriv);
        if mac.is_some() {
            flags |= MessageV3::AUTH;
            params.auth_params = vec![0; user.auth.mac_len()];
        }
        let cipher = user
            .keys
            .cipher
            .as_ref()
            .filter(|_| level == SecurityLevel::AuthPriv);
        match cipher {
            Some(cipher) => {
                flags |= MessageV3::PRIV;
                let mut plain = Vec::with_capacity(256);
                v3::encode_scoped(&mut plain, context_engine_id, &[], pdu);
                let salt = self.salt.fetch_add(1, Ordering::Relaxed);
                params.priv_params = cipher
                    .encrypt(now.boots, now.time, salt, &mut plain)
                    .to_vec();
                v3::encode_message(out, msg_id, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
                    ber::write_bytes(o, tag::OCTET_STRING, &plain)
                });
            }
            None => v3::encode_message(out, msg_id, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
                v3::encode_scoped(o, context_engine_id, &[], pdu)
            }),
        }
        if let Some(mac) = mac {
            mac.sign_message(out);
        }
    }

    /// The response PDU to a request (sizes are bounded by the caller; GETBULK
    /// stops producing once the reply could not fit in `max` bytes anyway).
    fn process(&self, req: &Pdu, access: Access, max: usize) -> Pdu {
        let elapsed = self.clock().elapsed;
        let mut table = lock(&self.table);
        let mut resp = Pdu {
            kind: PduKind::Response,
            request_id: req.request_id,
            error_status: 0,
            error_index: 0,
            varbinds: Vec::with_capacity(req.varbinds.len()),
        };
        let v1 = access.v1;
        let fail = |status: i32, i: usize| Pdu {
            kind: PduKind::Response,
            request_id: req.request_id,
            error_status: if v1 { v1_status(status) } else { status },
            error_index: i32::try_from(i + 1).unwrap_or(i32::MAX),
            varbinds: req.varbinds.clone(),
        };
        match req.kind {
            PduKind::Get => {
                for (i, vb) in req.varbinds.iter().enumerate() {
                    let value = match table.entries.get(&vb.oid) {
                        Some(e) if !v1 || e.in_v1() => e.object.value(elapsed),
                        _ if v1 => return fail(NO_SUCH_NAME, i),
                        _ => table.missing(&vb.oid),
                    };
                    resp.varbinds.push(VarBind::new(vb.oid.clone(), value));
                }
            }
            PduKind::GetNext => {
                for (i, vb) in req.varbinds.iter().enumerate() {
                    match table.next(&vb.oid, v1) {
                        Some((o, e)) => resp
                            .varbinds
                            .push(VarBind::new(o.clone(), e.object.value(elapsed))),
                        None if v1 => return fail(NO_SUCH_NAME, i),
                        None => resp
                            .varbinds
                            .push(VarBind::new(vb.oid.clone(), Value::EndOfMibView)),
                    }
                }
            }
            PduKind::GetBulk => {
                // A varbind takes at least 7 bytes: stop where nothing more fits.
                let limit = max / 7 + 1;
                let n = req.varbinds.len();
                let non_rep = usize::try_from(req.error_status).unwrap_or(0).min(n);
                let reps = usize::try_from(req.error_index).unwrap_or(0).min(limit);
                let push_next = |cur: &Oid, out: &mut Vec<VarBind>| match table.next(cur, false) {
                    Some((o, e)) => {
                        out.push(VarBind::new(o.clone(), e.object.value(elapsed)));
                        true
                    }
                    None => {
                        out.push(VarBind::new(cur.clone(), Value::EndOfMibView));
                        false
                    }
                };
                for vb in req.varbinds.iter().take(non_rep.min(limit)) {
                    push_next(&vb.oid, &mut resp.varbinds);
                }
                let mut cursors: Vec<Oid> = req.varbinds[non_rep..]
                    .iter()
                    .map(|v| v.oid.clone())
                    .collect();
                'rows: for _ in 0..reps {
                    if cursors.is_empty() {
                        break;
                    }
                    let mut any = false;
                    for cur in cursors.iter_mut() {
                        if resp.varbinds.len() >= limit {
                            break 'rows;
                        }
                        if push_next(cur, &mut resp.varbinds) {
                            any = true;
                        }
                        if let Some(last) = resp.varbinds.last() {
                            cur.clone_from(&last.oid);
                        }
                    }
                    if !any {
                        break;
                    }
                }
            }
            PduKind::Set => {
                if !access.writable {
                    return fail(NO_ACCESS, 0);
                }
                for (i, vb) in req.varbinds.iter().enumerate() {
                    let status = match table.entries.get(&vb.oid) {
                        None => NO_CREATION,
                        Some(e) if !e.writable => NOT_WRITABLE,
                        Some(Entry {
                            object: Object::Fixed(cur),
                            ..
                        }) if std::mem::discriminant(cur) == std::mem::discriminant(&vb.value) => {
                            continue
                        }
                        Some(_) => WRONG_TYPE,
                    };
                    return fail(status, i);
                }
                for vb in &req.varbinds {
                    table.insert(vb.oid.clone(), Object::Fixed(vb.value.clone()), None);
                }
                resp.varbinds = req.varbinds.clone();
            }
            _ => {}
        }
        resp
    }
}

fn is_request(kind: PduKind) -> bool {
    matches!(
        kind,
        PduKind::Get | PduKind::GetNext | PduKind::GetBulk | PduKind::Set
    )
}

/// RFC 3584 §4.4: a v2 error-status as v1 says it.
fn v1_status(status: i32) -> i32 {
    match status {
        6 | 11 | 16 | 17 | 18 => NO_SUCH_NAME,
        7..=10 | 12 => 3, // badValue
        13..=15 => 5,     // genErr
        s => s,
    }
}

/// True when the message's HMAC is right (RFC 3414 §6.3.2).
fn authentic(mac: &MacKey, auth: AuthProtocol, p: &UsmParams, msg: &[u8]) -> bool {
    if p.auth_params.len() != auth.mac_len() {
        return false;
    }
    let Ok(Some(layout)) = Layout::parse(msg) else {
        return false;
    };
    let mut zeroed = msg.to_vec();
    zeroed[layout.auth_params].fill(0);
    mac.verify(&zeroed, &p.auth_params)
}

/// Encodes `pdu` with `encode` within `max` bytes: a GETBULK reply loses
/// varbinds from its end (like net-snmp), anything else becomes `tooBig`
/// with no varbinds (RFC 3416 §4.2.1).
fn bounded(
    mut pdu: Pdu,
    max: usize,
    bulk: bool,
    mut encode: impl FnMut(&Pdu, &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(max.min(4096));
    loop {
        out.clear();
        encode(&pdu, &mut out);
        let n = pdu.varbinds.len();
        if out.len() <= max || n == 0 {
            return out;
        }
        if bulk && n > 1 && pdu.error_status == 0 {
            let keep = (n * max / out.len()).clamp(1, n - 1);
            pdu.varbinds.truncate(keep);
        } else {
            pdu.error_status = TOO_BIG;
            pdu.error_index = 0;
            pdu.varbinds.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests of every kind the agent answers (v1, v2c GETBULK and SET, v3
    /// noAuthNoPriv, the discovery probe, authPriv), corrupted at random
    /// from a fixed seed, through [`fuzz_datagram`]: never a panic, every
    /// datagram handled quickly, every reply a whole SNMP message.
    #[test]
    fn random_datagrams_never_panic() {
        let builder = SnmpSimBuilder::default();
        let agent = builder.clone().into_agent(builder.users().unwrap());
        let community = |version, community: &[u8], pdu: Pdu| {
            let mut out = Vec::new();
            Message {
                version,
                community: community.to_vec(),
                body: Body::Pdu(pdu),
            }
            .encode(&mut out);
            out
        };
        let mut bulk = Pdu::request(PduKind::GetBulk, 2, &[oid::SYS_DESCR, oid::SYSTEM]);
        (bulk.error_status, bulk.error_index) = (1, 10);
        let mut set = Pdu::request(PduKind::Set, 3, &[]);
        set.varbinds = vec![VarBind::new(
            oid::SYS_NAME,
            Value::OctetString(b"x".to_vec()),
        )];
        let get = Pdu::request(PduKind::Get, 4, &[oid::SYS_UPTIME, oid::SYS_NAME]);
        let v3 = |user: &[u8], pdu: &Pdu| {
            let params = UsmParams {
                engine_id: DEFAULT_ENGINE_ID.to_vec(),
                engine_boots: 1,
                user_name: user.to_vec(),
                ..UsmParams::default()
            };
            let mut out = Vec::new();
            let flags = MessageV3::REPORTABLE;
            v3::encode_message(&mut out, 5, MAX_MSG_SIZE, flags, v3::USM, &params, |o| {
                v3::encode_scoped(o, DEFAULT_ENGINE_ID, &[], pdu)
            });
            out
        };
        let mut auth_priv = Vec::new();
        let user = &agent.users[&b"simuser".to_vec()];
        let now = agent.clock();
        let level = SecurityLevel::AuthPriv;
        agent.encode_v3(
            &mut auth_priv,
            6,
            level,
            user,
            DEFAULT_ENGINE_ID,
            &get,
            &now,
        );
        let seeds = [
            community(Version::V1, b"public", get.clone()),
            community(Version::V2c, b"public", bulk.clone()),
            community(Version::V2c, b"private", set.clone()),
            v3(b"simnoauth", &bulk),
            v3(b"", &Pdu::request(PduKind::Get, 7, &[])),
            auth_priv,
        ];
        let answered = |reply: &[u8]| {
            matches!(Message::decode(reply), Ok(Some(_)))
                || matches!(MessageV3::decode(reply), Ok(Some(_)))
        };
        for seed in &seeds {
            let reply = fuzz_datagram(seed).unwrap();
            assert!(answered(&reply), "{seed:02x?}");
        }

        let mut state = 0xD1B5_4A32_D192_ED03_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n.max(1) as u64).unwrap()
        };
        let (mut slowest, mut replies) = (Duration::ZERO, 0);
        for _ in 0..20_000 {
            let mut input = seeds[next(seeds.len())].clone();
            for _ in 0..1 + next(2) * next(4) {
                let at = next(input.len() + 1);
                let byte = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff][next(8)];
                match next(7) {
                    _ if at == input.len() => input.push(byte),
                    0 | 1 => input[at] = byte,
                    2 => input[at] = u8::try_from(next(256)).unwrap(),
                    3 => input[at] ^= 1 << next(8),
                    4 => input.insert(at, byte),
                    5 => drop(input.remove(at)),
                    _ => input.truncate(at),
                }
            }
            let t = Instant::now();
            let reply = fuzz_datagram(&input);
            slowest = slowest.max(t.elapsed());
            if let Some(reply) = reply {
                assert!(answered(&reply), "{input:02x?} -> {reply:02x?}");
                replies += 1;
            }
        }
        assert!(
            slowest < Duration::from_secs(2),
            "{slowest:?} for one datagram"
        );
        assert!(replies > 1000, "only {replies} datagrams answered");
    }

    /// Every truncation and many corruptions of a v2c request, the v3
    /// discovery probe and an authPriv request: dropped or answered, never
    /// a panic.
    #[test]
    fn hostile_datagrams_never_panic() {
        let sim = SnmpSim::builder()
            .clear_access()
            .community("public", false)
            .user(
                Usm::new("u")
                    .auth(AuthProtocol::Sha1, "auth-password")
                    .privacy(PrivProtocol::Aes128, "priv-password"),
            )
            .start()
            .unwrap();
        let agent = &sim.agent;
        let get = Pdu::request(PduKind::Get, 1, &[oid::SYS_UPTIME]);
        let mut v2c = Vec::new();
        Message {
            version: Version::V2c,
            community: b"public".to_vec(),
            body: Body::Pdu(get.clone()),
        }
        .encode(&mut v2c);
        let mut probe = Vec::new();
        v3::encode_message(
            &mut probe,
            1,
            MAX_MSG_SIZE,
            MessageV3::REPORTABLE,
            v3::USM,
            &UsmParams::default(),
            |o| v3::encode_scoped(o, &[], &[], &Pdu::request(PduKind::Get, 1, &[])),
        );
        // The agent's own encoding is what a client sends too.
        let mut auth_priv = Vec::new();
        let user = &agent.users[&b"u".to_vec()];
        let now = agent.clock();
        agent.encode_v3(
            &mut auth_priv,
            1,
            SecurityLevel::AuthPriv,
            user,
            &agent.engine_id,
            &get,
            &now,
        );
        for bytes in [v2c, probe, auth_priv] {
            assert!(agent.handle(&bytes).is_some());
            for cut in 0..bytes.len() {
                let _ = agent.handle(&bytes[..cut]);
            }
            for i in 0..bytes.len() {
                for x in [0x00u8, 0x7f, 0x80, 0x84, 0xff] {
                    let mut b = bytes.clone();
                    b[i] = x;
                    let _ = agent.handle(&b);
                }
            }
        }
        assert!(sim.dropped() > 100);
    }
}
