//! STUN attributes (RFC 5389 §15, RFC 5780 §7): their types and the encoding of the values
//! itsp reads and writes. Types below 0x8000 are comprehension-required: a server that does
//! not understand one answers 420 (§7.3.1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::StunError;
use crate::header::{TransactionId, MAGIC_COOKIE};

/// An attribute type (RFC 5389 §18.2, RFC 5780 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttributeType(pub u16);

impl AttributeType {
    /// RFC 5389 §15.1.
    pub const MAPPED_ADDRESS: AttributeType = AttributeType(0x0001);
    /// RFC 5780 §7.2.
    pub const CHANGE_REQUEST: AttributeType = AttributeType(0x0003);
    /// RFC 5389 §15.3.
    pub const USERNAME: AttributeType = AttributeType(0x0006);
    /// RFC 5389 §15.4.
    pub const MESSAGE_INTEGRITY: AttributeType = AttributeType(0x0008);
    /// RFC 5389 §15.6.
    pub const ERROR_CODE: AttributeType = AttributeType(0x0009);
    /// RFC 5389 §15.9.
    pub const UNKNOWN_ATTRIBUTES: AttributeType = AttributeType(0x000A);
    /// RFC 5389 §15.7.
    pub const REALM: AttributeType = AttributeType(0x0014);
    /// RFC 5389 §15.8.
    pub const NONCE: AttributeType = AttributeType(0x0015);
    /// RFC 5389 §15.2.
    pub const XOR_MAPPED_ADDRESS: AttributeType = AttributeType(0x0020);
    /// RFC 5780 §7.5.
    pub const RESPONSE_PORT: AttributeType = AttributeType(0x0027);
    /// RFC 5389 §15.10.
    pub const SOFTWARE: AttributeType = AttributeType(0x8022);
    /// RFC 5389 §15.11.
    pub const ALTERNATE_SERVER: AttributeType = AttributeType(0x8023);
    /// RFC 5389 §15.5.
    pub const FINGERPRINT: AttributeType = AttributeType(0x8028);
    /// RFC 5780 §7.3.
    pub const RESPONSE_ORIGIN: AttributeType = AttributeType(0x802B);
    /// RFC 5780 §7.4.
    pub const OTHER_ADDRESS: AttributeType = AttributeType(0x802C);

    /// Types 0x0000–0x7FFF: the receiver must understand them (RFC 5389 §15).
    pub fn comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether itsp's Binding server understands this attribute in a request. USERNAME,
    /// MESSAGE-INTEGRITY, REALM and NONCE are accepted and ignored: the server uses no
    /// credentials (a Binding request needs none, RFC 5389 §10).
    pub fn understood_in_request(self) -> bool {
        !self.comprehension_required()
            || matches!(
                self,
                AttributeType::MAPPED_ADDRESS
                    | AttributeType::XOR_MAPPED_ADDRESS
                    | AttributeType::CHANGE_REQUEST
                    | AttributeType::RESPONSE_PORT
                    | AttributeType::USERNAME
                    | AttributeType::MESSAGE_INTEGRITY
                    | AttributeType::REALM
                    | AttributeType::NONCE
                    | AttributeType::ERROR_CODE
                    | AttributeType::UNKNOWN_ATTRIBUTES
            )
    }
}

/// RFC 5389 §15.1: address family values.
const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// The value of MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER (§15.1).
pub fn encode_address(addr: SocketAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(20);
    v.push(0);
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(FAMILY_IPV4);
            v.extend_from_slice(&addr.port().to_be_bytes());
            v.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            v.push(FAMILY_IPV6);
            v.extend_from_slice(&addr.port().to_be_bytes());
            v.extend_from_slice(&ip.octets());
        }
    }
    v
}

/// The value of XOR-MAPPED-ADDRESS (§15.2): the port XOR the cookie's high 16 bits, an IPv4
/// address XOR the cookie, an IPv6 address XOR the cookie and the transaction ID.
pub fn encode_xor_address(addr: SocketAddr, id: TransactionId) -> Vec<u8> {
    let mut v = encode_address(addr);
    xor_in_place(&mut v, id);
    v
}

/// Decodes a MAPPED-ADDRESS-style value of attribute `attribute`.
pub fn decode_address(attribute: u16, value: &[u8]) -> Result<SocketAddr, StunError> {
    let bad = |reason| StunError::BadAttribute { attribute, reason };
    let (&family, rest) = value
        .get(1..)
        .and_then(|v| v.split_first())
        .ok_or(bad("shorter than 4 bytes"))?;
    let port = rest.get(..2).ok_or(bad("shorter than 4 bytes"))?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    let ip = &rest[2..];
    match family {
        FAMILY_IPV4 => {
            let o: [u8; 4] = ip.try_into().map_err(|_| bad("IPv4 address not 4 bytes"))?;
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(o)), port))
        }
        FAMILY_IPV6 => {
            let o: [u8; 16] = ip
                .try_into()
                .map_err(|_| bad("IPv6 address not 16 bytes"))?;
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
        }
        _ => Err(bad("unknown address family")),
    }
}

/// Decodes an XOR-MAPPED-ADDRESS value of the message with transaction `id`.
pub fn decode_xor_address(value: &[u8], id: TransactionId) -> Result<SocketAddr, StunError> {
    let mut v = value.to_vec();
    xor_in_place(&mut v, id);
    decode_address(AttributeType::XOR_MAPPED_ADDRESS.0, &v)
}

/// XORs bytes 2.. of an address value with the cookie and the transaction ID (§15.2); the
/// same operation encodes and decodes.
fn xor_in_place(value: &mut [u8], id: TransactionId) {
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(&id.0);
    if let Some(port) = value.get_mut(2..4) {
        port[0] ^= mask[0];
        port[1] ^= mask[1];
    }
    if let Some(ip) = value.get_mut(4..) {
        for (b, m) in ip.iter_mut().zip(mask) {
            *b ^= m;
        }
    }
}

/// An ERROR-CODE value (§15.6): code 300–699 and a reason phrase.
pub fn encode_error_code(code: u16, reason: &str) -> Vec<u8> {
    let mut v = vec![0, 0, (code / 100) as u8 & 0x07, (code % 100) as u8];
    // §15.6: at most 128 characters (763 bytes).
    let mut end = reason.len().min(763);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    v.extend_from_slice(&reason.as_bytes()[..end]);
    v
}

/// Decodes an ERROR-CODE value into the code and the reason phrase.
pub fn decode_error_code(value: &[u8]) -> Result<(u16, String), StunError> {
    let bad = |reason| StunError::BadAttribute {
        attribute: AttributeType::ERROR_CODE.0,
        reason,
    };
    let head = value.get(..4).ok_or(bad("shorter than 4 bytes"))?;
    let class = u16::from(head[2] & 0x07);
    let number = u16::from(head[3]);
    if !(3..=6).contains(&class) || number > 99 {
        return Err(bad("code outside 300..699"));
    }
    let reason = String::from_utf8_lossy(&value[4..]).into_owned();
    Ok((class * 100 + number, reason))
}

/// An UNKNOWN-ATTRIBUTES value (§15.9): the types, 16 bits each.
pub fn encode_unknown_attributes(types: &[u16]) -> Vec<u8> {
    types.iter().flat_map(|t| t.to_be_bytes()).collect()
}

/// Decodes an UNKNOWN-ATTRIBUTES value.
pub fn decode_unknown_attributes(value: &[u8]) -> Result<Vec<u16>, StunError> {
    if value.len() % 2 != 0 {
        return Err(StunError::BadAttribute {
            attribute: AttributeType::UNKNOWN_ATTRIBUTES.0,
            reason: "odd length",
        });
    }
    Ok(value
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

/// RFC 5780 §7.2 CHANGE-REQUEST: answer from another IP address and/or port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeRequest {
    /// The "change IP" flag (0x4).
    pub change_ip: bool,
    /// The "change port" flag (0x2).
    pub change_port: bool,
}

impl ChangeRequest {
    /// Neither flag.
    pub const NONE: ChangeRequest = ChangeRequest {
        change_ip: false,
        change_port: false,
    };
    /// Only the port.
    pub const PORT: ChangeRequest = ChangeRequest {
        change_ip: false,
        change_port: true,
    };
    /// Address and port.
    pub const IP_AND_PORT: ChangeRequest = ChangeRequest {
        change_ip: true,
        change_port: true,
    };

    /// The 4-byte value.
    pub fn encode(self) -> [u8; 4] {
        [
            0,
            0,
            0,
            (u8::from(self.change_ip) << 2) | (u8::from(self.change_port) << 1),
        ]
    }

    /// Decodes the value; other bits are ignored.
    pub fn decode(value: &[u8]) -> Result<ChangeRequest, StunError> {
        let v: [u8; 4] = value.try_into().map_err(|_| StunError::BadAttribute {
            attribute: AttributeType::CHANGE_REQUEST.0,
            reason: "not 4 bytes",
        })?;
        Ok(ChangeRequest {
            change_ip: v[3] & 0x04 != 0,
            change_port: v[3] & 0x02 != 0,
        })
    }
}

/// Decodes a RESPONSE-PORT value (RFC 5780 §7.5): a port and 2 bytes of padding.
pub fn decode_response_port(value: &[u8]) -> Result<u16, StunError> {
    let v: [u8; 4] = value.try_into().map_err(|_| StunError::BadAttribute {
        attribute: AttributeType::RESPONSE_PORT.0,
        reason: "not 4 bytes",
    })?;
    Ok(u16::from_be_bytes([v[0], v[1]]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_round_trip_plain_and_xor() {
        let id = TransactionId([9; 12]);
        for a in [
            "192.0.2.1:32853",
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(decode_address(1, &encode_address(a)).unwrap(), a);
            let x = encode_xor_address(a, id);
            assert_ne!(x, encode_address(a));
            assert_eq!(decode_xor_address(&x, id).unwrap(), a);
        }
        assert!(decode_address(1, &[0, 1, 0]).is_err());
        assert!(decode_address(1, &[0, 3, 0, 1, 1, 2, 3, 4]).is_err());
        assert!(decode_address(1, &[0, 1, 0, 1, 1, 2, 3]).is_err());
    }

    #[test]
    fn error_codes_and_flags() {
        let v = encode_error_code(420, "Unknown Attribute");
        assert_eq!(&v[..4], &[0, 0, 4, 20]);
        assert_eq!(
            decode_error_code(&v).unwrap(),
            (420, "Unknown Attribute".to_owned())
        );
        assert!(decode_error_code(&[0, 0, 2, 0]).is_err());
        assert!(decode_error_code(&[0, 0, 4, 100]).is_err());
        assert_eq!(ChangeRequest::IP_AND_PORT.encode(), [0, 0, 0, 6]);
        assert_eq!(
            ChangeRequest::decode(&ChangeRequest::PORT.encode()).unwrap(),
            ChangeRequest::PORT
        );
        assert!(ChangeRequest::decode(&[0, 0, 6]).is_err());
        assert_eq!(
            decode_unknown_attributes(&encode_unknown_attributes(&[0x24, 0x7fff])).unwrap(),
            [0x24, 0x7fff]
        );
        assert!(decode_unknown_attributes(&[1]).is_err());
    }
}
