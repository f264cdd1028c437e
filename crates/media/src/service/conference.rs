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

use std::collections::HashMap;

use crate::mixer::{Mixer, ParticipantId};
use crate::player::Player;
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

/// One participant's side of a room, inside its call's media session.
#[derive(Debug)]
pub(crate) struct ConferenceLeg {
    /// What the caller said this tick (the listener's frame).
    pub(crate) input: PcmFrame,
    /// What the room made for this participant at the last mix.
    pub(crate) output: PcmFrame,
    /// Cues played over the room: tones and prompts.
    pub(crate) cue: Player,
}

impl ConferenceLeg {
    /// A leg with nothing heard yet.
    pub(crate) fn new(cue: Player) -> ConferenceLeg {
        ConferenceLeg {
            input: [0; rtp::codec::FRAME_SAMPLES],
            output: [0; rtp::codec::FRAME_SAMPLES],
            cue,
        }
    }

    /// This tick: keeps what was `heard` for the next mix and writes what the participant
    /// hears into `said` (the last mix, with any cue added, saturated).
    pub(crate) fn tick(&mut self, heard: &PcmFrame, said: &mut PcmFrame) {
        self.input = *heard;
        *said = self.output;
        self.output = [0; rtp::codec::FRAME_SAMPLES];
        let mut cue = [0i16; rtp::codec::FRAME_SAMPLES];
        if self.cue.next_pcm(&mut cue) {
            for (s, c) in said.iter_mut().zip(cue) {
                *s = s.saturating_add(c);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Room {
    mixer: Mixer,
    members: Vec<(CallNumber, ParticipantId)>,
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
}

impl Rooms {
    /// Whether room `key` has no place left.
    pub(crate) fn is_full(&self, key: &RoomKey) -> bool {
        self.rooms
            .get(key)
            .is_some_and(|r| r.members.len() >= MAX_PARTICIPANTS)
    }

    /// Call `call` enters room `key`; answers the calls that were there before.
    pub(crate) fn join(&mut self, key: RoomKey, call: CallNumber) -> Vec<CallNumber> {
        let room = self.rooms.entry(key.clone()).or_default();
        let before = room.members.iter().map(|(c, _)| *c).collect();
        let id = room.mixer.add();
        room.members.push((call, id));
        self.by_call.insert(call, key);
        before
    }

    /// Call `call` leaves its room; answers the room and the calls still in it (`None`
    /// for a call in no room). An empty room is gone.
    pub(crate) fn leave(&mut self, call: CallNumber) -> Option<(RoomKey, Vec<CallNumber>)> {
        let key = self.by_call.remove(&call)?;
        let room = self.rooms.get_mut(&key)?;
        if let Some(i) = room.members.iter().position(|(c, _)| *c == call) {
            let (_, id) = room.members.remove(i);
            room.mixer.remove(id);
        }
        let rest: Vec<CallNumber> = room.members.iter().map(|(c, _)| *c).collect();
        if rest.is_empty() {
            self.rooms.remove(&key);
        }
        Some((key, rest))
    }

    /// Mixes every room: each participant's input (from its call in `calls`) goes in,
    /// each output goes back to its leg for the next tick.
    pub(super) fn mix(&mut self, calls: &mut HashMap<CallNumber, super::Call>) {
        for room in self.rooms.values_mut() {
            for (call, id) in &room.members {
                if let Some(leg) = calls.get_mut(call).and_then(|c| c.session.conference()) {
                    room.mixer.push(*id, &leg.input);
                }
            }
            room.mixer.mix();
            for (call, id) in &room.members {
                let leg = calls.get_mut(call).and_then(|c| c.session.conference());
                if let (Some(leg), Some(out)) = (leg, room.mixer.output(*id)) {
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
                calls: room.members.iter().map(|(c, _)| *c).collect(),
            })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}
