//! TLS through native-tls (what [`Stream::connect`](super::Stream::connect)
//! makes) and through OpenSSL directly (the tunnel pools).

use super::{wait_readable, ConnectOptions, SocketState, TlsMode};
use crate::{Error, Phase, Result};
use native_tls::{Certificate, HandshakeError, TlsConnector, TlsStream};
use openssl::pkey::PKey;
use openssl::ssl::{
    self, ErrorCode, SslAcceptor, SslConnector, SslMethod, SslStream, SslVerifyMode,
};
use openssl::x509::X509;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Connectors already built, by mode: building one loads the system's
/// trusted roots (tens of milliseconds), so every pool reuses them.
static CONNECTORS: Mutex<Vec<(TlsMode, TlsConnector)>> = Mutex::new(Vec::new());
/// Distinct modes kept; a program with more starts over (never unbounded).
const CACHED_MODES: usize = 16;

/// A connector for `mode` (for `Off`, a default one), built once per mode
/// and process and then shared (a `TlsConnector` is a cheap handle).
pub(crate) fn cached_connector(mode: &TlsMode) -> Result<TlsConnector> {
    let lock = || CONNECTORS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, c)) = lock().iter().find(|(m, _)| m == mode) {
        return Ok(c.clone());
    }
    let built = connector(mode)?;
    let mut cache = lock();
    if cache.len() >= CACHED_MODES {
        cache.clear();
    }
    if !cache.iter().any(|(m, _)| m == mode) {
        cache.push((mode.clone(), built.clone()));
    }
    Ok(built)
}

/// A new connector for `mode` (for `Off`, a default one). Making one loads
/// the system's trusted roots: tens of milliseconds.
pub(crate) fn connector(mode: &TlsMode) -> Result<TlsConnector> {
    let mut builder = TlsConnector::builder();
    match mode {
        TlsMode::Off => {}
        TlsMode::Insecure => {
            builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        TlsMode::Verified { ca, .. } => {
            if let Some(pem) = ca {
                let cert = Certificate::from_pem(pem).map_err(|e| {
                    Error::Config(format!("the TLS CA is not a PEM certificate: {e}"))
                })?;
                builder.add_root_certificate(cert);
            }
        }
    }
    builder.build().map_err(|e| Error::Tls(Box::new(e)))
}

/// The TLS handshake, finished by `deadline` (the connect's): the
/// socket is non-blocking during it and every wait for the peer gets only
/// the time left, so a peer that trickles its handshake out byte by byte
/// cannot stretch it.
pub(super) fn handshake(
    connector: &TlsConnector,
    name: &str,
    tcp: TcpStream,
    opts: &ConnectOptions,
    deadline: Instant,
) -> Result<TlsStream<TcpStream>> {
    tcp.set_nonblocking(true)?;
    let mut attempt = connector.connect(name, tcp);
    let stream = loop {
        match attempt {
            Ok(stream) => break stream,
            Err(HandshakeError::WouldBlock(mid)) => {
                wait_readable(mid.get_ref(), deadline, Phase::TlsHandshake)?;
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) if timed_out(&e) => {
                return Err(Error::Timeout(Phase::TlsHandshake))
            }
            Err(HandshakeError::Failure(e)) => return Err(Error::Tls(Box::new(e))),
        }
    };
    let tcp = stream.get_ref();
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(opts.read_timeout)?;
    tcp.set_write_timeout(opts.write_timeout)?;
    Ok(stream)
}

/// True when an I/O timeout caused the failure (Windows reports a socket
/// timeout as `TimedOut`, which TLS libraries treat as fatal).
fn timed_out(e: &native_tls::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if super::is_io_timeout(io) {
                return true;
            }
        }
        source = err.source();
    }
    false
}

pub(super) fn state(stream: &mut TlsStream<TcpStream>) -> SocketState {
    if stream.get_ref().set_nonblocking(true).is_err() {
        return SocketState::Closed;
    }
    let mut byte = [0u8; 1];
    let state = loop {
        match stream.read(&mut byte) {
            Ok(0) => break SocketState::Closed,
            Ok(_) => break SocketState::Dirty,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break SocketState::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break SocketState::Closed,
        }
    };
    if stream.get_ref().set_nonblocking(false).is_err() {
        return SocketState::Closed;
    }
    state
}
/// An OpenSSL connector for `mode` (the tunnel client's, one per pool):
/// TLS 1.2 or 1.3, OpenSSL's default groups (X25519 first). `Insecure`
/// turns certificate checks off here and name checks off in
/// [`ssl_connect`]; `Verified` trusts the system roots plus `ca`.
#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
pub(crate) fn ssl_connector(mode: &TlsMode) -> Result<SslConnector> {
    let tls = |e: openssl::error::ErrorStack| Error::Tls(Box::new(e));
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls)?;
    builder
        .set_min_proto_version(Some(ssl::SslVersion::TLS1_2))
        .map_err(tls)?;
    match mode {
        TlsMode::Off => {}
        TlsMode::Insecure => builder.set_verify(SslVerifyMode::NONE),
        TlsMode::Verified { ca, .. } => {
            if let Some(pem) = ca {
                let cert = X509::from_pem(pem).map_err(|e| {
                    Error::Config(format!("the TLS CA is not a PEM certificate: {e}"))
                })?;
                builder.cert_store_mut().add_cert(cert).map_err(tls)?;
            }
        }
    }
    Ok(builder.build())
}

/// The client's TLS handshake over `tcp` as `name` (SNI unless an IP
/// address, and the name checked unless `mode` is `Insecure`), finished
/// by `deadline` however slowly the server answers. Leaves the socket
/// non-blocking.
#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
pub(crate) fn ssl_connect(
    connector: &SslConnector,
    mode: &TlsMode,
    name: &str,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<SslStream<TcpStream>> {
    let tls = |e: openssl::error::ErrorStack| Error::Tls(Box::new(e));
    let insecure = matches!(mode, TlsMode::Insecure);
    let config = connector
        .configure()
        .map_err(tls)?
        .verify_hostname(!insecure);
    tcp.set_nonblocking(true)?;
    finish(config.connect(name, tcp), deadline)
}

/// An OpenSSL acceptor for a certificate chain and its private key (PEM):
/// TLS 1.2 and 1.3 (Mozilla's "intermediate" v5 profile, which, unlike
/// the one `native-tls` uses, keeps TLS 1.3 on), no session tickets (the
/// tunnel's clients do not resume, so tickets would only cost CPU).
#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
pub(crate) fn ssl_acceptor(cert: &[u8], key: &[u8]) -> Result<SslAcceptor> {
    let bad =
        |what: &str, e: openssl::error::ErrorStack| Error::Config(format!("the TLS {what}: {e}"));
    let chain = X509::stack_from_pem(cert).map_err(|e| bad("certificate is not PEM", e))?;
    let mut chain = chain.into_iter();
    let Some(leaf) = chain.next() else {
        return Err(Error::Config(
            "the TLS certificate PEM holds no certificate".into(),
        ));
    };
    let key = PKey::private_key_from_pem(key).map_err(|e| bad("key is not PEM", e))?;
    let tls = |e: openssl::error::ErrorStack| Error::Tls(Box::new(e));
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(tls)?;
    builder.set_certificate(&leaf).map_err(tls)?;
    for extra in chain {
        builder.add_extra_chain_cert(extra).map_err(tls)?;
    }
    builder.set_private_key(&key).map_err(tls)?;
    builder
        .check_private_key()
        .map_err(|e| bad("certificate and key do not match", e))?;
    builder.set_num_tickets(0).map_err(tls)?;
    Ok(builder.build())
}

/// The server's TLS handshake over an accepted `tcp`, finished by
/// `deadline` however slowly the client sends. Leaves the socket
/// non-blocking.
#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
pub(crate) fn ssl_accept(
    acceptor: &SslAcceptor,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<SslStream<TcpStream>> {
    tcp.set_nonblocking(true)?;
    finish(acceptor.accept(tcp), deadline)
}

#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
type SslAttempt = std::result::Result<SslStream<TcpStream>, ssl::HandshakeError<TcpStream>>;

/// Drives an OpenSSL handshake on a non-blocking socket: every wait for
/// the peer gets only the time left.
#[cfg_attr(not(feature = "tunnel"), allow(dead_code))]
fn finish(mut attempt: SslAttempt, deadline: Instant) -> Result<SslStream<TcpStream>> {
    loop {
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(ssl::HandshakeError::WouldBlock(mid)) => {
                wait_readable(mid.get_ref(), deadline, Phase::TlsHandshake)?;
                attempt = mid.handshake();
            }
            Err(ssl::HandshakeError::SetupFailure(e)) => return Err(Error::Tls(Box::new(e))),
            Err(ssl::HandshakeError::Failure(mid)) => {
                return Err(Error::Tls(Box::new(mid.into_error())))
            }
        }
    }
}

/// [`SocketState`] of an OpenSSL stream without consuming anything: a
/// non-blocking `SSL_peek` processes whatever records arrived (session
/// tickets, a TLS 1.3 `close_notify`, which from outside looks like
/// application data, an alert) and leaves application data in OpenSSL's
/// buffer for the next read.
pub(crate) fn ssl_state(stream: &mut SslStream<TcpStream>) -> SocketState {
    if stream.get_ref().set_nonblocking(true).is_err() {
        return SocketState::Closed;
    }
    let mut byte = [0u8; 1];
    let state = loop {
        match stream.ssl_peek(&mut byte) {
            Ok(0) => break SocketState::Closed,
            Ok(_) => break SocketState::Dirty,
            Err(e) => match e.code() {
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => match e.io_error() {
                    Some(io) if io.kind() == io::ErrorKind::Interrupted => continue,
                    Some(io) if io.kind() != io::ErrorKind::WouldBlock => {
                        break SocketState::Closed
                    }
                    _ => break SocketState::Idle,
                },
                ErrorCode::SYSCALL
                    if e.io_error()
                        .is_some_and(|io| io.kind() == io::ErrorKind::Interrupted) =>
                {
                    continue
                }
                // ZERO_RETURN (close_notify), SYSCALL (end of stream or
                // a socket error), SSL (an alert or garbage).
                _ => break SocketState::Closed,
            },
        }
    };
    if stream.get_ref().set_nonblocking(false).is_err() {
        return SocketState::Closed;
    }
    state
}
