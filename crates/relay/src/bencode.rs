//! Bencode, the encoding of rtpengine's NG protocol (BitTorrent BEP 3): integers
//! `i42e`, byte strings `4:spam`, lists `l...e` and dictionaries `d...e` whose keys are
//! byte strings.
//!
//! [`Bencode::decode`] is strict where ambiguity would hurt (no leading zeros, no `-0`,
//! integers within `i64`, string keys, nothing after the value) and bounded (nesting depth
//! [`MAX_DEPTH`]), so hostile input gives an error, never a panic or a stack overflow.
//! Dictionary keys may come in any order; a repeated key is an error. [`Bencode::encode`]
//! writes keys sorted, the canonical form.

use std::collections::BTreeMap;

use crate::error::RelayError;

/// Deepest nesting of lists and dictionaries accepted.
pub const MAX_DEPTH: usize = 32;

/// A bencode value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    /// `i<decimal>e`.
    Int(i64),
    /// `<length>:<bytes>`; NG text values (call-id, SDP) are byte strings.
    Bytes(Vec<u8>),
    /// `l<values>e`.
    List(Vec<Bencode>),
    /// `d<key value...>e`, keys unique.
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    /// A byte string from text.
    pub fn str(text: &str) -> Bencode {
        Bencode::Bytes(text.as_bytes().to_vec())
    }

    /// An empty dictionary, to fill with [`Bencode::insert`].
    pub fn dict() -> Bencode {
        Bencode::Dict(BTreeMap::new())
    }

    /// Sets `key` in a dictionary (does nothing on other values); returns `self` for chaining.
    pub fn insert(&mut self, key: &str, value: Bencode) -> &mut Bencode {
        if let Bencode::Dict(d) = self {
            d.insert(key.as_bytes().to_vec(), value);
        }
        self
    }

    /// The value of `key` when this is a dictionary holding it.
    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The bytes of a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Bencode::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A byte string that is UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An integer, or a byte string holding a decimal integer (rtpengine accepts both).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Bencode::Int(i) => Some(*i),
            other => other.as_str().and_then(|s| s.trim().parse().ok()),
        }
    }

    /// The items of a list.
    pub fn as_list(&self) -> Option<&[Bencode]> {
        match self {
            Bencode::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries of a dictionary.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Bencode>> {
        match self {
            Bencode::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Appends the encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Bencode::Bytes(b) => encode_bytes(b, out),
            Bencode::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(entries) => {
                out.push(b'd');
                for (key, value) in entries {
                    encode_bytes(key, out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The encoding of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes exactly one value filling `input`.
    pub fn decode(input: &[u8]) -> Result<Bencode, RelayError> {
        let mut parser = Parser { input, pos: 0 };
        let value = parser.value(0)?;
        if parser.pos != input.len() {
            return Err(parser.error("data after the value"));
        }
        Ok(value)
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> RelayError {
        RelayError::Bencode {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Bencode, RelayError> {
        match self.peek() {
            None => Err(self.error("unexpected end")),
            Some(b'i') => {
                self.pos += 1;
                let i = self.integer(b'e')?;
                Ok(Bencode::Int(i))
            }
            Some(b'l') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deep"));
                }
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek() != Some(b'e') {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Bencode::List(items))
            }
            Some(b'd') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deep"));
                }
                self.pos += 1;
                let mut entries = BTreeMap::new();
                while self.peek() != Some(b'e') {
                    if !matches!(self.peek(), Some(b'0'..=b'9')) {
                        return Err(self.error(if self.peek().is_none() {
                            "unexpected end"
                        } else {
                            "dictionary key is not a byte string"
                        }));
                    }
                    let key_at = self.pos;
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    if entries.insert(key, value).is_some() {
                        self.pos = key_at;
                        return Err(self.error("repeated dictionary key"));
                    }
                }
                self.pos += 1;
                Ok(Bencode::Dict(entries))
            }
            Some(b'0'..=b'9') => Ok(Bencode::Bytes(self.bytes()?)),
            Some(_) => Err(self.error("not the start of a value")),
        }
    }

    /// Decimal digits (optionally negative) up to `end`, which is consumed.
    fn integer(&mut self, end: u8) -> Result<i64, RelayError> {
        let start = self.pos;
        let Some(len) = self.input[start..].iter().position(|&b| b == end) else {
            return Err(self.error("unterminated integer"));
        };
        let text = &self.input[start..start + len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let valid = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && text != b"-0";
        if !valid {
            return Err(self.error("malformed integer"));
        }
        let value = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| self.error("integer out of range"))?;
        self.pos = start + len + 1;
        Ok(value)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, RelayError> {
        let at = self.pos;
        let len = self.integer(b':')?;
        let len = usize::try_from(len).map_err(|_| {
            self.pos = at;
            self.error("negative string length")
        })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.input.len())
            .ok_or_else(|| self.error("string longer than the input"))?;
        let bytes = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_an_ng_offer() {
        let v =
            Bencode::decode(b"d7:command5:offer7:call-id3:abc5:flagsl13:trust-addressee").unwrap();
        assert_eq!(v.get("command").and_then(Bencode::as_str), Some("offer"));
        assert_eq!(v.get("call-id").and_then(Bencode::as_str), Some("abc"));
        let flags = v.get("flags").and_then(Bencode::as_list).unwrap();
        assert_eq!(flags[0].as_str(), Some("trust-address"));
    }

    #[test]
    fn encodes_keys_sorted() {
        let mut d = Bencode::dict();
        d.insert("result", Bencode::str("pong"))
            .insert("a", Bencode::Int(-3));
        assert_eq!(d.encode(), b"d1:ai-3e6:result4:ponge");
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            &b""[..],
            b"i",
            b"i-0e",
            b"i03e",
            b"ie",
            b"i99999999999999999999e",
            b"5:abc",
            b"-1:a",
            b"l",
            b"d3:keye",
            b"di1ei2ee",
            b"d1:ai1e1:ai2ee",
            b"i1ei2e",
            b"x",
            b"01:a",
        ] {
            assert!(
                Bencode::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
        assert!(matches!(
            Bencode::decode(&deep),
            Err(RelayError::Bencode {
                reason: "nested too deep",
                ..
            })
        ));
    }

    fn value() -> impl Strategy<Value = Bencode> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Bencode::Int),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bencode::Bytes),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Bencode::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(Bencode::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(v in value()) {
            let bytes = v.encode();
            prop_assert_eq!(Bencode::decode(&bytes).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = Bencode::decode(&bytes) {
                // What decodes re-encodes to a value that decodes the same.
                prop_assert_eq!(Bencode::decode(&v.encode()).unwrap(), v);
            }
        }
    }
}
