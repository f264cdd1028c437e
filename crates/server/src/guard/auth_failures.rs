//! [`AuthFailures`]: failed authentications counted per source and per account, each in a
//! sliding window ([`Window`]), and the ban a source earns: `ban_time` for the first,
//! doubled for each repeat, at most `max_ban_time` (fail2ban's `bantime.increment`).
//!
//! A source's repeat count is forgotten once it stayed out of trouble for `max_ban_time`
//! after its last ban. An account's count does not ban anyone: while it is high, requests
//! for it from sources that failed lately are turned away ([`AuthFailures::slowed`]), so
//! a password guesser spread over many addresses is slowed while the owner, whose phone
//! has no failures, still gets in (no lock-out: an attacker cannot lock a user out).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::table::Table;
use super::window::Window;
use super::GuardConfig;

/// Longest username kept as an account key: longer ones are cut (the counting stays
/// right for real users; a flood of long random names costs bounded memory).
const MAX_USER_KEY: usize = 128;

/// A source's failures and bans.
#[derive(Debug)]
struct SourceRecord {
    failures: Window,
    /// Bans so far (the next one lasts `ban_time * 2^bans`).
    bans: u32,
    /// When the last ban ends.
    last_ban_end: Option<Instant>,
}

/// What one failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    /// The source's failures in the window, this one included.
    pub(crate) failures: u32,
    /// The source is banned now, for this long.
    pub(crate) ban: Option<Duration>,
}

/// The counters (see the module docs).
#[derive(Debug)]
pub(crate) struct AuthFailures {
    sources: Table<IpAddr, SourceRecord>,
    accounts: Table<(String, String), Window>,
}

impl AuthFailures {
    /// Counters of at most `capacity` sources and as many accounts.
    pub(crate) fn new(capacity: usize) -> AuthFailures {
        AuthFailures {
            sources: Table::new(capacity),
            accounts: Table::new(capacity),
        }
    }

    /// Counts a failure of `source` (a source key) on `user`@`realm` at `now`.
    pub(crate) fn record(
        &mut self,
        now: Instant,
        source: IpAddr,
        user: &str,
        realm: &str,
        config: &GuardConfig,
    ) -> Counted {
        self.accounts
            .entry(account_key(user, realm), || Window::new(now))
            .add(now, config.auth_window);
        let record = self.sources.entry(source, || SourceRecord {
            failures: Window::new(now),
            bans: 0,
            last_ban_end: None,
        });
        let failures = record.failures.add(now, config.auth_window);
        if config.max_auth_failures == 0 || failures < config.max_auth_failures {
            return Counted {
                failures,
                ban: None,
            };
        }
        // Good behaviour for `max_ban_time` after the last ban starts the doubling over.
        if record
            .last_ban_end
            .is_some_and(|end| now.saturating_duration_since(end) > config.max_ban_time)
        {
            record.bans = 0;
        }
        let ban = ban_length(config, record.bans);
        record.bans = record.bans.saturating_add(1);
        record.last_ban_end = Some(now + ban);
        record.failures = Window::new(now);
        Counted {
            failures,
            ban: Some(ban),
        }
    }

    /// Whether a request for `user`@`realm` from `source` is turned away: the account's
    /// failures in the window reached `max_auth_failures` and this source failed lately.
    pub(crate) fn slowed(
        &self,
        now: Instant,
        source: IpAddr,
        user: &str,
        realm: &str,
        config: &GuardConfig,
    ) -> bool {
        if config.max_auth_failures == 0 {
            return false;
        }
        let under_attack = self
            .accounts
            .get(&account_key(user, realm))
            .is_some_and(|w| w.estimate(now, config.auth_window) >= config.max_auth_failures);
        under_attack
            && self
                .sources
                .get(&source)
                .is_some_and(|r| !r.failures.is_empty(now, config.auth_window))
    }

    /// Forgets counts that decayed and repeat counts past `max_ban_time`.
    pub(crate) fn purge(&mut self, now: Instant, config: &GuardConfig) {
        self.accounts
            .retain(|_, w| !w.is_empty(now, config.auth_window));
        self.sources.retain(|_, r| {
            let remembered = r
                .last_ban_end
                .is_some_and(|end| now.saturating_duration_since(end) <= config.max_ban_time);
            remembered || !r.failures.is_empty(now, config.auth_window)
        });
    }

    /// Sources and accounts counted.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.sources.len(), self.accounts.len())
    }
}

/// The `n`th repeat ban's length: `ban_time * 2^n`, at most `max_ban_time`.
fn ban_length(config: &GuardConfig, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
    config
        .ban_time
        .checked_mul(factor)
        .unwrap_or(config.max_ban_time)
        .min(config.max_ban_time)
}

fn account_key(user: &str, realm: &str) -> (String, String) {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    (realm.to_owned(), user[..end].to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bans_double_up_to_the_cap() {
        let config = GuardConfig::default();
        let lengths: Vec<u64> = (0..12).map(|n| ban_length(&config, n).as_secs()).collect();
        assert_eq!(&lengths[..4], &[300, 600, 1200, 2400]);
        assert_eq!(lengths[11], 86_400);
        assert_eq!(ban_length(&config, 200).as_secs(), 86_400);
    }

    #[test]
    fn accounts_are_slowed_only_for_failing_sources() {
        let config = GuardConfig::default();
        let t = Instant::now();
        let mut f = AuthFailures::new(1000);
        // Nine sources, one failure each... and a tenth: alice is under attack.
        for i in 0..10u8 {
            let src = IpAddr::from([203, 0, 113, i]);
            assert_eq!(f.record(t, src, "alice", "example.com", &config).ban, None);
        }
        let attacker = IpAddr::from([203, 0, 113, 3]);
        let owner = IpAddr::from([198, 51, 100, 1]);
        assert!(f.slowed(t, attacker, "alice", "example.com", &config));
        assert!(!f.slowed(t, owner, "alice", "example.com", &config));
        assert!(!f.slowed(t, attacker, "bob", "example.com", &config));
        // Two windows later it is all forgotten.
        let later = t + config.auth_window * 2;
        assert!(!f.slowed(later, attacker, "alice", "example.com", &config));
        f.purge(later, &config);
        assert_eq!(f.len(), (0, 0));
    }

    #[test]
    fn memory_is_bounded() {
        let config = GuardConfig::default();
        let t = Instant::now();
        let mut f = AuthFailures::new(500);
        for i in 0..20_000u32 {
            let src = IpAddr::from(i.to_be_bytes());
            f.record(t, src, &format!("user{i}{}", "x".repeat(300)), "r", &config);
        }
        assert_eq!(f.len(), (500, 500));
    }
}
