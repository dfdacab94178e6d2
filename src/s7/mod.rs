//! Siemens S7 (S7comm over ISO-on-TCP). Work in progress.

mod error;
pub use error::S7Error;
