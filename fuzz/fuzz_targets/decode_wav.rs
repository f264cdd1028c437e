//! Fuzzes `media::wav::decode` (hound, then downmix and resampling to 8 kHz) on arbitrary
//! files: no panic, no allocation beyond what the bytes can hold, and every accepted file
//! gives non-empty audio within the length limit, usable as a prompt by the player.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::{Player, Prompt};
use rtp::codec::Codec;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = media::wav::decode(data) else {
        assert!(Prompt::from_wav("fuzz", data).is_err());
        return;
    };
    assert!(!decoded.samples.is_empty());
    assert!(decoded.info.channels > 0 && decoded.info.sample_rate > 0);
    // At most MAX_SECONDS at 8 kHz, plus the resampler's rounding up.
    assert!(decoded.samples.len() as u64 <= media::wav::MAX_SECONDS * 8000 + 1);
    let prompt = Prompt::from_samples("fuzz", decoded.samples);
    let mut player = Player::new(Codec::Gsm);
    player.push(prompt);
    let mut payload = Vec::new();
    for _ in 0..3 {
        payload.clear();
        if player.next_payload(&mut payload).is_none() {
            break;
        }
        assert_eq!(payload.len(), 33);
    }
});
