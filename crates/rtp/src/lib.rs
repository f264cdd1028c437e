//! # rtp — the media core of itsp, sans-IO
//!
//! Work in progress: RTP/RTCP packets, codecs, jitter buffer and call quality for the phone
//! (`crates/phone`), the relay and the media services. No sockets, no clock reads: the caller
//! passes the time in.
//!
//! ## Layout
//!
//! - [`codec`]: G.711 μ-law/A-law and GSM 06.10 encoders and decoders (RFC 3551 §4.5)

pub mod codec;
