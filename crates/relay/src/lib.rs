//! # relay — the RTP relay of itsp
//!
//! Puts itsp in the media path of calls whose parties cannot reach each other directly
//! (NAT): every stream gets a port pair on the relay for each party, the SDP of the offer
//! and answer is rewritten to point at those ports, and each side *latches* to the address
//! its party really sends from (symmetric RTP, RFC 4961). RTP and RTCP (RFC 3550) are
//! relayed both ways, counted, and loss is measured from sequence numbers; the parties' RTCP
//! reports are read as they pass (loss, jitter and round trip as the phones saw them) and
//! feed an E-model quality estimate per direction; idle calls are removed. Each leg of a
//! stream may speak its own profile: the relay bridges SDES-SRTP (RFC 3711, RFC 4568) and
//! plain RTP, with keys of its own per leg ([`srtp`]), and is a WebRTC gateway: a
//! browser's leg speaks ICE-lite and DTLS-SRTP while the phone's stays plain RTP
//! ([`webrtc`]).
//!
//! The crate has a sans-IO core ([`Engine`]: no sockets, no tasks, no clock reads — the time
//! is an argument) and a tokio shell around it ([`RelayHandle`]: media sockets with
//! batched `recvmmsg`/`sendmmsg` I/O, idle cleanup, the NG server). The SIP proxy drives it
//! through a [`Controller`], in-process or on remote nodes (`itsp relay`, rtpengine) over
//! rtpengine's NG protocol.
//!
//! ```
//! use std::time::Instant;
//! use relay::{Engine, EngineConfig, Forward, MediaRequest};
//!
//! let mut engine = Engine::new(EngineConfig::new([203, 0, 113, 5].into()))?;
//! let offer = MediaRequest {
//!     call_id: "c1".into(),
//!     from_tag: "alice".into(),
//!     sdp: b"v=0\r\no=- 1 1 IN IP4 10.0.0.16\r\ns=-\r\nc=IN IP4 10.0.0.16\r\nt=0 0\r\n\
//!            m=audio 8000 RTP/AVP 0\r\n".to_vec(),
//!     ..MediaRequest::default()
//! };
//! let now = Instant::now();
//! let rewritten = engine.offer(now, &offer, &mut |_port| true)?;
//! let text = String::from_utf8(rewritten.sdp).unwrap();
//! assert!(text.contains("c=IN IP4 203.0.113.5\r\n"));
//! assert!(text.contains("m=audio 30002 RTP/AVP 0\r\n"));
//! // Alice's first packet to her port (30000) latches her NATed source.
//! let alice = "198.51.100.7:40000".parse().unwrap();
//! let verdict = engine.forward(now, 30000, alice, &[0x80, 0, 0, 1]);
//! assert!(matches!(verdict, Forward::Drop(_)), "no answer yet: Bob has no address");
//! # Ok::<(), relay::RelayError>(())
//! ```
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`engine`] | [`Engine`]: session table, offer/answer/delete/query/list, per-packet forwarding, idle cleanup |
//! | [`session`] | calls, streams, sides; the latching rule |
//! | [`ports`] | [`PortPool`]: even RTP ports, RTCP = RTP + 1, allocate/free |
//! | [`rewrite`] | reading announced addresses from SDP and rewriting it for the other party |
//! | [`stats`] | counters, loss (RFC 3550 A.3), payload types and quality, query snapshots, [`CallCounters`] for CDRs |
//! | [`srtp`] | SRTP per leg: [`Bridge`](srtp::Bridge), the `a=crypto` plans of offers and answers, [`SrtpPolicy`], [`Profile`] |
//! | [`webrtc`] | the WebRTC gateway: ICE-lite, DTLS-SRTP, `rtcp-mux`, BUNDLE toward browsers ([`webrtc::WebrtcLeg`] on str0m), SDP rewritten WebRTC ↔ RTP |
//! | [`rtcp`] | [`rtcp::RtcpSeen`]: the parties' RTCP reports (RFC 3550 §6.4, RFC 3611 §4.7) and the round trip of each leg |
//! | [`request`] | [`MediaRequest`], [`Flags`], [`Rewritten`] |
//! | [`bencode`] | the NG encoding |
//! | [`ng`] | rtpengine's NG protocol: framing, commands, server, client |
//! | [`node`] | tokio shell: [`RelayHandle`], batched media I/O, [`node::serve_ng`] |
//! | [`controller`] | [`Controller`]: in-process or NG nodes with weights and failover |
//! | [`error`] | [`RelayError`] |

pub mod bencode;
pub mod controller;
pub mod engine;
pub mod error;
pub mod ng;
pub mod node;
pub mod ports;
pub mod request;
pub mod rewrite;
pub mod rtcp;
pub mod session;
pub mod srtp;
pub mod stats;
pub mod webrtc;

pub use bencode::Bencode;
pub use controller::{Controller, NgNodes, NodeConfig};
pub use engine::{DropReason, Engine, EngineConfig, Forward, Transmit};
pub use error::RelayError;
pub use node::{serve_ng, RelayConfig, RelayHandle};
pub use ports::PortPool;
pub use request::{AddressSource, Flags, MediaRequest, Rewritten};
pub use srtp::{Offered, Profile, SrtpFault, SrtpPolicy};
pub use stats::{
    CallCounters, CallStats, Counters, Heard, PartyCounters, PartyReport, PayloadMap, Quality,
    RelayTotals, RtcpSighting, Totals,
};
