//! The SNMP agent simulator, fed one datagram (v1, v2c or v3 with USM),
//! never panics; what it answers is a whole SNMP message, and not much
//! larger than the request or one Ethernet frame (no amplification).
#![no_main]

use edgepool::sim::snmp::fuzz_datagram;
use edgepool::snmp::v3::MessageV3;
use edgepool::snmp::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = fuzz_datagram(data) {
        let decodes = matches!(Message::decode(&reply), Ok(Some((_, n))) if n == reply.len())
            || matches!(MessageV3::decode(&reply), Ok(Some((_, n))) if n == reply.len());
        assert!(decodes, "the agent answers whole SNMP messages");
        assert!(
            reply.len() <= 1472 + data.len(),
            "a reply of {} bytes",
            reply.len()
        );
    }
});
