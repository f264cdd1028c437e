//! The operator's lines about registrations: one line at `info` per change of a binding
//! that a person wants to know about, in plain words, target `server::registration_log`.
//!
//! ```text
//! registered aor="alice@example.com" contact="sip:alice@192.0.2.10:5060" expires=3600 source=198.51.100.7:5060 transport=udp user_agent="Phone/1.0" nat=true
//! registration refreshed with a new contact aor=... contact=... previous_contact="sip:alice@192.0.2.9:5060" ...
//! registration refreshed from a new address aor=... previous_source=198.51.100.7:5060 ...
//! unregistered aor=... contact=... expires=0 ...
//! registration expired aor=... contact=... expires=0 ...
//! ```
//!
//! Why not a line per REGISTER: phones refresh every few minutes, and a log with a line
//! per refresh hides the changes an operator looks for (a phone that moved, one that
//! went away). A refresh of the same contact from the same address and transport is
//! logged at `debug` ("registration refreshed").
//!
//! A new contact under the Call-ID of a binding the address-of-record has, or under its
//! `+sip.instance` (RFC 5626 §6), is the same device with a new contact: "refreshed with a
//! new contact" (a UA keeps its Call-ID across registrations of one boot cycle, RFC 3261
//! §10.2.4). `expires` is the time granted in seconds (0 for the lines of a binding that
//! ends); `source` and `transport` say where the REGISTER came from, `nat` whether it came
//! from behind a NAT (the registrar's verdict, [`crate::nat::NatTests::detect`]).
//!
//! Text values that come from the request (`aor`, `contact`, `user_agent`) are recorded as
//! strings: quoted and escaped in the text log, plain strings in the JSON log, so a
//! request cannot forge another field of the line.
//!
//! The lines are written when the registrar decides (the changes are then applied to the
//! location index and committed to the store before the 200 goes out; a failed commit is
//! logged on its own and answered 500).

use std::net::SocketAddr;

use transport::Protocol;

use crate::location::{Binding, Change};

/// Where the REGISTER that makes the changes came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// The packet's source address.
    pub(crate) source: SocketAddr,
    /// The transport it came over.
    pub(crate) transport: Protocol,
    /// Whether it came from behind a NAT.
    pub(crate) nat: bool,
    /// Its User-Agent header.
    pub(crate) user_agent: Option<&'a str>,
}

/// What one change means to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// A contact the address-of-record did not have, from a device it did not have.
    Registered,
    /// A new contact of a device the address-of-record had (same Call-ID or instance).
    NewContact {
        /// The device's contact before.
        previous: &'a str,
    },
    /// The same contact from another address or transport (a NAT that changed its mapping,
    /// a phone that moved to TCP).
    NewAddress {
        /// Where it registered from before.
        previous: SocketAddr,
    },
    /// The same contact from the same address: a periodic refresh (`debug` only).
    Refreshed,
    /// Removed by the REGISTER (expires 0, or `Contact: *`).
    Unregistered,
}

/// Whether the changes a REGISTER makes to `before` bring a phone that may not know what
/// its owner's mailbox holds: a new device or contact, a contact from a new address, or a
/// phone back from a reboot (its contact again under a new Call-ID: a UA keeps one
/// Call-ID per boot cycle, RFC 3261 §10.2.4). A plain refresh does not.
pub(crate) fn registers_anew(before: &[Binding], changes: &[Change], now: u64) -> bool {
    changes.iter().any(
        |change| match (change, event(before, changes, change, now)) {
            (_, Some(Event::Registered | Event::NewContact { .. } | Event::NewAddress { .. })) => {
                true
            }
            (Change::Upsert(new), Some(Event::Refreshed)) => before
                .iter()
                .any(|b| b.same_contact(&new.contact) && b.call_id != new.call_id),
            _ => false,
        },
    )
}

/// Logs the changes a REGISTER for `aor` makes to `before` (its bindings, as stored before
/// the changes are applied), at `now` (Unix seconds).
pub(crate) fn log_register(
    aor: &str,
    before: &[Binding],
    changes: &[Change],
    origin: &Origin<'_>,
    now: u64,
) {
    for (change, event) in changes
        .iter()
        .filter_map(|c| event(before, changes, c, now).map(|e| (c, e)))
    {
        match change {
            Change::Upsert(binding) => log_upsert(aor, binding, &event, now),
            Change::Remove { contact } => {
                let user_agent = before
                    .iter()
                    .find(|b| b.same_contact(contact))
                    .and_then(|b| b.user_agent.as_deref())
                    .or(origin.user_agent);
                tracing::info!(
                    aor,
                    contact = contact.as_str(),
                    expires = 0,
                    source = %origin.source,
                    transport = %origin.transport,
                    user_agent = user_agent.unwrap_or_default(),
                    nat = origin.nat,
                    "unregistered"
                );
            }
        }
    }
}

/// Logs a binding that expired (purged by the housekeeping task, not refreshed in time).
pub(crate) fn log_expired(aor: &str, binding: &Binding) {
    tracing::info!(
        aor,
        contact = binding.contact.as_str(),
        expires = 0,
        source = %binding.source,
        transport = %binding.transport,
        user_agent = binding.user_agent.as_deref().unwrap_or_default(),
        nat = binding.nat,
        "registration expired"
    );
}

/// The line of an added or refreshed binding.
fn log_upsert(aor: &str, binding: &Binding, event: &Event<'_>, now: u64) {
    let expires = binding.remaining(now);
    let source = binding.source;
    let transport = binding.transport;
    let user_agent = binding.user_agent.as_deref().unwrap_or_default();
    let contact = binding.contact.as_str();
    let nat = binding.nat;
    match event {
        Event::Registered => tracing::info!(
            aor, contact, expires, source = %source, transport = %transport, user_agent, nat,
            "registered"
        ),
        Event::NewContact { previous } => tracing::info!(
            aor, contact, expires, source = %source, transport = %transport, user_agent, nat,
            previous_contact = *previous,
            "registration refreshed with a new contact"
        ),
        Event::NewAddress { previous } => tracing::info!(
            aor, contact, expires, source = %source, transport = %transport, user_agent, nat,
            previous_source = %previous,
            "registration refreshed from a new address"
        ),
        Event::Refreshed | Event::Unregistered => tracing::debug!(
            aor, contact, expires, source = %source, transport = %transport, user_agent, nat,
            "registration refreshed"
        ),
    }
}

/// What `change` means, given the bindings `before` and the other changes of the same
/// REGISTER; `None` for a removal that is part of a replacement (its new binding's line
/// says it).
pub(crate) fn event<'a>(
    before: &'a [Binding],
    changes: &[Change],
    change: &Change,
    now: u64,
) -> Option<Event<'a>> {
    let live = || before.iter().filter(move |b| b.expires_at > now);
    match change {
        Change::Upsert(new) => {
            if let Some(prior) = live().find(|b| b.same_contact(&new.contact)) {
                return Some(
                    if prior.source != new.source || prior.transport != new.transport {
                        Event::NewAddress {
                            previous: prior.source,
                        }
                    } else {
                        Event::Refreshed
                    },
                );
            }
            Some(match live().find(|b| same_device(b, new)) {
                Some(prior) => Event::NewContact {
                    previous: &prior.contact,
                },
                None => Event::Registered,
            })
        }
        Change::Remove { contact } => {
            let replaced = before
                .iter()
                .find(|b| b.same_contact(contact))
                .is_some_and(|prior| {
                    changes.iter().any(|c| match c {
                        Change::Upsert(new) => {
                            new.same_contact(&prior.contact) || same_instance(prior, new)
                        }
                        Change::Remove { .. } => false,
                    })
                });
            (!replaced).then_some(Event::Unregistered)
        }
    }
}

/// Whether `new` comes from the device that made `prior`: the same instance (RFC 5626),
/// or the same Call-ID (RFC 3261 §10.2.4).
fn same_device(prior: &Binding, new: &Binding) -> bool {
    same_instance(prior, new) || prior.call_id == new.call_id
}

/// Whether both bindings carry the same `+sip.instance` and `reg-id` (the registrar's
/// rule for replacing a binding, [`crate::registrar`]).
fn same_instance(prior: &Binding, new: &Binding) -> bool {
    match (&prior.instance, &new.instance) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b) && prior.reg_id == new.reg_id,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::location::DEFAULT_Q;

    fn binding(contact: &str, call_id: &str, source: &str) -> Binding {
        Binding {
            contact: contact.into(),
            expires_at: 2000,
            q: DEFAULT_Q,
            call_id: call_id.into(),
            cseq: 1,
            user_agent: Some("phone/1".into()),
            source: source.parse().unwrap(),
            transport: Protocol::Udp,
            local: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            nat: false,
            updated_at: 1000,
        }
    }

    const A: &str = "192.0.2.1:5060";
    const B: &str = "192.0.2.2:5060";

    fn events<'a>(before: &'a [Binding], changes: &[Change]) -> Vec<Option<Event<'a>>> {
        changes
            .iter()
            .map(|c| event(before, changes, c, 1500))
            .collect()
    }

    #[test]
    fn a_first_contact_is_registered_and_a_refresh_is_quiet() {
        let new = binding("sip:a@192.0.2.1", "c1", A);
        assert_eq!(
            events(&[], &[Change::Upsert(new.clone())]),
            [Some(Event::Registered)]
        );
        assert_eq!(
            events(std::slice::from_ref(&new), &[Change::Upsert(new.clone())]),
            [Some(Event::Refreshed)]
        );
        // An expired binding of the same contact is gone: registered again.
        let expired = Binding {
            expires_at: 1400,
            ..new.clone()
        };
        assert_eq!(
            events(&[expired], &[Change::Upsert(new)]),
            [Some(Event::Registered)]
        );
    }

    #[test]
    fn a_moved_device_is_said_so() {
        let old = binding("sip:a@192.0.2.1", "c1", A);
        let same_contact_new_source = binding("sip:a@192.0.2.1", "c1", B);
        assert_eq!(
            events(
                std::slice::from_ref(&old),
                &[Change::Upsert(same_contact_new_source)]
            ),
            [Some(Event::NewAddress {
                previous: A.parse().unwrap()
            })]
        );
        let new_contact = binding("sip:a@192.0.2.2", "c1", B);
        assert_eq!(
            events(std::slice::from_ref(&old), &[Change::Upsert(new_contact)]),
            [Some(Event::NewContact {
                previous: "sip:a@192.0.2.1"
            })]
        );
        // Another device (another Call-ID) is a registration of its own.
        let other = binding("sip:a@192.0.2.3", "c2", B);
        assert_eq!(
            events(&[old], &[Change::Upsert(other)]),
            [Some(Event::Registered)]
        );
    }

    #[test]
    fn an_instance_replacement_is_one_line_and_a_removal_is_unregistered() {
        let old = Binding {
            instance: Some("<urn:uuid:1>".into()),
            ..binding("sip:a@192.0.2.1;transport=tcp", "c1", A)
        };
        let new = Binding {
            instance: Some("<URN:uuid:1>".into()),
            ..binding("sip:a@192.0.2.1:40001;transport=tcp", "c9", B)
        };
        let changes = [
            Change::Remove {
                contact: old.contact.clone(),
            },
            Change::Upsert(new),
        ];
        assert_eq!(
            events(std::slice::from_ref(&old), &changes),
            [
                None,
                Some(Event::NewContact {
                    previous: "sip:a@192.0.2.1;transport=tcp"
                })
            ]
        );
        let remove = [Change::Remove {
            contact: old.contact.clone(),
        }];
        assert_eq!(events(&[old], &remove), [Some(Event::Unregistered)]);
    }

    #[test]
    fn a_new_device_contact_address_or_boot_registers_anew_and_a_refresh_does_not() {
        let desk = binding("sip:alice@192.0.2.1", "boot-1", A);
        let before = [desk.clone()];
        let anew = |changes: &[Change]| registers_anew(&before, changes, 1500);
        assert!(!anew(&[Change::Upsert(desk.clone())]), "a refresh");
        assert!(anew(&[Change::Upsert(binding(
            "sip:alice@192.0.2.9",
            "other",
            B
        ))]));
        assert!(anew(&[Change::Upsert(binding(
            "sip:alice@192.0.2.1",
            "boot-1",
            B
        ))]));
        // The same contact from the same address under a new Call-ID: back from a reboot
        // (RFC 3261 §10.2.4).
        assert!(anew(&[Change::Upsert(binding(
            "sip:alice@192.0.2.1",
            "boot-2",
            A
        ))]));
        assert!(!anew(&[Change::Remove {
            contact: "sip:alice@192.0.2.1".into()
        }]));
        assert!(registers_anew(&[], &[Change::Upsert(desk)], 1500));
    }
}
