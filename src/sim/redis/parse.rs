//! The request parser: multibulk and inline requests.

use super::{MAX_INLINE, MAX_REQUEST};
use crate::redis::resp::Limits;

/// What [`Parser::step`] found at the front of the buffer.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    /// Nothing complete yet: read more.
    More,
    /// These bytes were consumed (a parsed argument, an empty request).
    Used(usize),
    /// A whole request: the bytes consumed by this step and its arguments.
    Request(usize, Vec<Vec<u8>>),
}

/// An incremental request parser: multibulk (`*N` then `$len` arguments, as
/// clients send) or inline (a line of words, as telnet sends). Arguments are
/// consumed as they arrive, so a large request is parsed in linear time.
#[derive(Default)]
pub(super) struct Parser {
    /// Arguments still expected by the multibulk request in progress.
    left: usize,
    args: Vec<Vec<u8>>,
    arg_bytes: usize,
}

impl Parser {
    pub(super) fn step(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> std::result::Result<Step, String> {
        if self.left > 0 {
            return self.bulk(buf, limits);
        }
        match buf.first() {
            None => Ok(Step::More),
            Some(b'*') => {
                let Some((line, used)) = length_line(buf, "too big mbulk count string")? else {
                    return Ok(Step::More);
                };
                let n = parse_int(line).ok_or("invalid multibulk length")?;
                // Redis skips `*0` and `*-1`.
                if n <= 0 {
                    return Ok(Step::Used(used));
                }
                // (Too big for usize on a 32-bit target is too big, not a skip.)
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= limits.max_array)
                    .ok_or("invalid multibulk length")?;
                self.left = n;
                self.args = Vec::with_capacity(self.left.min(64));
                self.arg_bytes = 0;
                Ok(Step::Used(used))
            }
            Some(_) => inline(buf),
        }
    }

    fn bulk(&mut self, buf: &[u8], limits: &Limits) -> std::result::Result<Step, String> {
        let Some(&kind) = buf.first() else {
            return Ok(Step::More);
        };
        if kind != b'$' {
            return Err(format!("expected '$', got '{}'", char::from(kind)));
        }
        let Some((line, start)) = length_line(buf, "too big bulk count string")? else {
            return Ok(Step::More);
        };
        let len = parse_int(line)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.max_bulk)
            .ok_or("invalid bulk length")?;
        if self.arg_bytes + len > MAX_REQUEST {
            return Err(format!("request over {} MiB", MAX_REQUEST >> 20));
        }
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(Step::More);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err("bulk string not followed by CRLF".into());
        }
        self.args.push(buf[start..end].to_vec());
        self.arg_bytes += len;
        self.left -= 1;
        if self.left > 0 {
            return Ok(Step::Used(end + 2));
        }
        Ok(Step::Request(end + 2, std::mem::take(&mut self.args)))
    }
}

/// The number after the type byte of `*N\r\n` or `$N\r\n`, and the bytes up
/// to the end of that line.
fn length_line<'a>(
    buf: &'a [u8],
    too_big: &str,
) -> std::result::Result<Option<(&'a [u8], usize)>, String> {
    let window = &buf[..buf.len().min(MAX_INLINE)];
    match window.iter().position(|&b| b == b'\r') {
        Some(i) if i + 1 < buf.len() => Ok(Some((&buf[1..i], i + 2))),
        Some(_) => Ok(None),
        None if buf.len() >= MAX_INLINE => Err(too_big.into()),
        None => Ok(None),
    }
}

/// One inline request: a line of space-separated words, with Redis's quoting
/// (`"…"` with backslash escapes, `'…'`).
fn inline(buf: &[u8]) -> std::result::Result<Step, String> {
    let window = &buf[..buf.len().min(MAX_INLINE)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_INLINE {
            return Err("too big inline request".into());
        }
        return Ok(Step::More);
    };
    let mut line = &buf[..nl];
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    let args = split_args(line).ok_or("unbalanced quotes in request")?;
    if args.is_empty() {
        return Ok(Step::Used(nl + 1));
    }
    Ok(Step::Request(nl + 1, args))
}

/// Redis's `sdssplitargs`: `None` on unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let mut quote = None; // Some(b'"') or Some(b'\'')
        loop {
            let c = line.get(i).copied();
            match (quote, c) {
                (Some(_), None) => return None,
                (None, None) => break,
                (None, Some(c)) if c.is_ascii_whitespace() => break,
                (None, Some(q @ (b'"' | b'\''))) => quote = Some(q),
                (None, Some(c)) => arg.push(c),
                (Some(q), Some(c)) if c == q => {
                    // A closing quote must end the word.
                    if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                        return None;
                    }
                    quote = None;
                }
                (Some(b'"'), Some(b'\\')) if i + 1 < line.len() => {
                    i += 1;
                    let hex = match line.get(i + 1..i + 3) {
                        Some(&[h, l]) => hex_digit(h).zip(hex_digit(l)).map(|(h, l)| h << 4 | l),
                        _ => None,
                    };
                    match (line[i], hex) {
                        (b'x', Some(h)) => {
                            arg.push(h);
                            i += 2;
                        }
                        (b'n', _) => arg.push(b'\n'),
                        (b'r', _) => arg.push(b'\r'),
                        (b't', _) => arg.push(b'\t'),
                        (b'b', _) => arg.push(0x08),
                        (b'a', _) => arg.push(0x07),
                        (other, _) => arg.push(other),
                    }
                }
                (Some(b'\''), Some(b'\\')) if line.get(i + 1) == Some(&b'\'') => {
                    i += 1;
                    arg.push(b'\'');
                }
                (Some(_), Some(c)) => arg.push(c),
            }
            i += 1;
        }
        args.push(arg);
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Redis's `string2ll`: decimal, no `+`, no leading zeros, no spaces.
pub(super) fn parse_int(b: &[u8]) -> Option<i64> {
    if b == b"0" {
        return Some(0);
    }
    if b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    // Accumulate downwards so that i64::MIN fits.
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}
