//! [`Flood`]: per-source request rate limits, Kamailio's `pike` module: each source's
//! requests are counted over a sliding window ([`Window`]); a source over `pike_requests`
//! in `pike_window` has its requests dropped for `pike_ban_time`, logged once per ban.
//!
//! What counts: every request that reaches the engine from the source, retransmissions,
//! in-dialog requests, ACKs and malformed messages included, as pike counts what the
//! script shows it; not responses (they answer our own requests, so refusing them fails
//! our transactions and keepalives) and not CRLF keepalives (the transport takes them).
//! Dropping, not answering, keeps a flood from making us a reflector.
//!
//! Memory is bounded: the counters and the bans are [`Table`]s of at most `max_sources`
//! entries, the oldest evicted first.

use std::net::IpAddr;
use std::time::Instant;

use super::table::Table;
use super::window::Window;
use super::GuardConfig;

/// Counters and bans (see the module docs).
#[derive(Debug)]
pub(crate) struct Flood {
    counts: Table<IpAddr, Window>,
    banned: Table<IpAddr, Instant>,
}

impl Flood {
    /// Room for `capacity` sources counted and as many banned.
    pub(crate) fn new(capacity: usize) -> Flood {
        Flood {
            counts: Table::new(capacity),
            banned: Table::new(capacity),
        }
    }

    /// Counts a request of `source` (a source key) at `now`; false when it is to be
    /// dropped. Logs the start of a ban.
    pub(crate) fn admit(&mut self, now: Instant, source: IpAddr, config: &GuardConfig) -> bool {
        if config.pike_requests == 0 {
            return true;
        }
        if let Some(until) = self.banned.get(&source) {
            if now < *until {
                return false;
            }
            self.banned.remove(&source);
        }
        let window = self.counts.entry(source, || Window::new(now));
        let requests = window.add(now, config.pike_window);
        if requests <= config.pike_requests {
            return true;
        }
        self.counts.remove(&source);
        *self.banned.entry(source, || now) = now + config.pike_ban_time;
        tracing::info!(
            source = %source,
            requests,
            window_ms = u64::try_from(config.pike_window.as_millis()).unwrap_or(u64::MAX),
            ban_secs = config.pike_ban_time.as_secs(),
            reason = "request flood",
            "source banned"
        );
        false
    }

    /// Forgets ended bans and decayed counts.
    pub(crate) fn purge(&mut self, now: Instant, config: &GuardConfig) {
        self.banned.retain(|_, until| now < *until);
        self.counts
            .retain(|_, w| !w.is_empty(now, config.pike_window));
    }

    /// Sources counted and banned.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.counts.len(), self.banned.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_dropped_then_forgiven() {
        let config = GuardConfig::default();
        let t = Instant::now();
        let mut f = Flood::new(1000);
        let src = IpAddr::from([203, 0, 113, 9]);
        let passed = (0..1000).filter(|_| f.admit(t, src, &config)).count();
        assert_eq!(passed, config.pike_requests as usize);
        assert!(!f.admit(
            t + config.pike_ban_time - Duration::from_millis(1),
            src,
            &config
        ));
        assert!(f.admit(t + config.pike_ban_time, src, &config));
    }

    #[test]
    fn a_steady_rate_under_the_limit_passes() {
        let config = GuardConfig::default();
        let t = Instant::now();
        let mut f = Flood::new(1000);
        let src = IpAddr::from([203, 0, 113, 9]);
        // 90 requests a second for five minutes: 180 per 2 s window, under 200.
        for i in 0..(90 * 300) {
            let at = t + Duration::from_micros(1_000_000 / 90 * i);
            assert!(f.admit(at, src, &config), "request {i}");
        }
    }

    #[test]
    fn memory_is_bounded_with_100k_sources() {
        let config = GuardConfig::default();
        let t = Instant::now();
        let mut f = Flood::new(10_000);
        for i in 0..100_000u32 {
            let src = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            for _ in 0..2 {
                f.admit(t, src, &config);
            }
        }
        assert_eq!(f.len(), (10_000, 0));
        f.purge(t + config.pike_window * 2, &config);
        assert_eq!(f.len(), (0, 0));
    }
}
