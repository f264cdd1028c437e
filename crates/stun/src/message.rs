//! STUN messages (RFC 5389 §6): a 20-byte header (type, length, magic cookie, transaction
//! ID) and attributes (type, length, value padded to 4 bytes).

use crate::attribute::AttributeType;
use crate::error::StunError;
use crate::fingerprint::fingerprint;
pub use crate::header::{TransactionId, MAGIC_COOKIE};

/// RFC 5389 §18.1: the Binding method.
pub const BINDING: u16 = 0x001;

/// Header size (§6).
const HEADER: usize = 20;

/// The class of a message (§6: bits C1 and C0 of the type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 0b00.
    Request,
    /// 0b01.
    Indication,
    /// 0b10.
    Success,
    /// 0b11.
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x000,
            Class::Indication => 0x010,
            Class::Success => 0x100,
            Class::Error => 0x110,
        }
    }
}

/// The message type: class bits interleaved with the 12-bit method (§6, figure 3).
fn message_type(class: Class, method: u16) -> u16 {
    let m = method & 0x0FFF;
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | class.bits()
}

fn split_type(t: u16) -> (Class, u16) {
    let class = match t & 0x0110 {
        0x000 => Class::Request,
        0x010 => Class::Indication,
        0x100 => Class::Success,
        _ => Class::Error,
    };
    let method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2);
    (class, method)
}

/// A checked STUN message borrowing the datagram. Attributes are read on demand.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    class: Class,
    method: u16,
    id: TransactionId,
    /// Whether a valid FINGERPRINT ended the message.
    fingerprinted: bool,
}

/// One attribute: its type and value (without padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The type.
    pub kind: AttributeType,
    /// The value, its declared length.
    pub value: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks a datagram (RFC 5389 §6, §7.3): header bits and cookie, a length that is a
    /// multiple of 4 and matches the datagram, every attribute inside the message,
    /// FINGERPRINT (if any) last and correct. Attributes after MESSAGE-INTEGRITY other
    /// than FINGERPRINT are ignored (§15.4).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, StunError> {
        let header = bytes
            .get(..HEADER)
            .ok_or(StunError::TooShort(bytes.len()))?;
        if header[0] & 0xC0 != 0 || header[4..8] != MAGIC_COOKIE.to_be_bytes() {
            return Err(StunError::NotStun);
        }
        let declared = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if declared % 4 != 0 {
            return Err(StunError::UnalignedLength(declared));
        }
        let actual = bytes.len() - HEADER;
        if declared != actual {
            return Err(StunError::LengthMismatch { declared, actual });
        }
        let (class, method) = split_type(u16::from_be_bytes([header[0], header[1]]));
        let mut id = [0u8; 12];
        id.copy_from_slice(&header[8..20]);
        let mut at = HEADER;
        let mut fingerprinted = false;
        while at < bytes.len() {
            let (kind, value, next) = read_attribute(bytes, at)?;
            if kind == AttributeType::FINGERPRINT {
                if next != bytes.len() {
                    return Err(StunError::FingerprintNotLast);
                }
                let v: [u8; 4] = value.try_into().map_err(|_| StunError::BadAttribute {
                    attribute: kind.0,
                    reason: "not 4 bytes",
                })?;
                if u32::from_be_bytes(v) != fingerprint(&bytes[..at]) {
                    return Err(StunError::BadFingerprint);
                }
                fingerprinted = true;
            }
            at = next;
        }
        Ok(Message {
            bytes,
            class,
            method,
            id: TransactionId(id),
            fingerprinted,
        })
    }

    /// The class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The method (`BINDING` = 1).
    pub fn method(&self) -> u16 {
        self.method
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        self.id
    }

    /// Whether the message ended with a FINGERPRINT (checked by [`Message::parse`]).
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprinted
    }

    /// The attributes in order, up to MESSAGE-INTEGRITY (included) and without the
    /// FINGERPRINT (§15.4, §15.5).
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        let bytes = self.bytes;
        let mut at = HEADER;
        let mut after_integrity = false;
        std::iter::from_fn(move || loop {
            if after_integrity {
                return None;
            }
            // Checked by `parse`, so this does not fail; stop quietly if it did.
            let (kind, value, next) = read_attribute(bytes, at).ok()?;
            at = next;
            if kind == AttributeType::FINGERPRINT {
                continue;
            }
            if kind == AttributeType::MESSAGE_INTEGRITY {
                after_integrity = true;
            }
            return Some(Attribute { kind, value });
        })
    }

    /// The value of the first attribute of type `kind`.
    pub fn attribute(&self, kind: AttributeType) -> Option<&'a [u8]> {
        self.attributes().find(|a| a.kind == kind).map(|a| a.value)
    }
}

/// The attribute at `at`: its type, value, and where the next one starts (after padding).
fn read_attribute(bytes: &[u8], at: usize) -> Result<(AttributeType, &[u8], usize), StunError> {
    let head = bytes
        .get(at..at + 4)
        .ok_or(StunError::AttributeTruncated(0))?;
    let kind = u16::from_be_bytes([head[0], head[1]]);
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let start = at + 4;
    let value = bytes
        .get(start..start + len)
        .ok_or(StunError::AttributeTruncated(kind))?;
    let next = start + len.div_ceil(4) * 4;
    if next > bytes.len() {
        return Err(StunError::AttributeTruncated(kind));
    }
    Ok((AttributeType(kind), value, next))
}

/// Writes a STUN message: header, attributes padded to 4 bytes (§15), optionally
/// FINGERPRINT last.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    bytes: Vec<u8>,
}

impl MessageBuilder {
    /// A message of `class` and `method` with transaction `id`, no attributes yet.
    pub fn new(class: Class, method: u16, id: TransactionId) -> MessageBuilder {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&message_type(class, method).to_be_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&id.0);
        MessageBuilder { bytes }
    }

    /// Adds an attribute, padded with zeros. Values longer than 65535 bytes are cut (no
    /// attribute itsp writes comes near).
    pub fn attribute(mut self, kind: AttributeType, value: &[u8]) -> MessageBuilder {
        let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
        self.bytes.extend_from_slice(&kind.0.to_be_bytes());
        self.bytes
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(value);
        let padding = value.len().div_ceil(4) * 4 - value.len();
        self.bytes.extend(std::iter::repeat_n(0u8, padding));
        self.set_length(self.bytes.len());
        self
    }

    /// The message without FINGERPRINT.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }

    /// The message with FINGERPRINT last (§15.5: the length in the header counts it before
    /// the CRC is computed).
    pub fn finish_with_fingerprint(mut self) -> Vec<u8> {
        self.set_length(self.bytes.len() + 8);
        let crc = fingerprint(&self.bytes);
        self.bytes
            .extend_from_slice(&AttributeType::FINGERPRINT.0.to_be_bytes());
        self.bytes.extend_from_slice(&4u16.to_be_bytes());
        self.bytes.extend_from_slice(&crc.to_be_bytes());
        self.bytes
    }

    /// Header length field: everything after the 20-byte header, up to `total`.
    fn set_length(&mut self, total: usize) {
        let len = u16::try_from(total - HEADER)
            .unwrap_or(u16::MAX)
            .to_be_bytes();
        self.bytes[2] = len[0];
        self.bytes[3] = len[1];
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn message_types_interleave_class_and_method() {
        assert_eq!(message_type(Class::Request, BINDING), 0x0001);
        assert_eq!(message_type(Class::Success, BINDING), 0x0101);
        assert_eq!(message_type(Class::Error, BINDING), 0x0111);
        assert_eq!(message_type(Class::Indication, BINDING), 0x0011);
        for m in [0x001, 0x003, 0xABC, 0xFFF] {
            for c in [
                Class::Request,
                Class::Indication,
                Class::Success,
                Class::Error,
            ] {
                assert_eq!(split_type(message_type(c, m)), (c, m));
            }
        }
    }

    #[test]
    fn built_messages_parse_back_with_padding() {
        let id = TransactionId([3; 12]);
        let m = MessageBuilder::new(Class::Request, BINDING, id)
            .attribute(AttributeType::SOFTWARE, b"abcde")
            .attribute(AttributeType(0x8999), b"")
            .finish_with_fingerprint();
        assert_eq!(m.len(), 20 + 12 + 4 + 8);
        let p = Message::parse(&m).unwrap();
        assert_eq!((p.class(), p.method()), (Class::Request, BINDING));
        assert_eq!(p.transaction_id(), id);
        assert!(p.has_fingerprint());
        assert_eq!(p.attribute(AttributeType::SOFTWARE), Some(&b"abcde"[..]));
        assert_eq!(p.attributes().count(), 2);
        let mut damaged = m.clone();
        damaged[26] ^= 1;
        assert_eq!(
            Message::parse(&damaged).unwrap_err(),
            StunError::BadFingerprint
        );
    }

    #[test]
    fn structural_faults_are_named() {
        let id = TransactionId([1; 12]);
        let ok = MessageBuilder::new(Class::Request, BINDING, id)
            .attribute(AttributeType::SOFTWARE, b"x")
            .finish();
        assert!(Message::parse(&ok).is_ok());
        assert_eq!(
            Message::parse(&ok[..10]).unwrap_err(),
            StunError::TooShort(10)
        );
        let mut m = ok.clone();
        m[0] |= 0x80;
        assert_eq!(Message::parse(&m).unwrap_err(), StunError::NotStun);
        let mut m = ok.clone();
        m[4] = 0;
        assert_eq!(Message::parse(&m).unwrap_err(), StunError::NotStun);
        let mut m = ok.clone();
        m.push(0);
        assert!(matches!(
            Message::parse(&m).unwrap_err(),
            StunError::LengthMismatch { .. }
        ));
        let mut m = ok.clone();
        m[3] = 6;
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            StunError::UnalignedLength(6)
        );
        let mut m = ok.clone();
        m[23] = 9; // SOFTWARE says 9 bytes, 4 are there
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            StunError::AttributeTruncated(0x8022)
        );
        let mut m = MessageBuilder::new(Class::Request, BINDING, id).finish_with_fingerprint();
        m.extend_from_slice(&[0x80, 0x22, 0, 0]);
        m[3] += 4;
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            StunError::FingerprintNotLast
        );
    }
}
