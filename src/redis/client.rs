//! [`Client`]: one blocking connection to a Redis server.

use super::resp::{self, Limits, Value};
use super::Config;
use crate::net::Stream;
use crate::Probe;
use crate::{Error, Phase, Result};
use std::fmt;
use std::io::{self, Read, Write};
use std::time::Instant;

const READ_CHUNK: usize = 16 * 1024;

/// A blocking Redis connection. Every call is bounded by the config's
/// timeouts. A server error reply becomes [`Error::Redis`] and leaves the
/// connection usable; an I/O error, a timeout or a malformed reply marks it
/// broken (a pool then discards it).
///
/// ```no_run
/// use edgepool::redis::{Client, Config};
/// let mut c = Client::connect(&Config::from_url("redis://127.0.0.1:6379")?)?;
/// c.set("greeting", "hello")?;
/// assert_eq!(c.get("greeting")?.as_deref(), Some(&b"hello"[..]));
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct Client {
    stream: Stream,
    /// Received bytes; `buf[start..end]` is not decoded yet.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    limits: Limits,
    broken: bool,
    /// While the handshake runs: the connect deadline, renewed as the
    /// socket timeouts before each blocking read and write, so a server
    /// that trickles its replies cannot stretch the connect past it.
    deadline: Option<Instant>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("redis::Client")
            .field("peer", &self.stream.peer_addr().ok())
            .field("tls", &self.stream.is_tls())
            .field("broken", &self.broken)
            .finish()
    }
}

/// Commands sent in one write, answered in order.
///
/// ```no_run
/// use edgepool::redis::{Client, Config, Pipeline, Value};
/// # let mut client = Client::connect(&Config::default())?;
/// let mut p = Pipeline::new();
/// p.cmd(&["SET", "a", "1"]).cmd(&["INCR", "a"]).cmd(&["GET", "a"]);
/// let replies = client.pipeline(&p)?;
/// assert_eq!(replies[1], Value::Int(2));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    buf: Vec<u8>,
    count: usize,
}

impl Pipeline {
    /// An empty pipeline.
    ///
    /// ```
    /// assert!(edgepool::redis::Pipeline::new().is_empty());
    /// ```
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Adds a command.
    ///
    /// ```
    /// let mut p = edgepool::redis::Pipeline::new();
    /// p.cmd(&["PING"]);
    /// assert_eq!(p.len(), 1);
    /// ```
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Pipeline {
        resp::encode_command(args, &mut self.buf);
        self.count += 1;
        self
    }

    /// Number of commands.
    ///
    /// ```
    /// assert_eq!(edgepool::redis::Pipeline::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it holds no command.
    ///
    /// ```
    /// assert!(edgepool::redis::Pipeline::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every command, keeping the buffer.
    ///
    /// ```
    /// let mut p = edgepool::redis::Pipeline::new();
    /// p.cmd(&["PING"]).clear();
    /// assert!(p.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }
}

impl Client {
    /// Connects, then authenticates (`AUTH`), selects the database and sets the
    /// client name as configured, in one round trip.
    ///
    /// The config's `net.connect_timeout` bounds all of it: the TCP connect,
    /// TLS, and the replies to the handshake, however slowly the server
    /// trickles them out ([`Error::Timeout`]`(`[`Phase::Handshake`]`)`).
    ///
    /// Errors: [`Error::Config`] for invalid settings, [`Error::Auth`] when the
    /// server refuses the credentials, [`Error::Redis`] when it refuses
    /// `SELECT`/`CLIENT SETNAME`, [`Error::Protocol`] for a reply that is
    /// malformed or not `OK`, and the usual I/O, TLS and timeout errors.
    ///
    /// ```no_run
    /// use edgepool::redis::{Client, Config};
    /// let c = Client::connect(&Config::new("127.0.0.1:6379").auth(None, "secret").db(2))?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn connect(config: &Config) -> Result<Client> {
        config.validate()?;
        let opts = &config.net;
        // One deadline over TCP, TLS and AUTH/SELECT/SETNAME.
        let deadline = Instant::now() + opts.connect_timeout;
        let stream = Stream::open_until(&config.connect_addr()?, opts, deadline)?;
        let mut client = Client {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
            limits: config.limits,
            broken: false,
            deadline: Some(deadline),
        };
        client.handshake(config).map_err(|e| match e {
            Error::Timeout(Phase::Read | Phase::Write) => Error::Timeout(Phase::Handshake),
            e => e,
        })?;
        client.deadline = None;
        client.stream.set_timeouts(opts)?;
        Ok(client)
    }

    fn handshake(&mut self, config: &Config) -> Result<()> {
        let mut p = Pipeline::new();
        let mut steps = Vec::new();
        if let Some(password) = &config.password {
            match &config.username {
                Some(user) => p.cmd(&["AUTH", user.as_str(), password.as_str()]),
                None => p.cmd(&["AUTH", password.as_str()]),
            };
            steps.push("AUTH");
        }
        let db = config.db.to_string();
        if config.db != 0 {
            p.cmd(&["SELECT", db.as_str()]);
            steps.push("SELECT");
        }
        if let Some(name) = &config.client_name {
            p.cmd(&["CLIENT", "SETNAME", name.as_str()]);
            steps.push("CLIENT SETNAME");
        }
        if p.is_empty() {
            return Ok(());
        }
        let replies = self.pipeline(&p)?;
        for (step, reply) in steps.into_iter().zip(replies) {
            match reply {
                Value::Error(msg) if step == "AUTH" => return Err(Error::Auth(msg)),
                Value::Error(msg) => return Err(Error::Redis(format!("{step}: {msg}"))),
                Value::Simple(ok) if ok == "OK" => {}
                other => {
                    self.broken = true;
                    return Err(Error::Protocol(
                        format!("unexpected reply to {step}: {other:?}").into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sends one command and returns its reply; an error reply becomes
    /// [`Error::Redis`].
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// use edgepool::redis::Value;
    /// assert_eq!(client.cmd(&["ECHO", "hi"])?, Value::Bulk(b"hi".to_vec()));
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value> {
        self.check()?;
        self.out.clear();
        resp::encode_command(args, &mut self.out);
        self.send_out()?;
        match self.read_value()? {
            Value::Error(msg) => Err(Error::Redis(msg)),
            v => Ok(v),
        }
    }

    /// Sends every command of `p` in one write and reads all the replies.
    /// Error replies stay in place as [`Value::Error`]; a transport error
    /// fails the whole call.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// let mut p = edgepool::redis::Pipeline::new();
    /// p.cmd(&["PING"]).cmd(&["PING"]);
    /// assert_eq!(client.pipeline(&p)?.len(), 2);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn pipeline(&mut self, p: &Pipeline) -> Result<Vec<Value>> {
        self.check()?;
        if p.is_empty() {
            return Ok(Vec::new());
        }
        self.write(&p.buf)?;
        let mut replies = Vec::with_capacity(p.count);
        for _ in 0..p.count {
            replies.push(self.read_value()?);
        }
        Ok(replies)
    }

    /// `PING`, expecting `PONG`.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// client.ping()?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn ping(&mut self) -> Result<()> {
        match self.cmd(&["PING"])? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(unexpected("PING", &other)),
        }
    }

    /// `GET key`: the value, or `None` when the key does not exist.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// let v: Option<Vec<u8>> = client.get("sensor:1")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        match self.cmd(&[b"GET".as_ref(), key.as_ref()])? {
            Value::Bulk(b) => Ok(Some(b)),
            Value::Nil => Ok(None),
            other => Err(unexpected("GET", &other)),
        }
    }

    /// `SET key value`.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// client.set("sensor:1", b"21.5")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let reply = self.cmd(&[b"SET".as_ref(), key.as_ref(), value.as_ref()])?;
        ok("SET", reply)
    }

    /// `SET key value EX seconds`.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// client.set_ex("session", "x", 60)?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set_ex(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        seconds: u64,
    ) -> Result<()> {
        let secs = seconds.to_string();
        let reply = self.cmd(&[
            b"SET".as_ref(),
            key.as_ref(),
            value.as_ref(),
            b"EX",
            secs.as_bytes(),
        ])?;
        ok("SET EX", reply)
    }

    /// `DEL key…`: how many keys were removed.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// let removed = client.del(&["a", "b"])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn del<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64> {
        let mut args: Vec<&[u8]> = Vec::with_capacity(keys.len() + 1);
        args.push(b"DEL");
        args.extend(keys.iter().map(AsRef::as_ref));
        int("DEL", self.cmd(&args)?)
    }

    /// `INCR key`: the new value.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// let n = client.incr("polls")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn incr(&mut self, key: impl AsRef<[u8]>) -> Result<i64> {
        let reply = self.cmd(&[b"INCR".as_ref(), key.as_ref()])?;
        int("INCR", reply)
    }

    /// `EXPIRE key seconds`: false when the key does not exist.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// client.expire("session", 30)?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn expire(&mut self, key: impl AsRef<[u8]>, seconds: u64) -> Result<bool> {
        let secs = seconds.to_string();
        let reply = self.cmd(&[b"EXPIRE".as_ref(), key.as_ref(), secs.as_bytes()])?;
        int("EXPIRE", reply).map(|n| n == 1)
    }

    /// `EXISTS key`.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// if client.exists("config")? { /* … */ }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn exists(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let reply = self.cmd(&[b"EXISTS".as_ref(), key.as_ref()])?;
        int("EXISTS", reply).map(|n| n > 0)
    }

    /// `HGET key field`.
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// let v = client.hget("plc:1", "status")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn hget(
        &mut self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        match self.cmd(&[b"HGET".as_ref(), key.as_ref(), field.as_ref()])? {
            Value::Bulk(b) => Ok(Some(b)),
            Value::Nil => Ok(None),
            other => Err(unexpected("HGET", &other)),
        }
    }

    /// `HSET key field value`: how many fields were added (0 when updated).
    ///
    /// ```no_run
    /// # let mut client = edgepool::redis::Client::connect(&Default::default())?;
    /// client.hset("plc:1", "status", "RUN")?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn hset(
        &mut self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        let reply = self.cmd(&[
            b"HSET".as_ref(),
            key.as_ref(),
            field.as_ref(),
            value.as_ref(),
        ])?;
        int("HSET", reply)
    }

    /// True after a transport error, a timeout or a malformed reply.
    ///
    /// ```no_run
    /// # let client = edgepool::redis::Client::connect(&Default::default())?;
    /// assert!(!client.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn check(&self) -> Result<()> {
        if self.broken {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                "the Redis connection is broken",
            )));
        }
        Ok(())
    }

    fn send_out(&mut self) -> Result<()> {
        let out = std::mem::take(&mut self.out);
        let r = self.write(&out);
        self.out = out;
        r
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.renew_deadline()?;
        if let Err(e) = self.stream.write_all(bytes) {
            self.broken = true;
            return Err(Error::from_io(e, Phase::Write));
        }
        Ok(())
    }

    /// Reads until one whole value is buffered, and decodes it.
    fn read_value(&mut self) -> Result<Value> {
        loop {
            if self.end > self.start {
                match resp::decode(&self.buf[self.start..self.end], &self.limits) {
                    Ok(Some((v, used))) => {
                        self.start += used;
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                        return Ok(v);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.broken = true;
                        return Err(e.into());
                    }
                }
            }
            self.make_room();
            self.renew_deadline()?;
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the Redis server closed the connection",
                    )));
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    return Err(Error::from_io(e, Phase::Read));
                }
            }
        }
    }

    /// During the handshake: sets the socket timeouts to the time left
    /// before the connect deadline (none left: [`Phase::Handshake`] timeout).
    fn renew_deadline(&mut self) -> Result<()> {
        if let Some(deadline) = self.deadline {
            if let Err(e) = self.stream.set_deadline(deadline, Phase::Handshake) {
                self.broken = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Makes free space after `end`: moves pending bytes to the front, or
    /// grows the buffer when a value is larger than it. Growth follows bytes
    /// that arrived, within the decoder's limits.
    fn make_room(&mut self) {
        if self.end < self.buf.len() {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        } else {
            let grown = self.buf.len().saturating_mul(2);
            self.buf.resize(grown, 0);
        }
    }
}

/// A whole, well-framed reply of a type the command does not answer with:
/// the stream is in step, so the connection stays usable.
fn unexpected(cmd: &str, v: &Value) -> Error {
    Error::UnexpectedAnswer(format!("unexpected reply to {cmd}: {v:?}"))
}

fn ok(cmd: &str, v: Value) -> Result<()> {
    match v {
        Value::Simple(s) if s == "OK" => Ok(()),
        other => Err(unexpected(cmd, &other)),
    }
}

fn int(cmd: &str, v: Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(unexpected(cmd, &other)),
    }
}

impl Probe for Client {
    /// `PING`, expecting `PONG`.
    fn probe(&mut self) -> Result<()> {
        self.ping()
    }
}
