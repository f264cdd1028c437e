//! The registrar's REGISTER processing, RFC 3261 §10.3 steps 6–8: what a REGISTER changes
//! in the bindings of its address-of-record, and the 200 that lists the bindings after.
//!
//! Steps 1–5 (domain served, Require, authentication, `check_to`, address-of-record) run
//! before this, in the server's routing policy. [`process_register`] is pure: it reads the
//! request and the current bindings and returns the [`Change`]s to write (to the store,
//! then to the [`crate::location::Location`] index) — all of them or, on any error, none
//! (§10.3: "the registrar MUST process the request ... atomically").

use std::net::SocketAddr;

use sip::headers::Contact;
use sip::sanity::Rejection;
use sip::{HeaderName, Message, MessageBuilder};
use transport::Protocol;

use crate::location::{Binding, Change, DEFAULT_Q};

/// Expiry limits of the registrar (Kamailio `registrar` module: `min_expires`,
/// `max_expires`, `default_expires`, `max_contacts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shortest interval accepted; shorter ones get `423 Interval Too Brief` (§10.3 step 7).
    pub min_expires: u32,
    /// Longest interval granted; longer requests are shortened to it (§10.3 step 7).
    pub max_expires: u32,
    /// Interval for a contact without `expires` param in a REGISTER without Expires.
    pub default_expires: u32,
    /// Most bindings one address-of-record may hold (0: no limit).
    pub max_contacts: usize,
    /// A REGISTER from a trusted network (not challenged) may bind an address-of-record
    /// that is no subscriber (a gateway or peer registering itself); `false` answers it
    /// 404 (RFC 3261 §10.3 step 5), so a trusted network cannot create users.
    pub trusted_may_register_anyone: bool,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts: 10,
            trusted_may_register_anyone: false,
        }
    }
}

/// Where and when a REGISTER arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Now, Unix seconds.
    pub now: u64,
    /// The packet's source address (RFC 3581 `received`/`rport`).
    pub source: SocketAddr,
    /// The transport.
    pub transport: Protocol,
    /// The local socket it came in on.
    pub local: Option<SocketAddr>,
    /// Whether it came from behind a NAT ([`crate::nat::NatTests::detect`]).
    pub nat: bool,
}

/// Decides what a REGISTER changes (RFC 3261 §10.3 steps 6 and 7). `current` is every stored
/// binding of the address-of-record. An empty list of changes is a query (no Contact).
///
/// The request has passed [`sip::sanity::check_request`] with the registrar's policy
/// (steps 1–6 of the checks): its Contact URIs parse and are SIP or tel URIs.
pub fn process_register(
    request: &Message,
    current: &[Binding],
    config: &RegistrarConfig,
    arrival: &Arrival,
) -> Result<Vec<Change>, Rejection> {
    let call_id = request.call_id()?;
    let cseq = request.cseq()?.seq;
    let header_expires = request.expires()?;
    let contacts: Vec<Contact<'_>> = request.contacts().collect::<Result<_, _>>()?;

    // Step 6: `Contact: *` removes every binding, under the Call-ID/CSeq rule of step 7.
    if contacts.iter().any(|c| matches!(c, Contact::Star)) {
        if contacts.len() != 1 || header_expires != Some(0) {
            return Err(Rejection::new(
                400,
                "Contact * needs Expires: 0 and no other contact",
            ));
        }
        let mut changes = Vec::with_capacity(current.len());
        for b in current {
            if b.call_id == call_id && cseq <= b.cseq {
                return Err(Rejection::new(
                    400,
                    "CSeq not above the one of the stored binding",
                ));
            }
            changes.push(Change::Remove {
                contact: b.contact.clone(),
            });
        }
        return Ok(changes);
    }

    // Step 7, contact by contact, against a working copy so the result is all or nothing.
    let mut working: Vec<Binding> = current
        .iter()
        .filter(|b| b.expires_at > arrival.now)
        .cloned()
        .collect();
    let mut changes = Vec::with_capacity(contacts.len());
    let path: Vec<String> = request
        .path()
        .map(|p| p.map(|a| a.uri.to_owned()))
        .collect::<Result<_, _>>()?;
    for contact in &contacts {
        let Some(addr) = contact.addr() else {
            continue; // `*` handled above
        };
        let requested = contact
            .expires()
            .or(header_expires)
            .unwrap_or(config.default_expires);
        if requested != 0 && requested < config.min_expires {
            return Err(Rejection {
                code: 423,
                reason: "Interval Too Brief".into(),
                header: Some((HeaderName::MinExpires, config.min_expires.to_string())),
            });
        }
        let granted = requested.min(config.max_expires);
        let instance = addr
            .params
            .get("+sip.instance")
            .flatten()
            .map(sip::text::unquote);
        let reg_id: Option<u32> = addr
            .params
            .get("reg-id")
            .flatten()
            .and_then(|v| v.parse().ok());
        // The bindings this contact replaces: the same URI (§10.3 step 7) or the same
        // instance (RFC 5626 §6, RFC 5627 §6), in index order.
        let matched: Vec<usize> = working
            .iter()
            .enumerate()
            .filter(|(_, b)| b.same_contact(addr.uri) || same_instance(b, instance, reg_id))
            .map(|(i, _)| i)
            .collect();
        for &i in &matched {
            let b = &working[i];
            if b.call_id == call_id && cseq <= b.cseq {
                return Err(Rejection::new(
                    400,
                    "CSeq not above the one of the stored binding",
                ));
            }
        }
        // Taken out of the working copy from the back, so the indices stay valid. The
        // stored text is the key in the store: an equivalent URI may be written
        // differently, and a binding of the same instance has another URI; both are
        // removed, unless the new binding overwrites the same key.
        for &i in matched.iter().rev() {
            let gone = working.remove(i);
            if granted == 0 || gone.contact != addr.uri {
                changes.push(Change::Remove {
                    contact: gone.contact,
                });
            }
        }
        if granted == 0 {
            continue;
        }
        let binding = Binding {
            contact: addr.uri.to_owned(),
            expires_at: arrival.now + u64::from(granted),
            q: contact.q().unwrap_or(DEFAULT_Q),
            call_id: call_id.to_owned(),
            cseq,
            user_agent: request.user_agent().map(str::to_owned),
            source: arrival.source,
            transport: arrival.transport,
            local: arrival.local,
            path: path.clone(),
            instance: instance.map(str::to_owned),
            reg_id,
            nat: arrival.nat,
            updated_at: arrival.now,
        };
        working.push(binding.clone());
        changes.push(Change::Upsert(binding));
    }
    if config.max_contacts > 0 && working.len() > config.max_contacts {
        return Err(Rejection::new(
            403,
            format!("Too many contacts (at most {})", config.max_contacts),
        ));
    }
    Ok(changes)
}

/// Whether `stored` is the binding a contact with this `+sip.instance` and `reg-id` names
/// besides its URI. RFC 5626 §6: with both, the binding of the address-of-record is keyed by
/// the pair, so a re-registration over a new flow replaces the old one. With the instance
/// alone, as RFC 5627 §6 registrars and Kamailio do: the instance identifies the device
/// across restarts (RFC 5626 §4.1), so its new contact (a phone on TCP binds a new port each
/// time) replaces its binding without reg-id instead of adding one until the limit of
/// contacts is reached. Instance URNs compare ASCII case-insensitively (RFC 4122 §3).
fn same_instance(stored: &Binding, instance: Option<&str>, reg_id: Option<u32>) -> bool {
    match (instance, stored.instance.as_deref()) {
        (Some(new), Some(old)) => new.eq_ignore_ascii_case(old) && stored.reg_id == reg_id,
        _ => false,
    }
}

/// The 200 to a REGISTER (§10.3 step 8): one Contact per current binding with the
/// `expires` it has left, and its `q` when not the default.
pub fn ok_response(
    request: &Message,
    bindings: &[&Binding],
    now: u64,
    to_tag: &str,
) -> MessageBuilder {
    let mut b = MessageBuilder::response_to(request, 200, None, Some(to_tag));
    for binding in bindings {
        let remaining = binding.remaining(now);
        b = if binding.q == DEFAULT_Q {
            b.header_fmt(
                HeaderName::Contact,
                format_args!("<{}>;expires={remaining}", binding.contact),
            )
        } else {
            b.header_fmt(
                HeaderName::Contact,
                format_args!(
                    "<{}>;expires={remaining};q={}",
                    binding.contact,
                    QValue(binding.q)
                ),
            )
        };
    }
    b
}

/// Writes thousandths as a qvalue (`0.5`, `0.125`, `1`).
struct QValue(u16);

impl std::fmt::Display for QValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 1000 {
            return f.write_str("1");
        }
        let text = format!("{:03}", self.0);
        match text.trim_end_matches('0') {
            "" => f.write_str("0"),
            digits => write!(f, "0.{digits}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::Location;

    const AOR: &str = "alice@example.com";

    fn register(call_id: &str, cseq: u32, extra: &str) -> Message {
        Message::parse(format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}\r\n\
From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\nCall-ID: {call_id}\r\n\
CSeq: {cseq} REGISTER\r\nUser-Agent: test-phone/1\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn arrival(now: u64) -> Arrival {
        Arrival {
            now,
            source: "203.0.113.5:40000".parse().unwrap(),
            transport: Protocol::Udp,
            local: None,
            nat: false,
        }
    }

    /// Processes and applies, like the server does.
    fn run(loc: &mut Location, msg: &Message, now: u64) -> Result<Vec<Change>, Rejection> {
        let current = loc.all(AOR).to_vec();
        let changes = process_register(msg, &current, &RegistrarConfig::default(), &arrival(now))?;
        loc.apply(AOR, &changes);
        Ok(changes)
    }

    #[test]
    fn add_refresh_query_and_remove() {
        let mut loc = Location::new();
        let add = register(
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.10>\r\nExpires: 600\r\n",
        );
        run(&mut loc, &add, 1000).unwrap();
        let b = &loc.lookup(AOR, 1000)[0];
        assert_eq!(b.expires_at, 1600);
        assert_eq!(b.user_agent.as_deref(), Some("test-phone/1"));
        assert_eq!(b.source, "203.0.113.5:40000".parse().unwrap());

        // Refresh with a higher CSeq and a contact expires param that wins over Expires.
        let refresh = register(
            "c1",
            2,
            "Contact: <sip:alice@192.0.2.10>;expires=120\r\nExpires: 600\r\n",
        );
        run(&mut loc, &refresh, 1100).unwrap();
        assert_eq!(loc.lookup(AOR, 1100)[0].expires_at, 1220);

        // A query changes nothing and the 200 lists the binding with the time left.
        let query = register("c9", 1, "");
        assert!(run(&mut loc, &query, 1200).unwrap().is_empty());
        let resp = ok_response(&query, &loc.lookup(AOR, 1200), 1200, "t")
            .build()
            .unwrap();
        assert_eq!(
            resp.header(HeaderName::Contact),
            Some("<sip:alice@192.0.2.10>;expires=20")
        );

        // Expires 0 removes.
        let remove = register("c1", 3, "Contact: <sip:alice@192.0.2.10>;expires=0\r\n");
        run(&mut loc, &remove, 1201).unwrap();
        assert!(loc.lookup(AOR, 1201).is_empty());
    }

    #[test]
    fn several_devices_and_q_values() {
        let mut loc = Location::new();
        run(
            &mut loc,
            &register(
                "desk",
                1,
                "Contact: <sip:alice@192.0.2.20>;q=0.5, <sip:alice@192.0.2.21>;q=1.0\r\n",
            ),
            0,
        )
        .unwrap();
        run(
            &mut loc,
            &register(
                "mobile",
                7,
                "Contact: <sip:alice@198.51.100.9;transport=tcp>;q=0.7\r\n",
            ),
            0,
        )
        .unwrap();
        let order: Vec<_> = loc.lookup(AOR, 1).iter().map(|b| b.q).collect();
        assert_eq!(order, [1000, 700, 500]);
        let resp = ok_response(&register("q", 1, ""), &loc.lookup(AOR, 1), 1, "t")
            .build()
            .unwrap();
        let contacts: Vec<_> = resp.header_values(HeaderName::Contact).collect();
        assert_eq!(
            contacts,
            [
                "<sip:alice@192.0.2.21>;expires=3599",
                "<sip:alice@198.51.100.9;transport=tcp>;expires=3599;q=0.7",
                "<sip:alice@192.0.2.20>;expires=3599;q=0.5",
            ]
        );
    }

    #[test]
    fn interval_limits() {
        let mut loc = Location::new();
        let short = register("c", 1, "Contact: <sip:alice@192.0.2.10>;expires=30\r\n");
        let err = run(&mut loc, &short, 0).unwrap_err();
        assert_eq!(err.code, 423);
        assert_eq!(err.header, Some((HeaderName::MinExpires, "60".to_owned())));
        let long = register(
            "c",
            2,
            "Contact: <sip:alice@192.0.2.10>\r\nExpires: 999999\r\n",
        );
        run(&mut loc, &long, 0).unwrap();
        assert_eq!(loc.lookup(AOR, 0)[0].expires_at, 7200);
    }

    #[test]
    fn call_id_and_cseq_ordering() {
        let mut loc = Location::new();
        run(
            &mut loc,
            &register("c1", 5, "Contact: <sip:alice@192.0.2.10>\r\n"),
            0,
        )
        .unwrap();
        // Same Call-ID, CSeq not higher: the whole request fails and nothing changes.
        let stale = register(
            "c1",
            5,
            "Contact: <sip:alice@192.0.2.11>, <sip:alice@192.0.2.10>;expires=0\r\n",
        );
        assert_eq!(run(&mut loc, &stale, 1).unwrap_err().code, 400);
        assert_eq!(loc.binding_count(), 1);
        // Another Call-ID (another device or a rebooted phone) may change it.
        run(
            &mut loc,
            &register("c2", 1, "Contact: <sip:alice@192.0.2.10>;expires=0\r\n"),
            1,
        )
        .unwrap();
        assert_eq!(loc.binding_count(), 0);
    }

    #[test]
    fn star_removes_everything_under_the_cseq_rule() {
        let mut loc = Location::new();
        run(
            &mut loc,
            &register(
                "c1",
                1,
                "Contact: <sip:alice@192.0.2.1>, <sip:alice@192.0.2.2>\r\n",
            ),
            0,
        )
        .unwrap();
        let bad = register("c1", 2, "Contact: *\r\n");
        assert_eq!(run(&mut loc, &bad, 1).unwrap_err().code, 400);
        let stale = register("c1", 1, "Contact: *\r\nExpires: 0\r\n");
        assert_eq!(run(&mut loc, &stale, 1).unwrap_err().code, 400);
        assert_eq!(loc.binding_count(), 2);
        let star = register("c1", 2, "Contact: *\r\nExpires: 0\r\n");
        assert_eq!(run(&mut loc, &star, 1).unwrap().len(), 2);
        assert_eq!(loc.binding_count(), 0);
    }

    #[test]
    fn too_many_contacts_and_outbound_params() {
        let mut loc = Location::new();
        let many: Vec<String> = (0..11)
            .map(|i| format!("<sip:alice@192.0.2.{i}>"))
            .collect();
        let req = register("c", 1, &format!("Contact: {}\r\n", many.join(", ")));
        assert_eq!(run(&mut loc, &req, 0).unwrap_err().code, 403);
        assert_eq!(loc.binding_count(), 0);
        let outbound = register(
            "c",
            2,
            "Contact: <sip:alice@192.0.2.1;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1\r\nPath: <sip:edge.example.com;lr>\r\n",
        );
        run(&mut loc, &outbound, 0).unwrap();
        let b = &loc.lookup(AOR, 0)[0];
        assert_eq!(
            b.instance.as_deref(),
            Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
        );
        assert_eq!(b.reg_id, Some(1));
        assert_eq!(b.path, ["sip:edge.example.com;lr"]);
    }

    #[test]
    fn an_equivalent_contact_refreshes_and_takes_the_new_text() {
        let mut loc = Location::new();
        run(
            &mut loc,
            &register("a", 1, "Contact: <sip:alice@HOST.example>\r\n"),
            100,
        )
        .unwrap();
        let changes = run(
            &mut loc,
            &register("b", 1, "Contact: <sip:alice@host.example;x=1>\r\n"),
            200,
        )
        .unwrap();
        assert!(
            matches!(&changes[0], Change::Remove { contact } if contact == "sip:alice@HOST.example")
        );
        assert!(
            matches!(&changes[1], Change::Upsert(b) if b.contact == "sip:alice@host.example;x=1")
        );
        let all = loc.all(AOR);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].contact, "sip:alice@host.example;x=1");
    }

    const INSTANCE: &str = "\"<urn:uuid:a0b1c2d3-0000-1000-8000-000A95A0E128>\"";

    fn contacts_of(loc: &Location) -> Vec<String> {
        loc.all(AOR).iter().map(|b| b.contact.clone()).collect()
    }

    #[test]
    fn a_restarted_phone_with_the_same_instance_and_no_reg_id_replaces_its_binding() {
        // linphone over TCP: a new local port and Call-ID at every start, the same
        // +sip.instance, no reg-id. Twenty restarts stay one binding, below the limit of 10.
        let mut loc = Location::new();
        for start in 0..20u64 {
            let req = register(
                &format!("boot{start}"),
                1,
                &format!(
                    "Contact: <sip:alice@192.0.2.10:{};transport=tcp>;+sip.instance={INSTANCE}\r\n",
                    40000 + start
                ),
            );
            let changes = run(&mut loc, &req, 100 + start).unwrap();
            let expected = if start == 0 { 1 } else { 2 };
            assert_eq!(changes.len(), expected, "start {start}: {changes:?}");
            assert_eq!(
                contacts_of(&loc),
                [format!(
                    "sip:alice@192.0.2.10:{};transport=tcp",
                    40000 + start
                )]
            );
        }
        let b = &loc.all(AOR)[0];
        assert_eq!(b.call_id, "boot19");
        assert_eq!(b.reg_id, None);
    }

    #[test]
    fn instances_compare_ignoring_case_and_other_instances_stay() {
        let mut loc = Location::new();
        let other = "\"<urn:uuid:ffffffff-0000-1000-8000-000A95A0E128>\"";
        run(
            &mut loc,
            &register(
                "a",
                1,
                &format!(
                    "Contact: <sip:alice@192.0.2.10:5060>;+sip.instance={INSTANCE}, \
<sip:alice@192.0.2.99:5060>;+sip.instance={other}, <sip:alice@192.0.2.50>\r\n"
                ),
            ),
            0,
        )
        .unwrap();
        assert_eq!(loc.binding_count(), 3);
        let upper = INSTANCE.to_uppercase().replace("URN:UUID", "urn:uuid");
        run(
            &mut loc,
            &register(
                "b",
                1,
                &format!("Contact: <sip:alice@192.0.2.11:6000>;+sip.instance={upper}\r\n"),
            ),
            1,
        )
        .unwrap();
        let mut contacts = contacts_of(&loc);
        contacts.sort();
        assert_eq!(
            contacts,
            [
                "sip:alice@192.0.2.11:6000",
                "sip:alice@192.0.2.50",
                "sip:alice@192.0.2.99:5060"
            ]
        );
    }

    #[test]
    fn instance_and_reg_id_name_one_flow_each() {
        // RFC 5626 §6: (instance, reg-id) keys the binding; each flow is refreshed on its
        // own, and a contact of the instance without reg-id is another binding.
        let mut loc = Location::new();
        let flow = |port: u16, reg_id: u32| {
            format!("<sip:alice@192.0.2.10:{port};ob>;+sip.instance={INSTANCE};reg-id={reg_id}")
        };
        run(
            &mut loc,
            &register(
                "c",
                1,
                &format!("Contact: {}, {}\r\n", flow(5001, 1), flow(5002, 2)),
            ),
            0,
        )
        .unwrap();
        run(
            &mut loc,
            &register("c", 2, &format!("Contact: {}\r\n", flow(5003, 1))),
            1,
        )
        .unwrap();
        run(
            &mut loc,
            &register(
                "d",
                1,
                &format!("Contact: <sip:alice@192.0.2.10:5004>;+sip.instance={INSTANCE}\r\n"),
            ),
            2,
        )
        .unwrap();
        let mut all: Vec<_> = loc
            .all(AOR)
            .iter()
            .map(|b| (b.contact.clone(), b.reg_id))
            .collect();
        all.sort();
        assert_eq!(
            all,
            [
                ("sip:alice@192.0.2.10:5002;ob".to_owned(), Some(2)),
                ("sip:alice@192.0.2.10:5003;ob".to_owned(), Some(1)),
                ("sip:alice@192.0.2.10:5004".to_owned(), None),
            ]
        );
    }

    #[test]
    fn the_instance_rule_keeps_the_cseq_rule_and_removes_with_expires_zero() {
        let mut loc = Location::new();
        let contact = |port: u16, extra: &str| {
            format!("Contact: <sip:alice@192.0.2.10:{port}>;+sip.instance={INSTANCE}{extra}\r\n")
        };
        run(&mut loc, &register("c1", 5, &contact(7000, "")), 0).unwrap();
        // Same Call-ID, CSeq not higher: refused, nothing changes (§10.3 step 7).
        let stale = register("c1", 5, &contact(7001, ""));
        assert_eq!(run(&mut loc, &stale, 1).unwrap_err().code, 400);
        assert_eq!(contacts_of(&loc), ["sip:alice@192.0.2.10:7000"]);
        // Expires 0 for the instance at another URI removes the instance's binding.
        let changes = run(
            &mut loc,
            &register("c1", 6, &contact(7002, ";expires=0")),
            2,
        )
        .unwrap();
        assert_eq!(
            changes,
            [Change::Remove {
                contact: "sip:alice@192.0.2.10:7000".to_owned()
            }]
        );
        assert_eq!(loc.binding_count(), 0);
    }

    #[test]
    fn qvalue_text() {
        assert_eq!(QValue(1000).to_string(), "1");
        assert_eq!(QValue(500).to_string(), "0.5");
        assert_eq!(QValue(125).to_string(), "0.125");
        assert_eq!(QValue(0).to_string(), "0");
        assert_eq!(QValue(10).to_string(), "0.01");
    }
}
