//! Siemens S7 (S7comm over ISO-on-TCP, port 102): sans-IO codecs for the
//! ISO layer ([`iso`]) and S7 PDUs ([`pdu`]), a blocking [`Client`], and an
//! r2d2 [`Manager`] whose probe reads SZL 0x0424 (CPU status).
//!
//! ```no_run
//! use edgepool::{s7, Pool};
//!
//! let config = s7::Config::new("192.168.0.10:102").rack(0).slot(1);
//! let pool = Pool::builder().max_size(2).build(s7::Manager::new(config))?;
//! let data = pool.execute(|plc| plc.read_db(1, 0, 16))?;
//! let status = pool.execute(|plc| plc.cpu_status())?;
//! println!("DB1: {data:02x?}, CPU {status}");
//! # Ok::<(), edgepool::Error>(())
//! ```

mod client;
mod config;
mod error;
pub mod iso;
mod item;
pub mod pdu;
mod plan;

/// Bytes from hex digits, for the golden vectors of the codec tests.
#[cfg(test)]
fn test_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub use client::{Client, CpuStatus, OrderCode, ReadResult, Szl, WriteResult};
pub use config::{Config, ConnectionType, Tsaps};
pub use error::{ReturnCode, S7Error};
pub use iso::IsoError;
pub use item::{Area, Item};
pub use pdu::PduError;

crate::manage::stream_manager! {
    /// The r2d2 manager for S7 PLCs: connects (TCP, ISO connection, S7 setup),
    /// probes with an SZL read (0x0424, falling back to 0x0011 on CPUs that
    /// refuse it), and reports a client broken after a transport error. Works
    /// in [`Pool`](crate::Pool) and in a plain `r2d2::Pool`.
    ///
    /// ```no_run
    /// use edgepool::{s7, Pool};
    /// let pool = Pool::new(s7::Manager::new(s7::Config::new("192.168.0.10:102")))?;
    /// let mut plc = pool.get()?;
    /// let inputs = plc.read_area(s7::Area::Inputs, 0, 0, 2)?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    Manager(Config) -> Client,
    "edgepool::s7::Manager::new(edgepool::s7::Config::new(\"10.0.0.5:102\"))"
}
