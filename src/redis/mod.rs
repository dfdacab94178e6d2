//! Redis: a sans-IO RESP2 codec ([`resp`]), a blocking [`Client`], and an
//! r2d2 [`Manager`] whose probe is `PING`.
//!
//! ```no_run
//! use edgepool::{redis, Pool};
//!
//! let config = redis::Config::from_url("redis://127.0.0.1:6379/0")?;
//! let pool = Pool::builder().max_size(8).build(redis::Manager::new(config))?;
//! pool.execute(|c| c.set("gw:uptime", "42"))?;
//! let v = pool.execute(|c| c.get("gw:uptime"))?;
//! assert_eq!(v.as_deref(), Some(&b"42"[..]));
//! # Ok::<(), edgepool::Error>(())
//! ```

mod client;
mod config;
pub mod resp;

pub use client::{Client, Pipeline};
pub use config::Config;
pub use resp::{Limits, RespError, Value};

use crate::Probe;
use crate::{Error, Result};

/// The r2d2 manager for Redis: connects (with `AUTH`, `SELECT`, `CLIENT
/// SETNAME`), probes with `PING`, and reports a client broken after a
/// transport error. Works in [`Pool`](crate::Pool) and in a plain `r2d2::Pool`.
///
/// ```no_run
/// use edgepool::{redis, Pool};
/// let pool = Pool::new(redis::Manager::new(redis::Config::new("127.0.0.1:6379")))?;
/// let mut conn = pool.get()?;
/// conn.ping()?;
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    config: Config,
}

impl Manager {
    /// A manager for the server `config` describes.
    ///
    /// ```
    /// let m = edgepool::redis::Manager::new(edgepool::redis::Config::default());
    /// assert_eq!(m.config().addr, "127.0.0.1:6379");
    /// ```
    pub fn new(config: Config) -> Manager {
        Manager { config }
    }

    /// The config.
    ///
    /// ```
    /// let m = edgepool::redis::Manager::new(edgepool::redis::Config::default());
    /// assert_eq!(m.config().db, 0);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl crate::Manage for Manager {
    fn target(&self) -> Option<String> {
        Some(self.config.addr.clone())
    }

    fn validate(&self) -> Result<()> {
        self.config.validate()
    }

    fn connect_budget(&self) -> Option<std::time::Duration> {
        Some(self.config.net.connect_timeout)
    }

    fn connect_within(&self, budget: std::time::Duration) -> Result<Client> {
        let mut config = self.config.clone();
        config.net.connect_timeout = config.net.connect_timeout.min(budget);
        Client::connect(&config)
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
