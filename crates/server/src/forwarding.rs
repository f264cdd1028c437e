//! The subscribers' call forwarding in memory: a cache in front of [`Store::forwarding`],
//! which the proxy asks for every INVITE to a local user (`local_call` in the policy), so
//! that a call does not cost a database query (a hand-off to sqlx's SQLite thread and back,
//! about a tenth of the server's CPU per call).
//!
//! A [`VersionedCache`] of the preferences table (see [`crate::cache`] for the machinery):
//!
//! - Entries are keyed by the subscriber's user and domain (after alias resolution), and
//!   remember "nothing set" as well as the forwarding targets.
//! - Validity: the preferences' change counter ([`Store::table_version`] of
//!   [`PREFERENCES_TABLE`]) is asked at most once per
//!   [`CHECK_INTERVAL`](crate::cache::CHECK_INTERVAL), and everything is
//!   forgotten when it has moved: `itsp user set ... forward-always=...` in another process
//!   takes effect about a second later. Removing a subscriber removes its preferences,
//!   which moves the counter; a subscriber removed without any is "nothing set" before and
//!   after.
//! - Bounded: at most [`MAX_ENTRIES`] entries, keys longer than [`MAX_KEY_LEN`] never kept;
//!   when full, the subscribers with nothing set go first.
//! - Store errors are returned and never remembered.

use std::time::Instant;

use store::{Forwarding, Store, StoreError, PREFERENCES_TABLE};

use crate::cache::{Bounds, VersionedCache, MAX_ENTRIES, MAX_KEY_LEN};

/// The forwarding cache (one per server, shared by every call).
#[derive(Debug)]
pub struct ForwardingCache {
    /// Domain → user → the subscriber's forwarding.
    cache: VersionedCache<Forwarding>,
}

/// Whether `forwarding` sets nothing (the common case, and cheap to lose).
fn nothing_set(forwarding: &Forwarding) -> bool {
    *forwarding == Forwarding::default()
}

impl ForwardingCache {
    /// An empty cache in front of `store`.
    pub fn new(store: Store) -> ForwardingCache {
        let bounds = Bounds {
            max_entries: MAX_ENTRIES,
            max_key_len: MAX_KEY_LEN,
            expendable: nothing_set,
        };
        ForwardingCache {
            cache: VersionedCache::new(store, PREFERENCES_TABLE, bounds),
        }
    }

    /// What [`Store::forwarding`] says for the subscriber `user@domain`, from memory when it
    /// was asked before and no preference has changed since. `now` is the time of the call.
    pub async fn lookup(
        &self,
        user: &str,
        domain: &str,
        now: Instant,
    ) -> Result<Forwarding, StoreError> {
        let store = self.cache.store();
        self.cache
            .get_or_load(domain, user, now, || store.forwarding(user, domain))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cache::testing::{store_with_alice, HALF};
    use crate::cache::CHECK_INTERVAL;

    const CAROL: &str = "sip:carol@example.com";

    #[tokio::test]
    async fn a_new_forwarding_is_used_after_the_next_check() {
        let (_dir, store) = store_with_alice().await;
        let cache = ForwardingCache::new(store.clone());
        let t0 = Instant::now();
        let none = cache.lookup("alice", "example.com", t0).await.unwrap();
        assert_eq!(none, Forwarding::default());

        store
            .set_preference("alice", "example.com", "forward-always", CAROL)
            .await
            .unwrap();
        // Within the interval the kept answer is used: the store is not asked.
        let soon = cache.lookup("alice", "example.com", t0 + HALF).await;
        assert_eq!(soon.unwrap(), none);
        let later = cache
            .lookup("alice", "example.com", t0 + CHECK_INTERVAL)
            .await
            .unwrap();
        assert_eq!(later.always.as_deref(), Some(CAROL));
        assert_eq!(
            later,
            store.forwarding("alice", "example.com").await.unwrap()
        );

        // Cleared: back to nothing after the next check.
        store
            .remove_preference("alice", "example.com", "forward-always")
            .await
            .unwrap();
        let t1 = t0 + CHECK_INTERVAL * 2;
        let cleared = cache.lookup("alice", "example.com", t1).await.unwrap();
        assert_eq!(cleared, Forwarding::default());
    }

    #[tokio::test]
    async fn only_preference_changes_forget_and_removal_counts() {
        let (_dir, store) = store_with_alice().await;
        store
            .add_subscriber("bob", "example.com", "b", None)
            .await
            .unwrap();
        store
            .set_preference("bob", "example.com", "forward-busy", CAROL)
            .await
            .unwrap();
        let cache = ForwardingCache::new(store.clone());
        let t0 = Instant::now();
        for user in ["alice", "bob", "nobody"] {
            cache.lookup(user, "example.com", t0).await.unwrap();
        }
        assert_eq!(cache.cache.len(), 3);

        // A new password moves the subscribers' counter, not this one.
        store
            .set_password("alice", "example.com", "new")
            .await
            .unwrap();
        let t1 = t0 + CHECK_INTERVAL;
        cache.lookup("alice", "example.com", t1).await.unwrap();
        assert_eq!(cache.cache.len(), 3);

        // Bob removed with his preferences: forgotten at the next check.
        store.remove_subscriber("bob", "example.com").await.unwrap();
        let t2 = t1 + CHECK_INTERVAL;
        let bob = cache.lookup("bob", "example.com", t2).await.unwrap();
        assert_eq!(bob, Forwarding::default());
        assert_eq!(cache.cache.len(), 1);
    }

    #[tokio::test]
    async fn store_errors_are_returned_and_not_kept() {
        let (_dir, store) = store_with_alice().await;
        let cache = ForwardingCache::new(store.clone());
        let t0 = Instant::now();
        cache.lookup("alice", "example.com", t0).await.unwrap();
        store.close().await;
        for _ in 0..2 {
            let r = cache.lookup("bob", "example.com", t0 + HALF).await;
            assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
        }
        assert_eq!(cache.cache.len(), 1);
        let r = cache
            .lookup("alice", "example.com", t0 + CHECK_INTERVAL)
            .await;
        assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
    }
}
