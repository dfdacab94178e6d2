//! [`SnmpSimBuilder`]: the agent's settings.

use super::{
    default_table, spawn, Agent, Clock, Faults, Hex, Object, SnmpSim, Table, User,
    DEFAULT_ENGINE_ID, DEFAULT_MAX_REPLY, MAX_MSG_SIZE, MIN_REPLY,
};
use crate::snmp::usm::{MasterKeys, ENGINE_ID_LEN};
use crate::snmp::{AuthProtocol, Oid, PrivProtocol, Usm, Value};
use crate::{Error, Result};
use portable_atomic::AtomicU64;
use std::collections::HashMap;
use std::fmt;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    pub(super) fn users(&self) -> Result<HashMap<Vec<u8>, User>> {
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
    pub(super) fn into_agent(self, users: HashMap<Vec<u8>, User>) -> Agent {
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
