//! Blocking, thread-based connection pools for edge gateways: SNMP, Siemens
//! S7, Redis and raw TCP/TLS, with no async runtime.
//!
//! [`Pool`] is a pool core of its own over `r2d2::ManageConnection` managers:
//! protocol health probes, one shared background reaper (idle eviction,
//! background probes, `min_idle`), [`Stats`], [`Pool::execute`] (which
//! discards a connection after a transport error), acquire timeouts, connect
//! backoff with fail-fast checkouts while a target is down
//! ([`Error::Unavailable`]), typed errors for what no retry can fix, and an
//! explicit [`Pool::close`] that wakes every waiter. A caller's connect runs
//! on the caller's own thread, so an offline device costs only its own
//! callers. [`PoolSet`] keeps one pool per target for gateways that poll many
//! devices; every pool in the process shares the same four background threads.
//!
//! Every manager ([`tcp::Manager`], …) is an `r2d2::ManageConnection` (so it
//! also works in a plain `r2d2::Pool`) and implements [`Manage`], which tells
//! the pool the target's name and the crate error of a failed connect.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use edgepool::{tcp, Pool};
//!
//! // A loopback echo server standing in for a device.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?.to_string();
//! std::thread::spawn(move || {
//!     for mut s in listener.incoming().flatten() {
//!         std::thread::spawn(move || {
//!             let mut buf = [0u8; 64];
//!             while let Ok(n @ 1..) = s.read(&mut buf) {
//!                 if s.write_all(&buf[..n]).is_err() { break; }
//!             }
//!         });
//!     }
//! });
//!
//! let pool = Pool::builder()
//!     .max_size(4)
//!     .acquire_timeout(Duration::from_secs(2))
//!     .build(tcp::Manager::new(tcp::Config::new(addr)))?;
//! let echoed = pool.execute(|conn| {
//!     conn.write_all(b"ping")?;
//!     let mut buf = [0u8; 4];
//!     conn.read_exact(&mut buf)?;
//!     Ok(buf)
//! })?;
//! assert_eq!(&echoed, b"ping");
//! let stats = pool.stats();
//! assert_eq!((stats.acquired, stats.released, stats.in_use), (1, 1, 0));
//! pool.close();
//! # Ok::<(), edgepool::Error>(())
//! ```
//!
//! # Features
//! - `tls` (native-tls): TLS for TCP, Redis and tunnel streams.
//! - `snmp`, `s7`, `redis`: the protocol clients and managers.
//! - `tunnel`: pre-warmed client/server tunnel pools with connection IDs.
//! - `sim`: loopback simulators of a Redis server, an SNMP agent and an S7 CPU
//!   ([`sim`]), for demos and your own tests.
//! - `metrics` (off by default): every pool publishes its [`Stats`] through
//!   the `metrics` facade.
//!
//! All but `metrics` are on by default. `cargo run --example tour` shows the
//! whole crate at work against the simulators. A program that does not use
//! the simulators carries none of their code (the linker drops it), but they
//! still take compile time: production builds can list their features with
//! `default-features = false`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod backoff;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod manage;
pub mod net;
pub mod pool;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "s7")]
#[cfg_attr(docsrs, doc(cfg(feature = "s7")))]
pub mod s7;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
#[cfg(feature = "snmp")]
#[cfg_attr(docsrs, doc(cfg(feature = "snmp")))]
pub mod snmp;
pub mod tcp;
#[cfg(feature = "tunnel")]
#[cfg_attr(docsrs, doc(cfg(feature = "tunnel")))]
pub mod tunnel;

pub use error::{Error, Phase, ProtocolError, Result};
pub use manage::{AnyManager, Manage, Probe};
pub use pool::{
    set_worker_threads, HealthReport, Pool, PoolBuilder, PoolSet, PooledConnection, RetryPolicy,
    Stats,
};
