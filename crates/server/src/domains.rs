//! The served domains (SER's `myself` and `domain` module): which hosts in a Request-URI,
//! To or From are ours. The list lives in the store (`itsp domain add`); this keeps it in
//! memory, asking the store on a miss so a domain added while the server runs is served at
//! once, and reloading the whole list now and then so removed ones stop being served.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use store::{Store, StoreError};

/// How long a host found not served is remembered before the store is asked again (so a
/// flood of requests for foreign domains does not become a flood of queries).
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// The served-domain cache.
#[derive(Debug)]
pub struct Domains {
    store: Store,
    served: RwLock<HashSet<String>>,
    not_served: RwLock<HashMap<String, Instant>>,
}

/// The comparable form of a host: lower case, no trailing dot (RFC 3261 §19.1.4).
pub fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl Domains {
    /// Loads the served domains from the store.
    pub async fn load(store: Store) -> Result<Domains, StoreError> {
        let d = Domains {
            store,
            served: RwLock::default(),
            not_served: RwLock::default(),
        };
        d.reload().await?;
        Ok(d)
    }

    /// Reads the list again from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let list: HashSet<String> = self.store.list_domains().await?.into_iter().collect();
        if let Ok(mut served) = self.served.write() {
            *served = list;
        }
        if let Ok(mut not) = self.not_served.write() {
            not.clear();
        }
        Ok(())
    }

    /// The served domains now known.
    pub fn list(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .served
            .read()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Whether `host` is a served domain known to the cache, without asking the store
    /// (for the synchronous "is this us?" of Route and Request-URI matching; a domain added
    /// a moment ago is known after its first [`Domains::is_served`] or the next reload).
    pub fn is_known(&self, host: &str) -> bool {
        let host = normalize(host);
        self.served.read().is_ok_and(|s| s.contains(&host))
    }

    /// Whether `host` is a served domain.
    pub async fn is_served(&self, host: &str) -> Result<bool, StoreError> {
        let host = normalize(host);
        if self.served.read().is_ok_and(|s| s.contains(&host)) {
            return Ok(true);
        }
        let now = Instant::now();
        let recently_missed = self.not_served.read().is_ok_and(|m| {
            m.get(&host)
                .is_some_and(|at| now.duration_since(*at) < NEGATIVE_TTL)
        });
        if recently_missed {
            return Ok(false);
        }
        let found = self.store.domain_exists(&host).await?;
        if found {
            if let Ok(mut s) = self.served.write() {
                s.insert(host);
            }
        } else if let Ok(mut m) = self.not_served.write() {
            if m.len() > 10_000 {
                m.retain(|_, at| now.duration_since(*at) < NEGATIVE_TTL);
            }
            m.insert(host, now);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_domain_added_later_is_found_and_a_removed_one_goes_on_reload() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        store.add_domain("example.com").await.unwrap();
        let d = Domains::load(store.clone()).await.unwrap();
        assert!(d.is_served("Example.COM.").await.unwrap());
        assert!(!d.is_served("example.org").await.unwrap());
        store.add_domain("example.net").await.unwrap();
        assert!(d.is_served("example.net").await.unwrap());
        store.remove_domain("example.net").await.unwrap();
        d.reload().await.unwrap();
        assert!(!d.is_served("example.net").await.unwrap());
        assert_eq!(d.list(), ["example.com"]);
    }
}
