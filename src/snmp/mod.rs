//! SNMP v1/v2c (and v3 with USM): a sans-IO BER codec, a blocking client and
//! an r2d2 manager. Work in progress.

mod error;
pub use error::SnmpError;
