//! The location service (RFC 3261 §10, §16.5): address-of-record → contact bindings, kept
//! in memory for lookups. Kamailio's `usrloc`; the registrar ([`crate::registrar`]) decides
//! what to change, this module holds the result.
//!
//! Time is passed in as Unix seconds; nothing here reads a clock. Persistence (write-through
//! to the store, restore at start) is the caller's: every change is an explicit
//! [`Change`] that can be written to the database before it is applied here.

use std::net::SocketAddr;

use ahash::HashMap;
use sip::uri::{SipUri, Uri};
use transport::Protocol;

/// Default q-value of a contact without `q` (RFC 3261 §10.2.1.2 leaves it to the registrar;
/// 1.0 like Kamailio), in thousandths.
pub(crate) const DEFAULT_Q: u16 = 1000;

/// One contact bound to an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the user agent wrote it (without `<>` or header parameters).
    pub contact: String,
    /// When the binding expires, Unix seconds.
    pub expires_at: u64,
    /// Preference, thousandths (1000 = q 1.0).
    pub q: u16,
    /// Call-ID of the REGISTER that last changed it (§10.3 step 7).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// User-Agent header of that REGISTER, if any.
    pub user_agent: Option<String>,
    /// Where the REGISTER came from (the `received`/`rport` address, RFC 3581): NAT
    /// traversal sends requests for this binding there.
    pub source: SocketAddr,
    /// Transport it came over: a TCP binding is reached only through its connection.
    pub transport: Protocol,
    /// Local socket it arrived on, so requests leave through the same one.
    pub local: Option<SocketAddr>,
    /// Path header values of the REGISTER (RFC 3327), top first.
    pub path: Vec<String>,
    /// `+sip.instance` of the contact (RFC 5626), if any.
    pub instance: Option<String>,
    /// `reg-id` of the contact (RFC 5626), if any.
    pub reg_id: Option<u32>,
    /// Whether the REGISTER came from behind a NAT ([`crate::nat::NatTests::detect`]).
    pub nat: bool,
    /// When the binding was last written, Unix seconds.
    pub updated_at: u64,
}

impl Binding {
    /// Seconds left before expiry (0 when expired).
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// Whether this binding's contact is the same URI as `contact` (RFC 3261 §10.3 step 7
    /// compares with the §19.1.4 rules; text that does not parse compares byte for byte).
    pub fn same_contact(&self, contact: &str) -> bool {
        match (Uri::parse(&self.contact), Uri::parse(contact)) {
            (Ok(a), Ok(b)) => a.equivalent(&b),
            _ => self.contact == contact,
        }
    }
}

/// A change to the bindings of one address-of-record, decided by the registrar. Changes are
/// few and short-lived, so the size difference of the variants does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// Add the binding, or replace the one with the same contact.
    Upsert(Binding),
    /// Remove the binding with this contact.
    Remove {
        /// The contact URI.
        contact: String,
    },
}

/// The in-memory location index.
#[derive(Debug, Default, Clone)]
pub struct Location {
    by_aor: HashMap<String, Vec<Binding>>,
}

impl Location {
    /// An empty index.
    pub fn new() -> Location {
        Location::default()
    }

    /// Bindings of an address-of-record that have not expired at `now`, most preferred
    /// first (highest q; among equal q the most recently updated, RFC 3261 §16.6 leaves
    /// the order of equal q to the proxy).
    pub fn lookup(&self, aor: &str, now: u64) -> Vec<&Binding> {
        let mut found: Vec<&Binding> = self
            .by_aor
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default();
        found.sort_by(|a, b| b.q.cmp(&a.q).then(b.updated_at.cmp(&a.updated_at)));
        found
    }

    /// Every binding of an address-of-record, expired or not, as stored.
    pub fn all(&self, aor: &str) -> &[Binding] {
        self.by_aor.get(aor).map_or(&[], Vec::as_slice)
    }

    /// Applies the registrar's changes for one address-of-record.
    pub fn apply(&mut self, aor: &str, changes: &[Change]) {
        // Most users have one device: lists grow one binding at a time (a `Vec` would
        // reserve room for four at its first push), and a refresh allocates no key.
        if !self.by_aor.contains_key(aor) {
            self.by_aor.insert(aor.to_owned(), Vec::with_capacity(1));
        }
        let Some(list) = self.by_aor.get_mut(aor) else {
            return;
        };
        for change in changes {
            match change {
                Change::Upsert(binding) => {
                    match list.iter_mut().find(|b| b.same_contact(&binding.contact)) {
                        Some(existing) => *existing = binding.clone(),
                        None => {
                            list.reserve_exact(1);
                            list.push(binding.clone());
                        }
                    }
                }
                Change::Remove { contact } => list.retain(|b| !b.same_contact(contact)),
            }
        }
        if list.is_empty() {
            self.by_aor.remove(aor);
        }
    }

    /// Replaces every binding of an address-of-record (with those read back from the store).
    pub fn replace(&mut self, aor: &str, bindings: Vec<Binding>) {
        if bindings.is_empty() {
            self.by_aor.remove(aor);
        } else {
            self.by_aor.insert(aor.to_owned(), bindings);
        }
    }

    /// Puts back a binding read from the store at start.
    pub fn restore(&mut self, aor: &str, binding: Binding) {
        self.apply(aor, &[Change::Upsert(binding)]);
    }

    /// Removes every binding expired at `now`; returns them with their address-of-record,
    /// so the caller can say which expired and delete them from the store too.
    pub fn purge(&mut self, now: u64) -> Vec<(String, Binding)> {
        let mut gone = Vec::new();
        self.by_aor.retain(|aor, list| {
            list.retain(|b| {
                let keep = b.expires_at > now;
                if !keep {
                    gone.push((aor.clone(), b.clone()));
                }
                keep
            });
            !list.is_empty()
        });
        gone
    }

    /// Every binding with its address-of-record, expired or not, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Binding)> {
        self.by_aor
            .iter()
            .flat_map(|(aor, list)| list.iter().map(move |b| (aor.as_str(), b)))
    }

    /// Number of addresses-of-record with at least one binding.
    pub fn aor_count(&self) -> usize {
        self.by_aor.len()
    }

    /// Number of bindings in all.
    pub fn binding_count(&self) -> usize {
        self.by_aor.values().map(Vec::len).sum()
    }
}

/// The user part (unescaped) and the comparable domain (lower case, no trailing dot) of a
/// SIP URI; `None` without a user part or with one that is not UTF-8.
pub(crate) fn user_and_domain(uri: &SipUri<'_>) -> Option<(String, String)> {
    let user = String::from_utf8(uri.user_unescaped()?.into_owned()).ok()?;
    Some((user, crate::domains::normalize(&uri.host.text())))
}

/// The address-of-record key of a SIP URI: `user@domain` as the store keys subscribers and
/// bindings ([`store::Address::aor`]): the user unescaped and kept case-sensitive, the
/// domain lower-cased without a trailing dot (RFC 3261 §10.3 step 5, §19.1.4). `None` for
/// a URI without user part, or one no subscriber could have.
pub fn aor_key(uri: &SipUri<'_>) -> Option<String> {
    let user = uri.user_unescaped()?;
    let user = std::str::from_utf8(&user).ok()?;
    store::Address::new(user, &uri.host.text())
        .ok()
        .map(|a| a.aor())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn binding(contact: &str, expires_at: u64, q: u16) -> Binding {
        Binding {
            contact: contact.to_owned(),
            expires_at,
            q,
            call_id: "c".into(),
            cseq: 1,
            user_agent: None,
            source: "192.0.2.1:5060".parse().unwrap(),
            transport: Protocol::Udp,
            local: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            nat: false,
            updated_at: 0,
        }
    }

    #[test]
    fn lookup_orders_by_q_and_hides_expired() {
        let mut loc = Location::new();
        loc.apply(
            "alice@example.com",
            &[
                Change::Upsert(binding("sip:a@192.0.2.1", 100, 500)),
                Change::Upsert(binding("sip:a@192.0.2.2", 100, 1000)),
                Change::Upsert(binding("sip:a@192.0.2.3", 10, 1000)),
            ],
        );
        let found: Vec<_> = loc
            .lookup("alice@example.com", 50)
            .iter()
            .map(|b| b.contact.as_str())
            .collect();
        assert_eq!(found, ["sip:a@192.0.2.2", "sip:a@192.0.2.1"]);
        assert_eq!(loc.binding_count(), 3);
        let gone: Vec<(String, String)> = loc
            .purge(50)
            .into_iter()
            .map(|(aor, b)| (aor, b.contact))
            .collect();
        assert_eq!(
            gone,
            vec![("alice@example.com".to_owned(), "sip:a@192.0.2.3".to_owned())]
        );
        assert_eq!(loc.binding_count(), 2);
        assert!(loc.purge(1000).len() == 2 && loc.aor_count() == 0);
    }

    #[test]
    fn contacts_compare_as_uris() {
        let mut loc = Location::new();
        loc.apply(
            "a@x",
            &[Change::Upsert(binding(
                "sip:a@HOST.example;transport=udp",
                100,
                1000,
            ))],
        );
        loc.apply(
            "a@x",
            &[Change::Upsert(binding(
                "sip:a@host.example;transport=UDP",
                200,
                1000,
            ))],
        );
        assert_eq!(loc.all("a@x").len(), 1);
        assert_eq!(loc.all("a@x")[0].expires_at, 200);
        loc.apply(
            "a@x",
            &[Change::Remove {
                contact: "sip:a@host.example;transport=udp".into(),
            }],
        );
        assert_eq!(loc.aor_count(), 0);
    }

    #[test]
    fn aor_keys() {
        let key = |s: &str| match Uri::parse(s).unwrap() {
            Uri::Sip(u) => aor_key(&u),
            _ => None,
        };
        assert_eq!(
            key("sip:Alice@EXAMPLE.com").as_deref(),
            Some("Alice@example.com")
        );
        assert_eq!(
            key("sip:%61lice@example.com;transport=tcp").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(key("sip:example.com"), None);
        assert_eq!(
            key("sip:bob@Example.COM.").as_deref(),
            Some("bob@example.com")
        );
    }
}
