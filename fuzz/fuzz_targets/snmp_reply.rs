//! See `edgepool::fuzzing::snmp_reply`: the SNMP v1/v2c client's three reply
//! decoders agree on every datagram (a differential target).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepool::fuzzing::snmp_reply(data);
});
