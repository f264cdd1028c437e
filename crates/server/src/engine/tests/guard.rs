//! The guards (`crate::guard`) through the engine, on the simulated clock: bans for failed
//! authentications, their doubling, an account under attack, the nonce bound, trusted
//! sources, the flood limit, the store's bans. Log lines are captured with the same
//! formatter `itsp serve` uses (`tracing_subscriber::fmt`, text).

use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::*;
use crate::guard::BanAnswer;

const ATTACKER: &str = "203.0.113.66:5070";
const OWNER: &str = "198.51.100.50:5060";

/// The log lines written while `f` runs.
fn logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (r, text)
}

fn register_text(w: &mut World, src: &str, user: &str, cseq: u32, auth: &str) -> String {
    let n = w.registrations;
    format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bK-g{n}-{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=g{n}\r\nTo: <sip:{user}@example.com>\r\n\
Call-ID: guard-{n}-{src}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{src}>\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

/// Credentials for the first challenge of `challenge` (a 401).
fn credentials(challenge: &Message, user: &str, password: &str, nc: u32) -> String {
    digest_answer(
        challenge,
        HeaderName::WwwAuthenticate,
        "REGISTER",
        "sip:example.com",
        user,
        password,
        nc,
    )
}

/// A REGISTER without credentials from `src`: the answers (a 401, or nothing when
/// banned).
fn ask(w: &mut World, src: &str, user: &str) -> Vec<Message> {
    w.registrations += 1;
    let text = register_text(w, src, user, 1, "");
    w.receive(src, &text);
    w.sent_to(src)
}

/// A registration attempt from `src` as `user` with `password`: asks, answers the
/// challenge. The answers to the second request (empty when dropped); `None` when even
/// the first got no challenge.
fn attempt(w: &mut World, src: &str, user: &str, password: &str) -> Option<Vec<Message>> {
    let challenge = ask(w, src, user).pop()?;
    assert_eq!(challenge.status(), Some(401));
    let auth = format!(
        "Authorization: {}\r\n",
        credentials(&challenge, user, password, 1)
    );
    let text = register_text(w, src, user, 2, &auth);
    w.receive(src, &text);
    Some(w.sent_to(src))
}

#[test]
fn ten_wrong_passwords_ban_the_source_and_the_ban_doubles() {
    let mut w = World::new(config());
    let (_, log) = logs(|| {
        for i in 1..=10 {
            let answers = attempt(&mut w, ATTACKER, "alice", "guess").expect("not banned yet");
            assert_eq!(codes(&answers), [401], "attempt {i}");
        }
    });
    assert_eq!(log.matches("auth failed source=203.0.113.66 user=\"alice\" realm=\"example.com\" reason=\"bad credentials\"").count(), 10, "{log}");
    assert_eq!(log.matches(" source banned source=203.0.113.66 user=\"alice\" realm=\"example.com\" reason=\"too many failed authentications\" failures=10 ban_secs=300").count(), 1, "{log}");
    assert!(log.contains(" INFO server::guard: auth failed"), "{log}");
    assert_eq!(w.bans_written.len(), 1);
    assert_eq!(w.bans_written[0].network, "203.0.113.66");
    assert_eq!(
        w.bans_written[0].until_ms,
        i64::try_from(w.now.unix_ms).unwrap() + 300_000
    );
    assert_eq!(w.engine.own_bans(w.now), 1);
    // The 11th attempt gets nothing, not even its challenge; other sources are served.
    assert!(attempt(&mut w, ATTACKER, "alice", "alice").is_none());
    w.register("bob", BOB_1, "1.0");

    // Five minutes later it works, with the right password.
    w.advance(Duration::from_secs(299));
    assert!(attempt(&mut w, ATTACKER, "alice", "alice").is_none());
    w.advance(Duration::from_secs(1));
    let answers = attempt(&mut w, ATTACKER, "alice", "alice").expect("the ban ended");
    assert_eq!(codes(&answers), [200]);

    // Ten more failures: the second ban lasts twice as long.
    for _ in 0..10 {
        attempt(&mut w, ATTACKER, "alice", "guess").expect("not banned yet");
    }
    assert_eq!(w.bans_written.len(), 2);
    assert_eq!(
        w.bans_written[1].until_ms,
        i64::try_from(w.now.unix_ms).unwrap() + 600_000
    );
    w.advance(Duration::from_secs(599));
    assert!(attempt(&mut w, ATTACKER, "alice", "alice").is_none());
    w.advance(Duration::from_secs(1));
    assert!(attempt(&mut w, ATTACKER, "alice", "alice").is_some());
}

#[test]
fn unknown_user_and_wrong_password_answer_and_log_alike() {
    let mut w = World::new(config());
    let (answers, log) = logs(|| {
        let wrong = attempt(&mut w, ATTACKER, "alice", "guess").unwrap();
        let unknown = attempt(&mut w, ATTACKER, "mallory", "guess").unwrap();
        (wrong, unknown)
    });
    let (wrong, unknown) = answers;
    assert_eq!(codes(&wrong), [401]);
    assert_eq!(codes(&unknown), [401]);
    let shape = |m: &Message| {
        (
            m.reason().map(str::to_owned),
            m.header_values(HeaderName::WwwAuthenticate).count(),
        )
    };
    assert_eq!(shape(&wrong[0]), shape(&unknown[0]));
    let reasons: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("auth failed"))
        .map(|l| l.split("reason=").nth(1).unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "\"bad credentials\" failures=1",
            "\"bad credentials\" failures=2"
        ],
        "{log}"
    );
    // A first request without credentials is no failure.
    let (_, log) = logs(|| ask(&mut w, OWNER, "alice"));
    assert!(!log.contains("auth failed"), "{log}");
}

#[test]
fn an_attacked_account_still_lets_its_owner_in() {
    let mut w = World::new(config());
    // Five sources, two failures each: alice has ten failures, no source is banned.
    let sources: Vec<String> = (1..=5).map(|i| format!("203.0.113.{i}:5060")).collect();
    for src in &sources {
        for _ in 0..2 {
            assert_eq!(
                codes(&attempt(&mut w, src, "alice", "guess").unwrap()),
                [401]
            );
        }
    }
    assert!(w.bans_written.is_empty());
    // Their credentials for alice are not even checked now: dropped.
    assert!(attempt(&mut w, &sources[0], "alice", "alice")
        .unwrap()
        .is_empty());
    // For another account they are served as usual.
    assert_eq!(
        codes(&attempt(&mut w, &sources[0], "bob", "bob").unwrap()),
        [200]
    );
    // The owner, from a source with no failures, gets in.
    assert_eq!(
        codes(&attempt(&mut w, OWNER, "alice", "alice").unwrap()),
        [200]
    );
    // Once the account's failures decayed, the sources are served again.
    w.advance(Duration::from_secs(120));
    assert_eq!(
        codes(&attempt(&mut w, &sources[0], "alice", "alice").unwrap()),
        [200]
    );

    // With ban_answer = "403" the turned-away request is refused instead.
    let mut c = config();
    c.guard.ban_answer = BanAnswer::Forbidden;
    let mut w = World::new(c);
    for src in &sources {
        for _ in 0..2 {
            attempt(&mut w, src, "alice", "guess").unwrap();
        }
    }
    assert_eq!(
        codes(&attempt(&mut w, &sources[0], "alice", "alice").unwrap()),
        [403]
    );
}

#[test]
fn a_banned_source_gets_403_when_configured() {
    let mut c = config();
    c.guard.ban_answer = BanAnswer::Forbidden;
    c.guard.max_auth_failures = 3;
    let mut w = World::new(c);
    for _ in 0..3 {
        attempt(&mut w, ATTACKER, "alice", "guess").unwrap();
    }
    assert_eq!(codes(&ask(&mut w, ATTACKER, "alice")), [403]);
}

#[test]
fn a_nonce_takes_five_wrong_responses_then_needs_renewal() {
    let mut w = World::new(config());
    let challenge = ask(&mut w, ATTACKER, "alice").pop().unwrap();
    let mut cseq = 1;
    let mut send = |w: &mut World, password: &str, nc: u32| {
        cseq += 1;
        let auth = format!(
            "Authorization: {}\r\n",
            credentials(&challenge, "alice", password, nc)
        );
        let text = register_text(w, ATTACKER, "alice", cseq, &auth);
        w.receive(ATTACKER, &text);
        w.sent_to(ATTACKER).pop().unwrap()
    };
    for nc in 1..=5 {
        let r = send(&mut w, "guess", nc);
        assert_eq!(r.status(), Some(401));
        assert!(!r
            .header(HeaderName::WwwAuthenticate)
            .unwrap()
            .contains("stale"));
    }
    // The right password on the worn-out nonce: a new nonce, stale=true.
    let r = send(&mut w, "alice", 6);
    assert_eq!(r.status(), Some(401));
    assert!(r
        .header(HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale=true"));
    // ... which works.
    let auth = format!(
        "Authorization: {}\r\n",
        credentials(&r, "alice", "alice", 1)
    );
    let text = register_text(&mut w, ATTACKER, "alice", 20, &auth);
    w.receive(ATTACKER, &text);
    assert_eq!(codes(&w.sent_to(ATTACKER)), [200]);
}

fn options(src: &str, n: u32) -> String {
    format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bK-o{n};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:x@example.org>;tag=o{n}\r\nTo: <sip:example.com>\r\n\
Call-ID: opt-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_flood_is_dropped_and_a_normal_rate_passes() {
    let mut w = World::new(config());
    let (_, log) = logs(|| {
        for n in 0..300 {
            w.receive(ATTACKER, &options(ATTACKER, n));
        }
    });
    assert_eq!(w.sent_to(ATTACKER).len(), 200, "the limit, then nothing");
    let attacker: std::net::IpAddr = ATTACKER.parse::<SocketAddr>().unwrap().ip();
    assert_eq!(
        w.blocks.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(),
        [attacker],
        "the transports drop it before parsing, asked once per horizon"
    );
    w.advance(crate::guard::BLOCK_HORIZON);
    w.receive(ATTACKER, &options(ATTACKER, 999));
    assert_eq!(w.blocks.len(), 2, "asked again while the ban lasts");
    assert_eq!(log.matches("source banned source=203.0.113.66 requests=201 window_ms=2000 ban_secs=60 reason=\"request flood\"").count(), 1, "logged once: {log}");
    // 59 s into the ban (one second went by above).
    w.advance(Duration::from_secs(58));
    w.receive(ATTACKER, &options(ATTACKER, 1000));
    assert!(w.sent_to(ATTACKER).is_empty());
    w.advance(Duration::from_secs(1));
    w.receive(ATTACKER, &options(ATTACKER, 1001));
    assert_eq!(codes(&w.sent_to(ATTACKER)), [200]);

    // 50 requests a second for a minute: all answered.
    for n in 0..3000 {
        w.now = w.now.after(Duration::from_millis(20));
        w.receive(OWNER, &options(OWNER, 2000 + n));
    }
    assert_eq!(w.sent_to(OWNER).len(), 3000);
}

#[test]
fn trusted_sources_are_never_limited_or_banned() {
    let mut c = trusted_config();
    c.guard.max_auth_failures = 1;
    let mut w = World::new(c);
    let read_at = w.now;
    w.engine.set_bans(
        read_at,
        &[store::Ban {
            network: "203.0.113.0/24".into(),
            until_ms: None,
            reason: "manual".into(),
            automatic: false,
            created_ms: 0,
        }],
    );
    for n in 0..1000 {
        w.receive(CALLER, &options(CALLER, n));
    }
    assert_eq!(w.sent_to(CALLER).len(), 1000);
    // The ban holds for an untrusted source of that network... none here: another one.
    w.engine.set_bans(
        read_at,
        &[store::Ban {
            network: "198.51.100.0/24".into(),
            until_ms: Some(i64::try_from(w.now.unix_ms).unwrap() + 10_000),
            reason: "manual".into(),
            automatic: false,
            created_ms: 0,
        }],
    );
    w.receive(OWNER, &options(OWNER, 5000));
    assert!(w.sent_to(OWNER).is_empty(), "banned by the store");
    w.advance(Duration::from_secs(10));
    w.receive(OWNER, &options(OWNER, 5001));
    assert_eq!(w.sent_to(OWNER).len(), 1, "the stored ban ended");
}

#[test]
fn an_operator_lifts_an_automatic_ban_through_the_store() {
    let mut c = config();
    c.guard.max_auth_failures = 2;
    let mut w = World::new(c);
    for _ in 0..2 {
        attempt(&mut w, ATTACKER, "alice", "guess").unwrap();
    }
    assert!(ask(&mut w, ATTACKER, "alice").is_empty());
    // A reading that has the ban keeps it.
    let ban = &w.bans_written[0];
    let row = store::Ban {
        network: ban.network.clone(),
        until_ms: Some(ban.until_ms),
        reason: ban.reason.clone(),
        automatic: true,
        created_ms: 0,
    };
    let now = w.now;
    w.engine.set_bans(now, &[row]);
    assert!(ask(&mut w, ATTACKER, "alice").is_empty());
    // `itsp ban rm`: the next reading has no ban; the engine lifts its own.
    w.engine.set_bans(now, &[]);
    assert_eq!(codes(&ask(&mut w, ATTACKER, "alice")), [401]);
}
