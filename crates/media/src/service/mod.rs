//! The media service user agent, sans-IO: the internal SIP UA that the proxy reaches like
//! any user (`echo@`, `voicemail@`, announcements), so the proxy stays a proxy (DESIGN.md,
//! issue 19).
//!
//! [`ServiceUa`] answers INVITEs (RFC 3261 §13.3) with an SDP answer (RFC 3264 §6: the
//! caller's preferred codec among PCMU, PCMA and GSM, and telephone-event when offered;
//! `488` when nothing is in common), handles ACK, BYE, CANCEL (§9.2), INFO digits and
//! re-INVITEs, and runs one media session per call on a 20 ms tick. An offer with SDES
//! keys (RFC 4568: `RTP/SAVP`, or `a=crypto` on `RTP/AVP`) is answered with a key of ours,
//! and that call's media is SRTP ([`rtp::srtp::Protection`]), so a phone that speaks only
//! SRTP reaches voicemail, echo and the rest like any other. Like the `sip`
//! transaction layer it sits on, it is fed datagrams ([`ServiceUa::handle`],
//! [`ServiceUa::handle_rtp`]) and the time ([`ServiceUa::handle_timeout`],
//! [`ServiceUa::tick`]); what to send and what happened are polled
//! ([`ServiceUa::poll_transmit`], [`ServiceUa::poll_rtp`], [`ServiceUa::poll_event`]). The
//! two things it needs from outside, an RTP port and a subscriber's personal greeting, come
//! from an [`Environment`] the caller passes in.
//!
//! ## Which service: the Request-URI
//!
//! The proxy rewrites the Request-URI of the calls it sends here (`server::services`):
//!
//! | Request-URI | service |
//! |---|---|
//! | `sip:echo@DOMAIN` | the echo test: the caller's audio back after [`ServiceConfig::echo_delay`], digits as tones |
//! | `sip:voicemail@DOMAIN;mailbox=USER` | a voicemail deposit for `USER@DOMAIN`: greeting, beep, recording ([`ServiceEvent::Message`]) |
//! | `sip:voicemail@DOMAIN;mailbox=USER;retrieve` | the owner's voicemail menu, no PIN (the proxy authenticated the caller): "you have N new messages", each message and its keys (`menu.rs`; [`ServiceEvent::ListMessages`], [`ServiceUa::messages`], [`ServiceEvent::Heard`], [`ServiceEvent::Deleted`], [`ServiceEvent::Greeting`], [`ServiceEvent::SetPin`]) |
//! | `sip:voicemail@DOMAIN;login` | the voicemail menu from any phone: mailbox number and PIN first ([`ServiceEvent::CheckPin`], [`ServiceUa::login`]) |
//! | `sip:announce@DOMAIN;prompt=NAME;code=CODE` | the prompt `NAME` as early media (183 with SDP), then the final response `CODE` (400-699) |
//! | `sip:conference@DOMAIN;room=NAME` | room `NAME` of `DOMAIN` (`default` without `room`): its PIN first when it has one ([`ServiceEvent::RoomPin`], [`ServiceUa::room_pin`]), then each participant hears the others ([`conference`]); 486 past [`conference::MAX_PARTICIPANTS`] |
//! | `sip:ivr@DOMAIN;menu=NAME` | the IVR menu `NAME` of [`ServiceConfig::ivr`] ([`ivr`]): its prompt, one key per choice, sub-menus, transfers by REFER (`transfer.rs`, RFC 3515); 404 for an unknown menu |
//!
//! Anything else is answered `404`. A SUBSCRIBE to `sip:voicemail@DOMAIN;mailbox=USER`
//! for the `message-summary` event subscribes to the mailbox's message-waiting
//! indication ([`mwi`], RFC 3842, RFC 6665).
//!
//! The UA also places calls of its own: click-to-dial ([`click_to_dial`], RFC 3725 §4.1)
//! connects a subscriber's phones to a target, asked by [`ServiceUa::click_to_dial`].
//!
//! ## Layout
//!
//! - `mod.rs`: [`ServiceUa`], its configuration, [`Environment`], [`ServiceEvent`], SIP.
//! - `mwi.rs`: message-waiting indication: the subscriptions, their NOTIFYs.
//! - `conference.rs`: the conference rooms: who is in which, the mix of each per tick.
//! - `session.rs`: one call's media: the RTP stream, symmetric RTP (RFC 4961), and the
//!   application (echo, voicemail, announcement, menu, conference) on the 20 ms tick.
//! - `menu.rs`: the voicemail menu by phone: login by mailbox number and PIN, the
//!   messages and their keys, the greeting and the PIN.
//! - `menu/tests.rs`: the menu on a simulated clock.
//! - `ivr.rs`: the IVR / auto-attendant: the menus' prompts and keys; `ivr/menus.rs` the
//!   checked `[[ivr]]` configuration ([`ivr::Menus`], [`ivr::Action`]); `ivr/tests.rs`
//!   the menus on a simulated clock.
//! - `transfer.rs`: transfers by REFER (RFC 3515): the REFER in the caller's dialog, its
//!   answer, the NOTIFYs' `message/sipfrag` progress, BYE once the caller is through.
//! - `transfer/tests.rs`: IVR calls with their REFER and NOTIFYs on a simulated clock.
//! - `click_to_dial.rs`: click-to-dial, third-party call control (RFC 3725 §4.1, flow I):
//!   the caller's phones called without SDP, the target called as the caller with the
//!   caller's offer, the answer in the caller's ACK, BYE relayed
//!   ([`ServiceUa::click_to_dial`]); `click_to_dial/tests.rs` on a simulated clock.
//! - `greeting.rs`: personal greetings on disk (`DIR/DOMAIN/USER/greeting.wav`): an
//!   uploaded WAV converted and checked, written, read and removed, for the shell, `itsp
//!   serve` and the portal alike.
//! - `shell.rs`: the tokio shell: the SIP socket, RTP sockets from a port range, the tick.
//! - `tests.rs`: calls on a simulated clock.

pub mod click_to_dial;
pub mod conference;
pub mod greeting;
pub mod ivr;
mod menu;
pub mod mwi;
mod session;
pub mod shell;
pub mod transfer;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtp::codec::Codec;
use rtp::srtp::sdes::answer_crypto;
use rtp::srtp::Protection;
use sdp::{LocalMedia, SessionDescription};
use sip::build::MessageBuilder;
use sip::dialog::{Dialog, DialogId};
use sip::transaction::{self as tx, TimerConfig, TransactionKey, TransactionLayer};
use sip::{HeaderName, Message, Method, Uri};

use crate::echo::Echo;
use crate::player::Player;
use crate::prompt::Prompt;
use crate::prompts::{names, Prompts};
use crate::recorder::{RecorderConfig, Recording, StopReason};
use crate::tone::ToneSpec;
use session::{App, Next, Session, StreamSeeds, Voicemail};

/// The methods the service answers (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, SUBSCRIBE, NOTIFY";

/// The user part of the echo test's Request-URI.
pub const ECHO: &str = "echo";
/// The user part of a voicemail deposit's Request-URI (with `;mailbox=USER`).
pub const VOICEMAIL: &str = "voicemail";
/// The user part of an announcement's Request-URI (with `;prompt=NAME;code=CODE`).
pub const ANNOUNCE: &str = "announce";
/// The user part of a conference room's Request-URI (with `;room=NAME`).
pub const CONFERENCE: &str = "conference";
/// The user part of an IVR menu's Request-URI (with `;menu=NAME`).
pub const IVR: &str = "ivr";
/// The room of a conference Request-URI without `;room=`.
pub const DEFAULT_ROOM: &str = "default";

/// How the service UA is set up.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `host:port` of our SIP socket, for Contact and Via.
    pub contact_host: String,
    /// The address written in our SDP (where the RTP sockets listen).
    pub media_ip: IpAddr,
    /// The `User-Agent`/`Server` value.
    pub user_agent: String,
    /// SIP timers.
    pub timers: TimerConfig,
    /// The echo's delay.
    pub echo_delay: Duration,
    /// When a voicemail recording stops, and what is kept.
    pub recorder: RecorderConfig,
    /// The longest any service call lasts (then BYE).
    pub max_call: Duration,
    /// The prompts.
    pub prompts: Prompts,
    /// How often the counts of subscribed mailboxes are asked again
    /// ([`ServiceEvent::CountMessages`]; [`mwi::DEFAULT_RECOUNT`]).
    pub mwi_recount: Duration,
    /// Whether the phones of a mailbox nobody subscribed to are told of its messages
    /// without a subscription ([`mwi`], "Unsolicited indication"; on by default).
    pub unsolicited_mwi: bool,
    /// The IVR menus (`[[ivr]]`; none by default).
    pub ivr: Arc<ivr::Menus>,
}

impl ServiceConfig {
    /// Defaults for a UA at `contact_host` with media on `media_ip`: 200 ms echo, the
    /// recorder's defaults, one hour per call, the built-in prompts.
    pub fn new(contact_host: String, media_ip: IpAddr, prompts: Prompts) -> ServiceConfig {
        ServiceConfig {
            contact_host,
            media_ip,
            user_agent: "itsp-media".into(),
            timers: TimerConfig::default(),
            echo_delay: crate::echo::DEFAULT_DELAY,
            recorder: RecorderConfig::default(),
            max_call: Duration::from_secs(3600),
            prompts,
            mwi_recount: mwi::DEFAULT_RECOUNT,
            unsolicited_mwi: true,
            ivr: Arc::new(ivr::Menus::none()),
        }
    }
}

/// What the core needs from its surroundings, asked while it handles a new call.
pub trait Environment {
    /// Opens an RTP port for a new call; `None` when none is free (the call gets 503).
    fn open_rtp(&mut self) -> Option<u16>;
    /// The personal greeting of `mailbox`, when its owner recorded one.
    fn greeting(&mut self, mailbox: &Mailbox) -> Option<Prompt>;
}

/// A subscriber's mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The user part, e.g. `bob`.
    pub user: String,
    /// The domain, e.g. `example.com`.
    pub domain: String,
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

/// A service a Request-URI asks for (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// The echo test.
    Echo,
    /// A deposit into this mailbox.
    Voicemail(Mailbox),
    /// The owner's voicemail menu for this mailbox (no PIN).
    Retrieve(Mailbox),
    /// The voicemail menu from any phone of this domain: mailbox number and PIN first.
    Login(String),
    /// A prompt as early media, then this final response.
    Announce {
        /// The prompt's name.
        prompt: String,
        /// The final status code (400-699).
        code: u16,
    },
    /// A participant of this conference room.
    Conference(conference::RoomKey),
    /// A caller of this IVR menu.
    Ivr {
        /// The domain called (transfers go to its addresses).
        domain: String,
        /// The menu's name.
        menu: String,
    },
}

impl Service {
    /// The service of a Request-URI; `None` when it names none.
    pub fn of_uri(uri: &str) -> Option<Service> {
        let Ok(Uri::Sip(uri)) = Uri::parse(uri) else {
            return None;
        };
        let domain = uri.host.text().to_ascii_lowercase();
        match uri.user? {
            ECHO => Some(Service::Echo),
            VOICEMAIL => {
                if uri.param("login").is_some() {
                    return Some(Service::Login(domain));
                }
                let user = uri.param("mailbox")??;
                let user = sip::uri::unescape_str(user)?.into_owned();
                if user.is_empty() {
                    return None;
                }
                let mailbox = Mailbox { user, domain };
                match uri.param("retrieve") {
                    Some(_) => Some(Service::Retrieve(mailbox)),
                    None => Some(Service::Voicemail(mailbox)),
                }
            }
            ANNOUNCE => {
                let prompt = uri.param("prompt")??.to_owned();
                let code = uri.param("code").flatten().unwrap_or("480").parse().ok()?;
                (400..700)
                    .contains(&code)
                    .then_some(Service::Announce { prompt, code })
            }
            CONFERENCE => {
                let name = match uri.param("room") {
                    Some(Some(name)) => sip::uri::unescape_str(name)?.into_owned(),
                    _ => DEFAULT_ROOM.to_owned(),
                };
                (!name.is_empty())
                    .then_some(Service::Conference(conference::RoomKey { domain, name }))
            }
            IVR => {
                let menu = sip::uri::unescape_str(uri.param("menu")??)?.into_owned();
                (!menu.is_empty()).then_some(Service::Ivr { domain, menu })
            }
            _ => None,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Echo => ECHO,
            Service::Voicemail(_) | Service::Retrieve(_) | Service::Login(_) => VOICEMAIL,
            Service::Announce { .. } => ANNOUNCE,
            Service::Conference(_) => CONFERENCE,
            Service::Ivr { .. } => IVR,
        }
    }
}

/// A call's number in this core.
pub type CallNumber = u64;

/// What happened, for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceEvent {
    /// A call was taken.
    Started {
        /// The call.
        call: CallNumber,
        /// Which service.
        service: Service,
        /// The caller (the From URI).
        caller: String,
        /// Its RTP port.
        rtp_port: u16,
    },
    /// A voicemail message to store.
    Message(Deposit),
    /// The messages of a mailbox are wanted for call `call`: answer with
    /// [`ServiceUa::messages`] (silence plays meanwhile).
    ListMessages {
        /// The call.
        call: CallNumber,
        /// Whose.
        mailbox: Mailbox,
    },
    /// Does `pin` open mailbox number `number` of `domain` (a subscriber or an alias,
    /// whose `vm-pin` it is)? Answer with [`ServiceUa::login`]: the mailbox, or `None`
    /// alike for a wrong PIN, an unknown mailbox and one without a PIN.
    CheckPin {
        /// The call.
        call: CallNumber,
        /// The domain called.
        domain: String,
        /// The mailbox number typed (digits).
        number: String,
        /// The PIN typed (digits).
        pin: String,
    },
    /// The owner deleted this message by phone: remove its row and its file.
    Deleted {
        /// Whose.
        mailbox: Mailbox,
        /// The id given with [`ServiceUa::messages`].
        id: i64,
    },
    /// The owner recorded a new personal greeting by phone: keep it where
    /// [`Environment::greeting`] finds it.
    Greeting {
        /// Whose.
        mailbox: Mailbox,
        /// The greeting: a WAV file, 8 kHz mono 16-bit.
        wav: Vec<u8>,
    },
    /// The owner chose a new PIN by phone (its `vm-pin`).
    SetPin {
        /// Whose.
        mailbox: Mailbox,
        /// The new PIN (4 to 10 digits).
        pin: String,
    },
    /// The owner heard these messages to their end, or saved them: they are no longer new.
    Heard {
        /// Whose.
        mailbox: Mailbox,
        /// The ids given with [`ServiceUa::messages`].
        ids: Vec<i64>,
    },
    /// The message counts of a mailbox are wanted for message-waiting indication ([`mwi`]:
    /// someone subscribed to it, or its phones are told without a subscription): answer
    /// with [`ServiceUa::message_counts`]. Comes after the [`ServiceEvent::Message`] or
    /// [`ServiceEvent::Heard`] that changed the mailbox.
    CountMessages {
        /// Whose.
        mailbox: Mailbox,
    },
    /// Whether conference room `room` has a PIN is wanted for `call`, a caller on the way
    /// in (silence until then): answer with [`ServiceUa::room_pin`].
    RoomPin {
        /// The call.
        call: CallNumber,
        /// The room.
        room: conference::RoomKey,
    },
    /// A call ended; its RTP port can be closed.
    Ended {
        /// The call.
        call: CallNumber,
        /// Its RTP port.
        rtp_port: u16,
    },
}

/// A recorded voicemail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// Whose mailbox.
    pub mailbox: Mailbox,
    /// The caller (the From URI of the INVITE).
    pub caller: String,
    /// The message: a WAV file, 8 kHz mono 16-bit.
    pub wav: Vec<u8>,
    /// Its length.
    pub duration: Duration,
    /// Why the recording stopped.
    pub reason: StopReason,
}

/// A stored message handed to [`ServiceUa::messages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The store's id, reported back in [`ServiceEvent::Heard`] and
    /// [`ServiceEvent::Deleted`].
    pub id: i64,
    /// Who left it (the From URI; announced when its user part is a number).
    pub caller: String,
    /// Not yet heard (counted in "you have N new messages").
    pub new: bool,
    /// When it was left, in the owner's local time (announced for the last week's
    /// messages: "received today at fourteen oh five").
    pub received: Option<MessageTime>,
    /// The recording.
    pub audio: Prompt,
}

/// When a message was left, in the mailbox owner's local time ([`StoredMessage::received`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageTime {
    /// Days from the day it was left to today (0: today, 1: yesterday).
    pub days_ago: u32,
    /// ISO 8601 weekday: 1 Monday ... 7 Sunday.
    pub weekday: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
}

impl MessageTime {
    /// The local time of Unix milliseconds `at_ms`, seen at `now_ms`, at `utc_offset_secs`
    /// east of UTC (the proleptic Gregorian calendar; 1970-01-01 was a Thursday).
    pub fn at(at_ms: i64, now_ms: i64, utc_offset_secs: i32) -> MessageTime {
        let local_secs = |ms: i64| ms.div_euclid(1000) + i64::from(utc_offset_secs);
        let (at, now) = (local_secs(at_ms), local_secs(now_ms));
        let day = at.div_euclid(86_400);
        let second = at.rem_euclid(86_400);
        MessageTime {
            days_ago: u32::try_from(now.div_euclid(86_400) - day).unwrap_or(0),
            // Day 0 was a Thursday (4).
            weekday: u8::try_from((day + 3).rem_euclid(7) + 1).unwrap_or(1),
            hour: u8::try_from(second / 3600).unwrap_or(0),
            minute: u8::try_from(second % 3600 / 60).unwrap_or(0),
        }
    }
}

/// SIP bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dest: SocketAddr,
    /// The message.
    pub payload: Bytes,
}

/// An RTP packet to send from a call's port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpTransmit {
    /// Our RTP port (the socket to send from; RTCP goes from the next port).
    pub port: u16,
    /// RTCP (RFC 3550 §6), sent from our RTCP socket, the RTP port + 1 (§11); else RTP.
    pub rtcp: bool,
    /// Destination.
    pub dest: SocketAddr,
    /// The packet.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// 183 sent (announcement).
    Early,
    /// 200 sent, waiting for the ACK.
    Answered,
    /// ACK received.
    Confirmed,
}

#[derive(Debug)]
struct Call {
    invite_key: TransactionKey,
    invite: Message,
    /// The INVITE's source: the proxy.
    source: SocketAddr,
    local_tag: String,
    dialog: Option<Dialog>,
    phase: Phase,
    rtp_port: u16,
    session: Session,
    local: LocalMedia,
    last_local: SessionDescription,
    mailbox: Option<Mailbox>,
    caller: String,
    /// Our 2xx until the ACK: bytes, next retransmission, interval (§13.3.1.4).
    unacked: Option<(Bytes, Instant, Duration)>,
    /// 64*T1 after the 2xx: without an ACK by then, BYE.
    ack_deadline: Option<Instant>,
    /// The end of [`ServiceConfig::max_call`].
    hard_end: Instant,
    /// The announcement's final status code.
    final_code: u16,
    /// The IVR's transfer in progress (REFER sent, no outcome yet).
    transfer: Option<transfer::Transfer>,
    /// SRTP when the offer keyed it, else plain RTP: applied to every packet in and out.
    srtp: Protection,
}

/// The service UA core. See the module documentation.
#[derive(Debug)]
pub struct ServiceUa {
    config: ServiceConfig,
    layer: TransactionLayer,
    rng: fastrand::Rng,
    calls: HashMap<CallNumber, Call>,
    by_port: HashMap<u16, CallNumber>,
    next_call: CallNumber,
    /// Where each server transaction's responses go, and each client transaction's
    /// requests.
    dests: HashMap<TransactionKey, SocketAddr>,
    out: VecDeque<Transmit>,
    rtp_out: VecDeque<RtpTransmit>,
    events: VecDeque<ServiceEvent>,
    /// Message-waiting subscriptions ([`mwi`]).
    subscriptions: mwi::Subscriptions,
    /// The conference rooms in use ([`conference`]).
    rooms: conference::Rooms,
    /// The callers on the way into a room (its PIN asked or being looked up).
    entering: HashMap<CallNumber, conference::RoomKey>,
    /// Our REFERs' client transactions, by call ([`transfer`]).
    refers: HashMap<TransactionKey, CallNumber>,
    /// Click-to-dial calls under way ([`click_to_dial`]).
    dials: click_to_dial::Dials,
}

impl ServiceUa {
    /// A core for `config`; `seed` feeds tags, branches and RTP's random values.
    pub fn new(config: ServiceConfig, seed: u64) -> ServiceUa {
        ServiceUa {
            layer: TransactionLayer::new(config.timers),
            config,
            rng: fastrand::Rng::with_seed(seed),
            calls: HashMap::new(),
            by_port: HashMap::new(),
            next_call: 1,
            dests: HashMap::new(),
            out: VecDeque::new(),
            rtp_out: VecDeque::new(),
            events: VecDeque::new(),
            subscriptions: mwi::Subscriptions::default(),
            rooms: conference::Rooms::default(),
            entering: HashMap::new(),
            refers: HashMap::new(),
            dials: click_to_dial::Dials::default(),
        }
    }

    /// The answer to [`ServiceEvent::RoomPin`]: who may enter the room `call` is on its way
    /// into (open: the caller joins at the next tick; a PIN: the caller is asked for it;
    /// shut: goodbye).
    pub fn room_pin(&mut self, call: CallNumber, access: conference::RoomAccess) {
        let prompts = &self.config.prompts;
        if let Some(leg) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.session.conference())
        {
            leg.room_access(access, prompts);
        }
    }

    /// The conference rooms in use, by name.
    pub fn rooms(&self) -> Vec<conference::RoomInfo> {
        self.rooms.list()
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Calls in progress.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// A SIP datagram from `source`.
    pub fn handle(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: Bytes,
        env: &mut dyn Environment,
    ) {
        let message = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%source, error = %e, "unparsable SIP message dropped");
                return;
            }
        };
        match self.layer.handle(now, message, false) {
            tx::Incoming::NewRequest { key, request } => {
                self.dests.insert(key.clone(), source);
                self.on_request(now, key, request, source, env);
            }
            tx::Incoming::Cancel {
                key,
                request,
                invite,
            } => {
                self.dests.insert(key.clone(), source);
                self.on_cancel(now, key, request, invite);
            }
            tx::Incoming::Ack2xx { ack, .. } | tx::Incoming::StrayAck(ack) => self.on_ack(&ack),
            tx::Incoming::Response { key, response } if self.refers.contains_key(&key) => {
                self.on_refer_response(&key, &response);
            }
            tx::Incoming::Response { response, .. } if self.is_dial_message(&response) => {
                self.on_dial_response(now, &response);
            }
            tx::Incoming::Response { key, response } => self.on_notify_response(&key, &response),
            // A 2xx retransmitted after its INVITE's transaction ended (RFC 6026 §7.2).
            tx::Incoming::StrayResponse(response) if self.is_dial_message(&response) => {
                self.on_dial_response(now, &response);
            }
            tx::Incoming::StrayResponse(_) => {}
            tx::Incoming::Absorbed => {}
            tx::Incoming::Malformed { error, .. } => {
                tracing::debug!(%source, %error, "unmatchable SIP message dropped");
            }
            _ => {}
        }
        self.drain_layer();
    }

    /// An RTP datagram that reached our `port` from `source`.
    pub fn handle_rtp(&mut self, now: Instant, port: u16, source: SocketAddr, bytes: &[u8]) {
        let Some(call) = self.by_port.get(&port) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(call) {
            if let Some(packet) = c.srtp.incoming_rtp(bytes) {
                c.session.receive(now, source, &packet);
            }
        }
    }

    /// An RTCP datagram received on the RTCP port of the call whose RTP port is `port`
    /// (RFC 3550 §6, §11: the RTP port + 1).
    pub fn handle_rtcp(&mut self, now: Instant, port: u16, source: SocketAddr, bytes: &[u8]) {
        let Some(call) = self.by_port.get(&port) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(call) {
            if let Some(packet) = c.srtp.incoming_rtcp(bytes) {
                c.session.receive_rtcp(now, source, &packet);
            }
        }
    }

    /// One 20 ms media tick of every call: RTP to send ([`ServiceUa::poll_rtp`]), and the
    /// calls whose application is done end.
    pub fn tick(&mut self, now: Instant) {
        let mut done = Vec::new();
        let mut admitted = Vec::new();
        let mut refers = Vec::new();
        let mut packets = Vec::new();
        for (&number, call) in &mut self.calls {
            if call.phase == Phase::Answered && call.unacked.is_none() {
                // No ACK needed any more (a reliable hop); treat as confirmed.
                call.phase = Phase::Confirmed;
            }
            packets.clear();
            let next = call.session.tick(now, &mut packets);
            for packet in packets.drain(..) {
                let protected = if packet.rtcp {
                    call.srtp.outgoing_rtcp(&packet.bytes)
                } else {
                    call.srtp.outgoing_rtp(&packet.bytes)
                };
                let Some(payload) = protected.map(Cow::into_owned) else {
                    continue;
                };
                self.rtp_out.push_back(RtpTransmit {
                    port: call.rtp_port,
                    rtcp: packet.rtcp,
                    dest: packet.dest,
                    payload,
                });
            }
            if let Some(recording) = call.session.take_recording() {
                deposit(&mut self.events, call, recording);
            }
            menu_events(&mut self.events, number, &mut call.session);
            if let Some(ivr) = call.session.ivr() {
                while let Some(ivr::IvrAction::Refer(target)) = ivr.poll_action() {
                    refers.push((number, target));
                }
            }
            if let Some(leg) = call.session.conference() {
                if leg.take_admitted() {
                    admitted.push(number);
                } else if leg.take_refused() {
                    let room = self.entering.get(&number);
                    tracing::info!(call = number, caller = %call.caller, room = %room.map(ToString::to_string).unwrap_or_default(), "conference PIN refused");
                }
            }
            if next == Next::Done || now >= call.hard_end {
                done.push(number);
            }
        }
        for number in admitted {
            if let Some(room) = self.entering.remove(&number) {
                self.join_room(now, room, number);
            }
        }
        self.rooms.mix(&mut self.calls);
        for (number, target) in refers {
            if !done.contains(&number) {
                self.send_refer(now, number, target);
            }
        }
        for number in done {
            self.finish(now, number);
        }
        self.drain_layer();
    }

    /// Fires the SIP timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        let mut give_up = Vec::new();
        for (&number, call) in &mut self.calls {
            if let Some((bytes, at, interval)) = &mut call.unacked {
                if *at <= now {
                    self.out.push_back(Transmit {
                        dest: call.source,
                        payload: bytes.clone(),
                    });
                    *at = now + *interval;
                    *interval = (*interval * 2).min(self.config.timers.t2);
                }
            }
            if call.ack_deadline.is_some_and(|d| d <= now) {
                give_up.push(number);
            }
        }
        for number in give_up {
            tracing::info!(call = number, "no ACK for our 200 within 64*T1: BYE");
            self.end_with_bye(now, number);
        }
        self.subscriptions_timeout(now);
        self.transfers_timeout(now);
        self.drain_layer();
        self.dials_timeout(now);
    }

    /// When [`ServiceUa::handle_timeout`] is next due (the media tick is apart).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self
            .calls
            .values()
            .flat_map(|c| {
                [
                    c.unacked.as_ref().map(|u| u.1),
                    c.ack_deadline,
                    c.transfer.as_ref().map(|t| t.deadline),
                ]
            })
            .flatten()
            .chain(self.subscriptions.poll_timeout())
            .chain(self.dials.poll_timeout())
            .min();
        match (own, self.layer.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next SIP message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next RTP packet to send.
    pub fn poll_rtp(&mut self) -> Option<RtpTransmit> {
        self.rtp_out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServiceEvent> {
        let event = self.events.pop_front()?;
        self.recount_after(&event);
        Some(event)
    }

    /// The answer to [`ServiceEvent::ListMessages`]: the messages of the mailbox, new ones
    /// first, each part oldest first. The menu starts: "you have N new messages" (or "no
    /// new messages"), then the first message.
    pub fn messages(&mut self, call: CallNumber, messages: Vec<StoredMessage>) {
        if let Some(menu) = self.calls.get_mut(&call).and_then(|c| c.session.menu()) {
            menu.messages(messages);
        }
        self.menu_events(call);
    }

    /// The answer to [`ServiceEvent::CheckPin`]: the mailbox the PIN opened, or `None`.
    /// A third failure ends the call.
    pub fn login(&mut self, call: CallNumber, mailbox: Option<Mailbox>) {
        if let Some(c) = self.calls.get_mut(&call) {
            if let Some(menu) = c.session.menu() {
                menu.logged_in(mailbox);
                c.mailbox = menu.mailbox().cloned();
            }
        }
        self.menu_events(call);
    }

    /// The menu's actions of call `number` as events.
    fn menu_events(&mut self, number: CallNumber) {
        if let Some(c) = self.calls.get_mut(&number) {
            menu_events(&mut self.events, number, &mut c.session);
        }
    }

    // ----- requests -----

    fn on_request(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        source: SocketAddr,
        env: &mut dyn Environment,
    ) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        let in_dialog = request.to().ok().and_then(|t| t.tag()).is_some();
        if in_dialog
            && self.is_dial_message(&request)
            && self.on_dial_request(now, &key, &request, &method)
        {
            return;
        }
        if in_dialog && method == Method::Subscribe {
            self.on_resubscribe(now, key, request);
            return;
        }
        if in_dialog {
            self.on_dialog_request(now, key, request, method);
            return;
        }
        match method {
            Method::Invite => self.on_invite(now, key, request, source, env),
            Method::Subscribe => self.on_subscribe(now, key, request, source),
            Method::Options => {
                let r = self
                    .response(&request, 200, None)
                    .header(HeaderName::Allow, ALLOW)
                    .header(HeaderName::AllowEvents, mwi::EVENT)
                    .header(HeaderName::from_name("Accept"), "application/sdp");
                self.respond(now, &key, r);
            }
            Method::Ack => {}
            Method::Bye | Method::Info => {
                let r = self.response(&request, 481, None);
                self.respond(now, &key, r);
            }
            _ => {
                let r = self
                    .response(&request, 405, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, &key, r);
            }
        }
    }

    /// A response to `request` with our tag when it has none.
    fn response(&mut self, request: &Message, code: u16, reason: Option<&str>) -> MessageBuilder {
        let tag = (code > 100 && request.to().ok().and_then(|t| t.tag()).is_none())
            .then(|| self.token(10));
        MessageBuilder::response_to(request, code, reason, tag.as_deref())
    }

    /// A new call (RFC 3261 §13.3.1): the service from the Request-URI, the SDP answer
    /// (RFC 3264 §6), an RTP port, then 200 (or 183 for an announcement).
    fn on_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        source: SocketAddr,
        env: &mut dyn Environment,
    ) {
        let service = request.request_uri_str().and_then(Service::of_uri);
        let Some(service) = service else {
            tracing::info!(
                uri = request.request_uri_str().unwrap_or(""),
                "no such service"
            );
            let r = self.response(&request, 404, Some("No Such Service"));
            self.respond(now, &key, r);
            return;
        };
        let prompt = match &service {
            Service::Announce { prompt, .. } => match self.config.prompts.get(prompt) {
                Some(p) => Some(p.clone()),
                None => {
                    tracing::warn!(%prompt, "announcement of an unknown prompt");
                    let r = self.response(&request, 404, Some("No Such Prompt"));
                    self.respond(now, &key, r);
                    return;
                }
            },
            _ => None,
        };
        if let Service::Ivr { menu, .. } = &service {
            if self.config.ivr.get(menu).is_none() {
                tracing::warn!(%menu, "a call for an unknown IVR menu");
                let r = self.response(&request, 404, Some("No Such Menu"));
                self.respond(now, &key, r);
                return;
            }
        }
        if let Service::Conference(room) = &service {
            if self.rooms.is_full(room) {
                tracing::info!(%room, "conference room full");
                let r = self.response(&request, 486, Some("Conference Full"));
                self.respond(now, &key, r);
                return;
            }
        }
        let offer = match SessionDescription::from_bytes(request.body()) {
            Ok(offer) if !request.body().is_empty() => offer,
            _ => {
                // No offer (a late-offer INVITE) or a malformed one: this UA answers
                // offers only.
                let r = self.response(&request, 488, Some("SDP Offer Required"));
                self.respond(now, &key, r);
                return;
            }
        };
        let Some(port) = env.open_rtp() else {
            tracing::warn!("no free RTP port for a service call");
            let r = self
                .response(&request, 503, Some("No Media Port Free"))
                .header(HeaderName::RetryAfter, "5");
            self.respond(now, &key, r);
            return;
        };
        let session_id = self.rng.u64(1..u64::MAX / 2);
        let local = LocalMedia::new(self.config.media_ip, port, local_codecs(), session_id, 1);
        let (answer, negotiated, srtp) = match answer_offer(&local, &offer, None) {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(error = %e, "service call refused: no common codec");
                self.events.push_back(ServiceEvent::Ended {
                    call: 0,
                    rtp_port: port,
                });
                let r = self
                    .response(&request, e.status_code(), Some("Not Acceptable Here"))
                    .header(
                        HeaderName::from_name("Warning"),
                        "305 itsp \"Incompatible media format: PCMU, PCMA or GSM required\"",
                    )
                    .header(HeaderName::Accept, "application/sdp");
                self.respond(now, &key, r);
                return;
            }
        };
        let Some(codec) = Codec::from_encoding_name(&negotiated.codec.encoding_name) else {
            self.events.push_back(ServiceEvent::Ended {
                call: 0,
                rtp_port: port,
            });
            let r = self.response(&request, 488, None);
            self.respond(now, &key, r);
            return;
        };
        let caller = request
            .from()
            .ok()
            .map(|f| f.uri.to_owned())
            .unwrap_or_default();
        let (app, mailbox, final_code) = match &service {
            Service::Echo => {
                let echo = Echo::new(self.config.echo_delay).unwrap_or_default();
                (App::Echo(echo), None, 200)
            }
            Service::Voicemail(mailbox) => {
                let vm = self.voicemail(mailbox, env);
                (App::Voicemail(Box::new(vm)), Some(mailbox.clone()), 200)
            }
            Service::Retrieve(_) | Service::Login(_) => {
                let prompts = self.config.prompts.clone();
                let recorder = self.config.recorder.clone();
                let made = match &service {
                    Service::Retrieve(mailbox) => {
                        menu::Menu::owner(prompts, codec, recorder, caller.clone(), mailbox.clone())
                    }
                    _ => {
                        let domain = match &service {
                            Service::Login(domain) => domain.clone(),
                            _ => String::new(),
                        };
                        menu::Menu::login(prompts, codec, recorder, caller.clone(), domain)
                    }
                };
                match made {
                    Ok(m) => {
                        let mailbox = m.mailbox().cloned();
                        (App::Mailbox(Box::new(m)), mailbox, 200)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "voicemail menu not started");
                        self.events.push_back(ServiceEvent::Ended {
                            call: 0,
                            rtp_port: port,
                        });
                        let r = self.response(&request, 500, None);
                        self.respond(now, &key, r);
                        return;
                    }
                }
            }
            Service::Announce { code, .. } => {
                let mut player = Player::new(codec);
                if let Some(p) = prompt {
                    player.push(p);
                }
                (App::Announce(player), None, *code)
            }
            Service::Conference(_) => {
                let leg = conference::ConferenceLeg::new(Player::new(codec));
                (App::Conference(Box::new(leg)), None, 200)
            }
            Service::Ivr { domain, menu } => {
                let made = ivr::Ivr::new(
                    self.config.ivr.clone(),
                    self.config.prompts.clone(),
                    caller.clone(),
                    domain.clone(),
                    menu,
                    transfer::allows_refer(&request),
                );
                match made {
                    Ok(ivr) => (App::Ivr(Box::new(ivr)), None, 200),
                    Err(e) => {
                        tracing::warn!(error = %e, "IVR not started");
                        self.events.push_back(ServiceEvent::Ended {
                            call: 0,
                            rtp_port: port,
                        });
                        let r = self.response(&request, 500, None);
                        self.respond(now, &key, r);
                        return;
                    }
                }
            }
        };
        let seeds = StreamSeeds {
            ssrc: self.rng.u32(..),
            sequence: self.rng.u16(..),
            timestamp: self.rng.u32(..),
        };
        let session = match Session::new(
            now,
            codec,
            negotiated.codec.payload_type_number(),
            negotiated.telephone_event,
            negotiated.remote_rtp,
            seeds,
            app,
        ) {
            Ok(mut s) => {
                s.set_remote_rtcp(negotiated.remote_rtcp);
                s
            }
            Err(e) => {
                tracing::warn!(error = %e, "media session not started");
                self.events.push_back(ServiceEvent::Ended {
                    call: 0,
                    rtp_port: port,
                });
                let r = self.response(&request, 500, None);
                self.respond(now, &key, r);
                return;
            }
        };
        let number = self.next_call;
        self.next_call += 1;
        let local_tag = self.token(10);
        let early = matches!(service, Service::Announce { .. });
        let code = if early { 183 } else { 200 };
        let mut r = MessageBuilder::response_to(&request, code, None, Some(&local_tag))
            .header(HeaderName::Contact, &self.contact(service.name()))
            .header(HeaderName::Allow, ALLOW);
        // §12.1.1: a response that creates a dialog copies the Record-Route.
        for rr in request.header_values(HeaderName::RecordRoute) {
            r = r.header(HeaderName::RecordRoute, rr);
        }
        let r = r
            .header(HeaderName::Server, &self.config.user_agent)
            .body("application/sdp", answer.to_string().into_bytes());
        let response = match r.build() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "answer not built");
                self.events.push_back(ServiceEvent::Ended {
                    call: 0,
                    rtp_port: port,
                });
                let r = self.response(&request, 500, None);
                self.respond(now, &key, r);
                return;
            }
        };
        let dialog = match Dialog::uas(&request, &local_tag, !early) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::debug!(error = %e, "no dialog for the service call");
                None
            }
        };
        let t1 = self.config.timers.t1;
        let unacked = (!early).then(|| {
            (
                response.as_bytes().clone(),
                now + t1,
                (t1 * 2).min(self.config.timers.t2),
            )
        });
        if let Err(e) = self.layer.send_response(now, &key, response) {
            tracing::debug!(error = %e, "answer not sent");
        }
        tracing::info!(
            call = number,
            service = service.name(),
            %caller,
            codec = %codec,
            srtp = srtp.counters().suite.map_or("off", |suite| suite.name()),
            rtp_port = port,
            "service call"
        );
        self.events.push_back(ServiceEvent::Started {
            call: number,
            service: service.clone(),
            caller: caller.clone(),
            rtp_port: port,
        });
        self.by_port.insert(port, number);
        self.calls.insert(
            number,
            Call {
                invite_key: key,
                invite: request,
                source,
                local_tag,
                dialog,
                phase: if early { Phase::Early } else { Phase::Answered },
                rtp_port: port,
                session,
                local,
                last_local: answer,
                mailbox,
                caller,
                unacked,
                ack_deadline: (!early).then(|| now + t1 * 64),
                hard_end: now + self.config.max_call,
                final_code,
                transfer: None,
                srtp,
            },
        );
        if let Service::Conference(room) = service {
            // In once the room's PIN is known (and typed, when it has one).
            self.entering.insert(number, room.clone());
            self.events
                .push_back(ServiceEvent::RoomPin { call: number, room });
        }
        self.menu_events(number);
        self.drain_layer();
    }

    /// Call `number` enters `room`: alone, it hears "you are the first participant";
    /// else everyone hears the join tone.
    fn join_room(&mut self, now: Instant, room: conference::RoomKey, number: CallNumber) {
        let before = self.rooms.join(room.clone(), number, now);
        tracing::info!(call = number, %room, participants = before.len() + 1, "joined the conference");
        let first = self.config.prompts.get(names::CONF_FIRST).cloned();
        if before.is_empty() {
            if let (Some(prompt), Some(leg)) = (
                first,
                self.calls
                    .get_mut(&number)
                    .and_then(|c| c.session.conference()),
            ) {
                leg.cue.push(prompt);
            }
            return;
        }
        for call in before.into_iter().chain([number]) {
            if let Some(leg) = self
                .calls
                .get_mut(&call)
                .and_then(|c| c.session.conference())
            {
                leg.join_tone(now);
            }
        }
    }

    /// The deposit's application: the personal greeting or the default one naming the
    /// mailbox (its digits, else "the mailbox you called"), the beep, then recording.
    fn voicemail(&mut self, mailbox: &Mailbox, env: &mut dyn Environment) -> Voicemail {
        let prompts = &self.config.prompts;
        let mut player = Player::new(Codec::Pcmu);
        let mut greeting: Vec<Prompt> = Vec::new();
        if let Some(own) = env.greeting(mailbox) {
            greeting.push(own);
        } else {
            let digits = prompts.digits(&mailbox.user);
            let all_digits = mailbox.user.chars().all(|c| c.is_ascii_digit());
            match (
                prompts.get(names::VM_MAILBOX_OF),
                all_digits && !digits.is_empty(),
            ) {
                (Some(of), true) => {
                    greeting.push(of.clone());
                    greeting.extend(digits);
                    greeting.extend(prompts.get(names::VM_LEAVE_MESSAGE).cloned());
                }
                _ => greeting.extend(prompts.get(names::VM_GREETING).cloned()),
            }
        }
        player.extend(greeting);
        player.push(ToneSpec::BEEP);
        Voicemail {
            player,
            recorder: None,
            config: self.config.recorder.clone(),
            outcome: None,
            goodbye: prompts.get(names::GOODBYE).cloned(),
            finished: false,
        }
    }

    /// CANCEL (§9.2): 200, and an announcement still in its early phase gets 487.
    fn on_cancel(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        invite: Option<TransactionKey>,
    ) {
        let Some(invite) = invite else {
            let r = self.response(&request, 481, None);
            self.respond(now, &key, r);
            return;
        };
        let r = MessageBuilder::response_to(&request, 200, None, None);
        self.respond(now, &key, r);
        let found = self
            .calls
            .iter()
            .find(|(_, c)| c.invite_key == invite && c.phase == Phase::Early)
            .map(|(n, _)| *n);
        if let Some(number) = found {
            if let Some(c) = self.calls.get(&number) {
                let r = MessageBuilder::response_to(&c.invite, 487, None, Some(&c.local_tag));
                let key = c.invite_key.clone();
                self.respond(now, &key, r);
            }
            self.close(number);
        }
    }

    /// ACK for our 2xx (§13.3.1.4): stops its retransmission.
    fn on_ack(&mut self, ack: &Message) {
        let Some(number) = DialogId::of_received_request(ack).and_then(|id| self.by_dialog(&id))
        else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&number) {
            c.unacked = None;
            c.ack_deadline = None;
            c.phase = Phase::Confirmed;
        }
    }

    /// A request inside a call (§12.2.2).
    fn on_dialog_request(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Message,
        method: Method,
    ) {
        let number = DialogId::of_received_request(&request).and_then(|id| self.by_dialog(&id));
        let Some(number) = number else {
            let r = self.response(&request, 481, None);
            self.respond(now, &key, r);
            return;
        };
        let order = self
            .calls
            .get_mut(&number)
            .and_then(|c| c.dialog.as_mut())
            .map(|d| d.receive_request(&request));
        if let Some(Err(e)) = order {
            tracing::debug!(call = number, error = %e, "request out of order");
            let r = self.response(&request, 500, None);
            self.respond(now, &key, r);
            return;
        }
        match method {
            Method::Bye => {
                let r = self.response(&request, 200, None);
                self.respond(now, &key, r);
                tracing::info!(call = number, "caller hung up");
                if let Some(c) = self.calls.get_mut(&number) {
                    c.session.hang_up();
                }
                self.close(number);
            }
            Method::Info => {
                let content_type = request.header(HeaderName::ContentType).unwrap_or("");
                match crate::dtmf::parse_info(content_type, request.body()) {
                    Ok(digit) => {
                        if let Some(c) = self.calls.get_mut(&number) {
                            c.session.digit(now, digit.digit);
                        }
                        let r = self.response(&request, 200, None);
                        self.respond(now, &key, r);
                    }
                    Err(e) => {
                        let code = e.status_code().unwrap_or(400);
                        let r = self.response(&request, code, None);
                        self.respond(now, &key, r);
                    }
                }
            }
            Method::Invite => self.on_reinvite(now, number, key, request),
            Method::Notify => self.on_transfer_notify(now, number, key, request),
            Method::Options => {
                let r = self
                    .response(&request, 200, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, &key, r);
            }
            _ => {
                let r = self
                    .response(&request, 405, None)
                    .header(HeaderName::Allow, ALLOW);
                self.respond(now, &key, r);
            }
        }
    }

    /// A re-INVITE (RFC 3264 §8): answered from our media, same port, the session
    /// version moved on; the codec stays the one chosen first.
    fn on_reinvite(
        &mut self,
        now: Instant,
        number: CallNumber,
        key: TransactionKey,
        request: Message,
    ) {
        let contact = self.contact("service");
        let Some(c) = self.calls.get_mut(&number) else {
            return;
        };
        let running = c.srtp.pair().cloned();
        let answered = SessionDescription::from_bytes(request.body())
            .ok()
            .filter(|_| !request.body().is_empty())
            .and_then(|offer| answer_offer(&c.local, &offer, running.as_ref()).ok());
        let Some((mut answer, negotiated, _)) = answered else {
            let r = MessageBuilder::response_to(&request, 488, None, None);
            self.respond(now, &key, r);
            return;
        };
        if let Err(e) = c.srtp.update(negotiated.crypto.as_ref()) {
            tracing::info!(call = number, error = %e, "re-INVITE refused: its SRTP keys");
            let r = MessageBuilder::response_to(&request, 488, None, None);
            self.respond(now, &key, r);
            return;
        }
        answer.continue_from(&c.last_local);
        c.session.set_remote(negotiated.remote_rtp);
        if let Some(d) = c.dialog.as_mut() {
            d.refresh_target(&request);
        }
        let body = answer.to_string();
        c.last_local = answer;
        let r = MessageBuilder::response_to(&request, 200, None, None)
            .header(HeaderName::Contact, &contact)
            .header(HeaderName::Allow, ALLOW)
            .body("application/sdp", body.into_bytes());
        self.respond(now, &key, r);
    }

    // ----- ending calls -----

    /// The application of call `number` is done: BYE for an answered call, the final
    /// response for an announcement.
    fn finish(&mut self, now: Instant, number: CallNumber) {
        let Some(c) = self.calls.get(&number) else {
            return;
        };
        if c.phase == Phase::Early {
            let code = c.final_code;
            let r = MessageBuilder::response_to(&c.invite, code, None, Some(&c.local_tag))
                .header(HeaderName::Server, &self.config.user_agent);
            let key = c.invite_key.clone();
            self.respond(now, &key, r);
            self.close(number);
            return;
        }
        self.end_with_bye(now, number);
    }

    /// Sends BYE in call `number` (§15.1.1) and closes it.
    fn end_with_bye(&mut self, now: Instant, number: CallNumber) {
        let via = self.via();
        let Some(c) = self.calls.get_mut(&number) else {
            return;
        };
        c.session.hang_up();
        let source = c.source;
        if let Some(dialog) = c.dialog.as_mut() {
            let dest = first_hop(dialog).unwrap_or(source);
            let bye = dialog
                .request(&Method::Bye, &via, None)
                .header(HeaderName::UserAgent, &self.config.user_agent)
                .build();
            match bye {
                Ok(bye) => match self.layer.send_request(now, bye, false) {
                    Ok(key) => {
                        self.dests.insert(key, dest);
                    }
                    Err(e) => tracing::debug!(error = %e, "BYE not sent"),
                },
                Err(e) => tracing::debug!(error = %e, "BYE not built"),
            }
        }
        self.close(number);
        self.drain_layer();
    }

    /// Forgets call `number`: a deposit still pending is reported, then the end.
    fn close(&mut self, number: CallNumber) {
        let Some(mut c) = self.calls.remove(&number) else {
            return;
        };
        self.by_port.remove(&c.rtp_port);
        self.refers.retain(|_, call| *call != number);
        c.session.hang_up();
        self.entering.remove(&number);
        if let Some((room, rest)) = self.rooms.leave(number) {
            tracing::info!(call = number, %room, participants = rest.len(), "left the conference");
            for call in rest {
                if let Some(leg) = self
                    .calls
                    .get_mut(&call)
                    .and_then(|c| c.session.conference())
                {
                    leg.cue.push(ToneSpec::LEAVE);
                }
            }
        }
        if let Some(recording) = c.session.take_recording() {
            deposit(&mut self.events, &c, recording);
        }
        menu_events(&mut self.events, number, &mut c.session);
        if c.session.dropped > 0 {
            tracing::debug!(
                call = number,
                dropped = c.session.dropped,
                "RTP packets dropped"
            );
        }
        let report = c.session.report();
        tracing::info!(
            call = number,
            caller = %c.caller,
            remote = %c.session.remote(),
            packets_received = report.packets_received,
            packets_lost = report.packets_lost,
            jitter_ms = report.jitter_ms,
            rtt_ms = report.rtt_ms,
            mos = report.mos,
            "service call ended"
        );
        self.events.push_back(ServiceEvent::Ended {
            call: number,
            rtp_port: c.rtp_port,
        });
    }

    // ----- sending -----

    fn respond(&mut self, now: Instant, key: &TransactionKey, response: MessageBuilder) {
        let response = response.header(HeaderName::Server, &self.config.user_agent);
        match response.build() {
            Ok(r) => {
                if let Err(e) = self.layer.send_response(now, key, r) {
                    tracing::debug!(error = %e, "response not sent");
                }
            }
            Err(e) => tracing::warn!(error = %e, "response could not be built"),
        }
        self.drain_layer();
    }

    fn drain_layer(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                if let Some(&dest) = self.dests.get(&t.key) {
                    self.out.push_back(Transmit {
                        dest,
                        payload: t.payload,
                    });
                }
            }
            while let Some(event) = self.layer.poll_event() {
                progressed = true;
                match event {
                    tx::Event::Terminated(key) => {
                        self.dests.remove(&key);
                    }
                    tx::Event::Timeout { key, .. } if self.refers.contains_key(&key) => {
                        self.on_refer_timeout(&key);
                    }
                    tx::Event::Timeout { key, .. } if self.dials.is_invite_key(&key) => {
                        self.dials.timed_out.push(key);
                    }
                    tx::Event::Timeout { key, .. } => self.on_notify_timeout(&key),
                    _ => {}
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn by_dialog(&self, id: &DialogId) -> Option<CallNumber> {
        self.calls
            .iter()
            .find(|(_, c)| c.dialog.as_ref().is_some_and(|d| d.id() == id))
            .map(|(n, _)| *n)
    }

    fn contact(&self, user: &str) -> String {
        format!("<sip:{user}@{}>", self.config.contact_host)
    }

    fn via(&mut self) -> String {
        let branch = self.token(16);
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{branch};rport",
            self.config.contact_host
        )
    }

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.usize(..ALPHABET.len())]))
            .collect()
    }
}

/// Our codecs, in the order we prefer them (the answer keeps the offer's order, RFC 3264
/// §6.1): G.711 µ-law and A-law, GSM 06.10, and RFC 4733 telephone-event.
/// Our answer to an offer (RFC 3264 §6), with SDES-SRTP when the offer keys it
/// (RFC 4568 §7.1.2) and plain RTP otherwise, and the protection it settles. A re-offer
/// carrying the peer's `running` line keeps our running line and key, so no packet in
/// flight is lost to a key change (RFC 4568 §7.1.4).
fn answer_offer(
    local: &LocalMedia,
    offer: &SessionDescription,
    running: Option<&sdp::CryptoPair>,
) -> Result<(SessionDescription, sdp::Negotiated, Protection), sdp::SdpError> {
    let mut choose = |offered: &sdp::Crypto| match running {
        Some(pair) if pair.theirs == *offered => Some(pair.ours.clone()),
        _ => answer_crypto(offered),
    };
    let (answer, negotiated) = local.answer_srtp(offer, false, &mut choose)?;
    // A line `choose` accepted is one `rtp::srtp` keys, so this does not fail; if it ever
    // did, the offer is refused like one with nothing in common.
    let srtp = Protection::new(negotiated.crypto.as_ref()).map_err(|e| {
        tracing::info!(error = %e, "SRTP keys of an offer not usable");
        sdp::SdpError::NoCommonCodec
    })?;
    Ok((answer, negotiated, srtp))
}

fn local_codecs() -> Vec<sdp::Codec> {
    vec![
        sdp::Codec::PCMU,
        sdp::Codec::PCMA,
        sdp::Codec::GSM,
        sdp::Codec::TELEPHONE_EVENT,
    ]
}

/// Where the dialog's requests go: the first Route (the proxy that record-routed) or the
/// remote target, when it is an IP address; `None` to use the INVITE's source.
fn first_hop(dialog: &Dialog) -> Option<SocketAddr> {
    let uri = match dialog.route_set().first() {
        Some(route) => {
            let route = sip::headers::NameAddr::parse(route).ok()?;
            route.uri.to_owned()
        }
        None => dialog.remote_target().to_owned(),
    };
    let Ok(Uri::Sip(uri)) = Uri::parse(&uri) else {
        return None;
    };
    let ip = uri.host.ip()?;
    Some(SocketAddr::new(ip, uri.port.unwrap_or(5060)))
}

/// The voicemail menu's actions of call `number` as events for the shell.
fn menu_events(events: &mut VecDeque<ServiceEvent>, number: CallNumber, session: &mut Session) {
    let Some(menu) = session.menu() else {
        return;
    };
    while let Some(action) = menu.poll_action() {
        events.push_back(match action {
            menu::MenuAction::ListMessages(mailbox) => ServiceEvent::ListMessages {
                call: number,
                mailbox,
            },
            menu::MenuAction::CheckPin {
                domain,
                number: mailbox,
                pin,
            } => ServiceEvent::CheckPin {
                call: number,
                domain,
                number: mailbox,
                pin,
            },
            menu::MenuAction::Heard(mailbox, ids) => ServiceEvent::Heard { mailbox, ids },
            menu::MenuAction::Delete(mailbox, id) => ServiceEvent::Deleted { mailbox, id },
            menu::MenuAction::Greeting(mailbox, wav) => ServiceEvent::Greeting { mailbox, wav },
            menu::MenuAction::SetPin(mailbox, pin) => ServiceEvent::SetPin { mailbox, pin },
        });
    }
}

/// Reports a recording: a message to keep, or a log line for one too short.
fn deposit(events: &mut VecDeque<ServiceEvent>, call: &Call, recording: Recording) {
    let Some(mailbox) = call.mailbox.clone() else {
        return;
    };
    match recording {
        Recording::Message {
            wav,
            duration,
            reason,
        } => {
            tracing::info!(%mailbox, caller = %call.caller, ?duration, ?reason, "voicemail recorded");
            events.push_back(ServiceEvent::Message(Deposit {
                mailbox,
                caller: call.caller.clone(),
                wav,
                duration,
                reason,
            }));
        }
        Recording::TooShort { duration, reason } => {
            tracing::info!(%mailbox, caller = %call.caller, ?duration, ?reason, "voicemail under the minimum length: discarded");
        }
    }
}

#[cfg(test)]
mod tests;
