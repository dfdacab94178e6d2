//! Placeholder: filled in by the s7 simulator work.
