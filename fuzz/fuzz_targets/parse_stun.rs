//! Fuzzes the STUN crate on arbitrary datagrams: `Message::parse` and its attribute walk,
//! the server's `answer` (whose every response must parse back as a response to the same
//! transaction), and the client's `parse_binding_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stun::{answer, parse_binding_response, Class, Message, TransactionId};

fuzz_target!(|data: &[u8]| {
    let source = "192.0.2.7:1000".parse().expect("address");
    let local = "192.0.2.1:3478".parse().expect("address");
    let other = "192.0.2.1:3479".parse().expect("address");
    if let Ok(m) = Message::parse(data) {
        for a in m.attributes() {
            assert!(a.value.len() <= data.len());
        }
        let _ = parse_binding_response(data, m.transaction_id());
    }
    let _ = parse_binding_response(data, TransactionId([0; 12]));
    if let Some(r) = answer(data, source, local, Some(other)) {
        let m = Message::parse(&r.bytes).expect("our answers parse");
        assert!(matches!(m.class(), Class::Success | Class::Error));
        assert_eq!(m.transaction_id().0[..], data[8..20]);
    }
});
