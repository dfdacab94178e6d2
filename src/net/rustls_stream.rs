//! TLS through rustls (features `tls` and `tunnel`): [`RustlsStream`], the
//! deadline-bounded handshake in both roles, and the liveness check that
//! never takes payload. The tunnel pools make the configurations
//! (`tunnel/tls.rs`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::Connection;

use super::{SocketState, Stream};
use crate::{Error, Phase, Result};

/// A rustls TLS connection, client or server, over its TCP socket: what
/// the tunnel pools make in both roles, and
/// what [`Stream::Rustls`] holds. Implements `Read + Write`; blocking, with
/// the socket's own read and write timeouts.
///
/// A read that finds the peer closed the TCP stream without a TLS
/// `close_notify` fails with an I/O error of kind `UnexpectedEof` (the data
/// may have been cut short); after a `close_notify` it returns 0.
///
/// ```
/// use edgepool::net::{Stream, TlsMode};
/// use edgepool::tunnel::{ClientPool, ServerPool, ServerTls};
/// use std::time::Duration;
///
/// let server = ServerPool::builder().tls(ServerTls::SelfSigned).bind("127.0.0.1:0")?;
/// let client = ClientPool::builder(server.local_addr().to_string())
///     .tls(TlsMode::Insecure)
///     .start()?;
/// let (_id, stream) = client.get_any(Duration::from_secs(5))?;
/// assert!(matches!(stream, Stream::Rustls(_)));
/// assert!(stream.is_tls());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct RustlsStream {
    conn: Connection,
    tcp: TcpStream,
}

impl fmt::Debug for RustlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.conn {
            Connection::Client(_) => "client",
            Connection::Server(_) => "server",
        };
        f.debug_struct("RustlsStream")
            .field("role", &role)
            .field("version", &self.conn.protocol_version())
            .field("tcp", &self.tcp)
            .finish()
    }
}

impl RustlsStream {
    /// The rustls connection (for tests: resumption, close_notify).
    #[cfg(test)]
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Sends what rustls holds for the peer (may block for the socket's
    /// write timeout).
    fn send_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// [`SocketState`] without consuming payload: with the socket
    /// non-blocking, reads whatever TLS records arrived and processes them.
    /// Session tickets are absorbed; a `close_notify`, an alert, garbage,
    /// the end of the TCP stream or a socket error mean closed; decrypted
    /// application data waiting in rustls means alive ([`SocketState::Dirty`]),
    /// also when the peer closed after sending it.
    pub(crate) fn state(&mut self) -> SocketState {
        if self.tcp.set_nonblocking(true).is_err() {
            return SocketState::Closed;
        }
        let state = self.poll();
        if self.tcp.set_nonblocking(false).is_err() {
            return SocketState::Closed;
        }
        state
    }

    fn poll(&mut self) -> SocketState {
        loop {
            let io = match self.conn.process_new_packets() {
                Ok(io) => io,
                Err(_) => return SocketState::Closed,
            };
            if io.plaintext_bytes_to_read() > 0 {
                return SocketState::Dirty;
            }
            if io.peer_has_closed() {
                return SocketState::Closed;
            }
            match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => {
                    // End of stream: what arrived with it still counts.
                    return match self.conn.process_new_packets() {
                        Ok(io) if io.plaintext_bytes_to_read() > 0 => SocketState::Dirty,
                        _ => SocketState::Closed,
                    };
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return SocketState::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return SocketState::Closed,
            }
        }
    }
}

impl Read for RustlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                // Ok(0) after a close_notify; UnexpectedEof after a bare
                // end of stream.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext: answer what needs answering (a key update),
            // then take more records from the socket.
            self.send_pending()?;
            let got = self.conn.read_tls(&mut self.tcp)?;
            let processed = self.conn.process_new_packets();
            if let Err(e) = processed {
                // The alert rustls queued, if the socket takes it.
                let _ = self.send_pending();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if got == 0 {
                // The end of stream is recorded: the next reader().read
                // gives Ok(0) or UnexpectedEof.
                continue;
            }
        }
    }
}

impl Write for RustlsStream {
    /// Flushes what an earlier write left, takes `buf` into rustls and tries
    /// to send it; a failure of that last send is reported by the next
    /// write or flush (the bytes are taken: reporting it here would make
    /// the caller send them twice).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_pending()?;
        let n = self.conn.writer().write(buf)?;
        let _ = self.send_pending();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.send_pending()
    }
}

/// Drives a handshake on the non-blocking `tcp`: every wait for the peer
/// gets only the time left before `deadline`, so a peer that trickles its
/// handshake cannot stretch it. The server's session tickets go out before
/// this returns.
pub(crate) fn handshake(
    mut conn: Connection,
    mut tcp: TcpStream,
    deadline: Instant,
) -> Result<Stream> {
    tcp.set_nonblocking(true)?;
    loop {
        while conn.wants_write() {
            match conn.write_tls(&mut tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(deadline)?,
                Err(e) => return Err(e.into()),
            }
        }
        if !conn.is_handshaking() {
            break;
        }
        match conn.read_tls(&mut tcp) {
            Ok(0) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                )))
            }
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // Tell the peer why, if its socket takes it.
                    let _ = conn.write_tls(&mut tcp);
                    return Err(tls_error(e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                super::wait_readable(&tcp, deadline, Phase::TlsHandshake)?
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Stream::Rustls(Box::new(RustlsStream { conn, tcp })))
}

/// A full send buffer during a handshake (its messages are small, so this
/// is rare): a short pause, within the deadline.
fn wait_writable(deadline: Instant) -> Result<()> {
    if Instant::now() >= deadline {
        return Err(Error::Timeout(Phase::TlsHandshake));
    }
    std::thread::sleep(Duration::from_millis(1));
    Ok(())
}

/// A rustls failure as the crate's error.
pub(crate) fn tls_error(e: rustls::Error) -> Error {
    Error::Tls(Box::new(e))
}
