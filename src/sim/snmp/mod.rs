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

mod agent;
mod builder;
#[cfg(test)]
mod tests;

use super::{lock, Faults};
use crate::snmp::usm::LocalKeys;
use crate::snmp::v3::{MAX_INT, MAX_MSG_SIZE};
use crate::snmp::{oid, AuthProtocol, Oid, SecurityLevel, Value, VarBind};
use crate::{Error, Result};
use portable_atomic::AtomicU64;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use agent::spawn;
pub use builder::SnmpSimBuilder;

/// The default snmpEngineID: net-snmp's enterprise (8072), format 4 (text),
/// `edgepool-sim`.
///
/// ```
/// let agent = edgepool::sim::snmp::SnmpSim::start()?;
/// assert_eq!(agent.engine_id(), edgepool::sim::snmp::DEFAULT_ENGINE_ID);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub const DEFAULT_ENGINE_ID: &[u8] = b"\x80\x00\x1f\x88\x04edgepool-sim";

/// Replies are at most this big by default (an Ethernet frame's UDP payload).
const DEFAULT_MAX_REPLY: usize = 1472;
/// The smallest message every SNMP engine must accept (RFC 3417).
const MIN_REPLY: usize = 484;

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
