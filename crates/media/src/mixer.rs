//! The conference mixer: each participant hears the sum of everyone else, not themselves.
//!
//! Per tick, each participant's frame is pushed (decoded with their own codec by their own
//! [`crate::Listener`]; a participant without a frame this tick is silent), [`Mixer::mix`]
//! adds them once in 32 bits (50 full-scale inputs cannot overflow it) and each output is
//! the total less the participant's own input, saturated to 16 bits: a loud room clips
//! instead of wrapping around into noise. The cost is two passes over the participants per
//! tick, whatever their number. Muted participants hear the room and add nothing to it.

use rtp::codec::FRAME_SAMPLES;

use crate::PcmFrame;

/// A participant of one [`Mixer`], never reused within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(u32);

#[derive(Debug, Clone)]
struct Slot {
    id: ParticipantId,
    input: PcmFrame,
    has_input: bool,
    muted: bool,
    output: PcmFrame,
}

/// Mixes a room.
#[derive(Debug, Clone, Default)]
pub struct Mixer {
    slots: Vec<Slot>,
    next: u32,
}

impl Mixer {
    /// An empty room.
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// A new participant, hearing the room from the next mix on.
    pub fn add(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next);
        self.next = self.next.wrapping_add(1);
        self.slots.push(Slot {
            id,
            input: [0; FRAME_SAMPLES],
            has_input: false,
            muted: false,
            output: [0; FRAME_SAMPLES],
        });
        id
    }

    /// Removes a participant; `false` if unknown.
    pub fn remove(&mut self, id: ParticipantId) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| s.id != id);
        self.slots.len() != before
    }

    /// Participants in the room.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The participants, in the order they joined.
    pub fn participants(&self) -> impl Iterator<Item = ParticipantId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// Mutes or unmutes a participant; `false` if unknown.
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> bool {
        self.slot(id).map(|s| s.muted = muted).is_some()
    }

    /// Whether a participant is muted (`None` if unknown).
    pub fn is_muted(&self, id: ParticipantId) -> Option<bool> {
        self.slots.iter().find(|s| s.id == id).map(|s| s.muted)
    }

    /// A participant's frame for this tick; `false` if unknown.
    pub fn push(&mut self, id: ParticipantId, frame: &PcmFrame) -> bool {
        self.slot(id)
            .map(|s| {
                s.input = *frame;
                s.has_input = true;
            })
            .is_some()
    }

    /// Mixes this tick: every output is the others' inputs; inputs are then cleared.
    pub fn mix(&mut self) {
        let mut total = [0i32; FRAME_SAMPLES];
        for slot in self.slots.iter().filter(|s| s.has_input && !s.muted) {
            for (t, &x) in total.iter_mut().zip(&slot.input) {
                *t += i32::from(x);
            }
        }
        for slot in &mut self.slots {
            let own = slot.has_input && !slot.muted;
            for ((out, &t), &x) in slot.output.iter_mut().zip(&total).zip(&slot.input) {
                let others = if own { t - i32::from(x) } else { t };
                *out = others.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
            slot.has_input = false;
        }
    }

    /// What a participant hears from the last mix (`None` if unknown).
    pub fn output(&self, id: ParticipantId) -> Option<&PcmFrame> {
        self.slots.iter().find(|s| s.id == id).map(|s| &s.output)
    }

    fn slot(&mut self, id: ParticipantId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use rtp::audio::goertzel::tone_amplitude;
    use rtp::audio::tone::Tone;

    use super::*;

    #[test]
    fn each_participant_hears_the_others_and_not_themselves() {
        let mut mixer = Mixer::new();
        let freqs = [500.0, 700.0, 900.0];
        let ids: Vec<_> = freqs.iter().map(|_| mixer.add()).collect();
        let mut tones: Vec<_> = freqs.iter().map(|&f| Tone::new(f, 6000.0, 8000)).collect();
        let mut heard = vec![Vec::new(); 3];
        for _ in 0..50 {
            for (id, tone) in ids.iter().zip(&mut tones) {
                let mut frame = [0i16; FRAME_SAMPLES];
                tone.fill(&mut frame);
                assert!(mixer.push(*id, &frame));
            }
            mixer.mix();
            for (id, h) in ids.iter().zip(&mut heard) {
                h.extend_from_slice(mixer.output(*id).unwrap());
            }
        }
        for (i, h) in heard.iter().enumerate() {
            for (j, &f) in freqs.iter().enumerate() {
                let level = tone_amplitude(h, f, 8000);
                if i == j {
                    assert!(
                        level < 1.0,
                        "participant {i} hears their own {f} Hz: {level}"
                    );
                } else {
                    assert!(
                        (level - 6000.0).abs() < 10.0,
                        "participant {i}, {f} Hz: {level}"
                    );
                }
            }
        }
    }

    #[test]
    fn loud_sums_saturate_instead_of_wrapping() {
        let mut mixer = Mixer::new();
        let ids: Vec<_> = (0..4).map(|_| mixer.add()).collect();
        for &id in &ids[..3] {
            mixer.push(id, &[30_000; FRAME_SAMPLES]);
        }
        mixer.push(ids[3], &[-30_000; FRAME_SAMPLES]);
        mixer.mix();
        // The listener of 3 loud inputs: 90,000 clipped.
        assert_eq!(mixer.output(ids[3]).unwrap()[0], i16::MAX);
        // 30,000 + 30,000 - 30,000.
        assert_eq!(mixer.output(ids[0]).unwrap()[0], 30_000);
        for &id in &ids {
            mixer.push(id, &[-32_768; FRAME_SAMPLES]);
        }
        mixer.mix();
        assert_eq!(mixer.output(ids[0]).unwrap()[0], i16::MIN);
    }

    #[test]
    fn silent_muted_and_departed_participants() {
        let mut mixer = Mixer::new();
        let (a, b, c) = (mixer.add(), mixer.add(), mixer.add());
        mixer.push(a, &[100; FRAME_SAMPLES]);
        mixer.push(b, &[10; FRAME_SAMPLES]);
        assert!(mixer.set_muted(b, true));
        assert_eq!(mixer.is_muted(b), Some(true));
        mixer.mix();
        // c sent nothing this tick: silent, hears a only (b is muted).
        assert_eq!(mixer.output(c).unwrap()[0], 100);
        assert_eq!(mixer.output(b).unwrap()[0], 100, "muted b still hears");
        assert_eq!(mixer.output(a).unwrap()[0], 0);
        // Inputs do not linger into the next tick.
        mixer.mix();
        assert_eq!(mixer.output(c).unwrap()[0], 0);
        assert!(mixer.remove(a));
        assert!(!mixer.remove(a));
        assert!(!mixer.push(a, &[1; FRAME_SAMPLES]));
        assert_eq!(mixer.output(a), None);
        assert_eq!(mixer.participants().collect::<Vec<_>>(), [b, c]);
        assert_eq!(mixer.len(), 2);
        let d = mixer.add();
        assert!(d != a && d != b && d != c, "ids are not reused");
    }
}
