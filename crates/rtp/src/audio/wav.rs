//! RIFF/WAVE files (the Microsoft/IBM multimedia format): PCM read from bytes and written to
//! bytes.
//!
//! Read: 16-bit signed or 8-bit unsigned PCM, mono or stereo (mixed to mono by averaging),
//! any sample rate, in a plain `WAVE_FORMAT_PCM` (1) `fmt ` chunk or a
//! `WAVE_FORMAT_EXTENSIBLE` (0xFFFE) one whose subformat is PCM. Chunks other than `fmt `
//! and `data` are skipped; chunks are padded to even sizes. Anything else is an error that
//! names the problem. Written: 16-bit mono PCM.

use crate::error::Error;

/// Format tag of integer PCM.
pub const WAVE_FORMAT_PCM: u16 = 0x0001;
/// Format tag of the extensible format, whose subformat GUID says the encoding.
pub const WAVE_FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// The subformat GUID of PCM in a `WAVE_FORMAT_EXTENSIBLE` header, after its first two
/// octets (the format tag 0x0001): `00000001-0000-0010-8000-00aa00389b71`.
const PCM_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// Audio read from a WAV file, mixed to mono.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// The channel count of the file (1 or 2) before mixing.
    pub channels: u16,
    /// The sample size of the file, in bits (8 or 16).
    pub bits_per_sample: u16,
    /// The samples, mono, 16-bit.
    pub samples: Vec<i16>,
}

/// The fields of the `fmt ` chunk this reader uses.
#[derive(Debug, Clone, Copy)]
struct Format {
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let x = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([x[0], x[1]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let x = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

/// Parses a WAV file.
pub fn parse(bytes: &[u8]) -> Result<Wav, Error> {
    if bytes.get(..4) != Some(b"RIFF") {
        return Err(Error::WavStructure("no RIFF header"));
    }
    if bytes.get(8..12) != Some(b"WAVE") {
        return Err(Error::WavStructure("RIFF form is not WAVE"));
    }
    let mut format = None;
    let mut data = None;
    let mut at = 12;
    // The RIFF size field is not trusted (streaming writers leave it 0 or 0xFFFFFFFF): the
    // chunks run to the end of the bytes. Fewer octets than a chunk header at the end are
    // ignored.
    while at + 8 <= bytes.len() {
        let (Some(id), Some(size)) = (bytes.get(at..at + 4), le32(bytes, at + 4)) else {
            break;
        };
        let size = size as usize;
        let body_start = at + 8;
        let body = bytes
            .get(body_start..body_start.saturating_add(size))
            .ok_or(Error::WavStructure(if id == b"data" {
                "data chunk truncated"
            } else {
                "chunk truncated"
            }))?;
        match id {
            b"fmt " => format = Some(parse_format(body)?),
            b"data" if data.is_none() => data = Some(body),
            _ => {}
        }
        // Chunks are padded to an even size; a missing final pad octet is tolerated.
        at = body_start + size + (size & 1);
    }
    let format = format.ok_or(Error::WavStructure("no fmt chunk"))?;
    let data = data.ok_or(Error::WavStructure("no data chunk"))?;
    Ok(Wav {
        sample_rate: format.sample_rate,
        channels: format.channels,
        bits_per_sample: format.bits,
        samples: decode_samples(&format, data),
    })
}

fn parse_format(body: &[u8]) -> Result<Format, Error> {
    let truncated = Error::WavStructure("fmt chunk shorter than 16 octets");
    let tag = le16(body, 0).ok_or(truncated.clone())?;
    let channels = le16(body, 2).ok_or(truncated.clone())?;
    let sample_rate = le32(body, 4).ok_or(truncated.clone())?;
    let block_align = le16(body, 12).ok_or(truncated.clone())?;
    let bits = le16(body, 14).ok_or(truncated)?;
    match tag {
        WAVE_FORMAT_PCM => {}
        WAVE_FORMAT_EXTENSIBLE => {
            let sub_tag = le16(body, 24).ok_or(Error::WavStructure(
                "extensible fmt chunk shorter than 40 octets",
            ))?;
            let tail = body.get(26..40).ok_or(Error::WavStructure(
                "extensible fmt chunk shorter than 40 octets",
            ))?;
            if sub_tag != WAVE_FORMAT_PCM || tail != PCM_GUID_TAIL {
                return Err(Error::WavFormat(WAVE_FORMAT_EXTENSIBLE));
            }
        }
        other => return Err(Error::WavFormat(other)),
    }
    if bits != 8 && bits != 16 {
        return Err(Error::WavBits(bits));
    }
    if channels != 1 && channels != 2 {
        return Err(Error::WavChannels(channels));
    }
    if sample_rate == 0 {
        return Err(Error::WavSampleRate);
    }
    if block_align != channels * bits / 8 {
        return Err(Error::WavStructure(
            "block align does not match channels and bits",
        ));
    }
    Ok(Format {
        channels,
        sample_rate,
        block_align,
        bits,
    })
}

fn decode_samples(format: &Format, data: &[u8]) -> Vec<i16> {
    let sample = |b: &[u8]| -> i32 {
        match b {
            [x] => (i32::from(*x) - 128) << 8,
            [lo, hi] => i32::from(i16::from_le_bytes([*lo, *hi])),
            _ => 0,
        }
    };
    let width = usize::from(format.bits / 8);
    data.chunks_exact(usize::from(format.block_align))
        .map(|frame| {
            let sum: i32 = frame.chunks_exact(width).map(sample).sum();
            (sum / i32::from(format.channels)) as i16
        })
        .collect()
}

/// A 16-bit mono PCM WAV file of `samples` at `sample_rate`.
pub fn write(sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36) & !1;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&WAVE_FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&sample_rate.saturating_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples.iter().take(data_len as usize / 2) {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
