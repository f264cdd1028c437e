//! An adaptive jitter buffer for one audio stream: packets go in as they arrive
//! ([`JitterBuffer::push`]), one frame comes out per playout tick ([`JitterBuffer::pop`]).
//!
//! Frames are keyed by their RTP timestamp (extended past wrap-around), so telephone-event
//! packets sharing the sequence space, and silence suppression, leave no false gaps; the
//! sequence number serves to tell a restarted stream from a late or reordered packet.
//!
//! How it plays out:
//! - **Priming**: after silence (or at the start) playout begins once the first packet has
//!   waited the target delay.
//! - **Each tick** plays the frame whose slot is due. A slot with no frame while later frames
//!   wait is reported [`Playout::Missing`] (lost or late: the caller conceals it) and skipped.
//! - **Underrun**: with nothing buffered the tick is [`Playout::Missing`] and the slot is
//!   kept, so a packet that is merely late still plays, one tick later: the delay grows by a
//!   frame. When the next frame finally arrives further on (a loss, or silence suppression),
//!   the ticks already concealed count against the gap. After `max_delay` of underrun the
//!   buffer goes idle ([`Playout::Nothing`]) and primes again on the next packet.
//! - **Target delay**: the spread (max − min) of the packets' transit times over the last
//!   `window` packets, plus 5 ms, rounded up to whole frames and kept between `min_delay`
//!   and `max_delay`. When the buffer has held more than the target plus one frame for
//!   every tick of the last half second, one frame is dropped to shrink the delay.
//! - **Late** packets (their slot already played or skipped) are dropped and counted;
//!   **duplicates** likewise. A packet whose sequence number or timestamp is far from the
//!   stream's (a restart with a new sequence or timestamp base) is held aside; if the next
//!   packet continues it, the buffer resets to the new stream, otherwise it was a stray.
//!   [`JitterBuffer::reset`] is for the caller to call when the SSRC changes.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Sequence numbers further ahead than this are a restart or a stray, not a loss.
const MAX_SEQUENCE_AHEAD: i64 = 3000;
/// Sequence numbers further behind than this are a restart or a stray, not a late packet.
const MAX_SEQUENCE_BEHIND: i64 = 1000;
/// Timestamps further behind their sequence number's expectation than this are a restart.
const MAX_TIMESTAMP_BEHIND: Duration = Duration::from_secs(1);
/// Timestamps further ahead than this (longer than any silence) are a restart.
const MAX_TIMESTAMP_AHEAD: Duration = Duration::from_secs(30);
/// Margin added to the measured transit spread.
const SAFETY_MARGIN: Duration = Duration::from_millis(5);
/// Ticks the buffer must stay too full before a frame is dropped.
const SHRINK_AFTER: Duration = Duration::from_millis(500);

/// How the buffer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// The RTP clock rate of the stream.
    pub clock_rate: u32,
    /// The length of one frame (one packet) and the playout tick.
    pub frame_duration: Duration,
    /// The smallest target delay.
    pub min_delay: Duration,
    /// The largest target delay; also what the buffer holds at most, and how long it
    /// conceals an underrun before going idle.
    pub max_delay: Duration,
    /// Packets over which the transit spread is measured.
    pub window: usize,
}

impl Default for JitterConfig {
    /// 8 kHz, 20 ms frames, target delay between 20 and 200 ms, measured over 100 packets.
    fn default() -> Self {
        JitterConfig {
            clock_rate: 8000,
            frame_duration: Duration::from_millis(20),
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            window: 100,
        }
    }
}

/// One frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The packet's sequence number.
    pub sequence: u16,
    /// The packet's RTP timestamp.
    pub timestamp: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// What a playout tick gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The frame for this tick.
    Frame(Frame),
    /// This tick's frame is lost or late: conceal it.
    Missing,
    /// Nothing to play: not started, priming, or idle after the stream stopped.
    Nothing,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered.
    Accepted,
    /// Already buffered: dropped.
    Duplicate,
    /// Its slot was already played or skipped: dropped.
    Late,
    /// Far from the stream's sequence or timestamp: held aside in case it starts a new
    /// stream.
    Stray,
    /// It continued a stray packet: the buffer restarted with both.
    Reset,
}

/// Counters for the call report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Packets pushed.
    pub pushed: u64,
    /// Frames played.
    pub played: u64,
    /// Ticks reported missing (concealed).
    pub missing: u64,
    /// Packets dropped for arriving after their slot.
    pub late: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Frames dropped because the buffer was full.
    pub overflow: u64,
    /// Frames dropped to shrink the delay.
    pub shrunk: u64,
    /// Stray packets (far from the stream) dropped.
    pub strays: u64,
    /// Restarts: detected new streams and calls of [`JitterBuffer::reset`].
    pub resets: u64,
}

/// The stream's latest packet, the base for extending timestamps.
#[derive(Debug, Clone, Copy)]
struct Reference {
    sequence: u16,
    timestamp: u32,
    extended: i64,
}

/// The adaptive jitter buffer. Sans-IO: the caller passes the time of each arrival and each
/// tick.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    /// Timestamp units per frame.
    frame_units: i64,
    frames: BTreeMap<i64, Frame>,
    reference: Option<Reference>,
    stray: Option<Frame>,
    playing: bool,
    /// The slot of the next frame to play, once anything has played.
    next_slot: Option<i64>,
    /// First arrival since idle: priming starts from it.
    priming_since: Option<Instant>,
    /// Consecutive ticks concealed with nothing buffered.
    underruns: u32,
    /// Consecutive ticks with more than the target plus a frame buffered.
    too_full_ticks: u32,
    epoch: Option<Instant>,
    transits: VecDeque<i64>,
    target: Duration,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer. Out-of-range settings are brought into range: the frame duration
    /// to 1 ms–1 s, the maximum delay to at most 60 s, the minimum to at most the maximum.
    pub fn new(config: JitterConfig) -> Self {
        let clock_rate = config.clock_rate.max(1);
        let frame_duration = config
            .frame_duration
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        let max_delay = config.max_delay.min(Duration::from_secs(60));
        let min_delay = config.min_delay.min(max_delay);
        let frame_units = duration_units(frame_duration, clock_rate).max(1);
        let target = min_delay;
        JitterBuffer {
            config: JitterConfig {
                clock_rate,
                frame_duration,
                min_delay,
                max_delay,
                ..config
            },
            frame_units,
            frames: BTreeMap::new(),
            reference: None,
            stray: None,
            playing: false,
            next_slot: None,
            priming_since: None,
            underruns: 0,
            too_full_ticks: 0,
            epoch: None,
            transits: VecDeque::with_capacity(config.window.max(1)),
            target,
            stats: JitterStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    /// Takes a packet that arrived at `now`.
    pub fn push(
        &mut self,
        now: Instant,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
    ) -> PushOutcome {
        self.stats.pushed += 1;
        let frame = Frame {
            sequence,
            timestamp,
            payload: payload.to_vec(),
        };
        let Some(reference) = self.reference else {
            self.start_stream(now, None, frame);
            return PushOutcome::Accepted;
        };
        let seq_delta = i64::from(sequence.wrapping_sub(reference.sequence) as i16);
        let extended =
            reference.extended + i64::from(timestamp.wrapping_sub(reference.timestamp) as i32);
        let deviation = extended - (reference.extended + seq_delta * self.frame_units);
        let units = |d: Duration| duration_units(d, self.config.clock_rate);
        let far = !(-MAX_SEQUENCE_BEHIND..=MAX_SEQUENCE_AHEAD).contains(&seq_delta)
            || deviation < -units(MAX_TIMESTAMP_BEHIND)
            || deviation > units(MAX_TIMESTAMP_AHEAD);
        if far {
            if let Some(stray) = self.stray.take() {
                let continues = sequence == stray.sequence.wrapping_add(1)
                    && i64::from(timestamp.wrapping_sub(stray.timestamp))
                        <= units(MAX_TIMESTAMP_BEHIND);
                if continues {
                    self.stats.resets += 1;
                    self.clear();
                    self.start_stream(now, Some(stray), frame);
                    return PushOutcome::Reset;
                }
            }
            self.stats.strays += 1;
            self.stray = Some(frame);
            return PushOutcome::Stray;
        }
        self.stray = None;
        if !self.frames.contains_key(&extended) {
            // Late packets are the ones the target delay must learn from.
            self.measure(now, extended);
        }
        if self.next_slot.is_some_and(|next| extended < next) {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        if self.frames.contains_key(&extended) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if seq_delta > 0 {
            self.reference = Some(Reference {
                sequence,
                timestamp,
                extended,
            });
        }
        self.insert(now, extended, frame);
        PushOutcome::Accepted
    }

    /// Starts a new stream with `first` (and `second`, when a stray was confirmed).
    fn start_stream(&mut self, now: Instant, first: Option<Frame>, last: Frame) {
        let mut reference = Reference {
            sequence: last.sequence,
            timestamp: last.timestamp,
            extended: 0,
        };
        if let Some(first) = first {
            let extended = -i64::from(last.timestamp.wrapping_sub(first.timestamp) as i32);
            reference = Reference {
                sequence: first.sequence,
                timestamp: first.timestamp,
                extended,
            };
            self.reference = Some(reference);
            self.measure(now, extended);
            self.insert(now, extended, first);
            reference = Reference {
                sequence: last.sequence,
                timestamp: last.timestamp,
                extended: 0,
            };
        }
        self.reference = Some(reference);
        self.measure(now, 0);
        self.insert(now, 0, last);
    }

    /// Buffers a frame and enforces the capacity.
    fn insert(&mut self, now: Instant, extended: i64, frame: Frame) {
        self.frames.insert(extended, frame);
        if !self.playing && self.priming_since.is_none() {
            self.priming_since = Some(now);
        }
        let capacity = self.frames_in(self.config.max_delay) + 2;
        while self.frames.len() > capacity {
            let Some((oldest, _)) = self.frames.pop_first() else {
                break;
            };
            self.stats.overflow += 1;
            if self.playing {
                self.next_slot = Some(oldest + self.frame_units);
            }
        }
    }

    /// Records a packet's transit time and updates the target delay.
    fn measure(&mut self, now: Instant, extended: i64) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = duration_units(now.saturating_duration_since(epoch), self.config.clock_rate);
        if self.transits.len() >= self.config.window.max(1) {
            self.transits.pop_front();
        }
        self.transits.push_back(arrival - extended);
        let (min, max) = self
            .transits
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        let spread = units_duration((max - min).max(0), self.config.clock_rate);
        let frames = self.frames_in(spread.saturating_add(SAFETY_MARGIN)).max(1);
        let wanted = u32::try_from(frames)
            .ok()
            .and_then(|n| self.config.frame_duration.checked_mul(n))
            .unwrap_or(self.config.max_delay);
        self.target = wanted.clamp(self.config.min_delay, self.config.max_delay);
    }

    /// Whole frames needed to cover `d` (rounded up).
    fn frames_in(&self, d: Duration) -> usize {
        let frame = self.config.frame_duration.as_nanos().max(1);
        d.as_nanos().div_ceil(frame) as usize
    }

    /// The playout tick at `now`: the frame to play, or what to do instead.
    pub fn pop(&mut self, now: Instant) -> Playout {
        if !self.playing {
            let primed = self
                .priming_since
                .is_some_and(|since| now >= since + self.target);
            let Some(&first) = self.frames.keys().next() else {
                return Playout::Nothing;
            };
            if !primed {
                return Playout::Nothing;
            }
            self.playing = true;
            self.next_slot = Some(first);
            self.underruns = 0;
            self.too_full_ticks = 0;
        }
        let next = self.next_slot.unwrap_or_default();
        let Some(&key) = self.frames.keys().next() else {
            return self.underrun();
        };
        let mut slot = next;
        if key >= next + self.frame_units {
            // Nothing for this slot but later frames wait. Ticks already concealed while
            // empty stand for slots of the gap.
            let gap_slots = (key - next) / self.frame_units;
            let concealed = i64::from(self.underruns).min(gap_slots);
            slot += concealed * self.frame_units;
            self.underruns = 0;
            if key >= slot + self.frame_units {
                self.next_slot = Some(slot + self.frame_units);
                self.stats.missing += 1;
                return Playout::Missing;
            }
        }
        self.underruns = 0;
        let key = self.shrink(key);
        match self.frames.remove(&key) {
            Some(frame) => {
                self.next_slot = Some(key.max(slot) + self.frame_units);
                self.stats.played += 1;
                Playout::Frame(frame)
            }
            None => Playout::Nothing,
        }
    }

    /// A tick with nothing buffered.
    fn underrun(&mut self) -> Playout {
        self.underruns += 1;
        if self.underruns as usize > self.frames_in(self.config.max_delay) {
            self.playing = false;
            self.priming_since = None;
            self.underruns = 0;
            return Playout::Nothing;
        }
        self.stats.missing += 1;
        Playout::Missing
    }

    /// Drops the frame about to play when the buffer has held too much for a while; returns
    /// the key of the frame to play.
    fn shrink(&mut self, key: i64) -> i64 {
        let Some(&last) = self.frames.keys().next_back() else {
            return key;
        };
        let buffered = units_duration(last + self.frame_units - key, self.config.clock_rate);
        if buffered > self.target + self.config.frame_duration {
            self.too_full_ticks += 1;
        } else {
            self.too_full_ticks = 0;
        }
        if self.too_full_ticks as usize >= self.frames_in(SHRINK_AFTER) && self.frames.len() > 1 {
            self.too_full_ticks = 0;
            self.frames.remove(&key);
            self.stats.shrunk += 1;
            return self.frames.keys().next().copied().unwrap_or(key);
        }
        key
    }

    /// Forgets the stream (the caller saw a new SSRC); counters stay.
    pub fn reset(&mut self) {
        self.stats.resets += 1;
        self.clear();
    }

    fn clear(&mut self) {
        self.frames.clear();
        self.reference = None;
        self.stray = None;
        self.playing = false;
        self.next_slot = None;
        self.priming_since = None;
        self.underruns = 0;
        self.too_full_ticks = 0;
        self.epoch = None;
        self.transits.clear();
    }

    /// The current target delay.
    pub fn target_delay(&self) -> Duration {
        self.target
    }

    /// Audio buffered ahead of the next tick.
    pub fn buffered(&self) -> Duration {
        match (
            self.frames.keys().next_back(),
            self.next_slot,
            self.frames.keys().next(),
        ) {
            (Some(&last), Some(next), _) if self.playing => units_duration(
                (last + self.frame_units - next).max(0),
                self.config.clock_rate,
            ),
            (Some(&last), _, Some(&first)) => {
                units_duration(last + self.frame_units - first, self.config.clock_rate)
            }
            _ => Duration::ZERO,
        }
    }

    /// Whether playout is running (not priming or idle).
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// The counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }
}

/// A duration in timestamp units.
fn duration_units(d: Duration, clock_rate: u32) -> i64 {
    (d.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as i64
}

/// Timestamp units (non-negative) as a duration.
fn units_duration(units: i64, clock_rate: u32) -> Duration {
    let units = u64::try_from(units).unwrap_or(0);
    Duration::from_nanos(units.saturating_mul(1_000_000_000) / u64::from(clock_rate.max(1)))
}

#[cfg(test)]
mod tests;
