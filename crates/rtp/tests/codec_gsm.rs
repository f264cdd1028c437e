//! GSM 06.10 bit-exactness against libgsm (`toast`/`untoast`, Debian `libgsm-tools`).
//!
//! Two kinds of checks:
//! - golden files in `tests/data/codec/gsm/`, made once by `toast`/`untoast` from the
//!   signals of `codec_support` (seed 1) and committed, so the check runs everywhere:
//!   `<signal>.gsm` is toast's output for 3 s of the signal, `<signal>.pcm` untoast's
//!   decoding of its first second (16-bit little-endian); `random_frames.*` are 50 frames of
//!   random bits with the signature and untoast's decoding of them. Regenerate with
//!   `cargo test -p rtp --test codec_gsm -- --ignored regenerate_golden_files`.
//! - a live comparison on fresh inputs (other seeds) when the tools are installed, in both
//!   directions: our encoder against toast, untoast on our frames against our decoder, and
//!   our decoder on toast's frames against untoast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec_support;

use codec_support::{
    data_dir, le_to_samples, libgsm_tools_present, random_gsm_frames, samples_to_le, toast,
    untoast, Signal, FRAME,
};
use rtp::codec::gsm::{FrameParameters, GsmDecoder, GsmEncoder, FRAME_BYTES};
use rtp::codec::Codec;

/// Seed of the signals behind the committed golden files.
const GOLDEN_SEED: u32 = 1;
/// Frames of each golden signal (3 s).
const GOLDEN_FRAMES: usize = 150;
/// Frames of each golden signal whose decoding is committed (1 s).
const GOLDEN_DECODED_FRAMES: usize = 50;
/// Seed and length of the committed random frames.
const RANDOM_SEED: u32 = 7;
const RANDOM_FRAMES: usize = 50;

fn golden_path(file: &str) -> std::path::PathBuf {
    data_dir().join("gsm").join(file)
}

fn read_golden(file: &str) -> Vec<u8> {
    std::fs::read(golden_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Our encoder over a whole signal, through the public codec API.
fn encode(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    let written = Codec::Gsm.encoder().encode(samples, &mut out).unwrap();
    assert_eq!(written, samples.len() / FRAME * FRAME_BYTES);
    out
}

/// Our decoder over a run of frames, through the public codec API.
fn decode(frames: &[u8]) -> Vec<i16> {
    let mut out = Vec::new();
    Codec::Gsm.decoder().decode(frames, &mut out).unwrap();
    out
}

/// Panics with the first differing frame, its parameters on both sides when they are GSM
/// frames.
fn assert_frames_equal(what: &str, ours: &[u8], reference: &[u8]) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let frames = ours.chunks(FRAME_BYTES).zip(reference.chunks(FRAME_BYTES));
    for (index, (a, b)) in frames.enumerate() {
        if a != b {
            let unpack = |f: &[u8]| FrameParameters::unpack(f.try_into().unwrap());
            panic!(
                "{what}: frame {index} differs\n ours:      {:?}\n reference: {:?}",
                unpack(a),
                unpack(b)
            );
        }
    }
}

/// Panics with the first differing sample and its frame.
fn assert_samples_equal(what: &str, ours: &[i16], reference: &[i16]) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    if let Some(k) = ours.iter().zip(reference).position(|(a, b)| a != b) {
        let frame = k / FRAME;
        let start = frame * FRAME;
        panic!(
            "{what}: sample {k} (frame {frame}) differs: ours {} reference {}\n ours:      {:?}\n reference: {:?}",
            ours[k],
            reference[k],
            &ours[start..(start + 16).min(ours.len())],
            &reference[start..(start + 16).min(reference.len())]
        );
    }
}

#[test]
fn encoder_matches_committed_toast_output() {
    for signal in Signal::ALL {
        let samples = signal.generate(GOLDEN_SEED, GOLDEN_FRAMES);
        let expected = read_golden(&format!("{}.gsm", signal.name()));
        assert_eq!(expected.len(), GOLDEN_FRAMES * FRAME_BYTES);
        assert_frames_equal(signal.name(), &encode(&samples), &expected);
    }
}

#[test]
fn decoder_matches_committed_untoast_output() {
    for signal in Signal::ALL {
        let frames = read_golden(&format!("{}.gsm", signal.name()));
        let expected = le_to_samples(&read_golden(&format!("{}.pcm", signal.name())));
        assert_eq!(expected.len(), GOLDEN_DECODED_FRAMES * FRAME);
        let ours = decode(&frames[..GOLDEN_DECODED_FRAMES * FRAME_BYTES]);
        assert_samples_equal(signal.name(), &ours, &expected);
    }
}

#[test]
fn decoder_matches_committed_untoast_output_on_random_frames() {
    let frames = read_golden("random_frames.gsm");
    assert_eq!(frames, random_gsm_frames(RANDOM_SEED, RANDOM_FRAMES));
    let expected = le_to_samples(&read_golden("random_frames.pcm"));
    assert_samples_equal("random frames", &decode(&frames), &expected);
}

#[test]
fn the_frame_level_api_agrees_with_the_codec_api() {
    let samples = Signal::SpeechLike.generate(GOLDEN_SEED, 20);
    let mut encoder = GsmEncoder::new();
    let mut decoder = GsmDecoder::new();
    let mut frames = Vec::new();
    let mut decoded = Vec::new();
    for block in samples.chunks_exact(FRAME) {
        let packed = encoder.encode(block.try_into().unwrap());
        assert_eq!(
            FrameParameters::unpack(&packed).map(|p| p.pack()),
            Some(packed)
        );
        frames.extend_from_slice(&packed);
        decoded.extend_from_slice(&decoder.decode(&packed).unwrap());
    }
    assert_eq!(frames, encode(&samples));
    assert_eq!(decoded, decode(&frames));
}

#[test]
fn live_comparison_with_libgsm() {
    if !libgsm_tools_present() {
        println!("skipped: install libgsm-tools (toast, untoast) for the live GSM comparison");
        return;
    }
    for seed in [2, 3] {
        for signal in Signal::ALL {
            let what = format!("{} seed {seed}", signal.name());
            let samples = signal.generate(seed, GOLDEN_FRAMES);

            let ours = encode(&samples);
            let reference = toast(&what, &samples);
            assert_frames_equal(&format!("{what}: toast"), &ours, &reference);

            // Both directions of decoding.
            let untoasted_ours = untoast(&what, &ours);
            assert_samples_equal(
                &format!("{what}: untoast of ours"),
                &decode(&ours),
                &untoasted_ours,
            );
            let untoasted_reference = untoast(&what, &reference);
            assert_samples_equal(
                &format!("{what}: ours on toast's frames"),
                &decode(&reference),
                &untoasted_reference,
            );
        }
    }
    let frames = random_gsm_frames(8, 500);
    assert_samples_equal(
        "random frames seed 8",
        &decode(&frames),
        &untoast("random", &frames),
    );
}

/// Writes the golden files from libgsm's tools (not from our code). Run once, by hand.
#[test]
#[ignore = "regenerates the committed golden files with toast/untoast"]
fn regenerate_golden_files() {
    assert!(libgsm_tools_present(), "install libgsm-tools first");
    std::fs::create_dir_all(golden_path("")).unwrap();
    for signal in Signal::ALL {
        let samples = signal.generate(GOLDEN_SEED, GOLDEN_FRAMES);
        let frames = toast(signal.name(), &samples);
        let decoded = untoast(signal.name(), &frames);
        std::fs::write(golden_path(&format!("{}.gsm", signal.name())), &frames).unwrap();
        let first = &decoded[..GOLDEN_DECODED_FRAMES * FRAME];
        std::fs::write(
            golden_path(&format!("{}.pcm", signal.name())),
            samples_to_le(first),
        )
        .unwrap();
    }
    let frames = random_gsm_frames(RANDOM_SEED, RANDOM_FRAMES);
    let decoded = untoast("random", &frames);
    std::fs::write(golden_path("random_frames.gsm"), &frames).unwrap();
    std::fs::write(golden_path("random_frames.pcm"), samples_to_le(&decoded)).unwrap();
}
