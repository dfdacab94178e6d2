//! SNMP v1/v2c: a sans-IO BER codec ([`ber`], [`Message`]), a blocking
//! [`Client`] over a connected UDP socket, and an r2d2 [`Manager`] whose
//! probe is GET sysUpTime.0.
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

pub mod ber;
mod client;
mod error;
mod pdu;

pub use client::{Client, Config};
pub use error::{ErrorStatus, SnmpError};
pub use pdu::{oid, Body, Message, Oid, Pdu, PduKind, TrapV1, Value, VarBind, Version};

use crate::pool::Probe;
use crate::{Error, Result};

/// The r2d2 manager for SNMP: opens a connected UDP socket, probes with GET
/// sysUpTime.0, and reports a client broken after a socket error. Works in
/// [`Pool`](crate::Pool) and in a plain `r2d2::Pool`.
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
}

impl Manager {
    /// A manager for the agent `config` describes.
    ///
    /// ```
    /// let m = edgepool::snmp::Manager::new(edgepool::snmp::Config::new("127.0.0.1:161"));
    /// assert_eq!(m.config().target, "127.0.0.1:161");
    /// ```
    pub fn new(config: Config) -> Manager {
        Manager { config }
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

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = Error;

    fn connect(&self) -> Result<Client> {
        Client::connect(&self.config)
    }

    fn is_valid(&self, conn: &mut Client) -> Result<()> {
        conn.probe()
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_broken()
    }
}
