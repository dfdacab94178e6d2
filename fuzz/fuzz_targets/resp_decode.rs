//! RESP2 decoding never panics, never claims more bytes than it was given, and
//! what it decodes encodes back to bytes that decode to the same value.
#![no_main]

use edgepool::redis::{resp, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_bulk(1 << 20).max_array(1 << 16);
    if let Ok(Some((value, used))) = resp::decode(data, &limits) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        resp::encode(&value, &mut out);
        let again = resp::decode(&out, &limits).expect("re-encoded value decodes");
        assert_eq!(again.map(|(v, _)| v), Some(value));
    }
});
