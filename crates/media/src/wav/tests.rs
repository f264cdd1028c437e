use std::f64::consts::TAU;
use std::io::Cursor;

use rtp::audio::goertzel::tone_amplitude;

use super::*;

/// A WAV file of `seconds` of a `hz` sine of peak `amplitude` (0-1 of full scale) in every
/// channel, in the given format.
fn sine_wav(spec: hound::WavSpec, hz: f64, amplitude: f64, seconds: f64) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    let frames = (seconds * f64::from(spec.sample_rate)) as usize;
    for n in 0..frames {
        let x = amplitude * (TAU * hz * n as f64 / f64::from(spec.sample_rate)).sin();
        for _ in 0..spec.channels {
            match spec.sample_format {
                hound::SampleFormat::Float => writer.write_sample(x as f32).unwrap(),
                hound::SampleFormat::Int => {
                    let full = f64::from((1u32 << (spec.bits_per_sample - 1)) - 1);
                    writer.write_sample((x * full).round() as i32).unwrap()
                }
            }
        }
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

fn spec(sample_rate: u32, channels: u16, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// The middle of a converted signal (the resampler's edges left out).
fn middle(samples: &[i16]) -> &[i16] {
    &samples[samples.len() / 4..samples.len() * 3 / 4]
}

#[test]
fn every_format_becomes_8_khz_mono_16_bit_at_the_same_level() {
    let cases = [
        spec(8000, 1, 16, false),
        spec(44_100, 2, 16, false),
        spec(48_000, 2, 24, false),
        spec(11_025, 1, 8, false),
        spec(16_000, 6, 32, false),
        spec(22_050, 1, 32, true),
    ];
    for case in cases {
        let bytes = sine_wav(case, 1000.0, 0.5, 1.0);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.info.sample_rate, case.sample_rate);
        assert_eq!(decoded.info.channels, case.channels);
        assert_eq!(decoded.info.bits_per_sample, case.bits_per_sample);
        assert_eq!(decoded.samples.len(), 8000, "{case:?}");
        let level = tone_amplitude(middle(&decoded.samples), 1000.0, 8000);
        // Half of full scale; 8-bit files are coarse.
        assert!((level - 16_384.0).abs() < 200.0, "{case:?}: {level}");
    }
}

#[test]
fn content_above_4_khz_is_filtered_out_not_folded_in() {
    // 5 kHz at 44.1 kHz would alias to 3 kHz by plain decimation.
    let bytes = sine_wav(spec(44_100, 1, 16, false), 5000.0, 0.5, 1.0);
    let decoded = decode(&bytes).unwrap();
    let folded = tone_amplitude(middle(&decoded.samples), 3000.0, 8000);
    assert!(folded < 20.0, "{folded}");
}

#[test]
fn channels_are_averaged() {
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec(8000, 2, 16, false)).unwrap();
    for (left, right) in [(1000, 3000), (-32_768, -32_768), (32_767, 1)] {
        writer.write_sample(left as i16).unwrap();
        writer.write_sample(right as i16).unwrap();
    }
    writer.finalize().unwrap();
    let decoded = decode(bytes.get_ref()).unwrap();
    assert_eq!(decoded.samples, [2000, -32_768, 16_384]);
}

#[test]
fn garbage_is_refused_with_a_reason() {
    for bytes in [&b""[..], b"RIFF", b"RIFF\x10\0\0\0WAVEjunk", &[0xff; 100]] {
        assert!(
            matches!(decode(bytes), Err(WavError::Format(_))),
            "{bytes:?}: {:?}",
            decode(bytes)
        );
    }
}

#[test]
fn an_a_law_file_is_named_as_unsupported() {
    let mut bytes = sine_wav(spec(8000, 1, 16, false), 440.0, 0.3, 0.1);
    // Format tag 6 (A-law) at offset 20 of the 44-octet header.
    bytes[20] = 6;
    let error = decode(&bytes).unwrap_err();
    assert_eq!(
        error,
        WavError::Unsupported("format tag 0x0006 (A-law)".into())
    );
    assert!(error.to_string().contains("A-law"), "{error}");
}

#[test]
fn empty_truncated_and_overlong_files_are_refused() {
    let empty = sine_wav(spec(8000, 1, 16, false), 440.0, 0.3, 0.0);
    assert_eq!(decode(&empty), Err(WavError::Empty));

    let whole = sine_wav(spec(8000, 2, 16, false), 440.0, 0.3, 0.1);
    let cut = &whole[..whole.len() - 101];
    assert_eq!(decode(cut), Err(WavError::Truncated { frames: 774 }));

    // A header announcing 4 GB over a few octets is truncated, not an allocation.
    let mut lying = whole.clone();
    lying[40..44].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let answer = decode(&lying);
    assert!(
        matches!(answer, Err(WavError::Truncated { .. })),
        "{answer:?}"
    );

    // More than MAX_SECONDS of audio: 601 s at 1 kHz, 8-bit.
    let long = sine_wav(spec(1000, 1, 8, false), 10.0, 0.3, 601.0);
    assert_eq!(decode(&long), Err(WavError::TooLong { max: MAX_SECONDS }));
}

#[test]
fn rates_and_channel_counts_out_of_range_are_refused() {
    for rate in [999, 384_001] {
        let bytes = sine_wav(spec(rate, 1, 16, false), 440.0, 0.3, 0.01);
        assert_eq!(
            decode(&bytes),
            Err(WavError::Header {
                channels: 1,
                sample_rate: rate
            })
        );
    }
    let many = sine_wav(spec(8000, 65, 16, false), 440.0, 0.3, 0.01);
    assert!(matches!(
        decode(&many),
        Err(WavError::Header { channels: 65, .. })
    ));
    let mut zero = sine_wav(spec(8000, 1, 16, false), 440.0, 0.3, 0.1);
    zero[24..28].copy_from_slice(&0u32.to_le_bytes());
    assert!(decode(&zero).is_err());
}

#[test]
fn long_files_convert_in_chunks_like_a_whole() {
    // 3 s at 44.1 kHz: several chunks through the streaming resampler, same as at once.
    let bytes = sine_wav(spec(44_100, 1, 16, false), 440.0, 0.5, 3.0);
    let decoded = decode(&bytes).unwrap();
    let mut reader = hound::WavReader::new(Cursor::new(&bytes)).unwrap();
    let raw: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let whole = rtp::audio::resample::resample(&raw, 44_100, 8000).unwrap();
    assert_eq!(decoded.samples, whole);
}
