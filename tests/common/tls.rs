//! Test certificates made once per test binary by the `openssl` CLI: a CA,
//! an unrelated CA, a server certificate for `localhost` and 127.0.0.1
//! signed by the CA, and a self-signed one; all ECDSA P-256, keys in PKCS#8
//! PEM. Used by `tests/tls.rs` and `tests/tunnel.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The generated certificates (PEM), each pair `(certificate, key)`.
pub struct Certs {
    pub ca: Vec<u8>,
    pub other_ca: Vec<u8>,
    pub server: (Vec<u8>, Vec<u8>),
    pub self_signed: (Vec<u8>, Vec<u8>),
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = edgepool test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
";

/// A scratch directory, removed on drop (also when a test panics).
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory named after this process and `name`.
pub fn temp_dir(name: &str) -> TempDir {
    let pid = std::process::id();
    let path = std::env::temp_dir().join(format!("edgepool-test-{pid}-{name}"));
    fs::create_dir_all(&path).expect("create a scratch directory");
    TempDir(path)
}

/// Runs `openssl` with whitespace-separated `args` in `dir`.
pub fn openssl(dir: &Path, args: &str) {
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = match Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "these tests need the `openssl` command ({e}); on Debian: apt-get install openssl"
        ),
    };
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` making a P-256 key (PKCS#8 PEM) and a certificate or CSR.
fn req(dir: &Path, key: &str, out: &str, subject: &str, extra: &str) {
    openssl(
        dir,
        &format!(
            "req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
             -config openssl.cnf -keyout {key} -out {out} -subj {subject} {extra}"
        ),
    );
}

fn generate() -> Certs {
    let tmp = temp_dir("certs");
    let dir = tmp.0.as_path();
    fs::write(dir.join("openssl.cnf"), OPENSSL_CNF).expect("write openssl.cnf");

    let ca = "-x509 -days 2 -extensions ca_ext";
    req(dir, "ca.key", "ca.pem", "/CN=edgepool-test-CA", ca);
    req(dir, "other.key", "other.pem", "/CN=edgepool-other-CA", ca);
    req(dir, "server.key", "server.csr", "/CN=localhost", "");
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
         -extfile openssl.cnf -extensions server_ext -out server.pem",
    );
    let self_signed = "-x509 -days 2 -extensions server_ext";
    req(dir, "self.key", "self.pem", "/CN=localhost", self_signed);

    let read = |name: &str| fs::read(dir.join(name)).expect("read a generated file");
    Certs {
        ca: read("ca.pem"),
        other_ca: read("other.pem"),
        server: (read("server.pem"), read("server.key")),
        self_signed: (read("self.pem"), read("self.key")),
    }
}

/// The certificates, made on first use.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(generate)
}
