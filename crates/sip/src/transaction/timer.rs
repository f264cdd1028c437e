//! Timer values (RFC 3261 §17.1.1.1, §17.1.2.1, §17.2.1, §17.2.2 and Table 4 of appendix A;
//! RFC 6026 §8.11 for Timers L and M) and the per-transaction timer slots.

use std::time::{Duration, Instant};

/// The base timer values every transaction timer is derived from (RFC 3261 Table 4).
///
/// | timer | value | meaning |
/// |---|---|---|
/// | A | `T1`, doubling | INVITE request retransmission (unreliable transport only) |
/// | B | `64*T1` | INVITE transaction timeout (client) |
/// | D | [`TimerConfig::timer_d`] (≥ 32 s), 0 on reliable | wait for response retransmissions |
/// | E | `T1`, doubling up to `T2`; `T2` once provisional | non-INVITE retransmission |
/// | F | `64*T1` | non-INVITE transaction timeout (client) |
/// | G | `T1`, doubling up to `T2` | INVITE final response retransmission (server) |
/// | H | `64*T1` | wait for ACK receipt (server) |
/// | I | `T4`, 0 on reliable | wait for ACK retransmissions (server) |
/// | J | `64*T1`, 0 on reliable | wait for non-INVITE request retransmissions (server) |
/// | K | `T4`, 0 on reliable | wait for non-INVITE response retransmissions (client) |
/// | L | `64*T1` | RFC 6026: wait for accepted INVITE request retransmissions (server) |
/// | M | `64*T1` | RFC 6026: wait for retransmitted or forked 2xx (client) |
///
/// Timer C (proxy INVITE transaction, §16.6 step 11) belongs to the proxy core, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default (RFC 3261 §17.1.1.1).
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses, 4 s by
    /// default.
    pub t2: Duration,
    /// Maximum time a message can stay in the network, 5 s by default.
    pub t4: Duration,
    /// Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2), 32 s by default.
    pub timer_d: Duration,
    /// How late the absorbing timers (D, I, J, K, L, M: their end only forgets the
    /// transaction, see [`Timer::absorbs`]) may fire. The layer schedules them on a grid of
    /// this step, so that the transactions of one step end in one wake-up of the caller's
    /// timer loop instead of one each; meanwhile they go on absorbing retransmissions, as
    /// the RFC asks of them. Zero (the default): every timer fires at its deadline.
    pub absorb_slack: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            absorb_slack: Duration::ZERO,
        }
    }
}

impl TimerConfig {
    /// `64*T1`: the value of Timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// The duration of `timer` for a transaction on a reliable or unreliable transport.
    ///
    /// Retransmission timers (A, E, G) give their *initial* interval, `T1`; they are never
    /// started on reliable transports (§17.1.1.2, §17.1.2.2, §17.2.1).
    pub fn duration(&self, timer: Timer, reliable: bool) -> Duration {
        match timer {
            Timer::A | Timer::E | Timer::G => self.t1,
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => self.t1_x64(),
            Timer::D if reliable => Duration::ZERO,
            Timer::D => self.timer_d,
            Timer::I | Timer::J | Timer::K if reliable => Duration::ZERO,
            Timer::I | Timer::K => self.t4,
            Timer::J => self.t1_x64(),
        }
    }
}

/// The transaction timers of RFC 3261 §17 and RFC 6026, named as in the RFCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE client: request retransmission (§17.1.1.2).
    A,
    /// INVITE client: transaction timeout (§17.1.1.2).
    B,
    /// INVITE client: response retransmission absorption in Completed (§17.1.1.2).
    D,
    /// Non-INVITE client: request retransmission (§17.1.2.2).
    E,
    /// Non-INVITE client: transaction timeout (§17.1.2.2).
    F,
    /// INVITE server: final response retransmission (§17.2.1).
    G,
    /// INVITE server: ACK wait timeout (§17.2.1).
    H,
    /// INVITE server: ACK retransmission absorption in Confirmed (§17.2.1).
    I,
    /// Non-INVITE server: request retransmission absorption in Completed (§17.2.2).
    J,
    /// Non-INVITE client: response retransmission absorption in Completed (§17.1.2.2).
    K,
    /// INVITE server: Accepted state lifetime (RFC 6026 §7.1).
    L,
    /// INVITE client: Accepted state lifetime (RFC 6026 §7.2).
    M,
}

impl Timer {
    /// Whether this timer only absorbs retransmissions: when it ends, the transaction is
    /// forgotten, nothing is sent and the TU only learns that it terminated (D, I, J, K,
    /// L, M). Firing it late keeps absorbing a little longer; the timeouts (B, F, H) and
    /// retransmissions (A, E, G) must fire on time.
    pub fn absorbs(self) -> bool {
        matches!(
            self,
            Timer::D | Timer::I | Timer::J | Timer::K | Timer::L | Timer::M
        )
    }
}

/// `now + d`, saturating far in the future instead of panicking on overflow.
pub(super) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

/// The two timer slots a transaction needs at most: one retransmission timer (A, E or G)
/// and one timer ending the current state (B, D, F, H, I, J, K, L or M).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers {
    /// Retransmission timer: which, when it fires next, and the interval it was set with.
    pub(super) retransmit: Option<(Timer, Instant, Duration)>,
    /// The timer ending the current state.
    pub(super) end: Option<(Timer, Instant)>,
}

impl Timers {
    /// The earliest deadline, and whether only an absorbing timer ([`Timer::absorbs`]) is
    /// due then.
    pub(super) fn next_deadline(&self) -> Option<(Instant, bool)> {
        let r = self.retransmit.map(|(_, at, _)| at);
        match (self.end, r) {
            (Some((t, e)), Some(r)) if e < r => Some((e, t.absorbs())),
            (Some((t, e)), None) => Some((e, t.absorbs())),
            (_, Some(r)) => Some((r, false)),
            (None, None) => None,
        }
    }

    /// The timer due at `now`, if any. The state-ending timer wins a tie, so that a request
    /// is not retransmitted in the instant its transaction times out.
    pub(super) fn due(&self, now: Instant) -> Option<Timer> {
        match (self.end, self.retransmit) {
            (Some((t, at)), _) if at <= now => Some(t),
            (_, Some((t, at, _))) if at <= now => Some(t),
            _ => None,
        }
    }

    /// Starts (or restarts) the retransmission timer to fire `interval` after `now`.
    /// The interval is at least 1 ms, so a zero `T1` or `T2` cannot spin.
    pub(super) fn set_retransmit(&mut self, timer: Timer, now: Instant, interval: Duration) {
        let interval = interval.max(Duration::from_millis(1));
        self.retransmit = Some((timer, after(now, interval), interval));
    }

    /// Sets the state-ending timer to fire `d` after `now`.
    pub(super) fn set_end(&mut self, timer: Timer, now: Instant, d: Duration) {
        self.end = Some((timer, after(now, d)));
    }

    /// Stops every timer.
    pub(super) fn clear(&mut self) {
        *self = Timers::default();
    }
}
