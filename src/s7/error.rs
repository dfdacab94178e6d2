//! Errors the PLC reports.

/// An error the PLC (or the S7 protocol layer) reports; the connection stays
/// usable. Carried by [`Error::S7`](crate::Error::S7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum S7Error {
    /// Placeholder until the S7 client lands.
    #[error("{0}")]
    Other(String),
}
