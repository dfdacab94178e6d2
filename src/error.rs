//! The crate's error type.

use std::fmt;
use std::io;
use std::sync::Arc;
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

/// What about the peer's bytes broke the protocol, inside an
/// [`Error::Protocol`]: one variant per codec, each a small enum to match on,
/// and `Other` for what no codec names.
///
/// ```
/// use edgepool::{Error, ProtocolError};
/// let e = Error::Protocol("answer for request 7 while waiting for 8".into());
/// assert!(matches!(e, Error::Protocol(ProtocolError::Other(_))));
/// assert_eq!(e.to_string(), "protocol error: answer for request 7 while waiting for 8");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A fault no codec enum names, in words.
    #[error("{0}")]
    Other(String),
    /// A malformed SNMP datagram (BER, v1/v2c or SNMPv3 framing).
    #[cfg(feature = "snmp")]
    #[error("SNMP: {0}")]
    Ber(crate::snmp::BerError),
    /// The ISO-on-TCP framing (TPKT, COTP) of an S7 connection broke.
    #[cfg(feature = "s7")]
    #[error("ISO-on-TCP: {0}")]
    Iso(crate::s7::IsoError),
    /// An S7 PDU that does not hold together, or answers another request.
    #[cfg(feature = "s7")]
    #[error("S7: {0}")]
    S7Pdu(crate::s7::PduError),
    /// Malformed RESP2 from a Redis server, or a reply over the
    /// configured [`Limits`](crate::redis::Limits).
    #[cfg(feature = "redis")]
    #[error("RESP: {0}")]
    Resp(crate::redis::RespError),
    /// A tunnel pool's wire format: the connection ID.
    #[cfg(feature = "tunnel")]
    #[error("tunnel: {0}")]
    Tunnel(crate::tunnel::WireError),
}

/// `From` each codec's error into [`ProtocolError`] and [`Error`], so that
/// `?` converts it; each only with its feature.
macro_rules! from_codec_errors {
    ($($feature:literal: $variant:ident($ty:ty)),* $(,)?) => {$(
        #[cfg(feature = $feature)]
        impl From<$ty> for ProtocolError {
            fn from(e: $ty) -> Self {
                ProtocolError::$variant(e)
            }
        }

        #[cfg(feature = $feature)]
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Protocol(ProtocolError::$variant(e))
            }
        }
    )*};
}

from_codec_errors! {
    "snmp": Ber(crate::snmp::BerError),
    "s7": Iso(crate::s7::IsoError),
    "s7": S7Pdu(crate::s7::PduError),
    "redis": Resp(crate::redis::RespError),
    "tunnel": Tunnel(crate::tunnel::WireError),
}

impl From<String> for ProtocolError {
    fn from(msg: String) -> Self {
        ProtocolError::Other(msg)
    }
}

impl From<&str> for ProtocolError {
    fn from(msg: &str) -> Self {
        ProtocolError::Other(msg.to_owned())
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
    /// No pooled connection became available within the acquire timeout:
    /// the target answers, but every connection stayed in use (or, with
    /// [`PoolBuilder::fail_fast(false)`](crate::PoolBuilder::fail_fast), the
    /// target stayed down for the whole wait).
    #[error("{}", pool_timeout_message(*.waited, .last_error.as_deref()))]
    PoolTimeout {
        /// How long the caller waited.
        waited: Duration,
        /// The last error seen while opening or probing a connection for this
        /// pool, if any.
        last_error: Option<String>,
    },
    /// The pool's target is down: the last connect failed, no connection is
    /// idle, and the next connect attempt is not due yet (or the background
    /// attempt that tests the target is under way). Returned at once instead of waiting out the
    /// acquire timeout; the caller that made the failed attempt gets it too.
    #[error("target unavailable (next connect attempt in {retry_in:?}): {last_error}")]
    Unavailable {
        /// Why the last connect failed.
        #[source]
        last_error: Arc<Error>,
        /// When the pool dials the target again, counted from the moment the
        /// error was made (zero: an attempt is under way now).
        retry_in: Duration,
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
    Protocol(ProtocolError),
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
    #[cfg(feature = "redis")]
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
    /// error, a timeout, a TLS failure, a failed probe, or a stream out of
    /// step ([`Error::Protocol`]). The pool discards such connections; errors
    /// in a well-framed answer (a server's error reply, an
    /// [`Error::UnexpectedAnswer`]) keep them.
    ///
    /// ```
    /// use edgepool::{Error, Phase, ProtocolError};
    /// assert!(Error::Timeout(Phase::Read).is_transport());
    /// let late = ProtocolError::Other("answer for request 7 while waiting for 8".into());
    /// assert!(Error::Protocol(late).is_transport());
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
            | Error::Unavailable { .. }
            | Error::Closed
            | Error::Config(_)
            | Error::Auth(_)
            | Error::UnexpectedAnswer(_) => false,
            #[cfg(feature = "redis")]
            Error::Redis(_) => false,
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

    /// True for a failed connect that no retry can fix until someone changes
    /// a setting or the peer's configuration: refused credentials
    /// ([`Error::Auth`]), an invalid setting ([`Error::Config`]), a TLS
    /// certificate the client rejected, a host name that does not exist
    /// (unlike a name server that did not answer, which may answer later).
    /// A pool returns such an error, typed, from the first checkout on.
    ///
    /// ```
    /// use edgepool::{Error, Phase};
    /// assert!(Error::Auth("WRONGPASS".into()).is_permanent());
    /// assert!(!Error::Timeout(Phase::Connect).is_permanent());
    /// let no_such_host = std::io::Error::other("no-such.invalid:161: failed to lookup address information: Name or service not known");
    /// assert!(Error::Io(no_such_host).is_permanent());
    /// let dns_down = std::io::Error::other("plc.local:102: failed to lookup address information: Temporary failure in name resolution");
    /// assert!(!Error::Io(dns_down).is_permanent());
    /// ```
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Auth(_) | Error::Config(_) => true,
            Error::Tls(e) => is_certificate_rejection(&e.to_string()),
            Error::Io(e) => is_unknown_host(&e.to_string()),
            _ => false,
        }
    }

    /// A copy for a second caller: the same variant and message (an I/O
    /// error keeps its kind; a TLS error keeps its message).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
            Error::Timeout(p) => Error::Timeout(*p),
            Error::PoolTimeout { waited, last_error } => Error::PoolTimeout {
                waited: *waited,
                last_error: last_error.clone(),
            },
            Error::Unavailable {
                last_error,
                retry_in,
            } => Error::Unavailable {
                last_error: last_error.clone(),
                retry_in: *retry_in,
            },
            Error::Closed => Error::Closed,
            Error::Config(m) => Error::Config(m.clone()),
            Error::Tls(e) => Error::Tls(Box::new(io::Error::other(e.to_string()))),
            Error::Unhealthy(m) => Error::Unhealthy(m.clone()),
            Error::Protocol(m) => Error::Protocol(m.clone()),
            Error::UnexpectedAnswer(m) => Error::UnexpectedAnswer(m.clone()),
            Error::Auth(m) => Error::Auth(m.clone()),
            #[cfg(feature = "redis")]
            Error::Redis(m) => Error::Redis(m.clone()),
            #[cfg(feature = "s7")]
            Error::S7(e) => Error::S7(e.clone()),
            #[cfg(feature = "snmp")]
            Error::Snmp(e) => Error::Snmp(e.clone()),
        }
    }
}

/// The resolver's word for a name that does not exist (glibc's and musl's
/// `gai_strerror` texts for EAI_NONAME / EAI_NODATA, and macOS's), as
/// opposed to EAI_AGAIN ("Temporary failure in name resolution").
fn is_unknown_host(message: &str) -> bool {
    [
        "Name or service not known",
        "No address associated with hostname",
        "Name does not resolve",
        "nodename nor servname provided",
        "the name resolved to no address",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// A TLS failure because the client did not accept the server's
/// certificate (OpenSSL's and rustls's wording).
fn is_certificate_rejection(message: &str) -> bool {
    [
        "certificate verify failed",
        "invalid peer certificate",
        "certificate is not valid",
    ]
    .iter()
    .any(|m| message.contains(m))
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
