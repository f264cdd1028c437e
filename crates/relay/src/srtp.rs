//! SRTP per leg: the relay bridges SDES-SRTP (RFC 3711, keys in SDP `a=crypto` lines, RFC
//! 4568) and plain RTP, each party of a stream speaking its own profile.
//!
//! A stream is either **transparent** (the default, and everything this relay did before
//! it spoke SRTP: the SDP's `m=` profile and `a=crypto` lines pass unchanged, packets are
//! relayed as they come, so two SRTP phones keep their end-to-end keys) or **bridged**
//! ([`Bridge`]): each leg has a [`Leg`] of its own, plain or keyed, and the relay
//! terminates SRTP on the keyed ones. A packet from a keyed leg is authenticated and
//! decrypted with that party's key (RFC 3711 §3.3), counted and read in the clear (loss,
//! RTCP reports), then sent plain to a plain leg or protected again (§3.1, SRTCP §3.4) with
//! the key the relay gave the other party. The relay's keys are fresh per leg, from the
//! operating system's random source, and never logged (`MasterKey`'s `Debug` hides them).
//!
//! ## What makes a stream bridged
//!
//! The offer's [`Flags::transport`] (NG `transport-protocol`, rtpengine's model): the
//! profile toward the party that receives the offer. `None` keeps the stream transparent;
//! `Some(profile)` bridges it:
//!
//! - the offerer's leg is what its `m=` line says: `RTP/SAVP` (or `RTP/SAVPF`) is keyed
//!   with the first usable offered `a=crypto` line (RFC 4568 §7.1.2: a suite of
//!   [`CryptoSuite::ALL`], one `inline:` key, no MKI, no session parameters); `RTP/AVP`
//!   with `a=crypto` lines is *best effort* (as baresip's optional `srtp` offers it: the
//!   answer may add a key); plain `RTP/AVP` is plain;
//! - the receiver's leg is `profile`: `RTP/SAVP` gets the relay's own lines, one per suite
//!   (80-bit tag first, fresh keys), `RTP/AVP` none; the `m=` profile is rewritten (the
//!   feedback profile kept: `RTP/AVPF` ↔ `RTP/SAVPF`) and the offerer's lines are removed;
//! - in the answer, the answerer's leg is keyed by the line it accepted (same tag and suite
//!   as ours, RFC 4568 §7.1.3); the offerer gets back its own profile, with the relay's line
//!   answering the tag it chose when its leg is keyed. A best-effort offerer is keyed
//!   (upgraded) only when the answer's flags ask for `RTP/SAVP` toward it, else it stays
//!   plain.
//!
//! [`Flags::sdes_off`] (NG `SDES-off`) means no SDES toward the receiver: `RTP/AVP`, and an
//! error with `transport-protocol=RTP/SAVP` (the relay has no DTLS-SRTP). Re-offers keep
//! the keys of a leg whose lines did not change, so contexts (rollover counters, SRTCP
//! indices, replay windows, RFC 3711 §3.2) go on; a changed key gets a new context.
//!
//! The in-process proxy's policy, [`SrtpPolicy`] (`[relay] srtp`), chooses the flags from
//! the transports the parties use for SIP (a key sent over UDP or TCP is readable on the
//! way).
//!
//! ## Bad input
//!
//! An `RTP/SAVP` offer to bridge without a usable line, an answer that accepts SRTP with a
//! line matching none of the relay's, or a malformed key is refused ([`SrtpFault`], a
//! [`RelayError::Srtp`](crate::RelayError::Srtp): 488 to the call in the proxy, an NG
//! error). A packet that fails authentication or replays one (a wrong key, tampering) is
//! dropped and counted in the leg's [`SrtpDrops`], logged once per leg; SSRC state is
//! bounded by `rtp::srtp` ([`rtp::srtp::MAX_SSRCS`] per direction, forged SSRCs keep none).
//!
//! ## SRTCP
//!
//! RTCP is terminated like RTP: SRTCP from a keyed leg is unprotected (then read for the
//! quality figures), and RTCP toward a keyed leg is protected with the E flag set (RFC 3711
//! §3.4). Plain RTCP arriving from a keyed leg (baresip sends an APP packet or two in the
//! clear) fails authentication and is dropped and counted.
//!
//! ## Layout
//!
//! | item | what |
//! |---|---|
//! | [`Profile`] | plain `RTP/AVP` or `RTP/SAVP`, from and to `m=` protos |
//! | [`SrtpPolicy`], [`Offered`] | `[relay] srtp` of the in-process proxy: keep, offer, off |
//! | [`Bridge`], [`Leg`], [`LegState`], [`Keyed`] | per-stream and per-leg state |
//! | [`plan_stream`], [`StreamPlan`] | what one offer or answer does to a stream, decided without changing it |
//! | [`Bridge::translate`], [`Out`] | the per-packet work |
//! | [`SrtpDrops`], [`LegStats`] | counters |
//! | [`SrtpFault`] | what is wrong with an exchange |

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rtp::srtp::sdes::{offered_crypto, usable};
use rtp::srtp::{CryptoSuite, KeyParams, MasterKey, SrtpContext, SrtpError};
use sdp::{Crypto, MediaDescription};

use crate::request::Flags;

/// The RTP profile of a leg: plain or SRTP (RFC 3711 §12: `RTP/SAVP`). The feedback
/// variants (`RTP/AVPF`, `RTP/SAVPF`, RFC 5124) count as their base profile; the `F` is
/// kept from the SDP when a profile is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `RTP/AVP`: plain RTP.
    Avp,
    /// `RTP/SAVP`: SRTP.
    Savp,
}

impl Profile {
    /// The profile of an `m=` proto: `RTP/AVP`, `RTP/AVPF` plain, `RTP/SAVP`, `RTP/SAVPF`
    /// SRTP; `None` for anything else (DTLS-SRTP `UDP/TLS/RTP/SAVPF`, `udptl`, ...), which
    /// is never bridged.
    pub fn of(proto: &str) -> Option<Profile> {
        match proto.to_ascii_uppercase().as_str() {
            "RTP/AVP" | "RTP/AVPF" => Some(Profile::Avp),
            "RTP/SAVP" | "RTP/SAVPF" => Some(Profile::Savp),
            _ => None,
        }
    }

    /// `proto` (a profile [`Profile::of`] knows) with this profile, the feedback `F` kept:
    /// `RTP/AVPF` as [`Profile::Savp`] is `RTP/SAVPF`.
    pub fn apply(self, proto: &str) -> String {
        let feedback = proto.to_ascii_uppercase().ends_with('F');
        let base = match self {
            Profile::Avp => "RTP/AVP",
            Profile::Savp => "RTP/SAVP",
        };
        if feedback {
            format!("{base}F")
        } else {
            base.to_owned()
        }
    }

    /// The NG name (`transport-protocol`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Avp => "RTP/AVP",
            Profile::Savp => "RTP/SAVP",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `transport-protocol` this relay does not bridge to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transport protocol {0:?} is not RTP/AVP, RTP/AVPF, RTP/SAVP or RTP/SAVPF")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        Profile::of(s).ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// What the RTP streams of an SDP use, for the proxy's [`SrtpPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// Plain `RTP/AVP` without `a=crypto` (or no SDP the relay reads).
    Plain,
    /// `RTP/AVP` with `a=crypto` lines: SRTP if the answer takes a key.
    BestEffort,
    /// An `RTP/SAVP` stream.
    Srtp,
}

impl Offered {
    /// What `sdp` offers: [`Offered::Srtp`] when an RTP stream in use is `RTP/SAVP(F)`,
    /// else [`Offered::BestEffort`] when one has `a=crypto` lines.
    pub fn of(sdp: &[u8]) -> Offered {
        let Ok(sdp) = sdp::SessionDescription::from_bytes(sdp) else {
            return Offered::Plain;
        };
        let streams = || sdp.media().iter().filter(|m| m.port() != 0);
        if streams().any(|m| Profile::of(m.proto()) == Some(Profile::Savp)) {
            Offered::Srtp
        } else if streams()
            .any(|m| Profile::of(m.proto()) == Some(Profile::Avp) && m.cryptos().next().is_some())
        {
            Offered::BestEffort
        } else {
            Offered::Plain
        }
    }
}

/// The SRTP policy of the in-process relay (`[relay] srtp`): which profile each party of
/// a relayed call gets, from what the offer uses and whether each party's SIP travels over
/// TLS ("secure": its keys are not readable on the way).
///
/// | offer \ receiver | secure (TLS) | not secure (UDP, TCP) |
/// |---|---|---|
/// | `RTP/SAVP` | as offered (transparent) | plain `RTP/AVP`, bridged (`keep`, `offer`) |
/// | plain `RTP/AVP` | plain (`keep`); `RTP/SAVP`, bridged (`offer`) | plain |
/// | best-effort `RTP/AVP` + `a=crypto` | as offered (`keep`); bridged, the secure offerer upgraded (`offer`) | as offered (`keep`); plain, a secure offerer upgraded (`offer`) |
///
/// `off` leaves every stream transparent (the relay does no SRTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Each party keeps what it offered or accepts; SRTP toward a party whose SIP is not
    /// on TLS becomes plain RTP (the default; what rtpengine users configure with
    /// `RTP/AVP` toward UDP phones and `RTP/SAVP` toward TLS ones).
    #[default]
    Keep,
    /// As `keep`, and parties on TLS are upgraded: offered `RTP/SAVP` whatever the other
    /// party offered, and answered with a key when they offered best-effort SRTP.
    Offer,
    /// No SRTP work: every stream passes as its parties wrote it.
    Off,
}

impl SrtpPolicy {
    /// The name in the config file.
    pub fn name(self) -> &'static str {
        match self {
            SrtpPolicy::Keep => "keep",
            SrtpPolicy::Offer => "offer",
            SrtpPolicy::Off => "off",
        }
    }

    /// The [`Flags::transport`] of an offer: toward the receiver, from what the offer uses
    /// and whether its sender and receiver are secure.
    pub fn offer_transport(
        self,
        offered: Offered,
        sender_secure: bool,
        receiver_secure: bool,
    ) -> Option<Profile> {
        match (self, offered) {
            (SrtpPolicy::Off, _) => None,
            (_, Offered::Srtp) => (!receiver_secure).then_some(Profile::Avp),
            (SrtpPolicy::Keep, _) => None,
            (SrtpPolicy::Offer, Offered::Plain) => receiver_secure.then_some(Profile::Savp),
            (SrtpPolicy::Offer, Offered::BestEffort) if sender_secure || receiver_secure => {
                Some(if receiver_secure {
                    Profile::Savp
                } else {
                    Profile::Avp
                })
            }
            (SrtpPolicy::Offer, Offered::BestEffort) => None,
        }
    }

    /// The [`Flags::transport`] of an answer toward the offerer: `RTP/SAVP` upgrades a
    /// secure best-effort offerer under `offer`; nothing else changes in an answer.
    pub fn answer_transport(self, receiver_secure: bool) -> Option<Profile> {
        (self == SrtpPolicy::Offer && receiver_secure).then_some(Profile::Savp)
    }
}

/// A name that is no [`SrtpPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an SRTP policy: write \"keep\", \"offer\" or \"off\"")]
pub struct UnknownSrtpPolicy(pub String);

impl FromStr for SrtpPolicy {
    type Err = UnknownSrtpPolicy;

    fn from_str(s: &str) -> Result<SrtpPolicy, UnknownSrtpPolicy> {
        match s {
            "keep" => Ok(SrtpPolicy::Keep),
            "offer" => Ok(SrtpPolicy::Offer),
            "off" => Ok(SrtpPolicy::Off),
            other => Err(UnknownSrtpPolicy(other.to_owned())),
        }
    }
}

/// What is wrong with the SRTP of an offer or answer (RFC 4568 §7.5). The Display text is
/// the NG `error-reason` and the proxy's log line; the proxy answers 488.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpFault {
    /// An `RTP/SAVP` stream to bridge has no `a=crypto` line the relay can use.
    #[error("m= line {index}: no usable a=crypto line ({why})")]
    NoUsableLine {
        /// 0-based index of the `m=` line.
        index: usize,
        /// Why the first line was not usable.
        why: String,
    },
    /// An answer accepts the relay's `RTP/SAVP` offer without a line of the relay's tags.
    #[error(
        "m= line {index}: the answer accepts RTP/SAVP without an a=crypto line of an offered tag"
    )]
    AnswerWithoutLine {
        /// 0-based index of the `m=` line.
        index: usize,
    },
    /// An answer's line has an offered tag but another suite (RFC 4568 §7.1.3).
    #[error("m= line {index}: the answer's a=crypto suite {suite} differs from the offered line of tag {tag}")]
    SuiteMismatch {
        /// 0-based index of the `m=` line.
        index: usize,
        /// The tag.
        tag: u32,
        /// The answered suite.
        suite: String,
    },
    /// An answer's line cannot be keyed.
    #[error("m= line {index}: unusable a=crypto in the answer: {error}")]
    BadKey {
        /// 0-based index of the `m=` line.
        index: usize,
        /// What is wrong with it.
        error: SrtpError,
    },
    /// `SDES-off` with `transport-protocol=RTP/SAVP`: no way left to key the receiver.
    #[error("SDES-off leaves RTP/SAVP without keys (DTLS-SRTP is not supported)")]
    SdesOff,
    /// The random source or the SRTP implementation failed.
    #[error("no SRTP key: {0}")]
    Keys(SrtpError),
}

/// The SRTP of a bridged stream: one [`Leg`] per side (side 0 the caller).
#[derive(Debug)]
pub struct Bridge {
    /// By side.
    pub legs: [Leg; 2],
}

/// One party's leg of a bridged stream.
#[derive(Debug)]
pub struct Leg {
    /// The `m=` proto this party speaks (what it offered, or what it was offered).
    pub proto: String,
    /// Plain, keyed, or on the way.
    pub state: LegState,
    /// Packets dropped on this leg.
    pub drops: SrtpDrops,
}

impl Leg {
    fn new(proto: String, state: LegState) -> Leg {
        Leg {
            proto,
            state,
            drops: SrtpDrops::default(),
        }
    }

    /// The suite in use, when keyed.
    pub fn suite(&self) -> Option<CryptoSuite> {
        match &self.state {
            LegState::Keyed(k) => Some(k.suite),
            _ => None,
        }
    }
}

/// Where a leg's keys stand. Its `Debug` shows tags and suites, never a key.
pub enum LegState {
    /// Plain RTP.
    Plain,
    /// The party offered best-effort SRTP (`RTP/AVP` with this usable line): keyed if the
    /// answer upgrades it, else plain. Sends plain RTP meanwhile.
    BestEffort {
        /// The party's line.
        theirs: Crypto,
    },
    /// The relay offered the party these lines (its own keys) and waits for the answer.
    /// Packets to or from the party are dropped until then.
    Offered {
        /// The relay's lines.
        lines: Vec<Crypto>,
    },
    /// SRTP both ways.
    Keyed(Box<Keyed>),
}

impl fmt::Debug for LegState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegState::Plain => f.write_str("Plain"),
            LegState::BestEffort { theirs } => f
                .debug_struct("BestEffort")
                .field("tag", &theirs.tag)
                .field("suite", &theirs.suite)
                .finish_non_exhaustive(),
            LegState::Offered { lines } => f
                .debug_struct("Offered")
                .field("tags", &lines.iter().map(|l| l.tag).collect::<Vec<_>>())
                .finish_non_exhaustive(),
            LegState::Keyed(k) => fmt::Debug::fmt(k, f),
        }
    }
}

/// A keyed leg: the party's key unprotects what it sends, the relay's protects what it
/// receives (RFC 4568 §6.1: each direction its own key).
pub struct Keyed {
    /// The suite of both directions.
    pub suite: CryptoSuite,
    /// The relay's line given to the party.
    pub ours: Crypto,
    /// The party's line.
    pub theirs: Crypto,
    inbound: SrtpContext,
    outbound: SrtpContext,
}

impl fmt::Debug for Keyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("suite", &self.suite)
            .field("tag", &self.ours.tag)
            .finish_non_exhaustive()
    }
}

impl Keyed {
    fn new(suite: CryptoSuite, ours: Crypto, theirs: Crypto) -> Result<Keyed, SrtpError> {
        let (_, our_key) = usable(&ours)?;
        let (_, their_key) = usable(&theirs)?;
        Ok(Keyed {
            suite,
            inbound: SrtpContext::new(suite, &their_key.key)?,
            outbound: SrtpContext::new(suite, &our_key.key)?,
            ours,
            theirs,
        })
    }
}

/// Packets of a leg that were dropped, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SrtpDrops {
    /// SRTP/SRTCP from the party whose tag did not match: a wrong key or tampering (also
    /// plain packets arriving on a keyed leg).
    pub auth: u64,
    /// Replays of packets already received (RFC 3711 §3.3.2).
    pub replay: u64,
    /// Too short, a bad header, or a new SSRC past the bound.
    pub malformed: u64,
    /// From or to the party while its keys were not settled (the relay's offer unanswered).
    pub unkeyed: u64,
    /// Packets from the other party that could not be protected toward this one.
    pub unprotected: u64,
}

impl SrtpDrops {
    /// Every packet counted.
    pub fn total(&self) -> u64 {
        self.auth + self.replay + self.malformed + self.unkeyed + self.unprotected
    }

    fn count(&mut self, error: &SrtpError) {
        match error {
            SrtpError::Authentication => self.auth += 1,
            SrtpError::Replay { .. } => self.replay += 1,
            _ => self.malformed += 1,
        }
    }
}

/// A leg's SRTP as a query shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// The suite toward and from the party, when its leg is keyed.
    pub suite: Option<CryptoSuite>,
    /// Packets dropped.
    pub drops: SrtpDrops,
}

/// What to send for a packet that went through a bridge.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// The datagram as it came (plain to plain).
    Same,
    /// The clear packet (SRTP to plain).
    Clear,
    /// These bytes (protected toward a keyed leg).
    Protected(Vec<u8>),
}

impl Bridge {
    /// The per-packet work: a datagram from the party of side `from` (RTCP when `rtcp`),
    /// toward the other side. Answers the clear packet (to read: loss, RTCP reports) and
    /// what to send; `None` when it is dropped (counted on the leg at fault).
    pub fn translate<'a>(
        &mut self,
        from: usize,
        rtcp: bool,
        packet: &'a [u8],
    ) -> Option<(Cow<'a, [u8]>, Out)> {
        let [a, b] = &mut self.legs;
        let (source, sink) = if from == 0 { (a, b) } else { (b, a) };
        let clear: Cow<'a, [u8]> = match &mut source.state {
            LegState::Keyed(k) => {
                let result = if rtcp {
                    k.inbound.unprotect_rtcp(packet)
                } else {
                    k.inbound.unprotect_rtp(packet)
                };
                match result {
                    Ok(clear) => Cow::Owned(clear),
                    Err(e) => {
                        if source.drops.auth + source.drops.replay + source.drops.malformed == 0 {
                            tracing::info!(error = %e, rtcp, "SRTP packet dropped; later ones are only counted");
                        }
                        source.drops.count(&e);
                        return None;
                    }
                }
            }
            LegState::Offered { .. } => {
                source.drops.unkeyed += 1;
                return None;
            }
            LegState::Plain | LegState::BestEffort { .. } => Cow::Borrowed(packet),
        };
        let out = match &mut sink.state {
            LegState::Keyed(k) => {
                let result = if rtcp {
                    k.outbound.protect_rtcp(&clear)
                } else {
                    k.outbound.protect_rtp(&clear)
                };
                match result {
                    Ok(out) => Out::Protected(out),
                    Err(_) => {
                        sink.drops.unprotected += 1;
                        return None;
                    }
                }
            }
            LegState::Offered { .. } => {
                sink.drops.unkeyed += 1;
                return None;
            }
            LegState::Plain | LegState::BestEffort { .. } => match &clear {
                Cow::Borrowed(_) => Out::Same,
                Cow::Owned(_) => Out::Clear,
            },
        };
        Some((clear, out))
    }

    /// The counters of side `side`.
    pub fn stats(&self, side: usize) -> Option<LegStats> {
        self.legs.get(side).map(|leg| LegStats {
            suite: leg.suite(),
            drops: leg.drops,
        })
    }
}

/// What an offer or answer does to one stream, decided before anything changes (so a
/// fault leaves the call as it was). Its `Debug` shows no key.
pub enum StreamPlan {
    /// Transparent: no bridge, the `m=` line and its `a=crypto` lines pass unchanged.
    Transparent,
    /// Bridged: the legs to set (`None` keeps a leg as it is) and the SDP edit.
    Bridge {
        /// New legs by side.
        legs: Box<[Option<Leg>; 2]>,
        /// A new inbound key for a keyed leg that keeps its outbound one, by side.
        rekey: [Option<Box<(Crypto, SrtpContext)>>; 2],
        /// The proto of the `m=` line passed on.
        proto: String,
        /// The `a=crypto` lines of the `m=` line passed on (the SDP's own are removed).
        lines: Vec<Crypto>,
    },
}

impl fmt::Debug for StreamPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamPlan::Transparent => f.write_str("Transparent"),
            StreamPlan::Bridge {
                legs, proto, lines, ..
            } => f
                .debug_struct("Bridge")
                .field("legs", legs)
                .field("proto", proto)
                .field("tags", &lines.iter().map(|l| l.tag).collect::<Vec<_>>())
                .finish_non_exhaustive(),
        }
    }
}

impl StreamPlan {
    /// Applies the plan to a stream's bridge state (the legs and keys move there; what
    /// [`StreamPlan::edit`] needs stays).
    pub fn apply(&mut self, bridge: &mut Option<Bridge>) {
        match self {
            StreamPlan::Transparent => *bridge = None,
            StreamPlan::Bridge { legs, rekey, .. } => {
                let legs = *std::mem::take(legs);
                let rekey = std::mem::take(rekey);
                let current = bridge.get_or_insert_with(|| Bridge {
                    legs: [
                        Leg::new(String::new(), LegState::Plain),
                        Leg::new(String::new(), LegState::Plain),
                    ],
                });
                for (slot, leg) in current.legs.iter_mut().zip(legs) {
                    if let Some(mut leg) = leg {
                        leg.drops = slot.drops;
                        *slot = leg;
                    }
                }
                for (slot, rekey) in current.legs.iter_mut().zip(rekey) {
                    if let (LegState::Keyed(k), Some(rekey)) = (&mut slot.state, rekey) {
                        let (theirs, inbound) = *rekey;
                        k.theirs = theirs;
                        k.inbound = inbound;
                    }
                }
            }
        }
    }

    /// Rewrites the `m=` line passed on as the plan says.
    pub fn edit(&self, media: &mut MediaDescription) -> Result<(), sdp::SdpError> {
        let StreamPlan::Bridge { proto, lines, .. } = self else {
            return Ok(());
        };
        media.set_proto(proto)?;
        media.remove_attributes("crypto");
        for line in lines {
            media.add_attribute("crypto", Some(&line.to_string()))?;
        }
        Ok(())
    }
}

/// Decides what an offer (`is_offer`) or answer does to stream `index` (`media`, in the
/// SDP of side `owner`), given the stream's bridge so far. See the module docs.
pub fn plan_stream(
    index: usize,
    media: &MediaDescription,
    old: Option<&Bridge>,
    owner: usize,
    is_offer: bool,
    flags: &Flags,
) -> Result<StreamPlan, SrtpFault> {
    let Some(own_profile) = Profile::of(media.proto()).filter(|_| media.port() != 0) else {
        return Ok(StreamPlan::Transparent);
    };
    let other = 1 - owner;
    if is_offer {
        let target = match (flags.transport, flags.sdes_off) {
            (Some(Profile::Savp), true) => return Err(SrtpFault::SdesOff),
            (Some(t), _) => t,
            (None, true) => Profile::Avp,
            (None, false) => return Ok(StreamPlan::Transparent),
        };
        let old_leg = |side: usize| old.and_then(|b| b.legs.get(side));
        // The offerer's leg.
        let own = match own_profile {
            Profile::Savp => {
                let theirs = first_usable(index, media)?;
                match old_leg(owner).map(|l| &l.state) {
                    Some(LegState::Keyed(k)) if k.theirs == theirs => None,
                    _ => Some(keyed_answering(theirs)?),
                }
            }
            Profile::Avp => match first_usable(index, media) {
                Ok(theirs) => match old_leg(owner).map(|l| &l.state) {
                    Some(LegState::Keyed(k)) if k.theirs == theirs => None,
                    _ => Some(LegState::BestEffort { theirs }),
                },
                Err(_) => Some(LegState::Plain),
            },
        };
        // `None`: kept keyed as it was.
        let own_leg = own.map(|state| Leg::new(media.proto().to_owned(), state));
        // The receiver's leg.
        let proto = target.apply(media.proto());
        let (receiver, lines) = match target {
            Profile::Avp => (Some(Leg::new(proto.clone(), LegState::Plain)), Vec::new()),
            Profile::Savp => match old_leg(other).map(|l| &l.state) {
                Some(LegState::Keyed(k)) => (None, vec![k.ours.clone()]),
                Some(LegState::Offered { lines }) => (None, lines.clone()),
                _ => {
                    let lines = offered_crypto().map_err(SrtpFault::Keys)?;
                    (
                        Some(Leg::new(
                            proto.clone(),
                            LegState::Offered {
                                lines: lines.clone(),
                            },
                        )),
                        lines,
                    )
                }
            },
        };
        let mut legs = [None, None];
        legs[owner] = own_leg;
        legs[other] = receiver;
        return Ok(StreamPlan::Bridge {
            legs: Box::new(legs),
            rekey: [None, None],
            proto,
            lines,
        });
    }

    // An answer: the bridge was made by the offer, or the stream is transparent.
    let Some(old) = old else {
        return Ok(StreamPlan::Transparent);
    };
    let mut legs: [Option<Leg>; 2] = [None, None];
    let mut rekey: [Option<Box<(Crypto, SrtpContext)>>; 2] = [None, None];
    // The answerer's leg.
    let answered = media.cryptos().collect::<Vec<_>>();
    match &old.legs[owner].state {
        LegState::Offered { lines } => {
            let chosen = answered
                .iter()
                .find_map(|theirs| Some((lines.iter().find(|l| l.tag == theirs.tag)?, theirs)));
            let state = match chosen {
                None if own_profile == Profile::Savp => {
                    return Err(SrtpFault::AnswerWithoutLine { index });
                }
                // Plain RTP/AVP to our RTP/SAVP offer: not what RFC 4568 allows, but the
                // party said how it sends.
                None => LegState::Plain,
                Some((ours, theirs)) => LegState::Keyed(Box::new(keyed_pair(index, ours, theirs)?)),
            };
            legs[owner] = Some(Leg::new(old.legs[owner].proto.clone(), state));
        }
        LegState::Keyed(k) => match answered.iter().find(|l| l.tag == k.ours.tag) {
            Some(theirs) if *theirs == k.theirs => {}
            Some(theirs) => {
                let keyed = keyed_pair(index, &k.ours, theirs)?;
                rekey[owner] = Some(Box::new((keyed.theirs, keyed.inbound)));
            }
            None if own_profile == Profile::Savp => {
                return Err(SrtpFault::AnswerWithoutLine { index });
            }
            None => legs[owner] = Some(Leg::new(old.legs[owner].proto.clone(), LegState::Plain)),
        },
        LegState::Plain | LegState::BestEffort { .. } => {}
    }
    // The offerer's leg: what it offered, with the relay's line when keyed.
    let offerer = &old.legs[other];
    let lines = match &offerer.state {
        LegState::Keyed(k) => vec![k.ours.clone()],
        LegState::BestEffort { theirs } if flags.transport == Some(Profile::Savp) => {
            let state = keyed_answering(theirs.clone())?;
            let lines = match &state {
                LegState::Keyed(k) => vec![k.ours.clone()],
                _ => Vec::new(),
            };
            legs[other] = Some(Leg::new(offerer.proto.clone(), state));
            lines
        }
        LegState::BestEffort { .. } => {
            legs[other] = Some(Leg::new(offerer.proto.clone(), LegState::Plain));
            Vec::new()
        }
        LegState::Plain | LegState::Offered { .. } => Vec::new(),
    };
    Ok(StreamPlan::Bridge {
        legs: Box::new(legs),
        rekey,
        proto: offerer.proto.clone(),
        lines,
    })
}

/// The first offered line the relay can key, tags taken once (RFC 4568 §6.1); the error
/// says why the first line was not usable.
fn first_usable(index: usize, media: &MediaDescription) -> Result<Crypto, SrtpFault> {
    let mut tags = Vec::new();
    let mut first_error = None;
    for line in media.cryptos() {
        if tags.contains(&line.tag) {
            continue;
        }
        tags.push(line.tag);
        match usable(&line) {
            Ok(_) => return Ok(line),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    Err(SrtpFault::NoUsableLine {
        index,
        why: first_error.unwrap_or_else(|| "no a=crypto line".to_owned()),
    })
}

/// A keyed leg answering the party's line `theirs` with a fresh key of the relay's (same
/// tag and suite, RFC 4568 §7.1.2).
fn keyed_answering(theirs: Crypto) -> Result<LegState, SrtpFault> {
    let (suite, _) = usable(&theirs).map_err(SrtpFault::Keys)?;
    let key = MasterKey::random().map_err(SrtpFault::Keys)?;
    let ours = Crypto::new(
        theirs.tag,
        suite.name(),
        &KeyParams::inline(key).to_string(),
    );
    let keyed = Keyed::new(suite, ours, theirs).map_err(SrtpFault::Keys)?;
    Ok(LegState::Keyed(Box::new(keyed)))
}

/// A keyed leg from the relay's offered line and the party's answer of the same tag.
fn keyed_pair(index: usize, ours: &Crypto, theirs: &Crypto) -> Result<Keyed, SrtpFault> {
    if !ours.suite.eq_ignore_ascii_case(&theirs.suite) {
        return Err(SrtpFault::SuiteMismatch {
            index,
            tag: theirs.tag,
            suite: theirs.suite.clone(),
        });
    }
    let (suite, _) = usable(theirs).map_err(|error| SrtpFault::BadKey { index, error })?;
    Keyed::new(suite, ours.clone(), theirs.clone())
        .map_err(|error| SrtpFault::BadKey { index, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_of_protos() {
        assert_eq!(Profile::of("RTP/AVP"), Some(Profile::Avp));
        assert_eq!(Profile::of("rtp/savpf"), Some(Profile::Savp));
        assert_eq!(Profile::of("UDP/TLS/RTP/SAVPF"), None);
        assert_eq!(Profile::Savp.apply("RTP/AVPF"), "RTP/SAVPF");
        assert_eq!(Profile::Avp.apply("RTP/SAVP"), "RTP/AVP");
        assert!("udptl".parse::<Profile>().is_err());
    }

    #[test]
    fn policy_table() {
        use Offered::*;
        use Profile::*;
        let keep = SrtpPolicy::Keep;
        let offer = SrtpPolicy::Offer;
        assert_eq!(keep.offer_transport(Srtp, true, false), Some(Avp));
        assert_eq!(keep.offer_transport(Srtp, false, true), None);
        assert_eq!(keep.offer_transport(Plain, false, true), None);
        assert_eq!(keep.offer_transport(BestEffort, true, false), None);
        assert_eq!(offer.offer_transport(Plain, false, true), Some(Savp));
        assert_eq!(offer.offer_transport(Plain, true, false), None);
        assert_eq!(offer.offer_transport(BestEffort, true, false), Some(Avp));
        assert_eq!(offer.offer_transport(BestEffort, false, false), None);
        assert_eq!(offer.offer_transport(Srtp, true, false), Some(Avp));
        assert_eq!(SrtpPolicy::Off.offer_transport(Srtp, true, false), None);
        assert_eq!(offer.answer_transport(true), Some(Savp));
        assert_eq!(keep.answer_transport(true), None);
        assert_eq!("offer".parse::<SrtpPolicy>(), Ok(SrtpPolicy::Offer));
        assert!("on".parse::<SrtpPolicy>().is_err());
    }
}
