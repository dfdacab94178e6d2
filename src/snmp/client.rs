//! [`Config`] and [`Client`]: a blocking SNMP v1/v2c/v3 client over a
//! connected UDP socket.

use super::exchange::{Community, Exchange, Incoming, Req, Request, Tries};
use super::session::{Session, UsmCache};
use super::{oid, Oid, Pdu, PduKind, Value, VarBind, Version};
use super::{ErrorStatus, SnmpError, Usm};
use crate::backoff::random_u64;
use crate::Probe;
use crate::{Error, Phase, Result};
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to reach one SNMP agent.
///
/// ```
/// use edgepool::snmp::{Config, Version};
/// let c = Config::new("udp://127.0.0.1:161").version(Version::V1).community("private");
/// assert!(!format!("{c:?}").contains("private"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The agent's address: `udp://host:port`, `host:port` or `host`
    /// (port 161). Another scheme (`tcp://…`) is an [`Error::Config`] at
    /// connect. Called `target` before 0.2.0.
    pub addr: String,
    /// V1, V2c, or V3 (with [`Config::v3`]'s user). Defaults to V2c.
    pub version: Version,
    /// The community string; never shown in `Debug` or logs. Defaults to "public".
    pub community: String,
    /// How long to wait for each reply. Defaults to 5 s.
    pub timeout: Duration,
    /// Retransmissions after the first request (each with a fresh
    /// request-id). Defaults to 3.
    pub retries: u32,
    /// Repetitions per GETBULK in [`Client::walk`]. Defaults to 10.
    pub max_repetitions: u32,
    /// The SNMPv3 user (with `version` V3; the community is then unused).
    /// Defaults to `None`.
    pub v3: Option<Usm>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:161".into(),
            version: Version::V2c,
            community: "public".into(),
            timeout: Duration::from_secs(5),
            retries: 3,
            max_repetitions: 10,
            v3: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("snmp::Config")
            .field("addr", &self.addr)
            .field("version", &self.version)
            .field("community", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("max_repetitions", &self.max_repetitions)
            .field("v3", &self.v3)
            .finish()
    }
}

impl Config {
    /// A config for the agent at `addr` with the defaults.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("10.0.0.7");
    /// assert_eq!(c.retries, 3);
    /// ```
    pub fn new(addr: impl Into<String>) -> Config {
        Config {
            addr: addr.into(),
            ..Config::default()
        }
    }

    /// Sets the version.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("h").version(edgepool::snmp::Version::V1);
    /// # let _ = c;
    /// ```
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Sets the community.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("h").community("private");
    /// # let _ = c;
    /// ```
    pub fn community(mut self, community: impl Into<String>) -> Self {
        self.community = community.into();
        self
    }

    /// Sets the per-reply timeout.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("h").timeout(std::time::Duration::from_secs(1));
    /// # let _ = c;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of retransmissions.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("h").retries(1);
    /// # let _ = c;
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets GETBULK's max-repetitions for walks.
    ///
    /// ```
    /// let c = edgepool::snmp::Config::new("h").max_repetitions(25);
    /// # let _ = c;
    /// ```
    pub fn max_repetitions(mut self, n: u32) -> Self {
        self.max_repetitions = n;
        self
    }

    /// Uses SNMPv3 with this user (and sets `version` to V3).
    ///
    /// ```
    /// use edgepool::snmp::{AuthProtocol, Config, Usm, Version};
    /// let c = Config::new("h").v3(Usm::new("ops").auth(AuthProtocol::Sha256, "secret-pass"));
    /// assert_eq!(c.version, Version::V3);
    /// assert!(!format!("{c:?}").contains("secret-pass"));
    /// ```
    pub fn v3(mut self, user: Usm) -> Self {
        self.version = Version::V3;
        self.v3 = Some(user);
        self
    }

    /// The agent's address: the first address `addr` resolves to.
    fn resolve(&self) -> Result<SocketAddr> {
        let t = match self.addr.split_once("://") {
            Some(("udp", rest)) => rest,
            Some((scheme, _)) => {
                return Err(Error::Config(format!(
                    "unknown scheme {scheme}:// in {:?}: an SNMP agent address is udp://host:port, \
                     host:port or host",
                    self.addr
                )))
            }
            None => &self.addr,
        };
        let with_port = crate::net::host_port(t, Some(161), "an SNMP agent address")?;
        with_port
            .to_socket_addrs()
            .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("{}: {e}", self.addr))))?
            .next()
            .ok_or_else(|| Error::Config(format!("{} resolves to no address", self.addr)))
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.timeout.is_zero() {
            return Err(Error::Config("timeout must not be zero".into()));
        }
        match (&self.v3, self.version) {
            (Some(usm), Version::V3) => usm.validate()?,
            (None, Version::V3) => {
                return Err(Error::Config(
                    "SNMPv3 needs a user: set it with Config::v3".into(),
                ))
            }
            (Some(_), v) => {
                return Err(Error::Config(format!(
                    "an SNMPv3 user is set but the version is {v:?}"
                )))
            }
            (None, _) => {}
        }
        if self.max_repetitions == 0 || self.max_repetitions > i32::MAX as u32 {
            return Err(Error::Config("max_repetitions must be at least 1".into()));
        }
        Ok(())
    }
}

/// A blocking SNMP client over one connected UDP socket (datagrams from other
/// addresses are not even delivered).
///
/// Each request waits up to `timeout` for its reply and is retransmitted
/// `retries` times with a fresh request-id. Late or foreign datagrams (another
/// request-id, community or version, or undecodable) are dropped and the wait
/// goes on, so a reply that arrives after its timeout never confuses the next
/// request. An agent's error-status becomes [`Error::Snmp`].
///
/// When every try times out the error is a timeout ([`Error::is_timeout`]):
/// [`Error::Timeout`] once the agent has answered this client, and before
/// that (v1/v2c) an [`Error::Io`] of kind `TimedOut` whose message says the
/// community may be wrong, since agents drop such requests without a word.
/// SNMPv3 authPriv requests the agent never answers after it answered
/// discovery end after the first timeout with
/// [`SnmpError::NoReplyToEncrypted`] (retries cannot help a wrong privacy
/// password).
///
/// ```no_run
/// use edgepool::snmp::{oid, Client, Config};
/// let mut c = Client::connect(&Config::new("udp://127.0.0.1:161"))?;
/// for vb in c.get(&[oid::SYS_DESCR, oid::SYS_UPTIME])? {
///     println!("{vb}");
/// }
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct Client {
    socket: UdpSocket,
    peer: SocketAddr,
    config: Config,
    out: Vec<u8>,
    recv: Vec<u8>,
    next_id: u32,
    read_timeout: Option<Duration>,
    broken: bool,
    /// The protocol logic: matches replies to requests.
    session: Sessions,
}

/// The session of a client's version, behind [`Exchange`].
enum Sessions {
    /// v1/v2c (not boxed: one pointer less on every request).
    Community(Community),
    /// SNMPv3: the USM session (keys, engine, clock).
    Usm(Box<Session>),
}

impl Exchange for Sessions {
    fn begin(&mut self) {
        match self {
            Sessions::Community(s) => s.begin(),
            Sessions::Usm(s) => Exchange::begin(&mut **s),
        }
    }

    #[inline]
    fn encode<'s>(&'s mut self, request: &Request<'_>, id: i32, out: &'s mut Vec<u8>) -> &'s [u8] {
        match self {
            Sessions::Community(s) => s.encode(request, id, out),
            Sessions::Usm(s) => Exchange::encode(&mut **s, request, id, out),
        }
    }

    #[inline]
    fn decode(&mut self, datagram: &[u8], request: &Request<'_>, id: i32) -> Incoming {
        match self {
            Sessions::Community(s) => s.decode(datagram, request, id),
            Sessions::Usm(s) => Exchange::decode(&mut **s, datagram, request, id),
        }
    }

    fn hopeless(&self) -> bool {
        match self {
            Sessions::Community(s) => s.hopeless(),
            Sessions::Usm(s) => Exchange::hopeless(&**s),
        }
    }

    fn timed_out(&mut self, tries: &Tries) -> Error {
        match self {
            Sessions::Community(s) => s.timed_out(tries),
            Sessions::Usm(s) => Exchange::timed_out(&mut **s, tries),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("snmp::Client")
            .field("peer", &self.peer)
            .field("version", &self.config.version)
            .field("broken", &self.broken)
            .finish()
    }
}

/// Largest datagram accepted.
const MAX_DATAGRAM: usize = 65_535;

impl Client {
    /// Opens a UDP socket connected to the agent. No packet is sent: the
    /// first request finds out whether the agent answers.
    ///
    /// ```no_run
    /// let c = edgepool::snmp::Client::connect(&edgepool::snmp::Config::new("127.0.0.1:161"))?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    ///
    /// SNMPv3: hashes the passwords here (a [`Manager`](super::Manager)'s
    /// clients share that work) and discovers the agent's engine at the
    /// first request.
    pub fn connect(config: &Config) -> Result<Client> {
        Client::connect_shared(config, &Arc::default())
    }

    /// [`Client::connect`] with the SNMPv3 keys and engine a manager shares.
    pub(crate) fn connect_shared(config: &Config, cache: &Arc<UsmCache>) -> Result<Client> {
        config.validate()?;
        let peer = config.resolve()?;
        let local: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket
            .connect(peer)
            .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("{peer}: {e}"))))?;
        let session = match (&config.v3, config.version) {
            (Some(user), Version::V3) => Sessions::Usm(Box::new(Session::new(user, cache.clone()))),
            (_, version) => {
                Sessions::Community(Community::new(version, config.community.as_bytes()))
            }
        };
        Ok(Client {
            socket,
            peer,
            config: config.clone(),
            out: Vec::with_capacity(512),
            recv: vec![0; MAX_DATAGRAM],
            next_id: (random_u64() as u32) & 0x7fff_ffff,
            read_timeout: None,
            broken: false,
            session,
        })
    }

    /// The agent's address.
    ///
    /// ```no_run
    /// # let c = edgepool::snmp::Client::connect(&Default::default())?;
    /// println!("{}", c.peer());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// GET: the values of `oids` (v2c: missing ones as `NoSuchObject` /
    /// `NoSuchInstance`; v1: a `noSuchName` error).
    ///
    /// ```no_run
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// let up = c.get(&[edgepool::snmp::oid::SYS_UPTIME])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>> {
        self.simple(PduKind::Get, Req::Oids(oids))
    }

    /// GET of one object: its value (v2c: `NoSuchObject`/`NoSuchInstance`
    /// when missing; v1: a `noSuchName` error), without building a `Vec`.
    ///
    /// ```no_run
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// let up = c.get_one(&edgepool::snmp::oid::SYS_UPTIME)?;
    /// println!("{up}");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_one(&mut self, oid: &Oid) -> Result<Value> {
        let mut vbs = self.get(std::slice::from_ref(oid))?;
        match vbs.pop() {
            Some(vb) if vbs.is_empty() => Ok(vb.value),
            _ => Err(Error::UnexpectedAnswer(
                "SNMP: a GET of one object answered with another number of values".into(),
            )),
        }
    }

    /// GETNEXT: the next object after each of `oids`.
    ///
    /// ```no_run
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// let next = c.get_next(&[edgepool::snmp::oid::SYSTEM])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_next(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>> {
        self.simple(PduKind::GetNext, Req::Oids(oids))
    }

    /// GETBULK (v2c): GETNEXT once for the first `non_repeaters` OIDs and up
    /// to `max_repetitions` times for the rest. A `tooBig` answer is retried
    /// with fewer repetitions.
    ///
    /// ```no_run
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// let rows = c.get_bulk(0, 20, &[edgepool::snmp::oid::SYSTEM])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get_bulk(
        &mut self,
        non_repeaters: u32,
        max_repetitions: u32,
        oids: &[Oid],
    ) -> Result<Vec<VarBind>> {
        if self.config.version == Version::V1 {
            return Err(Error::Snmp(SnmpError::Unsupported(
                "GETBULK needs SNMPv2c or later",
            )));
        }
        let non_rep = i32::try_from(non_repeaters).unwrap_or(i32::MAX);
        let mut reps = i32::try_from(max_repetitions).unwrap_or(i32::MAX);
        loop {
            let pdu = self.exchange(
                PduKind::GetBulk,
                Req::Oids(oids),
                non_rep,
                reps,
                self.config.retries,
            )?;
            match status(&pdu, Req::Oids(&[])) {
                Err(Error::Snmp(SnmpError::Agent {
                    status: ErrorStatus::TooBig,
                    ..
                })) if reps > 1 => {
                    reps /= 2;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(pdu.varbinds),
            }
        }
    }

    /// SET: writes `varbinds` and returns the agent's echo.
    ///
    /// ```no_run
    /// use edgepool::snmp::{oid, Value, VarBind};
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// c.set(&[VarBind::new(oid::SYS_NAME, Value::OctetString(b"gw-7".to_vec()))])?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn set(&mut self, varbinds: &[VarBind]) -> Result<Vec<VarBind>> {
        self.simple(PduKind::Set, Req::Binds(varbinds))
    }

    /// Every object under `root`: GETBULK on v2c/v3, GETNEXT on v1.
    ///
    /// Ends at the end of the subtree, at `endOfMibView` (v1: `noSuchName`).
    /// Rows come in the agent's order: some agents answer rows out of order
    /// inside one GETBULK answer, and such rows are kept as long as each is
    /// past the OID the request asked from and inside the subtree (the next
    /// request asks from the answer's last row, so the walk cannot loop).
    /// An answer row that is not past the requested OID would make the walk
    /// loop: the walk stops with [`SnmpError::WalkNotIncreasing`], which says
    /// where and carries the rows read so far. So `Ok` always means the whole
    /// subtree.
    ///
    /// net-snmp's `snmpwalk`/`snmpbulkwalk` stop at the same point with
    /// "Error: OID not increasing" (their `-Cc` turns the check off and may
    /// loop forever on such an agent; edgepool has no such switch).
    ///
    /// ```no_run
    /// use edgepool::{snmp::SnmpError, Error};
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// match c.walk(&edgepool::snmp::oid::SYSTEM) {
    ///     Ok(rows) => println!("{} rows", rows.len()),
    ///     Err(Error::Snmp(SnmpError::WalkNotIncreasing(t))) => {
    ///         println!("{t}; {} rows read before", t.rows.len())
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn walk(&mut self, root: &Oid) -> Result<Vec<VarBind>> {
        let mut out = Vec::new();
        match self.walk_into(root, &mut out) {
            Ok(()) => Ok(out),
            Err(Error::Snmp(SnmpError::WalkNotIncreasing(mut t))) => {
                t.rows = out;
                Err(Error::Snmp(SnmpError::WalkNotIncreasing(t)))
            }
            Err(e) => Err(e),
        }
    }

    /// [`Client::walk`] appending to `out`: the rows read before any error
    /// (a timeout half-way, an OID not increasing) stay in `out`. The
    /// [`TruncatedWalk`](super::TruncatedWalk) of an error from here carries
    /// no rows (they are in `out`).
    ///
    /// ```no_run
    /// # let mut c = edgepool::snmp::Client::connect(&Default::default())?;
    /// let mut rows = Vec::new();
    /// let done = c.walk_into(&edgepool::snmp::oid::SYSTEM, &mut rows);
    /// println!("{} rows, complete: {}", rows.len(), done.is_ok());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn walk_into(&mut self, root: &Oid, out: &mut Vec<VarBind>) -> Result<()> {
        let mut cur = root.clone();
        loop {
            let batch = if self.config.version == Version::V1 {
                match self.get_next(std::slice::from_ref(&cur)) {
                    Err(Error::Snmp(SnmpError::Agent {
                        status: ErrorStatus::NoSuchName,
                        ..
                    })) => return Ok(()),
                    r => r?,
                }
            } else {
                self.get_bulk(0, self.config.max_repetitions, std::slice::from_ref(&cur))?
            };
            if batch.is_empty() {
                return Ok(());
            }
            let mut last = None;
            for vb in batch {
                if vb.value == Value::EndOfMibView || !vb.oid.starts_with(root) {
                    return Ok(());
                }
                if vb.oid <= cur {
                    return Err(Error::Snmp(SnmpError::WalkNotIncreasing(Box::new(
                        super::TruncatedWalk {
                            root: root.clone(),
                            requested: cur,
                            got: vb.oid,
                            rows: Vec::new(),
                        },
                    ))));
                }
                last = Some(out.len());
                out.push(vb);
            }
            match last {
                Some(i) => cur = out[i].oid.clone(),
                None => return Ok(()),
            }
        }
    }

    /// True after a socket error (not after a timeout: a UDP socket stays
    /// usable, and late replies are dropped).
    ///
    /// ```no_run
    /// # let c = edgepool::snmp::Client::connect(&Default::default())?;
    /// assert!(!c.is_broken());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn simple(&mut self, kind: PduKind, req: Req<'_>) -> Result<Vec<VarBind>> {
        let pdu = self.exchange(kind, req, 0, 0, self.config.retries)?;
        status(&pdu, req)?;
        Ok(pdu.varbinds)
    }

    /// Sends the request (and its retransmissions) and waits for the reply
    /// that matches it. The session encodes each attempt and says what each
    /// datagram means; this loop only sends, receives and keeps time.
    fn exchange(
        &mut self,
        kind: PduKind,
        req: Req<'_>,
        error_status: i32,
        error_index: i32,
        retries: u32,
    ) -> Result<Pdu> {
        if self.broken {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                "the SNMP socket is broken",
            )));
        }
        let request = Request {
            kind,
            req,
            error_status,
            error_index,
        };
        let mut refused = false;
        self.session.begin();
        // SNMPv3 sends again at once, without using up a retry, after engine
        // discovery or a clock resynchronisation (a bounded number of times).
        let mut again = 0;
        let mut attempt = 0u64;
        while attempt <= u64::from(retries) {
            attempt += 1;
            let id = self.next_request_id();
            let bytes = self.session.encode(&request, id, &mut self.out);
            match self.socket.send(bytes) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    refused = true;
                    continue;
                }
                Err(e) => {
                    self.broken = true;
                    return Err(Error::from_io(e, Phase::Write));
                }
            }
            match self.wait_for(&request, id)? {
                Wait::Reply(pdu) => return Ok(pdu),
                Wait::Again if again < MAX_AGAIN => {
                    again += 1;
                    attempt -= 1;
                }
                // A wrong privacy password: retries cannot help, say so now.
                Wait::TimedOut if self.session.hopeless() => break,
                Wait::Again | Wait::TimedOut => {}
                Wait::Refused => refused = true,
            }
        }
        if refused {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{}: no SNMP agent listening (port unreachable)", self.peer),
            )));
        }
        Err(self.session.timed_out(&Tries {
            peer: self.peer,
            attempts: attempt,
            timeout: self.config.timeout,
        }))
    }

    /// Receives datagrams until the session finds the reply to attempt
    /// `id`, or the timeout runs out.
    fn wait_for(&mut self, request: &Request<'_>, id: i32) -> Result<Wait> {
        let timeout = self.config.timeout;
        let deadline = Instant::now() + timeout;
        // The first wait is the whole timeout, so the clock is read again
        // only after a dropped datagram or an interrupt (a zero timeout, which
        // `validate` refuses, still times out at once).
        let mut first = !timeout.is_zero();
        loop {
            let want = if first {
                first = false;
                timeout
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Wait::TimedOut);
                }
                // Skip the syscall when the full timeout is already set.
                if left + Duration::from_millis(1) >= timeout {
                    timeout
                } else {
                    left
                }
            };
            if self.read_timeout != Some(want) {
                self.socket.set_read_timeout(Some(want))?;
                self.read_timeout = Some(want);
            }
            let n = match self.socket.recv(&mut self.recv) {
                Ok(n) => n,
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Ok(Wait::TimedOut)
                    }
                    io::ErrorKind::ConnectionRefused => return Ok(Wait::Refused),
                    io::ErrorKind::Interrupted => continue,
                    _ => {
                        self.broken = true;
                        return Err(Error::from_io(e, Phase::Read));
                    }
                },
            };
            match self.session.decode(&self.recv[..n], request, id) {
                Incoming::Reply(p) => return Ok(Wait::Reply(p)),
                Incoming::Again => return Ok(Wait::Again),
                Incoming::Fail(e) => return Err(Error::Snmp(e)),
                Incoming::Drop(why) => {
                    log::debug!("SNMP: dropped a datagram from {}: {why}", self.peer)
                }
            }
        }
    }

    /// Sets the timeout and retries of later requests (after a connect made
    /// with others).
    pub(crate) fn set_timing(&mut self, timeout: Duration, retries: u32) {
        self.config.timeout = timeout;
        self.config.retries = retries;
    }

    fn next_request_id(&mut self) -> i32 {
        self.next_id = self.next_id.wrapping_add(1) & 0x7fff_ffff;
        if self.next_id == 0 {
            self.next_id = 1;
        }
        self.next_id as i32
    }
}

enum Wait {
    Reply(Pdu),
    TimedOut,
    Refused,
    /// SNMPv3: send the request again now (engine discovered, clock resynchronised).
    Again,
}

/// Most immediate resends per request (discovery, resync, rediscovery, resync).
const MAX_AGAIN: u32 = 4;

/// The agent's error-status as an error, naming the OID at error-index.
fn status(pdu: &Pdu, sent: Req<'_>) -> Result<()> {
    if pdu.error_status == 0 {
        return Ok(());
    }
    let index = u32::try_from(pdu.error_index).unwrap_or(0);
    let oid = (index as usize)
        .checked_sub(1)
        .and_then(|i| {
            sent.oid(i)
                .or_else(|| pdu.varbinds.get(i).map(|vb| &vb.oid))
        })
        .cloned();
    Err(Error::Snmp(SnmpError::Agent {
        status: ErrorStatus::from_code(pdu.error_status),
        index,
        oid,
    }))
}

impl Probe for Client {
    /// GET sysUpTime.0, one attempt within `timeout`.
    fn probe(&mut self) -> Result<()> {
        let pdu = self.exchange(PduKind::Get, Req::Oids(&[oid::SYS_UPTIME]), 0, 0, 0)?;
        status(&pdu, Req::Oids(&[]))
    }
}
