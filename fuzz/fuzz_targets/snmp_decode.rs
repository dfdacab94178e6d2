//! SNMP message decoding never panics, and what it decodes encodes back to
//! bytes that decode to the same message.
#![no_main]

use edgepool::snmp::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((msg, used))) = Message::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        msg.encode(&mut out);
        let again = Message::decode(&out).expect("re-encoded message decodes");
        assert_eq!(again.map(|(m, _)| m), Some(msg));
    }
});
