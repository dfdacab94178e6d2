//! Keys: password-to-key and localisation (RFC 3414 A.2, RFC 7860), the
//! privacy-key extension for AES-192/256, and the keyed HMAC states.

use crate::{Error, Result};
use cbc::cipher::KeyInit;
use hmac::digest::Digest;
use hmac::{Hmac, Mac};
use std::fmt;

use super::config::{AuthProtocol, PrivProtocol, SecurityLevel, Usm};
use super::privacy::PrivKey;

/// RFC 3414 A.2's password-to-key: the hash of 1 MiB of the password
/// repeated (Ku). The costly step, done once per password and cached.
///
/// ```
/// use edgepool::snmp::{usm::password_to_key, AuthProtocol};
/// let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
/// assert_eq!(ku.len(), 20);
/// ```
pub fn password_to_key(auth: AuthProtocol, password: &[u8]) -> Vec<u8> {
    fn p2k<D: Digest>(password: &[u8]) -> Vec<u8> {
        const TOTAL: usize = 1 << 20;
        let mut d = D::new();
        if !password.is_empty() {
            // A whole number of passwords, about 4 KiB: every slice fed to the
            // hash starts at the password's first byte.
            let chunk = password.repeat(4096usize.div_ceil(password.len()));
            let mut left = TOTAL;
            while left > 0 {
                let n = left.min(chunk.len());
                d.update(&chunk[..n]);
                left -= n;
            }
        }
        d.finalize().to_vec()
    }
    match auth {
        AuthProtocol::Md5 => p2k::<md5::Md5>(password),
        AuthProtocol::Sha1 => p2k::<sha1::Sha1>(password),
        AuthProtocol::Sha224 => p2k::<sha2::Sha224>(password),
        AuthProtocol::Sha256 => p2k::<sha2::Sha256>(password),
        AuthProtocol::Sha384 => p2k::<sha2::Sha384>(password),
        AuthProtocol::Sha512 => p2k::<sha2::Sha512>(password),
    }
}

/// RFC 3414 A.2's key localisation: `H(Ku || engineID || Ku)` (Kul).
///
/// ```
/// use edgepool::snmp::{usm::{localize_key, password_to_key}, AuthProtocol};
/// let ku = password_to_key(AuthProtocol::Sha256, b"maplesyrup");
/// assert_eq!(localize_key(AuthProtocol::Sha256, &ku, b"\x80\x00\x1f\x88\x04abc").len(), 32);
/// ```
pub fn localize_key(auth: AuthProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    auth.hash(&[ku, engine_id, ku])
}

/// The privacy key for `privacy`: the privacy password's Ku (hashed with the
/// authentication protocol) localized to the engine, extended when the
/// cipher needs more bytes than the hash gives (AES-192/256: Blumenthal's
/// `Kul || H(Kul) || …`, or Reeder's `Kul || localize(Ku(Kul)) || …` for the
/// `-C` variants), then cut to [`PrivProtocol::key_len`].
///
/// ```
/// use edgepool::snmp::{usm::{password_to_key, priv_key}, AuthProtocol, PrivProtocol};
/// let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
/// let key = priv_key(AuthProtocol::Md5, PrivProtocol::Aes256C, &ku, &[0; 12]);
/// assert_eq!(key.len(), 32);
/// ```
pub fn priv_key(auth: AuthProtocol, privacy: PrivProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    let need = privacy.key_len();
    let mut key = localize_key(auth, ku, engine_id);
    while key.len() < need {
        let more = match privacy {
            PrivProtocol::Aes192C | PrivProtocol::Aes256C => {
                let ku2 = password_to_key(auth, &key);
                localize_key(auth, &ku2, engine_id)
            }
            _ => auth.hash(&[&key]),
        };
        key.extend_from_slice(&more);
    }
    key.truncate(need);
    key
}

/// Key bytes: redacted in `Debug`, overwritten when dropped.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(super) Vec<u8>);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

/// The expensive, engine-independent keys: Ku of each password.
pub(crate) struct MasterKeys {
    auth: Option<Secret>,
    privacy: Option<Secret>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKeys(<redacted>)")
    }
}

impl MasterKeys {
    /// Hashes the passwords the level needs (about 1 MiB each; one when
    /// both passwords are the same).
    pub(crate) fn new(usm: &Usm) -> MasterKeys {
        let auth = (usm.level >= SecurityLevel::AuthNoPriv)
            .then(|| Secret(password_to_key(usm.auth, usm.auth_password.as_bytes())));
        let privacy = (usm.level == SecurityLevel::AuthPriv).then(|| match &auth {
            Some(a) if usm.priv_password == usm.auth_password => a.clone(),
            _ => Secret(password_to_key(usm.auth, usm.priv_password.as_bytes())),
        });
        MasterKeys { auth, privacy }
    }

    /// Localizes the keys to one engine (a few hashes).
    pub(crate) fn localize(&self, usm: &Usm, engine_id: &[u8]) -> Result<LocalKeys> {
        let mac = match &self.auth {
            Some(ku) => Some(MacKey::new(
                usm.auth,
                &Secret(localize_key(usm.auth, ku.bytes(), engine_id)),
            )?),
            None => None,
        };
        let cipher = match &self.privacy {
            Some(ku) => Some(PrivKey::new(
                usm.privacy,
                Secret(priv_key(usm.auth, usm.privacy, ku.bytes(), engine_id)).bytes(),
            )?),
            None => None,
        };
        Ok(LocalKeys { mac, cipher })
    }
}

/// Keys localized to one engine, ready to use.
pub(crate) struct LocalKeys {
    pub(crate) mac: Option<MacKey>,
    pub(crate) cipher: Option<PrivKey>,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKeys(<redacted>)")
    }
}

/// A keyed HMAC state (the key's inner and outer pads already hashed), cloned
/// per message.
#[derive(Clone)]
pub(crate) enum MacKey {
    Md5(Hmac<md5::Md5>),
    Sha1(Hmac<sha1::Sha1>),
    Sha224(Hmac<sha2::Sha224>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

macro_rules! with_mac {
    ($key:expr, $m:ident => $body:expr) => {
        match $key {
            MacKey::Md5($m) => $body,
            MacKey::Sha1($m) => $body,
            MacKey::Sha224($m) => $body,
            MacKey::Sha256($m) => $body,
            MacKey::Sha384($m) => $body,
            MacKey::Sha512($m) => $body,
        }
    };
}

impl MacKey {
    pub(crate) fn new(auth: AuthProtocol, key: &Secret) -> Result<MacKey> {
        fn keyed<M: KeyInit>(key: &Secret) -> Result<M> {
            M::new_from_slice(key.bytes())
                .map_err(|_| Error::Config("HMAC key of an invalid length".into()))
        }
        Ok(match auth {
            AuthProtocol::Md5 => MacKey::Md5(keyed(key)?),
            AuthProtocol::Sha1 => MacKey::Sha1(keyed(key)?),
            AuthProtocol::Sha224 => MacKey::Sha224(keyed(key)?),
            AuthProtocol::Sha256 => MacKey::Sha256(keyed(key)?),
            AuthProtocol::Sha384 => MacKey::Sha384(keyed(key)?),
            AuthProtocol::Sha512 => MacKey::Sha512(keyed(key)?),
        })
    }

    /// Writes the MAC of `msg`, truncated to `out.len()` bytes, into `out`.
    pub(crate) fn sign(&self, msg: &[u8], out: &mut [u8]) {
        with_mac!(self, m => {
            let mut m = m.clone();
            m.update(msg);
            let full = m.finalize().into_bytes();
            let n = out.len().min(full.len());
            out[..n].copy_from_slice(&full[..n]);
        })
    }

    /// Signs an encoded v3 message in place (RFC 3414 §6.3.1): the MAC of
    /// the whole message, whose msgAuthenticationParameters are still zero,
    /// is written over them. A message that does not parse is left as is.
    pub(crate) fn sign_message(&self, msg: &mut [u8]) {
        if let Ok(Some(layout)) = crate::snmp::v3::Layout::parse(msg) {
            let mut tag = [0u8; 64];
            let tag = &mut tag[..layout.auth_params.len().min(64)];
            self.sign(msg, tag);
            msg[layout.auth_params].copy_from_slice(tag);
        }
    }

    /// Checks an encoded v3 message's HMAC (RFC 3414 §6.3.2), for the
    /// client and the simulated agent alike: `auth_params` (the decoded
    /// msgAuthenticationParameters) must be `mac_len` bytes and the MAC of
    /// the message with them zeroed (in `scratch`, a copy). `Err` says what
    /// is wrong.
    pub(crate) fn verify_message(
        &self,
        msg: &[u8],
        auth_params: &[u8],
        mac_len: usize,
        scratch: &mut Vec<u8>,
    ) -> Result<(), &'static str> {
        if auth_params.len() != mac_len {
            return Err("an HMAC of the wrong length");
        }
        let layout = match crate::snmp::v3::Layout::parse(msg) {
            Ok(Some(l)) => l,
            _ => return Err("a malformed datagram"),
        };
        scratch.clear();
        scratch.extend_from_slice(msg);
        scratch[layout.auth_params].fill(0);
        match self.verify(scratch, auth_params) {
            true => Ok(()),
            false => Err("a bad HMAC"),
        }
    }

    /// True when `tag` is the MAC of `msg` truncated to `tag.len()` (in
    /// constant time).
    pub(crate) fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        with_mac!(self, m => {
            let mut m = m.clone();
            m.update(msg);
            m.verify_truncated_left(tag).is_ok()
        })
    }
}
