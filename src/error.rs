//! The crate's error type.

use std::fmt;
use std::io;
use std::time::Duration;

/// A `Result` whose error is [`Error`].
///
/// ```
/// fn parse_port(s: &str) -> edgepool::Result<u16> {
///     s.parse().map_err(|_| edgepool::Error::Config(format!("bad port {s:?}")))
/// }
/// assert_eq!(parse_port("161")?, 161);
/// assert!(parse_port("x").is_err());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The phase of an operation that ran out of time.
///
/// Displays as what was going on ("connecting", "the TLS handshake"); an
/// [`Error::Timeout`] reads "timed out while connecting", "timed out during
/// the TLS handshake".
///
/// ```
/// use edgepool::{Error, Phase};
/// let e = Error::Timeout(Phase::Connect);
/// assert_eq!(e.to_string(), "timed out while connecting");
/// assert!(e.is_transport());
/// assert_eq!(
///     Error::Timeout(Phase::TlsHandshake).to_string(),
///     "timed out during the TLS handshake"
/// );
/// assert_eq!(Phase::Handshake.to_string(), "the protocol handshake");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the TCP connection (or the first exchange of a UDP client).
    Connect,
    /// The TLS handshake.
    TlsHandshake,
    /// A protocol handshake after connect (login, setup, connection ID).
    Handshake,
    /// Waiting for bytes from the peer.
    Read,
    /// Sending bytes to the peer.
    Write,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connecting",
            Phase::TlsHandshake => "the TLS handshake",
            Phase::Handshake => "the protocol handshake",
            Phase::Read => "reading",
            Phase::Write => "writing",
        })
    }
}

/// Everything that can go wrong in edgepool.
///
/// [`Error::is_transport`] tells whether the connection that produced the error
/// must be thrown away (the pool does this for you in [`Pool::execute`](crate::Pool::execute)).
///
/// ```
/// use edgepool::Error;
/// let e = Error::Config("max_size must be at least 1".into());
/// assert!(!e.is_transport());
/// assert_eq!(e.to_string(), "invalid configuration: max_size must be at least 1");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the operating system, kept intact.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// An operation ran out of time; the phase says which one.
    #[error("timed out {}", timeout_phrase(*.0))]
    Timeout(Phase),
    /// No pooled connection became available within the acquire timeout.
    #[error("{}", pool_timeout_message(*.waited, .last_error.as_deref()))]
    PoolTimeout {
        /// How long the caller waited.
        waited: Duration,
        /// The last error seen while opening a connection for this pool, if any.
        last_error: Option<String>,
    },
    /// The pool was closed with [`Pool::close`](crate::Pool::close).
    #[error("the pool is closed")]
    Closed,
    /// An invalid setting; the message names it.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A TLS error (handshake, certificate, or setup).
    #[error("TLS error: {0}")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A health probe found the connection unusable (closed by the peer, or
    /// holding bytes nobody asked for).
    #[error("unhealthy connection: {0}")]
    Unhealthy(String),
    /// The peer sent bytes that break the protocol (malformed, too large, or
    /// an unexpected reply). The connection is out of step and is discarded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server refused the credentials (or the user lacks the rights to
    /// log in). Retrying will not help.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A Redis server's error reply (`ERR …`, `WRONGTYPE …`); the connection
    /// stays usable.
    #[error("redis: {0}")]
    Redis(String),
    /// An error the PLC reports (access error, item out of range, …); the
    /// connection stays usable.
    #[cfg(feature = "s7")]
    #[error("S7: {0}")]
    S7(crate::s7::S7Error),
    /// An error the SNMP agent reports (an error-status, a report); the
    /// socket stays usable.
    #[cfg(feature = "snmp")]
    #[error("SNMP: {0}")]
    Snmp(crate::snmp::SnmpError),
}

/// "while reading", "during the TLS handshake": the words after "timed out".
fn timeout_phrase(phase: Phase) -> String {
    match phase {
        Phase::TlsHandshake | Phase::Handshake => format!("during {phase}"),
        Phase::Connect | Phase::Read | Phase::Write => format!("while {phase}"),
    }
}

fn pool_timeout_message(waited: Duration, last_error: Option<&str>) -> String {
    match last_error {
        Some(e) => format!(
            "timed out after {waited:?} waiting for a pooled connection (last connect error: {e})"
        ),
        None => format!("timed out after {waited:?} waiting for a pooled connection"),
    }
}

impl Error {
    /// True when the error means the connection is no longer usable: an I/O
    /// error, a timeout, a TLS failure or a failed probe. The pool discards such
    /// connections; protocol-level errors (a server's error reply) keep them.
    ///
    /// ```
    /// use edgepool::{Error, Phase};
    /// assert!(Error::Timeout(Phase::Read).is_transport());
    /// assert!(!Error::Closed.is_transport());
    /// ```
    pub fn is_transport(&self) -> bool {
        match self {
            Error::Io(_)
            | Error::Timeout(_)
            | Error::Tls(_)
            | Error::Unhealthy(_)
            | Error::Protocol(_) => true,
            Error::PoolTimeout { .. }
            | Error::Closed
            | Error::Config(_)
            | Error::Auth(_)
            | Error::Redis(_) => false,
            #[cfg(feature = "s7")]
            Error::S7(_) => false,
            #[cfg(feature = "snmp")]
            Error::Snmp(_) => false,
        }
    }

    /// True for [`Error::Timeout`] and [`Error::PoolTimeout`], and for I/O errors
    /// of kind `TimedOut` or `WouldBlock` (what a socket read timeout reports).
    ///
    /// ```
    /// use edgepool::{Error, Phase};
    /// assert!(Error::Timeout(Phase::Write).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::PoolTimeout { .. } => true,
            Error::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// Maps an I/O error from a socket with timeouts set: `WouldBlock` and
    /// `TimedOut` become [`Error::Timeout`] of the given phase, the rest stay
    /// [`Error::Io`].
    ///
    /// ```
    /// use edgepool::{Error, Phase};
    /// let e = Error::from_io(std::io::ErrorKind::WouldBlock.into(), Phase::Read);
    /// assert!(matches!(e, Error::Timeout(Phase::Read)));
    /// ```
    pub fn from_io(e: io::Error, phase: Phase) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(phase),
            _ => Error::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, Phase};

    #[test]
    fn timeouts_read_as_english() {
        let cases = [
            (Phase::Connect, "timed out while connecting"),
            (Phase::TlsHandshake, "timed out during the TLS handshake"),
            (Phase::Handshake, "timed out during the protocol handshake"),
            (Phase::Read, "timed out while reading"),
            (Phase::Write, "timed out while writing"),
        ];
        for (phase, text) in cases {
            assert_eq!(Error::Timeout(phase).to_string(), text);
        }
    }
}
