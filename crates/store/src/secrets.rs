//! Secrets of the portal: random tokens (hex), their SHA-256 for storage, and argon2id
//! hashes of web passwords. The hashing runs on tokio's blocking threads: an argon2 hash
//! costs tens of milliseconds of CPU.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Bytes of randomness in a session or API token secret (256 bits).
const SECRET_BYTES: usize = 32;

/// A fresh random secret as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex(&buf))
}

/// A fresh token secret: `prefix` and 64 hex digits.
pub(crate) fn new_secret(prefix: &str) -> Result<String, StoreError> {
    Ok(format!("{prefix}{}", random_hex(SECRET_BYTES)?))
}

/// How a secret is stored: SHA-256, lowercase hex. A token has 256 random bits, so a fast
/// hash is enough (unlike a password).
pub(crate) fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The argon2id PHC string of `password` with a fresh salt (argon2's default cost).
pub(crate) async fn hash_password(password: String) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| StoreError::Random(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Random(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Random(e.to_string()))
    })
    .await
    .map_err(|e| StoreError::Random(e.to_string()))?
}

/// A PHC string that matches no password, verified when the account has none, so an
/// unknown user costs the same time as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$H1pm2Kqd+VCmMH0P1p4jIqmPOGqBIBbmGtUT2eofRHE";

/// Whether `password` matches the PHC string `hash` (`None`: check a dummy, answer no).
pub(crate) async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            tracing::warn!("a stored web password hash is not a PHC string; login refused");
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && ok
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("s3cret".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret".into(), Some(h.clone())).await);
        assert!(!verify_password("S3cret".into(), Some(h)).await);
        assert!(!verify_password("s3cret".into(), None).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("itsp_").unwrap();
        assert_eq!(a.len(), 5 + 64);
        assert_ne!(a, new_secret("itsp_").unwrap());
        assert_eq!(secret_hash("abc").len(), 64);
    }
}
