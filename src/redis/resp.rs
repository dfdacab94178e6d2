//! A sans-IO RESP2 codec: [`decode`] replies, [`encode_command`] requests.
//!
//! Every length is checked against [`Limits`] before anything is allocated,
//! and nothing is allocated before the bytes it describes have arrived, so a
//! hostile length field costs nothing. Nesting is bounded too.

use crate::{Error, Result};
use std::fmt;

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
/// `Err(Error::Protocol)`: malformed or over a limit.
///
/// ```
/// use edgepool::redis::{resp, Limits, Value};
/// let l = Limits::default();
/// assert_eq!(resp::decode(b"+OK\r\n", &l)?, Some((Value::Simple("OK".into()), 5)));
/// assert_eq!(resp::decode(b"$5\r\nhel", &l)?, None);
/// assert!(resp::decode(b"?\r\n", &l).is_err());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Option<(Value, usize)>> {
    let mut pos = 0;
    match value(buf, &mut pos, limits, 0)? {
        Some(v) => Ok(Some((v, pos))),
        None => Ok(None),
    }
}

/// Longest line (`+…`, `-…`, `:…`, a length) accepted before the CRLF.
const MAX_LINE: usize = 64 * 1024;

fn bad(msg: impl Into<String>) -> Error {
    Error::Protocol(crate::ProtocolError::Other(msg.into()))
}

/// Finds the line starting at `*pos` (after the type byte); returns it without
/// the CRLF and moves `pos` past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>> {
    let rest = &buf[*pos..];
    let window = &rest[..rest.len().min(MAX_LINE + 2)];
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) if rest[i] == b'\n' => Err(bad("LF inside a line")),
        Some(i) => {
            if i + 1 >= rest.len() {
                return Ok(None);
            }
            if rest[i + 1] != b'\n' {
                return Err(bad("CR not followed by LF"));
            }
            *pos += i + 2;
            Ok(Some(&rest[..i]))
        }
        None if rest.len() > MAX_LINE => Err(bad("line too long")),
        None => Ok(None),
    }
}

fn int(line: &[u8]) -> Result<i64> {
    std::str::from_utf8(line)
        .ok()
        .filter(|s| !s.is_empty() && !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| bad(format!("bad integer {:?}", String::from_utf8_lossy(line))))
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn value(buf: &[u8], pos: &mut usize, limits: &Limits, depth: usize) -> Result<Option<Value>> {
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
        b'$' => {
            let n = int(head)?;
            if n == -1 {
                Value::Nil
            } else {
                let n = usize::try_from(n).map_err(|_| bad(format!("bad bulk length {n}")))?;
                if n > limits.max_bulk {
                    return Err(bad(format!(
                        "bulk string of {n} bytes over the limit of {}",
                        limits.max_bulk
                    )));
                }
                let end = p
                    .checked_add(n)
                    .ok_or_else(|| bad("bulk length overflows"))?;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(bad("bulk string not followed by CRLF"));
                }
                let data = buf[p..end].to_vec();
                p = end + 2;
                Value::Bulk(data)
            }
        }
        b'*' => {
            let n = int(head)?;
            if n == -1 {
                Value::Nil
            } else {
                let n = usize::try_from(n).map_err(|_| bad(format!("bad array length {n}")))?;
                if n > limits.max_array {
                    return Err(bad(format!(
                        "array of {n} elements over the limit of {}",
                        limits.max_array
                    )));
                }
                if depth >= limits.max_depth {
                    return Err(bad(format!(
                        "arrays nested deeper than {}",
                        limits.max_depth
                    )));
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
        }
        other => return Err(bad(format!("unknown type byte 0x{other:02x}"))),
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
    fn malformed_input_is_an_error() {
        let l = Limits::default();
        for bad in [
            &b"?\r\n"[..],
            b"+OK\rX",
            b":abc\r\n",
            b":\r\n",
            b":+5\r\n",
            b":99999999999999999999\r\n",
            b"$-2\r\n",
            b"$abc\r\n",
            b"$3\r\nabcde\r\n",
            b"*-5\r\n",
            b"*1\r\n?\r\n",
            b"$3\r\nabc\n\n",
            b"+O\nK\r\n",
        ] {
            assert!(
                matches!(decode(bad, &l), Err(Error::Protocol(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn limits_are_checked_before_allocating() {
        let l = Limits::default();
        // Hostile lengths: refused at once, nothing allocated.
        assert!(decode(b"$9223372036854775807\r\n", &l).is_err());
        assert!(decode(b"$536870913\r\n", &l).is_err());
        assert!(decode(b"*1000001\r\n", &l).is_err());
        assert!(decode(b"*9223372036854775807\r\n", &l).is_err());
        // Within the limits but not here yet: need more, no allocation of the size.
        assert_eq!(decode(b"$536870912\r\n", &l).unwrap(), None);
        assert_eq!(decode(b"*1000000\r\n:1\r\n", &l).unwrap(), None);
        let small = Limits::default().max_bulk(4).max_array(2).max_depth(2);
        assert!(decode(b"$5\r\nhello\r\n", &small).is_err());
        assert!(decode(b"*3\r\n:1\r\n:2\r\n:3\r\n", &small).is_err());
        assert!(decode(b"*1\r\n*1\r\n*1\r\n:1\r\n", &small).is_err());
        assert!(decode(b"*1\r\n*1\r\n:1\r\n", &small).unwrap().is_some());
        // Deep nesting does not overflow the stack.
        let deep = b"*1\r\n".repeat(100_000);
        assert!(decode(&deep, &l).is_err());
        // A line that never ends is refused once it is too long.
        let mut long = b"+".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        assert!(decode(&long, &l).is_err());
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
