//! The subscribers' digest credentials in memory: a cache in front of
//! [`Store::credentials`] so that an authenticated request (RFC 3261 §22) does not cost a
//! database query each time (Kamailio's `auth_db` reads the database for every one).
//!
//! A [`VersionedCache`] of the subscribers table (see [`crate::cache`] for the machinery):
//!
//! - Entries are keyed by the digest username as the request gives it and the realm, and
//!   remember "no such subscriber" as well as the HA1 values, so repeated guesses at a name
//!   do not reach the database either.
//! - Validity: [`Store::subscribers_version`] is asked at most once per [`CHECK_INTERVAL`],
//!   and everything is forgotten when it has moved. It is bumped by triggers on every change
//!   of a subscriber, whoever makes it (`itsp user passwd` in another process, another node
//!   on PostgreSQL), so a new password works, and the old one stops working, about a second
//!   later.
//! - Bounded: at most [`MAX_ENTRIES`] entries, and names no subscriber can have (longer than
//!   [`MAX_KEY_LEN`]) are never kept, so a scanner trying user names (`svwar`) cannot grow
//!   memory without bound. When full, the unknown names go first.
//! - Store errors are returned and never remembered.

use std::time::Instant;

use store::{Ha1s, Store, StoreError, SUBSCRIBERS_TABLE};

use crate::cache::{Bounds, VersionedCache};
pub use crate::cache::{CHECK_INTERVAL, MAX_ENTRIES, MAX_KEY_LEN};

/// The credentials cache (one per server, shared by every request).
#[derive(Debug)]
pub struct Credentials {
    /// Realm → digest username → the HA1 values (`None`: no such subscriber).
    cache: VersionedCache<Option<Ha1s>>,
}

/// The bounds of the credentials cache: unknown names are expendable.
fn bounds() -> Bounds<Option<Ha1s>> {
    Bounds {
        max_entries: MAX_ENTRIES,
        max_key_len: MAX_KEY_LEN,
        expendable: Option::is_none,
    }
}

impl Credentials {
    /// An empty cache in front of `store`.
    pub fn new(store: Store) -> Credentials {
        Credentials {
            cache: VersionedCache::new(store, SUBSCRIBERS_TABLE, bounds()),
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
        let store = self.cache.store();
        self.cache
            .get_or_load(realm, username, now, || store.credentials(username, realm))
            .await
    }

    /// How many entries are kept now.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is kept now.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;
    use crate::cache::testing::{store_with_alice, HALF};
    use crate::cache::Entries;

    fn ha1s(tag: &str) -> Ha1s {
        Ha1s {
            md5: format!("md5-{tag}"),
            sha256: format!("sha256-{tag}"),
        }
    }

    #[test]
    fn a_scanner_cannot_grow_it_past_the_bound_and_subscribers_stay() {
        let mut c = Entries::new(SUBSCRIBERS_TABLE, bounds());
        assert!(c.check_due(Instant::now()));
        c.checked(1);
        let g = c.generation;
        c.insert(g, "example.com", "alice", Some(ha1s("a")));
        c.insert(g, "example.net", "bob", Some(ha1s("b")));
        let mut most = 0;
        for i in 0..MAX_ENTRIES + MAX_ENTRIES / 2 {
            c.insert(g, "example.com", &format!("guess{i}"), None);
            most = most.max(c.len);
        }
        assert!(c.len_in_step(), "count kept in step");
        assert_eq!(most, MAX_ENTRIES);
        assert!(c.len < MAX_ENTRIES);
        assert_eq!(c.get("example.com", "alice"), Some(Some(ha1s("a"))));
        assert_eq!(c.get("example.net", "bob"), Some(Some(ha1s("b"))));
        // A name no subscriber can have is not kept at all.
        c.insert(g, "example.com", &"u".repeat(MAX_KEY_LEN), None);
        assert_eq!(c.get("example.com", &"u".repeat(MAX_KEY_LEN)), None);
    }

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
