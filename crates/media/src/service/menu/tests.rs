//! The voicemail menu on a simulated clock: keys typed between 20 ms ticks, what it says
//! measured, what it asks of the store collected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use rtp::audio::goertzel::tone_amplitude;
use rtp::audio::tone::Tone;

use super::*;
use crate::prompt::Prompt;

const SILENCE: PcmFrame = [0; FRAME_SAMPLES];

fn bob() -> Mailbox {
    Mailbox {
        user: "bob".into(),
        domain: "example.com".into(),
    }
}

fn tone(hz: f64, seconds: usize) -> Vec<i16> {
    let mut samples = vec![0i16; 8000 * seconds];
    Tone::new(hz, 8000.0, 8000).fill(&mut samples);
    samples
}

fn message(id: i64, caller: &str, new: bool, hz: f64) -> StoredMessage {
    StoredMessage {
        received: None,
        id,
        caller: caller.into(),
        new,
        audio: Prompt::from_samples(&format!("m{id}"), tone(hz, 2)),
    }
}

struct Caller {
    menu: Menu,
    start: Instant,
    now: Instant,
    /// What the menu said.
    said: Vec<i16>,
    actions: Vec<MenuAction>,
    ended: bool,
}

impl Caller {
    fn new(menu: Menu) -> Caller {
        let now = Instant::now();
        Caller {
            menu,
            start: now,
            now,
            said: Vec::new(),
            actions: Vec::new(),
            ended: false,
        }
    }

    fn owner() -> Caller {
        let menu = Menu::owner(
            Prompts::built_in().unwrap(),
            Codec::Pcmu,
            RecorderConfig::default(),
            "sip:bob@example.com".into(),
            bob(),
        )
        .unwrap();
        Caller::new(menu)
    }

    fn login() -> Caller {
        let menu = Menu::login(
            Prompts::built_in().unwrap(),
            Codec::Pcmu,
            RecorderConfig::default(),
            "sip:alice@example.com".into(),
            "example.com".into(),
        )
        .unwrap();
        Caller::new(menu)
    }

    /// One tick in which the caller says `heard`.
    fn step(&mut self, heard: &PcmFrame) {
        assert!(!self.ended, "the menu already ended the call");
        self.now += Duration::from_millis(20);
        let mut said = [0i16; FRAME_SAMPLES];
        if !self.menu.tick(self.now, heard, &mut said) {
            self.ended = true;
        }
        self.said.extend_from_slice(&said);
        while let Some(a) = self.menu.poll_action() {
            self.actions.push(a);
        }
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            if self.ended {
                return;
            }
            self.step(&SILENCE);
        }
    }

    /// Ticks until `done` (or the call ends, or `max_ms`); whether `done` came.
    fn run_until(&mut self, max_ms: u64, done: impl Fn(&Caller) -> bool) -> bool {
        for _ in 0..max_ms / 20 {
            if done(self) {
                return true;
            }
            if self.ended {
                return false;
            }
            self.step(&SILENCE);
        }
        done(self)
    }

    /// Types `keys`, 100 ms apart.
    fn keys(&mut self, keys: &str) {
        for k in keys.chars() {
            self.menu.digit(self.now, k);
            self.run(100);
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn take_actions(&mut self) -> Vec<MenuAction> {
        std::mem::take(&mut self.actions)
    }
}

#[test]
fn the_owner_needs_no_pin_hears_the_count_and_a_message_heard_to_its_end_is_no_longer_new() {
    let mut c = Caller::owner();
    c.step(&SILENCE);
    assert_eq!(c.take_actions(), [MenuAction::ListMessages(bob())]);
    // Silence while the store answers.
    c.run(400);
    assert!(c.said.iter().all(|s| *s == 0));
    c.menu.messages(vec![
        message(1, "sip:+4930123@example.com", true, 700.0),
        message(2, "sip:carol@example.com", false, 900.0),
    ]);
    let before = c.said.len();
    assert!(c.run_until(20_000, |c| !c.actions.is_empty()));
    assert_eq!(c.take_actions(), [MenuAction::Heard(bob(), vec![1])]);
    // "You have one new message. Message one from 4 9 3 0 1 2 3", the beep, the message.
    let heard = &c.said[before..];
    let said_seconds = heard.len() as f64 / 8000.0;
    assert!(
        said_seconds > 6.0,
        "{said_seconds} s before the end of the message"
    );
    assert!(tone_amplitude(&heard[heard.len() - 8000..], 700.0, 8000) > 5000.0);
    // 6: the next (saved) message; no "heard" for it, it was not new.
    c.run(1000);
    c.keys("6");
    let before = c.said.len();
    c.run(6000);
    assert!(tone_amplitude(&c.said[before..], 900.0, 8000) > 1000.0);
    // 6 past the last: "no more messages"; 4: back to the first; 1 replays it.
    c.keys("6");
    c.run(1000);
    c.keys("4");
    let before = c.said.len();
    c.run(8000);
    assert!(tone_amplitude(&c.said[before..], 700.0, 8000) > 1000.0);
    assert!(tone_amplitude(&c.said[before..], 900.0, 8000) < 300.0);
    assert!(c.take_actions().is_empty(), "nothing new to report");
    // #: goodbye and the end.
    c.keys("#");
    assert!(c.run_until(5000, |c| c.ended));
}

#[test]
fn keys_save_and_delete_the_message_being_played_and_the_next_one_follows() {
    let mut c = Caller::owner();
    c.step(&SILENCE);
    c.take_actions();
    c.menu.messages(vec![
        message(1, "sip:alice@example.com", true, 700.0),
        message(2, "sip:alice@example.com", true, 900.0),
        message(3, "sip:alice@example.com", false, 500.0),
    ]);
    // A key during the count stops it (barge-in): 2 saves message 1 before it was heard.
    c.run(500);
    c.keys("2");
    assert_eq!(c.take_actions(), [MenuAction::Heard(bob(), vec![1])]);
    // 6: message 2; 3 while it plays deletes it, and message 3 follows.
    c.keys("6");
    c.run(2500);
    c.keys("3");
    assert_eq!(c.take_actions(), [MenuAction::Delete(bob(), 2)]);
    let before = c.said.len();
    c.run(7000);
    assert!(tone_amplitude(&c.said[before..], 500.0, 8000) > 1000.0);
    assert!(tone_amplitude(&c.said[before..], 900.0, 8000) < 300.0);
    // Delete the last one: "no more messages", and message 1 (saved) is the one left: 1
    // plays it.
    c.keys("3");
    assert_eq!(c.take_actions(), [MenuAction::Delete(bob(), 3)]);
    c.run(3000);
    c.keys("1");
    let before = c.said.len();
    c.run(7000);
    assert!(tone_amplitude(&c.said[before..], 700.0, 8000) > 1000.0);
    // *: from the top: "no new messages" (message 1 was saved), message 1 again.
    c.keys("*");
    let before = c.said.len();
    c.run(9000);
    assert!(tone_amplitude(&c.said[before..], 700.0, 8000) > 1000.0);
    assert!(c.take_actions().is_empty());
    // An invalid key: no action, the menu stays.
    c.keys("9");
    c.run(2000);
    assert!(c.take_actions().is_empty());
    assert!(!c.ended);
}

#[test]
fn no_key_repeats_the_menu_and_three_silent_menus_end_the_call() {
    let mut c = Caller::owner();
    c.step(&SILENCE);
    c.take_actions();
    c.menu.messages(Vec::new());
    assert!(c.run_until(120_000, |c| c.ended));
    // "No new messages" (about 2 s), then three times the menu (9 s) and its 5 s timeout,
    // then goodbye.
    let t = c.elapsed();
    assert!(
        (Duration::from_secs(40)..Duration::from_secs(55)).contains(&t),
        "{t:?}"
    );
    assert!(c.actions.is_empty());
}

#[test]
fn from_another_phone_the_mailbox_number_and_pin_go_out_and_the_answer_opens_it() {
    let mut c = Caller::login();
    c.run(1000);
    // Typed during the prompts: each stops its prompt.
    c.keys("2002#");
    c.run(500);
    c.keys("1234#");
    assert_eq!(
        c.take_actions(),
        [MenuAction::CheckPin {
            domain: "example.com".into(),
            number: "2002".into(),
            pin: "1234".into(),
        }]
    );
    c.menu.logged_in(Some(bob()));
    c.step(&SILENCE);
    assert_eq!(c.take_actions(), [MenuAction::ListMessages(bob())]);
    assert_eq!(c.menu.mailbox(), Some(&bob()));
    c.menu
        .messages(vec![message(5, "sip:alice@example.com", true, 700.0)]);
    assert!(c.run_until(20_000, |c| !c.actions.is_empty()));
    assert_eq!(c.take_actions(), [MenuAction::Heard(bob(), vec![5])]);
}

#[test]
fn a_wrong_pin_three_times_ends_the_call_and_an_answer_out_of_turn_is_ignored() {
    let mut c = Caller::login();
    // An answer nobody asked for changes nothing.
    c.menu.logged_in(Some(bob()));
    assert_eq!(c.menu.mailbox(), None);
    c.run(500);
    for attempt in 1..=3 {
        c.keys("2002#");
        c.keys("0000#");
        let actions = c.take_actions();
        assert!(
            matches!(&actions[..], [MenuAction::CheckPin { pin, .. }] if pin == "0000"),
            "attempt {attempt}: {actions:?}"
        );
        // Wrong PIN and unknown mailbox are the same answer.
        c.menu.logged_in(None);
        if attempt < 3 {
            c.run(1500);
            assert!(!c.ended);
        }
    }
    // "That PIN is not correct", goodbye, the end.
    assert!(c.run_until(6000, |c| c.ended));
    assert!(c.take_actions().is_empty());
    assert_eq!(c.menu.mailbox(), None);
}

#[test]
fn the_login_prompt_is_repeated_when_no_key_comes_then_the_call_ends() {
    let mut c = Caller::login();
    assert!(c.run_until(120_000, |c| c.ended));
    // Three times "enter your mailbox number" (about 3.5 s) and its 10 s timeout.
    let t = c.elapsed();
    assert!(
        (Duration::from_secs(35)..Duration::from_secs(50)).contains(&t),
        "{t:?}"
    );
    assert!(c.actions.is_empty());
}

#[test]
fn options_record_a_greeting_until_pound() {
    let mut c = Caller::owner();
    c.step(&SILENCE);
    c.take_actions();
    c.menu.messages(Vec::new());
    c.run(500);
    c.keys("0");
    c.run(300);
    c.keys("1");
    // "Record your greeting after the tone", the beep; then the caller speaks 700 Hz.
    assert!(c.run_until(10_000, |c| c.menu.recorder.is_some()));
    assert!(c.elapsed() > Duration::from_secs(3), "{:?}", c.elapsed());
    let mut voice = Tone::new(700.0, 8000.0, 8000);
    for _ in 0..100 {
        let mut frame = [0i16; FRAME_SAMPLES];
        voice.fill(&mut frame);
        c.step(&frame);
    }
    c.keys("#");
    let actions = c.take_actions();
    let [MenuAction::Greeting(mailbox, wav)] = &actions[..] else {
        panic!("{actions:?}");
    };
    assert_eq!(mailbox, &bob());
    let greeting = rtp::audio::wav::parse(wav).unwrap();
    assert_eq!(greeting.sample_rate, 8000);
    let seconds = greeting.samples.len() as f64 / 8000.0;
    assert!((1.5..3.0).contains(&seconds), "{seconds} s");
    assert!(tone_amplitude(&greeting.samples, 700.0, 8000) > 5000.0);
    // Back in the options: * returns to the menu, # ends.
    c.run(500);
    c.keys("*");
    c.run(500);
    c.keys("#");
    assert!(c.run_until(5000, |c| c.ended));
}

#[test]
fn options_change_the_pin_when_typed_twice_alike() {
    let mut c = Caller::owner();
    c.step(&SILENCE);
    c.take_actions();
    c.menu.messages(Vec::new());
    c.run(500);
    c.keys("02");
    c.keys("4321#");
    c.keys("4321#");
    assert_eq!(c.take_actions(), [MenuAction::SetPin(bob(), "4321".into())]);
    // Twice but different: nothing; too short: asked again.
    c.keys("2");
    c.keys("5555#");
    c.keys("5556#");
    assert!(c.take_actions().is_empty());
    c.keys("2");
    c.keys("12#");
    c.keys("98765#");
    c.keys("98765#");
    assert_eq!(
        c.take_actions(),
        [MenuAction::SetPin(bob(), "98765".into())]
    );
    assert!(!c.ended);
}

#[test]
fn a_numeric_caller_is_announced() {
    assert_eq!(caller_number("sip:+4930123@example.com"), Some("4930123"));
    assert_eq!(
        caller_number("sip:2002@example.com;user=phone"),
        Some("2002")
    );
    assert_eq!(caller_number("tel:+15551234"), Some("15551234"));
    assert_eq!(caller_number("sip:alice@example.com"), None);
    assert_eq!(caller_number("sip:@example.com"), None);
    assert_eq!(caller_number("mailto:x@y"), None);
}

#[test]
fn a_message_of_the_last_week_says_when_it_was_left() {
    use crate::service::MessageTime;
    // 2026-12-05 08:20 UTC, a Saturday; seen at 01:00 in UTC+1 it is 09:20 local.
    let saturday = 1_796_458_800_000;
    let at = MessageTime::at(saturday, saturday + 3_600_000, 3600);
    assert_eq!(
        at,
        MessageTime {
            days_ago: 0,
            weekday: 6,
            hour: 9,
            minute: 20
        }
    );
    // 2026-12-04 23:30 UTC is Saturday 00:30 in UTC+1, Friday in UTC.
    let friday_night = 1_796_427_000_000;
    assert_eq!(MessageTime::at(friday_night, saturday, 0).weekday, 5);
    assert_eq!(MessageTime::at(friday_night, saturday, 0).days_ago, 1);
    assert_eq!(MessageTime::at(friday_night, saturday, 3600).days_ago, 0);
    assert_eq!(
        MessageTime::at(0, 0, 0).weekday,
        4,
        "1970-01-01 was a Thursday"
    );

    let caller = Caller::owner();
    let set = Prompts::built_in().unwrap();
    let length =
        |names: &[&str]| -> Duration { names.iter().map(|n| set.get(n).unwrap().duration()).sum() };
    let said = |time| -> Duration {
        caller
            .menu
            .received(time)
            .iter()
            .map(|p| p.duration())
            .sum()
    };
    let today = MessageTime {
        days_ago: 0,
        weekday: 6,
        hour: 14,
        minute: 5,
    };
    assert_eq!(
        said(today),
        length(&[
            "vm-received",
            "vm-today",
            "vm-at",
            "number-14",
            "number-oh",
            "digit-5"
        ])
    );
    let yesterday = MessageTime {
        days_ago: 1,
        ..today
    };
    assert_eq!(
        said(yesterday),
        length(&[
            "vm-received",
            "vm-yesterday",
            "vm-at",
            "number-14",
            "number-oh",
            "digit-5"
        ])
    );
    let tuesday = MessageTime {
        days_ago: 4,
        weekday: 2,
        hour: 9,
        minute: 30,
    };
    assert_eq!(
        said(tuesday),
        length(&["vm-received", "day-2", "vm-at", "digit-9", "number-30"])
    );
    let long_ago = MessageTime {
        days_ago: 9,
        ..today
    };
    assert_eq!(
        said(long_ago),
        Duration::ZERO,
        "older than a week: not said"
    );
}
