//! Dialogs (RFC 3261 §12): the state two user agents share for the length of a call, and the
//! requests sent within it.
//!
//! A [`Dialog`] is created by a user agent, never by a proxy: by the UAC from a 2xx or a
//! tagged 1xx to its INVITE ([`Dialog::uac`], §12.1.2), by the UAS when it answers an INVITE
//! ([`Dialog::uas`], §12.1.1). It then builds the requests of that side
//! ([`Dialog::request`], §12.2.1.1: Request-URI, Route set with loose and strict routing,
//! CSeq), the ACK for a 2xx ([`Dialog::ack`], §13.2.2.4), checks the CSeq order of the
//! requests it receives ([`Dialog::receive_request`], §12.2.2), and follows target refreshes
//! (re-INVITE, UPDATE and their 2xx, §12.2).
//!
//! Sans-IO like the rest of the crate: the caller supplies the Via (with a fresh branch)
//! and the Contact; the dialog writes no timers (the INVITE and BYE transactions carry them).

use std::fmt;

use crate::build::MessageBuilder;
use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::headers::NameAddr;
use crate::message::Message;
use crate::method::Method;

/// Why a dialog could not be created or a request does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// The response or request has no tag where §12.1 needs one (the remote tag).
    #[error("no {0} tag: the message cannot establish a dialog")]
    MissingTag(&'static str),
    /// No Contact (or an unusable one) where the remote target must come from (§12.1.1,
    /// §12.1.2).
    #[error("no usable Contact for the remote target")]
    NoContact,
    /// The request's CSeq is lower than one already received in this dialog (§12.2.2): the
    /// UAS answers `500 Server Internal Error`.
    #[error("CSeq {got} is lower than {last}, the last one received")]
    OutOfOrder {
        /// The last remote CSeq number.
        last: u32,
        /// The number in the request.
        got: u32,
    },
}

/// Whether the dialog was created by a provisional response (§12.1: early) or has been
/// confirmed by a 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a 1xx with a To tag; the 2xx confirms it, a failure ends it.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// The dialog identifier (§12): Call-ID, local tag and remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag (From tag of our requests).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The identifier of the dialog a received request belongs to, as the receiver sees it
    /// (§12.2.2): the To tag is ours, the From tag the peer's. `None` when the request has
    /// no To tag (it is not within a dialog) or is malformed.
    pub fn of_received_request(request: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: request.call_id().ok()?.to_owned(),
            local_tag: request.to().ok()?.tag()?.to_owned(),
            remote_tag: request.from().ok()?.tag().unwrap_or("").to_owned(),
        })
    }

    /// The identifier of the dialog a response to our request belongs to (§12.1.2): the
    /// From tag is ours, the To tag the peer's. `None` without a To tag.
    pub fn of_response(response: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: response.call_id().ok()?.to_owned(),
            local_tag: response.from().ok()?.tag()?.to_owned(),
            remote_tag: response.to().ok()?.tag()?.to_owned(),
        })
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{};{}", self.call_id, self.local_tag, self.remote_tag)
    }
}

/// One dialog, from the point of view of this user agent (RFC 3261 §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    /// Our From value in requests we send, tag included (the To of the UAS's request).
    local: String,
    /// The peer's address, tag included: the To value of requests we send.
    remote: String,
    /// Our CSeq; `None` until we send the first request (UAS side, §12.1.1).
    local_seq: Option<u32>,
    /// The highest CSeq received; `None` until the peer sends a request (UAC side).
    remote_seq: Option<u32>,
    /// Where requests go: the peer's Contact URI.
    remote_target: String,
    /// Record-Route URIs, in the order our requests carry them (name-addr values).
    route_set: Vec<String>,
}

impl Dialog {
    /// The UAC's dialog from its INVITE (or other dialog-creating request) and a 2xx or a
    /// 101–199 response with a To tag (§12.1.2): the route set is the response's
    /// Record-Route in reverse order, the remote target its Contact, the local CSeq the
    /// request's.
    pub fn uac(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let remote_tag = response.to()?.tag().ok_or(DialogError::MissingTag("To"))?;
        let local_tag = request
            .from()?
            .tag()
            .ok_or(DialogError::MissingTag("From"))?;
        let mut route_set = record_route_values(response)?;
        route_set.reverse();
        let state = if (200..300).contains(&response.status().unwrap_or(0)) {
            DialogState::Confirmed
        } else {
            DialogState::Early
        };
        Dialog {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            state,
            local: header_text(request, HeaderName::From)?,
            remote: header_text(response, HeaderName::To)?,
            local_seq: Some(request.cseq()?.seq),
            remote_seq: None,
            remote_target: contact_uri(response).unwrap_or_default(),
            route_set,
        }
        .with_target_checked(response.status().is_some_and(|s| s >= 200))
    }

    /// The UAS's dialog from a received INVITE it answers with a response carrying
    /// `local_tag` in the To (§12.1.1): the route set is the request's Record-Route in
    /// order, the remote target its Contact, the remote CSeq the request's. `confirmed`
    /// says whether the answer is a 2xx (else the dialog is early).
    pub fn uas(request: &Message, local_tag: &str, confirmed: bool) -> Result<Dialog, DialogError> {
        let from = request.from()?;
        let remote_tag = from.tag().ok_or(DialogError::MissingTag("From"))?;
        let to = header_text(request, HeaderName::To)?;
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            state: if confirmed {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local: format!("{to};tag={local_tag}"),
            remote: header_text(request, HeaderName::From)?,
            local_seq: None,
            remote_seq: Some(request.cseq()?.seq),
            remote_target: contact_uri(request).ok_or(DialogError::NoContact)?,
            route_set: record_route_values(request)?,
        })
    }

    fn with_target_checked(self, required: bool) -> Result<Dialog, DialogError> {
        if required && self.remote_target.is_empty() {
            return Err(DialogError::NoContact);
        }
        Ok(self)
    }

    /// The dialog identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The peer's Contact URI, where requests are addressed.
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// The route set, in the order requests carry it.
    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    /// The peer's address as in our To header (tag included).
    pub fn remote_party(&self) -> &str {
        &self.remote
    }

    /// Our address as in our From header (tag included).
    pub fn local_party(&self) -> &str {
        &self.local
    }

    /// The CSeq number of the last request we sent in the dialog.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// Confirms an early dialog with the 2xx that answers the INVITE (§12.1.2 on the UAC:
    /// the route set is recomputed only for a dialog the 2xx creates; an early dialog keeps
    /// its route set and takes the new target).
    pub fn confirm(&mut self, response: &Message) {
        self.state = DialogState::Confirmed;
        if let Some(target) = contact_uri(response) {
            self.remote_target = target;
        }
    }

    /// A target refresh (§12.2.1.2, §12.2.2): a re-INVITE or UPDATE received, or the 2xx to
    /// one we sent, replaces the remote target with its Contact.
    pub fn refresh_target(&mut self, message: &Message) {
        if let Some(target) = contact_uri(message) {
            self.remote_target = target;
        }
    }

    /// Checks a request received in this dialog (§12.2.2): a CSeq lower than the last one
    /// received is out of order (answer `500`); otherwise it becomes the remote CSeq. ACK
    /// and CANCEL carry the CSeq of the request they belong to and are not checked.
    pub fn receive_request(&mut self, request: &Message) -> Result<(), DialogError> {
        let method = request.method();
        if matches!(method, Some(Method::Ack | Method::Cancel)) {
            return Ok(());
        }
        let got = request.cseq()?.seq;
        if let Some(last) = self.remote_seq {
            if got < last {
                return Err(DialogError::OutOfOrder { last, got });
            }
        }
        self.remote_seq = Some(got);
        Ok(())
    }

    /// Starts a request within the dialog (§12.2.1.1): Request-URI and Route from the route
    /// set and the remote target (loose routing when the first route has `lr`, else the
    /// strict-router form with the remote target as the last Route), From and To with the
    /// tags, Call-ID, the next CSeq, Max-Forwards 70, the given Via (with a fresh branch,
    /// §8.1.1.7) and Contact (mandatory in target-refreshing requests). The caller adds a
    /// body and other headers. ACK and CANCEL do not use this: see [`Dialog::ack`] and
    /// [`crate::build::cancel_for`].
    pub fn request(&mut self, method: &Method, via: &str, contact: Option<&str>) -> MessageBuilder {
        let seq = self.local_seq.map_or(1, |s| s.saturating_add(1));
        self.local_seq = Some(seq);
        self.build(method, seq, via, contact)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): built like a
    /// request in the dialog, with the INVITE's CSeq number and method ACK. Sent outside any
    /// transaction, once per 2xx received (retransmissions of the 2xx included).
    pub fn ack(&self, invite_seq: u32, via: &str) -> MessageBuilder {
        self.build(&Method::Ack, invite_seq, via, None)
    }

    fn build(&self, method: &Method, seq: u32, via: &str, contact: Option<&str>) -> MessageBuilder {
        let (request_uri, routes) = self.request_target();
        let mut b = MessageBuilder::request(method, &request_uri).header(HeaderName::Via, via);
        for route in &routes {
            b = b.header(HeaderName::Route, route);
        }
        b = b
            .header(HeaderName::MaxForwards, "70")
            .header(HeaderName::From, &self.local)
            .header(HeaderName::To, &self.remote)
            .header(HeaderName::CallId, &self.id.call_id)
            .header_fmt(HeaderName::CSeq, format_args!("{seq} {}", method.as_str()));
        if let Some(c) = contact {
            b = b.header(HeaderName::Contact, c);
        }
        b
    }

    /// Request-URI and Route values of the next request (§12.2.1.1).
    fn request_target(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let first_uri = NameAddr::parse(first).ok().map(|n| n.uri);
        let loose = first_uri
            .and_then(|u| crate::uri::Uri::parse(u).ok())
            .and_then(|u| u.as_sip().map(|s| s.lr()))
            .unwrap_or(true);
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        // Strict router: its URI becomes the Request-URI, the remote target the last Route.
        let mut routes: Vec<String> = self.route_set[1..].to_vec();
        routes.push(format!("<{}>", self.remote_target));
        (first_uri.unwrap_or(first).to_owned(), routes)
    }
}

/// The whole value of a single-valued header (From, To), as written.
fn header_text(message: &Message, name: HeaderName) -> Result<String, DialogError> {
    message
        .header(name)
        .map(|v| v.trim().to_owned())
        .ok_or(DialogError::Malformed(ParseError::header(name, "missing")))
}

/// The Record-Route values of a message, one per route, in message order.
fn record_route_values(message: &Message) -> Result<Vec<String>, DialogError> {
    let mut out = Vec::new();
    for rr in message.record_routes() {
        let rr = rr?;
        out.push(format!("<{}>{}", rr.uri, params_suffix(&rr)));
    }
    Ok(out)
}

fn params_suffix(addr: &NameAddr<'_>) -> String {
    let p = addr.params.as_str();
    if p.is_empty() {
        String::new()
    } else if p.starts_with(';') {
        p.to_owned()
    } else {
        format!(";{p}")
    }
}

/// The URI of the first Contact, if any.
fn contact_uri(message: &Message) -> Option<String> {
    let contact = message.contacts().next()?.ok()?;
    Some(contact.addr()?.uri.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r\n").into_bytes()).unwrap()
    }

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\n\
Max-Forwards: 70\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\n\
To: <sip:bob@example.com>\n\
Call-ID: c1@10.0.0.1\n\
CSeq: 7 INVITE\n\
Contact: <sip:alice@10.0.0.1:5060>\n\
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\n\
Content-Length: 0\n\n";

    const OK: &str = "SIP/2.0 200 OK\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\n\
To: <sip:bob@example.com>;tag=b2\n\
Call-ID: c1@10.0.0.1\n\
CSeq: 7 INVITE\n\
Contact: <sip:bob@10.0.0.2:5062;transport=udp>\n\
Record-Route: <sip:p2.example.com;lr>\n\
Record-Route: <sip:p1.example.com;lr>\n\
Content-Length: 0\n\n";

    #[test]
    fn uac_dialog_reverses_the_record_route_and_counts_on() {
        let mut d = Dialog::uac(&msg(INVITE), &msg(OK)).unwrap();
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.id().remote_tag, "b2");
        assert_eq!(d.remote_target(), "sip:bob@10.0.0.2:5062;transport=udp");
        let bye = d
            .request(&Method::Bye, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2", None)
            .build()
            .unwrap();
        assert_eq!(
            bye.request_uri_str(),
            Some("sip:bob@10.0.0.2:5062;transport=udp")
        );
        let routes: Vec<_> = bye.routes().map(|r| r.unwrap().uri).collect();
        assert_eq!(routes, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
        assert_eq!(bye.cseq().unwrap().seq, 8);
        assert_eq!(bye.to().unwrap().tag(), Some("b2"));
        assert_eq!(bye.from().unwrap().tag(), Some("a1"));
        let ack = d
            .ack(7, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK3")
            .build()
            .unwrap();
        assert_eq!(ack.header(HeaderName::CSeq), Some("7 ACK"));
    }

    #[test]
    fn uas_dialog_keeps_the_record_route_order_and_checks_cseq() {
        let mut d = Dialog::uas(&msg(INVITE), "b2", true).unwrap();
        assert_eq!(d.remote_target(), "sip:alice@10.0.0.1:5060");
        let bye = d
            .request(&Method::Bye, "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK9", None)
            .build()
            .unwrap();
        let routes: Vec<_> = bye.routes().map(|r| r.unwrap().uri).collect();
        assert_eq!(routes, ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]);
        assert_eq!(bye.from().unwrap().tag(), Some("b2"));
        assert_eq!(bye.to().unwrap().tag(), Some("a1"));
        assert_eq!(bye.cseq().unwrap().seq, 1);

        let info = |seq: u32| {
            msg(&format!(
                "INFO sip:bob@10.0.0.2 SIP/2.0\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{seq}x\n\
From: <sip:alice@example.com>;tag=a1\n\
To: <sip:bob@example.com>;tag=b2\n\
Call-ID: c1@10.0.0.1\n\
CSeq: {seq} INFO\n\
Content-Length: 0\n\n"
            ))
        };
        assert!(d.receive_request(&info(8)).is_ok());
        assert_eq!(
            d.receive_request(&info(6)),
            Err(DialogError::OutOfOrder { last: 8, got: 6 })
        );
        assert_eq!(
            DialogId::of_received_request(&info(9)).as_ref(),
            Some(d.id())
        );
    }

    #[test]
    fn strict_router_gets_the_request_uri() {
        let ok = OK
            .replace("<sip:p2.example.com;lr>", "<sip:p2.example.com>")
            .replace("Record-Route: <sip:p1.example.com;lr>\n", "");
        let mut d = Dialog::uac(&msg(INVITE), &msg(&ok)).unwrap();
        let bye = d
            .request(&Method::Bye, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2", None)
            .build()
            .unwrap();
        assert_eq!(bye.request_uri_str(), Some("sip:p2.example.com"));
        let routes: Vec<_> = bye.routes().map(|r| r.unwrap().uri).collect();
        assert_eq!(routes, ["sip:bob@10.0.0.2:5062;transport=udp"]);
    }

    #[test]
    fn early_dialog_is_confirmed_and_target_refreshed() {
        let ringing = OK.replace("200 OK", "180 Ringing");
        let mut d = Dialog::uac(&msg(INVITE), &msg(&ringing)).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        let ok = OK.replace("10.0.0.2:5062;transport=udp", "10.0.0.9");
        d.confirm(&msg(&ok));
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.remote_target(), "sip:bob@10.0.0.9");
    }

    #[test]
    fn response_without_to_tag_makes_no_dialog() {
        let ok = OK.replace(";tag=b2", "");
        assert_eq!(
            Dialog::uac(&msg(INVITE), &msg(&ok)),
            Err(DialogError::MissingTag("To"))
        );
    }
}
