//! Placeholder: filled in by the snmp simulator work.
