//! What the server writes into the messages it makes itself: its `Server` header value and
//! the To tag of its own responses.

use sip::{HeaderName, Message, MessageBuilder};

/// The default `Server` / `User-Agent` value (RFC 3261 §20.35, §20.41): the product name
/// without its version, so that a scanner cannot look up the known flaws of a release
/// (RFC 3261 §20.35 warns that the header can reveal exactly that).
pub const DEFAULT_SERVER_HEADER: &str = "itsp";

/// Adds the configured `Server` header to a response the server makes itself; an empty
/// value (configured so) adds none (the header is optional, RFC 3261 §20.35).
pub(crate) trait WithServer {
    /// The builder with `Server: value`, unless `value` is empty.
    fn server(self, value: &str) -> Self;
}

impl WithServer for MessageBuilder {
    fn server(self, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.header(HeaderName::Server, value)
        }
    }
}

/// A To tag for responses the server generates itself, the same for every retransmission
/// of one request (RFC 3261 §8.2.6.2).
pub(crate) fn local_tag(msg: &Message) -> String {
    use std::hash::{BuildHasher, Hash, Hasher};
    // Fixed seeds: the same request gives the same tag (a tag only has to be unique, not
    // secret; the Call-ID and From tag make it so).
    let mut h = ahash::RandomState::with_seeds(0x6974_7370, 1, 2, 3).build_hasher();
    msg.call_id().unwrap_or("").hash(&mut h);
    msg.from()
        .ok()
        .and_then(|f| f.tag())
        .unwrap_or("")
        .hash(&mut h);
    msg.cseq().map(|c| c.seq).unwrap_or(0).hash(&mut h);
    sip::text::hex(&h.finish().to_be_bytes())
}
