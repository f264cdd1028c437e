//! What the engine knows of the store without asking it: the served domains, the
//! subscribers' digest hashes, their call forwarding, which subscriber an address or alias
//! names and group memberships, each kept in memory (a [`Entries`] per cached table,
//! forgotten when the table's change counter moves), and
//! the answers one request has been given while it waited ([`Answers`]).
//!
//! A lookup answers from a request's own answers first, then from the caches; a miss is a
//! [`Halt::Need`] with the [`Query`] to send, and the decision runs again once it is
//! answered. Nothing here performs I/O.

use std::time::{Duration, Instant};

use ahash::HashMap;
use sip::sanity::Rejection;
use store::{
    Address, Forwarding, Ha1s, ADDRESSES_TABLE, GROUPS_TABLE, PREFERENCES_TABLE, SUBSCRIBERS_TABLE,
};

use super::io::{Answer, Query};
use crate::cache::{Bounds, Entries, MAX_ENTRIES, MAX_KEY_LEN};

/// How long a host found not served is remembered before the store is asked again (so a
/// flood of requests for foreign domains does not become a flood of queries).
pub(crate) const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// Why a decision stopped before it was made.
#[derive(Debug)]
pub(crate) enum Halt {
    /// Refused: answer with this.
    Reject(Rejection),
    /// It needs an answer first.
    Need(Query),
}

impl From<Rejection> for Halt {
    fn from(r: Rejection) -> Halt {
        Halt::Reject(r)
    }
}

impl From<sip::ParseError> for Halt {
    fn from(e: sip::ParseError) -> Halt {
        Halt::Reject(e.into())
    }
}

/// A store failure while deciding: 500, and the operator learns why from the log.
pub(crate) fn store_failure(why: &str) -> Rejection {
    tracing::error!(error = %why, "store query failed");
    Rejection {
        code: 500,
        reason: "Database unavailable".into(),
        header: Some((sip::HeaderName::RetryAfter, "5".into())),
    }
}

/// The answers one request was given, in the order they came.
#[derive(Debug, Default)]
pub(crate) struct Answers(Vec<(Query, Answer)>);

impl Answers {
    pub(crate) fn push(&mut self, query: Query, answer: Answer) {
        self.0.push((query, answer));
    }

    /// The answer to `query`, if it was given. Cheap when none was (the common case: a
    /// request that never waited).
    pub(crate) fn get(&self, query: impl FnOnce() -> Query) -> Option<&Answer> {
        if self.0.is_empty() {
            return None;
        }
        let query = query();
        self.0.iter().find(|(q, _)| *q == query).map(|(_, a)| a)
    }
}

/// The engine's caches of store answers.
pub(crate) struct Facts {
    /// Realm → digest username → HA1s (`None`: no such subscriber).
    pub(crate) credentials: Entries<Option<Ha1s>>,
    /// Domain → user → call forwarding.
    pub(crate) forwarding: Entries<Forwarding>,
    /// Domain → user → the subscriber that address (or alias) names.
    pub(crate) addresses: Entries<Option<Address>>,
    /// Domain → `user group` → membership.
    pub(crate) groups: Entries<bool>,
    /// Hosts recently found not served, and when.
    pub(crate) not_served: HashMap<String, Instant>,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts")
            .field("credentials", &self.credentials.len)
            .field("forwarding", &self.forwarding.len)
            .finish_non_exhaustive()
    }
}

/// Whether `forwarding` sets nothing (the common case, and cheap to lose).
fn nothing_set(forwarding: &Forwarding) -> bool {
    *forwarding == Forwarding::default()
}

impl Facts {
    pub(crate) fn new() -> Facts {
        Facts {
            credentials: Entries::new(
                SUBSCRIBERS_TABLE,
                Bounds {
                    max_entries: MAX_ENTRIES,
                    max_key_len: MAX_KEY_LEN,
                    expendable: Option::is_none,
                },
            ),
            forwarding: Entries::new(
                PREFERENCES_TABLE,
                Bounds {
                    max_entries: MAX_ENTRIES,
                    max_key_len: MAX_KEY_LEN,
                    expendable: nothing_set,
                },
            ),
            addresses: Entries::new(
                ADDRESSES_TABLE,
                Bounds {
                    max_entries: MAX_ENTRIES,
                    max_key_len: MAX_KEY_LEN,
                    expendable: Option::is_none,
                },
            ),
            groups: Entries::new(
                GROUPS_TABLE,
                Bounds {
                    max_entries: MAX_ENTRIES,
                    max_key_len: MAX_KEY_LEN,
                    expendable: |member| !*member,
                },
            ),
            not_served: HashMap::default(),
        }
    }

    /// Takes an answer to a cached query into the caches. `generation` is the cache's
    /// generation when the query was sent (an answer read before a change is not kept).
    pub(crate) fn learn(
        &mut self,
        query: &Query,
        answer: &Answer,
        generation: u64,
        now: Instant,
        served: &mut ahash::HashSet<String>,
    ) {
        match (query, answer) {
            (Query::DomainServed(host), Answer::Served(true)) => {
                served.insert(host.clone());
                self.not_served.remove(host);
            }
            (Query::DomainServed(host), Answer::Served(false)) => {
                if self.not_served.len() > 10_000 {
                    self.not_served
                        .retain(|_, at| now.saturating_duration_since(*at) < NEGATIVE_TTL);
                }
                self.not_served.insert(host.clone(), now);
            }
            (Query::TableVersion(table), Answer::Version(v)) => {
                if let Some(entries) = self.entries_of(table) {
                    entries.checked(*v);
                }
            }
            (Query::TableVersion(table), Answer::StoreFailed(_)) => {
                if let Some(entries) = self.entries_of(table) {
                    entries.check_failed();
                }
            }
            (Query::Credentials { user, realm }, Answer::Credentials(found)) => {
                self.credentials
                    .insert(generation, realm, user, found.clone());
            }
            (Query::Forwarding { user, domain }, Answer::Forwarding(found)) => {
                self.forwarding
                    .insert(generation, domain, user, found.clone());
            }
            (Query::Resolve { user, domain }, Answer::Subscriber(found)) => {
                self.addresses
                    .insert(generation, domain, user, found.clone());
            }
            (
                Query::InGroup {
                    user,
                    domain,
                    group,
                },
                Answer::Served(member),
            ) => {
                self.groups
                    .insert(generation, domain, &group_key(user, group), *member);
            }
            _ => {}
        }
    }

    /// The cache generation a query's answer will be filed under.
    pub(crate) fn generation_for(&self, query: &Query) -> u64 {
        match query {
            Query::Credentials { .. } => self.credentials.generation,
            Query::Forwarding { .. } => self.forwarding.generation,
            Query::Resolve { .. } => self.addresses.generation,
            Query::InGroup { .. } => self.groups.generation,
            _ => 0,
        }
    }

    /// Whether the cache of `table` is due for a version check (taking the interval).
    pub(crate) fn check_due(&mut self, table: &str, now: Instant) -> bool {
        self.entries_of(table).is_some_and(|e| e.check_due(now))
    }

    fn entries_of(&mut self, table: &str) -> Option<&mut dyn VersionCheck> {
        match table {
            SUBSCRIBERS_TABLE => Some(&mut self.credentials),
            PREFERENCES_TABLE => Some(&mut self.forwarding),
            ADDRESSES_TABLE => Some(&mut self.addresses),
            GROUPS_TABLE => Some(&mut self.groups),
            _ => None,
        }
    }
}

/// The key of a membership in the groups cache (a user part cannot hold a space).
pub(crate) fn group_key(user: &str, group: &str) -> String {
    let mut key = String::with_capacity(user.len() + group.len() + 1);
    key.push_str(user);
    key.push(' ');
    key.push_str(group);
    key
}

/// The version bookkeeping of a cache, whatever it holds.
trait VersionCheck {
    fn check_due(&mut self, now: Instant) -> bool;
    fn checked(&mut self, version: i64);
    fn check_failed(&mut self);
}

impl<V: Clone> VersionCheck for Entries<V> {
    fn check_due(&mut self, now: Instant) -> bool {
        Entries::check_due(self, now)
    }
    fn checked(&mut self, version: i64) {
        Entries::checked(self, version);
    }
    fn check_failed(&mut self) {
        Entries::check_failed(self);
    }
}
