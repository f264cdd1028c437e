//! Any WAV file to telephony audio: 8 kHz, mono, 16-bit linear PCM.
//!
//! The file is read with `hound` (RIFF/WAVE: integer PCM of 8 to 32 bits, 32-bit IEEE float,
//! plain or `WAVE_FORMAT_EXTENSIBLE` headers, any number of channels, any sample rate). Then:
//!
//! 1. **Depth**: integer samples are shifted to 16 bits (8-bit files are unsigned on disk and
//!    come out of the reader centred on zero); float samples are scaled by 32768 and clamped.
//! 2. **Downmix**: the channels of each sample frame are averaged, so a signal present in
//!    every channel keeps its level and nothing clips.
//! 3. **Rate**: [`rtp::audio::resample`], a band-limited windowed-sinc converter (Blackman
//!    window, 28 zero crossings each side, cutoff at the lower Nyquist frequency, stopband at
//!    least 70 dB down). It low-passes before decimating, so a 44.1 kHz or 48 kHz file does
//!    not fold its 4-22 kHz content into the telephone band, as a plain linear interpolation
//!    would. The prompts are converted once, when loaded, so its cost (about 300 taps per
//!    output sample from 44.1 kHz) does not matter.
//!
//! Bytes are never trusted: lengths in the header are checked against the bytes present, a
//! file may hold at most [`MAX_SECONDS`] of audio, at a rate in [`SAMPLE_RATES`] with at most
//! [`MAX_CHANNELS`] channels, and the conversion runs in chunks, so memory follows the 8 kHz
//! output, not the file's rate. Nothing here panics on any input.

use std::io::Cursor;

use rtp::audio::resample::Resampler;
use rtp::codec::CLOCK_RATE;

use crate::error::WavError;

/// The longest WAV accepted, in seconds (a prompt, or a recorded greeting).
pub const MAX_SECONDS: u64 = 600;

/// What a WAV file held before conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Bits per sample.
    pub bits_per_sample: u16,
    /// Whether the samples are IEEE float (else integer PCM).
    pub float: bool,
}

/// A WAV file converted to 8 kHz mono 16-bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The file's own format.
    pub info: WavInfo,
    /// The converted samples, 8000 per second.
    pub samples: Vec<i16>,
}

/// The sample rates accepted, in Hz: anything a recorder or an editor writes.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=384_000;

/// The most channels accepted.
pub const MAX_CHANNELS: u16 = 64;

/// Sample frames downmixed before they are handed to the resampler: memory stays bounded
/// by the 8 kHz output whatever the file's rate.
const CHUNK: usize = 4096;

/// Reads a WAV file and converts it to 8 kHz mono 16-bit (see the module documentation).
pub fn decode(bytes: &[u8]) -> Result<Decoded, WavError> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| reader_error(e, bytes))?;
    let spec = reader.spec();
    if !(1..=MAX_CHANNELS).contains(&spec.channels) || !SAMPLE_RATES.contains(&spec.sample_rate) {
        return Err(WavError::Header {
            channels: spec.channels,
            sample_rate: spec.sample_rate,
        });
    }
    let info = WavInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits_per_sample: spec.bits_per_sample,
        float: spec.sample_format == hound::SampleFormat::Float,
    };
    let limit = MAX_SECONDS.saturating_mul(u64::from(spec.sample_rate));
    let frame_bytes = usize::from(spec.channels) * usize::from(spec.bits_per_sample.div_ceil(8));
    let present = (bytes.len() / frame_bytes.max(1)) as u64;
    let announced = u64::from(reader.duration());
    if announced > limit && present > limit {
        // Really too long, not a lying header: refused before any work.
        return Err(WavError::TooLong { max: MAX_SECONDS });
    }
    // The output's length, but never more than the bytes can hold (the header's length is
    // not trusted).
    let frames = present.min(announced).min(limit);
    let capacity = (frames * u64::from(CLOCK_RATE) / u64::from(spec.sample_rate)) as usize + 1;
    let mut sink = Sink::new(spec.sample_rate, capacity)?;
    let bits = spec.bits_per_sample;
    match spec.sample_format {
        hound::SampleFormat::Int => downmix(
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| int_to_16(v, bits))),
            spec.channels,
            limit,
            &mut sink,
        ),
        hound::SampleFormat::Float => downmix(
            reader
                .into_samples::<f32>()
                .map(|s| s.map(|v| (f64::from(v) * 32_768.0) as i32)),
            spec.channels,
            limit,
            &mut sink,
        ),
    }?;
    let samples = sink.finish();
    if samples.is_empty() {
        return Err(WavError::Empty);
    }
    Ok(Decoded { info, samples })
}

/// Where downmixed audio goes: straight to the output at 8 kHz, else through the resampler.
struct Sink {
    resampler: Option<Resampler>,
    out: Vec<i16>,
    read: usize,
}

impl Sink {
    fn new(rate: u32, capacity: usize) -> Result<Sink, WavError> {
        let resampler = match rate {
            CLOCK_RATE => None,
            // The rate is in SAMPLE_RATES, never zero: the resampler's only refusal.
            _ => Some(
                Resampler::new(rate, CLOCK_RATE).map_err(|_| WavError::Header {
                    channels: 1,
                    sample_rate: rate,
                })?,
            ),
        };
        Ok(Sink {
            resampler,
            out: Vec::with_capacity(capacity),
            read: 0,
        })
    }

    fn push(&mut self, chunk: &[i16]) {
        self.read += chunk.len();
        match &mut self.resampler {
            Some(r) => self.out.extend(r.process(chunk)),
            None => self.out.extend_from_slice(chunk),
        }
    }

    fn finish(mut self) -> Vec<i16> {
        if let Some(r) = &mut self.resampler {
            self.out.extend(r.finish());
        }
        self.out
    }
}

/// A sample of `bits` bits (as the reader gives it, centred on zero) at 16 bits.
fn int_to_16(v: i32, bits: u16) -> i32 {
    if bits <= 16 {
        v << (16 - bits)
    } else {
        v >> (bits.min(32) - 16)
    }
}

/// Averages the channels of each frame into `sink`; stops with an error past `limit`
/// frames or when the data ends inside the announced length.
fn downmix(
    samples: impl Iterator<Item = hound::Result<i32>>,
    channels: u16,
    limit: u64,
    sink: &mut Sink,
) -> Result<(), WavError> {
    let channels = i64::from(channels);
    let mut chunk = Vec::with_capacity(CHUNK);
    let (mut sum, mut in_frame) = (0i64, 0i64);
    for sample in samples {
        let v = match sample {
            Ok(v) => v,
            Err(hound::Error::IoError(_) | hound::Error::UnfinishedSample) => {
                return Err(WavError::Truncated {
                    frames: sink.read + chunk.len(),
                })
            }
            Err(e) => return Err(WavError::Format(e.to_string())),
        };
        sum += i64::from(v);
        in_frame += 1;
        if in_frame == channels {
            if (sink.read + chunk.len()) as u64 >= limit {
                return Err(WavError::TooLong { max: MAX_SECONDS });
            }
            chunk.push((sum / channels).clamp(-32_768, 32_767) as i16);
            sum = 0;
            in_frame = 0;
            if chunk.len() == CHUNK {
                sink.push(&chunk);
                chunk.clear();
            }
        }
    }
    sink.push(&chunk);
    Ok(())
}

/// The reader's refusal as a [`WavError`], naming the format tag of an unsupported encoding.
fn reader_error(e: hound::Error, bytes: &[u8]) -> WavError {
    match e {
        hound::Error::Unsupported | hound::Error::TooWide => {
            let what = match format_tag(bytes) {
                Some(tag) => format!("format tag {tag:#06x}{}", tag_name(tag)),
                None => "the fmt chunk".to_owned(),
            };
            WavError::Unsupported(what)
        }
        hound::Error::IoError(_) => WavError::Format("the file ends inside its header".into()),
        other => WavError::Format(other.to_string()),
    }
}

/// The format tag of the first `fmt ` chunk, for error messages.
fn format_tag(bytes: &[u8]) -> Option<u16> {
    let mut at = 12usize;
    while let Some(header) = bytes.get(at..at.checked_add(8)?) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"fmt " {
            let tag = bytes.get(at + 8..at + 10)?;
            return Some(u16::from_le_bytes([tag[0], tag[1]]));
        }
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => " (MS ADPCM)",
        0x0006 => " (A-law)",
        0x0007 => " (µ-law)",
        0x0011 => " (IMA ADPCM)",
        0x0031 => " (GSM 6.10)",
        0x0055 => " (MP3)",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
