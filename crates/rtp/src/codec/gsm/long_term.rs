//! Long-term (pitch) prediction, GSM 06.10 §4.2.11–4.2.12 and §4.3.2: the lag `Nc` and gain
//! `bc` that best predict a sub-frame of the short-term residual from the reconstructed
//! residual of the last 120 samples, the prediction error that goes on to the RPE coder, and
//! the decoder's synthesis filter that adds the prediction back.

use super::arith::{abs, add, l_add, l_mult, l_mult_sum, mult, mult_r, norm, sub};
use super::tables::{LTP_GAIN, LTP_GAIN_DECISION};
use super::SUBFRAME_SAMPLES;

/// Shortest LTP lag (GSM 06.10 §4.2.11).
pub(super) const MIN_LAG: u8 = 40;
/// Longest LTP lag.
pub(super) const MAX_LAG: u8 = 120;
/// Length of the reconstructed residual history the lags reach into.
pub(super) const HISTORY: usize = MAX_LAG as usize;

/// GSM 06.10 §4.2.11: the lag `Nc` (40..=120) maximising the cross-correlation of the
/// sub-frame `d` with the history `dp` (`dp[0]` is `dp[-120]`), and the coded gain `bc`
/// (0..=3).
pub(super) fn parameters(d: &[i16; SUBFRAME_SAMPLES], dp: &[i16; HISTORY]) -> (u8, u8) {
    // Scale d so that the 40-term cross-correlations fit 32 bits.
    let largest = d.iter().map(|&x| abs(x)).max().unwrap_or(0);
    let headroom = if largest == 0 {
        0
    } else {
        norm(i32::from(largest) << 16)
    };
    let scale = if headroom > 6 { 0 } else { sub(6, headroom) };
    let mut scaled = [0i16; SUBFRAME_SAMPLES];
    for (w, &x) in scaled.iter_mut().zip(d) {
        *w = x >> scale;
    }

    let mut best_lag = MIN_LAG;
    let mut best_correlation = 0i32;
    for lag in MIN_LAG..=MAX_LAG {
        // |w| <= 512 after the scaling: 40 products of at most 2^25 stay below 2^31.
        let past = &dp[HISTORY - usize::from(lag)..][..SUBFRAME_SAMPLES];
        let correlation = l_mult_sum(&scaled, past);
        if correlation > best_correlation {
            best_lag = lag;
            best_correlation = correlation;
        }
    }
    // Bring the correlation to the scale of the power below (dp >> 3, squared: 2^-6).
    let correlation = best_correlation >> sub(6, scale);

    let past = &dp[HISTORY - usize::from(best_lag)..];
    let mut power = 0i32;
    for &p in &past[..SUBFRAME_SAMPLES] {
        let w = p >> 3;
        power = l_add(power, l_mult(w, w));
    }

    // Coding of the gain: compare correlation / power with the decision levels.
    if correlation <= 0 {
        return (best_lag, 0);
    }
    if correlation >= power {
        return (best_lag, 3);
    }
    let shift = norm(power);
    let r = ((correlation << shift) >> 16) as i16;
    let s = ((power << shift) >> 16) as i16;
    let gain = LTP_GAIN_DECISION[..3]
        .iter()
        .position(|&level| r <= mult(s, level))
        .unwrap_or(3);
    (best_lag, gain as u8)
}

/// GSM 06.10 §4.2.12: the long-term prediction `dpp` of the sub-frame and the prediction
/// error `e = d - dpp`.
pub(super) fn analyse(
    lag: u8,
    gain: u8,
    d: &[i16; SUBFRAME_SAMPLES],
    dp: &[i16; HISTORY],
) -> ([i16; SUBFRAME_SAMPLES], [i16; SUBFRAME_SAMPLES]) {
    let quantized_gain = LTP_GAIN[usize::from(gain & 3)];
    let lag = usize::from(lag.clamp(MIN_LAG, MAX_LAG));
    let past = &dp[HISTORY - lag..];
    let mut prediction = [0i16; SUBFRAME_SAMPLES];
    let mut error = [0i16; SUBFRAME_SAMPLES];
    for k in 0..SUBFRAME_SAMPLES {
        prediction[k] = mult_r(quantized_gain, past[k]);
        error[k] = sub(d[k], prediction[k]);
    }
    (error, prediction)
}

/// Appends a reconstructed sub-frame to a residual history of 120 samples, dropping the
/// oldest 40 (GSM 06.10 §4.2.18 and the update at the end of §4.3.2).
pub(super) fn push_history(history: &mut [i16; HISTORY], subframe: &[i16; SUBFRAME_SAMPLES]) {
    history.copy_within(SUBFRAME_SAMPLES.., 0);
    history[HISTORY - SUBFRAME_SAMPLES..].copy_from_slice(subframe);
}

/// The decoder's long-term synthesis filter and its state (`drp[-120..-1]`, `nrp`).
#[derive(Debug, Clone)]
pub(super) struct SynthesisFilter {
    history: [i16; HISTORY],
    previous_lag: u8,
}

impl Default for SynthesisFilter {
    fn default() -> Self {
        Self {
            history: [0; HISTORY],
            previous_lag: MIN_LAG,
        }
    }
}

impl SynthesisFilter {
    /// GSM 06.10 §4.3.2: the reconstructed short-term residual `drp` of a sub-frame from its
    /// RPE excitation `erp`. A received lag outside 40..=120 (not produced by a conforming
    /// encoder) is replaced by the last valid one.
    pub(super) fn filter(
        &mut self,
        lag: u8,
        gain: u8,
        excitation: &[i16; SUBFRAME_SAMPLES],
    ) -> [i16; SUBFRAME_SAMPLES] {
        let lag = if (MIN_LAG..=MAX_LAG).contains(&lag) {
            lag
        } else {
            self.previous_lag
        };
        self.previous_lag = lag;
        let quantized_gain = LTP_GAIN[usize::from(gain & 3)];
        let past = &self.history[HISTORY - usize::from(lag)..];
        let mut residual = [0i16; SUBFRAME_SAMPLES];
        for k in 0..SUBFRAME_SAMPLES {
            residual[k] = add(excitation[k], mult_r(quantized_gain, past[k]));
        }
        push_history(&mut self.history, &residual);
        residual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pulse pairs every `period` samples, one of them at 130 (in the sub-frame after the
    /// 120 samples of history).
    fn pulse_train(period: usize) -> [i16; 200] {
        let phase = (period - 130 % period) % period;
        let mut signal = [0i16; 200];
        for (k, x) in signal.iter_mut().enumerate() {
            if (k + phase) % period == 0 {
                *x = 8_000;
            } else if (k + phase) % period == 1 {
                *x = -3_000;
            }
        }
        signal
    }

    #[test]
    fn finds_the_period_of_a_pulse_train() {
        for period in [41usize, 57, 80, 119] {
            let signal = pulse_train(period);
            let dp: [i16; HISTORY] = signal[..HISTORY].try_into().unwrap_or([0; HISTORY]);
            let d: [i16; SUBFRAME_SAMPLES] = signal[HISTORY..HISTORY + SUBFRAME_SAMPLES]
                .try_into()
                .unwrap_or([0; 40]);
            let (lag, gain) = parameters(&d, &dp);
            assert_eq!(usize::from(lag), period);
            assert_eq!(gain, 3, "a perfectly periodic signal has full gain");
            let (error, prediction) = analyse(lag, gain, &d, &dp);
            assert_eq!(prediction, d);
            assert_eq!(error, [0; SUBFRAME_SAMPLES]);
        }
    }

    #[test]
    fn silence_has_no_gain() {
        let (lag, gain) = parameters(&[0; SUBFRAME_SAMPLES], &[100; HISTORY]);
        assert_eq!((lag, gain), (MIN_LAG, 0));
    }

    #[test]
    fn synthesis_keeps_the_last_valid_lag() {
        let mut filter = SynthesisFilter::default();
        let mut impulse = [0i16; SUBFRAME_SAMPLES];
        impulse[0] = 10_000;
        filter.filter(50, 0, &impulse);
        // Lag 0 is invalid: the filter keeps 50 and echoes the impulse 50 samples later.
        let out = filter.filter(0, 3, &[0; SUBFRAME_SAMPLES]);
        assert_eq!(out[10], 10_000);
        assert_eq!(out.iter().filter(|&&x| x != 0).count(), 1);
    }
}
