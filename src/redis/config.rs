//! [`Config`]: where and how to connect, from fields or a `redis://` URL.

use super::resp::Limits;
use crate::net::{ConnectOptions, TlsMode};
use crate::{Error, Result};
use std::fmt;

/// How to reach one Redis server: the address, the login and database, and
/// the transport settings ([`ConnectOptions`], the same `net` field and
/// setters as the tcp and s7 configurations). The connect timeout bounds the
/// TCP connect, TLS and `AUTH`/`SELECT`/`CLIENT SETNAME` together; the read
/// and write timeouts are on by default, so a hung server cannot stall a
/// caller.
///
/// ```
/// use edgepool::redis::Config;
/// use std::time::Duration;
///
/// let c = Config::from_url("redis://app:s3cret-pass@127.0.0.1:6380/2")?
///     .read_timeout(Duration::from_secs(1))
///     .keepalive(None);
/// assert_eq!((c.addr.as_str(), c.db), ("127.0.0.1:6380", 2));
/// assert_eq!(c.username.as_deref(), Some("app"));
/// assert_eq!(c.net.read_timeout, Some(Duration::from_secs(1)));
/// assert!(!format!("{c:?}").contains("s3cret"));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `host:port`, or `host` for port 6379 (a URL goes to [`Config::from_url`]).
    pub addr: String,
    /// ACL user name (Redis 6+); `None` authenticates as the default user.
    pub username: Option<String>,
    /// Password (`requirepass` or the ACL user's). Never shown in `Debug`.
    pub password: Option<String>,
    /// Database selected after connecting. Defaults to 0.
    pub db: u32,
    /// Name set with `CLIENT SETNAME` (no spaces). Defaults to none.
    pub client_name: Option<String>,
    /// Connect deadline (over TCP, TLS and the login), read and write
    /// timeouts, keepalive, nodelay, TLS. Defaults to
    /// [`ConnectOptions::default()`]: connect 3 s, read and write 5 s,
    /// keepalive on, no TLS; `rediss://` URLs turn on verified TLS.
    pub net: ConnectOptions,
    /// Bounds on replies. Defaults to 512 MiB bulk strings, 1M-element arrays.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:6379".into(),
            username: None,
            password: None,
            db: 0,
            client_name: None,
            net: ConnectOptions::default(),
            limits: Limits::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("db", &self.db)
            .field("client_name", &self.client_name)
            .field("net", &self.net)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Config {
    /// A config for `addr` (`host:port`) with the defaults.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").db(1).client_name("poller");
    /// assert_eq!(c.db, 1);
    /// ```
    pub fn new(addr: impl Into<String>) -> Config {
        Config {
            addr: addr.into(),
            ..Config::default()
        }
    }

    /// The address to connect to: `addr`, with port 6379 when it has none.
    pub(crate) fn connect_addr(&self) -> Result<String> {
        crate::net::host_port(
            &self.addr,
            Some(6379),
            "a Redis address (Config::new; redis:// URLs go to Config::from_url)",
        )
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` or `rediss://…`
    /// (TLS, verified against the system roots). Percent-escapes in the user
    /// and password are decoded. The port defaults to 6379.
    ///
    /// ```
    /// use edgepool::redis::Config;
    /// let c = Config::from_url("redis://:p%40ss@[::1]/3")?;
    /// assert_eq!((c.addr.as_str(), c.password.as_deref(), c.db), ("[::1]:6379", Some("p@ss"), 3));
    /// assert!(Config::from_url("http://x").is_err());
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Config> {
        let bad = |why: &str| {
            Error::Config(format!(
                "bad Redis URL ({why}); expected redis://[user:pass@]host:port/db"
            ))
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("redis://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rediss://") {
            (true, r)
        } else {
            return Err(bad("scheme must be redis:// or rediss://"));
        };
        if rest.contains('?') || rest.contains('#') {
            return Err(bad("query strings are not supported"));
        }
        let (auth, hostpath) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (hostport, db) = match hostpath.split_once('/') {
            Some((h, "")) => (h, 0),
            Some((h, d)) => (h, d.parse().map_err(|_| bad("database must be a number"))?),
            None => (hostpath, 0),
        };
        if hostport.is_empty() {
            return Err(bad("no host"));
        }
        let has_port = match hostport.rfind(']') {
            Some(close) => hostport[close..].contains(':'),
            None => hostport.contains(':'),
        };
        let addr = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:6379")
        };
        let mut config = Config::new(addr).db(db);
        if let Some(auth) = auth {
            let (user, pass) = match auth.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (auth, None),
            };
            if !user.is_empty() {
                config.username =
                    Some(percent_decode(user).ok_or_else(|| bad("bad escape in user"))?);
            }
            if let Some(p) = pass {
                config.password =
                    Some(percent_decode(p).ok_or_else(|| bad("bad escape in password"))?);
            }
        }
        if tls {
            config.net.tls = TlsMode::Verified {
                server_name: None,
                ca: None,
            };
        }
        Ok(config)
    }

    /// Sets the ACL user and password.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").auth(Some("app"), "apppass");
    /// assert_eq!(c.username.as_deref(), Some("app"));
    /// ```
    pub fn auth(mut self, username: Option<&str>, password: &str) -> Self {
        self.username = username.map(str::to_owned);
        self.password = Some(password.to_owned());
        self
    }

    /// Sets the database.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").db(3);
    /// assert_eq!(c.db, 3);
    /// ```
    pub fn db(mut self, db: u32) -> Self {
        self.db = db;
        self
    }

    /// Sets the client name (`CLIENT SETNAME`).
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").client_name("gw-7");
    /// assert_eq!(c.client_name.as_deref(), Some("gw-7"));
    /// ```
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    crate::net::net_setters!("edgepool::redis::Config::new(\"127.0.0.1:6379\")");

    /// Sets the reply limits.
    ///
    /// ```
    /// use edgepool::redis::{Config, Limits};
    /// let c = Config::new("127.0.0.1:6379").limits(Limits::default().max_bulk(1 << 20));
    /// # let _ = c;
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(name) = &self.client_name {
            if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(Error::Config(
                    "client_name must be non-empty, without spaces or control characters".into(),
                ));
            }
        }
        if self.username.is_some() && self.password.is_none() {
            return Err(Error::Config("a Redis username needs a password".into()));
        }
        self.net.validate()
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_addr() {
        let addr = |a: &str| Config::new(a).connect_addr().ok();
        assert_eq!(addr("cache").as_deref(), Some("cache:6379"));
        assert_eq!(addr("cache:7000").as_deref(), Some("cache:7000"));
        assert_eq!(addr("[::1]").as_deref(), Some("[::1]:6379"));
        assert!(matches!(
            Config::new("redis://cache").connect_addr(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn urls() {
        let c = Config::from_url("redis://127.0.0.1:6379").unwrap();
        assert_eq!(
            (c.addr.as_str(), c.db, c.password.is_none()),
            ("127.0.0.1:6379", 0, true)
        );
        let c = Config::from_url("redis://localhost/").unwrap();
        assert_eq!(c.addr, "localhost:6379");
        let c = Config::from_url("redis://u:p:q@h:1/15").unwrap();
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref(), c.db),
            (Some("u"), Some("p:q"), 15)
        );
        let c = Config::from_url("redis://:pw@h:1").unwrap();
        assert_eq!((c.username, c.password.as_deref()), (None, Some("pw")));
        let c = Config::from_url("redis://[::1]:7000/1").unwrap();
        assert_eq!(c.addr, "[::1]:7000");
        let c = Config::from_url("rediss://h:6380").unwrap();
        assert!(matches!(c.net.tls, TlsMode::Verified { .. }));
        for bad in [
            "redis://",
            "redis:///1",
            "redis://h/x",
            "redis://h?x=1",
            "redis://:%zz@h",
            "tcp://h",
        ] {
            assert!(
                matches!(Config::from_url(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn transport_settings_live_in_net() {
        use crate::net::ConnectOptions;
        use std::time::Duration;
        let c = Config::new("h:1");
        assert_eq!(c.net, ConnectOptions::default());
        assert_eq!(c.net.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.net.read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.net.write_timeout, Some(Duration::from_secs(5)));
        let c = c
            .keepalive(None)
            .nodelay(false)
            .read_timeout(None)
            .write_timeout(Duration::from_secs(1));
        assert_eq!(
            (c.net.keepalive, c.net.nodelay, c.net.read_timeout),
            (None, false, None)
        );
        assert_eq!(c.net.write_timeout, Some(Duration::from_secs(1)));
        assert!(c.validate().is_ok());
        assert!(Config::from_url("redis://h:1").unwrap().net.tls == TlsMode::Off);
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = Config::new("h:1").auth(Some("app"), "hunter22");
        let d = format!("{c:?}");
        assert!(!d.contains("hunter22"), "{d}");
        assert!(d.contains("<redacted>"));
    }

    #[test]
    fn validation() {
        assert!(Config::new("h:1").client_name("a b").validate().is_err());
        assert!(Config::new("h:1")
            .read_timeout(std::time::Duration::ZERO)
            .validate()
            .is_err());
        let mut c = Config::new("h:1");
        c.username = Some("u".into());
        assert!(c.validate().is_err());
        assert!(Config::new("h:1").client_name("ok-name").validate().is_ok());
    }
}
