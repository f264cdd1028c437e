//! Fuzzes `Message::parse` on arbitrary datagrams: every accepted message must survive
//! `validate`, every typed accessor, the sanity checks and a proxy's edits; the edited message
//! must parse again, with the pushed Via on top and Max-Forwards one lower; a response built
//! from an accepted request reads exactly as the parser reads its bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip::sanity::{check_request, Policy};
use sip::{HeaderName, Message, MessageBuilder};

const VIA: &str = "SIP/2.0/UDP fuzz.example.com:5060;branch=z9hG4bKfuzz.0";
const RR: &str = "<sip:fuzz.example.com;lr>";

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = msg.validate();
    read_everything(&msg);
    if msg.is_request() {
        for policy in [Policy::PROXY, Policy::REGISTRAR, Policy::UAS] {
            let _ = check_request(&msg, &policy);
        }
    }
    round_trip(&msg);
    built_response_reads_back(&msg);
});

/// `MessageBuilder` assembles its message from what it wrote instead of parsing it: with
/// the headers of any accepted request copied in, that must match the parser's reading.
fn built_response_reads_back(msg: &Message) {
    if !msg.is_request() {
        return;
    }
    let Ok(built) = MessageBuilder::response_to(msg, 200, None, Some("fuzz")).build() else {
        return;
    };
    let parsed = Message::parse(built.as_bytes().clone()).expect("a built response parses");
    assert_eq!(built.start_line(), parsed.start_line());
    assert_eq!(built.status(), parsed.status());
    assert!(built.headers().eq(parsed.headers()), "headers differ");
    assert_eq!(built.body(), parsed.body());
}

/// Calls every accessor and every method of the typed views they return.
fn read_everything(msg: &Message) {
    let _ = (
        msg.is_request(),
        msg.is_response(),
        msg.method(),
        msg.status(),
    );
    let _ = (msg.request_uri_str(), msg.request_uri(), msg.reason());
    let _ = (
        msg.start_line(),
        msg.header_count(),
        msg.body(),
        msg.body_bytes(),
    );
    let _ = (
        msg.content_length(),
        msg.as_bytes(),
        msg.duplicate_single_header(),
    );
    for h in msg.headers() {
        let _ = msg.header_by_name(h.name_text);
        let _ = msg.list_values(h.name).count();
    }
    for v in msg.vias().flatten() {
        let _ = (v.branch(), v.has_rfc3261_branch(), v.received(), v.rport());
        let _ = (v.maddr(), v.ttl());
    }
    if let Ok(v) = msg.top_via() {
        let _ = v.branch();
    }
    for a in [msg.from(), msg.to()].into_iter().flatten() {
        let _ = (a.parsed_uri(), a.display_name_text(), a.tag());
    }
    let _ = msg.call_id();
    if let Ok(c) = msg.cseq() {
        let _ = c.method();
    }
    let _ = (msg.max_forwards(), msg.expires(), msg.min_expires());
    if let Ok(Some(t)) = msg.content_type() {
        let _ = t.is("application", "sdp");
    }
    for c in msg.contacts().flatten() {
        let _ = (c.addr(), c.expires(), c.q());
    }
    for r in msg
        .routes()
        .chain(msg.record_routes())
        .chain(msg.path())
        .flatten()
    {
        let _ = (r.parsed_uri(), r.tag());
    }
    let _ = msg.require().count() + msg.proxy_require().count() + msg.supported().count();
    let _ = msg.unsupported().count() + msg.allow().count();
    let _ = msg.token_list(HeaderName::Other).count();
    let _ = (msg.user_agent(), msg.authorization().count());
    let _ = msg.proxy_authorization().count() + msg.www_authenticate().count();
    let _ = msg.proxy_authenticate().count();
}

/// A proxy's forwarding edits; the result must parse and show the edits.
fn round_trip(msg: &Message) {
    let mut ed = msg.edit();
    ed.push_via(VIA).expect("a valid Via can always be pushed");
    ed.push_record_route(RR)
        .expect("a valid Record-Route can always be pushed");
    let max_forwards = match msg.max_forwards() {
        Ok(Some(n)) if n > 0 => Some(n - 1),
        Ok(None) => Some(70),
        _ => None,
    };
    let decremented = ed.decrement_max_forwards().is_ok();
    assert_eq!(decremented, max_forwards.is_some());
    let out = ed.to_bytes().expect("serializing without a new body");
    let again = match Message::parse(out.clone()) {
        Ok(m) => m,
        Err(e) => panic!("edited message does not parse ({e}): {out:?}"),
    };
    let top = again.top_via().expect("the pushed Via is on top");
    assert_eq!(top.branch(), Some("z9hG4bKfuzz.0"));
    assert_eq!(again.header(HeaderName::RecordRoute), Some(RR));
    if let Some(n) = max_forwards {
        assert_eq!(again.max_forwards().ok().flatten(), Some(n));
    }
    assert_eq!(again.body(), msg.body());
    assert_eq!(again.is_request(), msg.is_request());
}
