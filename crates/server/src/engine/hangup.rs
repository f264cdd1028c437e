//! Ending an answered call from the middle: the BYE requests the proxy sends to both
//! parties when a call must end without either of them hanging up (the caller's prepaid
//! credit ran out, an administrator ended it), what Kamailio's `dlg_end_dlg` does for
//! `cnxcc`.
//!
//! A proxy that record-routes an INVITE sees everything a party of the dialog knows
//! (RFC 3261 §12.1): the Call-ID, both tags, both remote targets (the Contact of the
//! INVITE and of its 2xx), the route set (the Record-Route of the 2xx, §12.1.1/§12.1.2)
//! and the CSeq numbers each side uses, which it follows on the in-dialog requests that
//! pass. [`Answered`] keeps that per answered call; [`Answered::byes`] builds the two
//! requests as each party's peer would send them (§12.2.1.1, §15.1.1): to the callee
//! as if from the caller (the caller's From and next CSeq), to the caller as if from the
//! callee, each with a Via of ours, so the responses end at our client transactions,
//! and a `Reason` (RFC 3326) that says why.
//!
//! Each request goes first to where that party's messages came from (its flow: the
//! address its NAT shows, the connection it uses), whatever the route set's first entry
//! says: behind a NAT that is the only address that reaches it, and when a record-routing
//! proxy sits in between, its messages came from that proxy, which is the route set's
//! first hop anyway.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use ahash::HashMap;
use sip::{HeaderName, Message, MessageBuilder, Method, Uri};

use crate::engine::io::Route;
use crate::policy::hook::EndReason;
use crate::proxy::forward::{route_uri, OwnAddresses};

/// One side of an answered call, as the proxy reaches it.
#[derive(Debug, Clone)]
struct Party {
    /// The remote target: the Contact URI it gave (§12.1.1, §12.1.2).
    target: String,
    /// The Route values toward it, in the order they are visited.
    route_set: Vec<String>,
    /// Where its messages came from, and over which of our sockets.
    flow: Route,
    /// The highest CSeq number seen in a request this party sent in the dialog (the
    /// INVITE's for the caller; 0 until the callee sends one).
    cseq: u32,
}

/// What the proxy knows of one answered call.
#[derive(Debug, Clone)]
struct Call {
    /// The caller's From, with its tag, as in the INVITE.
    from: String,
    /// The callee's To, with its tag, as in the 2xx.
    to: String,
    /// The caller's From tag, to tell who sent an in-dialog request.
    from_tag: String,
    caller: Party,
    callee: Party,
    /// When it is ended at the latest.
    deadline: Option<Instant>,
}

/// What the engine learned of a call when it was answered.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    /// The INVITE as received.
    pub(crate) invite: &'a Message,
    /// The 2xx going to the caller (our Via off, the NAT fix made).
    pub(crate) ok: &'a Message,
    /// Where the caller's messages come from (the server transaction's response route).
    pub(crate) caller_flow: Route,
    /// Where the 2xx came from.
    pub(crate) callee_flow: Route,
}

/// One BYE of a hang-up and where it goes.
#[derive(Debug)]
pub(crate) struct Bye {
    pub(crate) request: Message,
    pub(crate) route: Route,
}

/// The answered calls this proxy record-routed, by Call-ID, and when each must end at the
/// latest. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    calls: HashMap<String, Call>,
    /// (deadline, Call-ID) of the calls with a longest duration.
    deadlines: BTreeSet<(Instant, String)>,
}

impl Answered {
    /// A call was answered: keeps what ending it needs, and ends it at `deadline` at the
    /// latest. A 2xx without a Record-Route of ours, a To tag or a Contact is not a dialog
    /// we are in, and is not kept.
    pub(crate) fn answered(
        &mut self,
        answer: Answer<'_>,
        own: &mut dyn OwnAddresses,
        deadline: Option<Instant>,
    ) {
        let Some((call_id, mut call)) = call_of(&answer, own) else {
            return;
        };
        if self.calls.contains_key(&call_id) {
            return; // a second 2xx of a forked call: the first one's dialog is kept
        }
        if let Some(at) = deadline {
            call.deadline = Some(at);
            self.deadlines.insert((at, call_id.clone()));
        }
        self.calls.insert(call_id, call);
    }

    /// The earliest deadline of a call.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The calls whose deadline has come by `now`, earliest first.
    pub(crate) fn overdue(&self, now: Instant) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, call_id)| call_id.clone())
            .collect()
    }

    /// Forgets call `call_id`.
    fn forget(&mut self, call_id: &str) -> Option<Call> {
        let call = self.calls.remove(call_id)?;
        if let Some(at) = call.deadline {
            self.deadlines.remove(&(at, call_id.to_owned()));
        }
        Some(call)
    }

    /// An in-dialog request passed through: its CSeq is the new floor of its sender's
    /// numbers; a BYE ends the call here.
    pub(crate) fn in_dialog(&mut self, request: &Message) {
        let Ok(call_id) = request.call_id() else {
            return;
        };
        if request.method() == Some(&Method::Bye) {
            self.forget(call_id);
            return;
        }
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let (Ok(cseq), Ok(from)) = (request.cseq(), request.from()) else {
            return;
        };
        let sender = if from.tag() == Some(call.from_tag.as_str()) {
            &mut call.caller
        } else {
            &mut call.callee
        };
        sender.cseq = sender.cseq.max(cseq.seq);
    }

    /// Whether call `call_id` is kept (answered, not ended).
    pub(crate) fn contains(&self, call_id: &str) -> bool {
        self.calls.contains_key(call_id)
    }

    /// How many answered calls are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    /// Forgets call `call_id` and answers the BYE to each of its parties (the callee's
    /// first), with `via_for` giving our Via toward a flow; `None` for a call not kept.
    pub(crate) fn byes(
        &mut self,
        call_id: &str,
        reason: EndReason,
        mut via_for: impl FnMut(&Route) -> Option<String>,
    ) -> Option<Vec<Bye>> {
        let call = self.forget(call_id)?;
        let reason_value = match reason {
            EndReason::Credit => "SIP;cause=402;text=\"Credit exhausted\"",
            EndReason::Admin => "SIP;cause=200;text=\"Call ended by the operator\"",
            EndReason::MaxDuration => "SIP;cause=200;text=\"Maximum call duration reached\"",
            EndReason::NoMedia => "SIP;cause=408;text=\"No media\"",
        };
        let legs = [
            (&call.callee, &call.from, &call.to, call.caller.cseq),
            (&call.caller, &call.to, &call.from, call.callee.cseq),
        ];
        let mut byes = Vec::with_capacity(2);
        for (party, from, to, last_cseq) in legs {
            let Some(via) = via_for(&party.flow) else {
                tracing::warn!(call_id, dest = %party.flow.dest, "no socket to send a BYE from");
                continue;
            };
            let mut b = MessageBuilder::request(&Method::Bye, &party.target)
                .header(HeaderName::Via, &via)
                .header(HeaderName::MaxForwards, "70");
            for route in &party.route_set {
                b = b.header(HeaderName::Route, route);
            }
            let built = b
                .header(HeaderName::From, from)
                .header(HeaderName::To, to)
                .header(HeaderName::CallId, call_id)
                .header_fmt(
                    HeaderName::CSeq,
                    format_args!("{} BYE", last_cseq.saturating_add(1)),
                )
                .header(HeaderName::Reason, reason_value)
                .build();
            match built {
                Ok(request) => byes.push(Bye {
                    request,
                    route: party.flow,
                }),
                Err(e) => tracing::warn!(call_id, error = %e, "cannot build a BYE"),
            }
        }
        Some(byes)
    }
}

/// The Call-ID and dialog state of an answered call, when we are in its route set.
fn call_of(answer: &Answer<'_>, own: &mut dyn OwnAddresses) -> Option<(String, Call)> {
    let Answer {
        invite,
        ok,
        caller_flow,
        callee_flow,
    } = answer;
    let call_id = invite.call_id().ok()?;
    let from_header = invite.from().ok()?;
    let from_tag = from_header.tag()?.to_owned();
    ok.to().ok()?.tag()?;
    let from = invite.header(HeaderName::From)?.to_owned();
    let to = ok.header(HeaderName::To)?.to_owned();
    let caller_target = contact_uri(invite)?;
    let callee_target = contact_uri(ok)?;
    let record_routes: Vec<String> = ok
        .header_values(HeaderName::RecordRoute)
        .flat_map(sip::text::split_top_level)
        .filter_map(Result::ok)
        .map(|v| v.trim().to_owned())
        .collect();
    // Ours: the entry (two with double record-routing, RFC 5658) naming this proxy.
    let is_own = |value: &str, own: &mut dyn OwnAddresses| match Uri::parse(route_uri(value)) {
        Ok(Uri::Sip(uri)) => own.is_own(&uri.host, uri.port, true),
        _ => false,
    };
    let first_own = record_routes.iter().position(|v| is_own(v, own))?;
    let mut after_own = first_own + 1;
    while after_own < record_routes.len() && is_own(&record_routes[after_own], own) {
        after_own += 1;
    }
    // The 2xx lists the proxies from the callee's side to the caller's: those before
    // ours lead to the callee (nearest first, so reversed), those after ours to the
    // caller (in order).
    let toward_callee = record_routes[..first_own].iter().rev().cloned().collect();
    let toward_caller = record_routes[after_own..].to_vec();
    let caller_cseq = invite.cseq().ok()?.seq;
    Some((
        call_id.to_owned(),
        Call {
            from,
            to,
            from_tag,
            caller: Party {
                target: caller_target,
                route_set: toward_caller,
                flow: *caller_flow,
                cseq: caller_cseq,
            },
            callee: Party {
                target: callee_target,
                route_set: toward_callee,
                flow: *callee_flow,
                cseq: 0,
            },
            deadline: None,
        },
    ))
}

/// The URI of a message's first Contact.
fn contact_uri(message: &Message) -> Option<String> {
    match message.contacts().next()? {
        Ok(sip::headers::Contact::Addr(addr)) => Some(addr.uri.to_owned()),
        _ => None,
    }
}

/// The flow a message arrived on, as a route to answer it on.
pub(crate) fn flow(source: SocketAddr, local: transport::Listen) -> Route {
    Route {
        protocol: local.protocol,
        local: local.addr,
        dest: source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip::uri::Host;
    use transport::Protocol;

    /// We are 192.0.2.1:5060.
    struct Us;

    impl OwnAddresses for Us {
        fn is_own(&mut self, host: &Host<'_>, port: Option<u16>, _domains: bool) -> bool {
            matches!(host, Host::V4(ip) if ip.to_string() == "192.0.2.1")
                && port.unwrap_or(5060) == 5060
        }
    }

    fn message(text: &str) -> Message {
        Message::parse(Bytes::from(text.replace('\n', "\r\n"))).expect("test message parses")
    }

    fn route(dest: &str) -> Route {
        Route {
            protocol: Protocol::Udp,
            local: "192.0.2.1:5060".parse().expect("addr"),
            dest: dest.parse().expect("addr"),
        }
    }

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;rport=40000;received=198.51.100.7
From: \"Alice\" <sip:alice@example.com>;tag=from1
To: <sip:bob@example.com>
Call-ID: call-1
CSeq: 7 INVITE
Contact: <sip:alice@10.0.0.5:5060>
Max-Forwards: 70
Content-Length: 0

";

    const OK: &str = "SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;rport=40000;received=198.51.100.7
Record-Route: <sip:203.0.113.9;lr>, <sip:192.0.2.1;lr>, <sip:198.51.100.1;lr>
From: \"Alice\" <sip:alice@example.com>;tag=from1
To: <sip:bob@example.com>;tag=to1
Call-ID: call-1
CSeq: 7 INVITE
Contact: <sip:bob@203.0.113.50:5062>
Content-Length: 0

";

    fn answered() -> Answered {
        let invite = message(INVITE);
        let ok = message(OK);
        let mut calls = Answered::default();
        calls.answered(
            Answer {
                invite: &invite,
                ok: &ok,
                caller_flow: route("198.51.100.7:40000"),
                callee_flow: route("203.0.113.9:5060"),
            },
            &mut Us,
            None,
        );
        calls
    }

    fn via(_: &Route) -> Option<String> {
        Some("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbye;rport".into())
    }

    #[test]
    fn each_party_gets_a_bye_from_its_peer_with_the_route_set_toward_it() {
        let mut calls = answered();
        let byes = calls
            .byes("call-1", EndReason::Credit, via)
            .expect("the call is known");
        assert_eq!(byes.len(), 2);
        let to_callee = &byes[0].request;
        assert_eq!(
            to_callee.request_uri_str(),
            Some("sip:bob@203.0.113.50:5062")
        );
        assert_eq!(
            to_callee.header(HeaderName::Route),
            Some("<sip:203.0.113.9;lr>")
        );
        assert_eq!(
            to_callee.from().expect("From").tag(),
            Some("from1"),
            "to the callee the BYE comes from the caller"
        );
        assert_eq!(to_callee.to().expect("To").tag(), Some("to1"));
        assert_eq!(to_callee.cseq().expect("CSeq").seq, 8);
        assert_eq!(
            byes[0].route.dest,
            "203.0.113.9:5060".parse().expect("addr")
        );
        assert!(to_callee
            .header(HeaderName::Reason)
            .is_some_and(|r| r.contains("cause=402")));

        let to_caller = &byes[1].request;
        assert_eq!(to_caller.request_uri_str(), Some("sip:alice@10.0.0.5:5060"));
        assert_eq!(
            to_caller.header(HeaderName::Route),
            Some("<sip:198.51.100.1;lr>")
        );
        assert_eq!(to_caller.from().expect("From").tag(), Some("to1"));
        assert_eq!(to_caller.to().expect("To").tag(), Some("from1"));
        assert_eq!(
            byes[1].route.dest,
            "198.51.100.7:40000".parse().expect("addr"),
            "to the caller's flow (its NAT's address)"
        );
        assert!(
            calls.byes("call-1", EndReason::Credit, via).is_none(),
            "a call is ended once"
        );
    }

    #[test]
    fn in_dialog_requests_raise_the_cseq_and_a_bye_forgets_the_call() {
        let mut calls = answered();
        let reinvite_from_callee = message(
            "INVITE sip:alice@10.0.0.5:5060 SIP/2.0
Via: SIP/2.0/UDP 203.0.113.50:5062;branch=z9hG4bKr
From: <sip:bob@example.com>;tag=to1
To: \"Alice\" <sip:alice@example.com>;tag=from1
Call-ID: call-1
CSeq: 300 INVITE
Max-Forwards: 70
Content-Length: 0

",
        );
        calls.in_dialog(&reinvite_from_callee);
        let byes = calls
            .byes("call-1", EndReason::Credit, via)
            .expect("the call is known");
        assert_eq!(byes[0].request.cseq().expect("CSeq").seq, 8);
        assert_eq!(byes[1].request.cseq().expect("CSeq").seq, 301);

        let mut calls = answered();
        let bye = message(
            "BYE sip:bob@203.0.113.50:5062 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKb
From: \"Alice\" <sip:alice@example.com>;tag=from1
To: <sip:bob@example.com>;tag=to1
Call-ID: call-1
CSeq: 8 BYE
Max-Forwards: 70
Content-Length: 0

",
        );
        calls.in_dialog(&bye);
        assert_eq!(calls.len(), 0);
    }

    #[test]
    fn a_2xx_without_our_record_route_is_not_a_dialog_we_can_end() {
        let invite = message(INVITE);
        let ok = message(&OK.replace(
            "Record-Route: <sip:203.0.113.9;lr>, <sip:192.0.2.1;lr>, <sip:198.51.100.1;lr>\n",
            "",
        ));
        let mut calls = Answered::default();
        calls.answered(
            Answer {
                invite: &invite,
                ok: &ok,
                caller_flow: route("198.51.100.7:40000"),
                callee_flow: route("203.0.113.9:5060"),
            },
            &mut Us,
            None,
        );
        assert_eq!(calls.len(), 0);
    }
}
