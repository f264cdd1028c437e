//! Typed views of header values, parsed on demand from borrowed text.
//!
//! ## Layout
//!
//! - `via.rs`: Via (RFC 3261 §20.42, RFC 3581 rport).
//! - `name_addr.rs`: From, To, Contact, Route, Record-Route, Path (name-addr / addr-spec).
//! - `scalar.rs`: CSeq, Call-ID, Max-Forwards, Expires, Content-Type, Date, token lists.

mod name_addr;
mod scalar;
mod via;

pub use name_addr::{parse_qvalue, Contact, NameAddr};
pub use scalar::{
    check_call_id, civil_from_days, days_from_civil, format_date, parse_date, parse_delta_seconds,
    parse_max_forwards, parse_retry_after, parse_time_ms, rfc3339, rfc3339_ms, tokens, CSeq,
    MediaType, MAX_CSEQ,
};
pub(crate) use via::ViaSpans;
pub use via::{parse_host_port, stamped, Via, MAGIC_COOKIE};
