//! WAV reader and writer tests on hand-built files.

use super::*;

/// A WAV file from a `fmt ` body and data, with extra chunks before the data.
fn file(fmt: &[u8], extra: &[(&[u8; 4], &[u8])], data: &[u8]) -> Vec<u8> {
    let mut chunks = Vec::new();
    let mut chunk = |id: &[u8], body: &[u8]| {
        chunks.extend_from_slice(id);
        chunks.extend_from_slice(&(body.len() as u32).to_le_bytes());
        chunks.extend_from_slice(body);
        if body.len() % 2 == 1 {
            chunks.push(0);
        }
    };
    chunk(b"fmt ", fmt);
    for (id, body) in extra {
        chunk(*id, body);
    }
    chunk(b"data", data);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(4 + chunks.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(&chunks);
    out
}

fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut b = Vec::new();
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b
}

fn extensible(channels: u16, rate: u32, bits: u16, sub_tag: u16) -> Vec<u8> {
    let mut b = fmt_body(WAVE_FORMAT_EXTENSIBLE, channels, rate, bits);
    b.extend_from_slice(&22u16.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&sub_tag.to_le_bytes());
    b.extend_from_slice(&PCM_GUID_TAIL);
    b
}

#[test]
fn written_files_read_back() {
    let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 16_000) as i16).collect();
    let bytes = write(22_050, &samples);
    assert_eq!(bytes.len(), 44 + 2000);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
        36 + 2000
    );
    let wav = parse(&bytes).unwrap();
    assert_eq!(wav.sample_rate, 22_050);
    assert_eq!(wav.channels, 1);
    assert_eq!(wav.bits_per_sample, 16);
    assert_eq!(wav.samples, samples);
}

#[test]
fn stereo_16_bit_is_mixed_to_mono() {
    let mut data = Vec::new();
    for (l, r) in [
        (1000i16, 3000i16),
        (-32768, -32768),
        (32767, -32767),
        (5, 6),
    ] {
        data.extend_from_slice(&l.to_le_bytes());
        data.extend_from_slice(&r.to_le_bytes());
    }
    let wav = parse(&file(&fmt_body(1, 2, 48_000, 16), &[], &data)).unwrap();
    assert_eq!(wav.channels, 2);
    assert_eq!(wav.samples, [2000, -32768, 0, 5]);
}

#[test]
fn eight_bit_unsigned_mono_and_stereo() {
    let wav = parse(&file(&fmt_body(1, 1, 8000, 8), &[], &[0, 128, 255])).unwrap();
    assert_eq!(wav.samples, [-32768, 0, 32512]);
    let wav = parse(&file(
        &fmt_body(1, 2, 11_025, 8),
        &[],
        &[0, 255, 128, 128, 1],
    ))
    .unwrap();
    // Trailing half frame ignored.
    assert_eq!(wav.samples, [(-32768 + 32512) / 2, 0]);
    assert_eq!(wav.sample_rate, 11_025);
}

#[test]
fn extensible_pcm_is_read_and_other_subformats_refused() {
    let data = [0x10, 0x00, 0xf0, 0xff];
    let wav = parse(&file(&extensible(1, 16_000, 16, 1), &[], &data)).unwrap();
    assert_eq!(wav.samples, [16, -16]);
    let float = file(&extensible(1, 16_000, 16, 3), &[], &data);
    assert_eq!(parse(&float), Err(Error::WavFormat(WAVE_FORMAT_EXTENSIBLE)));
    let mut short = extensible(1, 16_000, 16, 1);
    short.truncate(30);
    assert_eq!(
        parse(&file(&short, &[], &data)),
        Err(Error::WavStructure(
            "extensible fmt chunk shorter than 40 octets"
        ))
    );
}

#[test]
fn unknown_chunks_are_skipped_with_their_padding() {
    let extra: [(&[u8; 4], &[u8]); 2] = [(b"LIST", b"odd"), (b"fact", &[1, 0, 0, 0])];
    let bytes = file(&fmt_body(1, 1, 8000, 16), &extra, &[1, 0, 2, 0]);
    assert_eq!(parse(&bytes).unwrap().samples, [1, 2]);
}

#[test]
fn unsupported_and_broken_files_say_why() {
    let data = [0u8; 8];
    assert_eq!(parse(b"RIFX"), Err(Error::WavStructure("no RIFF header")));
    let mut avi = file(&fmt_body(1, 1, 8000, 16), &[], &data);
    avi[8..12].copy_from_slice(b"AVI ");
    assert_eq!(
        parse(&avi),
        Err(Error::WavStructure("RIFF form is not WAVE"))
    );
    assert_eq!(
        parse(&file(&fmt_body(3, 1, 8000, 32), &[], &data)),
        Err(Error::WavFormat(3))
    );
    assert_eq!(
        parse(&file(&fmt_body(1, 1, 8000, 24), &[], &data)),
        Err(Error::WavBits(24))
    );
    assert_eq!(
        parse(&file(&fmt_body(1, 6, 8000, 16), &[], &data)),
        Err(Error::WavChannels(6))
    );
    assert_eq!(
        parse(&file(&fmt_body(1, 1, 0, 16), &[], &data)),
        Err(Error::WavSampleRate)
    );
    let mut misaligned = fmt_body(1, 2, 8000, 16);
    misaligned[12] = 2;
    assert_eq!(
        parse(&file(&misaligned, &[], &data)),
        Err(Error::WavStructure(
            "block align does not match channels and bits"
        ))
    );
    let mut truncated = file(&fmt_body(1, 1, 8000, 16), &[], &data);
    truncated.truncate(truncated.len() - 2);
    assert_eq!(
        parse(&truncated),
        Err(Error::WavStructure("data chunk truncated"))
    );
    let mut no_data = file(&fmt_body(1, 1, 8000, 16), &[], &[]);
    no_data[36..40].copy_from_slice(b"junk");
    assert_eq!(parse(&no_data), Err(Error::WavStructure("no data chunk")));
    let only_data = {
        let mut f = write(8000, &[1, 2]);
        f[12..16].copy_from_slice(b"JUNK");
        f
    };
    assert_eq!(parse(&only_data), Err(Error::WavStructure("no fmt chunk")));
    assert_eq!(
        parse(&file(&[1, 0, 1], &[], &data)),
        Err(Error::WavStructure("fmt chunk shorter than 16 octets"))
    );
}
