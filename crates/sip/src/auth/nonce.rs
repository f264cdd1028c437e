//! Stateless server nonces (RFC 7616 §3.3, §5.4: "a nonce might be generated from a time
//! stamp, ... and a private key") and nonce-count replay tracking (RFC 7616 §3.4 `nc`,
//! §5.5).
//!
//! A nonce is 64 lowercase hex digits encoding 32 bytes:
//! `timestamp (8, big-endian) ‖ random (8) ‖ HMAC-SHA256(key, timestamp ‖ random ‖ realm)[..16]`.
//! The server verifies it with nothing but the key.

use std::collections::{HashMap, VecDeque};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::text::hex;

type HmacSha256 = Hmac<Sha256>;

/// Seconds a nonce's timestamp may lie in the future (clock steps, servers of one cluster
/// sharing a key) before [`NonceKey::check`] calls it invalid.
pub const NONCE_CLOCK_SKEW: u64 = 10;

const NONCE_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// The outcome of [`NonceKey::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by this key for this realm, not older than `max_age`.
    Valid {
        /// When it was issued (seconds since the Unix epoch).
        issued: u64,
    },
    /// Authentic but older than `max_age`: answer with a new challenge and `stale=true`
    /// (RFC 7616 §3.3) if the response was otherwise right.
    Stale,
    /// Malformed, tampered with, issued for another realm or by another key, or from the
    /// future beyond [`NONCE_CLOCK_SKEW`].
    Invalid,
}

/// The secret that signs and checks stateless nonces.
#[derive(Clone)]
pub struct NonceKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A key from secret bytes (at least 16 random bytes recommended; any length works).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so the fallback is never taken.
        let mac = <HmacSha256 as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        NonceKey { mac }
    }

    fn tag(&self, head: &[u8], realm: &str) -> HmacSha256 {
        let mut m = self.mac.clone();
        m.update(head);
        m.update(realm.as_bytes());
        m
    }

    /// Issues a nonce for `realm` at `now` (seconds since the Unix epoch), salted with
    /// caller-provided `random` bytes so nonces issued in the same second differ.
    pub fn issue(&self, now: u64, realm: &str, random: u64) -> String {
        let mut buf = [0u8; NONCE_BYTES];
        buf[..8].copy_from_slice(&now.to_be_bytes());
        buf[8..16].copy_from_slice(&random.to_be_bytes());
        let tag = self.tag(&buf[..16], realm).finalize().into_bytes();
        buf[16..].copy_from_slice(&tag[..TAG_BYTES]);
        hex(&buf)
    }

    /// Checks a nonce received in credentials: authentic for `realm`, and how old at `now`.
    /// The tag comparison is constant-time.
    pub fn check(&self, nonce: &str, realm: &str, now: u64, max_age: u64) -> NonceCheck {
        let Some(buf) = unhex32(nonce) else {
            return NonceCheck::Invalid;
        };
        if self
            .tag(&buf[..16], realm)
            .verify_truncated_left(&buf[16..])
            .is_err()
        {
            return NonceCheck::Invalid;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&buf[..8]);
        let issued = u64::from_be_bytes(ts);
        if issued > now.saturating_add(NONCE_CLOCK_SKEW) {
            NonceCheck::Invalid
        } else if now.saturating_sub(issued) > max_age {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid { issued }
        }
    }
}

fn unhex32(s: &str) -> Option<[u8; NONCE_BYTES]> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != NONCE_BYTES * 2 {
        return None;
    }
    let mut out = [0u8; NONCE_BYTES];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// The outcome of [`NonceCounter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcCheck {
    /// The count is higher than any seen for this nonce; it is now recorded.
    Accepted,
    /// The count was already used (or is 0): a replay (RFC 7616 §5.5). Retransmissions never
    /// get here in SIP: the server transaction absorbs them (RFC 3261 §17.2).
    Replay,
    /// The nonce's history was dropped (evicted for room, or issued before
    /// [`NonceCounter::forget_before`]): replay cannot be ruled out, so answer with a new
    /// challenge and `stale=true`; the client re-authenticates with a fresh nonce.
    Forgotten,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The highest count accepted; 0 while only failures were seen.
    nc: u32,
    issued: u64,
    /// Wrong responses seen with this nonce ([`NonceCounter::fail`]).
    failures: u32,
}

/// Remembers, per nonce, the highest `nc` accepted, and rejects any count not above it.
///
/// Memory is bounded: at most `capacity` nonces are tracked; when full, the one tracked
/// longest is evicted. Every nonce issued at or before the issue time of an evicted or expired
/// entry is then [`NcCheck::Forgotten`], so eviction never opens a replay window: the client
/// just re-authenticates via `stale=true`. Entries whose nonce is older than `max_age` (use the
/// same or a larger `max_age` as for [`NonceKey::check`]) are dropped as `now` advances.
/// No clock is read: `now` and the nonce's issue time are passed in.
#[derive(Debug, Clone)]
pub struct NonceCounter {
    capacity: usize,
    max_age: u64,
    entries: HashMap<Box<str>, Entry>,
    order: VecDeque<Box<str>>,
    floor: Option<u64>,
}

impl NonceCounter {
    /// A counter tracking at most `capacity` nonces (at least 1) for `max_age` seconds.
    pub fn new(capacity: usize, max_age: u64) -> Self {
        NonceCounter {
            capacity: capacity.max(1),
            max_age,
            entries: HashMap::new(),
            order: VecDeque::new(),
            floor: None,
        }
    }

    /// Number of nonces tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Treats every nonce issued at or before `issued` as [`NcCheck::Forgotten`]. Call with
    /// the start time after a restart (the counts of the previous run are lost) unless the
    /// nonce key was changed.
    pub fn forget_before(&mut self, issued: u64) {
        self.raise_floor(issued);
    }

    fn raise_floor(&mut self, issued: u64) {
        self.floor = Some(self.floor.map_or(issued, |f| f.max(issued)));
    }

    /// Drops entries of nonces older than `max_age` at `now`.
    pub fn purge(&mut self, now: u64) {
        while let Some(front) = self.order.front() {
            match self.entries.get(front) {
                Some(e) if now.saturating_sub(e.issued) <= self.max_age => break,
                _ => self.evict_front(),
            }
        }
    }

    fn evict_front(&mut self) {
        if let Some(key) = self.order.pop_front() {
            if let Some(e) = self.entries.remove(&key) {
                self.raise_floor(e.issued);
            }
        }
    }

    /// Checks and records nonce count `nc` for `nonce`, issued at `issued` (from
    /// [`NonceCheck::Valid`]), at `now`.
    pub fn check(&mut self, nonce: &str, issued: u64, nc: u32, now: u64) -> NcCheck {
        self.purge(now);
        if nc == 0 {
            return NcCheck::Replay;
        }
        if let Some(e) = self.entries.get_mut(nonce) {
            if nc <= e.nc {
                return NcCheck::Replay;
            }
            e.nc = nc;
            return NcCheck::Accepted;
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return NcCheck::Forgotten;
        }
        while self.entries.len() >= self.capacity {
            self.evict_front();
        }
        // The new nonce may have been issued in the same second as the evicted one; then it is
        // now under the floor although never seen. Refusing it is safe, and only happens when
        // the table is full of nonces from this very second.
        if self.floor.is_some_and(|f| issued <= f) {
            return NcCheck::Forgotten;
        }
        self.insert(
            nonce,
            Entry {
                nc,
                issued,
                failures: 0,
            },
        );
        NcCheck::Accepted
    }

    fn insert(&mut self, nonce: &str, entry: Entry) {
        let key: Box<str> = nonce.into();
        self.order.push_back(key.clone());
        self.entries.insert(key, entry);
    }

    /// Records a wrong response made with `nonce` (issued at `issued`, authentic) and
    /// answers how many this nonce has had. A nonce whose history cannot be kept (issued
    /// before the floor) answers `u32::MAX`: it is done for anyway.
    pub fn fail(&mut self, nonce: &str, issued: u64, now: u64) -> u32 {
        self.purge(now);
        if let Some(e) = self.entries.get_mut(nonce) {
            e.failures = e.failures.saturating_add(1);
            return e.failures;
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return u32::MAX;
        }
        while self.entries.len() >= self.capacity {
            self.evict_front();
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return u32::MAX;
        }
        self.insert(
            nonce,
            Entry {
                nc: 0,
                issued,
                failures: 1,
            },
        );
        1
    }

    /// The wrong responses recorded for `nonce` ([`NonceCounter::fail`]).
    pub fn failures(&self, nonce: &str) -> u32 {
        self.entries.get(nonce).map_or(0, |e| e.failures)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;

    #[test]
    fn issue_and_check() {
        let k = NonceKey::new(b"secret key bytes");
        let n = k.issue(T, "example.com", 42);
        assert_eq!(n.len(), 64);
        assert_ne!(n, k.issue(T, "example.com", 43));
        assert_eq!(
            k.check(&n, "example.com", T + 5, 300),
            NonceCheck::Valid { issued: T }
        );
        assert_eq!(k.check(&n, "example.com", T + 301, 300), NonceCheck::Stale);
        assert_eq!(k.check(&n, "example.org", T, 300), NonceCheck::Invalid);
        assert_eq!(
            NonceKey::new(b"other").check(&n, "example.com", T, 300),
            NonceCheck::Invalid
        );
        // From the future.
        assert_eq!(
            k.check(&n, "example.com", T - NONCE_CLOCK_SKEW - 1, 300),
            NonceCheck::Invalid
        );
        assert_eq!(
            k.check(&n, "example.com", T - NONCE_CLOCK_SKEW, 300),
            NonceCheck::Valid { issued: T }
        );
    }

    #[test]
    fn tampering_is_detected() {
        let k = NonceKey::new(b"");
        let n = k.issue(T, "r", 1);
        for i in 0..n.len() {
            let mut b = n.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(b).unwrap();
            assert_eq!(k.check(&t, "r", T, 300), NonceCheck::Invalid, "byte {i}");
        }
        assert_eq!(k.check(&n.to_uppercase(), "r", T, 300), NonceCheck::Invalid);
        assert_eq!(k.check(&n[..62], "r", T, 300), NonceCheck::Invalid);
        assert_eq!(k.check("", "r", T, 300), NonceCheck::Invalid);
        assert_eq!(k.check("ü", "r", T, 300), NonceCheck::Invalid);
    }

    #[test]
    fn counts_must_increase() {
        let mut c = NonceCounter::new(10, 300);
        assert_eq!(c.check("a", T, 1, T), NcCheck::Accepted);
        assert_eq!(c.check("a", T, 1, T), NcCheck::Replay);
        assert_eq!(c.check("a", T, 3, T), NcCheck::Accepted);
        assert_eq!(c.check("a", T, 2, T), NcCheck::Replay);
        assert_eq!(c.check("b", T, 0, T), NcCheck::Replay);
        // First sighting with a count above 1 (reordering) is fine.
        assert_eq!(c.check("b", T, 2, T), NcCheck::Accepted);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn bounded_with_eviction_floor() {
        let mut c = NonceCounter::new(2, 300);
        assert_eq!(c.check("a", T, 1, T), NcCheck::Accepted);
        assert_eq!(c.check("b", T + 1, 1, T + 1), NcCheck::Accepted);
        assert_eq!(c.check("c", T + 2, 1, T + 2), NcCheck::Accepted);
        assert_eq!(c.len(), 2);
        // "a" was evicted: replaying its first request is refused, not accepted.
        assert_eq!(c.check("a", T, 1, T + 2), NcCheck::Forgotten);
        assert_eq!(c.check("a", T, 2, T + 2), NcCheck::Forgotten);
        assert_eq!(c.check("b", T + 1, 1, T + 2), NcCheck::Replay);
        assert_eq!(c.check("d", T + 3, 1, T + 3), NcCheck::Accepted);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn failures_are_counted_per_nonce() {
        let mut c = NonceCounter::new(10, 300);
        assert_eq!(c.fail("a", T, T), 1);
        assert_eq!(c.fail("a", T, T), 2);
        assert_eq!(c.failures("a"), 2);
        assert_eq!(c.failures("b"), 0);
        // A nonce with failures only still takes its first count.
        assert_eq!(c.check("a", T, 1, T), NcCheck::Accepted);
        assert_eq!(c.check("a", T, 1, T), NcCheck::Replay);
        assert_eq!(c.failures("a"), 2);
    }

    #[test]
    fn expires_by_age() {
        let mut c = NonceCounter::new(100, 300);
        assert_eq!(c.check("a", T, 1, T), NcCheck::Accepted);
        assert_eq!(c.check("b", T + 100, 1, T + 100), NcCheck::Accepted);
        c.purge(T + 301);
        assert_eq!(c.len(), 1);
        c.purge(T + 401);
        assert!(c.is_empty());
        c.forget_before(T + 500);
        assert_eq!(c.check("z", T + 500, 1, T + 501), NcCheck::Forgotten);
        assert_eq!(c.check("y", T + 501, 1, T + 501), NcCheck::Accepted);
    }
}
