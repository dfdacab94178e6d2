//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::thread;
use std::time::{Duration, Instant};

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually_within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// [`eventually_within`] two seconds.
pub fn eventually(cond: impl FnMut() -> bool) -> bool {
    eventually_within(Duration::from_secs(2), cond)
}
