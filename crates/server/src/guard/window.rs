//! [`Window`]: a count of events over a sliding window of fixed length, in constant memory.
//!
//! Two buckets, the current and the previous window; the estimate weighs the previous one
//! by how much of it still lies within the sliding window (the approximation rate
//! limiters such as nginx's and Cloudflare's use). Counts decay by themselves as time
//! passes: nothing has to run to forget.

use std::time::{Duration, Instant};

/// Events in the last `length` (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// When the current bucket began.
    start: Instant,
    current: u32,
    previous: u32,
}

impl Window {
    /// An empty window starting at `now`.
    pub(crate) fn new(now: Instant) -> Window {
        Window {
            start: now,
            current: 0,
            previous: 0,
        }
    }

    /// Moves the buckets on to `now`.
    fn roll(&mut self, now: Instant, length: Duration) {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= length * 2 {
            *self = Window::new(now);
        } else if elapsed >= length {
            self.previous = self.current;
            self.current = 0;
            self.start += length;
        }
    }

    /// Counts one event at `now`; answers the estimate including it.
    pub(crate) fn add(&mut self, now: Instant, length: Duration) -> u32 {
        self.roll(now, length);
        self.current = self.current.saturating_add(1);
        self.estimate(now, length)
    }

    /// The events of the last `length` at `now` (the previous bucket weighed by its part
    /// still in the window).
    pub(crate) fn estimate(&self, now: Instant, length: Duration) -> u32 {
        let mut w = *self;
        w.roll(now, length);
        let length_ms = length.as_millis().max(1);
        let into = now
            .saturating_duration_since(w.start)
            .as_millis()
            .min(length_ms);
        let previous = u128::from(w.previous) * (length_ms - into) / length_ms;
        u32::try_from(previous)
            .unwrap_or(u32::MAX)
            .saturating_add(w.current)
    }

    /// Whether nothing is counted any more at `now`.
    pub(crate) fn is_empty(&self, now: Instant, length: Duration) -> bool {
        self.estimate(now, length) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_decay_over_two_windows() {
        let t = Instant::now();
        let len = Duration::from_secs(2);
        let mut w = Window::new(t);
        for _ in 0..100 {
            w.add(t, len);
        }
        assert_eq!(w.estimate(t, len), 100);
        assert_eq!(w.estimate(t + Duration::from_millis(1999), len), 100);
        // Half a window later the previous bucket counts half.
        assert_eq!(w.estimate(t + Duration::from_secs(3), len), 50);
        assert_eq!(w.estimate(t + Duration::from_secs(4), len), 0);
        assert!(w.is_empty(t + Duration::from_secs(60), len));
        assert_eq!(w.add(t + Duration::from_secs(3), len), 51);
    }
}
