//! A sans-IO RESP2 codec: [`decode`] replies, [`encode_command`] requests.
//!
//! Every length is checked against [`Limits`] before anything is allocated,
//! and nothing is allocated before the bytes it describes have arrived, so a
//! hostile length field costs nothing. Nesting is bounded too. Malformed
//! input is a typed [`RespError`], kept apart from "need more bytes"
//! (`Ok(None)`).

use std::fmt;

#[cfg(doc)]
use crate::{Error, ProtocolError};

/// What is wrong with the bytes [`decode`] was given: malformed RESP2, or a
/// value over the configured [`Limits`]. Inside the crate's error it is
/// [`Error::Protocol`]`(`[`ProtocolError::Resp`]`(..))`; `?` converts it.
///
/// ```
/// use edgepool::redis::{resp, Limits, RespError};
/// use edgepool::{Error, ProtocolError};
///
/// let l = Limits::default().max_bulk(4);
/// assert_eq!(resp::decode(b"?\r\n", &l), Err(RespError::TypeByte(b'?')));
/// assert_eq!(
///     resp::decode(b"$5\r\nhello\r\n", &l),
///     Err(RespError::BulkTooLarge { len: 5, max: 4 })
/// );
/// let e = Error::from(RespError::NewLine);
/// assert!(matches!(e, Error::Protocol(ProtocolError::Resp(RespError::NewLine))));
/// assert_eq!(e.to_string(), "protocol error: RESP: CR or LF out of place in a line");
/// assert!(e.is_transport());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RespError {
    /// A value starts with a byte that is no RESP2 type (`+ - : $ *`).
    #[error("unknown type byte 0x{0:02x}")]
    TypeByte(u8),
    /// A CR not followed by LF, or an LF without CR, in a line.
    #[error("CR or LF out of place in a line")]
    NewLine,
    /// A line (`+…`, `-…`, `:…`, a length) without CRLF within 64 KiB.
    #[error("line longer than 64 KiB")]
    LineTooLong,
    /// An integer or a length that is not a decimal `i64`.
    #[error("bad integer")]
    Integer,
    /// A bulk string length below -1 (-1 is the null bulk string).
    #[error("bad bulk string length {0}")]
    BulkLength(i64),
    /// An array length below -1 (-1 is the null array).
    #[error("bad array length {0}")]
    ArrayLength(i64),
    /// A bulk string longer than [`Limits::max_bulk`].
    #[error("bulk string of {len} bytes over the limit of {max}")]
    BulkTooLarge {
        /// The length the peer announced.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// An array with more elements than [`Limits::max_array`].
    #[error("array of {len} elements over the limit of {max}")]
    ArrayTooLarge {
        /// The length the peer announced.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Arrays nested deeper than [`Limits::max_depth`].
    #[error("arrays nested deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A bulk string's data not followed by CRLF.
    #[error("bulk string not followed by CRLF")]
    BulkEnd,
}

/// What [`decode`] returns: a value and the bytes it took, `None` for "need
/// more bytes", or what is wrong with them.
type Decoded<T> = Result<Option<T>, RespError>;

/// A RESP2 value.
///
/// ```
/// use edgepool::redis::Value;
/// let v = Value::Bulk(b"hello".to_vec());
/// assert_eq!(v.as_bytes(), Some(&b"hello"[..]));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// A null bulk string (`$-1`) or null array (`*-1`).
    Nil,
    /// A simple string (`+OK`).
    Simple(String),
    /// An error reply (`-ERR …`); [`Client::cmd`](super::Client::cmd) turns it
    /// into [`Error::Redis`], pipelines keep it in place.
    Error(String),
    /// An integer (`:42`).
    Int(i64),
    /// A bulk string (`$5\r\nhello`), binary-safe.
    Bulk(Vec<u8>),
    /// An array (`*2\r\n…`), possibly nested.
    Array(Vec<Value>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("Nil"),
            Value::Simple(s) => write!(f, "Simple({s:?})"),
            Value::Error(s) => write!(f, "Error({s:?})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Bulk(b) => match std::str::from_utf8(b) {
                Ok(s) if b.len() <= 64 => write!(f, "Bulk({s:?})"),
                _ => write!(f, "Bulk(<{} bytes>)", b.len()),
            },
            Value::Array(a) => f.debug_tuple("Array").field(a).finish(),
        }
    }
}

impl Value {
    /// The bytes of a bulk or simple string.
    ///
    /// ```
    /// use edgepool::redis::Value;
    /// assert_eq!(Value::Simple("OK".into()).as_bytes(), Some(&b"OK"[..]));
    /// assert_eq!(Value::Nil.as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The integer of an integer reply.
    ///
    /// ```
    /// assert_eq!(edgepool::redis::Value::Int(7).as_int(), Some(7));
    /// ```
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// True for [`Value::Nil`].
    ///
    /// ```
    /// assert!(edgepool::redis::Value::Nil.is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

/// Bounds on what a reply may contain.
///
/// ```
/// use edgepool::redis::Limits;
/// let l = Limits::default();
/// assert_eq!(l.max_bulk, 512 * 1024 * 1024);
/// assert_eq!(l.max_array, 1_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest bulk string, in bytes. Defaults to 512 MiB (Redis's own limit).
    pub max_bulk: usize,
    /// Most elements in one array. Defaults to 1,000,000.
    pub max_array: usize,
    /// Deepest nesting of arrays. Defaults to 32.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_array: 1_000_000,
            max_depth: 32,
        }
    }
}

impl Limits {
    /// Sets `max_bulk`.
    ///
    /// ```
    /// let l = edgepool::redis::Limits::default().max_bulk(1 << 20);
    /// assert_eq!(l.max_bulk, 1 << 20);
    /// ```
    pub fn max_bulk(mut self, bytes: usize) -> Self {
        self.max_bulk = bytes;
        self
    }

    /// Sets `max_array`.
    ///
    /// ```
    /// let l = edgepool::redis::Limits::default().max_array(1000);
    /// assert_eq!(l.max_array, 1000);
    /// ```
    pub fn max_array(mut self, elements: usize) -> Self {
        self.max_array = elements;
        self
    }

    /// Sets `max_depth`.
    ///
    /// ```
    /// let l = edgepool::redis::Limits::default().max_depth(4);
    /// assert_eq!(l.max_depth, 4);
    /// ```
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }
}

/// Decodes one value from the front of `buf`.
///
/// `Ok(None)`: `buf` holds only part of a value; read more and call again.
/// `Ok(Some((value, used)))`: a value and how many bytes it took.
/// `Err(`[`RespError`]`)`: malformed or over a limit (`?` makes it an
/// [`Error::Protocol`]).
///
/// ```
/// use edgepool::redis::{resp, Limits, RespError, Value};
/// let l = Limits::default();
/// assert_eq!(resp::decode(b"+OK\r\n", &l)?, Some((Value::Simple("OK".into()), 5)));
/// assert_eq!(resp::decode(b"$5\r\nhel", &l)?, None);
/// assert_eq!(resp::decode(b"?\r\n", &l), Err(RespError::TypeByte(b'?')));
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode(buf: &[u8], limits: &Limits) -> Decoded<(Value, usize)> {
    let mut pos = 0;
    match value(buf, &mut pos, limits, 0)? {
        Some(v) => Ok(Some((v, pos))),
        None => Ok(None),
    }
}

/// Longest line (`+…`, `-…`, `:…`, a length) accepted before the CRLF.
const MAX_LINE: usize = 64 * 1024;

/// Finds the line starting at `*pos` (after the type byte); returns it without
/// the CRLF and moves `pos` past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Decoded<&'a [u8]> {
    let rest = &buf[*pos..];
    // A CR at index MAX_LINE at the latest: a longer line is refused
    // whether or not its CRLF has arrived, so a prefix of the bytes never
    // gives a different answer than the whole.
    let window = &rest[..rest.len().min(MAX_LINE + 1)];
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) if rest[i] == b'\n' => Err(RespError::NewLine),
        Some(i) => {
            if i + 1 >= rest.len() {
                return Ok(None);
            }
            if rest[i + 1] != b'\n' {
                return Err(RespError::NewLine);
            }
            *pos += i + 2;
            Ok(Some(&rest[..i]))
        }
        None if rest.len() > MAX_LINE => Err(RespError::LineTooLong),
        None => Ok(None),
    }
}

fn int(line: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(line)
        .ok()
        .filter(|s| !s.is_empty() && !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(RespError::Integer)
}

/// A bulk or array length: -1 is `None` (null), anything else below 0 is
/// `bad(n)`, above `max` is `too_large(n)`.
fn length(
    n: i64,
    max: usize,
    bad: fn(i64) -> RespError,
    too_large: fn(u64, usize) -> RespError,
) -> Result<Option<usize>, RespError> {
    if n == -1 {
        return Ok(None);
    }
    let wide = u64::try_from(n).map_err(|_| bad(n))?;
    match usize::try_from(wide) {
        Ok(len) if len <= max => Ok(Some(len)),
        _ => Err(too_large(wide, max)),
    }
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn value(buf: &[u8], pos: &mut usize, limits: &Limits, depth: usize) -> Decoded<Value> {
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let mut p = *pos + 1;
    let Some(head) = line(buf, &mut p)? else {
        return Ok(None);
    };
    let v = match kind {
        b'+' => Value::Simple(text(head)),
        b'-' => Value::Error(text(head)),
        b':' => Value::Int(int(head)?),
        b'$' => match length(
            int(head)?,
            limits.max_bulk,
            RespError::BulkLength,
            |len, max| RespError::BulkTooLarge { len, max },
        )? {
            None => Value::Nil,
            Some(n) => {
                // Only a limit near usize::MAX lets p + n overflow: too large.
                let too_large = RespError::BulkTooLarge {
                    len: n as u64,
                    max: limits.max_bulk,
                };
                let end = p.checked_add(n).ok_or(too_large)?;
                if buf.len().saturating_sub(2) < end {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(RespError::BulkEnd);
                }
                let data = buf[p..end].to_vec();
                p = end + 2;
                Value::Bulk(data)
            }
        },
        b'*' => match length(
            int(head)?,
            limits.max_array,
            RespError::ArrayLength,
            |len, max| RespError::ArrayTooLarge { len, max },
        )? {
            None => Value::Nil,
            Some(n) => {
                if depth >= limits.max_depth {
                    return Err(RespError::TooDeep {
                        max: limits.max_depth,
                    });
                }
                // Each element takes at least 3 bytes: allocate for what is here.
                let mut items = Vec::with_capacity(n.min((buf.len() - p) / 3));
                for _ in 0..n {
                    match value(buf, &mut p, limits, depth + 1)? {
                        Some(v) => items.push(v),
                        None => return Ok(None),
                    }
                }
                Value::Array(items)
            }
        },
        other => return Err(RespError::TypeByte(other)),
    };
    *pos = p;
    Ok(Some(v))
}

/// Appends a command (an array of bulk strings) to `out`.
///
/// ```
/// let mut out = Vec::new();
/// edgepool::redis::resp::encode_command(&["SET", "k", "v"], &mut out);
/// assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
/// ```
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    header(b'*', args.len(), out);
    for a in args {
        let a = a.as_ref();
        header(b'$', a.len(), out);
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `value` to `out` in RESP2.
///
/// ```
/// use edgepool::redis::{resp, Value};
/// let mut out = Vec::new();
/// resp::encode(&Value::Array(vec![Value::Int(1), Value::Nil]), &mut out);
/// assert_eq!(out, b"*2\r\n:1\r\n$-1\r\n");
/// ```
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
        Value::Simple(s) => simple(b'+', s, out),
        Value::Error(s) => simple(b'-', s, out),
        Value::Int(i) => {
            out.push(b':');
            out.extend_from_slice(i.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Value::Bulk(b) => {
            header(b'$', b.len(), out);
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Value::Array(items) => {
            header(b'*', items.len(), out);
            for v in items {
                encode(v, out);
            }
        }
    }
}

fn simple(kind: u8, s: &str, out: &mut Vec<u8>) {
    out.push(kind);
    // A CR or LF would end the line early: replace them.
    out.extend(
        s.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn header(kind: u8, n: usize, out: &mut Vec<u8>) {
    out.push(kind);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ProtocolError};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn arr(v: Vec<Value>) -> Value {
        Value::Array(v)
    }
    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    /// Golden replies: the bytes redis-server 7.0.15 (Debian 12) sent for
    /// commands written to a raw socket, and the RESP spec's examples.
    fn golden() -> Vec<(&'static str, Vec<u8>, Value)> {
        vec![
            ("PING", b"+PONG\r\n".to_vec(), Value::Simple("PONG".into())),
            ("SET", b"+OK\r\n".to_vec(), Value::Simple("OK".into())),
            (
                "unknown command",
                b"-ERR unknown command 'FOO', with args beginning with: \r\n".to_vec(),
                Value::Error("ERR unknown command 'FOO', with args beginning with: ".into()),
            ),
            (
                "WRONGTYPE",
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".to_vec(),
                Value::Error(
                    "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
                ),
            ),
            ("INCR", b":1000\r\n".to_vec(), Value::Int(1000)),
            ("negative", b":-42\r\n".to_vec(), Value::Int(-42)),
            (
                "i64 max",
                b":9223372036854775807\r\n".to_vec(),
                Value::Int(i64::MAX),
            ),
            (
                "GET hit",
                hex("24 35 0d 0a 68 65 6c 6c 6f 0d 0a"),
                bulk("hello"),
            ),
            ("GET empty", b"$0\r\n\r\n".to_vec(), bulk("")),
            ("GET miss", b"$-1\r\n".to_vec(), Value::Nil),
            ("null array", b"*-1\r\n".to_vec(), Value::Nil),
            ("empty array", b"*0\r\n".to_vec(), arr(vec![])),
            (
                "binary bulk",
                hex("24 34 0d 0a 00 0d 0a ff 0d 0a"),
                Value::Bulk(vec![0, b'\r', b'\n', 0xff]),
            ),
            (
                "mixed array",
                b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n".to_vec(),
                arr(vec![
                    Value::Int(1),
                    Value::Int(2),
                    Value::Int(3),
                    Value::Int(4),
                    bulk("hello"),
                ]),
            ),
            (
                "nested",
                b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n".to_vec(),
                arr(vec![
                    arr(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
                    arr(vec![
                        Value::Simple("Hello".into()),
                        Value::Error("World".into()),
                    ]),
                ]),
            ),
            (
                "null inside array",
                b"*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n".to_vec(),
                arr(vec![bulk("foo"), Value::Nil, bulk("bar")]),
            ),
            (
                "HGETALL",
                b"*2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n".to_vec(),
                arr(vec![bulk("field"), bulk("value")]),
            ),
            (
                "MGET hit and miss",
                b"*2\r\n$5\r\nhello\r\n$-1\r\n".to_vec(),
                arr(vec![bulk("hello"), Value::Nil]),
            ),
            (
                "wrong arity",
                b"-ERR wrong number of arguments for 'hset' command\r\n".to_vec(),
                Value::Error("ERR wrong number of arguments for 'hset' command".into()),
            ),
        ]
    }

    #[test]
    fn golden_vectors_decode_and_round_trip() {
        let l = Limits::default();
        for (name, bytes, want) in golden() {
            let got = decode(&bytes, &l).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, Some((want.clone(), bytes.len())), "{name}");
            // Trailing bytes of the next reply are left alone.
            let mut more = bytes.clone();
            more.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(
                decode(&more, &l).unwrap(),
                Some((want.clone(), bytes.len())),
                "{name}"
            );
            // Encoding gives the same bytes back (null arrays encode as null bulk).
            if name != "null array" {
                let mut out = Vec::new();
                encode(&want, &mut out);
                assert_eq!(out, bytes, "{name}");
            }
        }
    }

    #[test]
    fn every_truncation_needs_more_bytes() {
        let l = Limits::default();
        for (name, bytes, _) in golden() {
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut], &l).unwrap(),
                    None,
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn commands_encode_as_bulk_arrays() {
        let mut out = Vec::new();
        encode_command(&[&b"GET"[..], b"k\r\n"], &mut out);
        assert_eq!(
            out,
            hex("2a 32 0d 0a 24 33 0d 0a 47 45 54 0d 0a 24 33 0d 0a 6b 0d 0a 0d 0a")
        );
        out.clear();
        encode_command::<&str>(&[], &mut out);
        assert_eq!(out, b"*0\r\n");
        let big = vec![b'x'; 12345];
        out.clear();
        encode_command(&[&big], &mut out);
        assert!(out.starts_with(b"*1\r\n$12345\r\n"));
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        use RespError::*;
        let l = Limits::default();
        let cases: &[(&[u8], RespError)] = &[
            (b"?\r\n", TypeByte(b'?')),
            (b"+OK\rX", NewLine),
            (b"+O\nK\r\n", NewLine),
            (b":abc\r\n", Integer),
            (b":\r\n", Integer),
            (b":+5\r\n", Integer),
            (b":99999999999999999999\r\n", Integer),
            (b"$-2\r\n", BulkLength(-2)),
            (b"$abc\r\n", Integer),
            (b"$3\r\nabcde\r\n", BulkEnd),
            (b"$3\r\nabc\n\n", BulkEnd),
            (b"*-5\r\n", ArrayLength(-5)),
            (b"*1\r\n?\r\n", TypeByte(b'?')),
        ];
        for &(bytes, want) in cases {
            let got = decode(bytes, &l);
            assert_eq!(got, Err(want), "{:?}", String::from_utf8_lossy(bytes));
            // `?` into the crate's error: a protocol error, transport-fatal.
            let e = Error::from(want);
            assert!(
                matches!(e, Error::Protocol(ProtocolError::Resp(w)) if w == want),
                "{e:?}"
            );
            assert!(e.is_transport());
        }
    }

    #[test]
    fn limits_are_checked_before_allocating() {
        let l = Limits::default();
        let max = l.max_bulk;
        // Hostile lengths: refused at once, nothing allocated.
        assert_eq!(
            decode(b"$9223372036854775807\r\n", &l),
            Err(RespError::BulkTooLarge {
                len: i64::MAX as u64,
                max
            })
        );
        assert_eq!(
            decode(b"$536870913\r\n", &l),
            Err(RespError::BulkTooLarge {
                len: 536_870_913,
                max
            })
        );
        assert_eq!(
            decode(b"*1000001\r\n", &l),
            Err(RespError::ArrayTooLarge {
                len: 1_000_001,
                max: 1_000_000
            })
        );
        assert!(decode(b"*9223372036854775807\r\n", &l).is_err());
        // Within the limits but not here yet: need more, no allocation of the size.
        assert_eq!(decode(b"$536870912\r\n", &l).unwrap(), None);
        assert_eq!(decode(b"*1000000\r\n:1\r\n", &l).unwrap(), None);
        let small = Limits::default().max_bulk(4).max_array(2).max_depth(2);
        assert_eq!(
            decode(b"$5\r\nhello\r\n", &small),
            Err(RespError::BulkTooLarge { len: 5, max: 4 })
        );
        assert_eq!(
            decode(b"*3\r\n:1\r\n:2\r\n:3\r\n", &small),
            Err(RespError::ArrayTooLarge { len: 3, max: 2 })
        );
        assert_eq!(
            decode(b"*1\r\n*1\r\n*1\r\n:1\r\n", &small),
            Err(RespError::TooDeep { max: 2 })
        );
        assert!(decode(b"*1\r\n*1\r\n:1\r\n", &small).unwrap().is_some());
        // Deep nesting does not overflow the stack.
        let deep = b"*1\r\n".repeat(100_000);
        assert_eq!(decode(&deep, &l), Err(RespError::TooDeep { max: 32 }));
        // A line that never ends is refused once it is too long.
        let mut long = b"+".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        assert_eq!(decode(&long, &l), Err(RespError::LineTooLong));
        // The longest line is accepted, one byte more is refused, with or
        // without its CRLF: what a prefix says, the whole says too.
        for (len, ok) in [(MAX_LINE, true), (MAX_LINE + 1, false)] {
            let mut line = b"+".to_vec();
            line.extend(std::iter::repeat_n(b'a', len));
            line.extend_from_slice(b"\r\n");
            assert_eq!(decode(&line, &l).is_ok(), ok, "{len}");
            assert_eq!(decode(&line[..len + 2], &l).is_ok(), ok, "{len} + CR");
        }
    }

    #[test]
    fn random_input_never_panics() {
        let l = Limits::default().max_bulk(1 << 16);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"+-:$*0123456789\r\n-1abc";
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            if let Ok(Some((_, used))) = decode(&buf, &l) {
                assert!(used <= buf.len());
            }
        }
    }
}
