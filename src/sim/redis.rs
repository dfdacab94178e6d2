//! [`RedisSim`]: a small in-memory Redis server on loopback (features `sim`
//! and `redis`).
//!
//! It speaks RESP2 (and inline commands, as typed into telnet) well enough for
//! edgepool's own [`Client`](crate::redis::Client) and for `redis-cli`:
//! `PING`, `ECHO`, `AUTH`, `SELECT` (16 databases), `GET`, `SET` (`EX`, `PX`,
//! `NX`, `XX`, `KEEPTTL`), `DEL`, `INCR`, `INCRBY`, `DECR`, `DECRBY`, `EXPIRE`
//! (`NX`, `XX`, `GT`, `LT`), `TTL`, `PTTL`, `EXISTS`, `HGET`, `HSET`,
//! `HGETALL`, `CLIENT SETNAME`/`GETNAME`, `QUIT`, `DBSIZE`, `FLUSHDB` and
//! `FLUSHALL`, with the reply shapes and error texts of redis-server 7.0.
//! Keys expire lazily, when next touched. Anything else gets Redis's
//! `unknown command` error.
//!
//! Input is bounded: 64 MiB per argument, 1,048,576 arguments and 128 MiB per
//! request, 64 KiB per inline line. Malformed input gets Redis's
//! `-ERR Protocol error: …` and the connection is closed.
//!
//! ```
//! use edgepool::redis::{Client, Config};
//! use edgepool::sim::redis::RedisSim;
//!
//! let server = RedisSim::start()?;
//! let mut c = Client::connect(&Config::from_url(&server.url())?)?;
//! c.hset("plc:1", "status", "RUN")?;
//! assert_eq!(c.hget("plc:1", "status")?.as_deref(), Some(&b"RUN"[..]));
//! # Ok::<(), edgepool::Error>(())
//! ```

use super::{lock, Faults, TcpServer};
use crate::redis::resp::{self, Limits, Value};
use crate::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Databases per server, like Redis's default `databases 16`.
const DATABASES: usize = 16;
/// Longest argument accepted (Redis allows 512 MiB).
const MAX_BULK: usize = 64 << 20;
/// Most arguments in one request (Redis's own limit).
const MAX_ARGS: usize = 1 << 20;
/// Most argument bytes in one request.
const MAX_REQUEST: usize = 128 << 20;
/// Longest inline request or length line (Redis's `PROTO_INLINE_MAX_SIZE`).
const MAX_INLINE: usize = 64 << 10;
const READ_CHUNK: usize = 16 << 10;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// An in-memory Redis server on a free loopback port, for demos and tests.
///
/// Every connection runs on its own thread; the data lives in one store
/// shared by all of them. Dropping the handle closes the port and every
/// connection. The password (see [`with_password`](RedisSim::with_password))
/// never shows in `Debug`.
///
/// ```
/// use edgepool::sim::redis::RedisSim;
/// let server = RedisSim::start()?;
/// assert!(server.url().starts_with("redis://127.0.0.1:"));
/// drop(server); // closes the port
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct RedisSim {
    shared: Arc<Shared>,
    faults: Faults,
    server: TcpServer,
}

impl RedisSim {
    /// Starts a server on 127.0.0.1 and a free port, without a password.
    ///
    /// ```
    /// use edgepool::redis::{Client, Config};
    /// let server = edgepool::sim::redis::RedisSim::start()?;
    /// let mut c = Client::connect(&Config::new(server.addr().to_string()))?;
    /// c.ping()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn start() -> Result<RedisSim> {
        Self::launch(None)
    }

    /// Starts a server that requires `password`, like `requirepass`: every
    /// command but `AUTH` and `QUIT` gets `-NOAUTH` until `AUTH password` (or
    /// `AUTH default password`) succeeds. [`url`](RedisSim::url) carries the
    /// password. An empty password is an [`Error::Config`].
    ///
    /// ```
    /// use edgepool::redis::{Client, Config};
    /// use edgepool::{sim::redis::RedisSim, Error};
    ///
    /// let server = RedisSim::with_password("s3cret")?;
    /// Client::connect(&Config::from_url(&server.url())?)?.ping()?;
    /// let wrong = Config::new(server.addr().to_string()).auth(None, "guess");
    /// assert!(matches!(Client::connect(&wrong), Err(Error::Auth(_))));
    /// assert!(!format!("{server:?}").contains("s3cret"));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn with_password(password: &str) -> Result<RedisSim> {
        if password.is_empty() {
            return Err(Error::Config(
                "the simulator's password must not be empty".into(),
            ));
        }
        Self::launch(Some(password.to_owned()))
    }

    fn launch(password: Option<String>) -> Result<RedisSim> {
        let shared = Arc::new(Shared::new(password));
        let faults = Faults::default();
        let conn_shared = Arc::clone(&shared);
        let server = TcpServer::start(
            faults.clone(),
            Arc::new(move |stream: TcpStream, faults: &Faults| serve(stream, faults, &conn_shared)),
        )?;
        Ok(RedisSim {
            shared,
            faults,
            server,
        })
    }

    /// The address the server listens on (127.0.0.1 and the port it got).
    ///
    /// ```
    /// let server = edgepool::sim::redis::RedisSim::start()?;
    /// assert!(server.addr().ip().is_loopback());
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// A URL for [`Config::from_url`](crate::redis::Config::from_url):
    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT` (the
    /// password percent-encoded) for a server with a password.
    ///
    /// ```
    /// use edgepool::sim::redis::RedisSim;
    /// let server = RedisSim::start()?;
    /// assert_eq!(server.url(), format!("redis://{}", server.addr()));
    /// let guarded = RedisSim::with_password("p@ss")?;
    /// assert_eq!(guarded.url(), format!("redis://:p%40ss@{}", guarded.addr()));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn url(&self) -> String {
        match &self.shared.password {
            Some(p) => format!("redis://:{}@{}", percent_encode(p), self.addr()),
            None => format!("redis://{}", self.addr()),
        }
    }

    /// The fault switches: stop answering, answer late, drop every open
    /// connection.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use edgepool::redis::{Client, Config};
    ///
    /// let server = edgepool::sim::redis::RedisSim::start()?;
    /// let mut c = Client::connect(&Config::from_url(&server.url())?)?;
    /// server.faults().set_delay(Duration::from_millis(30));
    /// let t = Instant::now();
    /// c.ping()?;
    /// assert!(t.elapsed() >= Duration::from_millis(30));
    /// server.faults().clear();
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Closes the port and every connection, forgets all data, waits
    /// `downtime`, then listens on the same port again. The fault switches
    /// and [`commands`](RedisSim::commands) are kept.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepool::redis::{Client, Config};
    ///
    /// let server = edgepool::sim::redis::RedisSim::start()?;
    /// let config = Config::from_url(&server.url())?;
    /// Client::connect(&config)?.set("k", "v")?;
    /// server.restart(Duration::from_millis(20))?;
    /// assert_eq!(Client::connect(&config)?.get("k")?, None);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn restart(&self, downtime: Duration) -> Result<()> {
        self.server.restart(downtime, || {
            *lock(&self.shared.store) = Store::new();
        })?;
        Ok(())
    }

    /// How many commands the server has answered so far, over all
    /// connections and restarts. Requests ignored while
    /// [silent](Faults::set_silent) do not count.
    ///
    /// ```
    /// use edgepool::redis::{Client, Config};
    /// let server = edgepool::sim::redis::RedisSim::start()?;
    /// let mut c = Client::connect(&Config::from_url(&server.url())?)?;
    /// c.ping()?;
    /// c.ping()?;
    /// assert_eq!(server.commands(), 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn commands(&self) -> u64 {
        self.shared.commands.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RedisSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSim")
            .field("addr", &self.addr())
            .field(
                "password",
                &self.shared.password.as_ref().map(|_| "<redacted>"),
            )
            .field("faults", &self.faults)
            .field("commands", &self.commands())
            .finish()
    }
}

/// Escapes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The store.

struct Shared {
    password: Option<String>,
    store: Mutex<Store>,
    commands: AtomicU64,
    limits: Limits,
}

impl Shared {
    fn new(password: Option<String>) -> Shared {
        Shared {
            password,
            store: Mutex::new(Store::new()),
            commands: AtomicU64::new(0),
            limits: Limits::default().max_bulk(MAX_BULK).max_array(MAX_ARGS),
        }
    }
}

type Db = HashMap<Vec<u8>, Entry>;

struct Store {
    dbs: Vec<Db>,
}

impl Store {
    fn new() -> Store {
        Store {
            dbs: (0..DATABASES).map(|_| Db::new()).collect(),
        }
    }
}

struct Entry {
    data: Data,
    expires: Option<Instant>,
}

enum Data {
    Str(Vec<u8>),
    Hash(Hash),
}

/// A hash that keeps insertion order, as small Redis hashes do.
#[derive(Default)]
struct Hash {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    index: HashMap<Vec<u8>, usize>,
}

impl Hash {
    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.index.get(field).map(|&i| self.fields[i].1.as_slice())
    }

    /// True when the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.index.get(field) {
            Some(&i) => {
                self.fields[i].1 = value.to_vec();
                false
            }
            None => {
                self.index.insert(field.to_vec(), self.fields.len());
                self.fields.push((field.to_vec(), value.to_vec()));
                true
            }
        }
    }
}

/// The entry under `key`, after removing it if it has expired.
fn live<'a>(db: &'a mut Db, key: &[u8], now: Instant) -> Option<&'a mut Entry> {
    if db
        .get(key)
        .is_some_and(|e| e.expires.is_some_and(|t| t <= now))
    {
        db.remove(key);
        return None;
    }
    db.get_mut(key)
}

// ---------------------------------------------------------------------------
// One connection: read, split into requests, answer in order.

struct Session {
    db: usize,
    authed: bool,
    name: Option<Vec<u8>>,
}

impl Session {
    fn new(shared: &Shared) -> Session {
        Session {
            db: 0,
            authed: shared.password.is_none(),
            name: None,
        }
    }
}

/// The state of one connection above the socket: the session and the
/// request being parsed.
struct Conn {
    session: Session,
    parser: Parser,
}

impl Conn {
    fn new(shared: &Shared) -> Conn {
        Conn {
            session: Session::new(shared),
            parser: Parser::default(),
        }
    }

    /// Parses and answers every complete request at the front of `buf`,
    /// appending the replies to `out`. Returns the bytes consumed and
    /// whether to close the connection after `out` is sent (after `QUIT` or
    /// a protocol error; the rest of `buf` is then ignored). While answers
    /// are late ([`Faults::set_delay`]) each reply is handed to `flush` at
    /// once; its error ends the connection.
    fn feed(
        &mut self,
        shared: &Shared,
        faults: &Faults,
        buf: &[u8],
        out: &mut Vec<u8>,
        flush: &mut dyn FnMut(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<(usize, bool)> {
        let mut used = 0;
        loop {
            match self.parser.step(&buf[used..], &shared.limits) {
                Ok(Step::More) => return Ok((used, false)),
                Ok(Step::Used(n)) => used += n,
                Ok(Step::Request(n, args)) => {
                    used += n;
                    if !faults.before_reply() {
                        continue;
                    }
                    let (reply, quit) = execute(shared, &mut self.session, &args);
                    shared.commands.fetch_add(1, Ordering::Relaxed);
                    resp::encode(&reply, out);
                    // Late answers go out one by one: the client sees each
                    // delay, and a closed socket ends a long pipeline early.
                    if !faults.delay().is_zero() {
                        flush(out)?;
                    }
                    if quit {
                        return Ok((used, true));
                    }
                }
                Err(why) => {
                    log::debug!("sim redis: protocol error: {why}");
                    if faults.before_reply() {
                        let reply = Value::Error(format!("ERR Protocol error: {why}"));
                        resp::encode(&reply, out);
                    }
                    return Ok((used, true));
                }
            }
        }
    }
}

/// Runs a whole client byte stream through a fresh simulator without a
/// password (empty store, no faults, no socket) and returns the bytes it
/// answers, up to where it would close the connection. For fuzzing: it is
/// the code a connection runs, minus the socket.
///
/// ```
/// use edgepool::sim::redis::fuzz_session;
/// assert_eq!(fuzz_session(b"*1\r\n$4\r\nPING\r\n"), b"+PONG\r\n");
/// ```
#[doc(hidden)]
pub fn fuzz_session(input: &[u8]) -> Vec<u8> {
    let shared = Shared::new(None);
    let mut out = Vec::new();
    let mut no_flush = |_: &mut Vec<u8>| Ok(());
    let _ = Conn::new(&shared).feed(&shared, &Faults::default(), input, &mut out, &mut no_flush);
    out
}

fn serve(mut stream: TcpStream, faults: &Faults, shared: &Shared) {
    let mut conn = Conn::new(shared);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let len = buf.len();
        buf.resize(len + READ_CHUNK, 0);
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(_) => return,
        };
        buf.truncate(len + n);
        let mut flush = |out: &mut Vec<u8>| {
            stream.write_all(out)?;
            out.clear();
            Ok(())
        };
        let Ok((used, close)) = conn.feed(shared, faults, &buf, &mut out, &mut flush) else {
            return;
        };
        buf.drain(..used);
        if buf.is_empty() && buf.capacity() > 1 << 20 {
            buf = Vec::with_capacity(READ_CHUNK); // after a large request
        }
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            linger(stream);
            return;
        }
    }
}

/// Closes after a last reply: shuts the write side, then reads and discards
/// what the client still sends (a little while, a bounded amount), so that
/// unread input does not turn the close into a reset that loses the reply.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let end = Instant::now() + Duration::from_millis(200);
    let mut sink = [0u8; 4096];
    let mut left = 1usize << 20;
    while left > 0 {
        let wait = end.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// What [`Parser::step`] found at the front of the buffer.
#[derive(Debug, PartialEq)]
enum Step {
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
struct Parser {
    /// Arguments still expected by the multibulk request in progress.
    left: usize,
    args: Vec<Vec<u8>>,
    arg_bytes: usize,
}

impl Parser {
    fn step(&mut self, buf: &[u8], limits: &Limits) -> std::result::Result<Step, String> {
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
                let Ok(n @ 1..) = usize::try_from(n) else {
                    return Ok(Step::Used(used));
                };
                if n > limits.max_array {
                    return Err("invalid multibulk length".into());
                }
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
fn parse_int(b: &[u8]) -> Option<i64> {
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

// ---------------------------------------------------------------------------
// Commands.

fn err(msg: impl Into<String>) -> Value {
    Value::Error(msg.into())
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

/// Redis's arity: `n` exactly `n` arguments (with the name), `-n` at least `n`.
fn arity(name: &[u8]) -> Option<i64> {
    Some(match name {
        b"ping" | b"quit" | b"flushdb" | b"flushall" => -1,
        b"dbsize" => 1,
        b"echo" | b"select" | b"get" | b"incr" | b"decr" | b"ttl" | b"pttl" | b"hgetall" => 2,
        b"incrby" | b"decrby" | b"hget" => 3,
        b"auth" | b"del" | b"exists" | b"client" => -2,
        b"set" | b"expire" => -3,
        b"hset" => -4,
        _ => return None,
    })
}

fn arity_ok(arity: i64, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

fn wrong_args(name: &str) -> Value {
    err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's text: the name and the first arguments, about 128 bytes of each.
fn unknown_command(args: &[Vec<u8>]) -> Value {
    let (name, rest) = args
        .split_first()
        .map_or((&[][..], &[][..]), |(n, r)| (n.as_slice(), r));
    let name = &name[..name.len().min(128)];
    let mut shown = String::new();
    for a in rest {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push_str(&format!("'{}' ", lossy(&a[..a.len().min(room)])));
    }
    err(format!(
        "ERR unknown command '{}', with args beginning with: {shown}",
        lossy(name)
    ))
}

/// Answers one request; `true` closes the connection after the reply.
fn execute(shared: &Shared, s: &mut Session, args: &[Vec<u8>]) -> (Value, bool) {
    let Some(first) = args.first() else {
        return (err("ERR empty request"), false);
    };
    let name = first.to_ascii_lowercase();
    let Some(arity) = arity(&name) else {
        return (unknown_command(args), false);
    };
    if !arity_ok(arity, args.len()) {
        return (wrong_args(&lossy(&name)), false);
    }
    if name == b"client" {
        let sub = args[1].to_ascii_lowercase();
        let want = match sub.as_slice() {
            b"setname" => 3,
            b"getname" => 2,
            _ => {
                let msg = format!(
                    "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                    lossy(&args[1][..args[1].len().min(128)])
                );
                return (err(msg), false);
            }
        };
        if args.len() != want {
            return (wrong_args(&format!("client|{}", lossy(&sub))), false);
        }
    }
    if !s.authed && name != b"auth" && name != b"quit" {
        return (err(NOAUTH), false);
    }
    let reply = match name.as_slice() {
        b"ping" => match args {
            [_] => Value::Simple("PONG".into()),
            [_, msg] => Value::Bulk(msg.clone()),
            _ => wrong_args("ping"),
        },
        b"echo" => Value::Bulk(args[1].clone()),
        b"quit" => return (ok(), true),
        b"auth" => auth(shared, s, args),
        b"select" => select(s, &args[1]),
        b"client" => client(s, args),
        b"flushall" => flush_mode(args).map_or_else(
            |e| e,
            |()| {
                *lock(&shared.store) = Store::new();
                ok()
            },
        ),
        _ => {
            let mut store = lock(&shared.store);
            let db = &mut store.dbs[s.db];
            data_command(db, &name, args, Instant::now()).unwrap_or_else(|e| e)
        }
    };
    (reply, false)
}

fn auth(shared: &Shared, s: &mut Session, args: &[Vec<u8>]) -> Value {
    let (user, pass) = match args {
        [_, pass] => (None, pass),
        [_, user, pass] => (Some(user.as_slice()), pass),
        _ => return err(SYNTAX),
    };
    let default_user = user.is_none_or(|u| u == b"default");
    match &shared.password {
        None if user.is_none() => err(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ),
        // Without a password the default user accepts any password.
        None if default_user => ok(),
        Some(p) if default_user && p.as_bytes() == pass.as_slice() => {
            s.authed = true;
            ok()
        }
        _ => err(WRONGPASS),
    }
}

fn select(s: &mut Session, arg: &[u8]) -> Value {
    let Some(n) = parse_int(arg) else {
        return err(NOT_INT);
    };
    if i32::try_from(n).is_err() {
        return err("ERR value is out of range, value must between -2147483648 and 2147483647");
    }
    match usize::try_from(n) {
        Ok(db) if db < DATABASES => {
            s.db = db;
            ok()
        }
        _ => err("ERR DB index is out of range"),
    }
}

fn client(s: &mut Session, args: &[Vec<u8>]) -> Value {
    if args[1].eq_ignore_ascii_case(b"getname") {
        return s.name.clone().map_or(Value::Nil, Value::Bulk);
    }
    let name = &args[2];
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    s.name = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    ok()
}

/// A reply, or an error reply as `Err` (so that `?` answers early).
type Reply = std::result::Result<Value, Value>;

impl Entry {
    fn string(&self) -> std::result::Result<&[u8], Value> {
        match &self.data {
            Data::Str(v) => Ok(v),
            Data::Hash(_) => Err(err(WRONGTYPE)),
        }
    }

    fn hash(&mut self) -> std::result::Result<&mut Hash, Value> {
        match &mut self.data {
            Data::Hash(h) => Ok(h),
            Data::Str(_) => Err(err(WRONGTYPE)),
        }
    }
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The commands that touch the selected database.
fn data_command(db: &mut Db, name: &[u8], args: &[Vec<u8>], now: Instant) -> Reply {
    let key = args.get(1).map_or(&[][..], Vec::as_slice);
    Ok(match name {
        b"get" => match live(db, key, now) {
            None => Value::Nil,
            Some(e) => Value::Bulk(e.string()?.to_vec()),
        },
        b"set" => set(db, args, now)?,
        b"del" => count(
            args[1..]
                .iter()
                .filter(|k| live(db, k, now).is_some() && db.remove(k.as_slice()).is_some())
                .count(),
        ),
        b"exists" => count(
            args[1..]
                .iter()
                .filter(|k| live(db, k, now).is_some())
                .count(),
        ),
        b"incr" => incr_by(db, key, 1, now)?,
        b"decr" => incr_by(db, key, -1, now)?,
        b"incrby" | b"decrby" => {
            let by = parse_int(&args[2]).ok_or_else(|| err(NOT_INT))?;
            if name == b"incrby" {
                incr_by(db, key, by, now)?
            } else {
                let by = by
                    .checked_neg()
                    .ok_or_else(|| err("ERR decrement would overflow"))?;
                incr_by(db, key, by, now)?
            }
        }
        b"expire" => expire(db, args, now)?,
        b"ttl" | b"pttl" => Value::Int(match live(db, key, now).map(|e| e.expires) {
            None => -2,
            Some(None) => -1,
            Some(Some(t)) => {
                let ms = t.saturating_duration_since(now).as_millis();
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                if name == b"ttl" {
                    ms.saturating_add(500) / 1000
                } else {
                    ms
                }
            }
        }),
        b"hget" => match live(db, key, now) {
            None => Value::Nil,
            Some(e) => e
                .hash()?
                .get(&args[2])
                .map_or(Value::Nil, |v| Value::Bulk(v.to_vec())),
        },
        b"hset" => {
            if args.len() % 2 != 0 {
                return Err(wrong_args("hset"));
            }
            if live(db, key, now).is_none() {
                let data = Data::Hash(Hash::default());
                db.insert(
                    key.to_vec(),
                    Entry {
                        data,
                        expires: None,
                    },
                );
            }
            let hash = db.get_mut(key).ok_or(Value::Nil)?.hash()?;
            count(
                args[2..]
                    .chunks_exact(2)
                    .filter(|fv| hash.set(&fv[0], &fv[1]))
                    .count(),
            )
        }
        b"hgetall" => match live(db, key, now) {
            None => Value::Array(Vec::new()),
            Some(e) => Value::Array(
                e.hash()?
                    .fields
                    .iter()
                    .flat_map(|(f, v)| [Value::Bulk(f.clone()), Value::Bulk(v.clone())])
                    .collect(),
            ),
        },
        b"dbsize" => {
            db.retain(|_, e| e.expires.is_none_or(|t| t > now));
            count(db.len())
        }
        b"flushdb" => {
            flush_mode(args)?;
            db.clear();
            ok()
        }
        _ => unknown_command(args),
    })
}

/// `FLUSHDB`/`FLUSHALL` take an optional `ASYNC` or `SYNC` (the same here).
fn flush_mode(args: &[Vec<u8>]) -> std::result::Result<(), Value> {
    match args {
        [_] => Ok(()),
        [_, m] if m.eq_ignore_ascii_case(b"async") || m.eq_ignore_ascii_case(b"sync") => Ok(()),
        _ => Err(err(SYNTAX)),
    }
}

/// The deadline `ms` milliseconds from `now` (`None`: already past), checked
/// as Redis does: the absolute Unix time must not overflow.
fn deadline(ms: i64, now: Instant, command: &str) -> std::result::Result<Option<Instant>, Value> {
    let invalid = || err(format!("ERR invalid expire time in '{command}' command"));
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ms.checked_add(unix_ms).ok_or_else(invalid)?;
    match u64::try_from(ms) {
        Ok(ms) => now
            .checked_add(Duration::from_millis(ms))
            .map(Some)
            .ok_or_else(invalid),
        Err(_) => Ok(None),
    }
}

fn set(db: &mut Db, args: &[Vec<u8>], now: Instant) -> Reply {
    let (mut nx, mut xx, mut keepttl) = (false, false, false);
    let mut expire: Option<(bool, &[u8])> = None; // (in seconds, value)
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        let (is_ex, is_px) = match expire {
            Some((secs, _)) => (secs, !secs),
            None => (false, false),
        };
        match (opt.as_slice(), args.get(i + 1)) {
            (b"NX", _) if !xx => nx = true,
            (b"XX", _) if !nx => xx = true,
            (b"KEEPTTL", _) if expire.is_none() => keepttl = true,
            (b"EX", Some(v)) if !keepttl && !is_px => {
                expire = Some((true, v));
                i += 1;
            }
            (b"PX", Some(v)) if !keepttl && !is_ex => {
                expire = Some((false, v));
                i += 1;
            }
            _ => return Err(err(SYNTAX)),
        }
        i += 1;
    }
    let mut expires = None;
    if let Some((secs, v)) = expire {
        let n = parse_int(v).ok_or_else(|| err(NOT_INT))?;
        if n <= 0 || (secs && n > i64::MAX / 1000) {
            return Err(err("ERR invalid expire time in 'set' command"));
        }
        let ms = if secs { n * 1000 } else { n };
        // n > 0: never already past.
        expires = deadline(ms, now, "set")?;
    }
    let old = live(db, &args[1], now);
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return Ok(Value::Nil);
    }
    if keepttl {
        expires = old.and_then(|e| e.expires);
    }
    let data = Data::Str(args[2].clone());
    db.insert(args[1].clone(), Entry { data, expires });
    Ok(ok())
}

fn incr_by(db: &mut Db, key: &[u8], by: i64, now: Instant) -> Reply {
    let (n, expires) = match live(db, key, now) {
        None => (0, None),
        Some(e) => (
            parse_int(e.string()?).ok_or_else(|| err(NOT_INT))?,
            e.expires,
        ),
    };
    let n = n
        .checked_add(by)
        .ok_or_else(|| err("ERR increment or decrement would overflow"))?;
    let data = Data::Str(n.to_string().into_bytes());
    db.insert(key.to_vec(), Entry { data, expires });
    Ok(Value::Int(n))
}

fn expire(db: &mut Db, args: &[Vec<u8>], now: Instant) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(err(format!("ERR Unsupported option {}", lossy(opt)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let secs = parse_int(&args[2]).ok_or_else(|| err(NOT_INT))?;
    if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&secs) {
        return Err(err("ERR invalid expire time in 'expire' command"));
    }
    // `None` (already past) is "now".
    let new = deadline(secs * 1000, now, "expire")?.unwrap_or(now);
    let Some(entry) = live(db, &args[1], now) else {
        return Ok(Value::Int(0));
    };
    // No expiry counts as later than any deadline.
    let refused = match entry.expires {
        None => xx || gt,
        Some(cur) => nx || (gt && new <= cur) || (lt && new >= cur),
    };
    if refused {
        return Ok(Value::Int(0));
    }
    if new <= now {
        db.remove(args[1].as_slice());
    } else {
        entry.expires = Some(new);
    }
    Ok(Value::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> std::result::Result<Vec<Vec<Vec<u8>>>, String> {
        let limits = Limits::default().max_bulk(MAX_BULK).max_array(MAX_ARGS);
        let mut p = Parser::default();
        let mut used = 0;
        let mut out = Vec::new();
        loop {
            match p.step(&input[used..], &limits)? {
                Step::More => return Ok(out),
                Step::Used(n) => used += n,
                Step::Request(n, args) => {
                    used += n;
                    out.push(args);
                }
            }
        }
    }

    fn words(s: &[&str]) -> Vec<Vec<u8>> {
        s.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn requests() {
        let ok: &[(&[u8], &[&[&str]])] = &[
            (b"*1\r\n$4\r\nPING\r\n", &[&["PING"]]),
            (b"PING\r\n", &[&["PING"]]),
            (b"  SET  a   b \n", &[&["SET", "a", "b"]]),
            (b"\r\n*0\r\n*-1\r\nPING\r\n", &[&["PING"]]),
            (b"ECHO \"a b\" 'c d'\r\n", &[&["ECHO", "a b", "c d"]]),
            (b"ECHO \"\\x41\\n\"\r\n", &[&["ECHO", "A\n"]]),
            (b"ECHO a\"b c\"\r\n", &[&["ECHO", "ab c"]]),
            (
                b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*1\r\n$4\r\nPING",
                &[&["ECHO", ""]],
            ),
        ];
        for (input, want) in ok {
            let want: Vec<_> = want.iter().map(|w| words(w)).collect();
            assert_eq!(parse_all(input), Ok(want), "{:?}", lossy(input));
        }
        let bad: &[(&[u8], &str)] = &[
            (b"*1\r\n+PING\r\n", "expected '$', got '+'"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*99999999999\r\n", "invalid multibulk length"),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$600000000\r\n", "invalid bulk length"),
            (b"*1\r\n$4\r\nPINGxx", "bulk string not followed by CRLF"),
            (b"ECHO \"a b\r\n", "unbalanced quotes in request"),
            (b"ECHO \"a\"b\r\n", "unbalanced quotes in request"),
        ];
        for (input, want) in bad {
            assert_eq!(
                parse_all(input),
                Err(want.to_string()),
                "{:?}",
                lossy(input)
            );
        }
        assert_eq!(
            parse_all(&vec![b'a'; MAX_INLINE]),
            Err("too big inline request".into())
        );
    }

    #[test]
    fn byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\r\n";
        let limits = Limits::default();
        let mut p = Parser::default();
        let (mut buf, mut got) = (Vec::new(), Vec::new());
        for &b in input {
            buf.push(b);
            loop {
                match p.step(&buf, &limits).unwrap() {
                    Step::More => break,
                    Step::Used(n) => drop(buf.drain(..n)),
                    Step::Request(n, args) => {
                        buf.drain(..n);
                        got.push(args);
                    }
                }
            }
        }
        assert_eq!(
            got,
            vec![words(&["SET", "k", "hello"]), words(&["GET", "k"])]
        );
    }

    /// Feeds `input` to a fresh connection in pieces of the given sizes
    /// (cycled), as reads would deliver it; returns the replies.
    fn feed_in_pieces(shared: &Shared, input: &[u8], pieces: &[usize]) -> Vec<u8> {
        let mut conn = Conn::new(shared);
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let mut rest = input;
        for &k in pieces.iter().cycle() {
            let (piece, tail) = rest.split_at(k.clamp(1, rest.len().max(1)).min(rest.len()));
            rest = tail;
            buf.extend_from_slice(piece);
            let mut flush = |_: &mut Vec<u8>| Ok(());
            let (used, close) = conn
                .feed(shared, &Faults::default(), &buf, &mut out, &mut flush)
                .unwrap();
            buf.drain(..used);
            if close || rest.is_empty() {
                return out;
            }
        }
        unreachable!()
    }

    /// Random request streams (from a fixed seed), some cut short and
    /// corrupted, through the code a connection runs, with and without a
    /// password: errors are fine, panics are not, every input is answered
    /// quickly, and reads of any size give the same replies.
    #[test]
    fn random_input_never_panics() {
        let mut words: Vec<&[u8]> = "GET SET DEL INCR INCRBY DECRBY EXPIRE TTL PTTL EXISTS HGET \
             HSET HGETALL SELECT AUTH CLIENT SETNAME GETNAME PING ECHO DBSIZE FLUSHDB FLUSHALL \
             QUIT EX PX NX XX GT LT KEEPTTL k h pw 0 -1 15 16 1.5 9223372036854775807 \
             -9223372036854775808 \" ' * $ *-1 *0 *2 $-1 $0 $3 \\x4"
            .split(' ')
            .map(str::as_bytes)
            .collect();
        words.extend([&b""[..], b"\r\n", b"\n", b"\x00\xff"]);
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let mut slowest = Duration::ZERO;
        for round in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..1 + next(4) {
                let argc = next(6);
                let args: Vec<&[u8]> = (0..argc).map(|_| words[next(words.len())]).collect();
                if next(2) == 0 {
                    resp::encode_command(&args, &mut input);
                } else {
                    input.extend(args.join(&b' '));
                    input.extend_from_slice(b"\r\n");
                }
            }
            for _ in 0..next(3) {
                // Corrupt: overwrite, insert or cut a byte.
                let at = next(input.len() + 1);
                let byte = u8::try_from(next(256)).unwrap();
                match next(3) {
                    0 if at < input.len() => input[at] = byte,
                    1 => input.insert(at, byte),
                    _ => input.truncate(at),
                }
            }
            let password = (round % 2 == 1).then(|| "pw".to_owned());
            let t = Instant::now();
            let whole = feed_in_pieces(&Shared::new(password.clone()), &input, &[usize::MAX]);
            slowest = slowest.max(t.elapsed());
            // Replies that depend on the clock may differ between two runs.
            if !input.windows(2).any(|w| w == b"TT" || w == b"PX") {
                let pieces = [1 + next(7), 1 + next(300)];
                let split = feed_in_pieces(&Shared::new(password), &input, &pieces);
                assert_eq!(split, whole, "{:?} in pieces {pieces:?}", lossy(&input));
            }
        }
        assert!(
            slowest < Duration::from_secs(2),
            "{slowest:?} for one input"
        );
    }

    #[test]
    fn integers_like_string2ll() {
        for (s, want) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("012", None),
            ("+1", None),
            ("-0", None),
            ("1.0", None),
            (" 1", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(parse_int(s.as_bytes()), want, "{s:?}");
        }
    }

    #[test]
    fn unknown_command_text_is_truncated_like_redis() {
        let long = "a".repeat(200);
        let v = unknown_command(&words(&["FOO", &"a".repeat(100), &"b".repeat(100), "c"]));
        let want = format!(
            "ERR unknown command 'FOO', with args beginning with: '{}' '{}' ",
            "a".repeat(100),
            "b".repeat(25)
        );
        assert_eq!(v, Value::Error(want));
        let v = unknown_command(&words(&[&long]));
        assert_eq!(
            v,
            Value::Error(format!(
                "ERR unknown command '{}', with args beginning with: ",
                "a".repeat(128)
            ))
        );
    }
}
