use rtp::audio::goertzel::tone_amplitude;
use rtp::audio::tone::Tone;
use rtp::jitter::Frame;

use super::*;

/// `ms` of a 700 Hz tone at -12 dBFS, as 20 ms frames.
fn speech(tone: &mut Tone, ms: u64) -> Vec<PcmFrame> {
    (0..ms / 20)
        .map(|_| {
            let mut f = [0i16; 160];
            tone.fill(&mut f);
            f
        })
        .collect()
}

fn silence(ms: u64) -> Vec<PcmFrame> {
    // Line noise at about -50 dBFS is still silence.
    (0..ms / 20)
        .map(|i| {
            let mut f = [0i16; 160];
            for (n, s) in f.iter_mut().enumerate() {
                *s = if (n + i as usize) % 2 == 0 { 100 } else { -100 };
            }
            f
        })
        .collect()
}

fn message(r: Recording) -> (Vec<i16>, Duration, StopReason) {
    match r {
        Recording::Message {
            wav,
            duration,
            reason,
        } => {
            let parsed = rtp::audio::wav::parse(&wav).unwrap();
            assert_eq!((parsed.sample_rate, parsed.channels), (8000, 1));
            (parsed.samples, duration, reason)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_stop_digit_ends_the_recording_and_trailing_silence_is_trimmed() {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let mut r = Recorder::new(Codec::Pcmu, RecorderConfig::default()).unwrap();
    for f in speech(&mut tone, 2000).iter().chain(&silence(1000)) {
        assert_eq!(r.push_pcm(f), None);
    }
    assert_eq!(r.digit('5'), None);
    assert_eq!(r.digit('#'), Some(StopReason::Digit('#')));
    // Frames after the stop are not recorded.
    assert_eq!(r.push_pcm(&[9000; 160]), Some(StopReason::Digit('#')));
    assert_eq!(r.recorded(), Duration::from_secs(3));
    let (samples, duration, reason) = message(r.finish());
    assert_eq!(reason, StopReason::Digit('#'));
    assert_eq!(duration, Duration::from_secs(2));
    assert_eq!(samples.len(), 16_000);
    assert!(tone_amplitude(&samples, 700.0, 8000) > 7900.0);
}

#[test]
fn silence_for_the_timeout_ends_the_recording() {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let config = RecorderConfig {
        silence_timeout: Some(Duration::from_secs(3)),
        ..RecorderConfig::default()
    };
    let mut r = Recorder::new(Codec::Pcma, config).unwrap();
    // A pause of 2.9 s inside the message does not stop it.
    for f in speech(&mut tone, 1000)
        .iter()
        .chain(&silence(2900))
        .chain(&speech(&mut tone, 500))
    {
        assert_eq!(r.push_pcm(f), None);
    }
    let mut stopped = None;
    for (i, f) in silence(4000).iter().enumerate() {
        if let Some(reason) = r.push_pcm(f) {
            stopped = Some((i, reason));
            break;
        }
    }
    assert_eq!(
        stopped,
        Some((149, StopReason::Silence)),
        "after 150 frames"
    );
    let (_, duration, _) = message(r.finish());
    assert_eq!(duration, Duration::from_millis(4400));
}

#[test]
fn the_maximum_length_ends_the_recording() {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let config = RecorderConfig {
        max_length: Duration::from_millis(1010),
        ..RecorderConfig::default()
    };
    let mut r = Recorder::new(Codec::Gsm, config).unwrap();
    let frames = speech(&mut tone, 2000);
    let stop = frames.iter().position(|f| r.push_pcm(f).is_some());
    assert_eq!(stop, Some(50));
    let (samples, duration, reason) = message(r.finish());
    assert_eq!(reason, StopReason::MaxLength);
    assert_eq!(
        (samples.len(), duration),
        (8080, Duration::from_millis(1010))
    );
}

#[test]
fn short_or_silent_messages_are_discarded() {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let mut r = Recorder::new(Codec::Pcmu, RecorderConfig::default()).unwrap();
    for f in speech(&mut tone, 980).iter().chain(&silence(2000)) {
        r.push_pcm(f);
    }
    r.hang_up();
    assert_eq!(
        r.finish(),
        Recording::TooShort {
            duration: Duration::from_millis(980),
            reason: StopReason::HangUp
        }
    );

    // Nothing but silence until the timeout: nothing kept.
    let mut r = Recorder::new(Codec::Pcmu, RecorderConfig::default()).unwrap();
    let stop = silence(6000).iter().position(|f| r.push_pcm(f).is_some());
    assert_eq!(stop, Some(249));
    assert!(matches!(
        r.finish(),
        Recording::TooShort {
            duration: Duration::ZERO,
            reason: StopReason::Silence
        }
    ));
}

#[test]
fn encoded_packets_are_decoded_and_gaps_are_silence() {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let mut encoder = Codec::Pcma.encoder();
    let mut r = Recorder::new(Codec::Pcma, RecorderConfig::default()).unwrap();
    for (i, f) in speech(&mut tone, 1500).iter().enumerate() {
        let mut payload = Vec::new();
        encoder.encode(f, &mut payload).unwrap();
        let playout = Playout::Frame(Frame {
            sequence: i as u16,
            timestamp: 160 * i as u32,
            payload,
        });
        assert_eq!(r.push_playout(&playout), None);
    }
    // The caller's phone stops sending (silence suppression): ticks bring nothing.
    let stop = (0..400).position(|_| r.push_playout(&Playout::Nothing).is_some());
    assert_eq!(stop, Some(249));
    // The trailing 5 s of nothing are trimmed.
    let (samples, duration, reason) = message(r.finish());
    assert_eq!(
        (duration, reason),
        (Duration::from_millis(1500), StopReason::Silence)
    );
    assert!(tone_amplitude(&samples, 700.0, 8000) > 7500.0);
}

#[test]
fn impossible_settings_are_refused() {
    for config in [
        RecorderConfig {
            max_length: Duration::from_millis(500),
            ..RecorderConfig::default()
        },
        RecorderConfig {
            silence_timeout: Some(Duration::ZERO),
            ..RecorderConfig::default()
        },
    ] {
        assert!(matches!(
            Recorder::new(Codec::Pcmu, config),
            Err(Error::Setting(_))
        ));
    }
    let never = RecorderConfig {
        silence_timeout: None,
        stop_digit: None,
        ..RecorderConfig::default()
    };
    let mut r = Recorder::new(Codec::Pcmu, never).unwrap();
    assert_eq!(r.digit('#'), None);
    assert!(silence(10_000).iter().all(|f| r.push_pcm(f).is_none()));
    assert!(
        r.finish()
            == Recording::TooShort {
                duration: Duration::ZERO,
                reason: StopReason::HangUp
            }
    );
}
