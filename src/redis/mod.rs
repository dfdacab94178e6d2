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

crate::manage::stream_manager! {
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
    Manager(Config) -> Client,
    "edgepool::redis::Manager::new(edgepool::redis::Config::new(\"127.0.0.1:6379\"))"
}
