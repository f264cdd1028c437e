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
//! Besides the hooks and the operator, the proxy ends a call nobody ended when its
//! parties are gone ([`Limits`]): no ACK for the 2xx (RFC 3261 §13.3.1.4: the caller
//! vanished right after the answer), a session timer that ran out without a refresh
//! (RFC 4028 §10), or `[proxy] max_call_duration`.
//!
//! Each request goes first to where that party's messages came from (its flow: the
//! address its NAT shows, the connection it uses), whatever the route set's first entry
//! says: behind a NAT that is the only address that reaches it, and when a record-routing
//! proxy sits in between, its messages came from that proxy, which is the route set's
//! first hop anyway.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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
    /// When it is ended if nothing happens before.
    limits: Limits,
}

/// The shortest Session-Expires a session may have (RFC 4028 §4: 90 seconds): a shorter
/// value in a 2xx is taken as this, so a phone cannot have its call ended at once.
pub(crate) const MIN_SESSION_EXPIRES: Duration = Duration::from_secs(90);

/// The times at which the proxy ends an answered call that nobody ended, each `None`
/// when it does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The ACK for the 2xx must have passed by then. A UAS gives up on the ACK after
    /// 64*T1 and should send BYE itself (RFC 3261 §13.3.1.4); the proxy waits a little
    /// longer ([`Limits::ack_wait`]) so that BYE, when it comes, ends the call first.
    pub(crate) ack_by: Option<Instant>,
    /// The session timer: the last refresh plus its interval (RFC 4028 §10). Both user
    /// agents act before that (the refresher at half the interval, the other side with a
    /// BYE up to 32 s before it), so it passes only when both are gone.
    pub(crate) session_expires: Option<Instant>,
    /// `[proxy] max_call_duration` after the answer.
    pub(crate) longest: Option<Instant>,
}

impl Limits {
    /// How long after the 2xx the proxy waits for its ACK: 64*T1 (when the UAS gives up,
    /// §13.3.1.4) plus T4 (how long a message may stay in the network, §17.1.2.2).
    pub(crate) fn ack_wait(timers: &sip::transaction::TimerConfig) -> Duration {
        timers.t1.saturating_mul(64).saturating_add(timers.t4)
    }

    /// The first limit to come and why the call ends then.
    fn next(&self) -> Option<(Instant, EndReason)> {
        [
            (self.ack_by, EndReason::NoAck),
            (self.session_expires, EndReason::SessionExpired),
            (self.longest, EndReason::MaxDuration),
        ]
        .into_iter()
        .filter_map(|(at, reason)| at.map(|at| (at, reason)))
        .min_by_key(|(at, _)| *at)
    }
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

/// The answered calls this proxy record-routed, by Call-ID, and when each is ended if
/// nobody ends it. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    calls: HashMap<String, Call>,
    /// (when, Call-ID) of each call's first limit ([`Limits::next`]).
    deadlines: BTreeSet<(Instant, String)>,
}

impl Answered {
    /// A call was answered at `now`: keeps what ending it needs, with its `limits` (the
    /// session timer is read here from the 2xx's `Session-Expires`). A 2xx without a
    /// Record-Route of ours, a To tag or a Contact is not a dialog we are in, and is not
    /// kept.
    pub(crate) fn answered(
        &mut self,
        answer: Answer<'_>,
        own: &mut dyn OwnAddresses,
        now: Instant,
        mut limits: Limits,
    ) {
        let Some((call_id, mut call)) = call_of(&answer, own) else {
            return;
        };
        if self.calls.contains_key(&call_id) {
            return; // a second 2xx of a forked call: the first one's dialog is kept
        }
        limits.session_expires = session_interval(answer.ok).map(|interval| now + interval);
        call.limits = limits;
        if let Some((at, _)) = limits.next() {
            self.deadlines.insert((at, call_id.clone()));
        }
        self.calls.insert(call_id, call);
    }

    /// Changes the limits of call `call_id` with `change`, keeping its deadline in order.
    fn change_limits(&mut self, call_id: &str, change: impl FnOnce(&mut Limits)) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let before = call.limits.next();
        change(&mut call.limits);
        let after = call.limits.next();
        if before == after {
            return;
        }
        if let Some((at, _)) = before {
            self.deadlines.remove(&(at, call_id.to_owned()));
        }
        if let Some((at, _)) = after {
            self.deadlines.insert((at, call_id.to_owned()));
        }
    }

    /// The earliest deadline of a call.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The calls whose deadline has come by `now`, earliest first, and why each ends.
    pub(crate) fn overdue(&self, now: Instant) -> Vec<(String, EndReason)> {
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter_map(|(_, call_id)| {
                let (_, reason) = self.calls.get(call_id)?.limits.next()?;
                Some((call_id.clone(), reason))
            })
            .collect()
    }

    /// The limits of call `call_id`, if it is kept.
    #[cfg(test)]
    pub(crate) fn limits(&self, call_id: &str) -> Option<Limits> {
        self.calls.get(call_id).map(|c| c.limits)
    }

    /// Forgets call `call_id`.
    fn forget(&mut self, call_id: &str) -> Option<Call> {
        let call = self.calls.remove(call_id)?;
        if let Some((at, _)) = call.limits.next() {
            self.deadlines.remove(&(at, call_id.to_owned()));
        }
        Some(call)
    }

    /// An in-dialog request passed through: its CSeq is the new floor of its sender's
    /// numbers; an ACK shows the caller got the 2xx; a BYE ends the call here.
    pub(crate) fn in_dialog(&mut self, request: &Message) {
        let Ok(call_id) = request.call_id() else {
            return;
        };
        match request.method() {
            Some(Method::Bye) => {
                self.forget(call_id);
                return;
            }
            Some(Method::Ack) => self.change_limits(call_id, |l| l.ack_by = None),
            _ => {}
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

    /// A 2xx to a re-INVITE or UPDATE of call `call_id` passed at `now`: a session
    /// refresh (RFC 4028 §10). Its `Session-Expires` starts the interval again; without
    /// one the session has no timer any more (RFC 4028 §7.4: the 2xx decides).
    pub(crate) fn refreshed(&mut self, call_id: &str, ok: &Message, now: Instant) {
        let expires = session_interval(ok).map(|interval| now + interval);
        self.change_limits(call_id, |l| l.session_expires = expires);
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
            EndReason::NoAck => "SIP;cause=408;text=\"No ACK for the answer\"",
            EndReason::SessionExpired => "SIP;cause=408;text=\"Session timer expired\"",
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
            limits: Limits::default(),
        },
    ))
}

/// The session interval a message's `Session-Expires` (RFC 4028 §4: `delta-seconds`,
/// then parameters such as `refresher`) sets, at least [`MIN_SESSION_EXPIRES`]; `None`
/// without the header or with a value that is not a number.
fn session_interval(message: &Message) -> Option<Duration> {
    let value = message.header(HeaderName::SessionExpires)?;
    let seconds: u64 = value.split(';').next()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).max(MIN_SESSION_EXPIRES))
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
            Instant::now(),
            Limits::default(),
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
            Instant::now(),
            Limits::default(),
        );
        assert_eq!(calls.len(), 0);
    }

    /// A call answered at `at` with its ACK due 37 s later and 600 s at most, and an
    /// `ok` carrying `session_expires` when given.
    fn answered_with(at: Instant, session_expires: Option<&str>) -> Answered {
        let invite = message(INVITE);
        let ok_text = match session_expires {
            Some(value) => OK.replace(
                "Content-Length: 0",
                &format!("Session-Expires: {value}\nContent-Length: 0"),
            ),
            None => OK.to_owned(),
        };
        let ok = message(&ok_text);
        let mut calls = Answered::default();
        calls.answered(
            Answer {
                invite: &invite,
                ok: &ok,
                caller_flow: route("198.51.100.7:40000"),
                callee_flow: route("203.0.113.9:5060"),
            },
            &mut Us,
            at,
            Limits {
                ack_by: Some(at + Duration::from_secs(37)),
                session_expires: None,
                longest: Some(at + Duration::from_secs(600)),
            },
        );
        calls
    }

    const ACK: &str = "ACK sip:bob@203.0.113.50:5062 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKack
From: \"Alice\" <sip:alice@example.com>;tag=from1
To: <sip:bob@example.com>;tag=to1
Call-ID: call-1
CSeq: 7 ACK
Max-Forwards: 70
Content-Length: 0

";

    #[test]
    fn without_its_ack_a_call_is_overdue_after_the_ack_wait() {
        let t0 = Instant::now();
        let calls = answered_with(t0, None);
        assert_eq!(calls.next_deadline(), Some(t0 + Duration::from_secs(37)));
        assert!(calls.overdue(t0 + Duration::from_secs(36)).is_empty());
        assert_eq!(
            calls.overdue(t0 + Duration::from_secs(37)),
            [("call-1".to_owned(), EndReason::NoAck)]
        );
        let timers = sip::transaction::TimerConfig::default();
        assert_eq!(
            Limits::ack_wait(&timers),
            timers.t1 * 64 + timers.t4,
            "64*T1 + T4: 37 s with the default timers"
        );
    }

    #[test]
    fn the_ack_leaves_the_longest_duration() {
        let t0 = Instant::now();
        let mut calls = answered_with(t0, None);
        calls.in_dialog(&message(ACK));
        assert_eq!(calls.next_deadline(), Some(t0 + Duration::from_secs(600)));
        assert_eq!(
            calls.overdue(t0 + Duration::from_secs(600)),
            [("call-1".to_owned(), EndReason::MaxDuration)]
        );
    }

    #[test]
    fn a_session_timer_ends_the_call_unless_refreshed() {
        let t0 = Instant::now();
        let mut calls = answered_with(t0, Some("120;refresher=uac"));
        calls.in_dialog(&message(ACK));
        let limits = calls.limits("call-1").expect("kept");
        assert_eq!(limits.session_expires, Some(t0 + Duration::from_secs(120)));
        assert_eq!(
            calls.overdue(t0 + Duration::from_secs(120)),
            [("call-1".to_owned(), EndReason::SessionExpired)]
        );
        // A refresh at 60 s starts the interval again, with the 2xx's new value.
        let ok = message(&OK.replace(
            "Content-Length: 0",
            "Session-Expires: 180;refresher=uas\nContent-Length: 0",
        ));
        calls.refreshed("call-1", &ok, t0 + Duration::from_secs(60));
        assert!(calls.overdue(t0 + Duration::from_secs(120)).is_empty());
        assert_eq!(calls.next_deadline(), Some(t0 + Duration::from_secs(240)));
        // A refresh whose 2xx has no Session-Expires turns the timer off.
        calls.refreshed("call-1", &message(OK), t0 + Duration::from_secs(200));
        assert_eq!(calls.next_deadline(), Some(t0 + Duration::from_secs(600)));
        // A refresh of a call not kept changes nothing.
        calls.refreshed("call-2", &ok, t0);
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn a_session_interval_below_90_s_or_not_a_number_is_read_safely() {
        let with = |value: &str| {
            message(&OK.replace(
                "Content-Length: 0",
                &format!("Session-Expires: {value}\nContent-Length: 0"),
            ))
        };
        assert_eq!(session_interval(&with("1")), Some(MIN_SESSION_EXPIRES));
        assert_eq!(
            session_interval(&with(" 1800 ;refresher=uac")),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(session_interval(&with("soon")), None);
        assert_eq!(session_interval(&with("99999999999999999999999")), None);
        assert_eq!(session_interval(&message(OK)), None);
        // The compact form `x` (RFC 4028 §4).
        let compact = message(&OK.replace("Content-Length: 0", "x: 300\nContent-Length: 0"));
        assert_eq!(session_interval(&compact), Some(Duration::from_secs(300)));
    }
}
