//! Prepaid calls through the engine, on the simulated clock: authorisation (402 without
//! credit), slices of one balance shared by two calls, the hang-up at the exact second
//! the credit ends (BYE to both parties), a top-up during a call extending it, and an
//! unanswered call settled at zero; a click-to-dial call the media service places for alice
//! spends her credit (402 without).
//!
//! alice has a prepaid account in EUR; calls to Sweden (`0046…`) cost 0.60 a minute,
//! billed by the second (0.01 a second) with no connect fee.

use std::sync::Arc;

use billing::{Decimal, Tariff};
use store::{Address, Disposition, EntryKind, HungUpBy};

use super::*;
use crate::billing::AccountBook;
use crate::engine::io::{PrepaidCaller, Settle};

const ALICE: &str = "203.0.113.5:5060";
const NUMBER: &str = "0046812345678";

/// The plan `default`: Sweden at 0.60 a minute by the second.
fn plan() -> billing::RatingPlan {
    let csv = "prefix,description,connect_fee,rate_per_min,initial,increment\n\
               0046,Sweden,0,0.60,1,1\n";
    let options = billing::import::native::Options::new(
        "default",
        billing::Currency::new("EUR").unwrap(),
        billing::UtcOffset::UTC,
    );
    billing::import::native::parse("rates.csv", csv, &options, &Default::default()).unwrap()
}

fn tariff() -> Arc<Tariff> {
    let plan = plan();
    let (_, tariff) = plan.find(NUMBER).unwrap();
    tariff.clone()
}

/// The plans a world's engine authorises with once an account is followed.
pub(super) fn rater() -> crate::rating::SharedRater {
    let mut plans = billing::PlanSet::new();
    plans.insert(plan());
    Arc::new(crate::rating::Rater::with_plans(plans))
}

fn alice() -> Address {
    Address::new("alice", "example.com").unwrap()
}

/// A world whose alice is prepaid with `balance`, and may call abroad; slices of
/// `debit_interval` seconds.
fn prepaid_world(balance: &str, debit_interval: u32) -> World {
    prepaid_world_with(balance, debit_interval, |_| {})
}

/// [`prepaid_world`] with `configure` changing the server's configuration first.
fn prepaid_world_with(
    balance: &str,
    debit_interval: u32,
    configure: impl FnOnce(&mut ServerConfig),
) -> World {
    let mut c = config();
    c.credit.debit_interval = debit_interval;
    configure(&mut c);
    let mut w = World::new(c);
    w.groups.push(("alice".into(), "int".into()));
    w.prepaid = Some(Prepaid {
        balance: balance.parse().unwrap(),
        put_in: Vec::new(),
        tariff: tariff(),
    });
    w.book.replace(&[store::Account {
        address: alice(),
        kind: store::AccountKind::Prepaid,
        plan: None,
        currency: "EUR".into(),
        balance: balance.parse().unwrap(),
        low_balance: None,
        last_entry: 0,
        created_ms: 0,
    }]);
    w.register("alice", ALICE, "1.0");
    w
}

/// alice calls the number (authenticating); answers what reached the gateway, and what
/// alice got (taken from what was sent; the rest stays).
fn call(w: &mut World, call: &str) -> (Option<Message>, Vec<Message>) {
    call_offering(w, call, "")
}

/// [`call`] with `sdp` as the INVITE's body (none when empty).
fn call_offering(w: &mut World, call: &str, sdp: &str) -> (Option<Message>, Vec<Message>) {
    let content_type = if sdp.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let text = |cseq: u32, auth: &str| {
        format!(
            "INVITE sip:{NUMBER}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bK-{call}{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=f-{call}\r\nTo: <sip:{NUMBER}@example.com>\r\nCall-ID: {call}\r\n\
CSeq: {cseq} INVITE\r\nContact: <sip:alice@{ALICE}>\r\n{auth}{content_type}Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    w.receive(ALICE, &text(1, ""));
    let challenge = w.sent_to(ALICE).pop().unwrap();
    assert_eq!(challenge.status(), Some(407));
    let credentials = digest_answer(
        &challenge,
        HeaderName::ProxyAuthenticate,
        "INVITE",
        &format!("sip:{NUMBER}@example.com"),
        "alice",
        "alice",
        1,
    );
    w.receive(
        ALICE,
        &text(2, &format!("Proxy-Authorization: {credentials}\r\n")),
    );
    let sent = std::mem::take(&mut w.sent);
    let at_gateway = sent
        .iter()
        .find(|(d, m)| {
            *d == GATEWAY.parse::<SocketAddr>().unwrap() && m.method() == Some(&sip::Method::Invite)
        })
        .map(|(_, m)| m.clone());
    let alice: SocketAddr = ALICE.parse().unwrap();
    let (to_alice, elsewhere): (Vec<_>, Vec<_>) = sent.into_iter().partition(|(d, _)| *d == alice);
    w.sent = elsewhere; // what went elsewhere stays to be looked at
    (at_gateway, to_alice.into_iter().map(|(_, m)| m).collect())
}

/// The gateway's 200 to `invite`, with the Record-Route copied (RFC 3261 §12.1.1).
fn ok_from_gateway(invite: &Message, to_tag: &str) -> String {
    let mut b = MessageBuilder::response_to(invite, 200, None, Some(to_tag))
        .header(HeaderName::Contact, &format!("<sip:{NUMBER}@{GATEWAY}>"));
    for rr in invite.header_values(HeaderName::RecordRoute) {
        b = b.header(HeaderName::RecordRoute, rr);
    }
    String::from_utf8(b.build().unwrap().as_bytes().to_vec()).unwrap()
}

fn byes(messages: &[Message]) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| m.method() == Some(&sip::Method::Bye))
        .collect()
}

/// The ledger debits written, and the settlements.
fn money(w: &World) -> (Vec<(String, Decimal)>, Vec<Settle>) {
    let mut debits = Vec::new();
    let mut settles = Vec::new();
    for r in &w.records {
        match r {
            Record::Ledger(e) => {
                assert_eq!(e.kind, EntryKind::Debit);
                debits.push((e.call_id.clone().unwrap(), e.amount));
            }
            Record::Settle(s) => settles.push((**s).clone()),
            _ => {}
        }
    }
    (debits, settles)
}

fn cdr(w: &World, call: &str) -> store::Cdr {
    w.records
        .iter()
        .find_map(|r| match r {
            Record::Cdr { cdr, .. } if cdr.call_id == call => Some((**cdr).clone()),
            _ => None,
        })
        .unwrap()
}

fn amount(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn credit_for_30_seconds_ends_the_call_at_30_seconds_with_a_bye_to_both() {
    let mut w = prepaid_world("0.30", 60);
    let (invite, _) = call(&mut w, "p1");
    let invite = invite.expect("authorised: forwarded to the gateway");
    w.receive(GATEWAY, &ok_from_gateway(&invite, "gw1"));
    assert_eq!(codes(&w.sent_to(ALICE)), [200]);
    w.advance(Duration::from_millis(29_900));
    assert!(byes(
        &std::mem::take(&mut w.sent)
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
    )
    .is_empty());
    w.advance(Duration::from_millis(100));
    let sent = std::mem::take(&mut w.sent);
    let to = |dest: &str| -> Vec<Message> {
        let dest: SocketAddr = dest.parse().unwrap();
        sent.iter()
            .filter(|(d, m)| *d == dest && m.method() == Some(&sip::Method::Bye))
            .map(|(_, m)| m.clone())
            .collect()
    };
    let to_gateway = to(GATEWAY);
    assert_eq!(to_gateway.len(), 1, "the callee gets a BYE at 30 s");
    assert_eq!(to_gateway[0].from().unwrap().tag(), Some("f-p1"));
    assert_eq!(to_gateway[0].to().unwrap().tag(), Some("gw1"));
    assert_eq!(to_gateway[0].cseq().unwrap().seq, 3);
    assert!(to_gateway[0]
        .header(HeaderName::Reason)
        .unwrap()
        .contains("402"));
    let to_alice = to(ALICE);
    assert_eq!(to_alice.len(), 1, "so does the caller");
    assert_eq!(
        to_alice[0].request_uri_str(),
        Some(&*format!("sip:alice@{ALICE}"))
    );
    assert_eq!(to_alice[0].from().unwrap().tag(), Some("gw1"));
    assert_eq!(to_alice[0].to().unwrap().tag(), Some("f-p1"));

    // Both answer 200: the answers stop here (nothing goes anywhere).
    let ok = |bye: &Message| {
        String::from_utf8(
            MessageBuilder::response_to(bye, 200, None, None)
                .build()
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
        .unwrap()
    };
    let (bye_gw, bye_alice) = (to_gateway[0].clone(), to_alice[0].clone());
    w.receive(GATEWAY, &ok(&bye_gw));
    w.receive(ALICE, &ok(&bye_alice));
    assert!(w.sent.is_empty(), "{:?}", w.sent);

    let record = cdr(&w, "p1");
    assert_eq!(record.disposition, Disposition::CreditExhausted);
    assert_eq!(record.hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(record.end_reason.as_deref(), Some("credit"));
    assert_eq!(record.billable_secs(), 30, "{record:?}");
    let (debits, settles) = money(&w);
    let debited: Decimal = debits.iter().map(|(_, a)| *a).sum();
    assert_eq!(debited, amount("-0.30"), "{debits:?}");
    assert_eq!(settles.len(), 1);
    assert_eq!(
        (settles[0].charged, settles[0].debited),
        (amount("0.30"), amount("0.30"))
    );

    // Nothing left: the next call is refused with 402 and never rings.
    let (at_gateway, to_alice) = call(&mut w, "p2");
    assert!(at_gateway.is_none());
    assert_eq!(codes(&to_alice), [402]);
    let refused = cdr(&w, "p2");
    assert_eq!(
        (refused.disposition, refused.code),
        (Disposition::Refused, 402)
    );
}

#[test]
fn a_top_up_during_the_call_extends_it() {
    let mut w = prepaid_world("0.30", 60);
    let (invite, _) = call(&mut w, "t1");
    w.receive(GATEWAY, &ok_from_gateway(&invite.unwrap(), "gw1"));
    w.acknowledge(ALICE);
    w.advance(Duration::from_secs(10));
    w.prepaid.as_mut().unwrap().put_in.push((7, amount("0.20")));
    w.advance(Duration::from_secs(20));
    assert!(
        byes(&w.sent_to(GATEWAY)).is_empty(),
        "the top-up was found before the teardown"
    );
    w.advance(Duration::from_secs(19));
    assert!(byes(&w.sent_to(GATEWAY)).is_empty());
    w.advance(Duration::from_secs(1));
    assert_eq!(byes(&w.sent_to(GATEWAY)).len(), 1, "ended at 50 s");
    let (debits, _) = money(&w);
    assert_eq!(
        debits.iter().map(|(_, a)| *a).sum::<Decimal>(),
        amount("-0.50")
    );
}

#[test]
fn two_calls_share_one_balance_slice_by_slice() {
    // 0.30 and 10 s slices: each call takes 0.10 at its answer; at 10 s the first takes
    // the last 0.10, the second finds nothing and ends; the first ends at 20 s.
    let mut w = prepaid_world("0.30", 10);
    let (first, _) = call(&mut w, "s1");
    let (second, _) = call(&mut w, "s2");
    assert_eq!(
        w.prepaid_reads, 1,
        "the second call of a followed account is authorised from memory"
    );
    w.receive(GATEWAY, &ok_from_gateway(&first.unwrap(), "g1"));
    w.receive(GATEWAY, &ok_from_gateway(&second.unwrap(), "g2"));
    let mut ended: Vec<String> = Vec::new();
    let mut newly_ended = |w: &mut World| -> Vec<String> {
        let mut new = Vec::new();
        for bye in byes(&w.sent_to(GATEWAY)) {
            let id = bye.call_id().unwrap().to_owned();
            if !ended.contains(&id) {
                ended.push(id.clone());
                new.push(id);
            }
        }
        new
    };
    w.advance(Duration::from_secs(10));
    assert_eq!(newly_ended(&mut w), ["s2"]);
    w.advance(Duration::from_secs(10));
    assert_eq!(newly_ended(&mut w), ["s1"]);
    let (debits, settles) = money(&w);
    assert_eq!(
        debits.iter().map(|(_, a)| *a).sum::<Decimal>(),
        amount("-0.30")
    );
    let charged: Decimal = settles.iter().map(|s| s.charged).sum();
    assert_eq!(charged, amount("0.30"), "20 s and 10 s at 0.01");
}

#[test]
fn an_unanswered_call_costs_nothing_and_a_hang_up_is_settled_to_the_second() {
    let mut w = prepaid_world("1.00", 60);
    let (invite, _) = call(&mut w, "u1");
    w.receive(GATEWAY, &answer_to(&invite.unwrap(), 486, "gw", None));
    let (debits, settles) = money(&w);
    assert!(
        debits.is_empty() && settles.is_empty(),
        "{debits:?} {settles:?}"
    );

    // Answered, then alice hangs up after 12 s: 0.60 taken at the answer, 0.48 refunded.
    let (invite, _) = call(&mut w, "u2");
    w.receive(GATEWAY, &ok_from_gateway(&invite.unwrap(), "gw2"));
    w.advance(Duration::from_secs(12));
    let bye = format!(
        "BYE sip:{NUMBER}@{GATEWAY} SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bK-byeu2;rport\r\n\
Max-Forwards: 70\r\nRoute: <sip:192.0.2.1:5060;lr>\r\nFrom: <sip:alice@example.com>;tag=f-u2\r\n\
To: <sip:{NUMBER}@example.com>;tag=gw2\r\nCall-ID: u2\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    w.receive(ALICE, &bye);
    let (debits, settles) = money(&w);
    assert_eq!(debits, [("u2".to_owned(), amount("-0.60"))]);
    assert_eq!(settles.len(), 1);
    assert_eq!(
        (settles[0].charged, settles[0].debited),
        (amount("0.12"), amount("0.60"))
    );
}

#[test]
fn callers_without_a_prepaid_account_are_not_asked_about() {
    let mut w = prepaid_world("0.00", 60);
    w.book.replace(&[]);
    let (invite, _) = call(&mut w, "n1");
    assert!(invite.is_some(), "no account: the call goes through");
    assert_eq!(w.prepaid_reads, 0);
}

/// What the simulated store says of alice's prepaid account.
pub(super) struct Prepaid {
    pub(super) balance: Decimal,
    /// Money put in: (ledger id, amount).
    pub(super) put_in: Vec<(i64, Decimal)>,
    pub(super) tariff: Arc<Tariff>,
}

impl Prepaid {
    /// The answer to [`IoRequest::Prepaid`].
    pub(super) fn answer(&self, after: Option<i64>) -> Answer {
        Answer::Prepaid(Some(PrepaidCaller {
            balance: self.balance,
            last_entry: 0,
            currency: "EUR".into(),
            put_in: self.put_in_after(after.unwrap_or(i64::MAX)),
            tariff: Some(("default".into(), self.tariff.clone())),
        }))
    }

    /// The money put in after entry `after`.
    pub(super) fn put_in_after(&self, after: i64) -> Vec<(i64, Decimal)> {
        self.put_in
            .iter()
            .filter(|(id, _)| *id > after)
            .copied()
            .collect()
    }
}

/// The book a world's engine reads ([`World::book`]).
pub(super) fn book() -> AccountBook {
    AccountBook::default()
}

#[test]
fn with_announcements_a_caller_without_credit_hears_why_then_gets_402() {
    const MEDIA: &str = "127.0.0.1:5090";
    let mut w = prepaid_world_with("0.00", 60, |c| {
        c.services.media = Some(MEDIA.parse().unwrap());
        c.services.announcements = true;
    });
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\n";
    let (at_gateway, to_alice) = call_offering(&mut w, "a1", sdp);
    assert!(at_gateway.is_none(), "the number never rings");
    assert!(
        codes(&to_alice).iter().all(|c| *c < 200),
        "{:?}",
        codes(&to_alice)
    );
    let at_media = w
        .sent
        .iter()
        .find(|(d, m)| {
            *d == MEDIA.parse::<SocketAddr>().unwrap() && m.method() == Some(&sip::Method::Invite)
        })
        .map(|(_, m)| m.clone())
        .expect("the call goes to the announcement");
    assert_eq!(
        at_media.request_uri_str(),
        Some("sip:announce@example.com;prompt=insufficient-credit;code=402")
    );
    // The media service plays it as early media, then refuses with the 402.
    w.receive(MEDIA, &answer_to(&at_media, 183, "m1", Some(sdp)));
    w.receive(MEDIA, &answer_to(&at_media, 402, "m1", None));
    let to_alice = w.sent_to(ALICE);
    assert!(codes(&to_alice).contains(&183), "{:?}", codes(&to_alice));
    assert!(codes(&to_alice).contains(&402), "{:?}", codes(&to_alice));
    let record = cdr(&w, "a1");
    assert_eq!(record.code, 402);
    assert!(!record.disposition.was_answered());
    let (debits, _) = money(&w);
    assert!(debits.is_empty(), "nothing taken: {debits:?}");

    // Without an offer there is nothing to hear it with: the 402 comes at once.
    let (at_gateway, to_alice) = call(&mut w, "a2");
    assert!(at_gateway.is_none());
    assert_eq!(codes(&to_alice), [402]);
}

#[test]
fn a_click_to_dial_call_spends_the_callers_own_credit() {
    const MEDIA: &str = "127.0.0.1:5090";
    let media: SocketAddr = MEDIA.parse().unwrap();
    let invite = |call: &str| {
        let sdp = "v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        format!(
            "INVITE sip:{NUMBER}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {MEDIA};branch=z9hG4bK-{call};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=f-{call}\r\nTo: <sip:{NUMBER}@example.com>\r\nCall-ID: {call}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:click-to-dial@{MEDIA}>\r\nP-Asserted-Identity: <sip:alice@example.com>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    let at_gateway = |w: &World, call: &str| {
        w.sent.iter().any(|(d, m)| {
            *d == GATEWAY.parse::<SocketAddr>().unwrap()
                && m.method() == Some(&sip::Method::Invite)
                && m.call_id().ok() == Some(call)
        })
    };
    // No credit: refused (402) as alice's own call would be; the gateway never rings.
    let mut w = prepaid_world_with("0.00", 60, |c| c.services.media = Some(media));
    w.receive(MEDIA, &invite("c2d-p1"));
    assert!(!at_gateway(&w, "c2d-p1"));
    assert!(codes(&w.sent_to(MEDIA)).contains(&402));
    let refused = cdr(&w, "c2d-p1");
    assert_eq!(refused.caller_user.as_deref(), Some("alice"));
    // With credit: authorised against her account, to the gateway.
    let mut w = prepaid_world_with("1.00", 60, |c| c.services.media = Some(media));
    w.receive(MEDIA, &invite("c2d-p2"));
    assert!(at_gateway(&w, "c2d-p2"), "{:?}", codes(&w.sent_to(MEDIA)));
    assert!(w.prepaid_reads > 0, "alice's account was read");
}
