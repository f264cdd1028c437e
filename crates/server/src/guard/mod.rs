//! The guards in front of the main route: banned sources, failed authentications and
//! request floods. Sans-IO state of the engine, like everything in it: time comes in as
//! `Now`, bans to store go out as writes the engine turns into `IoRequest::Ban`, the
//! store's bans come in through `Engine::set_bans`.
//!
//! What a request meets, in order, before the transaction layer sees it:
//!
//! 1. a source in a trusted network (`--trusted`) passes: never counted, never banned;
//! 2. a banned source (its own ban, or one of the store's `bans` table) is dropped, or
//!    answered 403 with `ban_answer = "403"`;
//! 3. the flood guard counts it (Kamailio `pike`, `flood`) and drops it over the rate.
//!
//! Then, where the main route authenticates (`policy/route.rs`, `authenticate`):
//!
//! 4. credentials for an account under attack from a source that failed lately are turned
//!    away (`auth_failures`), before they are checked;
//! 5. credentials judged wrong (wrong password, unknown user — one reason in the log —, a
//!    forged nonce) count against the source and the account; `max_auth_failures` in
//!    `auth_window` ban the source for `ban_time`, doubled at each repeat up to
//!    `max_ban_time`; the ban is written to the store, so `itsp ban list` shows it and it
//!    survives a restart. A first request without credentials, which gets its challenge,
//!    is no failure.
//!
//! IPv6 sources are counted and banned per /64 (a host can use any address of its /64),
//! as the transport's TCP limits count them.
//!
//! ## Log lines
//!
//! Stable, for fail2ban (`contrib/fail2ban/`), at `info`, target `server::guard`:
//!
//! ```text
//! auth failed source=192.0.2.7 user="alice" realm="example.com" reason="bad credentials" failures=3
//! source banned source=192.0.2.7 user="alice" realm="example.com" reason="too many failed authentications" failures=10 ban_secs=300
//! source banned source=192.0.2.7 requests=201 window_ms=2000 ban_secs=60 reason="request flood"
//! ```
//!
//! `user` and `realm` are quoted and escaped (they come from the request), `source` is the
//! packet's address. `reason` of a failure is `"bad credentials"` (wrong password and
//! unknown user alike: the log does not enumerate users) or `"bad nonce"`.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `mod.rs` | [`GuardConfig`] and its defaults, [`BanAnswer`], `Guard`: the checks in order |
//! | `window` | a sliding-window counter in constant memory |
//! | `table` | a map bounded in entries, oldest evicted first |
//! | `auth_failures` | failed authentications per source and account, growing bans |
//! | `flood` | per-source rate limits (pike) |
//! | `bans` | the bans in force: the engine's own and the store's |

mod auth_failures;
pub(crate) mod bans;
mod flood;
mod table;
mod window;

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use transport::source_key;

use crate::auth::AuthFailure;
use crate::engine::io::Now;
use crate::trusted::Network;
pub use bans::BanWrite;

/// Default [`GuardConfig::max_auth_failures`]: 10 in [`DEFAULT_AUTH_WINDOW_SECS`]. A
/// person mistyping a password gives up long before; a phone with a wrong stored password
/// fails once per registration attempt (every few minutes at most); a guesser needs
/// thousands.
pub const DEFAULT_MAX_AUTH_FAILURES: u32 = 10;
/// Default [`GuardConfig::auth_window`]: 60 s.
pub const DEFAULT_AUTH_WINDOW_SECS: u64 = 60;
/// Default [`GuardConfig::ban_time`]: 5 minutes for a first ban.
pub const DEFAULT_BAN_TIME_SECS: u64 = 300;
/// Default [`GuardConfig::max_ban_time`]: 24 hours, what repeat bans double up to.
pub const DEFAULT_MAX_BAN_TIME_SECS: u64 = 86_400;
/// Default [`GuardConfig::nonce_failures`]: see [`crate::auth::DEFAULT_NONCE_FAILURES`].
pub const DEFAULT_NONCE_FAILURES: u32 = crate::auth::DEFAULT_NONCE_FAILURES;
/// Default [`GuardConfig::pike_requests`]: 200 requests in [`DEFAULT_PIKE_WINDOW_MS`] from
/// one address. A NAT with 100 busy phones sends about 10 a second (each: OPTIONS or CRLF
/// keepalives every 30 s, a REGISTER with its challenge every few minutes, a call a minute
/// of 5 to 7 requests), 20 per window; all 100 registering at once after the router
/// restarts, each challenged once, is 200. Floods and scanners send thousands a second.
pub const DEFAULT_PIKE_REQUESTS: u32 = 200;
/// Default [`GuardConfig::pike_window`]: 2 s, Kamailio pike's `sampling_time_unit`.
pub const DEFAULT_PIKE_WINDOW_MS: u64 = 2_000;
/// Default [`GuardConfig::pike_ban_time`]: 60 s of dropped requests; a phone behind a
/// flooding NAT retries after that.
pub const DEFAULT_PIKE_BAN_TIME_SECS: u64 = 60;
/// Default [`GuardConfig::max_sources`]: 100,000 sources per table (about 10 MB in all).
pub const DEFAULT_MAX_SOURCES: usize = 100_000;

/// How a banned source is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BanAnswer {
    /// Not at all (the default): a scanner learns nothing, and we are no reflector.
    #[default]
    Drop,
    /// `403 Forbidden`, statelessly: a phone shows the user why (no answer to ACKs).
    Forbidden,
}

impl FromStr for BanAnswer {
    type Err = String;

    fn from_str(s: &str) -> Result<BanAnswer, String> {
        match s {
            "drop" => Ok(BanAnswer::Drop),
            "403" => Ok(BanAnswer::Forbidden),
            other => Err(format!("{other:?}: ban_answer is \"drop\" or \"403\"")),
        }
    }
}

/// Settings of the guards (`[guard]`); see the module docs and the `DEFAULT_*` constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failed authentications of one source in `auth_window` that ban it; 0: no bans.
    pub max_auth_failures: u32,
    /// The window failures are counted in.
    pub auth_window: Duration,
    /// The first ban's length; each repeat doubles it.
    pub ban_time: Duration,
    /// The longest ban.
    pub max_ban_time: Duration,
    /// How banned sources are answered.
    pub ban_answer: BanAnswer,
    /// Wrong responses one digest nonce takes before a new nonce is needed; 0: no bound.
    pub nonce_failures: u32,
    /// Requests of one source in `pike_window` beyond which it is dropped; 0: no limit.
    pub pike_requests: u32,
    /// The window requests are counted in.
    pub pike_window: Duration,
    /// How long a flooding source is dropped.
    pub pike_ban_time: Duration,
    /// Sources (and accounts) each table keeps at most; the oldest make room.
    pub max_sources: usize,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            max_auth_failures: DEFAULT_MAX_AUTH_FAILURES,
            auth_window: Duration::from_secs(DEFAULT_AUTH_WINDOW_SECS),
            ban_time: Duration::from_secs(DEFAULT_BAN_TIME_SECS),
            max_ban_time: Duration::from_secs(DEFAULT_MAX_BAN_TIME_SECS),
            ban_answer: BanAnswer::Drop,
            nonce_failures: DEFAULT_NONCE_FAILURES,
            pike_requests: DEFAULT_PIKE_REQUESTS,
            pike_window: Duration::from_millis(DEFAULT_PIKE_WINDOW_MS),
            pike_ban_time: Duration::from_secs(DEFAULT_PIKE_BAN_TIME_SECS),
            max_sources: DEFAULT_MAX_SOURCES,
        }
    }
}

/// What to do with a request from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Go on.
    Pass,
    /// Drop it silently.
    Drop,
    /// Answer 403 (statelessly; an ACK is dropped).
    Refuse,
}

/// The guards' state (see the module docs).
#[derive(Debug)]
pub(crate) struct Guard {
    config: GuardConfig,
    trusted: Vec<Network>,
    failures: auth_failures::AuthFailures,
    flood: flood::Flood,
    bans: bans::Bans,
    writes: Vec<BanWrite>,
    /// Sources the transports are asked to drop before parsing, and until when they
    /// were asked last.
    blocked: table::Table<IpAddr, Instant>,
    /// Blocks asked since the last [`Guard::take_blocks`].
    blocks: Vec<(IpAddr, Instant)>,
    /// Failed authentications since the start, trusted sources aside (metrics).
    failures_total: u64,
}

/// How long the transports drop a source the guard drops, per request: a short time,
/// asked again while the ban lasts, so a lifted ban (`itsp ban rm`) reaches the transports
/// within it.
pub(crate) const BLOCK_HORIZON: Duration = Duration::from_secs(1);

impl Guard {
    /// The guards of a server with these settings and trusted networks.
    pub(crate) fn new(config: GuardConfig, trusted: Vec<Network>) -> Guard {
        let capacity = config.max_sources;
        Guard {
            config,
            trusted,
            failures: auth_failures::AuthFailures::new(capacity),
            flood: flood::Flood::new(capacity),
            bans: bans::Bans::new(capacity),
            writes: Vec::new(),
            blocked: table::Table::new(capacity),
            blocks: Vec::new(),
            failures_total: 0,
        }
    }

    /// Replaces the trusted networks (a configuration reload).
    pub(crate) fn set_trusted(&mut self, trusted: Vec<Network>) {
        self.trusted = trusted;
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        crate::trusted::is_trusted(&self.trusted, ip)
    }

    fn refusal(&self) -> Admit {
        match self.config.ban_answer {
            BanAnswer::Drop => Admit::Drop,
            BanAnswer::Forbidden => Admit::Refuse,
        }
    }

    /// Steps 1 to 3 of the module docs for a request (or malformed message) from `ip`.
    pub(crate) fn admit(&mut self, now: Now, ip: IpAddr) -> Admit {
        if self.trusted(ip) {
            return Admit::Pass;
        }
        let key = source_key(ip);
        if self
            .bans
            .is_banned(now.instant, now.unix_ms, normalize(ip), key)
        {
            let refusal = self.refusal();
            if refusal == Admit::Drop {
                self.block(now, key);
            }
            return refusal;
        }
        if !self.flood.admit(now.instant, key, &self.config) {
            self.block(now, key);
            return Admit::Drop;
        }
        Admit::Pass
    }

    /// Asks the transports to drop `key` for [`BLOCK_HORIZON`], unless they were asked
    /// and it has not passed: a dropped source then costs them a lookup per datagram
    /// instead of a parse.
    fn block(&mut self, now: Now, key: IpAddr) {
        if self
            .blocked
            .get(&key)
            .is_some_and(|until| now.instant < *until)
        {
            return;
        }
        let until = now.instant + BLOCK_HORIZON;
        *self.blocked.entry(key, || until) = until;
        self.blocks.push((key, until));
    }

    /// The blocks asked since the last call.
    pub(crate) fn take_blocks(&mut self) -> Vec<(IpAddr, Instant)> {
        std::mem::take(&mut self.blocks)
    }

    /// Step 4: `Some` when credentials for `user`@`realm` from `ip` are turned away
    /// unchecked.
    pub(crate) fn slowed(&self, now: Now, ip: IpAddr, user: &str, realm: &str) -> Option<Admit> {
        if self.trusted(ip) {
            return None;
        }
        self.failures
            .slowed(now.instant, source_key(ip), user, realm, &self.config)
            .then(|| {
                tracing::debug!(source = %ip, user = ?user, realm = ?realm, "account under attack: a source with failures turned away");
                self.refusal()
            })
    }

    /// Step 5: credentials from `ip` for `realm` were judged wrong.
    pub(crate) fn auth_failed(&mut self, now: Now, ip: IpAddr, failure: &AuthFailure, realm: &str) {
        if self.trusted(ip) {
            return;
        }
        self.failures_total += 1;
        let key = source_key(ip);
        let counted = self
            .failures
            .record(now.instant, key, &failure.user, realm, &self.config);
        tracing::info!(
            source = %ip,
            user = failure.user.as_str(),
            realm,
            reason = failure.reason.as_str(),
            failures = counted.failures,
            "auth failed"
        );
        let Some(ban) = counted.ban else {
            return;
        };
        let reason = "too many failed authentications";
        tracing::info!(
            source = %ip,
            user = failure.user.as_str(),
            realm,
            reason,
            failures = counted.failures,
            ban_secs = ban.as_secs(),
            "source banned"
        );
        self.bans.ban(key, now.instant + ban);
        let ban_ms = u64::try_from(ban.as_millis()).unwrap_or(u64::MAX);
        self.writes.push(BanWrite {
            network: network_text(key),
            until_ms: i64::try_from(now.unix_ms.saturating_add(ban_ms)).unwrap_or(i64::MAX),
            reason: format!("{reason} ({} as {:?})", counted.failures, failure.user)
                .chars()
                .take(200)
                .collect(),
        });
    }

    /// Failed authentications since the start (each "auth failed" line), for the metrics.
    pub(crate) fn failures_total(&self) -> u64 {
        self.failures_total
    }

    /// The bans decided since the last call, to write to the store.
    pub(crate) fn take_writes(&mut self) -> Vec<BanWrite> {
        std::mem::take(&mut self.writes)
    }

    /// The ban of `network` (a [`BanWrite::network`]) is in the store.
    pub(crate) fn stored(&mut self, now: Now, network: &str) {
        if let Some(key) = key_of_text(network) {
            self.bans.stored(key, now.instant);
        }
    }

    /// The store's bans, read by a query started at `read_at`.
    pub(crate) fn set_bans(&mut self, read_at: Now, stored: &[store::Ban]) {
        let stored = stored
            .iter()
            .map(|b| {
                (
                    b.network.clone(),
                    b.until_ms.map(|u| u64::try_from(u).unwrap_or(0)),
                )
            })
            .collect();
        for lifted in self
            .bans
            .replace_stored(read_at.instant, stored, network_text)
        {
            tracing::info!(source = %network_text(lifted), "ban lifted from the store");
        }
    }

    /// Forgets what decayed.
    pub(crate) fn purge(&mut self, now: Now) {
        self.failures.purge(now.instant, &self.config);
        self.flood.purge(now.instant, &self.config);
        self.bans.purge(now.instant);
    }

    #[cfg(test)]
    /// Sources banned by the engine itself now (for tests and the log).
    pub(crate) fn own_bans(&self, now: Now) -> usize {
        self.bans.own_count(now.instant)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The store's text of a source key: the address, or `prefix::/64`.
fn network_text(key: IpAddr) -> String {
    match key {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// The source key of a [`network_text`].
fn key_of_text(text: &str) -> Option<IpAddr> {
    let addr = text.strip_suffix("/64").unwrap_or(text);
    addr.parse().ok().map(source_key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sources_are_keyed_per_address_or_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(source_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(
            network_text(source_key(ip("2001:db8:1:2::9"))),
            "2001:db8:1:2::/64"
        );
        for key in [ip("192.0.2.7"), ip("2001:db8:1:2::")] {
            assert_eq!(key_of_text(&network_text(key)), Some(key));
            assert_eq!(
                store::canonical_network(&network_text(key)).unwrap(),
                network_text(key),
                "the store keeps the text as written"
            );
        }
        assert_eq!("403".parse::<BanAnswer>(), Ok(BanAnswer::Forbidden));
        assert!("reject".parse::<BanAnswer>().is_err());
    }
}
