//! Conference rooms of the service UA (`sip:conference@DOMAIN;room=NAME`): who is in which
//! room, and the mix of each room per tick.
//!
//! A room exists while someone is in it. Each participant's call runs
//! `App::Conference` (in `session.rs`): per tick it hands over what the caller said
//! (`ConferenceLeg::input`) and plays what the room's [`Mixer`] made for it at the
//! previous tick (everyone but themselves; one tick, 20 ms, of delay), with the room's
//! cues on top (`ConferenceLeg::cue`): the join tone to everyone when someone comes in,
//! the leave tone when someone goes, and "you are the first participant" to whoever enters
//! an empty room.
//!
//! ## The way in: the room's PIN
//!
//! A caller does not join at once: the service first asks its owner whether the room
//! has a PIN (`ServiceEvent::RoomPin`, answered through `ServiceUa::room_pin`); until then
//! the caller hears silence (`Entry::Waiting`). Without a PIN they join. With one they
//! are in the room's `Lobby`: "please enter your PIN, followed by the pound key", digits
//! then `#`; a wrong PIN is told ("that PIN is not correct") and asked again; the third
//! wrong PIN, or the third prompt without an answer within [`PIN_TIMEOUT`], says goodbye
//! and ends the call (logged with the caller, for fail2ban-style tools).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::mixer::{Mixer, ParticipantId};
use crate::player::Player;
use crate::prompts::{names, Prompts};
use crate::PcmFrame;

use super::CallNumber;

/// The most participants of one room; the next caller gets 486.
pub const MAX_PARTICIPANTS: usize = 50;

/// A room: its domain and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey {
    /// The served domain the room belongs to.
    pub domain: String,
    /// Its name (`default` for `conference@`).
    pub name: String,
}

impl std::fmt::Display for RoomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.domain)
    }
}

/// Joins within this time of a participant's last join tone make no other.
pub const JOIN_TONE_GAP: Duration = Duration::from_secs(2);

/// Wrong PINs (or prompts left unanswered) before the call ends.
pub const PIN_TRIES: u8 = 3;

/// How long after the PIN prompt ends a caller has to finish the PIN with `#`.
pub const PIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Who may enter a room, as its owner says ([`super::ServiceUa::room_pin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomAccess {
    /// Anyone who dials it.
    Open,
    /// Those who type this PIN.
    Pin(String),
    /// Nobody now (the rooms could not be read): the caller hears goodbye.
    Shut,
}

/// Where a caller is on the way into a room.
#[derive(Debug)]
pub(crate) enum Entry {
    /// The room's PIN is being looked up: silence.
    Waiting,
    /// Asked for the room's PIN.
    Lobby(Box<Lobby>),
    /// Let in: to join the room at the next tick.
    Admitted,
    /// In the room.
    In,
    /// Refused (wrong PIN): the goodbye plays, then the call ends. `logged`: the core
    /// has been told ([`ConferenceLeg::take_refused`]).
    Refused {
        /// Told already.
        logged: bool,
    },
}

/// The PIN entry of a room with a PIN (see the module docs): digits then `#`.
#[derive(Debug)]
pub(crate) struct Lobby {
    expected: String,
    typed: String,
    /// Wrong PINs and unanswered prompts so far.
    failures: u8,
    /// When the caller must have finished, once the prompt has been played.
    deadline: Option<Instant>,
    prompts: Prompts,
}

/// What a [`Lobby`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Still asking.
    Asking,
    /// The right PIN.
    Admitted,
    /// [`PIN_TRIES`] failures.
    Refused,
}

impl Lobby {
    /// Asks for `expected` on `player`.
    pub(crate) fn new(expected: String, prompts: Prompts, player: &mut Player) -> Lobby {
        let lobby = Lobby {
            expected,
            typed: String::new(),
            failures: 0,
            deadline: None,
            prompts,
        };
        lobby.ask(player);
        lobby
    }

    fn ask(&self, player: &mut Player) {
        player.extend(self.prompts.get(names::ENTER_PIN).cloned());
    }

    /// A key: digits are kept, `#` checks them, `*` starts again.
    pub(crate) fn digit(&mut self, digit: char, player: &mut Player) -> Verdict {
        match digit {
            '#' => {
                let right = same_secret(self.typed.as_bytes(), self.expected.as_bytes());
                self.typed.clear();
                if right {
                    player.stop();
                    return Verdict::Admitted;
                }
                self.fail(player, Some(names::WRONG_PIN))
            }
            '*' => {
                self.typed.clear();
                Verdict::Asking
            }
            d if d.is_ascii_digit() && self.typed.len() < 32 => {
                // A key stops the prompt (the caller knows what to do).
                player.stop();
                self.typed.push(d);
                self.deadline = None;
                Verdict::Asking
            }
            _ => Verdict::Asking,
        }
    }

    /// One tick at `now`: the time to answer starts once the prompt is over; an
    /// unanswered prompt counts as a failure.
    pub(crate) fn tick(&mut self, now: Instant, player: &mut Player) -> Verdict {
        if !player.is_done() {
            return Verdict::Asking;
        }
        match self.deadline {
            None => {
                self.deadline = Some(now + PIN_TIMEOUT);
                Verdict::Asking
            }
            Some(at) if now >= at => {
                self.typed.clear();
                self.fail(player, None)
            }
            Some(_) => Verdict::Asking,
        }
    }

    /// A failure, told with the prompt `told` when given: asked again, or refused.
    fn fail(&mut self, player: &mut Player, told: Option<&str>) -> Verdict {
        self.failures = self.failures.saturating_add(1);
        self.deadline = None;
        player.stop();
        player.extend(told.and_then(|name| self.prompts.get(name)).cloned());
        if self.failures >= PIN_TRIES {
            player.extend(self.prompts.get(names::GOODBYE).cloned());
            return Verdict::Refused;
        }
        self.ask(player);
        Verdict::Asking
    }
}

/// `a == b`, in a time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One participant's side of a room, inside its call's media session.
#[derive(Debug)]
pub(crate) struct ConferenceLeg {
    /// What the caller said this tick (the listener's frame).
    pub(crate) input: PcmFrame,
    /// What the room made for this participant at the last mix.
    pub(crate) output: PcmFrame,
    /// Cues played over the room: tones and prompts (and the lobby's prompts).
    pub(crate) cue: Player,
    /// Where the caller is on the way in.
    pub(crate) entry: Entry,
    /// When this participant was last given the join tone.
    join_tone_at: Option<Instant>,
}

impl ConferenceLeg {
    /// A leg with nothing heard yet, waiting to learn whether the room has a PIN.
    pub(crate) fn new(cue: Player) -> ConferenceLeg {
        ConferenceLeg {
            input: [0; rtp::codec::FRAME_SAMPLES],
            output: [0; rtp::codec::FRAME_SAMPLES],
            cue,
            entry: Entry::Waiting,
            join_tone_at: None,
        }
    }

    /// Someone joined at `now`: the join tone, once for joins close together (fifty
    /// people dialling in at the top of the hour make one tone, not ten seconds of them).
    pub(crate) fn join_tone(&mut self, now: Instant) {
        if self
            .join_tone_at
            .is_some_and(|at| now.saturating_duration_since(at) < JOIN_TONE_GAP)
        {
            return;
        }
        self.join_tone_at = Some(now);
        self.cue.push(crate::ToneSpec::JOIN);
    }

    /// Who may enter is known: an open room lets the caller in, a PIN is asked for, a
    /// shut room says goodbye.
    pub(crate) fn room_access(&mut self, access: RoomAccess, prompts: &Prompts) {
        if !matches!(self.entry, Entry::Waiting) {
            return;
        }
        self.entry = match access {
            RoomAccess::Open => Entry::Admitted,
            RoomAccess::Pin(pin) => {
                Entry::Lobby(Box::new(Lobby::new(pin, prompts.clone(), &mut self.cue)))
            }
            RoomAccess::Shut => {
                self.cue.extend(prompts.get(names::GOODBYE).cloned());
                Entry::Refused { logged: false }
            }
        };
    }

    /// A key from the caller: for the lobby (in the room, keys are ignored).
    pub(crate) fn digit(&mut self, digit: char) {
        if let Entry::Lobby(lobby) = &mut self.entry {
            match lobby.digit(digit, &mut self.cue) {
                Verdict::Asking => {}
                Verdict::Admitted => self.entry = Entry::Admitted,
                Verdict::Refused => self.entry = Entry::Refused { logged: false },
            }
        }
    }

    /// Whether the caller was let in since the last call (then they are in the room).
    pub(crate) fn take_admitted(&mut self) -> bool {
        if matches!(self.entry, Entry::Admitted) {
            self.entry = Entry::In;
            return true;
        }
        false
    }

    /// Whether the caller was refused since the last call (three wrong PINs).
    pub(crate) fn take_refused(&mut self) -> bool {
        if let Entry::Refused { logged } = &mut self.entry {
            let first = !*logged;
            *logged = true;
            return first;
        }
        false
    }

    /// This tick: keeps what was `heard` for the next mix and writes what the participant
    /// hears into `said` (the last mix, with any cue added, saturated); on the way in,
    /// the lobby's prompts only. `false` once a refused caller has heard the goodbye.
    pub(crate) fn tick(&mut self, now: Instant, heard: &PcmFrame, said: &mut PcmFrame) -> bool {
        match &mut self.entry {
            Entry::In => {}
            Entry::Waiting | Entry::Admitted => return true,
            Entry::Refused { .. } => return self.cue.next_pcm(said),
            Entry::Lobby(lobby) => {
                match lobby.tick(now, &mut self.cue) {
                    Verdict::Asking => {}
                    Verdict::Admitted => self.entry = Entry::Admitted,
                    Verdict::Refused => self.entry = Entry::Refused { logged: false },
                }
                self.cue.next_pcm(said);
                return true;
            }
        }
        self.input = *heard;
        *said = self.output;
        self.output = [0; rtp::codec::FRAME_SAMPLES];
        let mut cue = [0i16; rtp::codec::FRAME_SAMPLES];
        if self.cue.next_pcm(&mut cue) {
            for (s, c) in said.iter_mut().zip(cue) {
                *s = s.saturating_add(c);
            }
        }
        true
    }
}

#[derive(Debug, Default)]
struct Room {
    mixer: Mixer,
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    call: CallNumber,
    id: ParticipantId,
    joined: Instant,
}

/// The rooms in use, and which call is in which.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: HashMap<RoomKey, Room>,
    by_call: HashMap<CallNumber, RoomKey>,
}

/// A room in use, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// Which room.
    pub key: RoomKey,
    /// Its participants' calls, in the order they joined.
    pub calls: Vec<CallNumber>,
    /// Which of them are muted (the others do not hear them), in the same order.
    pub muted: Vec<bool>,
    /// When each joined, in the same order.
    pub joined: Vec<Instant>,
}

impl Rooms {
    /// Whether room `key` has no place left.
    pub(crate) fn is_full(&self, key: &RoomKey) -> bool {
        self.rooms
            .get(key)
            .is_some_and(|r| r.members.len() >= MAX_PARTICIPANTS)
    }

    /// Call `call` enters room `key` at `now`; answers the calls that were there before.
    pub(crate) fn join(&mut self, key: RoomKey, call: CallNumber, now: Instant) -> Vec<CallNumber> {
        let room = self.rooms.entry(key.clone()).or_default();
        let before = room.members.iter().map(|m| m.call).collect();
        let id = room.mixer.add();
        room.members.push(Member {
            call,
            id,
            joined: now,
        });
        self.by_call.insert(call, key);
        before
    }

    /// Mutes (or unmutes) call `call` of room `key`: the others stop (or start again)
    /// hearing it. `false` when the call is not in that room.
    pub(crate) fn set_muted(&mut self, key: &RoomKey, call: CallNumber, muted: bool) -> bool {
        let Some(room) = self.rooms.get_mut(key) else {
            return false;
        };
        match room.members.iter().find(|m| m.call == call) {
            Some(m) => room.mixer.set_muted(m.id, muted),
            None => false,
        }
    }

    /// Whether call `call` is in room `key`.
    pub(crate) fn has(&self, key: &RoomKey, call: CallNumber) -> bool {
        self.by_call.get(&call) == Some(key)
    }

    /// Call `call` leaves its room; answers the room and the calls still in it (`None`
    /// for a call in no room). An empty room is gone.
    pub(crate) fn leave(&mut self, call: CallNumber) -> Option<(RoomKey, Vec<CallNumber>)> {
        let key = self.by_call.remove(&call)?;
        let room = self.rooms.get_mut(&key)?;
        if let Some(i) = room.members.iter().position(|m| m.call == call) {
            let gone = room.members.remove(i);
            room.mixer.remove(gone.id);
        }
        let rest: Vec<CallNumber> = room.members.iter().map(|m| m.call).collect();
        if rest.is_empty() {
            self.rooms.remove(&key);
        }
        Some((key, rest))
    }

    /// Mixes every room: each participant's input (from its call in `calls`) goes in,
    /// each output goes back to its leg for the next tick.
    pub(super) fn mix(&mut self, calls: &mut HashMap<CallNumber, super::Call>) {
        for room in self.rooms.values_mut() {
            for m in &room.members {
                if let Some(leg) = calls.get_mut(&m.call).and_then(|c| c.session.conference()) {
                    room.mixer.push(m.id, &leg.input);
                }
            }
            room.mixer.mix();
            for m in &room.members {
                let leg = calls.get_mut(&m.call).and_then(|c| c.session.conference());
                if let (Some(leg), Some(out)) = (leg, room.mixer.output(m.id)) {
                    leg.output = *out;
                }
            }
        }
    }

    /// The rooms in use, by name.
    pub(crate) fn list(&self) -> Vec<RoomInfo> {
        let mut all: Vec<RoomInfo> = self
            .rooms
            .iter()
            .map(|(key, room)| RoomInfo {
                key: key.clone(),
                calls: room.members.iter().map(|m| m.call).collect(),
                muted: room
                    .members
                    .iter()
                    .map(|m| room.mixer.is_muted(m.id).unwrap_or(false))
                    .collect(),
                joined: room.members.iter().map(|m| m.joined).collect(),
            })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}

/// What the operator asks of the rooms in use (`itsp conf list|kick|mute` through the
/// server's control socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomCommand {
    /// The rooms in use and who is in them.
    List,
    /// End participant `call`'s call in room `room` (a BYE).
    Kick {
        /// The room.
        room: RoomKey,
        /// The participant (its call, as listed).
        call: CallNumber,
    },
    /// Mute (or unmute) participant `call` of room `room`: the others stop (or start
    /// again) hearing it; it still hears them.
    Mute {
        /// The room.
        room: RoomKey,
        /// The participant.
        call: CallNumber,
        /// Mute (`false`: unmute).
        muted: bool,
    },
}

/// A participant of a room in use, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveParticipant {
    /// Its call: what `kick` and `mute` name.
    pub call: CallNumber,
    /// Who called (the From URI).
    pub caller: String,
    /// Whether the others do not hear it.
    pub muted: bool,
    /// How long it has been in the room.
    pub in_room: Duration,
}

/// A room in use, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoom {
    /// Which room.
    pub key: RoomKey,
    /// Who is in it, in the order they joined.
    pub participants: Vec<LiveParticipant>,
}

/// The answer to a [`RoomCommand`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomReply {
    /// The rooms in use, by domain and name.
    Rooms(Vec<LiveRoom>),
    /// Done.
    Done,
    /// No such participant in that room.
    NotInRoom,
}

impl super::ServiceUa {
    /// Carries out `command` at `now`.
    pub fn room_command(&mut self, now: Instant, command: RoomCommand) -> RoomReply {
        match command {
            RoomCommand::List => {
                let rooms = self
                    .rooms
                    .list()
                    .into_iter()
                    .map(|info| LiveRoom {
                        participants: info
                            .calls
                            .iter()
                            .zip(&info.muted)
                            .zip(&info.joined)
                            .map(|((call, muted), joined)| LiveParticipant {
                                call: *call,
                                caller: self
                                    .calls
                                    .get(call)
                                    .map(|c| c.caller.clone())
                                    .unwrap_or_default(),
                                muted: *muted,
                                in_room: now.saturating_duration_since(*joined),
                            })
                            .collect(),
                        key: info.key,
                    })
                    .collect();
                RoomReply::Rooms(rooms)
            }
            RoomCommand::Kick { room, call } => {
                if !self.rooms.has(&room, call) {
                    return RoomReply::NotInRoom;
                }
                tracing::info!(call, %room, "conference participant removed by the operator");
                self.end_with_bye(now, call);
                self.drain_layer();
                RoomReply::Done
            }
            RoomCommand::Mute { room, call, muted } => {
                if !self.rooms.set_muted(&room, call, muted) {
                    return RoomReply::NotInRoom;
                }
                tracing::info!(call, %room, muted, "conference participant muted by the operator");
                RoomReply::Done
            }
        }
    }
}
