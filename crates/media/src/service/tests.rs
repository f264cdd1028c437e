//! Service calls on a simulated clock: the proxy's side is SIP text, the caller's media an
//! `rtp::MediaStream`; what the service sends is decoded and measured with Goertzel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use rtp::audio::goertzel::tone_amplitude;
use rtp::audio::tone::Tone;
use rtp::codec::{Codec, FRAME_SAMPLES};
use rtp::{MediaStream, StreamConfig};
use sip::Message;

use super::*;

pub(super) const PROXY: &str = "127.0.0.1:5060";
pub(super) const CALLER_RTP: &str = "192.0.2.10:4000";

pub(super) struct FakeEnv {
    next: u16,
    greeting: Option<Prompt>,
}

impl Environment for FakeEnv {
    fn open_rtp(&mut self) -> Option<u16> {
        self.next += 2;
        (self.next < 40010).then_some(self.next)
    }
    fn greeting(&mut self, _mailbox: &Mailbox) -> Option<Prompt> {
        self.greeting.clone()
    }
}

pub(super) struct Harness {
    pub(super) ua: ServiceUa,
    pub(super) env: FakeEnv,
    pub(super) now: Instant,
    pub(super) caller: MediaStream,
    pub(super) voice: Tone,
    pub(super) encoder: rtp::codec::Encoder,
    pub(super) decoder: rtp::codec::Decoder,
    /// What the caller heard, decoded.
    pub(super) heard: Vec<i16>,
    /// SIP messages the service sent, with their destinations.
    pub(super) sent: Vec<(SocketAddr, Message)>,
    pub(super) rtp_dests: Vec<SocketAddr>,
    pub(super) events: Vec<ServiceEvent>,
    /// The caller's SRTP, once a call keyed it (plain RTP otherwise).
    pub(super) caller_srtp: rtp::srtp::Protection,
}

pub(super) fn offer(formats: &str, rtpmaps: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP {formats}\r\n{rtpmaps}a=sendrecv\r\n"
    )
}

pub(super) fn g711_offer() -> String {
    offer(
        "8 0 101",
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
    )
}

pub(super) fn invite(uri: &str, body: &str) -> String {
    format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy1\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKalice1;received=192.0.2.10\r\n\
         Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <{uri}>\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A request in the dialog of `answer` from the caller, through the proxy.
pub(super) fn in_dialog(
    method: &str,
    answer: &Message,
    cseq: u32,
    extra: &str,
    body: &str,
) -> String {
    let to = answer.header(HeaderName::To).unwrap();
    let contact = sip::headers::NameAddr::parse(answer.header(HeaderName::Contact).unwrap())
        .unwrap()
        .uri
        .to_owned();
    let cseq_method = if method == "ACK" { "INVITE" } else { method };
    format!(
        "{method} {contact} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy{method}{cseq}\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: {to}\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: {cseq} {cseq_method}\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl Harness {
    pub(super) fn new() -> Harness {
        let t = Instant::now();
        let mut config = ServiceConfig::new(
            "127.0.0.1:5090".into(),
            [127, 0, 0, 1].into(),
            Prompts::built_in().unwrap(),
        );
        config.recorder.silence_timeout = Some(Duration::from_secs(3));
        let mut stream_config = StreamConfig::new(7, 100, 1000, 8, "alice@example.com");
        stream_config.telephone_event = Some(101);
        Harness {
            ua: ServiceUa::new(config, 42),
            env: FakeEnv {
                next: 40000,
                greeting: None,
            },
            now: t,
            caller: MediaStream::new(stream_config, t, SystemTime::UNIX_EPOCH).unwrap(),
            voice: Tone::new(700.0, 8000.0, 8000),
            encoder: Codec::Pcma.encoder(),
            decoder: Codec::Pcma.decoder(),
            heard: Vec::new(),
            sent: Vec::new(),
            rtp_dests: Vec::new(),
            events: Vec::new(),
            caller_srtp: rtp::srtp::Protection::default(),
        }
    }

    pub(super) fn sip(&mut self, text: &str) {
        self.ua.handle(
            self.now,
            PROXY.parse().unwrap(),
            Bytes::from(text.to_owned()),
            &mut self.env,
        );
        self.drain();
    }

    pub(super) fn drain(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            self.sent.push((t.dest, Message::parse(t.payload).unwrap()));
        }
        while let Some(e) = self.ua.poll_event() {
            self.events.push(e);
        }
    }

    /// The last response with `code` sent.
    pub(super) fn response(&self, code: u16) -> Message {
        self.sent
            .iter()
            .rev()
            .find(|(_, m)| m.status() == Some(code))
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no {code}: {:?}", self.codes()))
    }

    pub(super) fn codes(&self) -> Vec<String> {
        self.sent
            .iter()
            .map(|(_, m)| match m.status() {
                Some(c) => c.to_string(),
                None => m
                    .method()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// One 20 ms step: the caller speaks (700 Hz, or silence), the service ticks, the
    /// caller hears.
    pub(super) fn step(&mut self, speak: bool) {
        self.now += Duration::from_millis(20);
        let now = self.now;
        let mut frame = [0i16; FRAME_SAMPLES];
        if speak {
            self.voice.fill(&mut frame);
        }
        if !self.caller.sending_digits() {
            let mut payload = Vec::new();
            self.encoder.encode(&frame, &mut payload).unwrap();
            let packet = self.caller.send_audio(now, &payload);
            let packet = self.caller_srtp.outgoing_rtp(&packet).unwrap();
            self.ua
                .handle_rtp(now, 40002, CALLER_RTP.parse().unwrap(), &packet);
        }
        while let Some(t) = self.caller.poll_transmit(now) {
            if t.channel == rtp::stream::Channel::Rtp {
                let packet = self.caller_srtp.outgoing_rtp(&t.bytes).unwrap();
                self.ua
                    .handle_rtp(now, 40002, CALLER_RTP.parse().unwrap(), &packet);
            }
        }
        self.ua.tick(now);
        self.ua.handle_timeout(now);
        while let Some(p) = self.ua.poll_rtp() {
            assert_eq!(p.port, 40002);
            self.rtp_dests.push(p.dest);
            if p.rtcp {
                continue;
            }
            let Some(packet) = self.caller_srtp.incoming_rtp(&p.payload) else {
                continue;
            };
            self.caller.receive_rtp(now, &packet).unwrap();
        }
        if let rtp::jitter::Playout::Frame(f) = self.caller.pop_audio(now) {
            self.decoder.decode(&f.payload, &mut self.heard).unwrap();
        }
        self.drain();
    }
}

#[test]
fn echo_answers_and_returns_the_callers_audio_after_200_ms() {
    let mut h = Harness::new();
    h.sip(&invite("sip:echo@example.com", &g711_offer()));
    let ok = h.response(200);
    assert_eq!(h.sent.last().unwrap().0, PROXY.parse().unwrap());
    let sdp = std::str::from_utf8(ok.body()).unwrap();
    // RFC 3264 §6.1: the offer's preferred codec, telephone-event kept, our port.
    assert!(sdp.contains("m=audio 40002 RTP/AVP 8 0 101\r\n"), "{sdp}");
    assert!(sdp.contains("c=IN IP4 127.0.0.1"), "{sdp}");
    assert_eq!(
        ok.header(HeaderName::RecordRoute),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert!(ok
        .header(HeaderName::Contact)
        .unwrap()
        .contains("echo@127.0.0.1:5090"));
    assert!(matches!(
        &h.events[0],
        ServiceEvent::Started { service: Service::Echo, caller, rtp_port: 40002, .. }
            if caller == "sip:alice@example.com"
    ));
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    for _ in 0..100 {
        h.step(true);
    }
    // Symmetric RTP: to where the caller's packets come from.
    assert!(h
        .rtp_dests
        .iter()
        .all(|d| *d == CALLER_RTP.parse().unwrap()));
    // Silence while the echo's line fills (200 ms plus the jitter buffers), then 700 Hz.
    let start = h.heard.iter().position(|s| s.abs() > 1000).unwrap();
    assert!(
        (1600..4000).contains(&start),
        "the echo starts {} ms in",
        start / 8
    );
    let level = tone_amplitude(&h.heard[start + 800..], 700.0, 8000);
    assert!(level > 7000.0, "{level}");

    // A digit by SIP INFO comes back as its DTMF tone (5: 770 + 1336 Hz).
    let before = h.heard.len();
    h.sip(&in_dialog(
        "INFO",
        &ok,
        2,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert_eq!(h.response(200).cseq().unwrap().seq, 2);
    for _ in 0..20 {
        h.step(false);
    }
    let after = &h.heard[before..];
    assert!(tone_amplitude(after, 770.0, 8000) > 1000.0);
    assert!(tone_amplitude(after, 1336.0, 8000) > 1000.0);

    h.sip(&in_dialog("BYE", &ok, 3, "", ""));
    assert_eq!(h.response(200).cseq().unwrap().seq, 3);
    assert_eq!(h.ua.live_calls(), 0);
    assert!(h.events.contains(&ServiceEvent::Ended {
        call: 1,
        rtp_port: 40002
    }));
}

/// An SRTP-only phone (RFC 4568: `RTP/SAVP`, keys in `a=crypto`) reaches the echo test:
/// answered with a key of ours, its audio is read and comes back protected, and a re-INVITE with the same line keeps the key.
#[test]
fn an_srtp_caller_is_answered_with_srtp_and_hears_the_echo() {
    use rtp::srtp::sdes::offered_crypto;
    let mut h = Harness::new();
    let ours = offered_crypto().unwrap();
    let lines: String = ours.iter().map(|c| format!("a=crypto:{c}\r\n")).collect();
    let body = g711_offer().replace("RTP/AVP", "RTP/SAVP") + &lines;
    h.sip(&invite("sip:echo@example.com", &body));
    let ok = h.response(200);
    let answer = sdp::SessionDescription::from_bytes(ok.body()).unwrap();
    let media = &answer.media()[0];
    assert!(media.is_srtp(), "{answer}");
    let theirs = media.cryptos().next().expect("a=crypto in the answer");
    let mine = ours.iter().find(|c| c.tag == theirs.tag).unwrap().clone();
    let pair = sdp::CryptoPair {
        ours: mine.clone(),
        theirs: theirs.clone(),
    };
    h.caller_srtp.update(Some(&pair)).unwrap();
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    for _ in 0..100 {
        h.step(true);
    }
    let start = h
        .heard
        .iter()
        .position(|s| s.abs() > 1000)
        .expect("the echo");
    let level = tone_amplitude(&h.heard[start + 800..], 700.0, 8000);
    assert!(level > 7000.0, "{level}");
    assert_eq!(h.caller_srtp.counters().auth_failures, 0);

    // A re-INVITE with the running line: the answer keeps our key.
    let reoffer = body.replace("o=- 1 1", "o=- 1 2");
    h.sip(&in_dialog(
        "INVITE",
        &ok,
        2,
        "Content-Type: application/sdp\r\n",
        &reoffer,
    ));
    let again = h.response(200);
    assert_eq!(again.cseq().unwrap().seq, 2);
    let answer = sdp::SessionDescription::from_bytes(again.body()).unwrap();
    assert_eq!(answer.media()[0].cryptos().next().as_ref(), Some(&theirs));
    let before = h.heard.len();
    for _ in 0..50 {
        h.step(true);
    }
    assert!(tone_amplitude(&h.heard[before + 400..], 700.0, 8000) > 7000.0);
}

#[test]
fn voicemail_plays_the_greeting_and_beep_then_records_until_pound() {
    let mut h = Harness::new();
    h.sip(&invite(
        "sip:voicemail@example.com;mailbox=bob",
        &g711_offer(),
    ));
    let ok = h.response(200);
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    let prompts = Prompts::built_in().unwrap();
    let greeting = prompts.get(names::VM_GREETING).unwrap().duration();
    // The greeting and the beep, the caller silent.
    let announce_ticks = (greeting + Duration::from_millis(400)).as_millis() as usize / 20 + 2;
    for _ in 0..announce_ticks {
        h.step(false);
    }
    let beep_at = h.heard.len() - 3200 - 400;
    assert!(tone_amplitude(&h.heard[beep_at..beep_at + 2400], 1000.0, 8000) > 6000.0);
    // Two seconds of 700 Hz, then # by RFC 4733.
    for _ in 0..100 {
        h.step(true);
    }
    h.caller.send_digit(h.now, '#').unwrap();
    for _ in 0..10 {
        h.step(false);
    }
    let deposit = h
        .events
        .iter()
        .find_map(|e| match e {
            ServiceEvent::Message(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a message");
    assert_eq!(
        deposit.mailbox,
        Mailbox {
            user: "bob".into(),
            domain: "example.com".into()
        }
    );
    assert_eq!(deposit.caller, "sip:alice@example.com");
    assert_eq!(deposit.reason, StopReason::Digit('#'));
    assert!(
        deposit.duration > Duration::from_millis(1800)
            && deposit.duration < Duration::from_millis(2300),
        "{:?}",
        deposit.duration
    );
    let samples = crate::wav::decode(&deposit.wav).unwrap().samples;
    assert!(tone_amplitude(&samples[800..samples.len() - 800], 700.0, 8000) > 7000.0);
    // Goodbye, then the service hangs up: BYE to the proxy that record-routed.
    for _ in 0..200 {
        h.step(false);
    }
    let (dest, bye) = h
        .sent
        .iter()
        .find(|(_, m)| m.method() == Some(&Method::Bye))
        .expect("a BYE");
    assert_eq!(*dest, PROXY.parse().unwrap());
    assert_eq!(bye.request_uri_str(), Some("sip:alice@192.0.2.10:5060"));
    assert_eq!(
        bye.header(HeaderName::Route),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    assert_eq!(h.ua.live_calls(), 0);
}

#[test]
fn a_caller_hanging_up_during_the_recording_leaves_the_message_and_short_ones_are_dropped() {
    let mut h = Harness::new();
    h.env.greeting = Some(Prompt::from_samples("own", vec![0i16; 800]));
    h.sip(&invite(
        "sip:voicemail@example.com;mailbox=bob",
        &g711_offer(),
    ));
    let ok = h.response(200);
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    // 100 ms of own greeting + 400 ms beep, then 1.5 s of voice, then BYE.
    for _ in 0..30 {
        h.step(false);
    }
    for _ in 0..75 {
        h.step(true);
    }
    h.sip(&in_dialog("BYE", &ok, 2, "", ""));
    let d = h
        .events
        .iter()
        .find_map(|e| match e {
            ServiceEvent::Message(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a message");
    assert_eq!(d.reason, StopReason::HangUp);
    assert!(d.duration > Duration::from_millis(1200), "{:?}", d.duration);

    // Half a second of voice: under a second, nothing kept.
    let mut h = Harness::new();
    h.env.greeting = Some(Prompt::from_samples("own", vec![0i16; 800]));
    h.sip(&invite(
        "sip:voicemail@example.com;mailbox=bob",
        &g711_offer(),
    ));
    let ok = h.response(200);
    for _ in 0..30 {
        h.step(false);
    }
    for _ in 0..25 {
        h.step(true);
    }
    h.sip(&in_dialog("BYE", &ok, 2, "", ""));
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, ServiceEvent::Message(_))));
}

#[test]
fn no_common_codec_gets_488_and_the_port_back() {
    let mut h = Harness::new();
    let g729 = offer("18", "a=rtpmap:18 G729/8000\r\n");
    h.sip(&invite("sip:echo@example.com", &g729));
    let r = h.response(488);
    assert!(r.header_by_name("Warning").unwrap().starts_with("305 "));
    assert!(h.events.contains(&ServiceEvent::Ended {
        call: 0,
        rtp_port: 40002
    }));
    // No offer at all, an unknown service: 488 and 404.
    h.sip(
        &invite("sip:echo@example.com", "")
            .replace("CSeq: 1", "CSeq: 2")
            .replace("z9hG4bKproxy1", "z9hG4bKproxy2"),
    );
    assert_eq!(h.response(488).reason(), Some("SDP Offer Required"));
    h.sip(
        &invite("sip:nobody@example.com", &g711_offer()).replace("z9hG4bKproxy1", "z9hG4bKproxy3"),
    );
    h.response(404);
    assert_eq!(h.ua.live_calls(), 0);
}

#[test]
fn an_announcement_is_early_media_then_the_final_response() {
    let mut h = Harness::new();
    h.sip(&invite(
        "sip:announce@example.com;prompt=not-available;code=480",
        &g711_offer(),
    ));
    let early = h.response(183);
    assert!(!early.body().is_empty());
    let prompt = Prompts::built_in()
        .unwrap()
        .get(names::NOT_AVAILABLE)
        .unwrap()
        .duration();
    let ticks = prompt.as_millis() as usize / 20 + 3;
    for _ in 0..ticks {
        h.step(false);
    }
    let last = h.response(480);
    assert_eq!(last.to().unwrap().tag(), early.to().unwrap().tag());
    assert!(h.heard.len() as u128 >= prompt.as_millis() * 8 - 1600);
    assert!(rtp::audio::goertzel::rms(&h.heard) > 300.0);
    assert_eq!(h.ua.live_calls(), 0);

    // A caller who cancels during the announcement gets 487.
    let mut h = Harness::new();
    let text = invite(
        "sip:announce@example.com;prompt=not-in-service;code=404",
        &g711_offer(),
    );
    h.sip(&text);
    h.response(183);
    h.step(false);
    let cancel = "CANCEL sip:announce@example.com;prompt=not-in-service;code=404 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:announce@example.com;prompt=not-in-service;code=404>\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: 1 CANCEL\r\n\
         Content-Length: 0\r\n\r\n";
    h.sip(cancel);
    h.response(487);
    assert_eq!(h.ua.live_calls(), 0);
}

#[test]
fn service_uris() {
    assert_eq!(Service::of_uri("sip:echo@example.com"), Some(Service::Echo));
    assert_eq!(
        Service::of_uri("sip:voicemail@Example.COM;mailbox=bob%2B1"),
        Some(Service::Voicemail(Mailbox {
            user: "bob+1".into(),
            domain: "example.com".into()
        }))
    );
    assert_eq!(
        Service::of_uri("sip:voicemail@example.com;mailbox=bob;retrieve"),
        Some(Service::Retrieve(Mailbox {
            user: "bob".into(),
            domain: "example.com".into()
        }))
    );
    assert_eq!(Service::of_uri("sip:voicemail@example.com"), None);
    assert_eq!(Service::of_uri("sip:voicemail@example.com;mailbox="), None);
    assert_eq!(
        Service::of_uri("sip:announce@example.com;prompt=not-available"),
        Some(Service::Announce {
            prompt: "not-available".into(),
            code: 480
        })
    );
    assert_eq!(
        Service::of_uri("sip:announce@example.com;prompt=x;code=200"),
        None
    );
    assert_eq!(Service::of_uri("tel:+123"), None);
    let room = |domain: &str, name: &str| {
        Some(Service::Conference(conference::RoomKey {
            domain: domain.into(),
            name: name.into(),
        }))
    };
    assert_eq!(
        Service::of_uri("sip:conference@Example.COM;room=sales%20team"),
        room("example.com", "sales team")
    );
    assert_eq!(
        Service::of_uri("sip:conference@example.com"),
        room("example.com", DEFAULT_ROOM)
    );
    assert_eq!(Service::of_uri("sip:conference@example.com;room="), None);
}

#[test]
fn without_an_ack_the_service_hangs_up() {
    let mut h = Harness::new();
    h.sip(&invite("sip:echo@example.com", &g711_offer()));
    h.response(200);
    for _ in 0..(64 * 500 / 20 + 10) {
        h.step(false);
    }
    let oks = h
        .sent
        .iter()
        .filter(|(_, m)| m.status() == Some(200))
        .count();
    assert!(oks >= 5, "the 200 is retransmitted: {oks}");
    assert!(h.sent.iter().any(|(_, m)| m.method() == Some(&Method::Bye)));
    assert_eq!(h.ua.live_calls(), 0);
}

#[test]
fn the_owner_hears_the_new_messages_and_they_are_reported_heard_then_pound_ends() {
    let mut h = Harness::new();
    h.sip(&invite(
        "sip:voicemail@example.com;mailbox=bob;retrieve",
        &g711_offer(),
    ));
    let ok = h.response(200);
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    let mailbox = Mailbox {
        user: "bob".into(),
        domain: "example.com".into(),
    };
    assert!(h.events.contains(&ServiceEvent::ListMessages {
        call: 1,
        mailbox: mailbox.clone()
    }));
    // Silence while the list is fetched.
    for _ in 0..10 {
        h.step(false);
    }
    let mut tone = vec![0i16; 8000];
    Tone::new(700.0, 8000.0, 8000).fill(&mut tone);
    h.ua.messages(
        1,
        vec![StoredMessage {
            received: None,
            id: 7,
            caller: "sip:alice@example.com".into(),
            new: true,
            audio: Prompt::from_samples("m7", tone),
        }],
    );
    // Heard to its end, then the menu; # ends the call.
    let mut steps = 0;
    while !h
        .events
        .iter()
        .any(|e| matches!(e, ServiceEvent::Heard { .. }))
        && steps < 1000
    {
        h.step(false);
        steps += 1;
    }
    h.sip(&in_dialog(
        "INFO",
        &ok,
        2,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=#\r\nDuration=160\r\n",
    ));
    while h.ua.live_calls() > 0 && steps < 1000 {
        h.step(false);
        steps += 1;
    }
    assert!(h.sent.iter().any(|(_, m)| m.method() == Some(&Method::Bye)));
    assert!(h.events.contains(&ServiceEvent::Heard {
        mailbox,
        ids: vec![7]
    }));
    // "You have 1 new message", the beep, then the message's 700 Hz.
    assert!(tone_amplitude(&h.heard, 700.0, 8000) > 1000.0);

    // Hung up before the end of the message: not heard.
    let mut h = Harness::new();
    h.sip(&invite(
        "sip:voicemail@example.com;mailbox=bob;retrieve",
        &g711_offer(),
    ));
    let ok = h.response(200);
    h.ua.messages(
        1,
        vec![StoredMessage {
            received: None,
            id: 8,
            caller: "sip:alice@example.com".into(),
            new: true,
            audio: Prompt::from_samples("m8", vec![1000i16; 80_000]),
        }],
    );
    for _ in 0..50 {
        h.step(false);
    }
    h.sip(&in_dialog("BYE", &ok, 2, "", ""));
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, ServiceEvent::Heard { .. })));
}

#[test]
fn from_another_phone_a_wrong_pin_three_times_gets_goodbye_and_bye() {
    assert_eq!(
        Service::of_uri("sip:voicemail@Example.com;login"),
        Some(Service::Login("example.com".into()))
    );
    let mut h = Harness::new();
    h.sip(&invite("sip:voicemail@example.com;login", &g711_offer()));
    let ok = h.response(200);
    h.sip(&in_dialog("ACK", &ok, 1, "", ""));
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, ServiceEvent::ListMessages { .. })));
    let mut cseq = 2;
    for attempt in 1..=3 {
        for _ in 0..25 {
            h.step(false);
        }
        // The mailbox number and the PIN by SIP INFO, each ended by #.
        for digit in "2002#0000#".chars() {
            h.sip(&in_dialog(
                "INFO",
                &ok,
                cseq,
                "Content-Type: application/dtmf-relay\r\n",
                &format!("Signal={digit}\r\nDuration=160\r\n"),
            ));
            cseq += 1;
            for _ in 0..5 {
                h.step(false);
            }
        }
        let asked: Vec<_> = h
            .events
            .iter()
            .filter(|e| matches!(e, ServiceEvent::CheckPin { .. }))
            .collect();
        assert_eq!(asked.len(), attempt, "{:?}", h.events);
        assert_eq!(
            asked[attempt - 1],
            &ServiceEvent::CheckPin {
                call: 1,
                domain: "example.com".into(),
                number: "2002".into(),
                pin: "0000".into(),
            }
        );
        h.ua.login(1, None);
        h.drain();
    }
    let mut steps = 0;
    while h.ua.live_calls() > 0 && steps < 500 {
        h.step(false);
        steps += 1;
    }
    assert!(h.sent.iter().any(|(_, m)| m.method() == Some(&Method::Bye)));
    assert!(!h.events.iter().any(|e| matches!(
        e,
        ServiceEvent::ListMessages { .. } | ServiceEvent::Heard { .. }
    )));
}

/// One participant of a conference test: its SIP identifiers, its media and what it heard.
struct Participant {
    call_id: String,
    rtp: SocketAddr,
    port: u16,
    stream: MediaStream,
    voice: Tone,
    heard: Vec<i16>,
    ok: Option<Message>,
    /// RTCP reports received from the service.
    rtcp_received: u32,
}

/// `n` callers, each speaking its own tone, in conference room `room`.
struct Room {
    ua: ServiceUa,
    env: FakeEnv,
    now: Instant,
    people: Vec<Participant>,
    sent: Vec<(SocketAddr, Message)>,
    /// Who may enter each room not open to all, by name, as the owner answers.
    pins: std::collections::HashMap<String, conference::RoomAccess>,
    /// The rooms asked for, in order.
    asked: Vec<String>,
    /// The CSeq of the next INFO (in every participant's dialog: only its order counts).
    cseq: u32,
    /// When the test began: the participants' RTCP wall clock counts from it.
    start: Instant,
}

impl Room {
    fn new() -> Room {
        Room {
            ua: ServiceUa::new(
                ServiceConfig::new(
                    "127.0.0.1:5090".into(),
                    [127, 0, 0, 1].into(),
                    Prompts::built_in().unwrap(),
                ),
                7,
            ),
            // Ports from 30002 on: room for a full room's calls below the fake's limit.
            env: FakeEnv {
                next: 30000,
                greeting: None,
            },
            now: Instant::now(),
            people: Vec::new(),
            sent: Vec::new(),
            pins: std::collections::HashMap::new(),
            asked: Vec::new(),
            cseq: 10,
            start: Instant::now(),
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            self.sent.push((t.dest, Message::parse(t.payload).unwrap()));
        }
        while let Some(event) = self.ua.poll_event() {
            if let ServiceEvent::RoomPin { call, room } = event {
                let access = self
                    .pins
                    .get(&room.name)
                    .cloned()
                    .unwrap_or(conference::RoomAccess::Open);
                self.asked.push(room.name);
                self.ua.room_pin(call, access);
            }
        }
    }

    /// Participant `i` types `keys` by SIP INFO.
    fn keys(&mut self, i: usize, keys: &str) {
        for key in keys.chars() {
            self.cseq += 1;
            let cseq = self.cseq;
            let ok = self.people[i].ok.clone().unwrap();
            let call_id = self.people[i].call_id.clone();
            let info = in_dialog(
                "INFO",
                &ok,
                cseq,
                "Content-Type: application/dtmf-relay\r\n",
                &format!("Signal={key}\r\nDuration=160\r\n"),
            )
            .replace("call-1@192.0.2.10", &call_id)
            .replace(
                &format!("z9hG4bKproxyINFO{cseq}"),
                &format!("z9hG4bKproxyINFO-{i}-{cseq}"),
            );
            self.ua.handle(
                self.now,
                PROXY.parse().unwrap(),
                Bytes::from(info),
                &mut self.env,
            );
            self.drain();
        }
    }

    /// Whether participant `i`'s call was ended by the service (a BYE sent for it).
    fn sent_bye(&self, i: usize) -> bool {
        let call_id = &self.people[i].call_id;
        self.sent.iter().any(|(_, m)| {
            m.method() == Some(&Method::Bye) && m.call_id().is_ok_and(|c| c == call_id.as_str())
        })
    }

    /// Participant number `i` (speaking `hz`) calls `uri`; answers the final status.
    fn join(&mut self, uri: &str, hz: f64) -> u16 {
        let i = self.people.len();
        let rtp: SocketAddr = format!("192.0.2.{}:4000", 20 + i).parse().unwrap();
        let call_id = format!("conf-{i}@192.0.2.{}", 20 + i);
        let sdp = g711_offer().replace("192.0.2.10", &rtp.ip().to_string());
        let text = invite(uri, &sdp)
            .replace("call-1@192.0.2.10", &call_id)
            .replace("z9hG4bKproxy1", &format!("z9hG4bKproxyc{i}"));
        self.sent.clear();
        self.ua.handle(
            self.now,
            PROXY.parse().unwrap(),
            Bytes::from(text),
            &mut self.env,
        );
        self.drain();
        let (_, response) = self
            .sent
            .iter()
            .find(|(_, m)| m.status().is_some_and(|c| c >= 200))
            .cloned()
            .expect("a final response");
        let code = response.status().unwrap();
        if code != 200 {
            return code;
        }
        let ack = in_dialog("ACK", &response, 1, "", "")
            .replace("call-1@192.0.2.10", &call_id)
            .replace(
                "z9hG4bKproxyACK1",
                &format!("z9hG4bKproxyACK-{}", call_id.replace(['@', '.'], "-")),
            );
        self.ua.handle(
            self.now,
            PROXY.parse().unwrap(),
            Bytes::from(ack),
            &mut self.env,
        );
        self.drain();
        let port = self.env.next;
        let mut config = StreamConfig::new(100 + i as u32, 1, 1, 8, "participant");
        config.telephone_event = Some(101);
        self.people.push(Participant {
            call_id,
            rtp,
            port,
            stream: MediaStream::new(config, self.now, SystemTime::UNIX_EPOCH).unwrap(),
            voice: Tone::new(hz, 6000.0, 8000),
            heard: Vec::new(),
            ok: Some(response),
            rtcp_received: 0,
        });
        // In the room at the next tick (or asked for its PIN).
        self.step();
        code
    }

    /// One 20 ms step: everyone speaks a frame, the service ticks, everyone hears.
    fn step(&mut self) {
        self.now += Duration::from_millis(20);
        let now = self.now;
        for p in &mut self.people {
            let mut frame = [0i16; FRAME_SAMPLES];
            p.voice.fill(&mut frame);
            let mut payload = Vec::new();
            Codec::Pcma.encoder().encode(&frame, &mut payload).unwrap();
            let packet = p.stream.send_audio(now, &payload);
            self.ua.handle_rtp(now, p.port, p.rtp, &packet);
            // The participant's RTCP, from its RTCP port (RTP + 1) to ours.
            let rtcp_from = SocketAddr::new(p.rtp.ip(), p.rtp.port() + 1);
            while let Some(t) = p.stream.poll_transmit(now) {
                if t.channel == rtp::stream::Channel::Rtcp {
                    self.ua.handle_rtcp(now, p.port, rtcp_from, &t.bytes);
                }
            }
        }
        self.ua.tick(now);
        self.ua.handle_timeout(now);
        while let Some(t) = self.ua.poll_rtp() {
            if let Some(p) = self.people.iter_mut().find(|p| p.port == t.port) {
                if t.rtcp {
                    assert_eq!(t.dest.port(), p.rtp.port() + 1, "RTCP to RTP + 1");
                    p.stream
                        .receive_rtcp(now, SystemTime::UNIX_EPOCH + (now - self.start), &t.payload)
                        .unwrap();
                    p.rtcp_received += 1;
                } else {
                    assert_eq!(t.dest, p.rtp, "symmetric RTP");
                    p.stream.receive_rtp(now, &t.payload).unwrap();
                }
            }
        }
        for p in &mut self.people {
            if let rtp::jitter::Playout::Frame(f) = p.stream.pop_audio(now) {
                Codec::Pcma
                    .decoder()
                    .decode(&f.payload, &mut p.heard)
                    .unwrap();
            }
        }
        self.drain();
    }

    /// Participant `i` hangs up.
    fn leave(&mut self, i: usize) {
        let p = self.people.remove(i);
        let ok = p.ok.unwrap();
        let bye = in_dialog("BYE", &ok, 2, "", "")
            .replace("call-1@192.0.2.10", &p.call_id)
            .replace(
                "z9hG4bKproxyBYE2",
                &format!("z9hG4bKproxyBYE-{}", p.call_id.replace(['@', '.'], "-")),
            );
        self.ua.handle(
            self.now,
            PROXY.parse().unwrap(),
            Bytes::from(bye),
            &mut self.env,
        );
        self.drain();
    }
}

#[test]
fn a_conference_room_lets_each_participant_hear_the_others_and_not_themselves() {
    let mut room = Room::new();
    let tones = [500.0, 700.0, 900.0];
    for hz in tones {
        assert_eq!(room.join("sip:conference@example.com;room=r1", hz), 200);
    }
    // Another room of the same domain is apart.
    assert_eq!(
        room.join("sip:conference@example.com;room=other", 1300.0),
        200
    );
    let rooms = room.ua.rooms();
    assert_eq!(rooms.len(), 2);
    assert_eq!(rooms[1].key.name, "r1");
    assert_eq!(rooms[1].calls.len(), 3);
    // The cues (the first one's prompt, the join tones) are over after a few seconds.
    for _ in 0..300 {
        room.step();
    }
    for p in &mut room.people {
        p.heard.clear();
    }
    for _ in 0..100 {
        room.step();
    }
    for (i, p) in room.people[..3].iter().enumerate() {
        for (j, hz) in tones.iter().enumerate() {
            let level = tone_amplitude(&p.heard, *hz, 8000);
            if i == j {
                assert!(
                    level < 200.0,
                    "participant {i} hears their own {hz} Hz: {level}"
                );
            } else {
                assert!(level > 4000.0, "participant {i} hears {hz} Hz at {level}");
            }
        }
        let other_room = tone_amplitude(&p.heard, 1300.0, 8000);
        assert!(other_room < 200.0, "the other room leaks: {other_room}");
    }
    // RTCP both ways (RFC 3550 §6): each participant got the service's reports, and the
    // service echoed theirs (the participant measured the round trip from them).
    for p in &room.people {
        assert!(p.rtcp_received >= 1, "no RTCP from the service");
        assert!(
            p.stream.rtt().is_some(),
            "the service did not echo our reports"
        );
    }
    let alone = &room.people[3].heard;
    assert!(
        tones
            .iter()
            .all(|hz| tone_amplitude(alone, *hz, 8000) < 200.0),
        "alone in its room, the fourth hears nobody"
    );

    // The 700 Hz participant leaves: the others hear the leave tone, then only each other.
    room.leave(1);
    for p in &mut room.people {
        p.heard.clear();
    }
    for _ in 0..100 {
        room.step();
    }
    let first = &room.people[0].heard;
    assert!(tone_amplitude(&first[1600..], 700.0, 8000) < 200.0, "gone");
    assert!(tone_amplitude(&first[1600..], 900.0, 8000) > 4000.0);
    assert_eq!(room.ua.rooms()[1].calls.len(), 2);
    room.leave(0);
    room.leave(0);
    room.leave(0);
    assert!(room.ua.rooms().is_empty(), "empty rooms are gone");
}

#[test]
fn a_full_room_answers_486() {
    let mut room = Room::new();
    for _ in 0..conference::MAX_PARTICIPANTS {
        assert_eq!(room.join("sip:conference@example.com", 500.0), 200);
    }
    assert_eq!(room.ua.rooms()[0].key.name, DEFAULT_ROOM);
    assert_eq!(room.join("sip:conference@example.com", 500.0), 486);
}

#[test]
fn a_room_with_a_pin_lets_in_only_who_types_it() {
    let mut room = Room::new();
    room.pins
        .insert("board".into(), conference::RoomAccess::Pin("2468".into()));
    assert_eq!(
        room.join("sip:conference@example.com;room=board", 500.0),
        200
    );
    assert_eq!(
        room.asked,
        ["board"],
        "the owner is asked for the room's PIN"
    );
    assert!(room.ua.rooms().is_empty(), "not in the room before the PIN");
    // A wrong PIN: told, asked again; the right one lets in.
    room.keys(0, "1111#");
    for _ in 0..10 {
        room.step();
    }
    assert!(room.ua.rooms().is_empty());
    room.keys(0, "2468#");
    room.step();
    let rooms = room.ua.rooms();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].key.name, "board");
    assert_eq!(rooms[0].calls.len(), 1);

    // Another caller types three wrong PINs: goodbye, then BYE; never in the room.
    assert_eq!(
        room.join("sip:conference@example.com;room=board", 700.0),
        200
    );
    for _ in 0..3 {
        room.keys(1, "9#");
    }
    for _ in 0..300 {
        room.step();
    }
    assert_eq!(room.ua.rooms()[0].calls.len(), 1);
    assert!(room.sent_bye(1), "the refused caller's call is ended");
}

#[test]
fn a_pin_left_untyped_is_asked_again_then_the_call_ends() {
    let mut room = Room::new();
    room.pins
        .insert("board".into(), conference::RoomAccess::Pin("2468".into()));
    assert_eq!(
        room.join("sip:conference@example.com;room=board", 500.0),
        200
    );
    // Three prompts, each followed by PIN_TIMEOUT of silence: then goodbye and BYE.
    let steps = (3 * (conference::PIN_TIMEOUT.as_millis() + 5_000) / 20) as usize;
    for _ in 0..steps {
        room.step();
        if room.sent_bye(0) {
            break;
        }
    }
    assert!(room.sent_bye(0));
    assert!(room.ua.rooms().is_empty());
}

#[test]
fn a_room_without_a_pin_or_shut_decides_at_once() {
    let mut room = Room::new();
    assert_eq!(
        room.join("sip:conference@example.com;room=open", 500.0),
        200
    );
    room.step();
    assert_eq!(room.ua.rooms()[0].calls.len(), 1, "joined at the next tick");
    // A room the owner cannot look up is shut: goodbye, then BYE.
    room.pins
        .insert("shut".into(), conference::RoomAccess::Shut);
    assert_eq!(
        room.join("sip:conference@example.com;room=shut", 700.0),
        200
    );
    for _ in 0..200 {
        room.step();
    }
    assert!(room.sent_bye(1));
    assert_eq!(room.ua.rooms().len(), 1, "only the open room");
}

#[test]
fn the_operator_lists_mutes_and_removes_participants() {
    use conference::{RoomCommand, RoomReply};
    let mut room = Room::new();
    assert_eq!(room.join("sip:conference@example.com;room=ops", 500.0), 200);
    assert_eq!(room.join("sip:conference@example.com;room=ops", 700.0), 200);
    for _ in 0..250 {
        room.step();
    }
    let RoomReply::Rooms(rooms) = room.ua.room_command(room.now, RoomCommand::List) else {
        panic!("a list");
    };
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].key.name, "ops");
    let people = &rooms[0].participants;
    assert_eq!(people.len(), 2);
    assert!(people[0].caller.contains("alice@example.com"), "{people:?}");
    assert!(!people[1].muted);
    assert!(people[0].in_room >= Duration::from_secs(4), "{people:?}");
    let (first, second) = (people[0].call, people[1].call);
    let key = rooms[0].key.clone();

    // The second is muted: the first hears it no more, and it still hears the first.
    let mute = RoomCommand::Mute {
        room: key.clone(),
        call: second,
        muted: true,
    };
    assert_eq!(room.ua.room_command(room.now, mute), RoomReply::Done);
    for p in &mut room.people {
        p.heard.clear();
    }
    for _ in 0..100 {
        room.step();
    }
    assert!(tone_amplitude(&room.people[0].heard, 700.0, 8000) < 200.0);
    assert!(tone_amplitude(&room.people[1].heard, 500.0, 8000) > 4000.0);
    let RoomReply::Rooms(rooms) = room.ua.room_command(room.now, RoomCommand::List) else {
        panic!("a list");
    };
    assert!(rooms[0].participants[1].muted);

    // Someone not in the room: refused; the first is removed: BYE, and the room has one.
    let nobody = RoomCommand::Kick {
        room: key.clone(),
        call: 999,
    };
    assert_eq!(room.ua.room_command(room.now, nobody), RoomReply::NotInRoom);
    let kick = RoomCommand::Kick {
        room: key,
        call: first,
    };
    room.sent.clear();
    assert_eq!(room.ua.room_command(room.now, kick), RoomReply::Done);
    room.drain();
    assert!(room.sent_bye(0));
    assert_eq!(room.ua.rooms()[0].calls, vec![second]);
}

#[test]
fn joins_close_together_make_one_join_tone() {
    let mut room = Room::new();
    for _ in 0..12 {
        assert_eq!(room.join("sip:conference@example.com;room=big", 500.0), 200);
    }
    // Let the first one's "you are the first participant" end.
    for _ in 0..250 {
        room.step();
    }
    let cue_left = |room: &mut Room, i: usize| {
        let call = room.ua.rooms()[0].calls[i];
        room.ua
            .calls
            .get_mut(&call)
            .and_then(|c| c.session.conference())
            .map(|leg| leg.cue.remaining())
            .unwrap()
    };
    // Eleven joins within a quarter of a second: one tone each, not eleven.
    assert_eq!(cue_left(&mut room, 0), Duration::ZERO);
    assert_eq!(room.join("sip:conference@example.com;room=big", 500.0), 200);
    assert!(cue_left(&mut room, 0) <= Duration::from_millis(400));
    assert_eq!(room.join("sip:conference@example.com;room=big", 500.0), 200);
    assert!(
        cue_left(&mut room, 0) <= Duration::from_millis(400),
        "a second join right after adds no tone"
    );
}
