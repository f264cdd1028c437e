//! Sample-rate conversion at any ratio (44.1 kHz → 8 kHz, 8 kHz → 48 kHz, 8 kHz → 11.025
//! kHz...), by band-limited interpolation with a windowed-sinc low-pass filter.
//!
//! Each output sample is the sum of the input samples around its position weighted by a
//! sinc whose cutoff is the Nyquist frequency of the lower of the two rates (the
//! anti-aliasing filter when going down, the anti-imaging filter when going up), shaped by a
//! Blackman window 28 zero crossings wide on each side: the passband is flat to about 90 %
//! of the lower Nyquist frequency, and what the filter lets alias lands above that, with the
//! stopband (from about 110 %) at least 70 dB down. The filter is symmetric, so the output
//! is not delayed. Positions are exact rationals: no drift over long signals.
//!
//! [`Resampler`] converts a stream in pieces; [`resample`] a whole signal.

use std::f64::consts::PI;

use crate::error::Error;

/// Zero crossings of the sinc on each side of the centre (at the lower rate).
const HALF_WIDTH: usize = 28;
/// Table points per zero crossing.
const OVERSAMPLE: usize = 256;

/// A streaming sample-rate converter.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input rate over output rate, reduced: output `n` sits at input position
    /// `n * step_num / step_den`.
    step_num: u64,
    step_den: u64,
    /// The filter's time scale: lower rate / input rate (1 when going up).
    scale: f64,
    /// Input samples either side of a position that the filter reaches.
    reach: usize,
    /// The windowed sinc at `x = i / OVERSAMPLE` zero crossings, `i` in
    /// `0..=HALF_WIDTH * OVERSAMPLE` (+1 guard point).
    table: Vec<f64>,
    /// Buffered input; `input[0]` is input sample number `offset`.
    input: Vec<f64>,
    offset: u64,
    /// Input samples taken so far.
    taken: u64,
    /// The next output sample's number.
    next_out: u64,
}

impl Resampler {
    /// A converter from `from` to `to` samples per second.
    pub fn new(from: u32, to: u32) -> Result<Self, Error> {
        if from == 0 || to == 0 {
            return Err(Error::SampleRate);
        }
        let g = gcd(u64::from(from), u64::from(to));
        let scale = f64::from(from.min(to)) / f64::from(from);
        let reach = (HALF_WIDTH as f64 / scale).ceil() as usize + 1;
        let table = (0..=HALF_WIDTH * OVERSAMPLE + 1)
            .map(|i| kernel(i as f64 / OVERSAMPLE as f64))
            .collect();
        Ok(Resampler {
            step_num: u64::from(from) / g,
            step_den: u64::from(to) / g,
            scale,
            reach,
            table,
            input: Vec::new(),
            offset: 0,
            taken: 0,
            next_out: 0,
        })
    }

    /// Takes input samples and returns the output samples they complete.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        self.input.extend(input.iter().map(|&s| f64::from(s)));
        self.taken += input.len() as u64;
        let mut out = Vec::with_capacity(
            (input.len() as u64 * self.step_den / self.step_num.max(1)) as usize + 1,
        );
        self.emit(self.taken, &mut out);
        self.trim();
        out
    }

    /// Ends the stream: the remaining output samples, computed as if silence followed.
    /// The whole output has `ceil(inputs * to / from)` samples.
    pub fn finish(&mut self) -> Vec<i16> {
        let total_out = (self.taken * self.step_den).div_ceil(self.step_num);
        let mut out = Vec::new();
        while self.next_out < total_out {
            let sample = self.output_sample(self.next_out);
            out.push(sample);
            self.next_out += 1;
        }
        self.input.clear();
        self.offset = self.taken;
        out
    }

    /// Emits every output whose filter window lies within the first `available` inputs.
    fn emit(&mut self, available: u64, out: &mut Vec<i16>) {
        loop {
            let centre = self.next_out * self.step_num / self.step_den;
            if centre + self.reach as u64 >= available {
                break;
            }
            out.push(self.output_sample(self.next_out));
            self.next_out += 1;
        }
    }

    /// Output sample `n`, from the buffered input (zeros outside it).
    fn output_sample(&self, n: u64) -> i16 {
        let whole = n * self.step_num / self.step_den;
        let frac = (n * self.step_num % self.step_den) as f64 / self.step_den as f64;
        let first = whole.saturating_sub(self.reach as u64).max(self.offset);
        let last = (whole + self.reach as u64 + 1).min(self.offset + self.input.len() as u64);
        let mut acc = 0.0;
        for i in first..last {
            let distance = (i as f64 - whole as f64 - frac).abs() * self.scale;
            if let Some(&x) = self.input.get((i - self.offset) as usize) {
                acc += x * self.weight(distance);
            }
        }
        (acc * self.scale).round().clamp(-32_768.0, 32_767.0) as i16
    }

    /// The kernel at `distance` zero crossings, linearly interpolated from the table.
    fn weight(&self, distance: f64) -> f64 {
        let pos = distance * OVERSAMPLE as f64;
        let i = pos as usize;
        let (Some(&a), Some(&b)) = (self.table.get(i), self.table.get(i + 1)) else {
            return 0.0;
        };
        a + (b - a) * (pos - i as f64)
    }

    /// Drops input no future output reaches.
    fn trim(&mut self) {
        let centre = self.next_out * self.step_num / self.step_den;
        let keep_from = centre.saturating_sub(self.reach as u64);
        if keep_from > self.offset {
            let drop = ((keep_from - self.offset) as usize).min(self.input.len());
            self.input.drain(..drop);
            self.offset += drop as u64;
        }
    }
}

/// The Blackman-windowed sinc at `x` zero crossings from its centre.
fn kernel(x: f64) -> f64 {
    let half = HALF_WIDTH as f64;
    if x >= half {
        return 0.0;
    }
    let sinc = if x == 0.0 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    };
    // Blackman over [-half, half], centred.
    let t = PI * x / half;
    let window = 0.42 + 0.5 * t.cos() + 0.08 * (2.0 * t).cos();
    sinc * window
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Converts a whole signal from `from` to `to` samples per second; the output has
/// `ceil(len * to / from)` samples. Equal rates return the input.
pub fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>, Error> {
    if from == to && from != 0 {
        return Ok(samples.to_vec());
    }
    let mut r = Resampler::new(from, to)?;
    let mut out = r.process(samples);
    out.extend(r.finish());
    Ok(out)
}

#[cfg(test)]
mod tests;
