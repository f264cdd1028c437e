//! [`Entries`]: answers of the store kept in memory and forgotten when the table they come
//! from changes, so that a request does not cost a database query each time. The engine
//! keeps the subscribers' HA1 values and their call forwarding this way
//! (`engine/facts.rs`); the shell asks the store, the engine only files the answers.
//!
//! - Entries are keyed by two strings, a scope (a realm, a domain) and a name in it (a
//!   digest username, a user), and hold whatever the store answered, "nothing" included.
//! - Validity: when used, the engine asks `Store::table_version` of its table at most once
//!   per [`CHECK_INTERVAL`] and forgets everything when the version has moved. The version
//!   is bumped by triggers in the database on every change of the table, whoever makes it
//!   (an `itsp user ...` command in another process, another node on PostgreSQL), so a
//!   change takes effect about a second later.
//! - Bounded ([`Bounds`]): at most so many entries, and keys longer than any the store can
//!   hold are never kept, so a scanner trying names cannot grow memory without bound. When
//!   full, the entries the owner calls expendable (the "no such subscriber" answers) go
//!   first.
//! - Store errors are returned and never remembered.
//!
//! The clock is an argument, so the tests run on simulated time.

use ahash::HashMap;
use std::time::{Duration, Instant};

/// How often, at most, the store is asked whether a cached table changed: the longest a
/// changed row keeps its old effect (plus one query's time).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The most entries a cache keeps: a few hundred bytes each, some tens of MB when full.
pub const MAX_ENTRIES: usize = 100_000;

/// The longest scope plus name, in bytes, that is kept. A subscriber's user part is at most
/// 128 bytes and a domain at most 253, so a longer key is never a subscriber; the store
/// answers such names without a query.
pub const MAX_KEY_LEN: usize = 512;

/// How large a cache may grow, and what it drops first when full.
pub struct Bounds<V> {
    /// The most entries kept.
    pub max_entries: usize,
    /// The longest scope plus name, in bytes, that is kept.
    pub max_key_len: usize,
    /// Whether an answer is cheap to lose (such as "no such subscriber", what a scanner
    /// leaves behind): these go first when the cache is full.
    pub expendable: fn(&V) -> bool,
}

/// The synchronous part: the entries and when they were last known to be current.
pub struct Entries<V> {
    /// For the logs.
    table: &'static str,
    bounds: Bounds<V>,
    /// Scope → name → what the store answered.
    scopes: HashMap<String, HashMap<String, V>>,
    /// Entries over all scopes.
    pub(crate) len: usize,
    /// The table's version the entries belong to; `None` before the first check.
    version: Option<i64>,
    /// When the last version check started; `None` for "check at the next use".
    checked_at: Option<Instant>,
    /// Goes up whenever the entries are dropped for a new version. An answer read from the
    /// store under an older generation may predate the change and is not kept.
    pub(crate) generation: u64,
}

impl<V: Clone> Entries<V> {
    /// No entries, not checked yet.
    pub(crate) fn new(table: &'static str, bounds: Bounds<V>) -> Entries<V> {
        Entries {
            table,
            bounds,
            scopes: HashMap::default(),
            len: 0,
            version: None,
            checked_at: None,
            generation: 0,
        }
    }

    /// Whether the version is to be asked now; if so, the interval is taken (concurrent
    /// requests meanwhile use the entries as they are, which are at most this old).
    pub(crate) fn check_due(&mut self, now: Instant) -> bool {
        let due = self
            .checked_at
            .is_none_or(|at| now.saturating_duration_since(at) >= CHECK_INTERVAL);
        if due {
            self.checked_at = Some(now);
        }
        due
    }

    /// The store answered the check with `version`.
    pub(crate) fn checked(&mut self, version: i64) {
        if self.version != Some(version) {
            if self.len > 0 {
                tracing::debug!(
                    table = self.table,
                    version,
                    entries = self.len,
                    "table changed: cached answers forgotten"
                );
            }
            self.scopes.clear();
            self.len = 0;
            self.generation += 1;
            self.version = Some(version);
        }
    }

    /// Forgets every entry at once, without waiting for the table's version to move (an
    /// operator disabled a subscriber: their cached answer must not serve another
    /// request). Answers read before are not kept either (the generation moves).
    pub(crate) fn forget_all(&mut self) {
        self.scopes.clear();
        self.len = 0;
        self.generation += 1;
    }

    /// The check failed: the next use checks again.
    pub(crate) fn check_failed(&mut self) {
        self.checked_at = None;
    }

    /// The answer kept for `name` in `scope`, if any.
    pub(crate) fn get(&self, scope: &str, name: &str) -> Option<V> {
        self.scopes.get(scope)?.get(name).cloned()
    }

    /// Keeps the store's answer for `name` in `scope`, read under `generation`.
    pub(crate) fn insert(&mut self, generation: u64, scope: &str, name: &str, found: V) {
        if generation != self.generation || scope.len() + name.len() > self.bounds.max_key_len {
            return;
        }
        let known = self
            .scopes
            .get(scope)
            .is_some_and(|names| names.contains_key(name));
        if !known && self.len >= self.bounds.max_entries {
            self.make_room();
        }
        let names = match self.scopes.get_mut(scope) {
            Some(names) => names,
            None => self.scopes.entry(scope.to_owned()).or_default(),
        };
        if names.insert(name.to_owned(), found).is_none() {
            self.len += 1;
        }
    }

    /// Drops the expendable answers; everything if that frees less than half, so filling
    /// up again takes at least `max_entries / 2` new names.
    fn make_room(&mut self) {
        let expendable = self.bounds.expendable;
        for names in self.scopes.values_mut() {
            names.retain(|_, found| !expendable(found));
        }
        self.scopes.retain(|_, names| !names.is_empty());
        self.len = self.scopes.values().map(HashMap::len).sum();
        if self.len > self.bounds.max_entries / 2 {
            self.scopes.clear();
            self.len = 0;
        }
        tracing::debug!(
            table = self.table,
            entries = self.len,
            "cache full: expendable answers dropped"
        );
    }

    /// Whether `len` is the number of entries (for tests).
    #[cfg(test)]
    pub(crate) fn len_in_step(&self) -> bool {
        self.len == self.scopes.values().map(HashMap::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Small bounds; `None` ("no such name") is expendable.
    fn bounds() -> Bounds<Option<u32>> {
        Bounds {
            max_entries: 10,
            max_key_len: 20,
            expendable: Option::is_none,
        }
    }

    /// Entries that have checked once, at `t0`, and found version 1.
    fn checked_entries(t0: Instant) -> Entries<Option<u32>> {
        let mut c = Entries::new("t", bounds());
        assert!(c.check_due(t0));
        c.checked(1);
        c
    }

    #[test]
    fn the_version_is_asked_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut c = Entries::new("t", bounds());
        assert!(c.check_due(t0), "the first use checks");
        assert!(!c.check_due(t0), "a check in flight takes the interval");
        assert!(!c.check_due(t0 + CHECK_INTERVAL - Duration::from_millis(1)));
        assert!(c.check_due(t0 + CHECK_INTERVAL));
        assert!(!c.check_due(t0 + CHECK_INTERVAL + Duration::from_millis(500)));
        // A failed check is tried again at the next use, not an interval later.
        c.check_failed();
        assert!(c.check_due(t0 + CHECK_INTERVAL + Duration::from_millis(501)));
        // A clock read before the last check does not count as late.
        assert!(!c.check_due(t0));
    }

    #[test]
    fn a_new_version_forgets_everything_the_same_keeps_it() {
        let mut c = checked_entries(Instant::now());
        c.insert(c.generation, "example.com", "alice", Some(1));
        c.insert(c.generation, "example.com", "nobody", None);
        assert_eq!(c.get("example.com", "alice"), Some(Some(1)));
        assert_eq!(c.get("example.com", "nobody"), Some(None));
        assert_eq!(c.get("example.com", "bob"), None);
        assert_eq!(c.get("example.org", "alice"), None);
        assert_eq!(c.len, 2);

        c.checked(1);
        assert_eq!(c.len, 2);
        assert_eq!(c.get("example.com", "alice"), Some(Some(1)));

        c.checked(2);
        assert_eq!(c.len, 0);
        assert_eq!(c.get("example.com", "alice"), None);
        assert_eq!(c.get("example.com", "nobody"), None);
    }

    #[test]
    fn forgetting_all_drops_entries_and_answers_in_flight() {
        let mut c = checked_entries(Instant::now());
        c.insert(c.generation, "example.com", "alice", Some(1));
        let read_under = c.generation;
        c.forget_all();
        assert_eq!((c.len, c.get("example.com", "alice")), (0, None));
        // An answer read before is not kept; one read after is.
        c.insert(read_under, "example.com", "alice", Some(1));
        assert_eq!(c.get("example.com", "alice"), None);
        c.insert(c.generation, "example.com", "alice", None);
        assert_eq!(c.get("example.com", "alice"), Some(None));
        // The table's version is unchanged: the next check keeps what was read since.
        c.checked(1);
        assert_eq!(c.get("example.com", "alice"), Some(None));
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        // A request reads the old row from the store while a check sees the new version and
        // clears the cache; its answer arrives after the clear.
        let mut c = checked_entries(Instant::now());
        let read_under = c.generation;
        c.checked(2);
        c.insert(read_under, "example.com", "alice", Some(1));
        assert_eq!(c.get("example.com", "alice"), None);
        c.insert(c.generation, "example.com", "alice", Some(2));
        assert_eq!(c.get("example.com", "alice"), Some(Some(2)));
    }

    #[test]
    fn keys_longer_than_the_bound_are_not_kept() {
        let mut c = checked_entries(Instant::now());
        let scope = "example.com";
        let longest = "u".repeat(bounds().max_key_len - scope.len());
        let too_long = "u".repeat(bounds().max_key_len - scope.len() + 1);
        c.insert(c.generation, scope, &longest, None);
        c.insert(c.generation, scope, &too_long, None);
        assert_eq!(c.get(scope, &longest), Some(None));
        assert_eq!(c.get(scope, &too_long), None);
        assert_eq!(c.len, 1);
    }

    #[test]
    fn when_full_the_expendable_go_first() {
        let max = bounds().max_entries;
        let mut c = checked_entries(Instant::now());
        let g = c.generation;
        c.insert(g, "example.com", "alice", Some(1));
        c.insert(g, "example.net", "bob", Some(2));
        let mut most = 0;
        for i in 0..max * 3 {
            c.insert(g, "example.com", &format!("guess{i}"), None);
            most = most.max(c.len);
            assert!(c.len_in_step(), "count kept in step");
        }
        assert_eq!(most, max);
        assert!(c.len < max);
        assert_eq!(c.get("example.com", "alice"), Some(Some(1)));
        assert_eq!(c.get("example.net", "bob"), Some(Some(2)));
        // The newest guess is kept, the first ones went.
        let last = format!("guess{}", max * 3 - 1);
        assert_eq!(c.get("example.com", &last), Some(None));
        assert_eq!(c.get("example.com", "guess0"), None);
    }

    #[test]
    fn when_full_of_keepers_everything_goes() {
        let max = bounds().max_entries;
        let mut c = checked_entries(Instant::now());
        let g = c.generation;
        for i in 0..max {
            c.insert(g, "example.com", &format!("user{i}"), Some(1));
        }
        assert_eq!(c.len, max);
        // Replacing a kept entry needs no room.
        c.insert(g, "example.com", "user0", Some(2));
        assert_eq!(c.len, max);
        assert_eq!(c.get("example.com", "user0"), Some(Some(2)));
        c.insert(g, "example.com", "one-more", None);
        assert_eq!(c.len, 1);
        assert_eq!(c.get("example.com", "one-more"), Some(None));
    }
}
