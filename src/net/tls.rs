//! TLS through native-tls (what [`Stream::connect`](super::Stream::connect)
//! makes; the tunnel pools' rustls is in `tunnel::tls`).

use super::{wait_readable, ConnectOptions, SocketState, TlsMode};
use crate::{Error, Phase, Result};
use native_tls::{Certificate, HandshakeError, TlsConnector, TlsStream};
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
