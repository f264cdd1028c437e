//! The IVR / auto-attendant, sans-IO: menus from the configuration ([`Menus`], `[[ivr]]`),
//! one DTMF key per choice (RFC 4733 telephone-event or SIP INFO, through a
//! [`DtmfCollector`]) on the call's 20 ms tick, the time passed in.
//!
//! A call to `sip:ivr@DOMAIN;menu=NAME` (the proxy writes it for the names the menu is
//! bound to) hears the menu's prompt; a key stops the prompt (barge-in) and does what the
//! menu says ([`Action`]):
//!
//! | action | what |
//! |---|---|
//! | `menu:NAME` | the sub-menu's prompt (a key of the sub-menu may lead back: `menu:main`) |
//! | `repeat` | the prompt again |
//! | `hangup` | goodbye, and the call ends (BYE) |
//! | `user:NAME`, `number:N`, `voicemail:NAME`, `conference:ROOM` | "please hold", then a transfer (REFER, RFC 3515, `transfer.rs`) |
//!
//! No key within the menu's `timeout`, or a key the menu does not use ("that is not a
//! valid option"), is a lost round: the prompt again, and goodbye after `tries` rounds.
//!
//! A transfer asks the caller's phone to call the target itself (REFER), so the new call
//! is the caller's own call through the proxy: authenticated, forwarded, sent to
//! voicemail and billed like any other. Meanwhile the caller hears silence; a transfer that
//! fails (the REFER refused, a NOTIFY with a failure sipfrag,
//! no answer in time) says "sorry, the transfer failed" and the menu again. A
//! caller whose INVITE's `Allow` lists methods without REFER cannot be transferred (RFC
//! 3261 §20.5: no `Allow` at all says nothing, and the REFER is tried): "your phone cannot
//! be transferred", and the menu again.
//!
//! ## Layout
//!
//! - `ivr.rs`: `Ivr`, one caller's walk through the menus.
//! - `ivr/menus.rs`: [`Menus`], [`Menu`], [`Action`], [`IvrError`]: the checked
//!   configuration and the transfer targets ([`Menus::refer_target`]).
//! - `ivr/tests.rs`: digit sequences on a simulated clock.

pub mod menus;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dtmf::{Collected, CollectorConfig, DtmfCollector};
use crate::error::Error;
use crate::player::{Segment, Sequence};
use crate::prompts::{names, Prompts};
use crate::PcmFrame;

pub use menus::{Action, IvrError, Menu, Menus, Targets};

/// What the IVR needs done in SIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IvrAction {
    /// Transfer the caller to this URI (REFER with `Refer-To`).
    Refer(String),
}

/// Where the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Choosing in the current menu.
    Choosing,
    /// "Please hold", then the REFER (`sent`), then waiting for its outcome.
    Transferring {
        /// The `Refer-To` URI.
        target: String,
        /// The REFER has been asked for.
        sent: bool,
    },
    /// Goodbye, then the end.
    Leaving,
}

/// One caller's IVR. See the module documentation.
#[derive(Debug)]
pub(crate) struct Ivr {
    menus: Arc<Menus>,
    prompts: Prompts,
    /// The caller (the From URI), for the log.
    caller: String,
    /// The domain called: transfers go to its addresses.
    domain: String,
    /// The current menu's name.
    menu: String,
    step: Step,
    playing: Sequence,
    keys: DtmfCollector,
    /// The collector was started for the current prompt.
    armed: bool,
    /// Lost rounds (no key, a wrong key) in the current menu.
    rounds: u32,
    /// The caller's phone takes REFER.
    can_refer: bool,
    actions: VecDeque<IvrAction>,
}

impl Ivr {
    /// The caller `caller` of `domain` in menu `menu` (which must exist); `can_refer`:
    /// its INVITE allows REFER. The menu's prompt starts.
    pub(crate) fn new(
        menus: Arc<Menus>,
        prompts: Prompts,
        caller: String,
        domain: String,
        menu: &str,
        can_refer: bool,
    ) -> Result<Ivr, Error> {
        let Some(first) = menus.get(menu) else {
            return Err(Error::Setting("ivr: no such menu"));
        };
        let keys = DtmfCollector::new(collector(first.timeout))?;
        let mut ivr = Ivr {
            menu: first.name.clone(),
            menus,
            prompts,
            caller,
            domain,
            step: Step::Choosing,
            playing: Sequence::new(),
            keys,
            armed: false,
            rounds: 0,
            can_refer,
            actions: VecDeque::new(),
        };
        tracing::info!(caller = %ivr.caller, menu = %ivr.menu, "ivr");
        ivr.offer();
        Ok(ivr)
    }

    /// The current menu's name.
    #[cfg(test)]
    pub(crate) fn menu(&self) -> &str {
        &self.menu
    }

    /// The next thing to do in SIP.
    pub(crate) fn poll_action(&mut self) -> Option<IvrAction> {
        self.actions.pop_front()
    }

    /// Whether a transfer is under way (the REFER asked for or sent, no outcome yet).
    pub(crate) fn transferring(&self) -> bool {
        matches!(self.step, Step::Transferring { .. })
    }

    /// A key (RFC 4733 or SIP INFO); ignored during a transfer and the goodbye.
    pub(crate) fn digit(&mut self, now: Instant, digit: char) {
        if self.step == Step::Choosing {
            self.keys.digit(now, digit);
        }
    }

    /// The transfer failed (`code`: the REFER's or the sipfrag's status, 408 for no
    /// outcome in time): "the transfer failed", and the menu again.
    pub(crate) fn transfer_failed(&mut self, code: u16) {
        if !self.transferring() {
            return;
        }
        tracing::info!(caller = %self.caller, menu = %self.menu, code, "ivr transfer failed: back to the menu");
        self.step = Step::Choosing;
        self.playing.stop();
        self.keys.reset();
        self.rounds = 0;
        self.pause();
        self.say(names::IVR_TRANSFER_FAILED);
        self.offer();
    }

    /// One 20 ms tick: what we say; `false` once the call should end.
    pub(crate) fn tick(&mut self, now: Instant, said: &mut PcmFrame) -> bool {
        if self.step == Step::Choosing && self.keys.has_input() && !self.playing.is_done() {
            // Barge-in: a key stops the prompt.
            self.playing.stop();
        }
        if self.playing.next_pcm(said) {
            return true;
        }
        if let Step::Transferring { target, sent } = &mut self.step {
            // "Please hold" is over: the REFER.
            if !*sent {
                *sent = true;
                self.actions.push_back(IvrAction::Refer(target.clone()));
            }
            return true;
        }
        if self.step == Step::Leaving {
            return false;
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

    fn pause(&mut self) {
        self.playing
            .push(Segment::Silence(Duration::from_millis(300)));
    }

    /// The current menu's prompt, then a key is waited for.
    fn offer(&mut self) {
        let Some(menu) = self.menus.get(&self.menu) else {
            self.leave();
            return;
        };
        let (prompt, timeout) = (menu.prompt.clone(), menu.timeout);
        self.say(&prompt);
        if let Err(e) = self.keys.set_config(collector(timeout)) {
            tracing::debug!(error = %e, "collector settings refused");
        }
        self.armed = false;
    }

    fn leave(&mut self) {
        self.step = Step::Leaving;
        self.pause();
        self.say(names::GOODBYE);
    }

    /// A lost round: the prompt again, or goodbye after the menu's `tries`.
    fn lost_round(&mut self) {
        self.rounds += 1;
        let tries = self.menus.get(&self.menu).map_or(1, |m| m.tries);
        if self.rounds >= tries {
            tracing::info!(caller = %self.caller, menu = %self.menu, rounds = self.rounds, "ivr: no valid choice, call ended");
            self.leave();
        } else {
            self.offer();
        }
    }

    // ----- what the caller typed -----

    fn answer(&mut self, answer: Collected) {
        let key = match answer {
            Collected::Digits { digits, .. } => digits.chars().next(),
            Collected::NoInput => None,
        };
        let Some(key) = key else {
            self.lost_round();
            return;
        };
        let action = self
            .menus
            .get(&self.menu)
            .and_then(|m| m.keys.get(&key))
            .cloned();
        let Some(action) = action else {
            tracing::debug!(caller = %self.caller, menu = %self.menu, %key, "ivr: key not in the menu");
            self.say(names::INVALID_OPTION);
            self.lost_round();
            return;
        };
        tracing::info!(caller = %self.caller, menu = %self.menu, %key, %action, "ivr choice");
        match action {
            Action::Menu(name) => {
                self.menu = name;
                self.rounds = 0;
                self.offer();
            }
            Action::Repeat => {
                self.rounds = 0;
                self.offer();
            }
            Action::Hangup => self.leave(),
            transfer => {
                let target = self.menus.refer_target(&transfer, &self.domain);
                match target {
                    Some(target) if self.can_refer => {
                        self.step = Step::Transferring {
                            target,
                            sent: false,
                        };
                        self.say(names::IVR_TRANSFERRING);
                    }
                    _ => {
                        tracing::info!(caller = %self.caller, menu = %self.menu, "ivr: the caller's phone does not take REFER: no transfer");
                        self.say(names::IVR_NO_TRANSFER);
                        self.pause();
                        self.offer();
                    }
                }
            }
        }
    }
}

/// One key, waited for `timeout` after the prompt.
fn collector(timeout: Duration) -> CollectorConfig {
    CollectorConfig {
        first_digit_timeout: Some(timeout),
        ..CollectorConfig::menu()
    }
}

#[cfg(test)]
pub(crate) mod tests;
