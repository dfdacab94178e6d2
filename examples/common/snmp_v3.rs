//! net-snmp-style SNMPv3 options, shared by the examples that talk SNMP
//! (`snmp_get`, `tour`): `-u -l -a -A -x -X -n` or their long forms.

use edgepool::snmp::{AuthProtocol, PrivProtocol, SecurityLevel, Usm};

/// The options' help lines.
pub const HELP: &str = "\
SNMPv3 (net-snmp's options; -u turns v3 on):
  -u, --user NAME             security name
  -l, --level LEVEL           noAuthNoPriv | authNoPriv | authPriv
                              (default: from the passwords given)
  -a, --auth-protocol PROTO   MD5 | SHA | SHA-224 | SHA-256 | SHA-384 | SHA-512 (default SHA)
  -A, --auth-password PASS    authentication passphrase (8 characters or more)
  -x, --priv-protocol PROTO   DES | AES | AES-192 | AES-256 | AES-192-C | AES-256-C (default AES)
  -X, --priv-password PASS    privacy passphrase (8 characters or more)
  -n, --context NAME          context name (default empty)";

/// The SNMPv3 options seen so far.
#[derive(Default)]
pub struct V3Options {
    user: Option<String>,
    level: Option<SecurityLevel>,
    auth: Option<AuthProtocol>,
    auth_password: Option<String>,
    privacy: Option<PrivProtocol>,
    priv_password: Option<String>,
    context: Option<String>,
}

impl V3Options {
    /// Takes `flag` if it is one of the v3 options, reading its value with
    /// `value`; `Ok(false)` when it is not a v3 option.
    pub fn take(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        match flag {
            "-u" | "--user" => self.user = Some(value()?),
            "-l" | "--level" => {
                let v = value()?;
                self.level = Some(
                    [
                        SecurityLevel::NoAuthNoPriv,
                        SecurityLevel::AuthNoPriv,
                        SecurityLevel::AuthPriv,
                    ]
                    .into_iter()
                    .find(|l| l.to_string().eq_ignore_ascii_case(&v))
                    .ok_or(format!(
                        "{flag} {v}: use noAuthNoPriv, authNoPriv or authPriv"
                    ))?,
                )
            }
            "-a" | "--auth-protocol" => {
                let v = value()?;
                let all = [
                    AuthProtocol::Md5,
                    AuthProtocol::Sha1,
                    AuthProtocol::Sha224,
                    AuthProtocol::Sha256,
                    AuthProtocol::Sha384,
                    AuthProtocol::Sha512,
                ];
                self.auth = Some(find(&all, &v, &[("SHA1", "SHA"), ("SHA-1", "SHA")], flag)?);
            }
            "-A" | "--auth-password" => self.auth_password = Some(value()?),
            "-x" | "--priv-protocol" => {
                let v = value()?;
                let all = [
                    PrivProtocol::Des,
                    PrivProtocol::Aes128,
                    PrivProtocol::Aes192,
                    PrivProtocol::Aes256,
                    PrivProtocol::Aes192C,
                    PrivProtocol::Aes256C,
                ];
                self.privacy = Some(find(
                    &all,
                    &v,
                    &[("AES128", "AES"), ("AES-128", "AES")],
                    flag,
                )?);
            }
            "-X" | "--priv-password" => self.priv_password = Some(value()?),
            "-n" | "--context" => self.context = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The user the options describe, or `None` without `-u`.
    pub fn usm(&self) -> Result<Option<Usm>, String> {
        let Some(user) = &self.user else {
            if self.auth_password.is_some() || self.priv_password.is_some() || self.level.is_some()
            {
                return Err("SNMPv3 options need a user: -u NAME".into());
            }
            return Ok(None);
        };
        let mut usm = Usm::new(user.clone());
        if let Some(pass) = &self.auth_password {
            usm = usm.auth(self.auth.unwrap_or_default(), pass.clone());
        }
        if let Some(pass) = &self.priv_password {
            usm = usm.privacy(self.privacy.unwrap_or_default(), pass.clone());
        }
        if let Some(level) = self.level {
            if level >= SecurityLevel::AuthNoPriv && self.auth_password.is_none() {
                return Err(format!("-l {level} needs -A PASS"));
            }
            if level == SecurityLevel::AuthPriv && self.priv_password.is_none() {
                return Err(format!("-l {level} needs -X PASS"));
            }
            usm = usm.level(level);
        }
        if let Some(context) = &self.context {
            usm = usm.context_name(context.clone());
        }
        Ok(Some(usm))
    }
}

/// The protocol whose name (as edgepool prints it, or an alias) is `v`.
fn find<P: Copy + std::fmt::Display>(
    all: &[P],
    v: &str,
    aliases: &[(&str, &str)],
    flag: &str,
) -> Result<P, String> {
    let name = aliases
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(v))
        .map_or(v, |(_, name)| name);
    all.iter()
        .copied()
        .find(|p| p.to_string().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<String> = all.iter().map(ToString::to_string).collect();
            format!("{flag} {v}: use one of {}", names.join(", "))
        })
}
