//! Message-waiting indication end to end (RFC 3842 over RFC 6665), `itsp serve` on
//! loopback: a subscriber SUBSCRIBEs to `message-summary` for their own address through
//! the proxy (digest-challenged like any request), the media service answers 200 and
//! NOTIFYs through the proxy's Record-Route, and each change of the mailbox is told:
//! a deposit by an `itsp phone` call (`*97USER`), the owner's retrieval by phone (`*97`),
//! a message deleted from the store (as the portal does; found by the periodic recount).
//! Someone else's mailbox is refused 403. baresip (Debian's 1.0.0, its `mwi` module)
//! subscribes by itself after registering and prints what it is told; another baresip
//! leaves the message. Phones that never subscribe (`itsp phone`) are told without a
//! subscription, again after a server restart and when another of their owner's phones
//! registers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::baresip::{tone_file, Baresip};
use common::softphone::Softphone;
use common::{admin_json, as_strs, block_on, DataDir, Itsp, Phone, DOMAIN};
use sip::{HeaderName, Message, MessageBuilder, Method};

const WAIT: Duration = Duration::from_secs(30);

fn server() -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    server.startup_log("media services ready");
    (data, server)
}

/// The subscription's dialog as the subscriber keeps it (RFC 3261 §12.1.2): the
/// notifier's tag, its Contact (the remote target) and the route set.
struct Dialog {
    to_tag: String,
    target: String,
    route: String,
}

impl Dialog {
    fn of(ok: &Message) -> Dialog {
        let contact = ok.header(HeaderName::Contact).unwrap();
        let target = sip::headers::NameAddr::parse(contact)
            .unwrap()
            .uri
            .to_owned();
        Dialog {
            to_tag: ok.to().unwrap().tag().unwrap().to_owned(),
            target,
            route: ok
                .header_values(HeaderName::RecordRoute)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A SUBSCRIBE from `phone` for `message-summary` of `to`, in `dialog` when given.
fn subscribe_text(
    phone: &mut Phone,
    to: &str,
    expires: u32,
    dialog: Option<&Dialog>,
    auth: Option<&str>,
) -> String {
    phone.cseq += 1;
    let local = phone.local();
    let port = local.port();
    let cseq = phone.cseq;
    let user = phone.user.clone();
    let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
    // In the dialog: to the notifier's Contact along the route set (§12.2.1.1).
    let (uri, tag, route) = match dialog {
        Some(d) => (
            d.target.clone(),
            format!(";tag={}", d.to_tag),
            format!("Route: {}\r\n", d.route),
        ),
        None => (to.to_owned(), String::new(), String::new()),
    };
    format!(
        "SUBSCRIBE {uri} SIP/2.0\r\n\
Via: SIP/2.0/UDP {local};branch=z9hG4bK-sub-{port}-{cseq};rport\r\n\
Max-Forwards: 70\r\n{route}From: <sip:{user}@{DOMAIN}>;tag=s{port}\r\nTo: <{to}>{tag}\r\n\
Call-ID: mwi-{port}@test\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:{user}@{local}>\r\n\
Event: message-summary\r\nAccept: application/simple-message-summary\r\nExpires: {expires}\r\n\
{auth}Content-Length: 0\r\n\r\n"
    )
}

/// Sends a SUBSCRIBE (answering the 407) and returns the final answer; NOTIFYs that come
/// first are answered and kept in `early`.
fn subscribe(
    phone: &mut Phone,
    to: &str,
    expires: u32,
    dialog: Option<&Dialog>,
    early: &mut Vec<Message>,
) -> Message {
    let text = subscribe_text(phone, to, expires, dialog, None);
    phone.sock.send_to(text.as_bytes(), phone.server).unwrap();
    let first = final_response(phone, early);
    if first.status() != Some(407) {
        return first;
    }
    let uri = dialog.map_or(to, |d| d.target.as_str());
    let auth = phone.answer(&first, "SUBSCRIBE", uri);
    let text = subscribe_text(phone, to, expires, dialog, Some(&auth));
    phone.sock.send_to(text.as_bytes(), phone.server).unwrap();
    final_response(phone, early)
}

/// The next final response; NOTIFYs received meanwhile are answered and kept.
fn final_response(phone: &Phone, notifies: &mut Vec<Message>) -> Message {
    loop {
        let m = next_message(phone, Instant::now() + WAIT).expect("a response");
        if m.method() == Some(&Method::Notify) {
            answer(phone, &m);
            notifies.push(m);
        } else if m.status().is_some_and(|c| c >= 200) {
            return m;
        }
    }
}

fn next_message(phone: &Phone, deadline: Instant) -> Option<Message> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    let mut buf = vec![0u8; 65535];
    phone.sock.set_read_timeout(Some(left)).unwrap();
    match phone.sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(Message::parse(buf[..n].to_vec()).unwrap()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("receive: {e}"),
    }
}

fn answer(phone: &Phone, notify: &Message) {
    let ok = MessageBuilder::response_to(notify, 200, None, None)
        .build()
        .unwrap();
    phone.sock.send_to(ok.as_bytes(), phone.server).unwrap();
}

fn body(m: &Message) -> String {
    String::from_utf8_lossy(m.body()).into_owned()
}

/// Answers NOTIFYs until one whose body says `voice` (`NEW/OLD`); panics with what came
/// instead after [`WAIT`].
fn notified(phone: &Phone, voice: &str, early: &mut Vec<Message>) -> Message {
    let wanted = format!("Voice-Message: {voice}\r\n");
    let mut seen: Vec<String> = Vec::new();
    for m in early.drain(..) {
        if body(&m).contains(&wanted) {
            return m;
        }
        seen.push(body(&m));
    }
    let deadline = Instant::now() + WAIT;
    while let Some(m) = next_message(phone, deadline) {
        if m.method() != Some(&Method::Notify) {
            continue;
        }
        answer(phone, &m);
        if body(&m).contains(&wanted) {
            return m;
        }
        seen.push(body(&m));
    }
    panic!("no NOTIFY with {wanted:?}; NOTIFY bodies seen: {seen:?}");
}

/// Bob calls `*97alice` with a 700 Hz tone for 9 s: the greeting, the beep, about 2 s
/// recorded.
fn bob_leaves_a_message(server: &Itsp) {
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--tone", "700", "--duration", "9", "call", "*97alice"],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's deposit call");
    server.wait_log("voicemail message stored", WAIT);
}

#[test]
fn the_lamp_follows_deposit_retrieval_and_deletion() {
    let (data, server) = server();
    let mut alice = Phone::new(server.udp, "alice", "a-secret");
    let mut early = Vec::new();
    let ok = subscribe(
        &mut alice,
        &format!("sip:alice@{DOMAIN}"),
        600,
        None,
        &mut early,
    );
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    assert_eq!(ok.header(HeaderName::Expires), Some("600"));
    assert!(
        ok.header_values(HeaderName::RecordRoute).count() >= 1,
        "the proxy stays in the dialog"
    );
    let dialog = Dialog::of(&ok);

    // The first NOTIFY: nothing waiting (RFC 3842 §5).
    let first = notified(&alice, "0/0", &mut early);
    assert_eq!(first.header(HeaderName::Event), Some("message-summary"));
    let state = first.header(HeaderName::SubscriptionState).unwrap();
    assert!(state.starts_with("active;expires="), "{state}");
    assert_eq!(
        first.header(HeaderName::ContentType),
        Some("application/simple-message-summary")
    );
    assert!(body(&first).contains("Messages-Waiting: no\r\n"));
    assert!(body(&first).contains(&format!("Message-Account: sip:voicemail@{DOMAIN}\r\n")));

    // A deposit: told at once.
    bob_leaves_a_message(&server);
    let after_deposit = notified(&alice, "1/0", &mut early);
    assert!(body(&after_deposit).contains("Messages-Waiting: yes\r\n"));

    // Alice hears it by phone: it is old now, nothing waits.
    // Heard to its end, it is saved; then # at the menu ends the call.
    let mut by_phone = Softphone::start(server.udp, "alice", "a-secret", &["call", "*97"]);
    by_phone.wait_event("answered", WAIT);
    let after_retrieval = notified(&alice, "0/1", &mut early);
    assert!(body(&after_retrieval).contains("Messages-Waiting: no\r\n"));
    by_phone.type_line("dtmf #");
    assert!(
        by_phone.wait_exit(WAIT).success(),
        "alice heard her message"
    );

    // Deleted behind the service's back (as the portal does): the recount finds it.
    let list = admin_json(&data, &["voicemail", "list", "alice@example.com"]);
    let id = list[0]["id"].as_i64().expect("the message's id");
    block_on(async {
        let store = store::Store::open(&data.url()).await.unwrap();
        store
            .remove_voicemail("alice", DOMAIN, id)
            .await
            .unwrap()
            .expect("the message was there");
        store.close().await;
    });
    notified(&alice, "0/0", &mut early);

    // Someone else's mailbox: refused.
    let mut nosy = Vec::new();
    let refused = subscribe(
        &mut Phone::new(server.udp, "bob", "b-secret"),
        &format!("sip:alice@{DOMAIN}"),
        600,
        None,
        &mut nosy,
    );
    assert_eq!(refused.status(), Some(403));
    assert!(nosy.is_empty());

    // Unsubscribing: 200, and a last NOTIFY that says terminated.
    let bye = subscribe(
        &mut alice,
        &format!("sip:alice@{DOMAIN}"),
        0,
        Some(&dialog),
        &mut early,
    );
    assert_eq!(bye.status(), Some(200), "{bye:?}");
    let deadline = Instant::now() + WAIT;
    let last = loop {
        if let Some(m) = early.pop() {
            break m;
        }
        let m = next_message(&alice, deadline).expect("the last NOTIFY");
        if m.method() == Some(&Method::Notify) {
            answer(&alice, &m);
            break m;
        }
    };
    assert_eq!(
        last.header(HeaderName::SubscriptionState),
        Some("terminated")
    );
}

/// The body of the `nth` (from 0) NOTIFY baresip's `menu` reported for alice: the lines
/// after its `----- MWI for AOR -----` up to `Voice-Message` (the SIP trace of `-s` holds
/// the same lines inside the NOTIFY; these are the ones baresip made of it).
fn mwi_report(alice: &mut Baresip, nth: usize) -> String {
    let marker = format!("----- MWI for sip:alice@{DOMAIN} -----");
    let deadline = Instant::now() + WAIT;
    loop {
        let starts: Vec<usize> = (0..alice.output.len())
            .filter(|&i| alice.output[i].contains(&marker))
            .collect();
        if let Some(&at) = starts.get(nth) {
            let report: Vec<&String> = alice.output[at + 1..].iter().take(6).collect();
            if let Some(end) = report.iter().position(|l| l.contains("Voice-Message:")) {
                return report[..=end]
                    .iter()
                    .map(|l| l.trim())
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if alice.next_line(left).is_none() {
            panic!(
                "baresip reported no MWI number {nth}; its output:\n{}",
                alice.output.join("\n")
            );
        }
    }
}

#[test]
fn baresip_leaves_a_message_and_baresip_shows_it_waiting() {
    common::baresip::require_baresip();
    let (data, server) = server();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("alice-says.wav");
    tone_file(&source, 600.0);
    let mut alice = Baresip::start_mwi(server.udp, "alice", "a-secret", &source);
    alice.wait_registered("alice", WAIT);
    alice.wait_line(
        &["mwi: subscribing to messages for sip:alice@example.com"],
        WAIT,
    );
    let report = mwi_report(&mut alice, 0);
    assert!(report.contains("Messages-Waiting: no"), "{report}");
    assert!(report.contains("Voice-Message: 0/0"), "{report}");
    // Bob's baresip leaves alice a message: *97alice, 9 s of its 800 Hz tone.
    let bob_says = dir.path().join("bob-says.wav");
    tone_file(&bob_says, 800.0);
    let dial = format!("/dial sip:*97alice@{DOMAIN}");
    let mut bob = Baresip::start(
        server.udp,
        "bob",
        "b-secret",
        &bob_says,
        &["-e", &dial, "-t", "9"],
    );
    bob.wait_line(&["Call established"], WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's baresip quits cleanly");
    server.wait_log("voicemail message stored", WAIT);
    let list = admin_json(&data, &["voicemail", "list", "alice@example.com"]);
    let file = data
        .path()
        .join("voicemail")
        .join(list[0]["file"].as_str().expect("the message's file"));
    let share = common::softphone::tone_share(&file, 800.0);
    assert!(share > 0.5, "the message holds bob's 800 Hz at {share:.2}");
    let report = mwi_report(&mut alice, 1);
    assert!(report.contains("Messages-Waiting: yes"), "{report}");
    assert!(report.contains("Voice-Message: 1/0"), "{report}");
    assert!(
        !alice
            .output
            .iter()
            .any(|l| l.contains("mwi: subscription for")),
        "the subscription stays up"
    );
}

/// The `voicemail` event (a message-waiting NOTIFY without a subscription) whose counts are
/// `new`/`old`; panics with what came instead after [`WAIT`].
fn lamp(phone: &mut Softphone, new: u64, old: u64) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let told = phone
            .all("voicemail")
            .into_iter()
            .find(|v| v["new"] == new && v["old"] == old);
        if let Some(told) = told {
            return told;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "{}: no voicemail event with {new}/{old}; got {:?}",
                phone.name,
                phone.all("voicemail")
            );
        }
        phone.listen_for(left.min(Duration::from_millis(200)));
    }
}

#[test]
fn phones_that_do_not_subscribe_are_told_and_told_again_after_a_restart() {
    let (data, server) = server();
    let port = server.udp.port();
    // alice's phone registers and waits for calls; it never subscribes.
    let mut desk = Softphone::start(server.udp, "alice", "a-secret", &["answer"]);
    desk.wait_event("registered", WAIT);
    bob_leaves_a_message(&server);
    let told = lamp(&mut desk, 1, 0);
    assert_eq!(told["waiting"], true);
    assert_eq!(told["account"], format!("sip:voicemail@{DOMAIN}"));

    // A restart on the same port: the bindings come back from the store, and every
    // mailbox holding messages is told again.
    drop(server);
    desk.events.clear();
    let args = data.args();
    let server = Itsp::start_on(
        &as_strs(&args),
        &[&format!("udp:127.0.0.1:{port}"), "tcp:127.0.0.1:0"],
    );
    server.startup_log("media services ready");
    lamp(&mut desk, 1, 0);

    // A second phone of alice registers: told at once (and the desk phone again).
    let mut mobile = Softphone::start(server.udp, "alice", "a-secret", &["answer"]);
    mobile.wait_event("registered", WAIT);
    let told = lamp(&mut mobile, 1, 0);
    assert_eq!(told["waiting"], true);

    // Deleted behind the service's back (as the portal does): the lamp goes out.
    let list = admin_json(&data, &["voicemail", "list", "alice@example.com"]);
    let id = list[0]["id"].as_i64().expect("the message's id");
    block_on(async {
        let store = store::Store::open(&data.url()).await.unwrap();
        store.remove_voicemail("alice", DOMAIN, id).await.unwrap();
        store.close().await;
    });
    let told = lamp(&mut desk, 0, 0);
    assert_eq!(told["waiting"], false);
}
