//! TLS for the tunnel pools, in both roles: rustls 0.23 with the ring
//! provider (TLS 1.3 and 1.2, X25519 first), the handshakes bounded by one
//! deadline, and the liveness check that never takes payload.
//!
//! Each [`ClientPool`](super::ClientPool) holds one [`ClientTls`] (one
//! `Arc<ClientConfig>`, so redials to the same server resume the session
//! with a ticket); each [`ServerPool`](super::ServerPool) one
//! `Arc<ServerConfig>` that issues one TLS 1.3 ticket per handshake.

use std::fmt;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme,
};

use crate::net::{self, Stream, TlsMode};
use crate::{Error, Result};

/// The tunnel client's TLS, set up once per pool: one `Arc<ClientConfig>`
/// (so that its session cache resumes redials) and the server's name.
pub(super) struct ClientTls {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl ClientTls {
    /// The client's TLS for `mode` (`None` for [`TlsMode::Off`]), checking
    /// `name` (sent as SNI unless an IP address; checked against the
    /// certificate unless `mode` is `Insecure`).
    pub(super) fn new(mode: &TlsMode, name: &str) -> Result<Option<ClientTls>> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(net::rustls_error)?;
        let config = match mode {
            TlsMode::Off => return Ok(None),
            TlsMode::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth(),
            TlsMode::Verified { ca, .. } => builder
                .with_root_certificates(roots(ca.as_deref())?)
                .with_no_client_auth(),
        };
        let name = ServerName::try_from(name.to_owned()).map_err(|e| {
            Error::Config(format!(
                "the TLS server name {name:?} is neither a DNS name nor an IP address: {e}"
            ))
        })?;
        Ok(Some(ClientTls {
            config: Arc::new(config),
            name,
        }))
    }

    /// The client's handshake over `tcp`, finished by `deadline` however
    /// slowly the server answers. Leaves the socket non-blocking.
    pub(super) fn connect(&self, tcp: TcpStream, deadline: Instant) -> Result<Stream> {
        let conn = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(net::rustls_error)?;
        net::handshake_rustls(conn.into(), tcp, deadline)
    }
}

/// The server's TLS for a certificate chain and its private key (PEM; the
/// key PKCS#8, PKCS#1 or SEC1): TLS 1.3 and 1.2, one TLS 1.3 session ticket
/// per handshake so that clients resume.
pub(super) fn server_config(cert: &[u8], key: &[u8]) -> Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("the TLS certificate is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(Error::Config(
            "the TLS certificate PEM holds no certificate".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| Error::Config(format!("the TLS key is not PEM: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(net::rustls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            Error::Config(format!(
                "the TLS certificate and key do not fit together: {e}"
            ))
        })?;
    config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(net::rustls_error)?;
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// The server's handshake over an accepted `tcp`, finished by `deadline`
/// however slowly the client sends. Leaves the socket non-blocking.
pub(super) fn accept(
    config: &Arc<ServerConfig>,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<Stream> {
    let conn = ServerConnection::new(config.clone()).map_err(net::rustls_error)?;
    net::handshake_rustls(conn.into(), tcp, deadline)
}

/// ring, with its default cipher suites and X25519 as the preferred key
/// exchange, then P-256 and P-384 (for peers that offer nothing else).
///
/// rustls 0.23.48 lists P-384 first for ring, and its client then sends a
/// P-384 key share that a rustls server takes: ring's generic P-384 code
/// made a dial cost more client and server CPU than OpenSSL's (measured in
/// a refill of 1,024: ~900 µs per dial on each side, against ~180–200 µs
/// with X25519). rustls also deprecates
/// ring's provider for lacking post-quantum key exchange (X25519MLKEM768,
/// aws-lc-rs only); aws-lc-rs is left out on purpose (a C/CMake build for
/// the ARM gateways, its size), and NodePass's Go peers offer X25519 too.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{default_provider, kx_group};
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    })
}

/// The roots `Verified` trusts: the system's (as `rustls-native-certs`
/// finds them: `SSL_CERT_FILE`, `SSL_CERT_DIR`, or the distribution's
/// bundle) and the first certificate of `ca`.
fn roots(ca: Option<&[u8]>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for e in &system.errors {
        log::debug!("tunnel client: a system root certificate was not loaded: {e}");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    log::debug!("tunnel client: {added} system root certificates ({ignored} unusable)");
    if let Some(pem) = ca {
        let bad = |e: &dyn fmt::Display| {
            Error::Config(format!("the TLS CA is not a PEM certificate: {e}"))
        };
        let cert = match CertificateDer::pem_slice_iter(pem).next() {
            Some(Ok(cert)) => cert,
            Some(Err(e)) => return Err(bad(&e)),
            None => return Err(bad(&"no certificate in it")),
        };
        roots.add(cert).map_err(|e| bad(&e))?;
    }
    Ok(roots)
}

/// `TlsMode::Insecure`: any certificate for any name, but the handshake
/// signatures are still checked against the certificate's key (so the
/// connection is at least with whoever holds that key).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{RustlsStream, SocketState};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    fn rustls(stream: &mut Stream) -> &mut RustlsStream {
        match stream {
            Stream::Rustls(tls) => tls,
            other => panic!("not a rustls stream: {other:?}"),
        }
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    /// The first state other than `Idle`, once what the peer sent arrived
    /// (or `Idle` after 5 s).
    fn settled(stream: &mut Stream) -> SocketState {
        let end = deadline();
        loop {
            let state = stream.state();
            if state != SocketState::Idle || Instant::now() > end {
                return state;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Two dials through one `ClientTls`: the second resumes with the
    /// ticket the server sent with the first. Then the liveness check:
    /// a close_notify reads as closed, absorbed tickets as idle, decrypted
    /// data as dirty, and that data is still there for the next read.
    #[test]
    fn redials_resume_and_the_liveness_check_keeps_the_payload() {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let server = server_config(
            made.cert.pem().as_bytes(),
            made.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let client = ClientTls::new(&TlsMode::Insecure, "localhost")
            .unwrap()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = thread::spawn(move || {
            let mut accepted = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().unwrap();
                let mut stream = accept(&server, tcp, deadline()).unwrap();
                stream.tcp().set_nonblocking(false).unwrap();
                stream.write_all(b"id").unwrap();
                accepted.push(stream);
            }
            accepted
        });
        let mut dialled = Vec::new();
        for _ in 0..2 {
            let mut stream = client
                .connect(TcpStream::connect(addr).unwrap(), deadline())
                .unwrap();
            stream.tcp().set_nonblocking(false).unwrap();
            let mut id = [0u8; 2];
            stream.read_exact(&mut id).unwrap();
            assert_eq!(&id, b"id");
            dialled.push(stream);
        }
        let kinds: Vec<_> = dialled
            .iter_mut()
            .map(|s| rustls(s).conn_mut().handshake_kind())
            .collect();
        assert_eq!(
            kinds,
            [
                Some(rustls::HandshakeKind::Full),
                Some(rustls::HandshakeKind::Resumed)
            ]
        );

        let mut accepted = acceptor.join().unwrap();
        let polite = rustls(&mut accepted[0]);
        polite.conn_mut().send_close_notify();
        polite.flush().unwrap();
        accepted[1].write_all(b"early").unwrap();
        assert_eq!(settled(&mut dialled[0]), SocketState::Closed);
        assert_eq!(settled(&mut dialled[1]), SocketState::Dirty);
        assert_eq!(dialled[1].state(), SocketState::Dirty, "nothing was taken");
        let mut early = [0u8; 5];
        dialled[1].read_exact(&mut early).unwrap();
        assert_eq!(&early, b"early");
        assert_eq!(dialled[1].state(), SocketState::Idle);
        drop(accepted);
        assert_eq!(
            settled(&mut dialled[1]),
            SocketState::Closed,
            "a bare end of stream"
        );
    }
}
