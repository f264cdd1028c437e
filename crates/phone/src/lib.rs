//! # phone — the itsp user agent
//!
//! A portable SIP phone (seed 003's "PSP"): registers, calls, answers, sends DTMF and
//! messages, holds and transfers, with real RTP audio. `itsp phone` is this crate's
//! [`app::run`] behind the settings of [`options`]. The SIP side is a sans-IO core
//! ([`ua::UserAgent`]) on top of the `sip` crate's transaction layer and dialogs; the media
//! side glues the `sdp` crate's offer/answer and the `rtp` crate's codecs and streams to
//! UDP sockets, one task per call.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`ua`] | the SIP user agent core, sans-IO: registration, calls, in-dialog requests, MESSAGE |
//! | [`options`] | flags, the profile file, and the checked [`options::Settings`] |
//! | [`app`] | the phone's tokio loop: SIP socket, timers, terminal commands, events to output |
//! | [`link`] | the SIP socket: UDP, or one framed TCP connection to the server |
//! | [`media`] | the media of one call: RTP/RTCP sockets, SDP offer/answer, the 20 ms audio task |
//! | [`stun`] | the STUN client (RFC 5389 Binding) for the public address behind a NAT |
//! | [`report`] | what the phone prints: sentences for people, JSON lines for scripts |

pub mod app;
pub mod link;
pub mod media;
pub mod options;
pub mod report;
pub mod stun;
pub mod ua;
