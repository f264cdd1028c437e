//! The voicemail menu by phone, sans-IO: the owner listens to, saves and deletes messages,
//! records a personal greeting and changes the PIN, with DTMF keys (RFC 4733 or SIP INFO,
//! through a [`DtmfCollector`]) on the call's 20 ms tick. The time is passed in; what needs
//! the store leaves as [`MenuAction`]s (the core turns them into
//! [`super::ServiceEvent`]s) and the answers come back through [`Menu::messages`] and
//! [`Menu::login`].
//!
//! Two ways in:
//!
//! - [`Menu::owner`]: the owner's own phone (`sip:voicemail@D;mailbox=USER;retrieve`, the
//!   proxy authenticated the caller): no PIN; the messages are asked at once.
//! - [`Menu::login`]: any phone (`sip:voicemail@D;login`): "please enter your mailbox
//!   number", "please enter your PIN", each followed by `#`; the pair goes out
//!   ([`MenuAction::CheckPin`]) and the answer is the mailbox or nothing — a wrong PIN, an
//!   unknown mailbox and a mailbox without a PIN get the same "that PIN is not correct".
//!   After [`MAX_LOGIN_FAILURES`] the caller hears goodbye and the call ends; each failure is
//!   logged with the caller (`voicemail login failed`, for fail2ban-style tools).
//!
//! Then "you have N new messages" and the messages, new ones first (oldest first), then the
//! saved ones. Each message: "message N" (and "from" the caller's number when the caller's
//! user part is a number, and "received today at fourteen oh five" — today, yesterday or
//! the weekday, for the last week's messages), a beep, the message, the menu. A message heard to its end is no
//! longer new ([`MenuAction::Heard`]). Keys, at any time (a key stops the prompt playing,
//! barge-in; keys typed ahead are kept):
//!
//! | key | what |
//! |---|---|
//! | `1` | the message again |
//! | `2` | save it ([`MenuAction::Heard`]), "message saved" |
//! | `3` | delete it ([`MenuAction::Delete`]), "message deleted", the next one |
//! | `4` / `6` | the previous / next message ("no more messages" past either end) |
//! | `0` | options: `1` record a greeting after the beep until `#` ([`MenuAction::Greeting`]), `2` a new PIN typed twice ([`MenuAction::SetPin`]), `*` back |
//! | `*` | start again: the count and the first message |
//! | `#` | goodbye, and the call ends |
//! | other | "that is not a valid option", the menu again |
//!
//! No key within the collector's timeout repeats the prompt; [`MAX_IDLE`] silent prompts in
//! a row end the call with goodbye.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtp::codec::{Codec, FRAME_SAMPLES};

use super::{Mailbox, StoredMessage};
use crate::dtmf::{Collected, CollectorConfig, DtmfCollector};
use crate::error::Error;
use crate::player::{Segment, Sequence};
use crate::prompts::{names, Prompts};
use crate::recorder::{Recorder, RecorderConfig, Recording};
use crate::tone::ToneSpec;
use crate::PcmFrame;

/// Wrong PINs (or unknown mailboxes) before the call ends.
pub(crate) const MAX_LOGIN_FAILURES: u32 = 3;
/// Prompts in a row without a key before the call ends.
pub(crate) const MAX_IDLE: u32 = 3;
/// The most digits of a mailbox number.
const MAILBOX_DIGITS: usize = 20;
/// The fewest and most digits of a PIN (the store's `vm-pin` preference).
pub(crate) const PIN_DIGITS: (usize, usize) = (4, 10);

/// What the menu needs done outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MenuAction {
    /// The messages of the mailbox are wanted ([`Menu::messages`]).
    ListMessages(Mailbox),
    /// Does this PIN open mailbox number `number` of `domain`? ([`Menu::login`]).
    CheckPin {
        /// The domain of the call.
        domain: String,
        /// The mailbox number typed.
        number: String,
        /// The PIN typed.
        pin: String,
    },
    /// These messages were heard to their end or saved: no longer new.
    Heard(Mailbox, Vec<i64>),
    /// Delete this message (row and file).
    Delete(Mailbox, i64),
    /// A new personal greeting (a WAV file, 8 kHz mono 16-bit).
    Greeting(Mailbox, Vec<u8>),
    /// A new PIN.
    SetPin(Mailbox, String),
}

/// Where the menu is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Typing the mailbox number.
    Number,
    /// Typing the PIN for this mailbox number.
    Pin(String),
    /// The PIN is being checked.
    Checking,
    /// The messages are being read.
    Loading,
    /// A message and its menu (or the empty mailbox's).
    Listening,
    /// The options menu.
    Options,
    /// The greeting prompt and beep, then recording (`Menu::recorder`).
    Greeting,
    /// Typing a new PIN.
    NewPin,
    /// Typing the new PIN again.
    NewPinAgain(String),
    /// Goodbye, then the end.
    Leaving,
}

/// A message of the mailbox as the menu keeps it.
#[derive(Debug, Clone)]
struct Message {
    stored: StoredMessage,
    /// Still new (not heard to its end, not saved).
    new: bool,
}

/// One caller's voicemail menu. See the module documentation.
#[derive(Debug)]
pub(crate) struct Menu {
    prompts: Prompts,
    codec: Codec,
    recorder_config: RecorderConfig,
    /// The caller (the From URI), for the log.
    caller: String,
    domain: String,
    /// The mailbox, once known.
    mailbox: Option<Mailbox>,
    step: Step,
    /// What is being said.
    playing: Sequence,
    /// The message being played and the sample of `playing` at which it is heard to its end.
    heard_at: Option<(usize, u64)>,
    keys: DtmfCollector,
    /// The collector was started for the current prompt.
    armed: bool,
    messages: Vec<Message>,
    current: usize,
    failures: u32,
    idle: u32,
    recorder: Option<Recorder>,
    actions: VecDeque<MenuAction>,
}

impl Menu {
    fn new(
        prompts: Prompts,
        codec: Codec,
        recorder_config: RecorderConfig,
        caller: String,
        domain: String,
        step: Step,
    ) -> Result<Menu, Error> {
        Ok(Menu {
            prompts,
            codec,
            recorder_config,
            caller,
            domain,
            mailbox: None,
            step,
            playing: Sequence::new(),
            heard_at: None,
            keys: DtmfCollector::new(CollectorConfig::menu())?,
            armed: false,
            messages: Vec::new(),
            current: 0,
            failures: 0,
            idle: 0,
            recorder: None,
            actions: VecDeque::new(),
        })
    }

    /// The owner's own phone: no PIN, the messages of `mailbox` are asked at once.
    pub(crate) fn owner(
        prompts: Prompts,
        codec: Codec,
        recorder_config: RecorderConfig,
        caller: String,
        mailbox: Mailbox,
    ) -> Result<Menu, Error> {
        let mut menu = Menu::new(
            prompts,
            codec,
            recorder_config,
            caller,
            mailbox.domain.clone(),
            Step::Loading,
        )?;
        menu.actions
            .push_back(MenuAction::ListMessages(mailbox.clone()));
        menu.mailbox = Some(mailbox);
        Ok(menu)
    }

    /// Any phone of `domain`: the mailbox number and the PIN are asked first.
    pub(crate) fn login(
        prompts: Prompts,
        codec: Codec,
        recorder_config: RecorderConfig,
        caller: String,
        domain: String,
    ) -> Result<Menu, Error> {
        let mut menu = Menu::new(
            prompts,
            codec,
            recorder_config,
            caller,
            domain,
            Step::Number,
        )?;
        menu.ask_number();
        Ok(menu)
    }

    /// The mailbox, once known (the owner's, or the one the PIN opened).
    pub(crate) fn mailbox(&self) -> Option<&Mailbox> {
        self.mailbox.as_ref()
    }

    /// The next thing to do outside.
    pub(crate) fn poll_action(&mut self) -> Option<MenuAction> {
        self.actions.pop_front()
    }

    /// The answer to [`MenuAction::CheckPin`]: the mailbox the PIN opened, or `None` (a
    /// wrong PIN, no such mailbox, or no PIN set: the caller is not told which).
    pub(crate) fn logged_in(&mut self, mailbox: Option<Mailbox>) {
        if self.step != Step::Checking {
            return;
        }
        match mailbox {
            Some(mailbox) => {
                tracing::info!(caller = %self.caller, %mailbox, "voicemail login");
                self.step = Step::Loading;
                self.actions
                    .push_back(MenuAction::ListMessages(mailbox.clone()));
                self.mailbox = Some(mailbox);
            }
            None => {
                self.failures += 1;
                tracing::warn!(
                    caller = %self.caller,
                    domain = %self.domain,
                    failures = self.failures,
                    "voicemail login failed: wrong PIN or no such mailbox"
                );
                self.say(names::WRONG_PIN);
                if self.failures >= MAX_LOGIN_FAILURES {
                    tracing::warn!(caller = %self.caller, domain = %self.domain, "voicemail login refused: too many failures, call ended");
                    self.leave();
                } else {
                    self.ask_number();
                }
            }
        }
    }

    /// The answer to [`MenuAction::ListMessages`]: the mailbox's messages, new ones first.
    pub(crate) fn messages(&mut self, messages: Vec<StoredMessage>) {
        if self.step != Step::Loading {
            return;
        }
        self.messages = messages
            .into_iter()
            .map(|stored| Message {
                new: stored.new,
                stored,
            })
            .collect();
        self.step = Step::Listening;
        self.top();
    }

    /// A key (RFC 4733 or SIP INFO): to the greeting's recorder while it records, else to
    /// the collector.
    pub(crate) fn digit(&mut self, now: Instant, digit: char) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.digit(digit);
            return;
        }
        self.keys.digit(now, digit);
    }

    /// The caller hung up: a greeting being recorded is dropped (only `#` keeps it).
    pub(crate) fn hang_up(&mut self) {
        self.recorder = None;
    }

    /// One 20 ms tick: what the caller said (for the greeting), what we say.
    pub(crate) fn tick(&mut self, now: Instant, heard: &PcmFrame, said: &mut PcmFrame) -> bool {
        if let Some(recorder) = self.recorder.as_mut() {
            if recorder.stopped().is_some() || recorder.push_pcm(heard).is_some() {
                self.greeting_recorded();
            }
            return true;
        }
        if self.keys.has_input() && !self.playing.is_done() && self.step != Step::Leaving {
            // Barge-in: a key stops the prompt.
            self.playing.stop();
            self.heard_at = None;
        }
        if self.playing.next_pcm(said) {
            self.check_heard();
            return true;
        }
        self.check_heard();
        match self.step {
            Step::Leaving => return false,
            Step::Checking | Step::Loading => return true,
            Step::Greeting => {
                match Recorder::new(self.codec, self.recorder_config.clone()) {
                    Ok(r) => {
                        // A key that stopped the prompt is not a menu choice.
                        self.keys.reset();
                        self.recorder = Some(r);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "greeting recorder settings refused");
                        self.options();
                    }
                }
                return true;
            }
            _ => {}
        }
        if !self.armed {
            self.keys.start(now);
            self.armed = true;
        }
        if let Some(answer) = self.keys.poll(now) {
            self.armed = false;
            self.answer(answer);
        }
        true
    }

    // ----- what is said -----

    fn say(&mut self, name: &str) {
        if let Some(p) = self.prompts.get(name) {
            self.playing.push(p.clone());
        }
    }

    /// A new question: the collector answers per `config` from now on.
    fn expect(&mut self, config: CollectorConfig) {
        if let Err(e) = self.keys.set_config(config) {
            tracing::debug!(error = %e, "collector settings refused");
        }
        self.armed = false;
    }

    fn ask_number(&mut self) {
        self.step = Step::Number;
        self.say(names::VM_ENTER_MAILBOX);
        self.expect(CollectorConfig::number(MAILBOX_DIGITS));
    }

    fn ask_pin(&mut self, number: String) {
        self.step = Step::Pin(number);
        self.say(names::ENTER_PIN);
        self.expect(CollectorConfig::number(PIN_DIGITS.1));
    }

    fn leave(&mut self) {
        self.step = Step::Leaving;
        self.playing
            .push(Segment::Silence(Duration::from_millis(300)));
        self.say(names::GOODBYE);
    }

    /// "You have N new messages", then the first message (or the menu of an empty box).
    fn top(&mut self) {
        let new = self.messages.iter().filter(|m| m.new).count();
        if new == 0 {
            self.say(names::VM_NO_NEW_MESSAGES);
        } else {
            self.say(names::VM_YOU_HAVE);
            let digits = self.prompts.digits(&new.to_string());
            self.playing.extend(digits);
            self.say(if new == 1 {
                names::VM_NEW_MESSAGE
            } else {
                names::VM_NEW_MESSAGES
            });
        }
        self.current = 0;
        if self.messages.is_empty() {
            self.menu();
        } else {
            self.play(0);
        }
    }

    /// Message `index`: "message N" (from ...), the beep, the message, the menu.
    fn play(&mut self, index: usize) {
        let Some(message) = self.messages.get(index) else {
            self.menu();
            return;
        };
        self.current = index;
        let audio = message.stored.audio.clone();
        let from = caller_number(&message.stored.caller).map(str::to_owned);
        let mut segments: Vec<Segment> = Vec::new();
        segments.push(Segment::Silence(Duration::from_millis(300)));
        segments.extend(self.prompts.get(names::VM_MESSAGE).cloned().map(Into::into));
        segments.extend(
            self.prompts
                .digits(&(index + 1).to_string())
                .into_iter()
                .map(Into::into),
        );
        if let Some(number) = from {
            segments.extend(self.prompts.get(names::VM_FROM).cloned().map(Into::into));
            segments.extend(self.prompts.digits(&number).into_iter().map(Into::into));
        }
        if let Some(time) = message.stored.received {
            segments.extend(self.received(time).into_iter().map(Into::into));
        }
        segments.push(Segment::Tone(ToneSpec::BEEP));
        segments.push(Segment::Prompt(audio));
        // Where the message ends, counted from what has been played.
        let played = self.playing.frames_played() * FRAME_SAMPLES as u64;
        let queued = samples(self.playing.remaining());
        let ends = played + queued + segments.iter().map(|s| samples(duration(s))).sum::<u64>();
        self.playing.extend(segments);
        self.heard_at = Some((index, ends));
        self.playing
            .push(Segment::Silence(Duration::from_millis(500)));
        self.menu();
    }

    /// "received today at fourteen oh five": the day (today, yesterday or the weekday)
    /// and the time of day; nothing for a message older than a week (its weekday would
    /// mislead).
    fn received(&self, time: super::MessageTime) -> Vec<crate::Prompt> {
        let day = match time.days_ago {
            0 => names::VM_TODAY,
            1 => names::VM_YESTERDAY,
            2..=6 => match names::weekday(time.weekday) {
                Some(day) => day,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let mut said: Vec<crate::Prompt> = [names::VM_RECEIVED, day, names::VM_AT]
            .into_iter()
            .filter_map(|n| self.prompts.get(n).cloned())
            .collect();
        said.extend(self.prompts.time_of_day(time.hour, time.minute));
        said
    }

    /// The message menu.
    fn menu(&mut self) {
        self.step = Step::Listening;
        self.say(names::VM_MENU);
        self.expect(CollectorConfig::menu());
    }

    fn options(&mut self) {
        self.step = Step::Options;
        self.say(names::VM_OPTIONS);
        self.expect(CollectorConfig::menu());
    }

    /// Reports the message being played once it has been heard to its end.
    fn check_heard(&mut self) {
        let Some((index, ends)) = self.heard_at else {
            return;
        };
        if self.playing.frames_played() * (FRAME_SAMPLES as u64) < ends {
            return;
        }
        self.heard_at = None;
        self.mark_heard(index);
    }

    /// Message `index` is no longer new.
    fn mark_heard(&mut self, index: usize) {
        let Some(mailbox) = self.mailbox.clone() else {
            return;
        };
        if let Some(m) = self.messages.get_mut(index) {
            if m.new {
                m.new = false;
                self.actions
                    .push_back(MenuAction::Heard(mailbox, vec![m.stored.id]));
            }
        }
    }

    // ----- what the caller typed -----

    fn answer(&mut self, answer: Collected) {
        let digits = match answer {
            Collected::Digits { digits, .. } if !digits.is_empty() => digits,
            // No key (or `#` alone where a number is wanted): ask again, a few times.
            _ => {
                self.idle += 1;
                if self.idle >= MAX_IDLE {
                    tracing::info!(caller = %self.caller, "voicemail menu: no key pressed, call ended");
                    self.leave();
                } else {
                    self.repeat();
                }
                return;
            }
        };
        self.idle = 0;
        match std::mem::replace(&mut self.step, Step::Checking) {
            Step::Number => self.ask_pin(digits),
            Step::Pin(number) => {
                self.step = Step::Checking;
                self.actions.push_back(MenuAction::CheckPin {
                    domain: self.domain.clone(),
                    number,
                    pin: digits,
                });
            }
            Step::Listening => {
                self.step = Step::Listening;
                self.menu_key(&digits);
            }
            Step::Options => {
                self.step = Step::Options;
                self.options_key(&digits);
            }
            Step::NewPin => {
                let (min, max) = PIN_DIGITS;
                if (min..=max).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    self.step = Step::NewPinAgain(digits);
                    self.say(names::VM_NEW_PIN_AGAIN);
                    self.expect(CollectorConfig::number(PIN_DIGITS.1));
                } else {
                    self.say(names::INVALID_OPTION);
                    self.new_pin();
                }
            }
            Step::NewPinAgain(first) => {
                if first == digits {
                    if let Some(mailbox) = self.mailbox.clone() {
                        tracing::info!(%mailbox, caller = %self.caller, "voicemail PIN changed by phone");
                        self.actions.push_back(MenuAction::SetPin(mailbox, digits));
                    }
                    self.say(names::VM_PIN_CHANGED);
                } else {
                    self.say(names::VM_PIN_MISMATCH);
                }
                self.options();
            }
            step @ (Step::Checking | Step::Loading | Step::Greeting | Step::Leaving) => {
                self.step = step;
            }
        }
    }

    /// The question of the current step again (no key came).
    fn repeat(&mut self) {
        match self.step.clone() {
            Step::Number => self.ask_number(),
            Step::Pin(number) => self.ask_pin(number),
            Step::Listening => self.menu(),
            Step::Options => self.options(),
            Step::NewPin => self.new_pin(),
            Step::NewPinAgain(first) => {
                self.say(names::VM_NEW_PIN_AGAIN);
                self.expect(CollectorConfig::number(PIN_DIGITS.1));
                self.step = Step::NewPinAgain(first);
            }
            Step::Checking | Step::Loading | Step::Greeting | Step::Leaving => {}
        }
    }

    fn menu_key(&mut self, digits: &str) {
        let key = digits.chars().next().unwrap_or('?');
        let empty = self.messages.is_empty();
        match key {
            '1' if !empty => self.play(self.current),
            '2' if !empty => {
                self.mark_heard(self.current);
                self.say(names::VM_MESSAGE_SAVED);
                self.menu();
            }
            '3' if !empty => {
                if let Some(mailbox) = self.mailbox.clone() {
                    if self.current < self.messages.len() {
                        let gone = self.messages.remove(self.current);
                        tracing::info!(%mailbox, id = gone.stored.id, "voicemail message deleted by phone");
                        self.actions
                            .push_back(MenuAction::Delete(mailbox, gone.stored.id));
                    }
                }
                self.say(names::VM_MESSAGE_DELETED);
                if self.current < self.messages.len() {
                    self.play(self.current);
                } else {
                    self.current = self.messages.len().saturating_sub(1);
                    self.no_more();
                }
            }
            '4' if !empty && self.current > 0 => self.play(self.current - 1),
            '6' if !empty && self.current + 1 < self.messages.len() => self.play(self.current + 1),
            '1' | '2' | '3' | '4' | '6' => self.no_more(),
            '0' => self.options(),
            '*' => self.top(),
            '#' => self.leave(),
            _ => {
                self.say(names::INVALID_OPTION);
                self.menu();
            }
        }
    }

    fn no_more(&mut self) {
        self.say(names::VM_NO_MORE_MESSAGES);
        self.menu();
    }

    fn options_key(&mut self, digits: &str) {
        match digits.chars().next().unwrap_or('?') {
            '1' => {
                self.step = Step::Greeting;
                self.say(names::VM_RECORD_GREETING);
                self.playing.push(ToneSpec::BEEP);
            }
            '2' => self.new_pin(),
            '*' => self.menu(),
            '#' => self.leave(),
            _ => {
                self.say(names::INVALID_OPTION);
                self.options();
            }
        }
    }

    fn new_pin(&mut self) {
        self.step = Step::NewPin;
        self.say(names::VM_NEW_PIN);
        self.expect(CollectorConfig::number(PIN_DIGITS.1));
    }

    /// The greeting's recording stopped (`#`, silence or the maximum): kept when long
    /// enough, then the options again.
    fn greeting_recorded(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        match (recorder.finish(), self.mailbox.clone()) {
            (Recording::Message { wav, duration, .. }, Some(mailbox)) => {
                tracing::info!(%mailbox, ?duration, "voicemail greeting recorded by phone");
                self.actions.push_back(MenuAction::Greeting(mailbox, wav));
                self.say(names::VM_GREETING_SAVED);
            }
            (Recording::TooShort { duration, .. }, _) => {
                tracing::info!(caller = %self.caller, ?duration, "voicemail greeting too short: not kept");
                self.say(names::INVALID_OPTION);
            }
            (Recording::Message { .. }, None) => {}
        }
        self.options();
    }
}

/// The caller's user part when it is a number (`sip:+4930123@x` → `4930123`).
fn caller_number(caller: &str) -> Option<&str> {
    let rest = caller
        .strip_prefix("sip:")
        .or_else(|| caller.strip_prefix("sips:"))
        .or_else(|| caller.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '>']).next()?;
    let user = user.strip_prefix('+').unwrap_or(user);
    (!user.is_empty() && user.len() <= 20 && user.bytes().all(|b| b.is_ascii_digit()))
        .then_some(user)
}

fn samples(d: Duration) -> u64 {
    d.as_micros() as u64 * 8 / 1000
}

fn duration(segment: &Segment) -> Duration {
    match segment {
        Segment::Prompt(p) => p.duration(),
        Segment::Tone(t) => t.duration(),
        Segment::Silence(d) => *d,
    }
}

#[cfg(test)]
mod tests;
