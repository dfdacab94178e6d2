//! See `edgepool::fuzzing::redis_reply_stream` for what is fed where and the properties
//! checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepool::fuzzing::redis_reply_stream(data);
});
