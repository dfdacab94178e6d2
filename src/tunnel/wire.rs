//! The ID handshake on both ends and the non-consuming liveness check. The
//! sockets, the TLS handshakes and their deadline-bounded waits are `net`'s,
//! shared with the TCP and Redis pools.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::Instant;

use super::{ConnId, IdFormat, WireError};
use crate::net::{self, SocketState, Stream};
use crate::{Error, Phase, Result};

/// A fresh ID from the OS random number generator, never
/// [`ConnId::CONTROL`] (that one is given out on purpose).
pub(super) fn random_id() -> Result<ConnId> {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::Io(io::Error::other(format!(
                "the OS random number generator failed: {e}"
            )))
        })?;
        let id = ConnId::from_bytes(bytes);
        if id != ConnId::CONTROL {
            return Ok(id);
        }
    }
}

/// Reads the ID in `format`, finishing by `deadline` whatever the peer does
/// (a byte at a time, or nothing at all). Leaves the socket in blocking
/// mode; the caller restores its read timeout.
pub(crate) fn read_id(stream: &mut Stream, deadline: Instant, format: IdFormat) -> Result<ConnId> {
    let mut bytes = [0u8; 8];
    let wire = &mut bytes[..format.len()];
    stream.tcp().set_nonblocking(true)?;
    let result = read_exact_by(stream, wire, deadline);
    let restored = stream.tcp().set_nonblocking(false);
    result?;
    restored?;
    match format {
        IdFormat::Bytes => Ok(ConnId::from_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        IdFormat::Hex => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| Error::Protocol(WireError::HexId(bytes).into())),
    }
}

fn read_exact_by(stream: &mut Stream, buf: &mut [u8], deadline: Instant) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::Protocol(
                    WireError::ShortId {
                        got,
                        len: buf.len(),
                    }
                    .into(),
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                net::wait_readable(stream.tcp(), deadline, Phase::Handshake)?
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(())
}

/// Writes the ID in `format` on a socket that was just accepted (or whose
/// TLS handshake just finished): the send buffer is empty, so 4 or 8 bytes
/// go out at once. The socket is non-blocking meanwhile, so a full buffer
/// fails instead of blocking the caller.
pub(super) fn write_id(stream: &mut Stream, id: ConnId, format: IdFormat) -> Result<()> {
    let text;
    let bytes = id.to_bytes();
    let wire: &[u8] = match format {
        IdFormat::Bytes => &bytes,
        IdFormat::Hex => {
            text = id.to_string();
            text.as_bytes()
        }
    };
    stream.tcp().set_nonblocking(true)?;
    let written = stream.write_all(wire).and_then(|()| stream.flush());
    let restored = stream.tcp().set_nonblocking(false);
    written.map_err(|e| Error::from_io(e, Phase::Handshake))?;
    restored?;
    Ok(())
}

/// True when a stocked connection is known to be closed. Never blocks and
/// never consumes a byte of payload (see the module docs).
pub(super) fn is_closed(stream: &mut Stream) -> bool {
    match stream {
        Stream::Plain(tcp) => net::socket_state(tcp) == SocketState::Closed,
        // rustls: processes tickets and close_notify, keeps the payload.
        #[cfg(feature = "tls")]
        Stream::Rustls(_) => stream.state() == SocketState::Closed,
        // The tunnel never makes native-tls streams.
        #[cfg(feature = "tls")]
        _ => false,
    }
}

/// The address without IPv4 mapping: `::ffff:10.0.0.1` is `10.0.0.1`.
pub(super) fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolError;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
    use std::time::Duration;

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
        assert!(!ids.contains(&ConnId::CONTROL));
    }

    #[test]
    fn hex_ids_are_8_ascii_characters_both_ways() {
        let (mut client, mut server) = pair();
        let mut near = Stream::Plain(server.try_clone().unwrap());
        let id: ConnId = "3fa2c01b".parse().unwrap();
        write_id(&mut near, id, IdFormat::Hex).unwrap();
        server.write_all(b"x").unwrap();
        let got = read_id(
            &mut client,
            Instant::now() + Duration::from_secs(2),
            IdFormat::Hex,
        );
        assert_eq!(got.unwrap(), id);
        let mut rest = [0u8; 1];
        client.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"x", "nothing after the 8 characters is taken");
        server.write_all(b"3fa2c0zz").unwrap();
        let bad = read_id(
            &mut client,
            Instant::now() + Duration::from_secs(2),
            IdFormat::Hex,
        );
        assert!(matches!(bad, Err(Error::Protocol(_))), "{bad:?}");
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
        let result = read_id(&mut client, deadline, IdFormat::Bytes);
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
        let id = read_id(
            &mut client,
            Instant::now() + Duration::from_secs(2),
            IdFormat::Bytes,
        )
        .unwrap();
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
        let result = read_id(
            &mut client,
            Instant::now() + Duration::from_secs(2),
            IdFormat::Bytes,
        );
        match result {
            Err(Error::Protocol(ProtocolError::Tunnel(e))) => {
                assert_eq!(e, WireError::ShortId { got: 2, len: 4 });
                assert!(e.to_string().contains("after 2 of the 4"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn is_closed_peeks_without_consuming() {
        let (mut client, mut server) = pair();
        assert!(!is_closed(&mut client));
        server.write_all(b"payload").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !is_closed(&mut client),
            "waiting bytes are the peer's payload"
        );
        drop(server);
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !is_closed(&mut client),
            "payload before the end of stream is kept"
        );
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"payload");
        assert!(is_closed(&mut client));
    }
}
