//! Privacy: DES-CBC (RFC 3414 §8) and AES-CFB (RFC 3826) with the
//! localized privacy key.

use crate::{Error, Result};
use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};

use super::config::PrivProtocol;

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
    /// `k`: the localized privacy key (at least as long as the cipher's key).
    pub(crate) fn new(privacy: PrivProtocol, k: &[u8]) -> Result<PrivKey> {
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
