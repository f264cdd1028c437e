//! The message shared by `benches/parse.rs` and `tests/alloc_budget.rs`: a typical INVITE
//! as a softphone sends it through one proxy (two Vias), with an SDP offer for audio.
//! Written for these measurements; the addresses are documentation ranges (RFC 5737).

/// An INVITE of 953 bytes: 2 Vias, Max-Forwards, To, From with tag, Call-ID, CSeq,
/// Contact, Content-Type, Allow, Supported, User-Agent, Content-Length and a ~300-byte SDP
/// body.
pub(crate) const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n\
Via: SIP/2.0/UDP 198.51.100.23:5060;rport=5060;branch=z9hG4bKnashds8a7f3c1\r\n\
Max-Forwards: 69\r\n\
To: \"Bob\" <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710f8a3b2c9d1@198.51.100.23\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.23:5060;transport=udp>\r\n\
Content-Type: application/sdp\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, MESSAGE, INFO, UPDATE\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: ExamplePhone/4.2.1 (Linux; x86_64)\r\n\
Content-Length: 298\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.23\r\n\
s=-\r\n\
c=IN IP4 198.51.100.23\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n\
a=rtcp:49171\r\n\
";

/// What every transaction reads, with sip: the top Via's branch, the From tag, To, CSeq
/// and Call-ID. Returns a number that depends on all of them, so nothing is optimised away.
pub(crate) fn sip_access(msg: &sip::Message) -> usize {
    msg.top_via().unwrap().branch().unwrap().len()
        + msg.from().unwrap().tag().unwrap().len()
        + msg.to().unwrap().uri.len()
        + msg.cseq().unwrap().seq as usize
        + msg.call_id().unwrap().len()
}

/// The same reads with the `rsipstack` parser (typed headers, no formatting).
pub(crate) fn rsipstack_access(msg: &rsipstack::sip::SipMessage) -> usize {
    use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
    usize::from(
        msg.via_header()
            .unwrap()
            .typed()
            .unwrap()
            .branch()
            .is_some(),
    ) + usize::from(msg.from_header().unwrap().typed().unwrap().tag().is_some())
        + msg.to_header().unwrap().typed().unwrap().params.len()
        + msg.cseq_header().unwrap().typed().unwrap().seq as usize
        + msg.call_id_header().unwrap().value().len()
}
