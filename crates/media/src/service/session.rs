//! The media of one service call: an RTP stream ([`rtp::MediaStream`]: jitter buffer,
//! RFC 4733 events) and the application that hears the caller and makes what is sent back,
//! one 20 ms frame per [`Session::tick`].
//!
//! - [`App::Echo`]: [`Echo`], the caller's audio back after a delay, digits as tones.
//! - [`App::Voicemail`]: the greeting and the beep ([`Player`]), then the [`Recorder`]
//!   until `#`, silence, the maximum length or the hang-up; then "goodbye" and a BYE.
//! - [`App::Announce`]: a prompt as early media (RFC 3960 style: 183 with SDP), then the
//!   final response.
//! - [`App::Mailbox`]: the voicemail menu ([`super::menu`]) — the mailbox number and PIN
//!   from another phone, then the messages with their keys, the greeting and the PIN.
//! - [`App::Conference`]: a participant of a room ([`super::conference`]): what the
//!   caller says goes to the room's mix, the others' voices come back with the room's cues.
//! - [`App::Ivr`]: an IVR menu ([`super::ivr`]): its prompt and keys, transfers.
//!
//! Symmetric RTP (RFC 4961): packets go to the address in the peer's SDP until the first
//! packet arrives, then to where that packet came from (the latched address), so a caller
//! behind a NAT hears us.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use rtp::codec::{Codec, Encoder, FRAME_SAMPLES};
use rtp::stream::Channel;
use rtp::{MediaStream, StreamConfig};

use super::conference::ConferenceLeg;
use super::ivr::Ivr;
use super::menu::Menu;
use crate::echo::Echo;
use crate::listener::Listener;
use crate::player::Player;
use crate::recorder::{Recorder, RecorderConfig, Recording};
use crate::PcmFrame;

/// What a session wants after a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Go on.
    Continue,
    /// The application is done: end the call (BYE, or the final response of an
    /// announcement).
    Done,
}

/// The application of a call.
#[derive(Debug)]
pub(crate) enum App {
    /// The echo test.
    Echo(Echo),
    /// A voicemail deposit.
    Voicemail(Box<Voicemail>),
    /// An announcement, then the call ends.
    Announce(Player),
    /// The voicemail menu: the owner's messages, greeting and PIN ([`Menu`]).
    Mailbox(Box<Menu>),
    /// A participant of a conference room.
    Conference(Box<ConferenceLeg>),
    /// A caller of an IVR menu.
    Ivr(Box<Ivr>),
}

/// A voicemail deposit in progress.
#[derive(Debug)]
pub(crate) struct Voicemail {
    /// The greeting and the beep, then "goodbye" after the recording.
    pub(crate) player: Player,
    /// Recording, once the greeting and beep have been played.
    pub(crate) recorder: Option<Recorder>,
    pub(crate) config: RecorderConfig,
    /// The outcome, once the recording stopped.
    pub(crate) outcome: Option<Recording>,
    /// The goodbye to play after the recording.
    pub(crate) goodbye: Option<crate::Prompt>,
    /// The recording has been made (or the caller hung up).
    pub(crate) finished: bool,
}

impl Voicemail {
    /// Ends the recording (hang-up, or a stop condition) and keeps the outcome.
    fn stop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(mut recorder) = self.recorder.take() {
            recorder.hang_up();
            self.outcome = Some(recorder.finish());
        } else {
            // Hung up during the greeting: nothing recorded.
            self.outcome = Some(Recording::TooShort {
                duration: Duration::ZERO,
                reason: crate::StopReason::HangUp,
            });
        }
    }
}

/// One call's media.
#[derive(Debug)]
pub(crate) struct Session {
    stream: MediaStream,
    codec: Codec,
    encoder: Encoder,
    listener: Listener,
    /// Where packets go: the SDP address, then the latched source.
    remote: SocketAddr,
    latched: bool,
    /// Where RTCP goes: the SDP's `a=rtcp` or RTP port + 1 (RFC 3605, RFC 3550 §11),
    /// then the source of the peer's RTCP.
    rtcp_remote: Option<SocketAddr>,
    /// When the session started: the RTCP wall clock counts from it (the core reads no
    /// clock of its own; RFC 3550 §6.4.1 asks only that it be steady).
    started: Instant,
    pub(crate) app: App,
    /// Packets that could not be read (not RTP, another SSRC's garbage...).
    pub(crate) dropped: u64,
}

/// A datagram a session sends.
#[derive(Debug)]
pub(crate) struct Packet {
    pub(crate) dest: SocketAddr,
    pub(crate) bytes: Vec<u8>,
    /// RTCP, from the call's RTCP socket; else RTP.
    pub(crate) rtcp: bool,
}

/// The randomness RFC 3550 asks of a stream (§5.1, §8.1), from the core's generator.
pub(crate) struct StreamSeeds {
    pub(crate) ssrc: u32,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
}

impl Session {
    /// A session sending `codec` (payload type `payload_type`, telephone-event on
    /// `telephone_event`) to `remote`.
    pub(crate) fn new(
        now: Instant,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        remote: SocketAddr,
        seeds: StreamSeeds,
        app: App,
    ) -> Result<Session, rtp::Error> {
        let mut config = StreamConfig::new(
            seeds.ssrc,
            seeds.sequence,
            seeds.timestamp,
            payload_type,
            "itsp-media",
        );
        config.telephone_event = telephone_event;
        if codec == Codec::Gsm {
            config.codec = rtp::quality::CodecImpairment::GSM_FR;
        }
        let stream = MediaStream::new(config, now, SystemTime::UNIX_EPOCH)?;
        Ok(Session {
            stream,
            codec,
            encoder: codec.encoder(),
            listener: Listener::new(codec),
            remote,
            latched: false,
            rtcp_remote: None,
            started: now,
            app,
            dropped: 0,
        })
    }

    /// Where RTCP goes, from the SDP (`None`: nowhere, e.g. port 0).
    pub(crate) fn set_remote_rtcp(&mut self, remote: Option<SocketAddr>) {
        self.rtcp_remote = remote.filter(|a| a.port() != 0 && !a.ip().is_unspecified());
    }

    /// The RTCP wall clock at `now`: the Unix epoch plus the session's age (steady, so
    /// the round trip of our reports comes out right, RFC 3550 §6.4.1).
    fn wall(&self, now: Instant) -> SystemTime {
        SystemTime::UNIX_EPOCH + now.saturating_duration_since(self.started)
    }

    /// An RTCP datagram received on the call's RTCP port from `source` (RFC 3550 §6): the
    /// peer's reports (loss, jitter, the round trip), and where ours go from now on
    /// (symmetric, as RTP).
    pub(crate) fn receive_rtcp(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
        let wall = self.wall(now);
        match self.stream.receive_rtcp(now, wall, bytes) {
            Ok(_) => self.rtcp_remote = Some(source),
            Err(_) => self.dropped += 1,
        }
    }

    /// What the stream measured: packets, loss, jitter, the round trip, MOS.
    pub(crate) fn report(&self) -> rtp::stream::Report {
        self.stream.report()
    }

    /// Where packets go now.
    pub(crate) fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// A new remote address from a re-offer (before any packet latched).
    pub(crate) fn set_remote(&mut self, remote: SocketAddr) {
        if !self.latched {
            self.remote = remote;
        }
    }

    /// A packet received on the call's port from `source`.
    pub(crate) fn receive(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
        match self.stream.receive_rtp(now, bytes) {
            Ok(_) => {
                // RFC 4961: send to where the media comes from.
                if !self.latched || self.remote != source {
                    self.remote = source;
                    self.latched = true;
                }
            }
            Err(_) => self.dropped += 1,
        }
    }

    /// A digit from a SIP INFO (RFC 4733 digits come through the stream).
    pub(crate) fn digit(&mut self, now: Instant, digit: char) {
        match &mut self.app {
            App::Echo(echo) => {
                echo.digit(digit);
            }
            App::Voicemail(vm) => {
                if let Some(recorder) = vm.recorder.as_mut() {
                    recorder.digit(digit);
                }
            }
            App::Mailbox(menu) => menu.digit(now, digit),
            App::Ivr(ivr) => ivr.digit(now, digit),
            App::Conference(leg) => leg.digit(digit),
            App::Announce(_) => {}
        }
    }

    /// The voicemail menu of a mailbox call (`None` for other services).
    pub(crate) fn menu(&mut self) -> Option<&mut Menu> {
        match &mut self.app {
            App::Mailbox(menu) => Some(menu),
            _ => None,
        }
    }

    /// The IVR of an IVR call (`None` for other services).
    pub(crate) fn ivr(&mut self) -> Option<&mut Ivr> {
        match &mut self.app {
            App::Ivr(ivr) => Some(ivr),
            _ => None,
        }
    }

    /// The conference leg of a participant's call (`None` for other services).
    pub(crate) fn conference(&mut self) -> Option<&mut ConferenceLeg> {
        match &mut self.app {
            App::Conference(leg) => Some(leg),
            _ => None,
        }
    }

    /// The caller hung up (or the call ends for another reason): a recording keeps what
    /// it has.
    pub(crate) fn hang_up(&mut self) {
        match &mut self.app {
            App::Voicemail(vm) => vm.stop(),
            App::Mailbox(menu) => menu.hang_up(),
            _ => {}
        }
    }

    /// The outcome of a deposit, once (the recording stopped or the caller hung up).
    pub(crate) fn take_recording(&mut self) -> Option<Recording> {
        match &mut self.app {
            App::Voicemail(vm) => vm.outcome.take(),
            _ => None,
        }
    }

    /// One 20 ms tick: what was heard is handed to the application, its frame is sent.
    /// The packets to send are appended to `out`: RTP, and the RTCP reports when due.
    pub(crate) fn tick(&mut self, now: Instant, out: &mut Vec<Packet>) -> Next {
        let playout = self.stream.pop_audio(now);
        let mut heard = [0i16; FRAME_SAMPLES];
        self.listener.frame(&playout, &mut heard);
        let mut digits = Vec::new();
        while let Some(event) = self.stream.poll_event(now) {
            if let Some(d) = event.digit {
                digits.push(d);
            }
        }
        for d in digits {
            self.digit(now, d);
        }
        let mut said: PcmFrame = [0i16; FRAME_SAMPLES];
        let next = self.app_tick(now, &heard, &mut said);
        if !self.stream.sending_digits() {
            let mut payload = Vec::with_capacity(self.codec.bytes_per_frame());
            if self.encoder.encode(&said, &mut payload).is_ok() {
                let mut packet = Vec::with_capacity(12 + payload.len());
                self.stream.send_audio_into(now, &payload, &mut packet);
                if !packet.is_empty() {
                    out.push(Packet {
                        dest: self.remote,
                        bytes: packet,
                        rtcp: false,
                    });
                }
            }
        }
        while let Some(t) = self.stream.poll_transmit(now) {
            if t.bytes.is_empty() {
                continue;
            }
            match t.channel {
                Channel::Rtp => out.push(Packet {
                    dest: self.remote,
                    bytes: t.bytes,
                    rtcp: false,
                }),
                Channel::Rtcp => {
                    if let Some(dest) = self.rtcp_remote {
                        out.push(Packet {
                            dest,
                            bytes: t.bytes,
                            rtcp: true,
                        });
                    }
                }
            }
        }
        next
    }

    fn app_tick(&mut self, now: Instant, heard: &PcmFrame, said: &mut PcmFrame) -> Next {
        match &mut self.app {
            App::Echo(echo) => {
                echo.process(heard, said);
                Next::Continue
            }
            App::Conference(leg) => {
                if leg.tick(now, heard, said) {
                    Next::Continue
                } else {
                    Next::Done
                }
            }
            App::Announce(player) => {
                if player.next_pcm(said) {
                    Next::Continue
                } else {
                    Next::Done
                }
            }
            App::Ivr(ivr) => {
                if ivr.tick(now, said) {
                    Next::Continue
                } else {
                    Next::Done
                }
            }
            App::Mailbox(menu) => {
                if menu.tick(now, heard, said) {
                    Next::Continue
                } else {
                    Next::Done
                }
            }
            App::Voicemail(vm) => {
                if let Some(recorder) = vm.recorder.as_mut() {
                    if recorder.push_pcm(heard).is_some() {
                        if let Some(recorder) = vm.recorder.take() {
                            vm.outcome = Some(recorder.finish());
                        }
                        vm.finished = true;
                        if let Some(goodbye) = vm.goodbye.take() {
                            vm.player.push(goodbye);
                        }
                    }
                    return Next::Continue;
                }
                if vm.player.next_pcm(said) {
                    return Next::Continue;
                }
                if !vm.finished {
                    // The greeting and beep are over: record.
                    match Recorder::new(self.codec, vm.config.clone()) {
                        Ok(r) => vm.recorder = Some(r),
                        Err(e) => {
                            tracing::warn!(error = %e, "voicemail recorder settings refused");
                            return Next::Done;
                        }
                    }
                    return Next::Continue;
                }
                Next::Done
            }
        }
    }
}
