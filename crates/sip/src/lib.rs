//! # sip — the sans-IO SIP core of itsp
//!
//! Parses, inspects, edits and serializes SIP messages (RFC 3261), computes HTTP digest
//! authentication (RFC 2617, RFC 7616, RFC 8760), and runs the transaction state machines
//! (RFC 3261 §17). Nothing here opens a socket, spawns a task or reads a clock: callers pass
//! bytes and the current time in, and take bytes and deadlines out.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`text`] | RFC 3261 §25.1 lexical rules: tokens, LWS, quoted strings, comma splitting |
//! | [`header_name`] | header names, compact forms, single-valued headers |
//! | [`uri`] | `sip:`, `sips:`, `tel:` and other absolute URIs; §19.1.4 comparison |
//! | [`params`] | `;name=value` parameter lists of URIs and headers |
//! | [`method`], [`status`] | request methods; status codes and reason phrases |
//! | [`message`] | [`Message`]: zero-copy parse of one request or response, accessors |
//! | [`build`] | requests and responses from scratch; the §8.2.6 response to a request |
//! | [`edit`] | proxy edits with untouched bytes copied: Via, Record-Route, Route, R-URI, Max-Forwards, body |
//! | [`framing`] | message boundaries on TCP/TLS streams; CRLF keepalives (RFC 5626 §4.4.1) |
//! | [`headers`] | typed header views: Via, From/To/Contact/Route, CSeq, scalars, lists |
//! | [`sanity`] | the status code a proxy, registrar or UAS answers a request with (400, 416, 420, 483, ...) |
//! | [`error`] | [`ParseError`]: what is malformed, as a reason phrase and status code |
//! | [`auth`] | digest authentication: challenges, credentials, nonces, verification |
//! | [`message_summary`] | the RFC 3842 message-waiting body: `Messages-Waiting`, `Message-Account`, `Voice-Message: NEW/OLD` |
//! | [`dialog`] | RFC 3261 §12 dialogs of a user agent: creation, in-dialog requests, CSeq order, target refresh |
//! | [`transaction`] | RFC 3261 §17 / RFC 6026 transaction state machines, timers, matching |

pub mod auth;
pub mod build;
pub mod dialog;
pub mod edit;
pub mod error;
pub mod framing;
pub mod header_name;
pub mod headers;
pub mod message;
pub mod message_summary;
pub mod method;
pub mod params;
pub mod sanity;
pub mod status;
pub mod text;
pub mod transaction;
pub mod uri;

pub use build::MessageBuilder;
pub use edit::Editor;
pub use error::ParseError;
pub use header_name::HeaderName;
pub use message::{Header, Message};
pub use method::Method;
pub use uri::Uri;
