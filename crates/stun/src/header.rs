//! The fixed fields of every STUN header (RFC 5389 §6) that attributes depend on too: the
//! magic cookie and the transaction ID (XOR-MAPPED-ADDRESS is masked with both, §15.2).

/// RFC 5389 §6: the magic cookie, bytes 4..8 of every message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// The 96-bit transaction ID (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);
