//! The SNMPv3 user's settings: [`Usm`], its [`SecurityLevel`], and the
//! [`AuthProtocol`] and [`PrivProtocol`] it uses.

use crate::{Error, Result};
use hmac::digest::Digest;
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

    pub(super) fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
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

/// The SNMPv3 user and its keys, for [`Config::v3`](crate::snmp::Config::v3).
/// Passwords are never shown in `Debug` or logs; [`Config`](crate::snmp::Config)
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
