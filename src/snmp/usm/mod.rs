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

mod config;
mod keys;
mod privacy;

pub(crate) use config::ENGINE_ID_LEN;
pub use config::{AuthProtocol, PrivProtocol, SecurityLevel, Usm};
#[cfg(feature = "sim")]
pub(crate) use keys::MacKey;
pub use keys::{localize_key, password_to_key, priv_key};
pub(crate) use keys::{LocalKeys, MasterKeys};

#[cfg(test)]
mod tests;
