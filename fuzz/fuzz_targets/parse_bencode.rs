//! Fuzzes the relay's bencode decoder and NG server: whatever decodes must re-encode to a
//! value that decodes equal; any datagram given to the NG server gets an answer that is a
//! well-formed NG message (or none, when there is no cookie), and nothing panics.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use relay::ng::{server, split};
use relay::{Bencode, Engine, EngineConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = Bencode::decode(data) {
        let again = Bencode::decode(&value.encode()).expect("re-encoded value decodes");
        assert_eq!(again, value);
    }
    let mut config = EngineConfig::new([192, 0, 2, 1].into());
    config.port_min = 30000;
    config.port_max = 30099;
    let Ok(mut engine) = Engine::new(config) else {
        return;
    };
    let clock = server::Clock {
        now: Instant::now(),
        unix_now: 1_700_000_000,
    };
    // A datagram as it is, then as the body of a cookie.
    for datagram in [data.to_vec(), [&b"fz "[..], data].concat()] {
        if let Some(answer) = server::handle(&mut engine, clock, &datagram, &mut |_| true) {
            let (_, body) = split(&answer).expect("the answer is an NG message");
            assert!(body.get("result").is_some());
        }
    }
});
