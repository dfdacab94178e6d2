//! SNMPv3 message decoding never panics; what it decodes encodes back to
//! bytes that decode to the same message; and a decrypted ScopedPDU's
//! decoder (the same bytes read as plaintext) never panics either.
#![no_main]

use edgepool::snmp::v3::{MessageV3, ScopedPdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ScopedPdu::decode_prefix(data);
    if let Ok(Some((msg, used))) = MessageV3::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        msg.encode(&mut out);
        let again = MessageV3::decode(&out).expect("re-encoded message decodes");
        assert_eq!(again.map(|(m, _)| m), Some(msg));
    }
});
