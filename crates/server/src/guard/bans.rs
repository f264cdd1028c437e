//! [`Bans`]: the sources whose requests are turned away — the bans the engine decided
//! (failed authentications) and those read from the store's `bans` table (written by
//! `itsp ban add`, and the engine's own once written).
//!
//! The engine's own bans act at once, before the store has them. Each is marked when the
//! shell reports it written; a later reading of the table that does not have it means an
//! operator lifted it (`itsp ban rm`), and it is lifted here too. A reading started before
//! the write was confirmed proves nothing and lifts nothing.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Instant;

use ahash::HashMap;

use super::table::Table;
use crate::trusted::Network;

/// A ban for the shell to write to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanWrite {
    /// The source key's network text (an address, or an IPv6 /64).
    pub network: String,
    /// When it ends (Unix milliseconds).
    pub until_ms: i64,
    /// Why, for `itsp ban list`.
    pub reason: String,
}

/// A ban the engine decided.
#[derive(Debug, Clone, Copy)]
struct OwnBan {
    until: Instant,
    /// When the shell confirmed it is in the store.
    stored_at: Option<Instant>,
}

/// The bans in force (see the module docs).
#[derive(Debug)]
pub(crate) struct Bans {
    own: Table<IpAddr, OwnBan>,
    /// Single addresses from the store, with the end (Unix ms; `None`: until removed).
    hosts: HashMap<IpAddr, Option<u64>>,
    /// Networks from the store.
    networks: Vec<(Network, Option<u64>)>,
}

impl Bans {
    /// Room for `capacity` bans of the engine's own.
    pub(crate) fn new(capacity: usize) -> Bans {
        Bans {
            own: Table::new(capacity),
            hosts: HashMap::default(),
            networks: Vec::new(),
        }
    }

    /// Whether requests of `ip` (whose source key is `key`) are turned away at `now`.
    pub(crate) fn is_banned(
        &self,
        instant: Instant,
        unix_ms: u64,
        ip: IpAddr,
        key: IpAddr,
    ) -> bool {
        let in_force = |until: &Option<u64>| until.is_none_or(|u| unix_ms < u);
        self.own.get(&key).is_some_and(|b| instant < b.until)
            || self.hosts.get(&ip).is_some_and(in_force)
            || self
                .networks
                .iter()
                .any(|(n, until)| in_force(until) && n.contains(ip))
    }

    /// Bans `key` until `until`.
    pub(crate) fn ban(&mut self, key: IpAddr, until: Instant) {
        *self.own.entry(key, || OwnBan {
            until,
            stored_at: None,
        }) = OwnBan {
            until,
            stored_at: None,
        };
    }

    /// The shell wrote the ban of `key` to the store at `now`.
    pub(crate) fn stored(&mut self, key: IpAddr, now: Instant) {
        if let Some(b) = self.own.get_mut(&key) {
            b.stored_at = Some(now);
        }
    }

    /// The store's bans, read from a query started at `read_at`; `networks` are the
    /// canonical texts ([`store::canonical_network`]) with their ends. Own bans written
    /// before `read_at` and missing from the reading are lifted. Answers the lifted ones.
    pub(crate) fn replace_stored(
        &mut self,
        read_at: Instant,
        stored: Vec<(String, Option<u64>)>,
        text_of: impl Fn(IpAddr) -> String,
    ) -> Vec<IpAddr> {
        self.hosts.clear();
        self.networks.clear();
        let mut texts = HashSet::new();
        for (text, until) in stored {
            match text.parse::<Network>() {
                Ok(n) => match text.parse::<IpAddr>() {
                    Ok(ip) => {
                        self.hosts.insert(ip, until);
                    }
                    Err(_) => self.networks.push((n, until)),
                },
                Err(e) => {
                    tracing::warn!(network = %text, error = %e, "a stored ban is unreadable; ignored")
                }
            }
            texts.insert(text);
        }
        let mut lifted = Vec::new();
        self.own.retain(|key, b| {
            let gone =
                b.stored_at.is_some_and(|at| at <= read_at) && !texts.contains(&text_of(*key));
            if gone {
                lifted.push(*key);
            }
            !gone
        });
        lifted
    }

    /// Forgets own bans that ended.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.own.retain(|_, b| now < b.until);
    }

    #[cfg(test)]
    /// Own bans in force at `now`.
    pub(crate) fn own_count(&self, now: Instant) -> usize {
        self.own.iter().filter(|(_, b)| now < b.until).count()
    }
}
