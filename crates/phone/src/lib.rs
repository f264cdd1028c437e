//! # phone — the itsp user agent
//!
//! A portable SIP phone (seed 003's "PSP"): registers, calls, answers, sends DTMF and
//! messages, holds and transfers, with real RTP audio. The SIP side is a sans-IO core
//! ([`ua::UserAgent`]) on top of the `sip` crate's transaction layer and dialogs.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`ua`] | the SIP user agent core, sans-IO: registration, calls, in-dialog requests, MESSAGE |

pub mod ua;
