//! ISO-on-TCP decoding never panics, never claims more bytes than it was
//! given or than its limit allows, and reassembly never grows past its limit.
#![no_main]

use edgepool::s7::iso::{self, Reassembly, Tpdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = 480;
    let mut reassembly = Reassembly::new(limit);
    let mut rest = data;
    while let Ok(Some((tpdu, used))) = iso::decode(rest, iso::DATA_HEADER + limit) {
        assert!(used >= iso::TPKT_HEADER && used <= rest.len());
        assert!(used <= iso::DATA_HEADER + limit);
        if let Tpdu::Data { eot, payload } = tpdu {
            if reassembly.push(payload, eot).is_err() {
                reassembly.clear();
            }
            assert!(reassembly.message().len() <= limit);
        }
        rest = &rest[used..];
    }
});
