//! SNMP v1, v2c and v3: a sans-IO BER codec ([`ber`], [`Message`]), SNMPv3
//! messages ([`v3`]) and the user-based security model ([`usm`]: discovery,
//! keys, HMAC authentication, DES/AES privacy), a blocking [`Client`] over a
//! connected UDP socket, and an r2d2 [`Manager`] whose probe is GET
//! sysUpTime.0.
//!
//! ```no_run
//! use edgepool::{snmp, Pool};
//!
//! let config = snmp::Config::new("udp://127.0.0.1:161").community("public");
//! let pool = Pool::builder().max_size(4).build(snmp::Manager::new(config))?;
//! let up = pool.execute(|c| c.get(&[snmp::oid::SYS_UPTIME]))?;
//! println!("{}", up[0]);
//! # Ok::<(), edgepool::Error>(())
//! ```
//!
//! SNMPv3 (authPriv, SHA-256 and AES-128): the manager discovers the agent's
//! engine and hashes the passwords once, for all the pool's connections.
//!
//! ```no_run
//! use edgepool::snmp::{self, AuthProtocol, PrivProtocol, Usm};
//! use edgepool::Pool;
//!
//! let user = Usm::new("monitor")
//!     .auth(AuthProtocol::Sha256, "auth-password")
//!     .privacy(PrivProtocol::Aes128, "priv-password");
//! let config = snmp::Config::new("udp://10.0.0.7:161").v3(user);
//! let pool = Pool::builder().max_size(4).build(snmp::Manager::new(config))?;
//! let rows = pool.execute(|c| c.walk(&snmp::oid::SYSTEM))?;
//! # Ok::<(), edgepool::Error>(())
//! ```

pub mod ber;
mod client;
pub(crate) mod community;
mod error;
mod exchange;
mod message;
pub mod oid;
pub(crate) mod pdu;
pub(crate) mod session;
pub mod usm;
pub mod v3;
mod value;

pub use ber::BerError;
pub use client::{Client, Config};
pub use error::{ErrorStatus, SnmpError, TruncatedWalk};
pub use message::{Body, Message, TrapV1};
pub use oid::Oid;
pub use pdu::{Pdu, PduKind, Version};
pub use usm::{AuthProtocol, PrivProtocol, SecurityLevel, Usm};
pub use value::{Value, VarBind};

use crate::Probe;
use crate::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

/// The r2d2 manager for SNMP: opens a connected UDP socket, probes with GET
/// sysUpTime.0, and reports a client broken after a socket error. Works in
/// [`Pool`](crate::Pool) and in a plain `r2d2::Pool`.
///
/// For SNMPv3 its clients share one cache (and clones of the manager share
/// it too): the password hashes (about 1 MiB of hashing per password), the
/// agent's engine ID, the keys localized to it, and the agent's clock. Only
/// the first connection hashes and discovers.
///
/// ```no_run
/// use edgepool::{snmp, Pool};
/// let pool = Pool::new(snmp::Manager::new(snmp::Config::new("127.0.0.1:161")))?;
/// let rows = pool.execute(|c| c.walk(&snmp::oid::SYSTEM))?;
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    config: Config,
    usm: Arc<session::UsmCache>,
}

impl Manager {
    /// A manager for the agent `config` describes.
    ///
    /// ```
    /// let m = edgepool::snmp::Manager::new(edgepool::snmp::Config::new("127.0.0.1:161"));
    /// assert_eq!(m.config().addr, "127.0.0.1:161");
    /// ```
    pub fn new(config: Config) -> Manager {
        Manager {
            config,
            usm: Arc::default(),
        }
    }

    /// The config.
    ///
    /// ```
    /// let m = edgepool::snmp::Manager::new(Default::default());
    /// assert_eq!(m.config().retries, 3);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Manager {
    /// Exchanges a connect makes: the probe, and for v3 the discovery first.
    fn exchanges(&self) -> u32 {
        if self.config.version == Version::V3 {
            2
        } else {
            1
        }
    }

    /// Opens a client and checks that the agent answers (GET sysUpTime.0,
    /// `attempts` tries of `timeout` each), so that a pool learns at once
    /// that an agent is down or refuses the community (agents stay silent
    /// then). Later requests use the configured timeout and retries.
    fn open(&self, timeout: Duration, attempts: u32) -> Result<Client> {
        let mut config = self.config.clone();
        config.timeout = timeout.min(self.config.timeout);
        config.retries = attempts.saturating_sub(1).min(self.config.retries);
        let mut client = Client::connect_shared(&config, &self.usm)?;
        client.get(&[oid::SYS_UPTIME])?;
        client.set_timing(self.config.timeout, self.config.retries);
        Ok(client)
    }
}

impl crate::Manage for Manager {
    fn target(&self) -> Option<String> {
        Some(self.config.addr.clone())
    }

    fn validate(&self) -> Result<()> {
        self.config.validate()
    }

    /// One try of each exchange: the least a connect needs to say anything.
    fn connect_budget(&self) -> Option<Duration> {
        Some(self.config.timeout.saturating_mul(self.exchanges()))
    }

    /// As many tries of the check (up to `retries + 1`) as fit in `budget`.
    fn connect_within(&self, budget: Duration) -> Result<Client> {
        let share = budget / self.exchanges();
        let timeout = self.config.timeout;
        let fit = u32::try_from(share.as_nanos() / timeout.as_nanos().max(1)).unwrap_or(u32::MAX);
        self.open(timeout.min(share), fit.clamp(1, self.config.retries + 1))
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = Error;

    /// Opens a client and checks that the agent answers (GET sysUpTime.0,
    /// up to 3 tries), so that an agent that is down fails the connect.
    fn connect(&self) -> Result<Client> {
        self.open(self.config.timeout, 3)
    }

    fn is_valid(&self, conn: &mut Client) -> Result<()> {
        conn.probe()
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_broken()
    }
}
