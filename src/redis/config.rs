//! [`Config`]: where and how to connect, from fields or a `redis://` URL.

use super::resp::Limits;
use crate::net::TlsMode;
use crate::{Error, Result};
use std::fmt;
use std::time::Duration;

/// How to reach one Redis server. Timeouts are always set: a hung server
/// cannot stall a caller.
///
/// ```
/// use edgepool::redis::Config;
/// let c = Config::from_url("redis://app:s3cret-pass@127.0.0.1:6380/2")?;
/// assert_eq!((c.addr.as_str(), c.db), ("127.0.0.1:6380", 2));
/// assert_eq!(c.username.as_deref(), Some("app"));
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
    /// TCP connect (and TLS handshake) timeout. Defaults to 3 s.
    pub connect_timeout: Duration,
    /// Longest wait for a reply. Defaults to 5 s.
    pub read_timeout: Duration,
    /// Longest wait to send a request. Defaults to 5 s.
    pub write_timeout: Duration,
    /// TLS. Defaults to off; `rediss://` URLs turn on verified TLS.
    pub tls: TlsMode,
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
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            tls: TlsMode::Off,
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
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("tls", &self.tls)
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
        crate::tcp::host_port(
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
            config.tls = TlsMode::Verified {
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

    /// Sets the connect timeout.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").connect_timeout(std::time::Duration::from_secs(1));
    /// # let _ = c;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the read timeout.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").read_timeout(std::time::Duration::from_secs(1));
    /// # let _ = c;
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the write timeout.
    ///
    /// ```
    /// let c = edgepool::redis::Config::new("127.0.0.1:6379").write_timeout(std::time::Duration::from_secs(1));
    /// # let _ = c;
    /// ```
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets TLS.
    ///
    /// ```
    /// use edgepool::net::TlsMode;
    /// let c = edgepool::redis::Config::new("127.0.0.1:6380").tls(TlsMode::Insecure);
    /// # let _ = c;
    /// ```
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

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
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("read_timeout", self.read_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{name} must not be zero")));
            }
        }
        Ok(())
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
        assert!(matches!(c.tls, TlsMode::Verified { .. }));
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
            .read_timeout(Duration::ZERO)
            .validate()
            .is_err());
        let mut c = Config::new("h:1");
        c.username = Some("u".into());
        assert!(c.validate().is_err());
        assert!(Config::new("h:1").client_name("ok-name").validate().is_ok());
    }
}
