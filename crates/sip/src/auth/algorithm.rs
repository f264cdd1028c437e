//! Digest algorithms (RFC 7616 §3.4.2, RFC 8760 for SIP), hashing into lowercase hex, and the
//! HA1 value a server stores instead of the password.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::AuthError;

/// A digest `algorithm` (RFC 7616 §3.4.2, RFC 8760 §2). The `-sess` variants hash the nonce
/// and client nonce into HA1 (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when `algorithm` is absent (RFC 2617 §3.2.1).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616 §3.2, RFC 8760 §2.2).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (RFC 7616 §3.2, RFC 8760 §2.3).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm, strongest first.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// The name as written in the `algorithm` parameter.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Parses an `algorithm` value, case-insensitively (RFC 7616 §3.3).
    pub fn from_name(s: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// Whether this is a `-sess` variant.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Length of a hash in lowercase hex: 32 for MD5, 64 for the SHA-2 variants.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 32,
            _ => 64,
        }
    }

    /// Client preference, higher is better: SHA-512-256 over SHA-256 over MD5
    /// (RFC 7616 §3.7, RFC 8760 §2.4).
    pub fn preference(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 3,
        }
    }

    /// `H(p1 ":" p2 ":" ...)` in lowercase hex (RFC 7616 §3.4.1 `H` and `KD`).
    pub(crate) fn hash(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hash_hex::<Md5>(parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hash_hex::<Sha256>(parts),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hash_hex::<Sha512_256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or(AuthError::UnsupportedAlgorithm)
    }
}

fn hash_hex<D: Digest>(parts: &[&[u8]]) -> String {
    let mut d = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(p);
    }
    crate::text::hex(&d.finalize())
}

/// HA1 = `H(username ":" realm ":" password)` in lowercase hex (RFC 7616 §3.4.2,
/// RFC 2617 §3.2.2.2), the value a server stores instead of the password.
///
/// The hash function is the one of `algorithm`; `-sess` variants store the same value as their
/// base algorithm (the session part is applied per request by [`super::session_ha1`]). A
/// server offering both MD5 and SHA-256 stores one HA1 per hash function.
///
/// Kamailio-style storage: the `ha1` column is `ha1(alg, "alice", "example.com", pw)`; the
/// `ha1b` column is the same computed with `user@domain` as the username
/// (`ha1(alg, "alice@example.com", "example.com", pw)`), for clients that put the full
/// address-of-record in `username`.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The hashed username `H(username ":" realm)` sent when `userhash=true` (RFC 7616 §3.4.4).
pub fn userhash(algorithm: Algorithm, username: &str, realm: &str) -> String {
    algorithm.hash(&[username.as_bytes(), realm.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!(Algorithm::from_name("md5-SESS"), Some(Algorithm::Md5Sess));
        assert_eq!(Algorithm::from_name("SHA-1"), None);
    }

    #[test]
    fn hash_lengths_and_values() {
        for a in Algorithm::ALL {
            assert_eq!(a.hash(&[b"x"]).len(), a.hex_len());
        }
        assert_eq!(
            Algorithm::Md5.hash(&[b""]),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        // RFC 2617 §3.5: HA1 of Mufasa.
        assert_eq!(
            ha1(
                Algorithm::Md5,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            ),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }
}
