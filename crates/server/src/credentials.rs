//! The subscribers' digest credentials in memory: a cache in front of
//! [`Store::credentials`] so that an authenticated request (RFC 3261 §22) does not cost a
//! database query each time (Kamailio's `auth_db` reads the database for every one).
//!
//! - Entries are keyed by the digest username as the request gives it and the realm, and
//!   remember "no such subscriber" as well as the HA1 values, so repeated guesses at a name
//!   do not reach the database either.
//! - Validity: when used, the cache asks [`Store::subscribers_version`] at most once per
//!   [`CHECK_INTERVAL`] and forgets everything when the version has moved. The version is
//!   bumped by triggers in the database on every change of a subscriber, whoever makes it
//!   (`itsp user passwd` in another process, another node on PostgreSQL), so a new
//!   password works, and the old one stops working, about a second later.
//! - Bounded: at most [`MAX_ENTRIES`] entries, and names no subscriber can have (longer than
//!   [`MAX_KEY_LEN`]) are never kept, so a scanner trying user names (`svwar`) cannot grow
//!   memory without bound. When full, the unknown names go first.
//! - Store errors are returned and never remembered.
//!
//! The clock is an argument, so the tests run on simulated time. The mutex is held only for
//! map work, never across a query.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::{Ha1s, Store, StoreError};

use crate::core::lock;

/// How often, at most, the store is asked whether the subscribers changed: the longest a
/// changed or removed password keeps working (plus one query's time).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The most entries kept: a few hundred bytes each, some tens of MB when full.
pub const MAX_ENTRIES: usize = 100_000;

/// The longest digest username plus realm, in bytes, that is kept. A subscriber's user part
/// is at most 128 bytes and a domain at most 253, so a longer key is never a subscriber;
/// the store answers such names without a query.
pub const MAX_KEY_LEN: usize = 512;

/// The credentials cache (one per server, shared by every request).
pub struct Credentials {
    store: Store,
    cache: Mutex<Cache>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = lock(&self.cache);
        f.debug_struct("Credentials")
            .field("entries", &cache.len)
            .field("version", &cache.version)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// An empty cache in front of `store`.
    pub fn new(store: Store) -> Credentials {
        Credentials {
            store,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// What [`Store::credentials`] says for the digest `username` in `realm`, from memory
    /// when it was asked before and the subscribers have not changed since. `now` is the
    /// time of the request.
    pub async fn lookup(
        &self,
        username: &str,
        realm: &str,
        now: Instant,
    ) -> Result<Option<Ha1s>, StoreError> {
        let due = lock(&self.cache).check_due(now);
        if due {
            match self.store.subscribers_version().await {
                Ok(version) => lock(&self.cache).checked(version),
                Err(e) => {
                    lock(&self.cache).check_failed();
                    return Err(e);
                }
            }
        }
        let generation = {
            let cache = lock(&self.cache);
            if let Some(known) = cache.get(realm, username) {
                return Ok(known);
            }
            cache.generation
        };
        let found = self.store.credentials(username, realm).await?;
        lock(&self.cache).insert(generation, realm, username, found.clone());
        Ok(found)
    }

    /// How many entries are kept now.
    pub fn len(&self) -> usize {
        lock(&self.cache).len
    }

    /// Whether nothing is kept now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The synchronous part: the entries and when they were last known to be current.
#[derive(Debug, Default)]
struct Cache {
    /// Realm → digest username → what the store answered (`None`: no such subscriber).
    realms: HashMap<String, HashMap<String, Option<Ha1s>>>,
    /// Entries over all realms.
    len: usize,
    /// The subscribers' version the entries belong to; `None` before the first check.
    version: Option<i64>,
    /// When the last version check started; `None` for "check at the next use".
    checked_at: Option<Instant>,
    /// Goes up whenever the entries are dropped for a new version. An answer read from the
    /// store under an older generation may predate the change and is not kept.
    generation: u64,
}

impl Cache {
    /// Whether the version is to be asked now; if so, the interval is taken (concurrent
    /// requests meanwhile use the entries as they are, which are at most this old).
    fn check_due(&mut self, now: Instant) -> bool {
        let due = self
            .checked_at
            .is_none_or(|at| now.saturating_duration_since(at) >= CHECK_INTERVAL);
        if due {
            self.checked_at = Some(now);
        }
        due
    }

    /// The store answered the check with `version`.
    fn checked(&mut self, version: i64) {
        if self.version != Some(version) {
            if self.len > 0 {
                tracing::debug!(
                    version,
                    entries = self.len,
                    "subscribers changed: credentials forgotten"
                );
            }
            self.realms.clear();
            self.len = 0;
            self.generation += 1;
            self.version = Some(version);
        }
    }

    /// The check failed: the next use checks again.
    fn check_failed(&mut self) {
        self.checked_at = None;
    }

    /// The answer kept for `username` in `realm`, if any.
    fn get(&self, realm: &str, username: &str) -> Option<Option<Ha1s>> {
        self.realms.get(realm)?.get(username).cloned()
    }

    /// Keeps the store's answer for `username` in `realm`, read under `generation`.
    fn insert(&mut self, generation: u64, realm: &str, username: &str, found: Option<Ha1s>) {
        if generation != self.generation || realm.len() + username.len() > MAX_KEY_LEN {
            return;
        }
        let known = self
            .realms
            .get(realm)
            .is_some_and(|users| users.contains_key(username));
        if !known && self.len >= MAX_ENTRIES {
            self.make_room();
        }
        let users = match self.realms.get_mut(realm) {
            Some(users) => users,
            None => self.realms.entry(realm.to_owned()).or_default(),
        };
        if users.insert(username.to_owned(), found).is_none() {
            self.len += 1;
        }
    }

    /// Drops the unknown names (what a scanner leaves behind); everything if that frees
    /// less than half, so filling up again takes at least `MAX_ENTRIES / 2` new names.
    fn make_room(&mut self) {
        for users in self.realms.values_mut() {
            users.retain(|_, found| found.is_some());
        }
        self.realms.retain(|_, users| !users.is_empty());
        self.len = self.realms.values().map(HashMap::len).sum();
        if self.len > MAX_ENTRIES / 2 {
            self.realms.clear();
            self.len = 0;
        }
        tracing::debug!(
            entries = self.len,
            "credentials cache full: unknown names dropped"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ha1s(tag: &str) -> Ha1s {
        Ha1s {
            md5: format!("md5-{tag}"),
            sha256: format!("sha256-{tag}"),
        }
    }

    /// A cache that has checked once, at `t0`, and found version 1.
    fn checked_cache(t0: Instant) -> Cache {
        let mut c = Cache::default();
        assert!(c.check_due(t0));
        c.checked(1);
        c
    }

    #[test]
    fn the_version_is_asked_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut c = Cache::default();
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
        let t0 = Instant::now();
        let mut c = checked_cache(t0);
        c.insert(c.generation, "example.com", "alice", Some(ha1s("a")));
        c.insert(c.generation, "example.com", "nobody", None);
        assert_eq!(c.get("example.com", "alice"), Some(Some(ha1s("a"))));
        assert_eq!(c.get("example.com", "nobody"), Some(None));
        assert_eq!(c.get("example.com", "bob"), None);
        assert_eq!(c.get("example.org", "alice"), None);
        assert_eq!(c.len, 2);

        c.checked(1);
        assert_eq!(c.len, 2);
        assert_eq!(c.get("example.com", "alice"), Some(Some(ha1s("a"))));

        c.checked(2);
        assert_eq!(c.len, 0);
        assert_eq!(c.get("example.com", "alice"), None);
        assert_eq!(c.get("example.com", "nobody"), None);
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        // A request reads the old password from the store while a check sees the new
        // version and clears the cache; its answer arrives after the clear.
        let mut c = checked_cache(Instant::now());
        let read_under = c.generation;
        c.checked(2);
        c.insert(read_under, "example.com", "alice", Some(ha1s("old")));
        assert_eq!(c.get("example.com", "alice"), None);
        c.insert(c.generation, "example.com", "alice", Some(ha1s("new")));
        assert_eq!(c.get("example.com", "alice"), Some(Some(ha1s("new"))));
    }

    #[test]
    fn names_no_subscriber_can_have_are_not_kept() {
        let mut c = checked_cache(Instant::now());
        let realm = "example.com";
        let longest = "u".repeat(MAX_KEY_LEN - realm.len());
        let too_long = "u".repeat(MAX_KEY_LEN - realm.len() + 1);
        c.insert(c.generation, realm, &longest, None);
        c.insert(c.generation, realm, &too_long, None);
        assert_eq!(c.get(realm, &longest), Some(None));
        assert_eq!(c.get(realm, &too_long), None);
        assert_eq!(c.len, 1);
    }

    #[test]
    fn a_scanner_cannot_grow_it_past_the_bound_and_subscribers_stay() {
        let mut c = checked_cache(Instant::now());
        let g = c.generation;
        c.insert(g, "example.com", "alice", Some(ha1s("a")));
        c.insert(g, "example.net", "bob", Some(ha1s("b")));
        let mut most = 0;
        for i in 0..MAX_ENTRIES + MAX_ENTRIES / 2 {
            c.insert(g, "example.com", &format!("guess{i}"), None);
            most = most.max(c.len);
            assert_eq!(
                c.len,
                c.realms.values().map(HashMap::len).sum::<usize>(),
                "count kept in step"
            );
        }
        assert_eq!(most, MAX_ENTRIES);
        assert!(c.len < MAX_ENTRIES);
        assert_eq!(c.get("example.com", "alice"), Some(Some(ha1s("a"))));
        assert_eq!(c.get("example.net", "bob"), Some(Some(ha1s("b"))));
        // The newest guess is kept, the first ones went.
        let last = format!("guess{}", MAX_ENTRIES + MAX_ENTRIES / 2 - 1);
        assert_eq!(c.get("example.com", &last), Some(None));
        assert_eq!(c.get("example.com", "guess0"), None);
    }

    #[test]
    fn when_full_of_subscribers_everything_goes() {
        let mut c = checked_cache(Instant::now());
        let g = c.generation;
        for i in 0..MAX_ENTRIES {
            c.insert(g, "example.com", &format!("user{i}"), Some(ha1s("x")));
        }
        assert_eq!(c.len, MAX_ENTRIES);
        // Replacing a kept entry needs no room.
        c.insert(g, "example.com", "user0", Some(ha1s("y")));
        assert_eq!(c.len, MAX_ENTRIES);
        assert_eq!(c.get("example.com", "user0"), Some(Some(ha1s("y"))));
        c.insert(g, "example.com", "one-more", None);
        assert_eq!(c.len, 1);
        assert_eq!(c.get("example.com", "one-more"), Some(None));
    }

    /// A store with example.com and alice (password "a") in a temporary directory.
    async fn store_with_alice() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        store.add_domain("example.com").await.unwrap();
        store
            .add_subscriber("alice", "example.com", "a", None)
            .await
            .unwrap();
        (dir, store)
    }

    const HALF: Duration = Duration::from_millis(500);

    #[tokio::test]
    async fn a_new_password_is_used_after_the_next_check() {
        let (_dir, store) = store_with_alice().await;
        let creds = Credentials::new(store.clone());
        let t0 = Instant::now();
        let old = store.credentials("alice", "example.com").await.unwrap();
        assert!(old.is_some());
        assert_eq!(creds.lookup("alice", "example.com", t0).await.unwrap(), old);

        store
            .set_password("alice", "example.com", "b")
            .await
            .unwrap();
        let new = store.credentials("alice", "example.com").await.unwrap();
        assert_ne!(new, old);
        // Within the interval the kept answer is used: the store is not asked.
        let soon = creds.lookup("alice", "example.com", t0 + HALF).await;
        assert_eq!(soon.unwrap(), old);
        let later = creds
            .lookup("alice", "example.com", t0 + CHECK_INTERVAL)
            .await;
        assert_eq!(later.unwrap(), new);
    }

    #[tokio::test]
    async fn unknown_names_added_and_removed_subscribers() {
        let (_dir, store) = store_with_alice().await;
        let creds = Credentials::new(store.clone());
        let t0 = Instant::now();
        assert_eq!(creds.lookup("bob", "example.com", t0).await.unwrap(), None);
        // The full address is another digest username (ha1b), kept apart.
        let full = creds.lookup("alice@example.com", "example.com", t0).await;
        let plain = creds.lookup("alice", "example.com", t0).await;
        assert!(full.as_ref().unwrap().is_some());
        assert!(plain.as_ref().unwrap().is_some());
        assert_ne!(full.unwrap(), plain.unwrap());
        assert_eq!(creds.len(), 3);

        store
            .add_subscriber("bob", "example.com", "b", None)
            .await
            .unwrap();
        store
            .remove_subscriber("alice", "example.com")
            .await
            .unwrap();
        // "No such subscriber" is remembered too, until the next check.
        assert_eq!(
            creds.lookup("bob", "example.com", t0 + HALF).await.unwrap(),
            None
        );
        let t1 = t0 + CHECK_INTERVAL;
        assert!(creds
            .lookup("bob", "example.com", t1)
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            creds.lookup("alice", "example.com", t1).await.unwrap(),
            None
        );
        assert_eq!(creds.len(), 2);
    }

    #[tokio::test]
    async fn store_errors_are_returned_and_not_kept() {
        let (_dir, store) = store_with_alice().await;
        let creds = Credentials::new(store.clone());
        let t0 = Instant::now();
        let alice = creds.lookup("alice", "example.com", t0).await.unwrap();
        assert!(alice.is_some());
        store.close().await;
        // Not kept: the store is asked (and fails) each time.
        for _ in 0..2 {
            let r = creds.lookup("bob", "example.com", t0 + HALF).await;
            assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
        }
        assert_eq!(creds.len(), 1);
        // What was kept is still used within the interval...
        let kept = creds.lookup("alice", "example.com", t0 + HALF).await;
        assert_eq!(kept.unwrap(), alice);
        // ...then the check fails, and fails again at the next use.
        for late in [CHECK_INTERVAL, CHECK_INTERVAL + Duration::from_millis(1)] {
            let r = creds.lookup("alice", "example.com", t0 + late).await;
            assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
        }
    }
}
