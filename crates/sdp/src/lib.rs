//! # sdp — session descriptions (RFC 8866) and the offer/answer model (RFC 3264)
//!
//! Parses, reads, rewrites and serializes SDP bodies, and negotiates one audio stream the
//! way a SIP phone does. The phone (`crates/phone`) builds offers and answers with it; the
//! RTP relay rewrites addresses and ports in the bodies it passes on. Nothing here opens a
//! socket, reads a clock or draws a random number: session ids and versions come from the
//! caller.
//!
//! A parsed [`SessionDescription`] keeps every line as written, unknown ones included, so a
//! CRLF body serializes back byte for byte, and an edit changes only the lines it is about.
//! Malformed input is rejected with the line number and the reason ([`SdpError::Parse`]);
//! nothing panics, whatever the input.
//!
//! ```
//! use sdp::SessionDescription;
//!
//! let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.16\r\ns=-\r\nc=IN IP4 10.0.0.16\r\nt=0 0\r\n\
//!             m=audio 8000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
//! let mut sdp = SessionDescription::parse(body)?;
//! assert_eq!(sdp.media()[0].port(), 8000);
//! // A relay puts itself in the media path:
//! sdp.replace_connection_addresses([203, 0, 113, 5].into());
//! sdp.media_mut()[0].set_port(40000);
//! assert!(sdp.to_string().contains("c=IN IP4 203.0.113.5\r\n"));
//! assert!(sdp.to_string().contains("m=audio 40000 RTP/AVP 0 101\r\n"));
//! # Ok::<(), sdp::SdpError>(())
//! ```
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`mod@line`] | raw `<type>=<value>` lines, splitting a body into lines, the `a=name:value` view |
//! | [`origin`] | the `o=` line, RFC 8866 §5.2 |
//! | [`connection`] | the `c=` line, RFC 8866 §5.7; the RFC 2543 hold address |
//! | [`attribute`] | `rtpmap`, `fmtp`, `ptime`, `maxptime`, direction, `rtcp` (RFC 3605) |
//! | [`crypto`] | `a=crypto` (RFC 4568 §9.1): SDES key lines of SRTP streams, [`Crypto`] and [`CryptoPair`] |
//! | [`media`] | media sections: the `m=` line and its typed attribute views |
//! | [`session`] | [`SessionDescription`]: parse, serialize, session-level views, fallbacks |
//! | [`rewrite`] | in-place edits for a relay: addresses, ports, `a=rtcp`, direction, o= version |
//! | [`codec`] | [`Codec`]: an RTP format, the RFC 3551 static payload types, well-known codecs |
//! | [`offer`] | [`LocalMedia`]: our side of a session; building offers and re-offers (RFC 3264 §5, §8) |
//! | [`answer`] | answering an offer (RFC 3264 §6) and reading the answer to ours (§7) |
//! | [`negotiated`] | [`Negotiated`]: the outcome of an exchange; hold detection (RFC 3264 §8.4) |
//! | [`error`] | [`SdpError`] and [`LineError`]: what is wrong, on which line |

pub mod answer;
pub mod attribute;
pub mod codec;
pub mod connection;
pub mod crypto;
pub mod error;
pub mod line;
pub mod media;
pub mod negotiated;
pub mod offer;
pub mod origin;
pub mod rewrite;
pub mod session;

pub use attribute::{Direction, Fmtp, Rtcp, RtpMap};
pub use codec::{Codec, PayloadType};
pub use connection::Connection;
pub use crypto::{Crypto, CryptoPair};
pub use error::{LineError, SdpError};
pub use line::{Attribute, Line};
pub use media::{MediaDescription, MediaLine};
pub use negotiated::Negotiated;
pub use offer::LocalMedia;
pub use origin::Origin;
pub use session::{SessionDescription, Timing};
