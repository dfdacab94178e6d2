//! Pre-warmed tunnel connection pools with connection IDs, compatible with
//! the NodePass pool: [`ClientPool`] keeps a stock of connections dialled to a
//! [`ServerPool`], and both ends name each connection by the ID the server
//! gave it, so that a control channel can say "use connection 3fa2c01b".
//!
//! # Wire format
//!
//! Right after the TCP connect (and the TLS handshake, when TLS is on) the
//! **server** writes the connection ID: **4 random bytes** from the OS random
//! number generator (the `getrandom` crate). The client reads exactly 4 bytes
//! under a deadline (default 10 s, shared with the TLS handshake; the server
//! has the same deadline for its side). Both ends show the ID as 8 lowercase
//! hex characters ([`ConnId`]'s `Display`). Nothing else is sent by the
//! pool: after the ID, the connection belongs to the application. A short
//! read, a timeout or an ID the client already holds closes that one
//! connection and nothing else.
//!
//! # The liveness check never reads the payload
//!
//! [`ServerPool::get`] skips stocked connections that the peer closed, and
//! [`ClientPool`] drops such connections from its stock. Neither ever reads
//! from a stocked connection: the check peeks at the TCP socket without
//! blocking (`MSG_PEEK`, see [`net::socket_state`](crate::net::socket_state)),
//! so bytes the peer sent early stay in the socket for the application.
//!
//! - Plain TCP: end of stream or a socket error means closed; no bytes or
//!   waiting bytes mean alive (waiting bytes are the peer's payload).
//! - TLS: reading through TLS would consume the payload, so the check looks
//!   from outside the TLS layer. Bytes the TLS library has already decrypted
//!   (a record that carried the ID and more) mean alive. Otherwise it peeks
//!   at the raw TCP socket: end of stream or an error means closed; waiting
//!   bytes whose first byte starts a TLS *alert* record (content type 21: a
//!   `close_notify` or a fatal alert, visible up to TLS 1.2) mean closed; any
//!   other waiting record means alive. In TLS 1.3 every record looks like
//!   application data from outside, so a peer that sent `close_notify` over
//!   TLS 1.3 (and has not yet closed the socket) is only noticed by the
//!   application's first read, which returns end of stream. No byte is
//!   consumed either way.
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
//! # TLS interoperability
//!
//! The client speaks whatever the system's TLS library offers (TLS 1.3 with
//! OpenSSL), so it works with a NodePass server. The server's TLS comes from
//! `native-tls`, whose OpenSSL acceptor stops at TLS 1.2: clients that insist
//! on TLS 1.3 (the NodePass Go client does) cannot connect to a TLS
//! [`ServerPool`]. Plain TCP interoperates both ways.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use edgepool::tunnel::{ClientPool, ServerPool};
//!
//! let server = ServerPool::builder().bind("127.0.0.1:0")?;
//! let client = ClientPool::builder(server.local_addr().to_string())
//!     .min_capacity(2)
//!     .start()?;
//!
//! // The server takes a stocked connection and tells the client its ID
//! // (here directly; a tunnel sends it over its control channel).
//! let (id, mut near) = server.get(Duration::from_secs(5))?;
//! let mut far = client.get(id, Duration::from_secs(5))?;
//! near.write_all(b"hello")?;
//! let mut buf = [0; 5];
//! far.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"hello");
//! assert_eq!(id.to_string().len(), 8);
//! client.close();
//! server.close();
//! # Ok::<(), edgepool::Error>(())
//! ```

mod adjust;
mod client;
mod server;
pub(crate) mod wire;

pub use client::{ClientPool, ClientPoolBuilder};
pub use server::{ServerPool, ServerPoolBuilder, ServerTls};

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

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
            let more = if s.chars().count() > 16 { "…" } else { "" };
            Error::Protocol(format!(
                "a connection ID is 8 hex digits, not {shown:?}{more}"
            ))
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
                Err(Error::Protocol(msg)) => assert!(msg.contains("8 hex digits"), "{msg}"),
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
