//! [`Oid`], an object identifier, and well-known OIDs: the MIB-2 system group.
//!
//! ```
//! use edgepool::snmp::oid;
//! assert_eq!(oid::SYS_NAME.to_string(), "1.3.6.1.2.1.1.5.0");
//! assert!(oid::SYS_UPTIME.starts_with(&oid::SYSTEM));
//! assert_eq!(oid::SYSTEM.child(6).child(0), oid::SYS_LOCATION);
//! ```

use super::ber;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An object identifier, such as `1.3.6.1.2.1.1.3.0`.
///
/// ```
/// use edgepool::snmp::{oid, Oid};
/// let o: Oid = "1.3.6.1.2.1.1.3.0".parse()?;
/// assert_eq!(o, oid::SYS_UPTIME);
/// assert_eq!(o.to_string(), "1.3.6.1.2.1.1.3.0");
/// assert!(o.starts_with(&oid::SYSTEM));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Cow<'static, [u32]>);

impl Oid {
    /// An OID from a static slice (usable in `const`).
    ///
    /// ```
    /// const MY: edgepool::snmp::Oid = edgepool::snmp::Oid::from_static(&[1, 3, 6, 1, 4, 1, 99999]);
    /// assert_eq!(MY.len(), 7);
    /// ```
    pub const fn from_static(arcs: &'static [u32]) -> Oid {
        Oid(Cow::Borrowed(arcs))
    }

    /// An OID from its sub-identifiers.
    ///
    /// ```
    /// let o = edgepool::snmp::Oid::new(vec![1, 3, 6]);
    /// assert_eq!(o.to_string(), "1.3.6");
    /// ```
    pub fn new(arcs: Vec<u32>) -> Oid {
        Oid(Cow::Owned(arcs))
    }

    /// The sub-identifiers.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYSTEM.arcs(), &[1, 3, 6, 1, 2, 1, 1]);
    /// ```
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// A clone; for a static OID without a call.
    #[inline]
    pub(super) fn clone_cheap(&self) -> Oid {
        match &self.0 {
            Cow::Borrowed(a) => Oid(Cow::Borrowed(a)),
            Cow::Owned(_) => self.clone(),
        }
    }

    /// Number of sub-identifiers.
    ///
    /// ```
    /// assert_eq!(edgepool::snmp::oid::SYS_UPTIME.len(), 9);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty OID.
    ///
    /// ```
    /// assert!(!edgepool::snmp::oid::SYSTEM.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `prefix` is a prefix of this OID (or equal to it).
    ///
    /// ```
    /// use edgepool::snmp::oid;
    /// assert!(oid::SYS_DESCR.starts_with(&oid::SYSTEM));
    /// ```
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// This OID with `arc` appended.
    ///
    /// ```
    /// use edgepool::snmp::oid;
    /// assert_eq!(oid::SYSTEM.child(3).child(0), oid::SYS_UPTIME);
    /// ```
    pub fn child(&self, arc: u32) -> Oid {
        let mut v = self.0.to_vec();
        v.push(arc);
        Oid::new(v)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl FromStr for Oid {
    type Err = crate::Error;

    /// Parses dotted form; a leading dot is allowed.
    fn from_str(s: &str) -> crate::Result<Oid> {
        let t = s.strip_prefix('.').unwrap_or(s);
        let arcs: Option<Vec<u32>> = t.split('.').map(|p| p.parse::<u32>().ok()).collect();
        match arcs {
            Some(a)
                if a.len() >= 2
                    && a.len() <= ber::MAX_OID_LEN
                    && a[0] <= 2
                    && (a[0] == 2 || a[1] < 40) =>
            {
                Ok(Oid::new(a))
            }
            _ => Err(crate::Error::Config(format!("not an OID: {s:?}"))),
        }
    }
}

impl From<&[u32]> for Oid {
    fn from(arcs: &[u32]) -> Oid {
        Oid::new(arcs.to_vec())
    }
}

impl AsRef<[u32]> for Oid {
    fn as_ref(&self) -> &[u32] {
        &self.0
    }
}

/// `1.3.6.1.2.1.1`: the system group.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYSTEM.to_string(), "1.3.6.1.2.1.1");
/// ```
pub const SYSTEM: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1]);
/// `sysDescr.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_DESCR.to_string(), "1.3.6.1.2.1.1.1.0");
/// ```
pub const SYS_DESCR: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 1, 0]);
/// `sysObjectID.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_OBJECT_ID.to_string(), "1.3.6.1.2.1.1.2.0");
/// ```
pub const SYS_OBJECT_ID: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 2, 0]);
/// `sysUpTime.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_UPTIME.to_string(), "1.3.6.1.2.1.1.3.0");
/// ```
pub const SYS_UPTIME: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 3, 0]);
/// `sysContact.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_CONTACT.to_string(), "1.3.6.1.2.1.1.4.0");
/// ```
pub const SYS_CONTACT: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 4, 0]);
/// `sysName.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_NAME.to_string(), "1.3.6.1.2.1.1.5.0");
/// ```
pub const SYS_NAME: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 5, 0]);
/// `sysLocation.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_LOCATION.to_string(), "1.3.6.1.2.1.1.6.0");
/// ```
pub const SYS_LOCATION: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 6, 0]);
/// `sysServices.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_SERVICES.to_string(), "1.3.6.1.2.1.1.7.0");
/// ```
pub const SYS_SERVICES: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 7, 0]);
/// `sysORLastChange.0`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_OR_LAST_CHANGE.to_string(), "1.3.6.1.2.1.1.8.0");
/// ```
pub const SYS_OR_LAST_CHANGE: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 8, 0]);
/// `sysORTable`.
///
/// ```
/// assert_eq!(edgepool::snmp::oid::SYS_OR_TABLE.to_string(), "1.3.6.1.2.1.1.9");
/// ```
pub const SYS_OR_TABLE: Oid = Oid::from_static(&[1, 3, 6, 1, 2, 1, 1, 9]);
