//! [`Cx`]: what the main route reads and changes while it decides one request — the
//! configuration, the location index, the digest verifier, the engine's caches of store
//! answers and the answers this request was given — and the lookups that stop the
//! decision with a [`Halt::Need`] when only I/O can answer.

use store::{
    Address, Forwarding, Ha1s, ADDRESSES_TABLE, GROUPS_TABLE, PREFERENCES_TABLE, SUBSCRIBERS_TABLE,
};

use crate::auth::DigestAuth;
use crate::config::ServerConfig;
use crate::engine::addresses::Addresses;
use crate::engine::facts::{group_key, store_failure, Answers, Facts, Halt, NEGATIVE_TTL};
use crate::engine::io::{Answer, Now, Query};
use crate::engine::random::Random;
use crate::location::Location;
use crate::natping::Pinger;
use crate::proxy::Hop;

/// What one run of a decision remembers for the next (the digest check counts the uses of
/// a nonce, so it is made once per request).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// The request's credentials were checked and accepted.
    pub(crate) authenticated: bool,
    /// Who they proved to be: the subscriber (user in the realm).
    pub(crate) caller: Option<store::Address>,
}

/// The decision's view of the engine. See the module docs.
pub(crate) struct Cx<'a> {
    pub(crate) now: Now,
    pub(crate) config: &'a ServerConfig,
    pub(crate) addresses: &'a mut Addresses,
    pub(crate) facts: &'a mut Facts,
    pub(crate) location: &'a mut Location,
    pub(crate) auth: &'a mut DigestAuth,
    pub(crate) pinger: &'a Pinger,
    pub(crate) random: &'a mut Random,
    /// What this request was told while it waited.
    pub(crate) answers: &'a Answers,
    pub(crate) memo: &'a mut Memo,
    /// Failed authentications are counted here; accounts under attack are slowed.
    pub(crate) guard: &'a mut crate::guard::Guard,
}

impl Cx<'_> {
    /// Whether `host` is a domain we serve (SER's `myself`): known ones at once, hosts
    /// recently found foreign for [`NEGATIVE_TTL`], else the store is asked.
    pub(crate) fn is_served(&mut self, host: &str) -> Result<bool, Halt> {
        let host = crate::domains::normalize(host);
        if self.addresses.known_domains.contains(&host) {
            return Ok(true);
        }
        match self.answers.get(|| Query::DomainServed(host.clone())) {
            Some(Answer::Served(served)) => return Ok(*served),
            Some(Answer::StoreFailed(why)) => return Err(store_failure(why).into()),
            _ => {}
        }
        let recently_missed = self
            .facts
            .not_served
            .get(&host)
            .is_some_and(|at| self.now.instant.saturating_duration_since(*at) < NEGATIVE_TTL);
        if recently_missed {
            return Ok(false);
        }
        Err(Halt::Need(Query::DomainServed(host)))
    }

    /// A subscriber's digest hashes, `None` for no such subscriber (through the
    /// credentials cache: a changed password takes effect within about a second).
    pub(crate) fn credentials(&mut self, user: &str, realm: &str) -> Result<Option<Ha1s>, Halt> {
        let query = || Query::Credentials {
            user: user.to_owned(),
            realm: realm.to_owned(),
        };
        match self.answers.get(query) {
            Some(Answer::Credentials(found)) => return Ok(found.clone()),
            Some(Answer::StoreFailed(why)) => return Err(store_failure(why).into()),
            _ => {}
        }
        self.version_checked(SUBSCRIBERS_TABLE)?;
        match self.facts.credentials.get(realm, user) {
            Some(found) => Ok(found),
            None => Err(Halt::Need(query())),
        }
    }

    /// A subscriber's call forwarding (through the forwarding cache).
    pub(crate) fn forwarding(&mut self, user: &str, domain: &str) -> Result<Forwarding, Halt> {
        let query = || Query::Forwarding {
            user: user.to_owned(),
            domain: domain.to_owned(),
        };
        match self.answers.get(query) {
            Some(Answer::Forwarding(found)) => return Ok(found.clone()),
            Some(Answer::StoreFailed(why)) => return Err(store_failure(why).into()),
            _ => {}
        }
        self.version_checked(PREFERENCES_TABLE)?;
        match self.facts.forwarding.get(domain, user) {
            Some(found) => Ok(found),
            None => Err(Halt::Need(query())),
        }
    }

    /// The subscriber an address or alias names (through the addresses cache: a call to
    /// an unknown user or to a number costs no query each time).
    pub(crate) fn resolve(&mut self, user: &str, domain: &str) -> Result<Option<Address>, Halt> {
        let query = || Query::Resolve {
            user: user.to_owned(),
            domain: domain.to_owned(),
        };
        match self.answers.get(query) {
            Some(Answer::Subscriber(found)) => return Ok(found.clone()),
            Some(Answer::StoreFailed(why)) => return Err(store_failure(why).into()),
            _ => {}
        }
        self.version_checked(ADDRESSES_TABLE)?;
        match self.facts.addresses.get(domain, user) {
            Some(found) => Ok(found),
            None => Err(Halt::Need(query())),
        }
    }

    /// Whether a subscriber is in a group (through the groups cache).
    pub(crate) fn in_group(&mut self, user: &str, domain: &str, group: &str) -> Result<bool, Halt> {
        let query = || Query::InGroup {
            user: user.to_owned(),
            domain: domain.to_owned(),
            group: group.to_owned(),
        };
        match self.answers.get(query) {
            Some(Answer::Served(found)) => return Ok(*found),
            Some(Answer::StoreFailed(why)) => return Err(store_failure(why).into()),
            _ => {}
        }
        self.version_checked(GROUPS_TABLE)?;
        match self.facts.groups.get(domain, &group_key(user, group)) {
            Some(member) => Ok(member),
            None => Err(Halt::Need(query())),
        }
    }

    /// The next hops of `uri`, whose host is a name (RFC 3263 §4).
    pub(crate) fn locate(&mut self, uri: &str) -> Result<Vec<Hop>, Halt> {
        let query = || Query::Locate(uri.to_owned());
        match self.answers.get(query) {
            Some(Answer::Hops(Ok(hops))) => Ok(hops.clone()),
            Some(Answer::Hops(Err(r))) => Err(r.clone().into()),
            _ => Err(Halt::Need(query())),
        }
    }

    /// Stops for the table's change counter when the cache of `table` is due for a check
    /// (at most once per [`crate::cache::CHECK_INTERVAL`]), unless this request already
    /// waited for one.
    fn version_checked(&mut self, table: &'static str) -> Result<(), Halt> {
        if !self.facts.check_due(table, self.now.instant) {
            return Ok(());
        }
        match self.answers.get(|| Query::TableVersion(table)) {
            Some(Answer::StoreFailed(why)) => Err(store_failure(why).into()),
            Some(_) => Ok(()),
            None => Err(Halt::Need(Query::TableVersion(table))),
        }
    }
}
