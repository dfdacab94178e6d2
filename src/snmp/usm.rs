//! SNMPv3's User-based Security Model (RFC 3414), sans-IO: the settings
//! ([`Usm`]), password-to-key and key localisation (RFC 3414 A.2; RFC 7860
//! for SHA-2), the privacy-key extension AES-192/256 need (Blumenthal draft,
//! and Reeder's as Cisco agents use it), HMAC authentication and DES/AES
//! privacy. The client's session drives it; nothing here touches a socket.
//!
//! ```
//! use edgepool::snmp::usm::{localize_key, password_to_key};
//! use edgepool::snmp::AuthProtocol;
//! // RFC 3414 A.3.1.
//! let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
//! let kul = localize_key(AuthProtocol::Md5, &ku, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
//! assert_eq!(kul[..4], [0x52, 0x6f, 0x5e, 0xed]);
//! ```

use crate::{Error, Result};
use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use hmac::digest::Digest;
use hmac::{Hmac, Mac};
use std::fmt;

/// How much a message is protected (RFC 3411 §3.4.3).
///
/// ```
/// use edgepool::snmp::SecurityLevel;
/// assert!(SecurityLevel::AuthPriv > SecurityLevel::AuthNoPriv);
/// assert_eq!(SecurityLevel::AuthPriv.to_string(), "authPriv");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SecurityLevel {
    /// Neither authenticated nor encrypted: only the user name identifies.
    #[default]
    NoAuthNoPriv,
    /// Authenticated (HMAC), not encrypted.
    AuthNoPriv,
    /// Authenticated and encrypted.
    AuthPriv,
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        })
    }
}

/// The authentication protocol: HMAC-MD5-96 and HMAC-SHA-96 (RFC 3414) or
/// HMAC-SHA-2 (RFC 7860). Its hash also derives the privacy key.
///
/// ```
/// use edgepool::snmp::AuthProtocol;
/// assert_eq!(AuthProtocol::Sha256.mac_len(), 24);
/// assert_eq!(AuthProtocol::Sha1.to_string(), "SHA");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthProtocol {
    /// usmHMACMD5AuthProtocol: 12-byte MAC.
    Md5,
    /// usmHMACSHAAuthProtocol (SHA-1): 12-byte MAC.
    #[default]
    Sha1,
    /// usmHMAC128SHA224AuthProtocol: 16-byte MAC.
    Sha224,
    /// usmHMAC192SHA256AuthProtocol: 24-byte MAC.
    Sha256,
    /// usmHMAC256SHA384AuthProtocol: 32-byte MAC.
    Sha384,
    /// usmHMAC384SHA512AuthProtocol: 48-byte MAC.
    Sha512,
}

impl AuthProtocol {
    /// Bytes of the hash (and of a localized key).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::AuthProtocol::Md5.digest_len(), 16);
    /// ```
    pub fn digest_len(self) -> usize {
        match self {
            AuthProtocol::Md5 => 16,
            AuthProtocol::Sha1 => 20,
            AuthProtocol::Sha224 => 28,
            AuthProtocol::Sha256 => 32,
            AuthProtocol::Sha384 => 48,
            AuthProtocol::Sha512 => 64,
        }
    }

    /// Bytes of the truncated HMAC in msgAuthenticationParameters.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::AuthProtocol::Sha512.mac_len(), 48);
    /// ```
    pub fn mac_len(self) -> usize {
        match self {
            AuthProtocol::Md5 | AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha224 => 16,
            AuthProtocol::Sha256 => 24,
            AuthProtocol::Sha384 => 32,
            AuthProtocol::Sha512 => 48,
        }
    }

    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn h<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthProtocol::Md5 => h::<md5::Md5>(parts),
            AuthProtocol::Sha1 => h::<sha1::Sha1>(parts),
            AuthProtocol::Sha224 => h::<sha2::Sha224>(parts),
            AuthProtocol::Sha256 => h::<sha2::Sha256>(parts),
            AuthProtocol::Sha384 => h::<sha2::Sha384>(parts),
            AuthProtocol::Sha512 => h::<sha2::Sha512>(parts),
        }
    }
}

impl fmt::Display for AuthProtocol {
    /// net-snmp's names (`-a`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthProtocol::Md5 => "MD5",
            AuthProtocol::Sha1 => "SHA",
            AuthProtocol::Sha224 => "SHA-224",
            AuthProtocol::Sha256 => "SHA-256",
            AuthProtocol::Sha384 => "SHA-384",
            AuthProtocol::Sha512 => "SHA-512",
        })
    }
}

/// The privacy protocol: DES-CBC (RFC 3414), AES-128-CFB (RFC 3826), and
/// AES-192/256-CFB with the two ways of stretching a short localized key:
/// `Aes192`/`Aes256` per the Blumenthal draft (net-snmp's `AES-192`), and
/// `Aes192C`/`Aes256C` per Reeder's 3DES draft, as Cisco agents do.
///
/// ```
/// use edgepool::snmp::PrivProtocol;
/// assert_eq!(PrivProtocol::Aes256C.key_len(), 32);
/// assert_eq!(PrivProtocol::Aes192C.to_string(), "AES-192-C");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PrivProtocol {
    /// usmDESPrivProtocol: DES-CBC, 8-byte key and 8-byte pre-IV.
    Des,
    /// usmAesCfb128Protocol.
    #[default]
    Aes128,
    /// AES-192-CFB, key extended per draft-blumenthal-aes-usm-04.
    Aes192,
    /// AES-256-CFB, key extended per draft-blumenthal-aes-usm-04.
    Aes256,
    /// AES-192-CFB, key extended per draft-reeder-snmpv3-usm-3desede (Cisco).
    Aes192C,
    /// AES-256-CFB, key extended per draft-reeder-snmpv3-usm-3desede (Cisco).
    Aes256C,
}

impl PrivProtocol {
    /// Bytes of localized key material the protocol uses (DES: key and pre-IV).
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::PrivProtocol::Des.key_len(), 16);
    /// ```
    pub fn key_len(self) -> usize {
        match self {
            PrivProtocol::Des | PrivProtocol::Aes128 => 16,
            PrivProtocol::Aes192 | PrivProtocol::Aes192C => 24,
            PrivProtocol::Aes256 | PrivProtocol::Aes256C => 32,
        }
    }
}

impl fmt::Display for PrivProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrivProtocol::Des => "DES",
            PrivProtocol::Aes128 => "AES",
            PrivProtocol::Aes192 => "AES-192",
            PrivProtocol::Aes256 => "AES-256",
            PrivProtocol::Aes192C => "AES-192-C",
            PrivProtocol::Aes256C => "AES-256-C",
        })
    }
}

/// The SNMPv3 user and its keys, for [`Config::v3`](super::Config::v3).
/// Passwords are never shown in `Debug` or logs; [`Config`](super::Config)
/// refuses ones shorter than 8 characters (RFC 3414 §11.2) when connecting.
///
/// ```
/// use edgepool::snmp::{AuthProtocol, PrivProtocol, SecurityLevel, Usm};
/// let u = Usm::new("monitor")
///     .auth(AuthProtocol::Sha256, "auth-secret")
///     .privacy(PrivProtocol::Aes128, "priv-secret");
/// assert_eq!(u.level, SecurityLevel::AuthPriv);
/// assert!(!format!("{u:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usm {
    /// The user name (1 to 32 bytes).
    pub user: String,
    /// The security level. Defaults to noAuthNoPriv; [`Usm::auth`] and
    /// [`Usm::privacy`] raise it.
    pub level: SecurityLevel,
    /// The authentication protocol. Defaults to SHA (SHA-1).
    pub auth: AuthProtocol,
    /// The authentication password (at least 8 characters when used).
    pub auth_password: String,
    /// The privacy protocol. Defaults to AES (AES-128).
    pub privacy: PrivProtocol,
    /// The privacy password (at least 8 characters when used).
    pub priv_password: String,
    /// The context name (RFC 3411); empty by default.
    pub context_name: String,
    /// The context engine ID; `None` (the default) means the agent's own
    /// engine ID, learnt by discovery.
    pub context_engine_id: Option<Vec<u8>>,
}

impl Default for Usm {
    fn default() -> Self {
        Usm {
            user: String::new(),
            level: SecurityLevel::NoAuthNoPriv,
            auth: AuthProtocol::default(),
            auth_password: String::new(),
            privacy: PrivProtocol::default(),
            priv_password: String::new(),
            context_name: String::new(),
            context_engine_id: None,
        }
    }
}

impl fmt::Debug for Usm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("snmp::Usm")
            .field("user", &self.user)
            .field("level", &self.level)
            .field("auth", &self.auth)
            .field("auth_password", &"<redacted>")
            .field("privacy", &self.privacy)
            .field("priv_password", &"<redacted>")
            .field("context_name", &self.context_name)
            .field("context_engine_id", &self.context_engine_id)
            .finish()
    }
}

impl Usm {
    /// A noAuthNoPriv user.
    ///
    /// ```
    /// let u = edgepool::snmp::Usm::new("guest");
    /// assert_eq!(u.level, edgepool::snmp::SecurityLevel::NoAuthNoPriv);
    /// ```
    pub fn new(user: impl Into<String>) -> Usm {
        Usm {
            user: user.into(),
            ..Usm::default()
        }
    }

    /// Sets the authentication protocol and password, and raises the level to
    /// at least authNoPriv.
    ///
    /// ```
    /// use edgepool::snmp::{AuthProtocol, SecurityLevel, Usm};
    /// let u = Usm::new("ops").auth(AuthProtocol::Sha512, "long enough");
    /// assert_eq!(u.level, SecurityLevel::AuthNoPriv);
    /// ```
    pub fn auth(mut self, protocol: AuthProtocol, password: impl Into<String>) -> Self {
        self.auth = protocol;
        self.auth_password = password.into();
        self.level = self.level.max(SecurityLevel::AuthNoPriv);
        self
    }

    /// Sets the privacy protocol and password, and raises the level to
    /// authPriv (privacy needs authentication: set it with [`Usm::auth`]).
    ///
    /// ```
    /// use edgepool::snmp::{AuthProtocol, PrivProtocol, Usm};
    /// let u = Usm::new("ops").auth(AuthProtocol::Sha1, "auth pass").privacy(PrivProtocol::Des, "priv pass");
    /// assert_eq!(u.privacy, PrivProtocol::Des);
    /// ```
    pub fn privacy(mut self, protocol: PrivProtocol, password: impl Into<String>) -> Self {
        self.privacy = protocol;
        self.priv_password = password.into();
        self.level = SecurityLevel::AuthPriv;
        self
    }

    /// Sets the security level directly.
    ///
    /// ```
    /// use edgepool::snmp::{SecurityLevel, Usm};
    /// let u = Usm::new("x").level(SecurityLevel::NoAuthNoPriv);
    /// # let _ = u;
    /// ```
    pub fn level(mut self, level: SecurityLevel) -> Self {
        self.level = level;
        self
    }

    /// Sets the context name.
    ///
    /// ```
    /// let u = edgepool::snmp::Usm::new("x").context_name("bridge1");
    /// assert_eq!(u.context_name, "bridge1");
    /// ```
    pub fn context_name(mut self, name: impl Into<String>) -> Self {
        self.context_name = name.into();
        self
    }

    /// Sets the context engine ID (for a proxy's or another engine's contexts).
    ///
    /// ```
    /// let u = edgepool::snmp::Usm::new("x").context_engine_id(vec![0x80, 0, 0x1f, 0x88, 4]);
    /// # let _ = u;
    /// ```
    pub fn context_engine_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.context_engine_id = Some(id.into());
        self
    }

    /// Checks the settings: the user name's size, passwords of at least 8
    /// characters where the level uses them, and the context's sizes.
    ///
    /// ```
    /// use edgepool::snmp::{AuthProtocol, Usm};
    /// let e = Usm::new("ops").auth(AuthProtocol::Sha1, "short").validate().unwrap_err();
    /// assert!(e.to_string().contains("at least 8 characters"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("SNMPv3 user {:?}: {m}", self.user)));
        if self.user.is_empty() || self.user.len() > 32 {
            return bad("the user name must be 1 to 32 bytes".into());
        }
        if self.level >= SecurityLevel::AuthNoPriv && self.auth_password.len() < MIN_PASSWORD {
            return bad(format!(
                "the authentication password must be at least {MIN_PASSWORD} characters (RFC 3414)"
            ));
        }
        if self.level == SecurityLevel::AuthPriv && self.priv_password.len() < MIN_PASSWORD {
            return bad(format!(
                "the privacy password must be at least {MIN_PASSWORD} characters (RFC 3414)"
            ));
        }
        if self.context_name.len() > 32 {
            return bad("the context name must be at most 32 bytes".into());
        }
        if let Some(id) = &self.context_engine_id {
            if !(ENGINE_ID_LEN.contains(&id.len())) {
                return bad("the context engine ID must be 5 to 32 bytes".into());
            }
        }
        Ok(())
    }
}

/// Shortest password accepted (RFC 3414 §11.2; net-snmp refuses shorter).
const MIN_PASSWORD: usize = 8;

/// Sizes of an snmpEngineID (RFC 3411).
pub(crate) const ENGINE_ID_LEN: std::ops::RangeInclusive<usize> = 5..=32;

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
pub(crate) struct Secret(Vec<u8>);

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
                &Secret(priv_key(usm.auth, usm.privacy, ku.bytes(), engine_id)),
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
        if let Ok(Some(layout)) = super::v3::Layout::parse(msg) {
            let mut tag = [0u8; 64];
            let tag = &mut tag[..layout.auth_params.len().min(64)];
            self.sign(msg, tag);
            msg[layout.auth_params].copy_from_slice(tag);
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

/// A privacy key: DES's key schedule and pre-IV, or an AES key schedule
/// (expanded once per localized key, cloned per message).
#[derive(Clone)]
pub(crate) enum PrivKey {
    Des { key: des::Des, pre_iv: [u8; 8] },
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

impl PrivKey {
    pub(crate) fn new(privacy: PrivProtocol, key: &Secret) -> Result<PrivKey> {
        let k = key.bytes();
        let short = || Error::Config(format!("{privacy} key of {} bytes", k.len()));
        let aes_err = |_| short();
        Ok(match privacy {
            PrivProtocol::Des => {
                let (Some(a), Some(b)) = (k.get(..8), k.get(8..16)) else {
                    return Err(short());
                };
                let mut pre_iv = [0u8; 8];
                pre_iv.copy_from_slice(b);
                let key = des::Des::new_from_slice(a).map_err(|_| short())?;
                PrivKey::Des { key, pre_iv }
            }
            PrivProtocol::Aes128 => PrivKey::Aes128(
                Aes128::new_from_slice(k.get(..16).ok_or_else(short)?).map_err(aes_err)?,
            ),
            PrivProtocol::Aes192 | PrivProtocol::Aes192C => PrivKey::Aes192(
                Aes192::new_from_slice(k.get(..24).ok_or_else(short)?).map_err(aes_err)?,
            ),
            PrivProtocol::Aes256 | PrivProtocol::Aes256C => PrivKey::Aes256(
                Aes256::new_from_slice(k.get(..32).ok_or_else(short)?).map_err(aes_err)?,
            ),
        })
    }

    /// Encrypts `buf` in place (DES pads it to a multiple of 8 first) and
    /// returns msgPrivacyParameters. `boots`/`time` are the values the
    /// message carries; `salt` a counter unique per message.
    pub(crate) fn encrypt(&self, boots: u32, time: u32, salt: u64, buf: &mut Vec<u8>) -> [u8; 8] {
        match self {
            PrivKey::Des { key, pre_iv } => {
                // RFC 3414 §8.1.1.1: salt = engineBoots || a local 32-bit counter.
                let mut params = [0u8; 8];
                params[..4].copy_from_slice(&boots.to_be_bytes());
                params[4..].copy_from_slice(&(salt as u32).to_be_bytes());
                let iv = xor8(pre_iv, &params);
                buf.resize(buf.len().div_ceil(8) * 8, 0);
                let mut enc = cbc::Encryptor::<des::Des>::inner_iv_init(key.clone(), (&iv).into());
                for block in buf.chunks_exact_mut(8) {
                    enc.encrypt_block_mut(block.into());
                }
                params
            }
            aes => {
                // RFC 3826 §3.1.2.1: IV = engineBoots || engineTime || salt.
                let params = salt.to_be_bytes();
                let iv = aes_iv(boots, time, &params);
                match aes {
                    PrivKey::Aes128(c) => {
                        cfb_mode::BufEncryptor::inner_iv_init(c.clone(), (&iv).into()).encrypt(buf)
                    }
                    PrivKey::Aes192(c) => {
                        cfb_mode::BufEncryptor::inner_iv_init(c.clone(), (&iv).into()).encrypt(buf)
                    }
                    PrivKey::Aes256(c) => {
                        cfb_mode::BufEncryptor::inner_iv_init(c.clone(), (&iv).into()).encrypt(buf)
                    }
                    PrivKey::Des { .. } => {}
                }
                params
            }
        }
    }

    /// Decrypts `buf` in place with the message's msgPrivacyParameters and
    /// boots/time. False when the parameters or the length cannot be right
    /// (a wrong key is only noticed when the plaintext fails to decode).
    pub(crate) fn decrypt(&self, boots: u32, time: u32, params: &[u8], buf: &mut [u8]) -> bool {
        let Ok(params) = <[u8; 8]>::try_from(params) else {
            return false;
        };
        match self {
            PrivKey::Des { key, pre_iv } => {
                if buf.len() % 8 != 0 {
                    return false;
                }
                let iv = xor8(pre_iv, &params);
                let mut dec = cbc::Decryptor::<des::Des>::inner_iv_init(key.clone(), (&iv).into());
                for block in buf.chunks_exact_mut(8) {
                    dec.decrypt_block_mut(block.into());
                }
            }
            PrivKey::Aes128(c) => {
                let iv = aes_iv(boots, time, &params);
                cfb_mode::BufDecryptor::inner_iv_init(c.clone(), (&iv).into()).decrypt(buf)
            }
            PrivKey::Aes192(c) => {
                let iv = aes_iv(boots, time, &params);
                cfb_mode::BufDecryptor::inner_iv_init(c.clone(), (&iv).into()).decrypt(buf)
            }
            PrivKey::Aes256(c) => {
                let iv = aes_iv(boots, time, &params);
                cfb_mode::BufDecryptor::inner_iv_init(c.clone(), (&iv).into()).decrypt(buf)
            }
        }
        true
    }
}

fn xor8(a: &[u8; 8], b: &[u8; 8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for i in 0..8 {
        out[i] = a[i] ^ b[i];
    }
    out
}

fn aes_iv(boots: u32, time: u32, salt: &[u8; 8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&boots.to_be_bytes());
    iv[4..8].copy_from_slice(&time.to_be_bytes());
    iv[8..].copy_from_slice(salt);
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const RFC_ENGINE: &str = "000000000000000000000002";

    #[test]
    fn rfc3414_a3_password_to_key_and_localisation() {
        // RFC 3414 A.3.1 (MD5) and A.3.2 (SHA): password "maplesyrup",
        // engine ID 00..02.
        let engine = unhex(RFC_ENGINE);
        let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
        assert_eq!(hex(&ku), "9faf3283884e92834ebc9847d8edd963");
        assert_eq!(
            hex(&localize_key(AuthProtocol::Md5, &ku, &engine)),
            "526f5eed9fcce26f8964c2930787d82b"
        );
        let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
        assert_eq!(hex(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
        assert_eq!(
            hex(&localize_key(AuthProtocol::Sha1, &ku, &engine)),
            "6695febc9288e36282235fc7151f128497b38f3f"
        );
    }

    /// Localized keys net-snmp 5.9.3's snmpd (Debian 12) wrote to its
    /// persistent snmpd.conf (`usmUser` lines) for `createUser` lines, engine
    /// ID 80001f8880e9bd0c1d12667a5100000000 (`exactEngineID`).
    const NET_SNMP_ENGINE: &str = "80001f8880e9bd0c1d12667a5100000000";

    #[test]
    fn localized_keys_match_net_snmp_for_every_auth_protocol() {
        let engine = unhex(NET_SNMP_ENGINE);
        let cases = [
            (AuthProtocol::Md5, "md5authpass", "29244691585542448c7643694263412a"),
            (AuthProtocol::Sha1, "shaauthpass", "8c480c5b46114db676f9362d122c4d0dc387ed97"),
            (
                AuthProtocol::Sha224,
                "sha224authpass",
                "45b6254ddffd3705d0fad784d6806cfb6e1bc5e8fea773eb36b20e81",
            ),
            (
                AuthProtocol::Sha256,
                "sha256authpass",
                "7b2c9c61c36e4093ef6f2b33930bb83f203ed94657d00edfa597f00aff591222",
            ),
            (
                AuthProtocol::Sha384,
                "sha384authpass",
                "5a41fbe27587cb545687a154f0b98fb6949d858d350cbd95786e3f16818272df69476a0c562f051d72feb621bd881155",
            ),
            (
                AuthProtocol::Sha512,
                "sha512authpass",
                "69dcabbd34c322d9944510ff0fd758592d7e16b42014a338d5237eeea9e448c3cc183c1634f8a722140d080f45999106ebd47ec85e1f3651f4eb96ebbcb0c7fe",
            ),
        ];
        for (auth, password, want) in cases {
            let ku = password_to_key(auth, password.as_bytes());
            assert_eq!(hex(&localize_key(auth, &ku, &engine)), want, "{auth}");
        }
        // Privacy keys: the auth protocol's hash, cut to the cipher's size.
        let privs = [
            (
                AuthProtocol::Md5,
                PrivProtocol::Des,
                "md5privpass",
                "6eec1cc46d266cee691da4d75b9a3d7f",
            ),
            (
                AuthProtocol::Sha1,
                PrivProtocol::Aes128,
                "shaprivpass",
                "6cd6f3730a7ffd058fdb2488cb15bd7d",
            ),
            (
                AuthProtocol::Sha384,
                PrivProtocol::Aes128,
                "sha384privpass",
                "676912934a679ea4c499371cbf234a9e",
            ),
            (
                AuthProtocol::Sha512,
                PrivProtocol::Aes128,
                "sha512privpass",
                "2c40b4d614cafd495f0d415a73f3d688",
            ),
        ];
        for (auth, privacy, password, want) in privs {
            let ku = password_to_key(auth, password.as_bytes());
            assert_eq!(
                hex(&priv_key(auth, privacy, &ku, &engine)),
                want,
                "{auth}/{privacy}"
            );
        }
    }

    #[test]
    fn sha2_keys_match_gosnmp_s_vectors() {
        // gosnmp's v3_usm_test.go (captured from net-snmp against the
        // pysnmp-based demo.snmplabs.com agent): password "authkey1".
        let engine = unhex("80004fb805636c6f75644dab22cc");
        let ku = password_to_key(AuthProtocol::Sha224, b"authkey1");
        assert_eq!(
            hex(&localize_key(AuthProtocol::Sha224, &ku, &engine)),
            "f2a2ebaa9677ad286255596286ca4fb7ec22f52405cb0aac334c5f15"
        );
        let ku = password_to_key(AuthProtocol::Sha512, b"authkey1");
        assert_eq!(
            hex(&localize_key(AuthProtocol::Sha512, &ku, &engine)),
            "c336e5e6396926813d623984610e8f0cd7f419da75c82ac50927c84fd92027f7cdd849ce983036dca67bfb1e8fde2a8c2d45cd2f0d3e0b0b929f7dda462a58cf"
        );
    }

    #[test]
    fn reeder_key_extension_matches_the_draft_s_appendix_b() {
        // draft-reeder-snmpv3-usm-3desede-00 Appendix B ("maplesyrup",
        // engine 00..02), as transcribed in trishul-snmp's
        // tests/test_v3_crypto_parity.py: K1 = Kul, K2 = localize(Ku(K1)).
        let engine = unhex(RFC_ENGINE);
        let md5 = "526f5eed9fcce26f8964c2930787d82b79eff44a90650ee0a3a40abfac5acc12";
        let sha =
            "6695febc9288e36282235fc7151f128497b38f3f9b8b6d78936ba6e7d19dfd9cd2d5065547743fb5";
        let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
        assert_eq!(
            hex(&priv_key(
                AuthProtocol::Md5,
                PrivProtocol::Aes256C,
                &ku,
                &engine
            )),
            md5
        );
        assert_eq!(
            hex(&priv_key(
                AuthProtocol::Md5,
                PrivProtocol::Aes192C,
                &ku,
                &engine
            )),
            md5[..48]
        );
        let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
        assert_eq!(
            hex(&priv_key(
                AuthProtocol::Sha1,
                PrivProtocol::Aes256C,
                &ku,
                &engine
            )),
            sha[..64]
        );
        assert_eq!(
            hex(&priv_key(
                AuthProtocol::Sha1,
                PrivProtocol::Aes192C,
                &ku,
                &engine
            )),
            sha[..48]
        );
    }

    #[test]
    fn blumenthal_key_extension_matches_net_snmp_5_9_4() {
        // net-snmp 5.9.4 built with Blumenthal AES (its persistent store), as
        // recorded in trishul-snmp's tests/test_v3_crypto_parity.py: priv
        // password "privpassword12345", engine 80001f8804726565646572696e76657374.
        let engine = unhex("80001f8804726565646572696e76657374");
        let cases = [
            (
                AuthProtocol::Sha256,
                PrivProtocol::Aes192,
                "93cbabe7564aaffcf6561be284c26e9338036d8ff742783b",
            ),
            (
                AuthProtocol::Sha224,
                PrivProtocol::Aes256,
                "c4962c5bb380a5ab0e8f5a545d637ebc068615bae787302983628ae0405bcfdc",
            ),
            (
                AuthProtocol::Sha384,
                PrivProtocol::Aes192,
                "a9ac4757eeaaaae0b12d9355f42542f651f676188abdfa76",
            ),
            (
                AuthProtocol::Sha512,
                PrivProtocol::Aes256,
                "dab9c5469ab8ad695cc36a8f38a8600b6ead36d1c415cf93dff76f31643774af",
            ),
            (
                AuthProtocol::Sha256,
                PrivProtocol::Aes256,
                "93cbabe7564aaffcf6561be284c26e9338036d8ff742783b48366937ea608a93",
            ),
        ];
        for (auth, privacy, want) in cases {
            let ku = password_to_key(auth, b"privpassword12345");
            assert_eq!(
                hex(&priv_key(auth, privacy, &ku, &engine)),
                want,
                "{auth}/{privacy}"
            );
        }
        // SHA-224 + AES-256 is the one that extends: Kul (28) || H(Kul)[..4].
        let ku = password_to_key(AuthProtocol::Sha224, b"privpassword12345");
        let kul = localize_key(AuthProtocol::Sha224, &ku, &engine);
        let ext = AuthProtocol::Sha224.hash(&[&kul]);
        let key = priv_key(AuthProtocol::Sha224, PrivProtocol::Aes256, &ku, &engine);
        assert_eq!((&key[..28], &key[28..]), (&kul[..], &ext[..4]));
    }

    #[test]
    fn the_two_extensions_differ_only_where_the_hash_is_short() {
        let engine = unhex(NET_SNMP_ENGINE);
        for auth in [AuthProtocol::Md5, AuthProtocol::Sha1, AuthProtocol::Sha224] {
            let ku = password_to_key(auth, b"some password");
            let b = priv_key(auth, PrivProtocol::Aes256, &ku, &engine);
            let c = priv_key(auth, PrivProtocol::Aes256C, &ku, &engine);
            assert_eq!(b[..auth.digest_len()], c[..auth.digest_len()]);
            assert_ne!(b, c, "{auth}");
        }
        let ku = password_to_key(AuthProtocol::Sha256, b"some password");
        assert_eq!(
            priv_key(AuthProtocol::Sha256, PrivProtocol::Aes256, &ku, &engine),
            priv_key(AuthProtocol::Sha256, PrivProtocol::Aes256C, &ku, &engine)
        );
    }

    #[test]
    fn ciphers_round_trip_and_des_pads() {
        for privacy in [
            PrivProtocol::Des,
            PrivProtocol::Aes128,
            PrivProtocol::Aes192,
            PrivProtocol::Aes256,
            PrivProtocol::Aes192C,
            PrivProtocol::Aes256C,
        ] {
            let key = PrivKey::new(privacy, &Secret((0u8..32).collect())).unwrap();
            let plain: Vec<u8> = (0u8..45).collect();
            let mut buf = plain.clone();
            let params = key.encrypt(7, 1234, 0x0102_0304_0506_0708, &mut buf);
            assert_ne!(buf[..45], plain[..], "{privacy}");
            if privacy == PrivProtocol::Des {
                assert_eq!(buf.len(), 48);
                assert_eq!(params, [0, 0, 0, 7, 5, 6, 7, 8]);
            } else {
                assert_eq!(buf.len(), 45);
                assert_eq!(params, [1, 2, 3, 4, 5, 6, 7, 8]);
            }
            assert!(key.decrypt(7, 1234, &params, &mut buf));
            assert_eq!(buf[..45], plain[..], "{privacy}");
            assert!(!key.decrypt(7, 1234, &params[..7], &mut buf));
        }
        let des = PrivKey::new(PrivProtocol::Des, &Secret(vec![1; 16])).unwrap();
        assert!(!des.decrypt(0, 0, &[0; 8], &mut [0; 9]), "not whole blocks");
        assert!(PrivKey::new(PrivProtocol::Aes256, &Secret(vec![1; 16])).is_err());
    }

    #[test]
    fn macs_are_truncated_and_verified() {
        for auth in [
            AuthProtocol::Md5,
            AuthProtocol::Sha1,
            AuthProtocol::Sha224,
            AuthProtocol::Sha256,
            AuthProtocol::Sha384,
            AuthProtocol::Sha512,
        ] {
            let key = MacKey::new(auth, &Secret(vec![9; auth.digest_len()])).unwrap();
            let mut tag = vec![0u8; auth.mac_len()];
            key.sign(b"message", &mut tag);
            assert!(key.verify(b"message", &tag));
            assert!(!key.verify(b"messagf", &tag));
            tag[0] ^= 1;
            assert!(!key.verify(b"message", &tag));
        }
        // RFC 2202 test case 2 (HMAC-MD5, key "Jefe"), truncated to 96 bits.
        let key = MacKey::new(AuthProtocol::Md5, &Secret(b"Jefe".to_vec())).unwrap();
        let mut tag = [0u8; 12];
        key.sign(b"what do ya want for nothing?", &mut tag);
        assert_eq!(hex(&tag), "750c783e6ab0b503eaa86e31");
    }

    #[test]
    fn passwords_and_keys_stay_out_of_debug() {
        let u = Usm::new("ops")
            .auth(AuthProtocol::Sha1, "auth-password-1")
            .privacy(PrivProtocol::Aes128, "priv-password-2");
        let master = MasterKeys::new(&u);
        let local = master.localize(&u, &unhex(NET_SNMP_ENGINE)).unwrap();
        let ku = password_to_key(AuthProtocol::Sha1, b"auth-password-1");
        let text = format!("{u:?} {master:?} {local:?} {:?}", Secret(ku.clone()));
        for secret in [
            "auth-password-1",
            "priv-password-2",
            &hex(&ku),
            &format!("{ku:?}"),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn validation() {
        let ok = Usm::new("u")
            .auth(AuthProtocol::Md5, "12345678")
            .privacy(PrivProtocol::Des, "abcdefgh");
        ok.validate().unwrap();
        assert!(
            Usm::new("u").validate().is_ok(),
            "noAuthNoPriv needs no password"
        );
        let e = Usm::new("u")
            .auth(AuthProtocol::Md5, "1234567")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("authentication password"), "{e}");
        let e = ok
            .clone()
            .privacy(PrivProtocol::Des, "short")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("privacy password"), "{e}");
        assert!(!e.to_string().contains("short"));
        assert!(Usm::new("").validate().is_err());
        assert!(Usm::new("x".repeat(33)).validate().is_err());
        assert!(Usm::new("u")
            .context_name("c".repeat(33))
            .validate()
            .is_err());
        assert!(Usm::new("u")
            .context_engine_id(vec![1, 2])
            .validate()
            .is_err());
    }
}
