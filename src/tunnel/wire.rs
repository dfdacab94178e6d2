//! The ID handshake on both ends, the deadline-bounded waits it needs, and
//! the non-consuming liveness check.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::ConnId;
use crate::net::{self, Keepalive, SocketState, Stream};
use crate::{Error, Phase, Result};

/// First byte of a TLS alert record (`ContentType.alert`).
#[cfg(feature = "tls")]
const TLS_ALERT: u8 = 21;

/// A fresh ID from the OS random number generator.
pub(super) fn random_id() -> Result<ConnId> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::Io(io::Error::other(format!(
            "the OS random number generator failed: {e}"
        )))
    })?;
    Ok(ConnId::from_bytes(bytes))
}

/// Reads the 4-byte ID, finishing by `deadline` whatever the peer does (a
/// byte at a time, or nothing at all). Leaves the socket in blocking mode;
/// the caller restores its read timeout.
pub(crate) fn read_id(stream: &mut Stream, deadline: Instant) -> Result<ConnId> {
    let mut bytes = [0u8; 4];
    stream.tcp().set_nonblocking(true)?;
    let result = read_exact_by(stream, &mut bytes, deadline);
    let restored = stream.tcp().set_nonblocking(false);
    result?;
    restored?;
    Ok(ConnId::from_bytes(bytes))
}

fn read_exact_by(stream: &mut Stream, buf: &mut [u8], deadline: Instant) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::Protocol(format!(
                    "the server closed the connection after {got} of the {} connection ID bytes",
                    buf.len()
                )))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_readable(stream.tcp(), deadline, Phase::Handshake)?
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(())
}

/// Waits until the non-blocking socket has something to read (or the peer
/// closed it), at most until `deadline`: a blocking `peek` under a read
/// timeout of the time left. Leaves the socket non-blocking.
pub(super) fn wait_readable(tcp: &TcpStream, deadline: Instant, phase: Phase) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::Timeout(phase));
    }
    tcp.set_nonblocking(false)?;
    let waited = tcp.set_read_timeout(Some(left)).and_then(|()| loop {
        match tcp.peek(&mut [0u8; 1]) {
            // 0 = end of stream: the next read reports it.
            Ok(_) => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    });
    tcp.set_nonblocking(true)?;
    waited.map_err(|e| Error::from_io(e, phase))
}

/// Writes the ID on a socket that was just accepted (or whose TLS handshake
/// just finished): the send buffer is empty, so 4 bytes go out at once. The
/// socket is non-blocking meanwhile, so a full buffer fails instead of
/// blocking the caller.
pub(super) fn write_id(stream: &mut Stream, id: ConnId) -> Result<()> {
    stream.tcp().set_nonblocking(true)?;
    let written = stream
        .write_all(&id.to_bytes())
        .and_then(|()| stream.flush());
    let restored = stream.tcp().set_nonblocking(false);
    written.map_err(|e| Error::from_io(e, Phase::Handshake))?;
    restored?;
    Ok(())
}

/// True when a stocked connection is known to be closed. Never blocks and
/// never consumes a byte (see the module docs).
pub(super) fn is_closed(stream: &Stream) -> bool {
    match stream {
        Stream::Plain(tcp) => net::socket_state(tcp) == SocketState::Closed,
        #[cfg(feature = "tls")]
        Stream::Tls(tls) => tls_is_closed(tls),
    }
}

/// For TLS, from outside the TLS layer: the end of the TCP stream, a socket
/// error, or a TLS alert record waiting (content type 21, visible up to TLS
/// 1.2) mean closed; other waiting bytes mean alive.
#[cfg(feature = "tls")]
fn tls_is_closed(tls: &native_tls::TlsStream<TcpStream>) -> bool {
    // Bytes the TLS library already decrypted (a record that held the ID
    // and more) are the peer's payload: alive, whatever the socket says.
    if tls.buffered_read_size().unwrap_or(0) > 0 {
        return false;
    }
    let tcp = tls.get_ref();
    if tcp.set_nonblocking(true).is_err() {
        return true;
    }
    let mut first = [0u8; 1];
    let closed = loop {
        match tcp.peek(&mut first) {
            Ok(0) => break true,
            Ok(_) => break first[0] == TLS_ALERT,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break true,
        }
    };
    tcp.set_nonblocking(false).is_err() || closed
}

/// The address without IPv4 mapping: `::ffff:10.0.0.1` is `10.0.0.1`.
pub(super) fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Sets up an accepted socket like [`net::connect`] sets up a dialled one.
pub(super) fn configure(
    tcp: &TcpStream,
    keepalive: Option<&Keepalive>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    if let Some(k) = keepalive {
        SockRef::from(tcp).set_tcp_keepalive(&net::tcp_keepalive(k))?;
    }
    tcp.set_read_timeout(read_timeout)?;
    tcp.set_write_timeout(write_timeout)
}

/// Checks the settings `net` would reject when connecting, so that the pools
/// fail at start instead of retrying a hopeless dial.
pub(super) fn check_timeouts(
    handshake: Duration,
    read: Option<Duration>,
    write: Option<Duration>,
    keepalive: Option<&Keepalive>,
) -> Result<()> {
    if handshake.is_zero() {
        return Err(Error::Config(
            "handshake_timeout must be greater than zero".into(),
        ));
    }
    for (name, t) in [("read_timeout", read), ("write_timeout", write)] {
        if t.is_some_and(|t| t.is_zero()) {
            return Err(Error::Config(format!(
                "{name} must be greater than zero (use None for no timeout)"
            )));
        }
    }
    if let Some(k) = keepalive {
        let second = Duration::from_secs(1);
        if k.idle < second || k.interval < second || k.count == 0 {
            return Err(Error::Config(
                "keepalive idle and interval must be at least 1 s and count at least 1".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(feature = "tls")]
pub(super) use tls::{accept as tls_accept, connect as tls_connect, connector as tls_connector};

#[cfg(feature = "tls")]
mod tls {
    use super::wait_readable;
    use crate::net::TlsMode;
    use crate::{Error, Phase, Result};
    use native_tls::{HandshakeError, TlsAcceptor, TlsConnector, TlsStream};
    use std::net::TcpStream;
    use std::time::Instant;

    type Attempt = std::result::Result<TlsStream<TcpStream>, HandshakeError<TcpStream>>;

    /// The server's TLS handshake, finished by `deadline` however slowly the
    /// client sends. Leaves the socket non-blocking.
    pub(in crate::tunnel) fn accept(
        acceptor: &TlsAcceptor,
        tcp: TcpStream,
        deadline: Instant,
    ) -> Result<TlsStream<TcpStream>> {
        tcp.set_nonblocking(true)?;
        finish(acceptor.accept(tcp), deadline)
    }

    /// The client's TLS handshake, finished by `deadline` however slowly the
    /// server answers. Leaves the socket non-blocking.
    pub(in crate::tunnel) fn connect(
        connector: &TlsConnector,
        name: &str,
        tcp: TcpStream,
        deadline: Instant,
    ) -> Result<TlsStream<TcpStream>> {
        tcp.set_nonblocking(true)?;
        finish(connector.connect(name, tcp), deadline)
    }

    /// Drives a handshake on a non-blocking socket: every wait for the peer
    /// is bounded by the time left.
    fn finish(mut attempt: Attempt, deadline: Instant) -> Result<TlsStream<TcpStream>> {
        loop {
            match attempt {
                Ok(tls) => return Ok(tls),
                Err(HandshakeError::WouldBlock(mid)) => {
                    wait_readable(mid.get_ref(), deadline, Phase::TlsHandshake)?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => return Err(Error::Tls(Box::new(e))),
            }
        }
    }

    /// The connector for `mode`, made once per pool: making one loads the
    /// system's trusted roots, which takes tens of milliseconds.
    pub(in crate::tunnel) fn connector(mode: &TlsMode) -> Result<Option<TlsConnector>> {
        match mode {
            TlsMode::Off => Ok(None),
            mode => crate::net::tls::connector(mode).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};

    #[test]
    fn ipv4_mapped_addresses_normalise_to_ipv4() {
        let v4 = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(normalise(mapped), v4);
        assert_eq!(normalise(v4), v4);
        let loopback6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(normalise(loopback6), loopback6, "::1 is not 0.0.0.1");
    }

    #[test]
    fn random_ids_differ() {
        let ids: std::collections::HashSet<ConnId> =
            (0..64).map(|_| random_id().unwrap()).collect();
        assert!(ids.len() > 60);
    }

    fn pair() -> (Stream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Stream::Plain(client), server)
    }

    #[test]
    fn read_id_gives_up_at_the_deadline_even_if_bytes_trickle_in() {
        let (mut client, mut server) = pair();
        let start = Instant::now();
        let dripper = std::thread::spawn(move || {
            for b in [1u8, 2, 3] {
                if server.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            std::thread::sleep(Duration::from_millis(500));
        });
        let deadline = start + Duration::from_millis(300);
        let result = read_id(&mut client, deadline);
        let elapsed = start.elapsed();
        assert!(
            matches!(result, Err(Error::Timeout(Phase::Handshake))),
            "{result:?}"
        );
        assert!(elapsed < Duration::from_millis(450), "{elapsed:?}");
        dripper.join().unwrap();
    }

    #[test]
    fn read_id_reads_4_bytes_and_leaves_the_rest() {
        let (mut client, mut server) = pair();
        server.write_all(&[0xde, 0xad]).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            server.write_all(&[0xbe, 0xef, b'x']).unwrap();
            server
        });
        let id = read_id(&mut client, Instant::now() + Duration::from_secs(2)).unwrap();
        assert_eq!(id.to_string(), "deadbeef");
        let _server = writer.join().unwrap();
        let mut rest = [0u8; 1];
        client.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"x");
    }

    #[test]
    fn a_short_id_is_a_protocol_error() {
        let (mut client, mut server) = pair();
        server.write_all(&[1, 2]).unwrap();
        drop(server);
        let result = read_id(&mut client, Instant::now() + Duration::from_secs(2));
        match result {
            Err(Error::Protocol(msg)) => assert!(msg.contains("after 2 of the 4"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn is_closed_peeks_without_consuming() {
        let (client, mut server) = pair();
        assert!(!is_closed(&client));
        server.write_all(b"payload").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!is_closed(&client), "waiting bytes are the peer's payload");
        drop(server);
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !is_closed(&client),
            "payload before the end of stream is kept"
        );
        let mut client = client;
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"payload");
        assert!(is_closed(&client));
    }
}
