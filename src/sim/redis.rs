//! Placeholder: filled in by the redis simulator work.
