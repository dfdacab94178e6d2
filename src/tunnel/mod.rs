//! Pre-warmed tunnel connection pools with connection IDs, compatible with
//! the NodePass pool: [`ClientPool`] keeps a stock of connections dialled to a
//! [`ServerPool`], and both ends name each connection by the ID the server
//! gave it, so that a control channel can say "use connection 3fa2c01b".
//!
//! # Wire format
//!
//! Right after the TCP connect (and the TLS handshake, when TLS is on) the
//! **server** writes the connection ID: by default **4 bytes**, as NodePass's
//! pool has sent them since mid-2025 ([`IdFormat::Bytes`]); or the same ID as
//! **8 ASCII hex characters**, as it did before ([`IdFormat::Hex`]; both ends
//! must be set alike). The first connection the server stocks gets
//! [`ConnId::CONTROL`] (`00000000`): NodePass uses it as the control channel
//! on both ends. Every other ID is random, from the OS random number
//! generator (the `getrandom` crate). The client reads exactly the ID's bytes
//! under one deadline with the TCP connect and the TLS handshake (the
//! client's `connect_timeout`, default 10 s; the server's `connect_timeout`,
//! also 10 s, bounds each accepted connection's TLS handshake and ID). Both ends show the ID as 8 lowercase
//! hex characters ([`ConnId`]'s `Display`). Nothing else is sent by the
//! pool: after the ID, the connection belongs to the application. A short
//! read, a timeout or an ID the client already holds closes that one
//! connection and nothing else.
//!
//! # Taking connections: either end may start
//!
//! Both pools offer NodePass's two ways of taking a connection, each with a
//! timeout: `get_any` takes the oldest ready connection and returns its ID
//! (the end that starts tells the other end that ID over the control
//! channel), and `get_by_id` takes the connection with a given ID (the other
//! end was told). [`ServerPool::get`] and [`ClientPool::get`] are the older
//! names of [`ServerPool::get_any`] and [`ClientPool::get_by_id`].
//!
//! # The liveness check never reads the payload
//!
//! Both pools drop stocked connections that the peer closed ([`ClientPool`]
//! at every round of its manager, so that they are redialled;
//! [`ServerPool`] when it counts or hands out its stock), and `get_any` skips
//! them. Neither ever consumes payload from a stocked connection, so bytes
//! the peer sent early stay there for the application:
//!
//! - Plain TCP: a non-blocking `MSG_PEEK` (see
//!   [`net::socket_state`](crate::net::socket_state)): end of stream, a
//!   reset or another socket error means closed; no bytes or waiting bytes
//!   mean alive (waiting bytes are the peer's payload).
//! - TLS: with the socket non-blocking, rustls reads and processes whatever
//!   records arrived, and the decrypted application data stays in rustls's
//!   buffer for the application: session tickets are absorbed, a
//!   `close_notify` (in TLS 1.3 an encrypted record that looks like
//!   application data from outside) or any alert means closed, as does the
//!   end of the TCP stream behind unread tickets, or a reset. Application
//!   data waiting means alive, even if the peer closed after sending it: the
//!   application reads the data, then the end of the stream.
//!
//! # Dynamic adjustment (client)
//!
//! The client's manager thread works in rounds, as the NodePass pool
//! documents: at the start of a round, an idle stock below 20 % of the
//! capacity shortens the interval between rounds by 100 ms (not below
//! `min_interval`), above 80 % lengthens it by 100 ms (not above
//! `max_interval`). The round then dials until the stock holds `capacity`
//! connections. At its end, the ratio of connections added in the round to
//! the capacity (as in NodePass: a round with nothing to do counts 0) below
//! 0.2 lowers the capacity by one (not below `min_capacity`), above 0.8
//! raises it by one (not above `max_capacity`). So an unused stock shrinks
//! towards `min_capacity` and a stock that is drained every round grows
//! towards `max_capacity`. A stock above a capacity that just shrank is not
//! trimmed: it is used up first. A dial failure ends the round, and the next
//! round waits for an exponential backoff with jitter (100 ms → 30 s by
//! default) instead of the interval: a server that is down is never dialled
//! in a loop.
//!
//! # TLS and NodePass compatibility
//!
//! Both pools speak TLS through rustls with the ring provider (feature
//! `tls`; the TCP and Redis pools use `native-tls`): TLS 1.3 and 1.2,
//! X25519 first, as a client and as a server ([`RustlsStream`](crate::net::RustlsStream)). A TLS dial
//! costs about a quarter of OpenSSL 3.0's client instructions (see
//! `benches/README.md`). `Verified` trusts the system's roots (found as
//! OpenSSL would: `SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's
//! bundle) plus the given CA. NodePass's TLS modes map as follows: mode 0 is [`TlsMode::Off`](crate::net::TlsMode::Off) /
//! [`ServerTls::Off`]; mode 1 (self-signed, not verified) is
//! [`TlsMode::Insecure`](crate::net::TlsMode::Insecure) /
//! [`ServerTls::SelfSigned`]; mode 2 (a real certificate, verified) is
//! [`TlsMode::Verified`](crate::net::TlsMode::Verified) / [`ServerTls::Pem`].
//! The server sends one TLS 1.3 session ticket per handshake, and each
//! [`ClientPool`] keeps one TLS configuration with its session cache, so
//! its redials to the same server resume the session (a third of a full
//! handshake's CPU); a peer that does not resume ignores the ticket.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use edgepool::tunnel::{ClientPool, ConnId, ServerPool};
//!
//! let wait = Duration::from_secs(5);
//! let server = ServerPool::builder().bind("127.0.0.1:0")?;
//! let client = ClientPool::builder(server.local_addr().to_string())
//!     .min_capacity(2)
//!     .start()?;
//!
//! // The control connection, taken by ID on the client as NodePass does.
//! let mut control_far = client.get_by_id(ConnId::CONTROL, wait)?;
//! let mut control_near = server.get_by_id(ConnId::CONTROL, wait)?;
//!
//! // The server starts: it takes any connection and tells the client its
//! // ID (here directly; a tunnel sends it over the control connection).
//! let (id, mut near) = server.get_any(wait)?;
//! let mut far = client.get_by_id(id, wait)?;
//! near.write_all(b"hello")?;
//! let mut buf = [0; 5];
//! far.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"hello");
//!
//! // The client starts, the other way round.
//! let (id, mut far) = client.get_any(wait)?;
//! let mut near = server.get_by_id(id, wait)?;
//! far.write_all(b"world")?;
//! near.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"world");
//! # let _ = (&mut control_far, &mut control_near);
//! client.close();
//! server.close();
//! # Ok::<(), edgepool::Error>(())
//! ```

mod adjust;
mod client;
mod server;
#[cfg(feature = "tls")]
mod tls;
pub(crate) mod wire;

pub use client::{ClientPool, ClientPoolBuilder};
pub use server::{ServerPool, ServerPoolBuilder, ServerTls};

/// How the server sends each connection ID: NodePass's pool since mid-2025
/// sends 4 raw bytes ([`Bytes`](IdFormat::Bytes), the default); before that
/// it sent the same ID as 8 ASCII hex characters ([`Hex`](IdFormat::Hex)).
/// Both ends must agree: set the same format on the [`ServerPoolBuilder`] and
/// the [`ClientPoolBuilder`]. A client reading the wrong format gets a
/// protocol error (hex) or IDs that match nothing, with 4 bytes left in
/// front of the payload (bytes), so the format is not guessed.
///
/// ```
/// use edgepool::tunnel::{ClientPool, IdFormat, ServerPool};
///
/// // An edgepool pair speaking the older format, as a NodePass peer from
/// // before mid-2025 does.
/// let server = ServerPool::builder().id_format(IdFormat::Hex).bind("127.0.0.1:0")?;
/// let client = ClientPool::builder(server.local_addr().to_string())
///     .id_format(IdFormat::Hex)
///     .start()?;
/// assert_eq!(IdFormat::default(), IdFormat::Bytes);
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdFormat {
    /// 4 raw bytes (NodePass's pool since mid-2025). The default.
    #[default]
    Bytes,
    /// 8 ASCII hex characters (NodePass's pool before mid-2025, pool
    /// v1.0.x); the client accepts either case.
    Hex,
}

impl IdFormat {
    /// Bytes on the wire.
    const fn len(self) -> usize {
        match self {
            IdFormat::Bytes => 4,
            IdFormat::Hex => 8,
        }
    }
}

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// What a tunnel peer got wrong on the wire: the
/// [`ProtocolError::Tunnel`](crate::ProtocolError::Tunnel) inside an
/// [`Error::Protocol`]. Each closes that one connection and nothing else.
///
/// ```
/// use edgepool::tunnel::{ConnId, WireError};
/// use edgepool::{Error, ProtocolError};
///
/// match "3fa2c01".parse::<ConnId>() {
///     Err(Error::Protocol(ProtocolError::Tunnel(WireError::NotAnId { shown, .. }))) => {
///         assert_eq!(shown, "3fa2c01")
///     }
///     other => panic!("{other:?}"),
/// }
/// let e = WireError::ShortId { got: 2, len: 4 };
/// assert_eq!(
///     e.to_string(),
///     "the server closed the connection after 2 of the 4 connection ID bytes"
/// );
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Text that should be a connection ID is not 8 hex digits: its first
    /// 16 characters (`cut` when there were more).
    #[error("a connection ID is 8 hex digits, not {shown:?}{}", if *cut { "…" } else { "" })]
    NotAnId {
        /// The text's first 16 characters.
        shown: String,
        /// Whether the text was longer.
        cut: bool,
    },
    /// With [`IdFormat::Hex`], the server sent these 8 bytes, which are not
    /// 8 hex characters.
    #[error("the server sent {0:02x?} where 8 hex characters (the connection ID) belong")]
    HexId([u8; 8]),
    /// The server closed the connection after `got` of the `len` ID bytes.
    #[error("the server closed the connection after {got} of the {len} connection ID bytes")]
    ShortId {
        /// ID bytes received.
        got: usize,
        /// ID bytes expected (4 or 8).
        len: usize,
    },
    /// The server sent an ID the client already holds; the client closed
    /// the second connection.
    #[error("the server sent connection ID {0} twice; closed the second connection")]
    DuplicateId(ConnId),
    /// The server drew 8 random IDs and every one was in use.
    #[error("no unused connection ID in 8 draws")]
    NoFreeId,
}

/// Longest wait a `get` passes to the OS (deadline arithmetic on
/// `Duration::MAX` would overflow).
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// A connection ID: the 4 bytes the server sends first on every pooled
/// connection, shown as 8 lowercase hex characters.
///
/// Parsing accepts exactly 8 hex digits in either case; anything else gives
/// [`Error::Protocol`] (an ID usually arrives over a control channel from the
/// peer).
///
/// ```
/// use edgepool::tunnel::ConnId;
///
/// let id: ConnId = "3fa2c01b".parse()?;
/// assert_eq!(id.to_bytes(), [0x3f, 0xa2, 0xc0, 0x1b]);
/// assert_eq!(id.to_string(), "3fa2c01b");
/// assert_eq!(ConnId::from_bytes([0xde, 0xad, 0xbe, 0xef]).to_string(), "deadbeef");
/// assert_eq!("3FA2C01B".parse::<ConnId>()?, id);
/// assert!("3fa2c01".parse::<ConnId>().is_err());
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId([u8; 4]);

impl ConnId {
    /// `00000000`: the ID of the control connection. A [`ServerPool`] gives
    /// it to the first connection it stocks (and again to the next one while
    /// the control connection has not been taken and none in stock holds
    /// it); NodePass uses that connection as its control channel on both
    /// ends, the client taking it with
    /// [`ClientPool::get_by_id`]`(ConnId::CONTROL, …)`. Random IDs are never
    /// `00000000`.
    ///
    /// ```
    /// # use edgepool::tunnel::ConnId;
    /// assert_eq!(ConnId::CONTROL.to_string(), "00000000");
    /// ```
    pub const CONTROL: ConnId = ConnId([0; 4]);

    /// The ID made of these 4 bytes, as they appear on the wire.
    ///
    /// ```
    /// # use edgepool::tunnel::ConnId;
    /// assert_eq!(ConnId::from_bytes([0, 0, 0, 1]).to_string(), "00000001");
    /// ```
    pub const fn from_bytes(bytes: [u8; 4]) -> ConnId {
        ConnId(bytes)
    }

    /// The 4 bytes of the ID, as they appear on the wire.
    ///
    /// ```
    /// # use edgepool::tunnel::ConnId;
    /// let id: ConnId = "0a0b0c0d".parse()?;
    /// assert_eq!(id.to_bytes(), [10, 11, 12, 13]);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({self})")
    }
}

impl FromStr for ConnId {
    type Err = Error;

    fn from_str(s: &str) -> Result<ConnId> {
        let invalid = || {
            let shown: String = s.chars().take(16).collect();
            Error::Protocol(
                WireError::NotAnId {
                    shown,
                    cut: s.chars().count() > 16,
                }
                .into(),
            )
        };
        let digits = s.as_bytes();
        if digits.len() != 8 {
            return Err(invalid());
        }
        let mut bytes = [0u8; 4];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(invalid());
            };
            *byte = hi << 4 | lo;
        }
        Ok(ConnId(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_8_lowercase_hex_digits_and_parse_back() {
        let cases: [([u8; 4], &str); 4] = [
            ([0, 0, 0, 0], "00000000"),
            ([0xff, 0xff, 0xff, 0xff], "ffffffff"),
            ([0x3f, 0xa2, 0xc0, 0x1b], "3fa2c01b"),
            ([0x01, 0x23, 0xab, 0xcd], "0123abcd"),
        ];
        for (bytes, text) in cases {
            let id = ConnId::from_bytes(bytes);
            assert_eq!(id.to_string(), text);
            assert_eq!(text.parse::<ConnId>().unwrap(), id);
            assert_eq!(text.to_uppercase().parse::<ConnId>().unwrap(), id);
            assert_eq!(format!("{id:?}"), format!("ConnId({text})"));
        }
    }

    #[test]
    fn malformed_ids_are_protocol_errors() {
        for bad in [
            "",
            "3fa2c01",
            "3fa2c01b0",
            "3fa2c01g",
            " 3fa2c01",
            "3fa2c0é",
            "3fa2c0😀",
            "+3fa2c01",
        ] {
            match bad.parse::<ConnId>() {
                Err(Error::Protocol(msg)) => {
                    assert!(msg.to_string().contains("8 hex digits"), "{msg}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let long = "x".repeat(10_000);
        let msg = long.parse::<ConnId>().unwrap_err().to_string();
        assert!(
            msg.len() < 100,
            "the message quotes a bounded prefix: {msg}"
        );
    }
}
