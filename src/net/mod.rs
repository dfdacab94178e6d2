//! Sockets: connect with a timeout, TCP keepalive, nodelay and I/O timeouts,
//! optional TLS ([`Stream`], [`TlsMode`]), and the non-blocking check that tells
//! whether a pooled socket is still usable ([`socket_state`], [`Stream::state`]).
//!
//! ```
//! use edgepool::net::{self, ConnectOptions, SocketState};
//! use std::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?.to_string();
//! let stream = net::connect(&addr, &ConnectOptions::default())?;
//! assert_eq!(net::socket_state(&stream), SocketState::Idle);
//! # Ok::<(), edgepool::Error>(())
//! ```

mod options;
#[cfg(all(feature = "tls", feature = "tunnel"))]
mod rustls_stream;
mod stream;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use options::config;
pub(crate) use options::{check_timeout, net_setters};
pub use options::{ConnectOptions, Keepalive, TlsMode};
#[cfg(all(feature = "tls", feature = "tunnel"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tls", feature = "tunnel"))))]
pub use rustls_stream::RustlsStream;
#[cfg(all(feature = "tls", feature = "tunnel"))]
pub(crate) use rustls_stream::{handshake as handshake_rustls, tls_error as rustls_error};
pub use stream::{socket_state, SocketState, Stream};

use crate::{Error, Phase, Result};

/// Resolves `addr` (`"host:port"`), connects to the first resolved address
/// that answers, and applies `opts` (nodelay, keepalive, I/O timeouts).
///
/// Every resolved address is tried in turn; the whole attempt is bounded by
/// `opts.connect_timeout`, each address getting an equal share of the time
/// left. Running out of time gives [`Error::Timeout`]`(`[`Phase::Connect`]`)`;
/// other failures give [`Error::Io`] with the OS error kind kept and the
/// address named in the message. A name that resolves to nothing gives an I/O
/// error of kind `NotFound`.
///
/// # Warnings
///
/// Name resolution uses the system resolver, which std cannot bound: a slow
/// DNS server delays the call beyond `connect_timeout`. Use IP addresses on
/// gateways where that matters.
///
/// ```
/// use edgepool::net::{connect, ConnectOptions};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let stream = connect(&listener.local_addr()?.to_string(), &ConnectOptions::default())?;
/// assert!(stream.nodelay()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn connect(addr: &str, opts: &ConnectOptions) -> Result<TcpStream> {
    connect_until(addr, opts, Instant::now() + opts.connect_timeout)
}

/// [`connect`] by `deadline`: the first step of a connect whose TLS and
/// protocol handshakes share the same deadline.
pub(crate) fn connect_until(
    addr: &str,
    opts: &ConnectOptions,
    deadline: Instant,
) -> Result<TcpStream> {
    opts.validate()?;
    if addr.is_empty() {
        return Err(config("the address is empty"));
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| named(addr, e))?
        .collect();
    if addrs.is_empty() {
        let e = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        return Err(named(addr, e).into());
    }
    connect_resolved(Some(addr), &addrs, opts, deadline)
}

/// Like [`connect`], for addresses already resolved: tries each in turn
/// within `opts.connect_timeout` and applies `opts` to the first that answers.
///
/// ```
/// use edgepool::net::{connect_addrs, ConnectOptions};
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let stream = connect_addrs(&[listener.local_addr()?], &ConnectOptions::default())?;
/// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub fn connect_addrs(addrs: &[SocketAddr], opts: &ConnectOptions) -> Result<TcpStream> {
    opts.validate()?;
    if addrs.is_empty() {
        let e = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        return Err(e.into());
    }
    connect_resolved(None, addrs, opts, Instant::now() + opts.connect_timeout)
}

fn connect_resolved(
    name: Option<&str>,
    addrs: &[SocketAddr],
    opts: &ConnectOptions,
    deadline: Instant,
) -> Result<TcpStream> {
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let remaining = u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        let share = (left / remaining).max(Duration::from_millis(1));
        match connect_one(addr, share) {
            Ok(stream) => {
                configure(&stream, opts).map_err(|e| named(&label(name, addr), e))?;
                return Ok(stream);
            }
            Err(e) => {
                log::debug!("connect to {} failed: {e}", label(name, addr));
                last = Some((addr, e));
            }
        }
    }
    match last {
        Some((addr, e)) if !is_io_timeout(&e) => Err(named(&label(name, addr), e).into()),
        _ => Err(Error::Timeout(Phase::Connect)),
    }
}

fn connect_one(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.connect_timeout(&(*addr).into(), timeout)?;
    Ok(socket.into())
}

/// Sets up a connected (or accepted) socket as `opts` says: nodelay,
/// keepalive, I/O timeouts. Shared by [`connect`] and the tunnel server's
/// accepted sockets.
pub(crate) fn configure(stream: &TcpStream, opts: &ConnectOptions) -> io::Result<()> {
    stream.set_nodelay(opts.nodelay)?;
    if let Some(k) = &opts.keepalive {
        SockRef::from(stream).set_tcp_keepalive(&tcp_keepalive(k))?;
    }
    stream.set_read_timeout(opts.read_timeout)?;
    stream.set_write_timeout(opts.write_timeout)
}

/// socket2's keepalive for `k`; where the OS cannot set the interval or the
/// count, only the idle time is applied.
pub(crate) fn tcp_keepalive(k: &Keepalive) -> TcpKeepalive {
    let ka = TcpKeepalive::new().with_time(k.idle);
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "illumos",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "tvos",
        target_os = "watchos",
        target_os = "windows",
    ))]
    let ka = ka.with_interval(k.interval);
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "illumos",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "tvos",
        target_os = "watchos",
    ))]
    let ka = ka.with_retries(k.count);
    ka
}

fn label(name: Option<&str>, addr: &SocketAddr) -> String {
    match name {
        Some(n) if n != addr.to_string() => format!("{n} ({addr})"),
        _ => addr.to_string(),
    }
}

fn named(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn is_io_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}
/// connection ID) waits here, so a peer that trickles bytes cannot stretch a
/// deadline. (Handshake writes are small enough for an empty socket buffer.)
/// Waits until the non-blocking socket `tcp` has something to read, the
/// peer closed it, or it failed, at most until `deadline`: a blocking 1-byte
/// peek under a read timeout of the time left, which consumes nothing.
/// Running out of time gives [`Error::Timeout`]`(phase)`; a socket error is
/// left for the next read to report. Leaves the socket non-blocking.
///
/// Every handshake edgepool drives (TLS in both roles, the tunnel's
#[cfg_attr(not(any(feature = "tls", feature = "tunnel")), allow(dead_code))]
pub(crate) fn wait_readable(tcp: &TcpStream, deadline: Instant, phase: Phase) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::Timeout(phase));
    }
    tcp.set_nonblocking(false)?;
    let waited = tcp.set_read_timeout(Some(left)).map(|()| loop {
        match tcp.peek(&mut [0u8; 1]) {
            Ok(_) => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_io_timeout(&e) => break Err(Error::Timeout(phase)),
            // The handshake's next read reports it.
            Err(_) => break Ok(()),
        }
    });
    tcp.set_nonblocking(true)?;
    waited?
}

/// `addr` ready for a connect: `host:port`, `[v6]:port`, with
/// `default_port` added when the port is missing (`None`: a port is
/// required). A URL (`tcp://…`, `s7://…`) or an empty address is an
/// [`Error::Config`] at once, instead of a name lookup that fails later.
/// `what` names the setting in the message ("an S7 address").
pub(crate) fn host_port(addr: &str, default_port: Option<u16>, what: &str) -> Result<String> {
    if let Some((scheme, _)) = addr.split_once("://") {
        return Err(Error::Config(format!(
            "unknown scheme {scheme}:// in {addr:?}: {what} is host:port, not a URL"
        )));
    }
    if addr.is_empty() {
        return Err(Error::Config(format!("{what} is empty")));
    }
    let has_port = match addr.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.starts_with('['))
        }
        None => false,
    };
    match default_port {
        _ if has_port => Ok(addr.to_string()),
        // A bare IPv6 address (`fe80::1`) gets its brackets.
        Some(port) if addr.contains(':') && !addr.starts_with('[') => {
            Ok(format!("[{addr}]:{port}"))
        }
        Some(port) => Ok(format!("{addr}:{port}")),
        None => Err(Error::Config(format!(
            "no port in {addr:?}: {what} is host:port"
        ))),
    }
}

/// The host part of `"host:port"`, `"[v6]:port"` or a bare host.
#[cfg_attr(not(any(feature = "tls", feature = "tunnel")), allow(dead_code))]
pub(crate) fn host_part(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_strips_port_and_brackets() {
        assert_eq!(host_part("localhost:443"), "localhost");
        assert_eq!(host_part("[::1]:443"), "::1");
        assert_eq!(host_part("10.0.0.1:102"), "10.0.0.1");
        assert_eq!(host_part("plc"), "plc");
    }

    #[test]
    fn label_names_both_when_they_differ() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(
            label(Some("localhost:80"), &a),
            "localhost:80 (127.0.0.1:80)"
        );
        assert_eq!(label(Some("127.0.0.1:80"), &a), "127.0.0.1:80");
        assert_eq!(label(None, &a), "127.0.0.1:80");
    }

    #[test]
    fn zero_and_subsecond_settings_are_rejected() {
        let bad = [
            ConnectOptions::default().connect_timeout(Duration::ZERO),
            ConnectOptions::default().read_timeout(Some(Duration::ZERO)),
            ConnectOptions::default().write_timeout(Some(Duration::ZERO)),
            ConnectOptions::default().keepalive(Some(Keepalive {
                idle: Duration::from_millis(500),
                ..Keepalive::default()
            })),
            ConnectOptions::default().keepalive(Some(Keepalive {
                count: 0,
                ..Keepalive::default()
            })),
        ];
        for opts in bad {
            assert!(matches!(opts.validate(), Err(Error::Config(_))), "{opts:?}");
        }
        assert!(ConnectOptions::default().validate().is_ok());
    }

    #[test]
    fn host_port_adds_the_default_port_and_refuses_urls() {
        let ok = [
            ("10.0.0.7", Some(102), "10.0.0.7:102"),
            ("10.0.0.7:1102", Some(102), "10.0.0.7:1102"),
            ("plc.local", Some(102), "plc.local:102"),
            ("::1", Some(102), "[::1]:102"),
            ("fe80::1", Some(161), "[fe80::1]:161"),
            ("[::1]", Some(102), "[::1]:102"),
            ("[::1]:1102", Some(102), "[::1]:1102"),
            ("127.0.0.1:9", None, "127.0.0.1:9"),
        ];
        for (addr, port, want) in ok {
            assert_eq!(
                host_port(addr, port, "x").ok().as_deref(),
                Some(want),
                "{addr}"
            );
        }
        for (addr, port) in [
            ("tcp://127.0.0.1:16161", Some(161)),
            ("s7://10.0.0.7", Some(102)),
            ("", Some(102)),
            ("127.0.0.1", None),
        ] {
            match host_port(addr, port, "an address") {
                Err(Error::Config(m)) => assert!(m.contains("an address"), "{m}"),
                other => panic!("{addr}: {other:?}"),
            }
        }
    }
}
