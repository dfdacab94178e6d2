//! [`Config`]: where the PLC is and how to reach it.

use crate::net::{ConnectOptions, TlsMode};
use crate::{Error, Result};
use std::time::Duration;

/// Which kind of connection the PLC sees, part of the remote TSAP when
/// connecting by rack and slot.
///
/// ```
/// use edgepool::s7::ConnectionType;
/// assert_eq!(ConnectionType::default(), ConnectionType::Pg);
/// assert_eq!(ConnectionType::Op.code(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ConnectionType {
    /// Programming device (the default; what most tools use).
    #[default]
    Pg,
    /// Operator panel (HMI); uses the PLC's OP connection resources.
    Op,
    /// S7 basic communication.
    Basic,
}

impl ConnectionType {
    /// The code in the high byte of the remote TSAP: 1, 2 or 3.
    ///
    /// ```
    /// assert_eq!(edgepool::s7::ConnectionType::Basic.code(), 3);
    /// ```
    pub fn code(self) -> u16 {
        match self {
            ConnectionType::Pg => 1,
            ConnectionType::Op => 2,
            ConnectionType::Basic => 3,
        }
    }
}

/// Explicit TSAPs, for devices not addressed by rack and slot (LOGO!, S7-200,
/// CPs with configured connections).
///
/// ```
/// use edgepool::s7::Tsaps;
/// let t = Tsaps { local: 0x0100, remote: 0x0200 };
/// assert_eq!(t.remote, 0x0200);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tsaps {
    /// Our (calling) TSAP.
    pub local: u16,
    /// The PLC's (called) TSAP.
    pub remote: u16,
}

/// How to reach one S7 PLC: the address, rack and slot (or TSAPs), the PDU
/// size, and the transport settings ([`ConnectOptions`], the same `net`
/// field and setters as the tcp and redis configurations).
///
/// By default every timeout is set (connect 3 s, read and write 5 s): a PLC
/// that stops answering cannot stall a caller. S7 (ISO-on-TCP, port 102)
/// has no TLS: a `tls` other than [`TlsMode::Off`] is an
/// [`Error::Config`](crate::Error::Config) at connect.
///
/// ```
/// use edgepool::s7::{Config, ConnectionType};
/// use std::time::Duration;
/// let c = Config::new("192.168.0.10:102")
///     .rack(0)
///     .slot(2)
///     .connection_type(ConnectionType::Op)
///     .read_timeout(Duration::from_secs(2))
///     .keepalive(None);
/// assert_eq!(c.remote_tsap(), 0x0202);
/// assert_eq!(c.pdu_size, 480);
/// assert_eq!(c.net.read_timeout, Some(Duration::from_secs(2)));
/// assert_eq!(c.net.write_timeout, Some(Duration::from_secs(5)));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Config {
    /// `host:port`, or `host` alone for the S7 port 102. A URL
    /// (`s7://…`) is an [`Error::Config`](crate::Error::Config) at connect.
    pub addr: String,
    /// Rack of the CPU (0–7). Defaults to 0.
    pub rack: u16,
    /// Slot of the CPU (0–31). Defaults to 1 (S7-1200/1500 and most others;
    /// an S7-300 CPU sits in slot 2).
    pub slot: u16,
    /// Connection type. Defaults to [`ConnectionType::Pg`].
    pub connection_type: ConnectionType,
    /// Explicit TSAPs; when set, `rack`, `slot` and `connection_type` are
    /// not used. Defaults to `None`.
    pub tsaps: Option<Tsaps>,
    /// PDU size to ask for (the PLC may grant less). Defaults to 480.
    pub pdu_size: u16,
    /// Transport settings. `net.connect_timeout` is one deadline over the
    /// whole connect: TCP, the ISO (COTP) connection and the S7 setup
    /// communication. `net.write_timeout` bounds sending each request,
    /// `net.read_timeout` the wait for its whole answer (`None`: no bound).
    /// Defaults to [`ConnectOptions::default()`]: connect 3 s, read and
    /// write 5 s, keepalive on, `TCP_NODELAY`, no TLS (the only choice).
    pub net: ConnectOptions,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:102".into(),
            rack: 0,
            slot: 1,
            connection_type: ConnectionType::Pg,
            tsaps: None,
            pdu_size: 480,
            net: ConnectOptions::default(),
        }
    }
}

/// Smallest and largest PDU size accepted in a config.
pub(crate) const MIN_PDU: u16 = 128;
pub(crate) const MAX_PDU: u16 = 8192;

impl Config {
    /// A config for `addr` (`host:port`, or `host` for port 102) with the
    /// defaults.
    ///
    /// ```
    /// let c = edgepool::s7::Config::new("10.0.0.5:102");
    /// assert_eq!((c.rack, c.slot), (0, 1));
    /// ```
    pub fn new(addr: impl Into<String>) -> Config {
        Config {
            addr: addr.into(),
            ..Config::default()
        }
    }

    /// The address to connect to: `addr`, with port 102 when it has none.
    pub(crate) fn connect_addr(&self) -> crate::Result<String> {
        crate::net::host_port(&self.addr, Some(102), "an S7 address")
    }

    /// Sets the rack (0–7).
    ///
    /// ```
    /// let c = edgepool::s7::Config::new("10.0.0.5:102").rack(1);
    /// assert_eq!(c.remote_tsap(), 0x0121);
    /// ```
    pub fn rack(mut self, rack: u16) -> Self {
        self.rack = rack;
        self
    }

    /// Sets the slot (0–31).
    ///
    /// ```
    /// let c = edgepool::s7::Config::new("10.0.0.5:102").slot(2);
    /// assert_eq!(c.remote_tsap(), 0x0102);
    /// ```
    pub fn slot(mut self, slot: u16) -> Self {
        self.slot = slot;
        self
    }

    /// Sets the connection type.
    ///
    /// ```
    /// use edgepool::s7::{Config, ConnectionType};
    /// let c = Config::new("10.0.0.5:102").connection_type(ConnectionType::Basic);
    /// assert_eq!(c.remote_tsap(), 0x0301);
    /// ```
    pub fn connection_type(mut self, connection_type: ConnectionType) -> Self {
        self.connection_type = connection_type;
        self
    }

    /// Uses explicit TSAPs instead of rack and slot.
    ///
    /// ```
    /// let c = edgepool::s7::Config::new("10.0.0.9:102").tsaps(0x0200, 0x0300);
    /// assert_eq!((c.local_tsap(), c.remote_tsap()), (0x0200, 0x0300));
    /// ```
    pub fn tsaps(mut self, local: u16, remote: u16) -> Self {
        self.tsaps = Some(Tsaps { local, remote });
        self
    }

    /// Sets the PDU size to ask for (128–8192).
    ///
    /// ```
    /// let c = edgepool::s7::Config::new("10.0.0.5:102").pdu_size(960);
    /// assert_eq!(c.pdu_size, 960);
    /// ```
    pub fn pdu_size(mut self, bytes: u16) -> Self {
        self.pdu_size = bytes;
        self
    }

    crate::net::net_setters!("edgepool::s7::Config::new(\"10.0.0.5:102\")");

    /// Sets the read and the write timeout at once (the old single request
    /// timeout).
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use std::time::Duration;
    /// let c = edgepool::s7::Config::new("10.0.0.5:102").timeout(Duration::from_millis(800));
    /// assert_eq!(c.net.read_timeout, Some(Duration::from_millis(800)));
    /// assert_eq!(c.net.write_timeout, Some(Duration::from_millis(800)));
    /// ```
    #[deprecated(since = "0.2.0", note = "use read_timeout and write_timeout")]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.read_timeout(timeout).write_timeout(timeout)
    }

    /// Our TSAP: the explicit one, or 0x0100.
    ///
    /// ```
    /// assert_eq!(edgepool::s7::Config::default().local_tsap(), 0x0100);
    /// ```
    pub fn local_tsap(&self) -> u16 {
        self.tsaps.map_or(0x0100, |t| t.local)
    }

    /// The PLC's TSAP: the explicit one, or `(connection type << 8) +
    /// rack * 0x20 + slot`.
    ///
    /// ```
    /// assert_eq!(edgepool::s7::Config::default().remote_tsap(), 0x0101);
    /// ```
    pub fn remote_tsap(&self) -> u16 {
        match self.tsaps {
            Some(t) => t.remote,
            None => (self.connection_type.code() << 8)
                .wrapping_add(self.rack.wrapping_mul(0x20))
                .wrapping_add(self.slot),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if self.tsaps.is_none() {
            if self.rack > 7 {
                return bad(format!("S7 rack must be 0 to 7, not {}", self.rack));
            }
            if self.slot > 31 {
                return bad(format!("S7 slot must be 0 to 31, not {}", self.slot));
            }
        }
        if !(MIN_PDU..=MAX_PDU).contains(&self.pdu_size) {
            return bad(format!(
                "S7 pdu_size must be {MIN_PDU} to {MAX_PDU}, not {}",
                self.pdu_size
            ));
        }
        if self.net.tls != TlsMode::Off {
            return bad(
                "S7 has no TLS: ISO-on-TCP (port 102) is plain TCP, so `tls` must be \
                 TlsMode::Off (carry it through a TLS tunnel to encrypt it)"
                    .into(),
            );
        }
        self.net.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_defaults_to_102() {
        let addr = |a: &str| Config::new(a).connect_addr().ok();
        assert_eq!(addr("10.0.0.7").as_deref(), Some("10.0.0.7:102"));
        assert_eq!(addr("plc-3").as_deref(), Some("plc-3:102"));
        assert_eq!(addr("fe80::7").as_deref(), Some("[fe80::7]:102"));
        assert_eq!(addr("10.0.0.7:1102").as_deref(), Some("10.0.0.7:1102"));
        assert!(matches!(
            Config::new("s7://10.0.0.7").connect_addr(),
            Err(crate::Error::Config(_))
        ));
    }

    #[test]
    fn tsaps() {
        let c = Config::new("h:102");
        assert_eq!((c.local_tsap(), c.remote_tsap()), (0x0100, 0x0101));
        let c = c.rack(7).slot(31).connection_type(ConnectionType::Op);
        assert_eq!(c.remote_tsap(), 0x0200 + 7 * 0x20 + 31);
    }

    #[test]
    fn validation() {
        assert!(Config::new("h:1").validate().is_ok());
        assert!(Config::new("h:1").rack(8).validate().is_err());
        assert!(Config::new("h:1").slot(32).validate().is_err());
        assert!(Config::new("h:1").rack(8).tsaps(1, 2).validate().is_ok());
        assert!(Config::new("h:1").pdu_size(64).validate().is_err());
        assert!(Config::new("h:1").pdu_size(9000).validate().is_err());
        assert!(Config::new("h:1")
            .read_timeout(Duration::ZERO)
            .validate()
            .is_err());
        assert!(Config::new("h:1").read_timeout(None).validate().is_ok());
        match Config::new("h:1").tls(TlsMode::Insecure).validate() {
            Err(Error::Config(m)) => assert!(m.contains("S7 has no TLS"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_keep_the_old_timeouts() {
        let c = Config::default();
        assert_eq!(c.net.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.net.read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.net.write_timeout, Some(Duration::from_secs(5)));
        assert!(c.net.nodelay && c.net.keepalive.is_some());
        #[allow(deprecated)]
        let c = c.timeout(Duration::from_secs(1));
        assert_eq!(c.net.read_timeout, c.net.write_timeout);
    }
}
