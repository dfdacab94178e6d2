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
/// ```
/// use edgepool::{Error, Phase};
/// let e = Error::Timeout(Phase::Connect);
/// assert_eq!(e.to_string(), "timed out while connecting");
/// assert!(e.is_transport());
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
    #[error("timed out while {0}")]
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
    /// The peer sent bytes that break the protocol (malformed framing, too
    /// large, an answer to another request): the stream is out of step, so
    /// the connection is discarded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer's answer was whole and in step, but its content is not what
    /// edgepool can use (a record too short, an empty answer, a value of the
    /// wrong kind). The connection stays usable.
    ///
    /// ```
    /// let e = edgepool::Error::UnexpectedAnswer("S7: SZL 0x0011 holds no identification record".into());
    /// assert!(!e.is_transport());
    /// ```
    #[error("unexpected answer: {0}")]
    UnexpectedAnswer(String),
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
    /// error, a timeout, a TLS failure, a failed probe, or a stream out of
    /// step ([`Error::Protocol`]). The pool discards such connections; errors
    /// in a well-framed answer (a server's error reply, an
    /// [`Error::UnexpectedAnswer`]) keep them.
    ///
    /// ```
    /// use edgepool::{Error, Phase};
    /// assert!(Error::Timeout(Phase::Read).is_transport());
    /// assert!(Error::Protocol("answer for request 7 while waiting for 8".into()).is_transport());
    /// assert!(!Error::UnexpectedAnswer("empty read answer".into()).is_transport());
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
            | Error::UnexpectedAnswer(_)
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
