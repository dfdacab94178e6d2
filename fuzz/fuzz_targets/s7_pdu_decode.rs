//! S7 PDU decoding never panics: `parse` and every `decode_*` on arbitrary
//! bytes either fail or return slices inside the input that match what was
//! asked for.
#![no_main]

use edgepool::s7::pdu::{self, Item};
use edgepool::s7::Area;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = pdu::parse(data) else {
        return;
    };
    assert!(m.params.len() + m.data.len() + 10 <= data.len());
    let items = [
        Item::db(1, 0, 4),
        Item::bytes(Area::Merkers, 0, 1, 3),
        Item::bit(Area::Db, 1, 2, 3),
        Item::bytes(Area::Timers, 0, 0, 2),
    ];
    for n in 1..=items.len() {
        if let Ok(results) = pdu::decode_read(&m, &items[..n]) {
            assert_eq!(results.len(), n);
            for (item, r) in items.iter().zip(results) {
                if let Ok(bytes) = r {
                    assert_eq!(bytes.len(), item.byte_len());
                }
            }
        }
        if let Ok(results) = pdu::decode_write(&m, n) {
            assert_eq!(results.len(), n);
        }
    }
    let _ = pdu::decode_setup(&m);
    for first in [true, false] {
        if let Ok(part) = pdu::decode_szl(&m, first, 0x0011, 0) {
            assert!(part.data.len() <= m.data.len());
            assert_eq!(part.header.is_some(), first);
        }
    }
});
