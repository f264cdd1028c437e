//! Brute-force protection of the portal's logins: failed password checks counted per
//! source and per account, and the bans a source earns. Sans-IO: every call is handed the
//! time (`now`); nothing here reads a clock, so the tests run on a simulated one.
//!
//! It mirrors the SIP server's guard (`server::guard`):
//!
//! - `max_failures` failed logins of a source within `window` ban it for `ban_time`,
//!   doubled at each repeat up to `max_ban_time` (fail2ban's `bantime.increment`); the
//!   doubling starts over once the source stayed out of trouble for `max_ban_time` after
//!   its last ban. A banned source's logins are refused before the password is checked.
//! - An account with `max_failures` failures within `window` is under attack: logins on it
//!   from sources that failed lately are refused too, so a guesser spread over many
//!   addresses is slowed, while the owner, whose address has not failed, still gets in
//!   (an attacker cannot lock a subscriber out). A successful login clears the account's
//!   count.
//! - The forgotten-password form counts its requests per source alike (every request, not
//!   only failures), so it cannot be used to send mail in bulk; so does self-registration
//!   (apart), so its "this name is taken" cannot be asked for many names quickly.
//!
//! IPv6 sources are counted per /64 ([`transport::source_key`]), as the SIP side does.
//! Memory is bounded: at most `capacity` sources (and as many accounts) are tracked; when
//! full, the oldest entry is forgotten, which only lets that source start counting again.
//!
//! ## Log lines
//!
//! Stable, for fail2ban, at `info`, target `portal::login_guard`, in the style of the SIP
//! server's `auth failed` line:
//!
//! ```text
//! portal login failed source=192.0.2.7 user="alice@example.com" reason="bad credentials" failures=3
//! source banned source=192.0.2.7 user="alice@example.com" reason="too many failed portal logins" failures=10 ban_secs=300
//! source banned source=192.0.2.7 user="alice@example.com" reason="too many password reset requests" failures=10 ban_secs=300
//! source banned source=192.0.2.7 user="dave@example.com" reason="too many sign-up requests" failures=10 ban_secs=300
//! ```
//!
//! `user` is what was typed (quoted and escaped, so nothing typed can forge the
//! `source=` that follows the message); `reason` of a failure is `"bad credentials"` for a
//! wrong password and an unknown user alike, so the log does not enumerate users. Attempts
//! refused unchecked (from a banned source) are logged at `debug` only
//! (`portal login refused`): they are not failures and are not counted.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use transport::source_key;

/// Default [`LoginGuardConfig::max_failures`]: 10 failed logins in the window.
pub const DEFAULT_MAX_FAILURES: u32 = 10;
/// Default [`LoginGuardConfig::window`]: 60 s.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Default [`LoginGuardConfig::ban_time`]: 5 minutes for a first ban.
pub const DEFAULT_BAN_TIME: Duration = Duration::from_secs(300);
/// Default [`LoginGuardConfig::max_ban_time`]: 24 hours, what repeat bans double up to.
pub const DEFAULT_MAX_BAN_TIME: Duration = Duration::from_secs(86_400);
/// Default [`LoginGuardConfig::capacity`]: sources (and accounts) tracked at most.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Longest account name kept as a key: longer ones are cut, so a flood of long random
/// names costs bounded memory.
const MAX_ACCOUNT_KEY: usize = 128;

/// The limits of [`LoginGuard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginGuardConfig {
    /// Failed logins (or password reset requests) of one source within `window` that ban
    /// it; 0 turns the guard off.
    pub max_failures: u32,
    /// The window failures are counted in.
    pub window: Duration,
    /// The length of a first ban.
    pub ban_time: Duration,
    /// The longest ban: repeat bans double up to it.
    pub max_ban_time: Duration,
    /// Sources (and accounts) tracked at most; the oldest is forgotten when full.
    pub capacity: usize,
}

impl Default for LoginGuardConfig {
    fn default() -> Self {
        LoginGuardConfig {
            max_failures: DEFAULT_MAX_FAILURES,
            window: DEFAULT_WINDOW,
            ban_time: DEFAULT_BAN_TIME,
            max_ban_time: DEFAULT_MAX_BAN_TIME,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// Events counted in a fixed window that opens at the first event and closes `window`
/// later: constant memory.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            start: now,
            count: 0,
        }
    }

    /// The count at `now` (0 once the window closed).
    fn count(&self, now: Instant, window: Duration) -> u32 {
        if now.saturating_duration_since(self.start) >= window {
            0
        } else {
            self.count
        }
    }

    /// Counts one event at `now`; the count, this one included.
    fn add(&mut self, now: Instant, window: Duration) -> u32 {
        if self.count(now, window) == 0 {
            *self = Window::new(now);
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

/// A map of at most `capacity` entries; the first inserted goes when a new one needs room.
#[derive(Debug)]
struct Bounded<K, V> {
    capacity: usize,
    entries: HashMap<K, V>,
    /// Keys in insertion order (entries are only ever removed by eviction, so this holds
    /// exactly the keys of `entries`).
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Bounded<K, V> {
        Bounded {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(oldest) => {
                        self.entries.remove(&oldest);
                    }
                    None => break,
                }
            }
            self.order.push_back(key.clone());
        }
        self.entries.entry(key).or_insert_with(make)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// One source's failures and bans.
#[derive(Debug)]
struct SourceRecord {
    failures: Window,
    /// Bans so far (the next one lasts `ban_time * 2^bans`).
    bans: u32,
    /// When the last ban ends.
    banned_until: Option<Instant>,
}

/// Sources counted and banned for one kind of attempt.
#[derive(Debug)]
struct Sources(Bounded<IpAddr, SourceRecord>);

impl Sources {
    /// The time left of `source`'s ban at `now`, if it is banned.
    fn banned(&self, now: Instant, source: IpAddr) -> Option<Duration> {
        let until = self.0.get(&source)?.banned_until?;
        (until > now).then(|| until - now)
    }

    /// Whether `source` failed within the window.
    fn failed_lately(&self, now: Instant, source: IpAddr, window: Duration) -> bool {
        self.0
            .get(&source)
            .is_some_and(|r| r.failures.count(now, window) > 0)
    }

    /// Counts one attempt of `source` at `now`.
    fn record(&mut self, now: Instant, source: IpAddr, config: &LoginGuardConfig) -> Counted {
        let record = self.0.entry(source, || SourceRecord {
            failures: Window::new(now),
            bans: 0,
            banned_until: None,
        });
        let failures = record.failures.add(now, config.window);
        if config.max_failures == 0 || failures < config.max_failures {
            return Counted {
                failures,
                ban: None,
            };
        }
        // Good behaviour for `max_ban_time` after the last ban starts the doubling over.
        if record
            .banned_until
            .is_some_and(|end| now.saturating_duration_since(end) > config.max_ban_time)
        {
            record.bans = 0;
        }
        let ban = ban_length(config, record.bans);
        record.bans = record.bans.saturating_add(1);
        record.banned_until = Some(now + ban);
        record.failures = Window::new(now);
        Counted {
            failures,
            ban: Some(ban),
        }
    }
}

/// What one failure (or reset request) led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The source's failures in the window, this one included.
    pub failures: u32,
    /// The source is banned now, for this long.
    pub ban: Option<Duration>,
}

/// The length of a source's ban after `bans` earlier ones.
fn ban_length(config: &LoginGuardConfig, bans: u32) -> Duration {
    let factor = 1u32.checked_shl(bans.min(31)).unwrap_or(u32::MAX);
    config
        .ban_time
        .checked_mul(factor)
        .unwrap_or(config.max_ban_time)
        .min(config.max_ban_time)
}

fn account_key(account: &str) -> String {
    account
        .trim()
        .chars()
        .take(MAX_ACCOUNT_KEY)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The counters and bans of the portal's logins (see the module docs).
#[derive(Debug)]
pub struct LoginGuard {
    config: LoginGuardConfig,
    logins: Sources,
    accounts: Bounded<String, Window>,
    resets: Sources,
    signups: Sources,
}

impl LoginGuard {
    /// A guard with these limits.
    pub fn new(config: LoginGuardConfig) -> LoginGuard {
        let capacity = config.capacity;
        LoginGuard {
            config,
            logins: Sources(Bounded::new(capacity)),
            accounts: Bounded::new(capacity),
            resets: Sources(Bounded::new(capacity)),
            signups: Sources(Bounded::new(capacity)),
        }
    }

    /// The limits.
    pub fn config(&self) -> &LoginGuardConfig {
        &self.config
    }

    /// Whether a login on `account` from `source` is refused at `now`, before its password
    /// is checked: `Err` with the time to wait.
    pub fn check_login(&self, now: Instant, source: IpAddr, account: &str) -> Result<(), Duration> {
        if self.config.max_failures == 0 {
            return Ok(());
        }
        let source = source_key(source);
        if let Some(left) = self.logins.banned(now, source) {
            return Err(left);
        }
        let window = self.config.window;
        let under_attack = self
            .accounts
            .get(&account_key(account))
            .is_some_and(|w| w.count(now, window) >= self.config.max_failures);
        if under_attack && self.logins.failed_lately(now, source, window) {
            // The account's count closes at the latest when its window does.
            let left = self
                .accounts
                .get(&account_key(account))
                .map_or(window, |w| {
                    window.saturating_sub(now.saturating_duration_since(w.start))
                });
            return Err(left.max(Duration::from_secs(1)));
        }
        Ok(())
    }

    /// Counts a failed login on `account` from `source` at `now`.
    pub fn login_failed(&mut self, now: Instant, source: IpAddr, account: &str) -> Counted {
        let window = self.config.window;
        self.accounts
            .entry(account_key(account), || Window::new(now))
            .add(now, window);
        self.logins.record(now, source_key(source), &self.config)
    }

    /// A login on `account` succeeded: its count starts over.
    pub fn login_succeeded(&mut self, now: Instant, account: &str) {
        if let Some(w) = self.accounts.get_mut(&account_key(account)) {
            *w = Window::new(now);
        }
    }

    /// A forgotten-password request from `source` at `now`: `Err` with the time to wait
    /// when the source is banned from asking; else it is counted (and may earn a ban for
    /// the next ones).
    pub fn reset_requested(&mut self, now: Instant, source: IpAddr) -> Result<Counted, Duration> {
        if self.config.max_failures == 0 {
            return Ok(Counted {
                failures: 0,
                ban: None,
            });
        }
        let source = source_key(source);
        if let Some(left) = self.resets.banned(now, source) {
            return Err(left);
        }
        Ok(self.resets.record(now, source, &self.config))
    }

    /// A sign-up (self-registration) request from `source` at `now`, counted like a
    /// forgotten-password request but apart from them: `Err` with the time to wait when
    /// the source is banned from asking. Every sign-up counts, so the answer "this name
    /// is taken" cannot be asked for more than `max_failures` names per `window`.
    pub fn signup_requested(&mut self, now: Instant, source: IpAddr) -> Result<Counted, Duration> {
        if self.config.max_failures == 0 {
            return Ok(Counted {
                failures: 0,
                ban: None,
            });
        }
        let source = source_key(source);
        if let Some(left) = self.signups.banned(now, source) {
            return Err(left);
        }
        Ok(self.signups.record(now, source, &self.config))
    }

    /// Sources tracked (logins, password resets and sign-ups), for the tests of the bound.
    pub fn tracked_sources(&self) -> usize {
        self.logins.0.len() + self.resets.0.len() + self.signups.0.len()
    }
}

/// "N minutes" (at least one) of a wait, rounded up.
pub fn minutes_text(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    if minutes == 1 {
        "1 minute".to_owned()
    } else {
        format!("{minutes} minutes")
    }
}

/// Logs a failed portal login and, when it banned the source, the ban (see the module
/// docs for the lines).
pub fn log_failure(source: IpAddr, user: &str, reason: &str, counted: Counted) {
    tracing::info!(
        source = %source,
        user,
        reason,
        failures = counted.failures,
        "portal login failed"
    );
    log_ban(source, user, "too many failed portal logins", counted);
}

/// Logs the ban a forgotten-password request earned, if any.
pub fn log_reset_ban(source: IpAddr, user: &str, counted: Counted) {
    log_ban(source, user, "too many password reset requests", counted);
}

/// Logs a ban a sign-up request earned (fail2ban reads it like the others).
pub fn log_signup_ban(source: IpAddr, user: &str, counted: Counted) {
    log_ban(source, user, "too many sign-up requests", counted);
}

fn log_ban(source: IpAddr, user: &str, reason: &str, counted: Counted) {
    if let Some(ban) = counted.ban {
        tracing::info!(
            source = %source,
            user,
            reason,
            failures = counted.failures,
            ban_secs = ban.as_secs(),
            "source banned"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn guard() -> LoginGuard {
        LoginGuard::new(LoginGuardConfig::default())
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_tenth_failure_bans_the_source_for_five_minutes() {
        let mut g = guard();
        let t0 = Instant::now();
        let a = ip("192.0.2.7");
        for i in 1..10 {
            let c = g.login_failed(t0 + SECOND * i, a, "alice@example.com");
            assert_eq!(
                c,
                Counted {
                    failures: i,
                    ban: None
                }
            );
            assert_eq!(g.check_login(t0 + SECOND * i, a, "bob@example.com"), Ok(()));
        }
        let now = t0 + SECOND * 10;
        let c = g.login_failed(now, a, "alice@example.com");
        assert_eq!(c.failures, 10);
        assert_eq!(c.ban, Some(DEFAULT_BAN_TIME));
        // Refused on any account, with the time left.
        assert_eq!(
            g.check_login(now, a, "bob@example.com"),
            Err(DEFAULT_BAN_TIME)
        );
        assert_eq!(
            g.check_login(now + SECOND * 60, a, "carol@example.com"),
            Err(DEFAULT_BAN_TIME - SECOND * 60)
        );
        // Another source is unaffected, even on another account.
        assert_eq!(
            g.check_login(now, ip("192.0.2.8"), "bob@example.com"),
            Ok(())
        );
        // The ban expires.
        assert_eq!(
            g.check_login(now + DEFAULT_BAN_TIME, a, "bob@example.com"),
            Ok(())
        );
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_ban() {
        let mut g = guard();
        let t0 = Instant::now();
        let a = ip("192.0.2.7");
        for i in 0..30 {
            // One every 7 s: at most 9 in a 60 s window opened by the first.
            let c = g.login_failed(t0 + SECOND * (7 * i), a, &format!("u{i}@example.com"));
            assert_eq!(c.ban, None, "failure {i}");
        }
    }

    #[test]
    fn repeat_bans_double_up_to_a_day() {
        let mut g = guard();
        let a = ip("2001:db8::1");
        let mut now = Instant::now();
        let mut bans = Vec::new();
        for _ in 0..12 {
            let mut last = None;
            for _ in 0..10 {
                last = g.login_failed(now, a, "alice@example.com").ban;
            }
            let ban = last.unwrap();
            bans.push(ban.as_secs());
            now += ban;
            assert_eq!(g.check_login(now, a, "x@example.com"), Ok(()));
        }
        assert_eq!(
            bans,
            [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, 86400, 86400, 86400]
        );
        // A day out of trouble after the last ban: the next one is short again.
        now += DEFAULT_MAX_BAN_TIME + SECOND;
        for _ in 0..9 {
            assert_eq!(g.login_failed(now, a, "alice@example.com").ban, None);
        }
        assert_eq!(
            g.login_failed(now, a, "alice@example.com").ban,
            Some(DEFAULT_BAN_TIME)
        );
    }

    #[test]
    fn ipv6_sources_count_per_64() {
        let mut g = guard();
        let now = Instant::now();
        for i in 0..10u16 {
            let source = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i));
            g.login_failed(now, source, "alice@example.com");
        }
        assert!(g
            .check_login(now, ip("2001:db8:0:1::99"), "x@example.com")
            .is_err());
        assert!(g
            .check_login(now, ip("2001:db8:0:2::1"), "x@example.com")
            .is_ok());
    }

    #[test]
    fn an_account_under_attack_refuses_sources_that_failed_but_not_its_owner() {
        let mut g = guard();
        let now = Instant::now();
        // Ten attackers, five failures each on alice: none is banned, alice is under attack.
        for n in 1..=10u8 {
            let source = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n));
            for _ in 0..5 {
                assert_eq!(g.login_failed(now, source, "Alice@example.com").ban, None);
            }
        }
        let attacker = ip("198.51.100.1");
        assert_eq!(
            g.check_login(now + SECOND, attacker, "alice@example.com"),
            Err(DEFAULT_WINDOW - SECOND)
        );
        // The attacker may still try other accounts (until its own ban).
        assert_eq!(g.check_login(now, attacker, "bob@example.com"), Ok(()));
        // The owner, from an address without failures, gets in.
        let owner = ip("203.0.113.5");
        assert_eq!(g.check_login(now, owner, "alice@example.com"), Ok(()));
        // A success clears the account's count: the attackers are no longer refused on it.
        g.login_succeeded(now, "alice@example.com");
        assert_eq!(g.check_login(now, attacker, "alice@example.com"), Ok(()));
        // When the window closes, the account is no longer under attack either.
        let mut g2 = guard();
        for _ in 0..10 {
            g2.login_failed(now, ip("198.51.100.1"), "alice@example.com");
        }
        g2.login_failed(now, ip("198.51.100.2"), "alice@example.com");
        let late = now + DEFAULT_WINDOW;
        assert_eq!(
            g2.check_login(late, ip("198.51.100.2"), "alice@example.com"),
            Ok(())
        );
    }

    #[test]
    fn a_success_resets_the_account_count() {
        let mut g = guard();
        let now = Instant::now();
        let sources: Vec<IpAddr> = (1..=9u8)
            .map(|n| IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n)))
            .collect();
        for s in &sources {
            g.login_failed(now, *s, "alice@example.com");
        }
        g.login_succeeded(now, "alice@example.com");
        // One more failure would have been the tenth on the account.
        g.login_failed(now, ip("198.51.100.10"), "alice@example.com");
        assert_eq!(
            g.check_login(now, ip("198.51.100.10"), "alice@example.com"),
            Ok(())
        );
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_source_forgotten() {
        let mut g = LoginGuard::new(LoginGuardConfig {
            capacity: 100,
            ..LoginGuardConfig::default()
        });
        let now = Instant::now();
        let first = ip("10.0.0.1");
        for _ in 0..10 {
            g.login_failed(now, first, "alice@example.com");
        }
        assert!(g.check_login(now, first, "x@example.com").is_err());
        for n in 0..1000u32 {
            let source = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + n));
            g.login_failed(now, source, &format!("user{n}@example.com"));
            assert!(g.tracked_sources() <= 100);
            assert!(g.accounts.len() <= 100);
        }
        assert_eq!(g.tracked_sources(), 100);
        // The first, oldest, source was forgotten: its ban with it.
        assert_eq!(g.check_login(now, first, "x@example.com"), Ok(()));
    }

    #[test]
    fn password_reset_requests_are_limited_per_source() {
        let mut g = guard();
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for i in 1..10 {
            assert_eq!(g.reset_requested(now, a).map(|c| c.ban), Ok(None), "{i}");
        }
        assert_eq!(
            g.reset_requested(now, a).map(|c| c.ban),
            Ok(Some(DEFAULT_BAN_TIME))
        );
        assert_eq!(
            g.reset_requested(now + SECOND, a),
            Err(DEFAULT_BAN_TIME - SECOND)
        );
        assert!(g.reset_requested(now, ip("192.0.2.8")).is_ok());
        // Resets and logins are counted apart.
        assert_eq!(g.check_login(now, a, "alice@example.com"), Ok(()));
        assert!(g.reset_requested(now + DEFAULT_BAN_TIME, a).is_ok());
    }

    #[test]
    fn sign_ups_are_limited_per_source_apart_from_resets() {
        let mut g = guard();
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for i in 1..10 {
            assert_eq!(g.signup_requested(now, a).map(|c| c.ban), Ok(None), "{i}");
        }
        assert_eq!(
            g.signup_requested(now, a).map(|c| c.ban),
            Ok(Some(DEFAULT_BAN_TIME))
        );
        assert!(g.signup_requested(now + SECOND, a).is_err());
        assert!(g.reset_requested(now, a).is_ok());
        assert!(g.signup_requested(now, ip("192.0.2.8")).is_ok());
        assert!(g.signup_requested(now + DEFAULT_BAN_TIME, a).is_ok());
    }

    #[test]
    fn zero_turns_the_guard_off() {
        let mut g = LoginGuard::new(LoginGuardConfig {
            max_failures: 0,
            ..LoginGuardConfig::default()
        });
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for _ in 0..100 {
            assert_eq!(g.login_failed(now, a, "alice@example.com").ban, None);
            assert!(g.reset_requested(now, a).is_ok());
        }
        assert_eq!(g.check_login(now, a, "alice@example.com"), Ok(()));
    }

    #[test]
    fn waits_are_told_in_whole_minutes() {
        assert_eq!(minutes_text(Duration::from_secs(300)), "5 minutes");
        assert_eq!(minutes_text(Duration::from_secs(241)), "5 minutes");
        assert_eq!(minutes_text(Duration::from_secs(59)), "1 minute");
        assert_eq!(minutes_text(Duration::ZERO), "1 minute");
    }
}
