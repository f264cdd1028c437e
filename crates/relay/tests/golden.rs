//! SDP rewrite golden tests: real bodies from crates/sdp/tests/data (the NATed X-Lite
//! offer of seed 000, a WebRTC offer with ICE, an RFC 2543 hold) go through an offer on a
//! fresh engine; the relayed body must equal `tests/data/<name>.relayed` byte for byte.
//! `UPDATE_GOLDEN=1 cargo test -p relay --test golden` rewrites the expected files (then
//! read the diff).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use relay::{Engine, EngineConfig, Flags, MediaRequest};

fn check(name: &str, flags: Flags) {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read(manifest.join("../sdp/tests/data").join(name)).unwrap();
    let mut config = EngineConfig::new([203, 0, 113, 5].into());
    config.port_min = 35000;
    config.port_max = 35999;
    let mut engine = Engine::new(config).unwrap();
    let request = MediaRequest {
        call_id: "golden".into(),
        from_tag: "caller".into(),
        sdp: input,
        received_from: Some([198, 51, 100, 7].into()),
        flags,
        ..MediaRequest::default()
    };
    let out = engine
        .offer(Instant::now(), &request, &mut |_| true)
        .unwrap();
    let expected_path = manifest.join("tests/data").join(format!("{name}.relayed"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &out.sdp).unwrap();
    }
    let expected = std::fs::read(&expected_path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.sdp),
        String::from_utf8_lossy(&expected),
        "{name}"
    );
    // What the relay produced is valid SDP again.
    sdp::SessionDescription::from_bytes(&out.sdp).unwrap();
}

#[test]
fn nated_xlite_offer_of_the_seed() {
    check(
        "xlite-seed-nat.sdp",
        Flags {
            replace_origin: true,
            ..Flags::default()
        },
    );
}

#[test]
fn xlite5_offer_with_default_flags() {
    check("xlite5-offer.sdp", Flags::default());
}

#[test]
fn webrtc_offer_becomes_plain_rtp_for_a_phone() {
    check("webrtc-offer.sdp", Flags::default());
}

#[test]
fn hold_offer_keeps_the_hold_address() {
    check("legacy-hold.sdp", Flags::default());
}

#[test]
fn several_streams_and_t38() {
    check("t38-reinvite.sdp", Flags::default());
}
