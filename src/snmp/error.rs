//! Errors an SNMP agent reports.

use super::v3::UNKNOWN_CONTEXTS;
use super::{Oid, VarBind};
use std::fmt;

/// An SNMP error-status (RFC 3416 §3).
///
/// ```
/// use edgepool::snmp::ErrorStatus;
/// assert_eq!(ErrorStatus::from_code(17), ErrorStatus::NotWritable);
/// assert_eq!(ErrorStatus::NotWritable.to_string(), "notWritable");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorStatus {
    /// tooBig (1).
    TooBig,
    /// noSuchName (2, v1).
    NoSuchName,
    /// badValue (3, v1).
    BadValue,
    /// readOnly (4, v1).
    ReadOnly,
    /// genErr (5).
    GenErr,
    /// noAccess (6).
    NoAccess,
    /// wrongType (7).
    WrongType,
    /// wrongLength (8).
    WrongLength,
    /// wrongEncoding (9).
    WrongEncoding,
    /// wrongValue (10).
    WrongValue,
    /// noCreation (11).
    NoCreation,
    /// inconsistentValue (12).
    InconsistentValue,
    /// resourceUnavailable (13).
    ResourceUnavailable,
    /// commitFailed (14).
    CommitFailed,
    /// undoFailed (15).
    UndoFailed,
    /// authorizationError (16).
    AuthorizationError,
    /// notWritable (17).
    NotWritable,
    /// inconsistentName (18).
    InconsistentName,
    /// A code outside RFC 3416.
    Other(i32),
}

impl ErrorStatus {
    /// The status for a non-zero error-status code.
    ///
    /// ```
    /// use edgepool::snmp::ErrorStatus;
    /// assert_eq!(ErrorStatus::from_code(2), ErrorStatus::NoSuchName);
    /// assert_eq!(ErrorStatus::from_code(99), ErrorStatus::Other(99));
    /// assert_eq!(ErrorStatus::from_code(99).to_string(), "error-status 99");
    /// ```
    pub fn from_code(code: i32) -> ErrorStatus {
        use ErrorStatus::*;
        match code {
            1 => TooBig,
            2 => NoSuchName,
            3 => BadValue,
            4 => ReadOnly,
            5 => GenErr,
            6 => NoAccess,
            7 => WrongType,
            8 => WrongLength,
            9 => WrongEncoding,
            10 => WrongValue,
            11 => NoCreation,
            12 => InconsistentValue,
            13 => ResourceUnavailable,
            14 => CommitFailed,
            15 => UndoFailed,
            16 => AuthorizationError,
            17 => NotWritable,
            18 => InconsistentName,
            n => Other(n),
        }
    }

    /// The error-status code ([`ErrorStatus::from_code`]'s inverse).
    ///
    /// ```
    /// use edgepool::snmp::ErrorStatus;
    /// assert_eq!(ErrorStatus::NotWritable.code(), 17);
    /// assert_eq!(ErrorStatus::from_code(ErrorStatus::TooBig.code()), ErrorStatus::TooBig);
    /// assert_eq!(ErrorStatus::Other(99).code(), 99);
    /// ```
    pub const fn code(self) -> i32 {
        use ErrorStatus::*;
        match self {
            TooBig => 1,
            NoSuchName => 2,
            BadValue => 3,
            ReadOnly => 4,
            GenErr => 5,
            NoAccess => 6,
            WrongType => 7,
            WrongLength => 8,
            WrongEncoding => 9,
            WrongValue => 10,
            NoCreation => 11,
            InconsistentValue => 12,
            ResourceUnavailable => 13,
            CommitFailed => 14,
            UndoFailed => 15,
            AuthorizationError => 16,
            NotWritable => 17,
            InconsistentName => 18,
            Other(n) => n,
        }
    }
}

impl fmt::Display for ErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorStatus::*;
        let name = match self {
            TooBig => "tooBig",
            NoSuchName => "noSuchName",
            BadValue => "badValue",
            ReadOnly => "readOnly",
            GenErr => "genErr",
            NoAccess => "noAccess",
            WrongType => "wrongType",
            WrongLength => "wrongLength",
            WrongEncoding => "wrongEncoding",
            WrongValue => "wrongValue",
            NoCreation => "noCreation",
            InconsistentValue => "inconsistentValue",
            ResourceUnavailable => "resourceUnavailable",
            CommitFailed => "commitFailed",
            UndoFailed => "undoFailed",
            AuthorizationError => "authorizationError",
            NotWritable => "notWritable",
            InconsistentName => "inconsistentName",
            Other(n) => return write!(f, "error-status {n}"),
        };
        f.write_str(name)
    }
}

/// An error the agent reports; the socket stays usable. Carried by
/// [`Error::Snmp`](crate::Error::Snmp).
///
/// ```
/// use edgepool::snmp::{oid, ErrorStatus, SnmpError};
/// let e = SnmpError::Agent { status: ErrorStatus::NotWritable, index: 1, oid: Some(oid::SYS_LOCATION) };
/// assert_eq!(e.to_string(), "agent says notWritable at varbind 1 (1.3.6.1.2.1.1.6.0)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnmpError {
    /// A response with a non-zero error-status: which, at which variable
    /// binding (1-based; 0 = the PDU as a whole), and its OID when known.
    #[error("agent says {status} at varbind {index}{}", .oid.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
    Agent {
        /// The error-status.
        status: ErrorStatus,
        /// The error-index.
        index: u32,
        /// The OID at that index, if the index names one.
        oid: Option<Oid>,
    },
    /// The operation is not available in this SNMP version (GETBULK in v1).
    #[error("{0}")]
    Unsupported(&'static str),
    /// SNMPv3: the agent does not know the user (usmStatsUnknownUserNames).
    #[error("the agent does not know the SNMPv3 user {user:?} (usmStatsUnknownUserNames)")]
    UnknownUserName {
        /// The user name sent.
        user: String,
    },
    /// SNMPv3: the agent computed another HMAC (usmStatsWrongDigests): the
    /// authentication password or protocol differs from the agent's.
    #[error("the agent rejected the request's HMAC: wrong authentication password or protocol (usmStatsWrongDigests)")]
    WrongDigest,
    /// SNMPv3: the agent could not decrypt the request
    /// (usmStatsDecryptionErrors): the privacy password or protocol differs.
    #[error("the agent could not decrypt the request: wrong privacy password or protocol (usmStatsDecryptionErrors)")]
    DecryptionError,
    /// SNMPv3: the user may not use this security level on the agent
    /// (usmStatsUnsupportedSecLevels).
    #[error("the agent does not accept security level {level} for this user (usmStatsUnsupportedSecLevels)")]
    UnsupportedSecLevel {
        /// The level requested.
        level: super::SecurityLevel,
    },
    /// SNMPv3: the agent rejects the engine ID it gave in discovery
    /// (usmStatsUnknownEngineIDs, again right after a new discovery).
    #[error("the agent does not accept its own discovered engine ID (usmStatsUnknownEngineIDs)")]
    UnknownEngineId,
    /// SNMPv3: still outside the agent's time window after a resynchronisation
    /// (usmStatsNotInTimeWindows twice in a row).
    #[error("the request is outside the agent's time window even after a resynchronisation (usmStatsNotInTimeWindows)")]
    NotInTimeWindow,
    /// SNMPv3 authPriv: the agent answers engine discovery but never an
    /// encrypted request. Agents silently drop what they cannot decrypt, so
    /// the privacy password or protocol is most likely wrong.
    #[error("the agent answered engine discovery but not the encrypted request: the privacy password or protocol is probably wrong (agents drop what they cannot decrypt)")]
    NoReplyToEncrypted,
    /// A walk had to stop before the end of its subtree: the agent answered
    /// with an OID that is not past the one the request asked from (it would
    /// loop). Carries the rows read until then, so a caller can tell a
    /// truncated walk from a complete one and still use what came.
    #[error("{0}")]
    WalkNotIncreasing(Box<TruncatedWalk>),
    /// SNMPv3: another Report (snmpUnknownContexts, snmpUnavailableContexts, …).
    #[error("the agent answered with a report: {} ({oid})", report_name(.oid))]
    Report {
        /// The report's first OID (a counter from SNMP-MPD-MIB or similar).
        oid: Oid,
    },
}

/// What [`SnmpError::WalkNotIncreasing`] carries: where the walk stopped and
/// the rows it read before.
///
/// ```
/// use edgepool::snmp::{oid, Oid, SnmpError, TruncatedWalk};
/// let t = TruncatedWalk {
///     root: oid::SYSTEM,
///     requested: "1.3.6.1.2.1.1.5.0".parse()?,
///     got: "1.3.6.1.2.1.1.4.0".parse()?,
///     rows: Vec::new(),
/// };
/// let e = SnmpError::WalkNotIncreasing(Box::new(t));
/// assert!(e.to_string().contains("OID not increasing"));
/// # Ok::<(), edgepool::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedWalk {
    /// The subtree walked.
    pub root: Oid,
    /// The OID the last request asked for the successor of.
    pub requested: Oid,
    /// The OID the agent answered, not past `requested`.
    pub got: Oid,
    /// The rows read before the walk stopped, in the agent's order.
    pub rows: Vec<VarBind>,
}

impl fmt::Display for TruncatedWalk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "walk of {} stopped after {} rows: asked for the object after {}, the agent answered {} (OID not increasing)",
            self.root,
            self.rows.len(),
            self.requested,
            self.got
        )
    }
}

/// The name of a report counter, for messages.
fn report_name(oid: &Oid) -> &'static str {
    const NAMES: &[(&[u32], &str)] = &[
        (
            &[1, 3, 6, 1, 6, 3, 11, 2, 1, 1],
            "snmpUnknownSecurityModels",
        ),
        (&[1, 3, 6, 1, 6, 3, 11, 2, 1, 2], "snmpInvalidMsgs"),
        (&[1, 3, 6, 1, 6, 3, 11, 2, 1, 3], "snmpUnknownPDUHandlers"),
        (&[1, 3, 6, 1, 6, 3, 12, 1, 4], "snmpUnavailableContexts"),
        (&UNKNOWN_CONTEXTS, "snmpUnknownContexts"),
    ];
    NAMES
        .iter()
        .find(|(prefix, _)| oid.arcs().starts_with(prefix))
        .map_or("unknown counter", |(_, name)| name)
}
