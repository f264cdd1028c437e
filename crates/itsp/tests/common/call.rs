//! Call helpers for the test [`Phone`]: requests of a call (INVITE, ACK, BYE, CANCEL), the
//! answers of a called phone, and reading what arrives with its source address. Just
//! enough of a UA to drive the proxy from both ends; every message is written out in full
//! so a test reads like the call flow it checks.

use std::net::SocketAddr;
use std::time::Duration;

use sip::{HeaderName, Message, MessageBuilder};

use super::Phone;

/// One call as the caller sees it: the identifiers of its dialog.
#[derive(Debug, Clone)]
pub struct Call {
    pub call_id: String,
    pub from_tag: String,
    /// The callee, `user@domain`.
    pub to: String,
    pub cseq: u32,
    /// The INVITE's branch (CANCEL and the ACK of a non-2xx reuse it).
    pub branch: String,
}

impl Phone {
    /// A new call from this phone to `to` (`user@domain`).
    pub fn new_call(&self, to: &str, tag: &str) -> Call {
        Call {
            call_id: format!("{tag}-{}@test", self.local().port()),
            from_tag: format!("f-{tag}"),
            to: to.to_owned(),
            cseq: 1,
            branch: format!("z9hG4bK-{tag}-1"),
        }
    }

    /// Sends text to the server.
    pub fn send(&self, text: &str) {
        self.sock.send_to(text.as_bytes(), self.server).unwrap();
    }

    /// The next message, whatever it is, and where it came from.
    pub fn recv_from(&self) -> (Message, SocketAddr) {
        let mut buf = vec![0u8; 65535];
        let (n, from) = self.sock.recv_from(&mut buf).expect("a message");
        (
            Message::parse(buf[..n].to_vec()).expect("a valid SIP message"),
            from,
        )
    }

    /// Waits for a request of `method`, skipping anything else (retransmissions of
    /// responses, provisional answers).
    pub fn expect_request(&self, method: &str) -> (Message, SocketAddr) {
        for _ in 0..20 {
            let (m, from) = self.recv_from();
            if m.method().is_some_and(|x| x.as_str() == method) {
                return (m, from);
            }
        }
        panic!("no {method} arrived");
    }

    /// Waits for a response with this CSeq method, skipping 100 Trying and requests.
    pub fn expect_response(&self, method: &str) -> Message {
        for _ in 0..20 {
            let (m, _) = self.recv_from();
            if m.status().is_some_and(|s| s > 100) && m.cseq().is_ok_and(|c| c.method == method) {
                return m;
            }
        }
        panic!("no response to {method} arrived");
    }

    /// Whether nothing arrives for `wait`.
    pub fn silent_for(&self, wait: Duration) -> bool {
        let old = self.sock.read_timeout().unwrap();
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 65535];
        let silent = self.sock.recv_from(&mut buf).is_err();
        self.sock.set_read_timeout(old).unwrap();
        silent
    }

    /// The INVITE of `call` (with `auth` as Proxy-Authorization when given) and an SDP
    /// offer.
    pub fn invite_text(&self, call: &Call, auth: Option<&str>) -> String {
        let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\n",
            self.local().port() + 1
        );
        format!(
            "INVITE sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag={tag}\r\nTo: <sip:{to}>\r\n\
Call-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{user}@{local}>\r\n{auth}\
Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            to = call.to,
            local = self.local(),
            branch = call.branch,
            user = self.user,
            domain = self.domain,
            tag = call.from_tag,
            cid = call.call_id,
            cseq = call.cseq,
            len = sdp.len(),
        )
    }

    /// The next INVITE of the call (new CSeq and branch), e.g. with credentials.
    pub fn next_invite(&self, call: &mut Call) {
        call.cseq += 1;
        call.branch = format!("{}-{}", call.branch, call.cseq);
    }

    /// The ACK for a non-2xx final response to the INVITE (§17.1.1.3): same branch, the
    /// response's To.
    pub fn ack_failure(&self, call: &Call, response: &Message) {
        let to = response.header(HeaderName::To).unwrap();
        self.send(&self.same_transaction("ACK", call, to));
    }

    /// The CANCEL of the call's INVITE (§9.1).
    pub fn cancel(&self, call: &Call) {
        self.send(&self.same_transaction("CANCEL", call, &format!("<sip:{}>", call.to)));
    }

    /// An ACK or CANCEL for the call's INVITE: its branch, Call-ID, From and CSeq number.
    fn same_transaction(&self, method: &str, call: &Call, to: &str) -> String {
        format!(
            "{method} sip:{to_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\n\
CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            to_uri = call.to,
            local = self.local(),
            branch = call.branch,
            user = self.user,
            domain = self.domain,
            tag = call.from_tag,
            cid = call.call_id,
            cseq = call.cseq,
        )
    }

    /// A request inside the dialog that `answer` (a 2xx, as received by the caller, or the
    /// INVITE, as received by the callee) set up, sent along its route set (§12.2): to the
    /// remote target (the peer's Contact) through the Record-Route entries, which are the
    /// Route set (reversed for the caller).
    pub fn in_dialog(&self, method: &str, dialog: &Message, caller: bool, cseq: u32) -> String {
        let target = dialog
            .contacts()
            .next()
            .expect("a Contact")
            .unwrap()
            .addr()
            .unwrap()
            .uri
            .to_owned();
        let mut routes: Vec<String> = dialog
            .header_values(HeaderName::RecordRoute)
            .flat_map(|v| v.split(',').map(|r| r.trim().to_owned()))
            .collect();
        if caller {
            routes.reverse();
        }
        let route_lines: String = routes.iter().map(|r| format!("Route: {r}\r\n")).collect();
        let (from, to) = if caller {
            (
                dialog.header(HeaderName::From).unwrap(),
                dialog.header(HeaderName::To).unwrap(),
            )
        } else {
            (
                dialog.header(HeaderName::To).unwrap(),
                dialog.header(HeaderName::From).unwrap(),
            )
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{method}-{cseq}-{port};rport\r\n\
Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\n{route_lines}\
Content-Length: 0\r\n\r\n",
            local = self.local(),
            port = self.local().port(),
            cid = dialog.call_id().unwrap(),
        )
    }

    /// The callee's answer to `request` (from `from`): To tag, this phone's Contact, the
    /// Record-Route copied (§12.1.1), sent back where it came from.
    pub fn reply(&self, request: &Message, from: SocketAddr, code: u16, to_tag: &str) {
        let mut b = MessageBuilder::response_to(request, code, None, Some(to_tag));
        for rr in request.header_values(HeaderName::RecordRoute) {
            b = b.header(HeaderName::RecordRoute, rr);
        }
        if code < 300 && request.method().is_some_and(|m| m.as_str() == "INVITE") {
            b = b.header(
                HeaderName::Contact,
                &format!("<sip:{}@{}>", self.user, self.local()),
            );
        }
        let response = b.build().unwrap();
        self.sock.send_to(response.as_bytes(), from).unwrap();
    }

    /// REGISTER this phone's contact with a q-value, answering the challenge.
    pub fn register_q(&mut self, q: &str) -> Message {
        let contact = format!("Contact: <{}>;q={q}\r\n", self.contact());
        self.register(&contact)
    }
}
