//! [`Histogram`]: a Prometheus histogram of durations in fixed buckets, atomics only, so
//! the thread that observes never waits for the one that scrapes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket bounds (seconds) for store commits: half a millisecond (a batch in SQLite's
/// page cache) to 2.5 s (a disk that stalls).
pub(crate) const COMMIT_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Bucket bounds for the estimated MOS of a call side (1 to 4.5; 4.3 and above is what
/// G.711 gives without impairment, under 3.6 most users are dissatisfied: G.107 Annex B).
pub(crate) const MOS_BOUNDS: &[f64] = &[1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.3, 4.4, 4.5];

/// Counts of observations per bucket (not cumulative; [`super::text`] adds them up),
/// their number and their sum in nanoseconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A reading of a [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    /// Upper bounds, seconds, ascending.
    pub(crate) bounds: &'static [f64],
    /// Observations per bucket (at most its bound, above the previous one).
    pub(crate) counts: Vec<u64>,
    /// All observations, the ones above the last bound included.
    pub(crate) count: u64,
    /// Their sum.
    pub(crate) sum_seconds: f64,
}

impl Histogram {
    /// An empty histogram with these bucket bounds (seconds, ascending).
    pub(crate) fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Counts one duration.
    pub(crate) fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|&b| seconds <= b) {
            if let Some(c) = self.counts.get(i) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one plain value (a MOS), kept like a duration of that many seconds so the
    /// sum stays exact to the nanounit.
    pub(crate) fn observe_value(&self, value: f64) {
        if value.is_finite() && value >= 0.0 {
            self.observe(Duration::from_secs_f64(value));
        }
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_the_first_bucket_they_fit() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3));
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 1]);
        assert_eq!(s.count, 4);
        assert!((s.sum_seconds - 3.0065).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
