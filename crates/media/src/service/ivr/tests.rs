//! The IVR on a simulated clock: keys typed between 20 ms ticks; the prompts are tones of
//! their own frequency, so what it says is measured with Goertzel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rtp::audio::goertzel::tone_amplitude;
use rtp::audio::tone::Tone;
use rtp::codec::FRAME_SAMPLES;

use super::*;
use crate::prompt::Prompt;
use crate::prompts::Origin;

const MAIN: f64 = 500.0;
const SALES: f64 = 900.0;
const INVALID: f64 = 1300.0;
const TRANSFERRING: f64 = 1700.0;
const FAILED: f64 = 2100.0;
const NO_TRANSFER: f64 = 2500.0;
const GOODBYE: f64 = 350.0;

fn tone_prompt(name: &str, hz: f64) -> Prompt {
    let mut samples = vec![0i16; 3200];
    Tone::new(hz, 8000.0, 8000).fill(&mut samples);
    Prompt::from_samples(name, samples)
}

pub(crate) fn prompts() -> Prompts {
    let mut p = Prompts::built_in().unwrap();
    for (name, hz) in [
        ("main", MAIN),
        ("sales", SALES),
        (names::INVALID_OPTION, INVALID),
        (names::IVR_TRANSFERRING, TRANSFERRING),
        (names::IVR_TRANSFER_FAILED, FAILED),
        (names::IVR_NO_TRANSFER, NO_TRANSFER),
        (names::GOODBYE, GOODBYE),
    ] {
        p.insert(tone_prompt(name, hz), Origin::BuiltIn);
    }
    p
}

fn targets() -> Targets {
    Targets {
        deposit_prefix: "*97".into(),
        conference_prefix: "conf-".into(),
    }
}

fn menu(name: &str, prompt: &str, tries: u32, keys: &[(char, &str)]) -> Menu {
    Menu {
        name: name.into(),
        prompt: prompt.into(),
        timeout: Duration::from_secs(2),
        tries,
        keys: keys
            .iter()
            .map(|(k, a)| (*k, a.parse::<Action>().unwrap()))
            .collect(),
    }
}

pub(crate) fn sample_menus() -> Menus {
    Menus::new(
        vec![
            menu(
                "main",
                "main",
                3,
                &[
                    ('1', "user:bob"),
                    ('2', "menu:sales"),
                    ('3', "voicemail:bob"),
                    ('4', "conference:team"),
                    ('5', "number:+4681234"),
                    ('9', "repeat"),
                    ('0', "hangup"),
                ],
            ),
            menu(
                "sales",
                "sales",
                2,
                &[('1', "user:carol"), ('*', "menu:main")],
            ),
        ],
        targets(),
    )
    .unwrap()
}

struct Caller {
    ivr: Ivr,
    now: Instant,
    start: Instant,
    said: Vec<i16>,
    actions: Vec<IvrAction>,
    ended: bool,
}

impl Caller {
    fn new(can_refer: bool) -> Caller {
        let ivr = Ivr::new(
            Arc::new(sample_menus()),
            prompts(),
            "sip:alice@example.com".into(),
            "example.com".into(),
            "main",
            can_refer,
        )
        .unwrap();
        let now = Instant::now();
        Caller {
            ivr,
            now,
            start: now,
            said: Vec::new(),
            actions: Vec::new(),
            ended: false,
        }
    }

    fn step(&mut self) {
        assert!(!self.ended, "the IVR already ended the call");
        self.now += Duration::from_millis(20);
        let mut said = [0i16; FRAME_SAMPLES];
        if !self.ivr.tick(self.now, &mut said) {
            self.ended = true;
        }
        self.said.extend_from_slice(&said);
        while let Some(a) = self.ivr.poll_action() {
            self.actions.push(a);
        }
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            if self.ended {
                return;
            }
            self.step();
        }
    }

    fn run_until(&mut self, max_ms: u64, done: impl Fn(&Caller) -> bool) -> bool {
        for _ in 0..max_ms / 20 {
            if done(self) || self.ended {
                break;
            }
            self.step();
        }
        done(self)
    }

    /// Types `keys`, 100 ms apart.
    fn keys(&mut self, keys: &str) {
        for k in keys.chars() {
            self.ivr.digit(self.now, k);
            self.run(100);
        }
    }

    /// Whether `hz` was said since sample `mark`: strong in some 200 ms window.
    fn said_since(&self, mark: usize, hz: f64) -> bool {
        let part = &self.said[mark.min(self.said.len())..];
        part.windows(1600)
            .step_by(400)
            .any(|w| tone_amplitude(w, hz, 8000) > 4000.0)
    }

    fn mark(&self) -> usize {
        self.said.len()
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

#[test]
fn keys_transfer_to_their_targets_after_the_hold_prompt() {
    for (key, target) in [
        ('1', "sip:bob@example.com"),
        ('3', "sip:*97bob@example.com"),
        ('4', "sip:conf-team@example.com"),
        ('5', "sip:+4681234@example.com"),
    ] {
        let mut c = Caller::new(true);
        c.run(200);
        // Barge-in: the key stops the menu's prompt.
        c.keys(&key.to_string());
        let mark = c.mark();
        assert!(c.actions.is_empty(), "the REFER waits for the hold prompt");
        assert!(c.run_until(2000, |c| !c.actions.is_empty()));
        assert_eq!(
            c.actions,
            vec![IvrAction::Refer(target.into())],
            "key {key}"
        );
        assert!(c.said_since(mark, TRANSFERRING), "key {key}: 'please hold'");
        assert!(c.ivr.transferring());
        // Keys during the transfer do nothing; silence until the outcome.
        let mark = c.mark();
        c.keys("0");
        c.run(5000);
        assert!(!c.ended);
        assert_eq!(c.actions.len(), 1);
        assert!(c.said[mark..].iter().all(|s| *s == 0));
    }
}

#[test]
fn a_sub_menu_and_back() {
    let mut c = Caller::new(true);
    c.run(100);
    let mark = c.mark();
    c.keys("2");
    c.run(600);
    assert_eq!(c.ivr.menu(), "sales");
    assert!(c.said_since(mark, SALES));
    let mark = c.mark();
    c.keys("*");
    c.run(600);
    assert_eq!(c.ivr.menu(), "main");
    assert!(c.said_since(mark, MAIN));
    assert!(!c.said_since(mark, SALES));
    // Typed ahead: the sub-menu, then its key 1.
    c.keys("21");
    assert!(c.run_until(2000, |c| !c.actions.is_empty()));
    assert_eq!(
        c.actions,
        vec![IvrAction::Refer("sip:carol@example.com".into())]
    );
}

#[test]
fn no_key_repeats_the_prompt_then_goodbye_after_the_tries() {
    let mut c = Caller::new(true);
    // Three rounds of the 400 ms prompt and the 2 s timeout, then goodbye.
    let mut marks = Vec::new();
    for _ in 0..3 {
        marks.push(c.mark());
        c.run(2400);
    }
    for (round, mark) in marks.iter().enumerate() {
        let part = &c.said[*mark..(*mark + 3200).min(c.said.len())];
        assert!(
            tone_amplitude(part, MAIN, 8000) > 2000.0,
            "round {round}: the prompt"
        );
    }
    let mark = c.mark();
    assert!(c.run_until(3000, |c| c.ended));
    assert!(c.said_since(mark, GOODBYE));
    let secs = c.elapsed().as_secs_f64();
    assert!((7.2..8.5).contains(&secs), "ended after {secs} s");
    assert!(c.actions.is_empty());
}

#[test]
fn an_invalid_key_says_so_repeats_and_counts_as_a_round() {
    let mut c = Caller::new(true);
    c.run(600);
    let mark = c.mark();
    c.keys("7");
    c.run(1200);
    assert!(c.said_since(mark, INVALID), "'that is not a valid option'");
    assert!(c.said_since(mark, MAIN), "the menu again");
    assert!(!c.ended);
    // The sub-menu allows two rounds: one wrong key, one silence, goodbye.
    c.keys("2");
    c.run(600);
    c.keys("5");
    let mark = c.mark();
    assert!(c.run_until(6000, |c| c.ended));
    assert!(c.said_since(mark, GOODBYE));
    assert!(c.actions.is_empty());
}

#[test]
fn repeat_resets_the_rounds_and_hangup_says_goodbye() {
    let mut c = Caller::new(true);
    c.keys("7");
    c.run(900);
    c.keys("7");
    c.run(900);
    // Two lost rounds; repeat starts over, so two more wrong keys do not end the call.
    let mark = c.mark();
    c.keys("9");
    c.run(500);
    assert!(c.said_since(mark, MAIN));
    c.keys("7");
    c.run(900);
    c.keys("7");
    c.run(900);
    assert!(!c.ended);
    let mark = c.mark();
    c.keys("0");
    assert!(c.run_until(2000, |c| c.ended));
    assert!(c.said_since(mark, GOODBYE));
    assert!(c.actions.is_empty());
}

#[test]
fn a_failed_transfer_apologises_and_offers_the_menu_again() {
    let mut c = Caller::new(true);
    c.keys("1");
    assert!(c.run_until(2000, |c| !c.actions.is_empty()));
    c.run(1000);
    let mark = c.mark();
    c.ivr.transfer_failed(486);
    assert!(!c.ivr.transferring());
    c.run(1000);
    assert!(c.said_since(mark, FAILED), "'the transfer failed'");
    assert!(c.said_since(mark, MAIN), "the menu again");
    c.keys("2");
    c.run(200);
    assert_eq!(c.ivr.menu(), "sales");
    assert_eq!(c.actions.len(), 1);
}

#[test]
fn a_phone_without_refer_hears_that_it_cannot_be_transferred() {
    let mut c = Caller::new(false);
    c.run(100);
    let mark = c.mark();
    c.keys("1");
    c.run(1500);
    assert!(c.said_since(mark, NO_TRANSFER));
    assert!(c.said_since(mark, MAIN), "the menu again");
    assert!(c.actions.is_empty());
    assert!(!c.ivr.transferring());
    // The menu still works.
    c.keys("2");
    c.run(200);
    assert_eq!(c.ivr.menu(), "sales");
}

#[test]
fn actions_keys_and_menus_are_checked() {
    assert_eq!("user:alice".parse(), Ok(Action::User("alice".into())));
    assert_eq!(
        " number:+46812345678 ".parse(),
        Ok(Action::Number("+46812345678".into()))
    );
    assert_eq!("menu:sales".parse(), Ok(Action::Menu("sales".into())));
    assert_eq!("voicemail:bob".parse(), Ok(Action::Voicemail("bob".into())));
    assert_eq!(
        "conference:team".parse(),
        Ok(Action::Conference("team".into()))
    );
    assert_eq!("repeat".parse(), Ok(Action::Repeat));
    assert_eq!("hangup".parse(), Ok(Action::Hangup));
    for action in [
        "user:alice",
        "number:+4681",
        "menu:m",
        "voicemail:b",
        "conference:r",
        "repeat",
        "hangup",
    ] {
        assert_eq!(action.parse::<Action>().unwrap().to_string(), action);
    }
    for (bad, says) in [
        ("dial:bob", "is not an action"),
        ("user:", "is not a user name"),
        ("user:a@b", "is not a user name"),
        ("number:12a", "is not a number"),
        ("menu:a b", "is not a menu name"),
        ("goodbye", "is not an action"),
    ] {
        let e = bad.parse::<Action>().unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
    assert_eq!(parse_key_ok("#"), '#');
    assert_eq!(parse_key_ok("*"), '*');
    assert_eq!(parse_key_ok("7"), '7');
    for bad in ["", "12", "a", "A"] {
        let e = menus::parse_key("main", bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("ivr \"main\": key {bad:?} is not a key: use one of 0-9, * and #")
        );
    }

    let good = || menu("main", "main", 3, &[('1', "menu:sales")]);
    let sales = || menu("sales", "sales", 3, &[('*', "menu:main")]);
    let err = |menus: Vec<Menu>, targets: Targets| Menus::new(menus, targets).unwrap_err();
    assert_eq!(
        err(vec![good()], targets()).to_string(),
        "ivr \"main\": key '1': no menu named \"sales\""
    );
    assert_eq!(
        err(vec![good(), sales(), sales()], targets()).to_string(),
        "ivr \"sales\": a menu of that name is already defined"
    );
    let mut slow = sales();
    slow.timeout = Duration::ZERO;
    assert_eq!(
        err(vec![good(), slow], targets()).to_string(),
        "ivr \"sales\": timeout must be 1 to 60 seconds"
    );
    let mut tries = sales();
    tries.tries = 0;
    assert_eq!(
        err(vec![good(), tries], targets()).to_string(),
        "ivr \"sales\": tries must be 1 to 10"
    );
    let no_prefixes = Targets {
        deposit_prefix: String::new(),
        conference_prefix: String::new(),
    };
    let vm = menu("vm", "main", 3, &[('3', "voicemail:bob")]);
    assert!(err(vec![vm], no_prefixes.clone())
        .to_string()
        .contains("voicemail needs [media] deposit_prefix"));
    let room = menu("room", "main", 3, &[('4', "conference:team")]);
    assert!(err(vec![room], no_prefixes)
        .to_string()
        .contains("conference needs [media] conference_prefix"));
    assert!(matches!(
        err(vec![menu("a b", "main", 3, &[])], targets()),
        IvrError::BadName(_)
    ));

    let menus = Menus::new(vec![good(), sales()], targets()).unwrap();
    assert!(menus.check_prompts(&prompts()).is_ok());
    assert_eq!(
        menus
            .check_prompts(&Prompts::built_in().unwrap())
            .unwrap_err()
            .to_string(),
        "ivr \"main\": prompt \"main\" is neither a built-in prompt nor a WAV file of the prompts directory ([media] prompts)"
    );
}

fn parse_key_ok(key: &str) -> char {
    menus::parse_key("main", key).unwrap()
}
