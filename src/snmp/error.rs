//! Errors an SNMP agent reports.

/// An error the agent reports; the socket stays usable. Carried by
/// [`Error::Snmp`](crate::Error::Snmp).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnmpError {
    /// Placeholder until the SNMP client lands.
    #[error("{0}")]
    Other(String),
}
