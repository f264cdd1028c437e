//! The player: prompts, tones and pauses in sequence, as 20 ms frames encoded with the
//! call's codec into RTP payloads (RFC 3551 §4.5: 160 G.711 octets or one 33-octet GSM
//! frame per 20 ms). One frame is taken per tick of the caller's media loop; segments follow
//! each other without a gap inside a frame, and the last frame is padded with silence.

use std::collections::VecDeque;
use std::time::Duration;

use rtp::codec::{Codec, Encoder};

use crate::prompt::{samples_duration, Prompt};
use crate::tone::{ToneGenerator, ToneSpec};
use crate::PcmFrame;

/// One thing to play.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A prompt.
    Prompt(Prompt),
    /// A tone (the beep before recording, a DTMF digit).
    Tone(ToneSpec),
    /// Silence.
    Silence(Duration),
}

impl From<Prompt> for Segment {
    fn from(prompt: Prompt) -> Segment {
        Segment::Prompt(prompt)
    }
}

impl From<ToneSpec> for Segment {
    fn from(tone: ToneSpec) -> Segment {
        Segment::Tone(tone)
    }
}

/// The segment being played and how far.
#[derive(Debug, Clone)]
enum Playing {
    Prompt { prompt: Prompt, at: usize },
    Tone(ToneGenerator),
    Silence { left: usize },
}

impl Playing {
    fn start(segment: Segment) -> Playing {
        match segment {
            Segment::Prompt(prompt) => Playing::Prompt { prompt, at: 0 },
            Segment::Tone(spec) => Playing::Tone(ToneGenerator::new(spec)),
            Segment::Silence(d) => Playing::Silence {
                left: (d.as_micros() * 8 / 1000).try_into().unwrap_or(usize::MAX),
            },
        }
    }

    /// Writes the next samples to the start of `out`; returns how many.
    fn fill(&mut self, out: &mut [i16]) -> usize {
        match self {
            Playing::Prompt { prompt, at } => {
                let rest = prompt.samples().get(*at..).unwrap_or_default();
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                *at += n;
                n
            }
            Playing::Tone(tone) => tone.fill(out),
            Playing::Silence { left } => {
                let n = (*left).min(out.len());
                out[..n].fill(0);
                *left -= n;
                n
            }
        }
    }

    fn remaining(&self) -> usize {
        match self {
            Playing::Prompt { prompt, at } => prompt.samples().len().saturating_sub(*at),
            Playing::Tone(tone) => (tone.remaining().as_micros() * 8 / 1000) as usize,
            Playing::Silence { left } => *left,
        }
    }
}

/// Segments in order, as 20 ms frames of PCM: the player without the codec (the echo's
/// digit tones use it).
#[derive(Debug, Clone, Default)]
pub struct Sequence {
    current: Option<Playing>,
    queue: VecDeque<Segment>,
    frames: u64,
}

impl Sequence {
    /// An empty sequence.
    pub fn new() -> Sequence {
        Sequence::default()
    }

    /// Queues a segment after those already queued.
    pub fn push(&mut self, segment: impl Into<Segment>) {
        self.queue.push_back(segment.into());
    }

    /// Queues segments in order.
    pub fn extend<S: Into<Segment>>(&mut self, segments: impl IntoIterator<Item = S>) {
        self.queue.extend(segments.into_iter().map(Into::into));
    }

    /// Stops playing and forgets the queue (a caller pressed a key during a menu prompt).
    pub fn stop(&mut self) {
        self.current = None;
        self.queue.clear();
    }

    /// Whether everything queued has been played.
    pub fn is_done(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// How long what is queued still plays.
    pub fn remaining(&self) -> Duration {
        let current = self.current.as_ref().map_or(0, Playing::remaining);
        let queued: Duration = self
            .queue
            .iter()
            .map(|s| match s {
                Segment::Prompt(p) => p.duration(),
                Segment::Tone(t) => t.duration(),
                Segment::Silence(d) => *d,
            })
            .sum();
        samples_duration(current) + queued
    }

    /// Frames produced so far.
    pub fn frames_played(&self) -> u64 {
        self.frames
    }

    /// The next 20 ms of audio into `frame`; `false` (and silence) when everything has
    /// been played.
    pub fn next_pcm(&mut self, frame: &mut PcmFrame) -> bool {
        let mut filled = 0;
        while filled < frame.len() {
            let Some(playing) = self.current.as_mut() else {
                match self.queue.pop_front() {
                    Some(segment) => {
                        self.current = Some(Playing::start(segment));
                        continue;
                    }
                    None => break,
                }
            };
            let n = playing.fill(&mut frame[filled..]);
            filled += n;
            if n == 0 || playing.remaining() == 0 {
                self.current = None;
            }
        }
        frame[filled..].fill(0);
        if filled == 0 {
            return false;
        }
        self.frames += 1;
        true
    }
}

/// Plays segments in order, frame by frame, encoded with one codec.
#[derive(Debug, Clone)]
pub struct Player {
    encoder: Encoder,
    sequence: Sequence,
}

impl Player {
    /// An idle player encoding with `codec`.
    pub fn new(codec: Codec) -> Player {
        Player {
            encoder: codec.encoder(),
            sequence: Sequence::new(),
        }
    }

    /// The codec of the payloads.
    pub fn codec(&self) -> Codec {
        self.encoder.codec()
    }

    /// Queues a segment after those already queued.
    pub fn push(&mut self, segment: impl Into<Segment>) {
        self.sequence.push(segment);
    }

    /// Queues segments in order.
    pub fn extend<S: Into<Segment>>(&mut self, segments: impl IntoIterator<Item = S>) {
        self.sequence.extend(segments);
    }

    /// Stops playing and forgets the queue (a caller pressed a key during a menu prompt).
    pub fn stop(&mut self) {
        self.sequence.stop();
    }

    /// Whether everything queued has been played.
    pub fn is_done(&self) -> bool {
        self.sequence.is_done()
    }

    /// How long what is queued still plays.
    pub fn remaining(&self) -> Duration {
        self.sequence.remaining()
    }

    /// Frames produced so far.
    pub fn frames_played(&self) -> u64 {
        self.sequence.frames_played()
    }

    /// The next 20 ms of audio into `frame`; `false` (and silence) when everything has
    /// been played.
    pub fn next_pcm(&mut self, frame: &mut PcmFrame) -> bool {
        self.sequence.next_pcm(frame)
    }

    /// The next 20 ms encoded, appended to `payload`: the number of octets appended, or
    /// `None` when everything has been played.
    pub fn next_payload(&mut self, payload: &mut Vec<u8>) -> Option<usize> {
        let mut frame = [0i16; rtp::codec::FRAME_SAMPLES];
        if !self.sequence.next_pcm(&mut frame) {
            return None;
        }
        // A whole 160-sample frame is accepted by every codec.
        self.encoder.encode(&frame, payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use rtp::audio::goertzel::tone_amplitude;

    use super::*;

    fn ramp(name: &str, n: usize) -> Prompt {
        Prompt::from_samples(name, (0..n).map(|i| i as i16 + 1).collect::<Vec<_>>())
    }

    #[test]
    fn a_prompt_plays_in_frames_and_the_last_is_padded() {
        let mut player = Player::new(Codec::Pcmu);
        player.push(ramp("p", 400));
        assert!(!player.is_done());
        assert_eq!(player.remaining(), Duration::from_millis(50));
        let mut frame = [0i16; 160];
        assert!(player.next_pcm(&mut frame));
        assert_eq!((frame[0], frame[159]), (1, 160));
        assert!(player.next_pcm(&mut frame));
        assert!(player.next_pcm(&mut frame));
        assert_eq!(
            (frame[0], frame[79], frame[80], frame[159]),
            (321, 400, 0, 0)
        );
        assert!(player.is_done());
        assert!(!player.next_pcm(&mut frame));
        assert_eq!(player.frames_played(), 3);
    }

    #[test]
    fn segments_follow_each_other_without_a_gap() {
        let mut player = Player::new(Codec::Pcma);
        player.extend([ramp("a", 100), ramp("b", 100)]);
        player.push(Segment::Silence(Duration::from_millis(10)));
        player.push(ToneSpec::BEEP);
        let mut frame = [0i16; 160];
        assert!(player.next_pcm(&mut frame));
        assert_eq!((frame[99], frame[100], frame[159]), (100, 1, 60));
        assert!(player.next_pcm(&mut frame));
        assert_eq!((frame[39], frame[40], frame[119]), (100, 0, 0));
        assert_ne!(frame[121], 0, "the beep starts right after the pause");
        let mut beep = Vec::new();
        while player.next_pcm(&mut frame) {
            beep.extend_from_slice(&frame);
        }
        // 400 ms of beep less the 40 samples in the second frame, padded to a whole frame.
        assert_eq!(beep.len(), 3200);
        assert!(tone_amplitude(&beep[..3000], 1000.0, 8000) > 7000.0);
    }

    #[test]
    fn payloads_have_the_codec_size() {
        for codec in Codec::ALL {
            let mut player = Player::new(codec);
            player.push(ramp("p", 500));
            let mut payloads = Vec::new();
            loop {
                let mut payload = vec![0xAA];
                match player.next_payload(&mut payload) {
                    Some(n) => {
                        assert_eq!(n, codec.bytes_per_frame(), "{codec}");
                        assert_eq!(payload.len(), 1 + n);
                        payloads.push(payload);
                    }
                    None => break,
                }
            }
            assert_eq!(payloads.len(), 4, "{codec}");
            assert_eq!(player.codec(), codec);
        }
    }

    #[test]
    fn a_played_tone_survives_the_codec() {
        let mut player = Player::new(Codec::Pcmu);
        player.push(ToneSpec::BEEP);
        let mut decoder = Codec::Pcmu.decoder();
        let mut decoded = Vec::new();
        let mut payload = Vec::new();
        while player.next_payload(&mut payload).is_some() {
            decoder.decode(&payload, &mut decoded).unwrap();
            payload.clear();
        }
        assert_eq!(decoded.len(), 3200);
        let level = tone_amplitude(&decoded, 1000.0, 8000);
        assert!((level - 8000.0).abs() < 200.0, "{level}");
    }

    #[test]
    fn stop_forgets_everything() {
        let mut player = Player::new(Codec::Gsm);
        player.extend([ramp("a", 1000), ramp("b", 1000)]);
        let mut frame = [0i16; 160];
        assert!(player.next_pcm(&mut frame));
        player.stop();
        assert!(player.is_done());
        assert_eq!(player.remaining(), Duration::ZERO);
        assert!(!player.next_pcm(&mut frame));
        assert!(frame.iter().all(|&s| s == 0));
    }
}
