//! The echo test (`echo@domain`): the caller hears their own audio after a short delay, and
//! each DTMF digit they press (RFC 4733 event or SIP INFO) comes back as the digit's tone,
//! so the path of both can be checked by ear or by a Goertzel detector.
//!
//! The delay is a line of 20 ms frames. A digit's tone (100 ms, then 50 ms of silence)
//! replaces the echo while it plays: a sender of RFC 4733 events mutes its audio during
//! the key press anyway (RFC 4733 §2.5.1.1 lets it), and a clean tone is what a detector on
//! the other side expects.

use std::collections::VecDeque;
use std::time::Duration;

use rtp::codec::{FRAME_DURATION, FRAME_SAMPLES};

use crate::error::Error;
use crate::player::{Segment, Sequence};
use crate::tone::ToneSpec;
use crate::PcmFrame;

/// The default delay: long enough to tell one's echo from one's voice.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(200);
/// The longest delay accepted.
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// How long a digit's tone plays.
pub const DIGIT_TONE: Duration = Duration::from_millis(100);
/// The pause after a digit's tone.
pub const DIGIT_PAUSE: Duration = Duration::from_millis(50);

/// Returns the caller's audio after a delay, and their digits as tones.
#[derive(Debug, Clone)]
pub struct Echo {
    line: VecDeque<PcmFrame>,
    delay_frames: usize,
    tones: Sequence,
}

impl Default for Echo {
    fn default() -> Self {
        Echo::with_frames(frames_of(DEFAULT_DELAY))
    }
}

fn frames_of(delay: Duration) -> usize {
    (delay.as_micros() / FRAME_DURATION.as_micros()) as usize
}

impl Echo {
    /// An echo delayed by `delay`, rounded down to whole 20 ms frames (at most
    /// [`MAX_DELAY`]).
    pub fn new(delay: Duration) -> Result<Echo, Error> {
        if delay > MAX_DELAY {
            return Err(Error::Setting("echo: the delay is at most 10 s"));
        }
        Ok(Echo::with_frames(frames_of(delay)))
    }

    fn with_frames(delay_frames: usize) -> Echo {
        let mut line = VecDeque::with_capacity(delay_frames + 1);
        line.extend(std::iter::repeat_n([0i16; FRAME_SAMPLES], delay_frames));
        Echo {
            line,
            delay_frames,
            tones: Sequence::new(),
        }
    }

    /// The delay.
    pub fn delay(&self) -> Duration {
        FRAME_DURATION * self.delay_frames as u32
    }

    /// A DTMF digit from the caller: its tone is queued. `false` for a character that is
    /// not a DTMF digit.
    pub fn digit(&mut self, digit: char) -> bool {
        let Some(tone) = ToneSpec::dtmf(digit, DIGIT_TONE) else {
            return false;
        };
        self.tones.push(tone);
        self.tones.push(Segment::Silence(DIGIT_PAUSE));
        true
    }

    /// One tick: takes the caller's frame, gives the frame to send back.
    pub fn process(&mut self, input: &PcmFrame, output: &mut PcmFrame) {
        self.line.push_back(*input);
        let delayed = self.line.pop_front().unwrap_or([0; FRAME_SAMPLES]);
        if !self.tones.next_pcm(output) {
            *output = delayed;
        }
    }
}

#[cfg(test)]
mod tests {
    use rtp::audio::goertzel::dominant_frequency;

    use super::*;

    fn numbered(n: i16) -> PcmFrame {
        [n; FRAME_SAMPLES]
    }

    #[test]
    fn audio_comes_back_after_the_delay() {
        let mut echo = Echo::default();
        assert_eq!(echo.delay(), Duration::from_millis(200));
        let mut out = [0i16; FRAME_SAMPLES];
        for n in 1..=20 {
            echo.process(&numbered(n), &mut out);
            let expected = if n <= 10 { 0 } else { n - 10 };
            assert_eq!(out[0], expected, "tick {n}");
        }
        let mut none = Echo::new(Duration::from_millis(19)).unwrap();
        none.process(&numbered(5), &mut out);
        assert_eq!(out[0], 5);
        assert!(Echo::new(Duration::from_secs(11)).is_err());
    }

    #[test]
    fn digits_come_back_as_their_tones_then_the_echo_resumes() {
        let mut echo = Echo::new(Duration::from_millis(40)).unwrap();
        assert!(echo.digit('5'));
        assert!(!echo.digit('x'));
        let mut out = [0i16; FRAME_SAMPLES];
        let mut heard = Vec::new();
        for n in 1..=10 {
            echo.process(&numbered(n), &mut out);
            heard.extend_from_slice(&out);
        }
        // 100 ms of 770 + 1336 Hz, 50 ms of silence, then the echo (2 frames behind).
        let rows = [697.0, 770.0, 852.0, 941.0];
        let columns = [1209.0, 1336.0, 1477.0, 1633.0];
        let tone = &heard[..800];
        assert_eq!(dominant_frequency(tone, &rows, 8000).unwrap().0, 770.0);
        assert_eq!(dominant_frequency(tone, &columns, 8000).unwrap().0, 1336.0);
        assert!(heard[800..1200].iter().all(|&s| s == 0));
        assert!(
            heard[1200..1280].iter().all(|&s| s == 0),
            "rest of the pause frame"
        );
        assert_eq!(heard[1280], 7);
        assert_eq!(heard[9 * 160], 8);
    }
}
