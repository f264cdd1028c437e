//! `a=crypto`: SDP security descriptions for SRTP (SDES, RFC 4568).
//!
//! `a=crypto:<tag> <crypto-suite> <key-params> [<session-param> ...]` (RFC 4568 §9.1) offers
//! or answers one way to protect a stream with SRTP: a suite name, and the sender's own
//! master key, usually `inline:<base64 key and salt>[|lifetime][|MKI:length]`. This module
//! reads and writes the grammar; what a suite or a key means (and whether this side can use
//! it) is the caller's business (the `rtp` crate's `srtp` module for the phone), so the
//! description crate needs no cryptography.
//!
//! The offer/answer rules (RFC 4568 §7.1, §7.2) are in [`crate::offer`] and
//! [`crate::answer`]: the offerer lists one line per suite it supports under distinct tags,
//! the answerer picks one, answers with the same tag and suite and a key of its own.

use std::fmt;

use crate::error::LineError;
use crate::line::is_digits;

/// The profile of SRTP streams (RFC 3711 §1, RFC 4568): what `m=` lines with `a=crypto`
/// carry.
pub const SECURE_AUDIO_PROTO: &str = "RTP/SAVP";

/// One `a=crypto` attribute (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag (1 to 9 digits) that identifies the line within its media section; the
    /// answer repeats the tag of the line it accepts (RFC 4568 §6.1).
    pub tag: u32,
    /// The crypto suite name, e.g. `AES_CM_128_HMAC_SHA1_80` (RFC 4568 §6.2).
    pub suite: String,
    /// The key parameters, each `<method>:<info>` (e.g. `inline:...`), at least one; several
    /// are separated by `;` on the line (RFC 4568 §9.1).
    pub key_params: Vec<String>,
    /// Session parameters after the keys (RFC 4568 §6.3), as written.
    pub session_params: Vec<String>,
}

impl Crypto {
    /// A line with one key parameter and no session parameters.
    pub fn new(tag: u32, suite: &str, key_params: &str) -> Crypto {
        Crypto {
            tag,
            suite: suite.to_owned(),
            key_params: vec![key_params.to_owned()],
            session_params: Vec::new(),
        }
    }

    /// Parses the value of an `a=crypto:` attribute.
    pub fn parse(value: &str) -> Result<Crypto, LineError> {
        let bad = |reason| LineError::attribute("crypto", reason);
        let mut fields = value.split([' ', '\t']).filter(|f| !f.is_empty());
        let (Some(tag), Some(suite), Some(keys)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("needs <tag> <crypto-suite> <key-params>"));
        };
        if !is_digits(tag) || tag.len() > 9 {
            return Err(bad("tag is not 1 to 9 digits"));
        }
        let tag = tag.parse().map_err(|_| bad("tag is not 1 to 9 digits"))?;
        if !suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(bad("crypto-suite is not letters, digits and _"));
        }
        let mut key_params = Vec::new();
        for key in keys.split(';') {
            let Some((method, info)) = key.split_once(':') else {
                return Err(bad("key-param is not <method>:<info>"));
            };
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("key-method is not letters and digits"));
            }
            // key-info: visible characters except ';' (RFC 4568 §9.1).
            if info.is_empty() || !info.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
                return Err(bad("key-info is empty or not visible characters"));
            }
            key_params.push(key.to_owned());
        }
        let session_params = fields.map(str::to_owned).collect::<Vec<_>>();
        if session_params
            .iter()
            .any(|p| !p.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(bad("session-param is not visible characters"));
        }
        Ok(Crypto {
            tag,
            suite: suite.to_owned(),
            key_params,
            session_params,
        })
    }

    /// The first key parameter's info when its method is `inline` (the text after
    /// `inline:`), the only method RFC 4568 defines for SRTP (§6.1).
    pub fn inline_key(&self) -> Option<&str> {
        let (method, info) = self.key_params.first()?.split_once(':')?;
        method.eq_ignore_ascii_case("inline").then_some(info)
    }
}

/// Writes the value of the attribute (without `crypto:`).
impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.tag,
            self.suite,
            self.key_params.join(";")
        )?;
        for param in &self.session_params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}

/// Both sides of the negotiated `a=crypto` of a stream: ours (whose key protects what we
/// send) and the peer's (whose key protects what we receive), same tag, same suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoPair {
    /// The line we sent (in our offer or our answer).
    pub ours: Crypto,
    /// The line the peer sent.
    pub theirs: Crypto,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

    #[test]
    fn rfc4568_example_line() {
        let c = Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {KEY}")).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(c.key_params, [KEY]);
        assert!(c.session_params.is_empty());
        assert_eq!(
            c.inline_key(),
            Some("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32")
        );
        assert_eq!(c.to_string(), format!("1 AES_CM_128_HMAC_SHA1_80 {KEY}"));
    }

    #[test]
    fn several_keys_and_session_params() {
        let text = "123456789 AES_CM_128_HMAC_SHA1_32 inline:AAAA|1:4;inline:BBBB|2:4 KDR=1 UNENCRYPTED_SRTCP";
        let c = Crypto::parse(text).unwrap();
        assert_eq!(c.tag, 123_456_789);
        assert_eq!(c.key_params, ["inline:AAAA|1:4", "inline:BBBB|2:4"]);
        assert_eq!(c.session_params, ["KDR=1", "UNENCRYPTED_SRTCP"]);
        assert_eq!(c.to_string(), text);
        let uri = Crypto::parse("2 F8_128_HMAC_SHA1_80 uri:x").unwrap();
        assert_eq!(uri.inline_key(), None);
        assert_eq!(
            Crypto::new(3, "AES_CM_128_HMAC_SHA1_80", "inline:K").to_string(),
            "3 AES_CM_128_HMAC_SHA1_80 inline:K"
        );
    }

    #[test]
    fn malformed_lines() {
        for (bad, reason) in [
            ("", "needs <tag> <crypto-suite> <key-params>"),
            (
                "1 AES_CM_128_HMAC_SHA1_80",
                "needs <tag> <crypto-suite> <key-params>",
            ),
            ("x AES inline:K", "tag is not 1 to 9 digits"),
            ("1234567890 AES inline:K", "tag is not 1 to 9 digits"),
            (
                "1 AES-CM inline:K",
                "crypto-suite is not letters, digits and _",
            ),
            ("1 AES inlineK", "key-param is not <method>:<info>"),
            ("1 AES :K", "key-method is not letters and digits"),
            (
                "1 AES inline:",
                "key-info is empty or not visible characters",
            ),
            ("1 AES inline:K;", "key-param is not <method>:<info>"),
        ] {
            assert_eq!(
                Crypto::parse(bad),
                Err(LineError::attribute("crypto", reason)),
                "{bad:?}"
            );
        }
    }
}
