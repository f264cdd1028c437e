//! A voicemail deposit on a simulated clock, through two `rtp::MediaStream`s as the media
//! loop of the service will run it: the service plays the greeting and the beep (`Player`),
//! then records the caller's 700 Hz tone (`Recorder`, fed by the jitter buffer) until the
//! caller presses `#` (RFC 4733 events: their start, updates and three end packets reported
//! once by the stream's event receiver).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant, SystemTime};

use media::prompts::names;
use media::{Player, Prompts, Recorder, RecorderConfig, Recording, StopReason, ToneSpec};
use rtp::audio::goertzel::tone_amplitude;
use rtp::audio::tone::Tone;
use rtp::codec::{Codec, FRAME_SAMPLES};
use rtp::stream::Channel;
use rtp::{MediaStream, StreamConfig};

fn stream(ssrc: u32, t: Instant) -> MediaStream {
    let mut config = StreamConfig::new(ssrc, 1000, 5000, Codec::Pcma.payload_type(), "x@y");
    config.telephone_event = Some(101);
    MediaStream::new(config, t, SystemTime::UNIX_EPOCH).unwrap()
}

#[test]
fn greeting_beep_then_the_recording_until_pound() {
    let t = Instant::now();
    let mut caller = stream(1, t);
    let mut service = stream(2, t);
    let prompts = Prompts::built_in().unwrap();
    let greeting = prompts.require(names::VM_GREETING).unwrap().clone();

    let mut player = Player::new(Codec::Pcma);
    player.push(greeting.clone());
    player.push(ToneSpec::BEEP);
    let greeting_frames = greeting.samples().len().div_ceil(FRAME_SAMPLES);

    let mut recorder = Recorder::new(Codec::Pcma, RecorderConfig::default()).unwrap();
    let mut caller_voice = Tone::new(700.0, 8000.0, 8000);
    let mut caller_encoder = Codec::Pcma.encoder();
    let mut caller_decoder = Codec::Pcma.decoder();
    let mut caller_heard = Vec::new();
    let mut recording_started = None;
    let mut outcome = None;

    for tick in 0..3000u32 {
        let now = t + Duration::from_millis(20 * u64::from(tick));
        // The service: the next frame of the announcement, or nothing once it is done.
        let mut payload = Vec::new();
        if player.next_payload(&mut payload).is_some() {
            let packet = service.send_audio(now, &payload);
            caller.receive_rtp(now, &packet).unwrap();
        } else if recording_started.is_none() {
            recording_started = Some(tick);
        }
        // The caller: speaks, and presses # two seconds into the recording.
        if recording_started.is_some_and(|s| tick == s + 100) {
            caller.send_digit(now, '#').unwrap();
        }
        if !caller.sending_digits() {
            let mut frame = [0i16; FRAME_SAMPLES];
            caller_voice.fill(&mut frame);
            let mut payload = Vec::new();
            caller_encoder.encode(&frame, &mut payload).unwrap();
            let packet = caller.send_audio(now, &payload);
            service.receive_rtp(now, &packet).unwrap();
        }
        while let Some(transmit) = caller.poll_transmit(now) {
            if transmit.channel == Channel::Rtp {
                service.receive_rtp(now, &transmit.bytes).unwrap();
            }
        }
        // What each side hears this tick.
        if let rtp::jitter::Playout::Frame(f) = caller.pop_audio(now) {
            caller_decoder
                .decode(&f.payload, &mut caller_heard)
                .unwrap();
        }
        let playout = service.pop_audio(now);
        if recording_started.is_some() {
            recorder.push_playout(&playout);
        }
        while let Some(event) = service.poll_event(now) {
            if let Some(digit) = event.digit {
                recorder.digit(digit);
            }
        }
        if recorder.stopped().is_some() {
            outcome = Some(recorder.finish());
            break;
        }
    }

    // The caller heard the greeting, then the 1 kHz beep.
    let beep_start = greeting_frames * FRAME_SAMPLES;
    assert!(caller_heard.len() >= beep_start + 3200);
    let beep = &caller_heard[beep_start + 160..beep_start + 3000];
    assert!(tone_amplitude(beep, 1000.0, 8000) > 7000.0);

    // The recording: about 2 s of the caller's 700 Hz (the jitter buffer's delay and the
    // digit's own packets shift it by a few frames), ended by #.
    let Some(Recording::Message {
        wav,
        duration,
        reason,
    }) = outcome
    else {
        panic!("no message: {outcome:?}");
    };
    assert_eq!(reason, StopReason::Digit('#'));
    assert!(
        duration > Duration::from_millis(1800) && duration <= Duration::from_millis(2100),
        "{duration:?}"
    );
    let samples = media::wav::decode(&wav).unwrap().samples;
    let level = tone_amplitude(&samples[800..samples.len() - 800], 700.0, 8000);
    assert!(level > 7500.0, "{level}");
}
