//! # rtp — the media core of itsp, sans-IO
//!
//! Work in progress: RTP/RTCP packets, codecs, jitter buffer and call quality for the phone
//! (`crates/phone`), the relay and the media services. No sockets, no clock reads: the caller
//! passes the time in.
