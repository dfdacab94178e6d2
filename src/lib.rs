//! edgepool: blocking, thread-based connection pools for edge gateways.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod backoff;
mod error;
pub mod net;
pub mod pool;
pub mod tcp;

pub use error::{Error, Phase, Result};
pub use pool::{HealthReport, Pool, PoolBuilder, PoolSet, PooledConnection, Probe, Stats};
