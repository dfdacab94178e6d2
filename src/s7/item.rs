//! What to read or write: a memory [`Area`] of the PLC and an [`Item`] in it
//! (an address and a length). Shared by the codec ([`pdu`](super::pdu)),
//! the errors that name an item, the request planner and the client.

use crate::{Error, Result};
use std::fmt;

/// A memory area of the PLC.
///
/// ```
/// use edgepool::s7::Area;
/// assert_eq!(Area::Db.code(), 0x84);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Area {
    /// Process inputs (I / E, "PE").
    Inputs,
    /// Process outputs (Q / A, "PA").
    Outputs,
    /// Merkers / flags (M).
    Merkers,
    /// Data blocks (DB); the item's `db` says which.
    Db,
    /// Counters (C / Z): 2 bytes each.
    Counters,
    /// Timers (T): 2 bytes each.
    Timers,
}

impl Area {
    /// The area code on the wire.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// assert_eq!(Area::Inputs.code(), 0x81);
    /// assert_eq!(Area::Timers.code(), 0x1d);
    /// ```
    pub fn code(self) -> u8 {
        match self {
            Area::Inputs => 0x81,
            Area::Outputs => 0x82,
            Area::Merkers => 0x83,
            Area::Db => 0x84,
            Area::Counters => 0x1c,
            Area::Timers => 0x1d,
        }
    }

    /// The area with wire code `code`, if there is one.
    #[cfg(feature = "sim")]
    pub(crate) fn from_code(code: u8) -> Option<Area> {
        [
            Area::Inputs,
            Area::Outputs,
            Area::Merkers,
            Area::Db,
            Area::Counters,
            Area::Timers,
        ]
        .into_iter()
        .find(|a| a.code() == code)
    }

    /// Bytes per element: 2 for timers and counters, 1 otherwise.
    ///
    /// ```
    /// use edgepool::s7::Area;
    /// assert_eq!(Area::Counters.element_size(), 2);
    /// assert_eq!(Area::Merkers.element_size(), 1);
    /// ```
    pub fn element_size(self) -> usize {
        match self {
            Area::Counters | Area::Timers => 2,
            _ => 1,
        }
    }
}

/// One variable to read or write: an area, a DB number (for [`Area::Db`]),
/// a start and a length.
///
/// For inputs, outputs, merkers and DBs, `start` is a byte offset and `len`
/// a number of bytes; for timers and counters both count elements (2 bytes
/// each). A bit item (`bit: Some(0..=7)`) is one bit of byte `start`.
///
/// ```
/// use edgepool::s7::{Area, Item};
/// assert_eq!(Item::bytes(Area::Db, 5, 10, 4).to_string(), "DB5.DBB10 (4 bytes)");
/// assert_eq!(Item::bit(Area::Merkers, 0, 3, 7).to_string(), "M3.7");
/// assert_eq!(Item::bytes(Area::Timers, 0, 2, 3).byte_len(), 6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Item {
    /// The area.
    pub area: Area,
    /// The DB number; 0 for other areas.
    pub db: u16,
    /// Byte offset (or first timer/counter).
    pub start: u32,
    /// Bytes (or timers/counters); 1 for a bit.
    pub len: u16,
    /// The bit (0–7) of byte `start`, for a bit item.
    pub bit: Option<u8>,
}

impl Item {
    /// `len` bytes (or timers/counters) from `start`. `db` is ignored for
    /// areas other than [`Area::Db`].
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// let i = Item::bytes(Area::Merkers, 7, 0, 2);
    /// assert_eq!(i.db, 0);
    /// ```
    pub fn bytes(area: Area, db: u16, start: u32, len: u16) -> Item {
        Item {
            area,
            db: if area == Area::Db { db } else { 0 },
            start,
            len,
            bit: None,
        }
    }

    /// `len` bytes of data block `db` from byte `start`.
    ///
    /// ```
    /// let i = edgepool::s7::Item::db(1, 0, 64);
    /// assert_eq!(i.to_string(), "DB1.DBB0 (64 bytes)");
    /// ```
    pub fn db(db: u16, start: u32, len: u16) -> Item {
        Item::bytes(Area::Db, db, start, len)
    }

    /// Bit `bit` (0–7) of byte `byte`.
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// assert_eq!(Item::bit(Area::Db, 2, 4, 1).to_string(), "DB2.DBX4.1");
    /// ```
    pub fn bit(area: Area, db: u16, byte: u32, bit: u8) -> Item {
        Item {
            bit: Some(bit),
            len: 1,
            ..Item::bytes(area, db, byte, 1)
        }
    }

    /// Bytes of data this item reads or writes.
    ///
    /// ```
    /// use edgepool::s7::{Area, Item};
    /// assert_eq!(Item::bit(Area::Inputs, 0, 0, 0).byte_len(), 1);
    /// ```
    pub fn byte_len(&self) -> usize {
        if self.bit.is_some() {
            1
        } else {
            usize::from(self.len) * self.area.element_size()
        }
    }

    /// Checks that the item can be encoded: bit 0–7, timers and counters not
    /// as bits, a length of at least 1, and an address within 24 bits.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("S7 item {self}: {why}")));
        match self.bit {
            Some(b) if b > 7 => return bad("bit must be 0 to 7"),
            Some(_) if self.area.element_size() == 2 => {
                return bad("timers and counters have no bits")
            }
            Some(_) if self.len != 1 => return bad("a bit item has length 1"),
            _ => {}
        }
        if self.len == 0 {
            return bad("length must be at least 1");
        }
        if self.address() > 0x00ff_ffff {
            return bad("start is beyond the 24-bit S7 address range");
        }
        Ok(())
    }

    /// The 24-bit address: bit address for bytes and bits, element number
    /// for timers and counters.
    pub(crate) fn address(&self) -> u64 {
        match (self.bit, self.area.element_size()) {
            (_, 2) => u64::from(self.start),
            (Some(b), _) => u64::from(self.start) * 8 + u64::from(b),
            (None, _) => u64::from(self.start) * 8,
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, byte) = match self.area {
            Area::Inputs => ("I", "IB"),
            Area::Outputs => ("Q", "QB"),
            Area::Merkers => ("M", "MB"),
            Area::Db => ("", ""),
            Area::Timers => return plural(f, "T", self.start, self.len, "timer"),
            Area::Counters => return plural(f, "C", self.start, self.len, "counter"),
        };
        match (self.area, self.bit) {
            (Area::Db, Some(b)) => write!(f, "DB{}.DBX{}.{b}", self.db, self.start),
            (Area::Db, None) => {
                write!(f, "DB{}.DBB{}", self.db, self.start)?;
                plural_suffix(f, self.len, "byte")
            }
            (_, Some(b)) => write!(f, "{prefix}{}.{b}", self.start),
            (_, None) => {
                write!(f, "{byte}{}", self.start)?;
                plural_suffix(f, self.len, "byte")
            }
        }
    }
}

fn plural(f: &mut fmt::Formatter<'_>, p: &str, start: u32, n: u16, what: &str) -> fmt::Result {
    write!(f, "{p}{start}")?;
    plural_suffix(f, n, what)
}

fn plural_suffix(f: &mut fmt::Formatter<'_>, n: u16, what: &str) -> fmt::Result {
    let s = if n == 1 { "" } else { "s" };
    write!(f, " ({n} {what}{s})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_validation() {
        assert!(Item::bit(Area::Db, 1, 0, 8).validate().is_err());
        assert!(Item::db(1, 0, 0).validate().is_err());
        assert!(Item::db(1, 0x20_0000, 1).validate().is_err());
        assert!(Item::db(1, 0x1f_ffff, 1).validate().is_ok());
        let mut t = Item::bytes(Area::Timers, 0, 3, 1);
        assert!(t.validate().is_ok());
        t.bit = Some(0);
        assert!(t.validate().is_err());
    }

    #[test]
    fn item_names() {
        assert_eq!(
            Item::bytes(Area::Inputs, 0, 0, 1).to_string(),
            "IB0 (1 byte)"
        );
        assert_eq!(Item::bit(Area::Outputs, 0, 2, 5).to_string(), "Q2.5");
        assert_eq!(
            Item::bytes(Area::Counters, 0, 4, 2).to_string(),
            "C4 (2 counters)"
        );
        assert_eq!(
            Item::bytes(Area::Timers, 0, 0, 1).to_string(),
            "T0 (1 timer)"
        );
    }
}
