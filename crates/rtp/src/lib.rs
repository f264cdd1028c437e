//! # rtp — the media core of itsp, sans-IO
//!
//! RTP and RTCP packets (RFC 3550), RFC 4733 telephone events, the G.711 and GSM 06.10
//! codecs, a jitter buffer, reception statistics, the E-model call-quality estimate (ITU-T G.107), one RTP session tying them
//! together ([`MediaStream`]), and the audio helpers around them (WAV files, resampling,
//! tones, Goertzel). The phone (`crates/phone`) glues codecs, a [`MediaStream`] and a UDP
//! socket; the relay uses the packet views and statistics; the media services use the jitter
//! buffer, the events and the audio helpers.
//!
//! Nothing here opens a socket or reads a clock: the caller passes the time in
//! (`std::time::Instant`, and a `SystemTime` where wall-clock time is needed for RTCP NTP
//! timestamps), and takes bytes and deadlines out.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use rtp::{jitter::Playout, MediaStream, StreamConfig};
//!
//! // Two ends of a call; SSRCs, sequence numbers and timestamps would be random.
//! let t = Instant::now();
//! let wall = SystemTime::now();
//! let mut alice = MediaStream::new(StreamConfig::new(1, 100, 1000, 0, "alice@a"), t, wall)?;
//! let mut bob = MediaStream::new(StreamConfig::new(2, 200, 2000, 0, "bob@b"), t, wall)?;
//! for i in 0..3u32 {
//!     let now = t + Duration::from_millis(20 * u64::from(i));
//!     let packet = alice.send_audio(now, &[0xff; 160]); // one encoded 20 ms frame
//!     bob.receive_rtp(now + Duration::from_millis(5), &packet)?;
//! }
//! // Playout starts once the first packet has waited the jitter buffer's delay.
//! let tick = t + Duration::from_millis(30);
//! assert!(matches!(bob.pop_audio(tick), Playout::Frame(f) if f.sequence == 100));
//! # Ok::<(), rtp::Error>(())
//! ```
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`packet`] | RTP header (RFC 3550 §5.1): zero-copy view [`RtpPacket`] and writer [`RtpHeader`] |
//! | [`rtcp`] | RTCP SR, RR, SDES, BYE and compound packets (RFC 3550 §6), XR with VoIP Metrics (RFC 3611 §4.7): views and builders |
//! | [`ntp`] | 64-bit NTP timestamps (RFC 3550 §4) from a caller-supplied `SystemTime` |
//! | [`event`] | RFC 4733 telephone events: payload, sender state machine, receiver |
//! | [`jitter`] | adaptive jitter buffer: reorder, duplicates, late packets, playout per 20 ms tick |
//! | [`stats`] | receiver statistics (RFC 3550 A.1, A.3, A.8), sender counts, report blocks, RTT |
//! | [`quality`] | E-model R-factor (ITU-T G.107, simplified) and MOS; codec impairments by SDP encoding name (ITU-T G.113 Appendix I) |
//! | [`stream`] | [`MediaStream`]: one sans-IO RTP session (send, receive, RTCP, final [`Report`]) |
//! | [`audio`] | WAV read/write, resampling, tone generation, Goertzel detection |
//! | [`error`] | [`Error`]: what is wrong with an input |
//! | [`srtp`] | SRTP/SRTCP protect and unprotect (RFC 3711) with SDES keys (RFC 4568 §6): suites, master keys, `inline:` key parameters |
//! | [`codec`] | G.711 μ-law/A-law and GSM 06.10 encoders and decoders (RFC 3551 §4.5), loss concealment |

pub mod audio;
pub mod codec;
pub mod error;
pub mod event;
pub mod jitter;
pub mod ntp;
pub mod packet;
pub mod quality;
pub mod rtcp;
pub mod srtp;
pub mod stats;
pub mod stream;

pub use error::Error;
pub use packet::{RtpHeader, RtpPacket};
pub use stream::{MediaStream, Report, StreamConfig};
