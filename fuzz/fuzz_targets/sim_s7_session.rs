//! The S7 simulator, fed a whole client byte stream (TPKT/COTP frames, S7
//! jobs and userdata requests), never panics, and what it answers is a
//! sequence of whole ISO-on-TCP frames whose S7 messages parse and fit the
//! largest PDU it grants (480 bytes by default).
#![no_main]

use edgepool::s7::iso::{self, Tpdu};
use edgepool::s7::pdu;
use edgepool::sim::s7::fuzz_session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = fuzz_session(data);
    let mut rest = &out[..];
    while !rest.is_empty() {
        let (tpdu, used) = iso::decode(rest, 4096)
            .expect("the simulator answers valid frames")
            .expect("the simulator answers whole frames");
        if let Tpdu::Data { eot, payload } = tpdu {
            assert!(eot, "answers fit one frame");
            assert!(payload.len() <= 480, "an answer over the PDU");
            pdu::parse(payload).expect("the simulator answers valid S7 messages");
        }
        rest = &rest[used..];
    }
});
