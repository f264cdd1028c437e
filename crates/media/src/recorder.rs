//! The voicemail recorder: the caller's audio, one 20 ms frame per tick, into an 8 kHz mono
//! 16-bit WAV, until the first of
//!
//! - a stop digit (`#` by default), from an RFC 4733 event or a SIP INFO, handed in by the
//!   caller ([`Recorder::digit`]);
//! - silence for [`RecorderConfig::silence_timeout`];
//! - [`RecorderConfig::max_length`] of audio;
//! - the hang-up ([`Recorder::hang_up`], or [`Recorder::finish`] while still recording).
//!
//! **Silence** is a frame whose RMS level is below [`RecorderConfig::silence_threshold`]
//! (default [`SILENCE_THRESHOLD`], 300 of 32767: about -41 dBFS, above the idle noise of a
//! telephone line and G.711's quantisation, below quiet speech at -30 to -20 dBFS). Lost
//! packets and ticks without packets count as the silence they are. The silence at the end
//! of a recording — the timeout's stretch, or whatever preceded `#` or the hang-up — is
//! trimmed, and a message shorter than [`RecorderConfig::min_length`] (1 s) after trimming
//! is [`Recording::TooShort`]: nothing is kept.
//!
//! Time is media time: each frame is 20 ms, so the recorder reads no clock and the caller
//! pushes one frame per tick whatever arrived (the [`Listener`] makes silence of nothing).

use std::time::Duration;

use rtp::audio::goertzel::rms;
use rtp::codec::{Codec, CLOCK_RATE, FRAME_SAMPLES};
use rtp::jitter::Playout;

use crate::error::Error;
use crate::listener::Listener;
use crate::prompt::samples_duration;
use crate::PcmFrame;

/// Default RMS level under which a frame is silence (about -41 dBFS).
pub const SILENCE_THRESHOLD: f64 = 300.0;

/// When a recording stops, and what counts as a message.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderConfig {
    /// The longest message (default 3 minutes).
    pub max_length: Duration,
    /// Silence that ends the recording (default 5 s); `None`: silence never does.
    pub silence_timeout: Option<Duration>,
    /// RMS level under which a frame is silence, in sample units (default
    /// [`SILENCE_THRESHOLD`]).
    pub silence_threshold: f64,
    /// Shorter messages are discarded (default 1 s).
    pub min_length: Duration,
    /// The digit that ends the recording (default `#`); `None`: digits do not.
    pub stop_digit: Option<char>,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            max_length: Duration::from_secs(180),
            silence_timeout: Some(Duration::from_secs(5)),
            silence_threshold: SILENCE_THRESHOLD,
            min_length: Duration::from_secs(1),
            stop_digit: Some('#'),
        }
    }
}

/// Why a recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The caller pressed the stop digit.
    Digit(char),
    /// Silence for the configured time.
    Silence,
    /// The maximum length was reached.
    MaxLength,
    /// The caller hung up.
    HangUp,
}

/// The outcome of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// A message to keep.
    Message {
        /// The WAV file: 8 kHz, mono, 16-bit PCM.
        wav: Vec<u8>,
        /// Its length.
        duration: Duration,
        /// Why the recording stopped.
        reason: StopReason,
    },
    /// Under the minimum length (after the trailing silence was trimmed): discarded.
    TooShort {
        /// The length it had.
        duration: Duration,
        /// Why the recording stopped.
        reason: StopReason,
    },
}

/// Records one caller.
#[derive(Debug, Clone)]
pub struct Recorder {
    config: RecorderConfig,
    listener: Listener,
    samples: Vec<i16>,
    /// Samples at the end of `samples` that are silence.
    silent_tail: usize,
    max_samples: usize,
    silence_samples: Option<usize>,
    stopped: Option<StopReason>,
}

fn to_samples(d: Duration) -> usize {
    usize::try_from(d.as_micros() * u128::from(CLOCK_RATE) / 1_000_000).unwrap_or(usize::MAX)
}

impl Recorder {
    /// A recorder of a stream in `codec`. Refuses a maximum length under the minimum, or
    /// a minimum or a silence timeout of zero.
    pub fn new(codec: Codec, config: RecorderConfig) -> Result<Recorder, Error> {
        if config.max_length < config.min_length || config.max_length.is_zero() {
            return Err(Error::Setting(
                "recording: max_length must be at least min_length and not zero",
            ));
        }
        if config.silence_timeout.is_some_and(|d| d.is_zero()) {
            return Err(Error::Setting(
                "recording: silence_timeout must not be zero",
            ));
        }
        let max_samples = to_samples(config.max_length);
        Ok(Recorder {
            listener: Listener::new(codec),
            samples: Vec::with_capacity(max_samples.min(60 * CLOCK_RATE as usize)),
            silent_tail: 0,
            max_samples,
            silence_samples: config.silence_timeout.map(to_samples),
            stopped: None,
            config,
        })
    }

    /// Records this tick's answer of the jitter buffer; the reason once stopped.
    pub fn push_playout(&mut self, playout: &Playout) -> Option<StopReason> {
        if self.stopped.is_none() {
            let mut frame = [0i16; FRAME_SAMPLES];
            self.listener.frame(playout, &mut frame);
            self.push_pcm(&frame);
        }
        self.stopped
    }

    /// Records one frame of PCM; the reason once stopped.
    pub fn push_pcm(&mut self, frame: &PcmFrame) -> Option<StopReason> {
        if self.stopped.is_some() {
            return self.stopped;
        }
        let room = self.max_samples.saturating_sub(self.samples.len());
        let part = &frame[..room.min(frame.len())];
        self.samples.extend_from_slice(part);
        if rms(part) < self.config.silence_threshold {
            self.silent_tail += part.len();
        } else {
            self.silent_tail = 0;
        }
        if self.samples.len() >= self.max_samples {
            self.stopped = Some(StopReason::MaxLength);
        } else if self.silence_samples.is_some_and(|s| self.silent_tail >= s) {
            self.stopped = Some(StopReason::Silence);
        }
        self.stopped
    }

    /// A DTMF digit from the caller; the stop digit ends the recording, others are ignored.
    pub fn digit(&mut self, digit: char) -> Option<StopReason> {
        let stop = self
            .config
            .stop_digit
            .is_some_and(|d| d.eq_ignore_ascii_case(&digit));
        if self.stopped.is_none() && stop {
            self.stopped = Some(StopReason::Digit(digit.to_ascii_uppercase()));
        }
        self.stopped
    }

    /// The caller hung up.
    pub fn hang_up(&mut self) {
        self.stopped.get_or_insert(StopReason::HangUp);
    }

    /// Why it stopped, once it has.
    pub fn stopped(&self) -> Option<StopReason> {
        self.stopped
    }

    /// Audio recorded so far, trailing silence included.
    pub fn recorded(&self) -> Duration {
        samples_duration(self.samples.len())
    }

    /// The outcome; a recorder still recording has been hung up on.
    pub fn finish(mut self) -> Recording {
        let reason = *self.stopped.get_or_insert(StopReason::HangUp);
        let kept = self.samples.len().saturating_sub(self.silent_tail);
        self.samples.truncate(kept);
        let duration = samples_duration(kept);
        if duration < self.config.min_length {
            return Recording::TooShort { duration, reason };
        }
        Recording::Message {
            wav: rtp::audio::wav::write(CLOCK_RATE, &self.samples),
            duration,
            reason,
        }
    }
}

#[cfg(test)]
mod tests;
