//! What the server writes into the messages it makes itself: its `Server` header value and
//! the To tag of its own responses.

use sip::Message;

/// The Server / User-Agent string itsp sends (RFC 3261 §20.35).
pub const SERVER: &str = concat!("itsp/", env!("CARGO_PKG_VERSION"));

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
