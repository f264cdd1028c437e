//! # sdp — session descriptions (RFC 8866) and the offer/answer model (RFC 3264)
//!
//! Work in progress: the phone (`crates/phone`) and the relay (`crates/relay`) build on it.
