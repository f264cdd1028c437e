//! Audio codecs of the RTP/AVP profile: G.711 μ-law and A-law and GSM 06.10 full rate, all
//! narrowband (8 kHz, 16-bit linear samples), RFC 3551 §4.5.
//!
//! [`Codec`] names a codec and carries its RTP facts (static payload type, clock rate, SDP
//! encoding name, frame sizes). [`Encoder`] and [`Decoder`] are created from it, one of each
//! per stream: GSM keeps filter state from frame to frame. Both append to a caller's buffer,
//! so a packet can be built after its RTP header without copying.
//!
//! Layout:
//! - [`g711`]: μ-law and A-law companding (ITU-T G.711)
//! - [`gsm`]: GSM 06.10 full-rate encoder and decoder, bit-exact, and its RTP frame packing
//! - `conceal`: the fade-out used by [`Decoder::conceal`] for a missing frame

mod conceal;
pub mod g711;
pub mod gsm;

use std::fmt;
use std::time::Duration;

use conceal::Concealment;
use gsm::{GsmDecoder, GsmEncoder};

/// RTP clock rate of every codec here, in Hz (RFC 3551 §4.5 and §6).
pub const CLOCK_RATE: u32 = 8_000;

/// Samples in one 20 ms frame at 8 kHz, the unit of [`Encoder::encode`] for GSM and of
/// [`Decoder::conceal`].
pub const FRAME_SAMPLES: usize = 160;

/// Duration of one frame of [`FRAME_SAMPLES`] samples.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// A narrowband audio codec of the RTP/AVP profile (RFC 3551 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, "PCMU", static payload type 0 (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law, "PCMA", static payload type 8 (RFC 3551 §4.5.14).
    Pcma,
    /// GSM 06.10 full rate, "GSM", static payload type 3 (RFC 3551 §4.5.8).
    Gsm,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::Gsm];

    /// The static RTP payload type (RFC 3551 §6).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::Gsm => 3,
        }
    }

    /// The RTP clock rate in Hz: 8000 for all three (RFC 3551 §6).
    pub const fn clock_rate(self) -> u32 {
        CLOCK_RATE
    }

    /// The encoding name as written in SDP `a=rtpmap` (RFC 3551 §6).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Gsm => "GSM",
        }
    }

    /// Samples in a 20 ms frame: 160.
    pub const fn samples_per_frame(self) -> usize {
        FRAME_SAMPLES
    }

    /// Encoded octets of a 20 ms frame: 160 for G.711 (one per sample), 33 for GSM
    /// (RFC 3551 §4.5.8).
    pub const fn bytes_per_frame(self) -> usize {
        match self {
            Codec::Pcmu | Codec::Pcma => FRAME_SAMPLES,
            Codec::Gsm => gsm::FRAME_BYTES,
        }
    }

    /// The codec of an SDP `a=rtpmap` encoding name (RFC 4566 §6), compared without regard
    /// to case as media subtype names are (RFC 4855 §3).
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|codec| codec.encoding_name().eq_ignore_ascii_case(name))
    }

    /// The codec of a static RTP payload type (0, 3 or 8).
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|codec| codec.payload_type() == payload_type)
    }

    /// A new encoder for one stream.
    pub fn encoder(self) -> Encoder {
        Encoder::new(self)
    }

    /// A new decoder for one stream.
    pub fn decoder(self) -> Decoder {
        Decoder::new(self)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// What is wrong with the input of an [`Encoder`] or [`Decoder`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The caller passed a number of samples the codec cannot encode (GSM encodes whole 20 ms
    /// frames of 160 samples).
    #[error("{codec} encodes whole frames of {frame} samples: got {samples} samples")]
    SampleCount {
        /// The codec.
        codec: Codec,
        /// Samples per frame it needs.
        frame: usize,
        /// Samples passed.
        samples: usize,
    },
    /// A received payload is not a whole, non-zero number of frames (GSM: 33 octets each,
    /// RFC 3551 §4.5.8).
    #[error("{codec} payload of {bytes} octets is not a whole number of {frame}-octet frames")]
    PayloadLength {
        /// The codec.
        codec: Codec,
        /// Octets per frame it needs.
        frame: usize,
        /// Octets received.
        bytes: usize,
    },
    /// A received GSM frame lacks the 0xD signature nibble (RFC 3551 §4.5.8.1): not GSM
    /// 06.10 data.
    #[error("GSM frame {index} of the payload does not start with the 0xD signature (first octet {first_octet:#04x})")]
    GsmSignature {
        /// Index of the frame within the payload.
        index: usize,
        /// Its first octet.
        first_octet: u8,
    },
}

/// The per-codec state of an encoder.
#[derive(Debug, Clone)]
enum EncoderState {
    Pcmu,
    Pcma,
    Gsm(Box<GsmEncoder>),
}

/// Encodes 8 kHz 16-bit samples for one RTP stream.
#[derive(Debug, Clone)]
pub struct Encoder {
    state: EncoderState,
}

impl Encoder {
    /// A new encoder of `codec`, in its initial state.
    pub fn new(codec: Codec) -> Self {
        let state = match codec {
            Codec::Pcmu => EncoderState::Pcmu,
            Codec::Pcma => EncoderState::Pcma,
            Codec::Gsm => EncoderState::Gsm(Box::default()),
        };
        Self { state }
    }

    /// The codec this encoder produces.
    pub fn codec(&self) -> Codec {
        match self.state {
            EncoderState::Pcmu => Codec::Pcmu,
            EncoderState::Pcma => Codec::Pcma,
            EncoderState::Gsm(_) => Codec::Gsm,
        }
    }

    /// Encodes `samples`, appending the payload to `out`, and returns the number of octets
    /// appended. G.711 takes any number of samples (one octet each); GSM takes whole 20 ms
    /// frames of 160 samples (33 octets each) and refuses other counts without appending.
    pub fn encode(&mut self, samples: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let before = out.len();
        match &mut self.state {
            EncoderState::Pcmu => g711::ulaw_encode_slice(samples, out),
            EncoderState::Pcma => g711::alaw_encode_slice(samples, out),
            EncoderState::Gsm(encoder) => {
                let frames = samples.chunks_exact(gsm::FRAME_SAMPLES);
                if !frames.remainder().is_empty() {
                    return Err(CodecError::SampleCount {
                        codec: Codec::Gsm,
                        frame: gsm::FRAME_SAMPLES,
                        samples: samples.len(),
                    });
                }
                out.reserve(frames.len() * gsm::FRAME_BYTES);
                for frame in frames {
                    let mut block = [0i16; gsm::FRAME_SAMPLES];
                    block.copy_from_slice(frame);
                    out.extend_from_slice(&encoder.encode(&block));
                }
            }
        }
        Ok(out.len() - before)
    }
}

/// The per-codec state of a decoder.
#[derive(Debug, Clone)]
enum DecoderState {
    Pcmu,
    Pcma,
    Gsm(Box<GsmDecoder>),
}

/// Decodes the payloads of one RTP stream to 8 kHz 16-bit samples, and conceals missing
/// frames.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: DecoderState,
    concealment: Concealment,
}

impl Decoder {
    /// A new decoder of `codec`, in its initial state.
    pub fn new(codec: Codec) -> Self {
        let state = match codec {
            Codec::Pcmu => DecoderState::Pcmu,
            Codec::Pcma => DecoderState::Pcma,
            Codec::Gsm => DecoderState::Gsm(Box::default()),
        };
        Self {
            state,
            concealment: Concealment::default(),
        }
    }

    /// The codec this decoder reads.
    pub fn codec(&self) -> Codec {
        match self.state {
            DecoderState::Pcmu => Codec::Pcmu,
            DecoderState::Pcma => Codec::Pcma,
            DecoderState::Gsm(_) => Codec::Gsm,
        }
    }

    /// Decodes one RTP payload, appending the samples to `out`, and returns how many were
    /// appended. G.711 payloads may have any length; GSM payloads must be one or more
    /// 33-octet frames, each with the 0xD signature. A refused payload appends nothing and
    /// leaves the decoder's state as it was.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let before = out.len();
        match &mut self.state {
            DecoderState::Pcmu => g711::ulaw_decode_slice(payload, out),
            DecoderState::Pcma => g711::alaw_decode_slice(payload, out),
            DecoderState::Gsm(decoder) => {
                check_gsm_payload(payload)?;
                out.reserve(payload.len() / gsm::FRAME_BYTES * gsm::FRAME_SAMPLES);
                for frame in payload.chunks_exact(gsm::FRAME_BYTES) {
                    let parameters = <&[u8; gsm::FRAME_BYTES]>::try_from(frame)
                        .ok()
                        .and_then(gsm::FrameParameters::unpack);
                    if let Some(parameters) = parameters {
                        out.extend_from_slice(&decoder.decode_parameters(&parameters));
                        self.concealment.last_gsm_frame = Some(parameters);
                    }
                }
            }
        }
        self.concealment.received(&out[before..]);
        Ok(out.len() - before)
    }

    /// Produces one 20 ms frame (160 samples) in place of a lost one, appending it to `out`.
    ///
    /// The last frame received is repeated and faded out over successive losses, reaching
    /// silence after 100 ms for G.711; GSM repeats the last frame's parameters through its
    /// own filters with the block maxima lowered step by step (after the substitution and
    /// muting of GSM 06.11), silent after 320 ms. Before any frame was received the result
    /// is silence. The next decoded payload ends the concealment. Returns the number of
    /// samples appended.
    pub fn conceal(&mut self, out: &mut Vec<i16>) -> usize {
        let before = out.len();
        match &mut self.state {
            DecoderState::Pcmu | DecoderState::Pcma => self.concealment.fade_last(out),
            DecoderState::Gsm(decoder) => {
                let samples = match self.concealment.next_gsm_substitute() {
                    Some(parameters) => decoder.decode_parameters(&parameters),
                    None => [0; gsm::FRAME_SAMPLES],
                };
                out.extend_from_slice(&samples);
            }
        }
        out.len() - before
    }
}

/// Checks a whole GSM payload before anything is decoded: a non-zero multiple of 33 octets,
/// every frame with the signature (RFC 3551 §4.5.8).
fn check_gsm_payload(payload: &[u8]) -> Result<(), CodecError> {
    let frames = payload.chunks_exact(gsm::FRAME_BYTES);
    if payload.is_empty() || !frames.remainder().is_empty() {
        return Err(CodecError::PayloadLength {
            codec: Codec::Gsm,
            frame: gsm::FRAME_BYTES,
            bytes: payload.len(),
        });
    }
    for (index, frame) in frames.enumerate() {
        let first_octet = frame.first().copied().unwrap_or(0);
        if first_octet >> 4 != gsm::SIGNATURE {
            return Err(CodecError::GsmSignature { index, first_octet });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_facts_of_rfc_3551() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Gsm.payload_type(), 3);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        for codec in Codec::ALL {
            assert_eq!(codec.clock_rate(), 8_000);
            assert_eq!(codec.samples_per_frame(), 160);
            assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
            assert_eq!(
                Codec::from_encoding_name(codec.encoding_name()),
                Some(codec)
            );
            assert_eq!(codec.to_string(), codec.encoding_name());
        }
        assert_eq!(Codec::Pcmu.bytes_per_frame(), 160);
        assert_eq!(Codec::Gsm.bytes_per_frame(), 33);
        assert_eq!(Codec::from_encoding_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_encoding_name("gSm"), Some(Codec::Gsm));
        assert_eq!(Codec::from_encoding_name("G729"), None);
        assert_eq!(Codec::from_encoding_name(""), None);
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(FRAME_DURATION.as_secs_f64() * f64::from(CLOCK_RATE), 160.0);
    }

    #[test]
    fn encoders_and_decoders_know_their_codec() {
        for codec in Codec::ALL {
            assert_eq!(codec.encoder().codec(), codec);
            assert_eq!(codec.decoder().codec(), codec);
        }
    }

    #[test]
    fn one_frame_has_the_advertised_sizes() {
        for codec in Codec::ALL {
            let mut encoder = codec.encoder();
            let mut decoder = codec.decoder();
            let mut payload = vec![0x80, 0x00]; // something already in the buffer
            let written = encoder.encode(&[100; FRAME_SAMPLES], &mut payload);
            assert_eq!(written, Ok(codec.bytes_per_frame()), "{codec}");
            assert_eq!(payload.len(), 2 + codec.bytes_per_frame());
            let mut samples = vec![7];
            let read = decoder.decode(&payload[2..], &mut samples);
            assert_eq!(read, Ok(FRAME_SAMPLES), "{codec}");
            assert_eq!(samples.len(), 1 + FRAME_SAMPLES);
            assert_eq!(samples[0], 7);
        }
    }

    #[test]
    fn gsm_refuses_partial_frames() {
        let mut encoder = Codec::Gsm.encoder();
        let mut out = Vec::new();
        assert_eq!(
            encoder.encode(&[0; 100], &mut out),
            Err(CodecError::SampleCount {
                codec: Codec::Gsm,
                frame: 160,
                samples: 100
            })
        );
        assert!(out.is_empty());
        assert_eq!(encoder.encode(&[0; 320], &mut out), Ok(66));
        assert_eq!(encoder.encode(&[], &mut out), Ok(0));

        let mut decoder = Codec::Gsm.decoder();
        let mut samples = Vec::new();
        for length in [0, 1, 32, 34, 65] {
            let error = decoder.decode(&out[..length.min(out.len())], &mut samples);
            assert!(
                matches!(error, Err(CodecError::PayloadLength { bytes, .. }) if bytes == length),
                "{length}: {error:?}"
            );
        }
        let mut bad = out.clone();
        bad[33] = 0x1F;
        assert_eq!(
            decoder.decode(&bad, &mut samples),
            Err(CodecError::GsmSignature {
                index: 1,
                first_octet: 0x1F
            })
        );
        assert!(samples.is_empty(), "a refused payload appends nothing");
        assert_eq!(decoder.decode(&out, &mut samples), Ok(320));
    }

    #[test]
    fn g711_takes_any_length() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut encoder = codec.encoder();
            let mut decoder = codec.decoder();
            let mut payload = Vec::new();
            assert_eq!(encoder.encode(&[1_000; 7], &mut payload), Ok(7));
            let mut samples = Vec::new();
            assert_eq!(decoder.decode(&payload, &mut samples), Ok(7));
            assert_eq!(decoder.decode(&[], &mut samples), Ok(0));
            assert!(
                samples.iter().all(|&s| (s - 1_000).abs() < 40),
                "{samples:?}"
            );
        }
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let error = CodecError::PayloadLength {
            codec: Codec::Gsm,
            frame: 33,
            bytes: 40,
        };
        assert_eq!(
            error.to_string(),
            "GSM payload of 40 octets is not a whole number of 33-octet frames"
        );
        let error = CodecError::GsmSignature {
            index: 0,
            first_octet: 0x2A,
        };
        assert!(error.to_string().contains("0x2a"), "{error}");
    }
}
