//! Errors the PLC reports.

use super::item::Item;
use std::fmt;

/// An error the PLC (or the S7 protocol layer) reports; the connection stays
/// usable. Carried by [`Error::S7`](crate::Error::S7).
///
/// ```
/// use edgepool::s7::{Area, Item, ReturnCode, S7Error};
/// let e = S7Error::Item { item: Item::bytes(Area::Db, 1, 300, 2), code: ReturnCode::AddressOutOfRange };
/// assert_eq!(e.to_string(), "DB1.DBB300 (2 bytes): address out of range (0x05)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum S7Error {
    /// One data item of a read or write was refused; the item names the
    /// area and address.
    #[error("{item}: {code}")]
    Item {
        /// The item as requested.
        item: Item,
        /// What the PLC said about it.
        code: ReturnCode,
    },
    /// The PLC refused the whole request (the error class and code of an
    /// S7 acknowledgement header).
    #[error("the PLC refused the {what} request: error class {class:#04x}, code {code:#04x}")]
    Refused {
        /// The request: "read", "write", "setup communication", …
        what: &'static str,
        /// The error class.
        class: u8,
        /// The error code.
        code: u8,
    },
    /// The PLC refused an SZL read (unknown ID or index, or not allowed).
    #[error(
        "SZL {id:#06x} index {index:#06x} not available (error {error:#06x}, return code {code})"
    )]
    Szl {
        /// The SZL ID requested.
        id: u16,
        /// The index requested.
        index: u16,
        /// The parameter error code (`0xd402` etc.; 0 when only the data
        /// return code failed).
        error: u16,
        /// The data return code.
        code: ReturnCode,
    },
    /// The PLC (or the gateway in front of it) refused the ISO connection:
    /// usually a wrong rack/slot or TSAP.
    #[error("the PLC refused the ISO-on-TCP connection (TSAP {remote_tsap:#06x}): {reason}")]
    ConnectionRefused {
        /// The remote TSAP asked for.
        remote_tsap: u16,
        /// What the PLC answered.
        reason: String,
    },
}

/// The return code of one data item (`0xff` is success and never appears
/// here).
///
/// ```
/// use edgepool::s7::ReturnCode;
/// assert_eq!(ReturnCode::from_code(0x0a), ReturnCode::ObjectDoesNotExist);
/// assert_eq!(ReturnCode::from_code(0x42).code(), 0x42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReturnCode {
    /// 0x01: hardware fault.
    HardwareFault,
    /// 0x03: access to the object not allowed.
    AccessDenied,
    /// 0x05: address out of range (past the end of a DB or area).
    AddressOutOfRange,
    /// 0x06: data type not supported.
    DataTypeNotSupported,
    /// 0x07: data type inconsistent (e.g. the written length does not match).
    DataTypeInconsistent,
    /// 0x0a: the object does not exist (e.g. no such DB).
    ObjectDoesNotExist,
    /// Any other code.
    Other(u8),
}

impl ReturnCode {
    /// The code for a byte from the wire.
    ///
    /// ```
    /// use edgepool::s7::ReturnCode;
    /// assert_eq!(ReturnCode::from_code(0x05), ReturnCode::AddressOutOfRange);
    /// ```
    pub fn from_code(code: u8) -> ReturnCode {
        match code {
            0x01 => ReturnCode::HardwareFault,
            0x03 => ReturnCode::AccessDenied,
            0x05 => ReturnCode::AddressOutOfRange,
            0x06 => ReturnCode::DataTypeNotSupported,
            0x07 => ReturnCode::DataTypeInconsistent,
            0x0a => ReturnCode::ObjectDoesNotExist,
            other => ReturnCode::Other(other),
        }
    }

    /// The byte on the wire.
    ///
    /// ```
    /// use edgepool::s7::ReturnCode;
    /// assert_eq!(ReturnCode::AccessDenied.code(), 0x03);
    /// ```
    pub const fn code(self) -> u8 {
        match self {
            ReturnCode::HardwareFault => 0x01,
            ReturnCode::AccessDenied => 0x03,
            ReturnCode::AddressOutOfRange => 0x05,
            ReturnCode::DataTypeNotSupported => 0x06,
            ReturnCode::DataTypeInconsistent => 0x07,
            ReturnCode::ObjectDoesNotExist => 0x0a,
            ReturnCode::Other(c) => c,
        }
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ReturnCode::HardwareFault => "hardware fault",
            ReturnCode::AccessDenied => "access denied",
            ReturnCode::AddressOutOfRange => "address out of range",
            ReturnCode::DataTypeNotSupported => "data type not supported",
            ReturnCode::DataTypeInconsistent => "data type inconsistent",
            ReturnCode::ObjectDoesNotExist => "object does not exist",
            ReturnCode::Other(_) => "error",
        };
        write!(f, "{text} ({:#04x})", self.code())
    }
}
