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

mod commands;
mod parse;
#[cfg(test)]
mod tests;

use super::{lock, Faults, TcpServer};
use crate::redis::resp::{self, Limits, Value};
use crate::{Error, Result};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commands::{execute, Store};
use parse::{Parser, Step};

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
// State shared by every connection (the store itself is in `commands`).

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
