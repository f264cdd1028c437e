//! The receiving end of a media loop, one 20 ms tick at a time: what `rtp`'s jitter buffer
//! gives for the tick ([`Playout`]) becomes one frame of PCM — decoded, concealed when the
//! packet is lost (`rtp`'s decoder repeats and fades the last frame), or silence when
//! nothing is playing. Packets of other lengths than 20 ms (a peer sending 30 ms G.711, or
//! two GSM frames per packet) are carried over to the next ticks.

use rtp::codec::{Codec, Decoder, FRAME_SAMPLES};
use rtp::jitter::Playout;

use crate::PcmFrame;

/// The most audio carried over between ticks: beyond it, a peer that sends more than real
/// time (a clock running fast) loses the excess instead of growing a delay.
const MAX_CARRY: usize = 10 * FRAME_SAMPLES;

/// What a tick's frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Audio received from the peer.
    Audio,
    /// A lost packet's replacement.
    Concealed,
    /// Nothing received: silence.
    Silence,
}

/// Decodes one peer's stream into 20 ms frames.
#[derive(Debug, Clone)]
pub struct Listener {
    decoder: Decoder,
    carry: Vec<i16>,
    decode_errors: u64,
}

impl Listener {
    /// A listener decoding `codec`.
    pub fn new(codec: Codec) -> Listener {
        Listener {
            decoder: codec.decoder(),
            carry: Vec::with_capacity(MAX_CARRY + FRAME_SAMPLES),
            decode_errors: 0,
        }
    }

    /// The codec it decodes.
    pub fn codec(&self) -> Codec {
        self.decoder.codec()
    }

    /// Payloads the decoder refused (a GSM payload of a wrong length...), concealed instead.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// This tick's frame from the jitter buffer's answer.
    pub fn frame(&mut self, playout: &Playout, out: &mut PcmFrame) -> Heard {
        let heard = match playout {
            Playout::Frame(frame) => self.decode(&frame.payload),
            Playout::Missing => {
                if self.carry.len() < FRAME_SAMPLES {
                    self.decoder.conceal(&mut self.carry);
                }
                Heard::Concealed
            }
            Playout::Nothing if self.carry.len() >= FRAME_SAMPLES => Heard::Audio,
            Playout::Nothing => Heard::Silence,
        };
        self.take(out);
        heard
    }

    /// Decodes one payload (outside a jitter buffer) into this tick's frame.
    pub fn payload(&mut self, payload: &[u8], out: &mut PcmFrame) -> Heard {
        let heard = self.decode(payload);
        self.take(out);
        heard
    }

    fn decode(&mut self, payload: &[u8]) -> Heard {
        if self.decoder.decode(payload, &mut self.carry).is_ok() {
            Heard::Audio
        } else {
            self.decode_errors += 1;
            if self.carry.len() < FRAME_SAMPLES {
                self.decoder.conceal(&mut self.carry);
            }
            Heard::Concealed
        }
    }

    /// Moves the first 160 carried samples to `out` (zeros for what is missing).
    fn take(&mut self, out: &mut PcmFrame) {
        let n = self.carry.len().min(FRAME_SAMPLES);
        out[..n].copy_from_slice(&self.carry[..n]);
        out[n..].fill(0);
        self.carry.drain(..n);
        if self.carry.len() > MAX_CARRY {
            let excess = self.carry.len() - MAX_CARRY;
            self.carry.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use rtp::jitter::Frame;

    use super::*;

    fn packet(codec: Codec, samples: &[i16]) -> Playout {
        let mut payload = Vec::new();
        codec.encoder().encode(samples, &mut payload).unwrap();
        Playout::Frame(Frame {
            sequence: 1,
            timestamp: 0,
            payload,
        })
    }

    #[test]
    fn frames_are_decoded_concealed_or_silent() {
        let mut l = Listener::new(Codec::Pcma);
        let mut out = [7i16; 160];
        assert_eq!(l.frame(&Playout::Nothing, &mut out), Heard::Silence);
        assert!(out.iter().all(|&s| s == 0));
        assert_eq!(
            l.frame(&packet(Codec::Pcma, &[1000; 160]), &mut out),
            Heard::Audio
        );
        assert!(out.iter().all(|&s| (s - 1000).abs() < 40), "{out:?}");
        assert_eq!(l.frame(&Playout::Missing, &mut out), Heard::Concealed);
        assert!(
            out[0] > 500,
            "the lost frame repeats the last one: {}",
            out[0]
        );
    }

    #[test]
    fn longer_packets_carry_over_to_the_next_tick() {
        let mut l = Listener::new(Codec::Pcmu);
        let mut out = [0i16; 160];
        // 30 ms packets: 240 samples each.
        assert_eq!(
            l.frame(&packet(Codec::Pcmu, &[2000; 240]), &mut out),
            Heard::Audio
        );
        assert_eq!(l.frame(&Playout::Nothing, &mut out), Heard::Silence);
        assert!(out[..80].iter().all(|&s| s != 0) && out[80..].iter().all(|&s| s == 0));
        let mut l = Listener::new(Codec::Pcmu);
        l.frame(&packet(Codec::Pcmu, &[2000; 400]), &mut out);
        assert_eq!(l.frame(&Playout::Nothing, &mut out), Heard::Audio);
        assert!(out.iter().all(|&s| s != 0));
    }

    #[test]
    fn refused_payloads_are_counted_and_concealed() {
        let mut l = Listener::new(Codec::Gsm);
        let mut out = [0i16; 160];
        assert_eq!(l.payload(&[0xD0; 10], &mut out), Heard::Concealed);
        assert_eq!(l.decode_errors(), 1);
        assert_eq!(l.codec(), Codec::Gsm);
    }
}
