//! The Redis simulator, fed a whole client byte stream (RESP or inline
//! requests, then the commands they name), never panics, and what it answers
//! is a sequence of whole, well-formed RESP2 replies.
#![no_main]

use edgepool::redis::{resp, Limits};
use edgepool::sim::redis::fuzz_session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = fuzz_session(data);
    let limits = Limits::default().max_bulk(usize::MAX).max_array(usize::MAX);
    let mut rest = &out[..];
    while !rest.is_empty() {
        let (_, used) = resp::decode(rest, &limits)
            .expect("the simulator answers valid RESP")
            .expect("the simulator answers whole replies");
        rest = &rest[used..];
    }
});
