//! Concealment of lost frames: what [`Decoder::conceal`](super::Decoder::conceal) plays in
//! place of a frame that never arrived.

use super::gsm::FrameParameters;
use super::FRAME_SAMPLES;

/// Consecutive G.711 frames over which the repeated frame fades to silence (100 ms).
const G711_FADE_FRAMES: u32 = 5;

/// Consecutive GSM frames after which the output is muted (320 ms, as GSM 06.11 mutes).
const GSM_MUTE_FRAMES: u32 = 16;

/// Lowering of `xmaxc` per further lost GSM frame: 4 steps of its 3-bit mantissa scale,
/// about −3 dB a frame.
const GSM_XMAXC_STEP: u32 = 4;

/// What the decoder remembers to fill a gap.
#[derive(Debug, Clone)]
pub(super) struct Concealment {
    /// The last 160 samples decoded (G.711 repeats them).
    last_samples: [i16; FRAME_SAMPLES],
    /// Whether anything was decoded yet.
    received_any: bool,
    /// Frames concealed since the last received payload.
    lost: u32,
    /// The parameters of the last GSM frame received.
    pub(super) last_gsm_frame: Option<FrameParameters>,
}

impl Default for Concealment {
    fn default() -> Self {
        Self {
            last_samples: [0; FRAME_SAMPLES],
            received_any: false,
            lost: 0,
            last_gsm_frame: None,
        }
    }
}

impl Concealment {
    /// Notes decoded samples: they are the material of the next concealment.
    pub(super) fn received(&mut self, samples: &[i16]) {
        if samples.is_empty() {
            return;
        }
        self.received_any = true;
        self.lost = 0;
        if let Some(tail) = samples.len().checked_sub(FRAME_SAMPLES) {
            self.last_samples.copy_from_slice(&samples[tail..]);
        } else {
            self.last_samples.copy_within(samples.len().., 0);
            self.last_samples[FRAME_SAMPLES - samples.len()..].copy_from_slice(samples);
        }
    }

    /// Appends the last frame again with a linear fade that reaches silence after
    /// [`G711_FADE_FRAMES`] consecutive losses.
    pub(super) fn fade_last(&mut self, out: &mut Vec<i16>) {
        self.lost = self.lost.saturating_add(1);
        if !self.received_any || self.lost > G711_FADE_FRAMES {
            out.extend(std::iter::repeat_n(0, FRAME_SAMPLES));
            return;
        }
        let total = (G711_FADE_FRAMES as usize * FRAME_SAMPLES) as i32;
        let start = (self.lost as usize - 1) * FRAME_SAMPLES;
        out.extend(self.last_samples.iter().enumerate().map(|(i, &sample)| {
            let remaining = total - (start + i) as i32;
            (i32::from(sample) * remaining / total) as i16
        }));
    }

    /// The parameters to decode in place of a lost GSM frame: the last one received, its
    /// block maxima lowered by [`GSM_XMAXC_STEP`] for every loss after the first; `None`
    /// (silence) before any frame or after [`GSM_MUTE_FRAMES`] losses.
    pub(super) fn next_gsm_substitute(&mut self) -> Option<FrameParameters> {
        self.lost = self.lost.saturating_add(1);
        if self.lost > GSM_MUTE_FRAMES {
            return None;
        }
        let mut frame = self.last_gsm_frame?;
        let lowering = (self.lost - 1) * GSM_XMAXC_STEP;
        for subframe in &mut frame.subframes {
            let lowered = u32::from(subframe.xmaxc & 0x3F).saturating_sub(lowering);
            subframe.xmaxc = lowered as u8;
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_fade_repeats_then_reaches_silence() {
        let mut concealment = Concealment::default();
        let mut out = Vec::new();
        concealment.fade_last(&mut out);
        assert_eq!(out, vec![0; FRAME_SAMPLES], "nothing received yet: silence");

        concealment.received(&[1_000; 200]);
        out.clear();
        for _ in 0..G711_FADE_FRAMES + 1 {
            concealment.fade_last(&mut out);
        }
        assert_eq!(out.len(), (G711_FADE_FRAMES as usize + 1) * FRAME_SAMPLES);
        assert_eq!(out[0], 1_000);
        assert!(out.windows(2).all(|w| w[1] <= w[0]), "monotonic fade");
        let silent_from = G711_FADE_FRAMES as usize * FRAME_SAMPLES;
        assert!(out[silent_from - 1] < 10);
        assert!(out[silent_from..].iter().all(|&s| s == 0));

        // A received payload ends the concealment.
        concealment.received(&[500; 10]);
        out.clear();
        concealment.fade_last(&mut out);
        assert_eq!(out[0], 1_000, "older samples of the last 160 are kept");
        let total = G711_FADE_FRAMES as i32 * FRAME_SAMPLES as i32;
        let expected = 500 * (total - FRAME_SAMPLES as i32 + 1) / total;
        assert_eq!(
            i32::from(out[FRAME_SAMPLES - 1]),
            expected,
            "fading from the start"
        );
    }

    #[test]
    fn gsm_substitute_lowers_the_block_maxima_then_mutes() {
        let mut concealment = Concealment::default();
        assert_eq!(concealment.next_gsm_substitute(), None);
        let mut frame = FrameParameters::default();
        frame.subframes[0].xmaxc = 40;
        concealment.last_gsm_frame = Some(frame);
        concealment.received(&[1; FRAME_SAMPLES]);
        assert_eq!(
            concealment.next_gsm_substitute(),
            Some(frame),
            "first: a repeat"
        );
        let second = concealment.next_gsm_substitute();
        assert_eq!(second.map(|f| f.subframes[0].xmaxc), Some(36));
        for _ in 3..=GSM_MUTE_FRAMES {
            assert!(concealment.next_gsm_substitute().is_some());
        }
        assert_eq!(concealment.next_gsm_substitute(), None);
    }
}
