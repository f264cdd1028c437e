//! Self-registration (migration `0021`): a domain setting that lets visitors create their
//! own account through the portal ([`Store::set_self_registration`], off by default), and
//! the sign-ups waiting for their e-mail confirmation.
//!
//! A sign-up ([`Store::create_signup`]) keeps the wanted name, the e-mail address and the
//! web password's argon2id hash under the SHA-256 of a random secret (`itsps_` and 64 hex
//! digits) that the portal mails as a link. No subscriber exists before the link is
//! followed, so an unconfirmed sign-up holds no name. Redeeming it
//! ([`Store::redeem_signup`]) claims the row with one conditional UPDATE and, in the same
//! transaction, creates the subscriber with a generated SIP password (answered once, never
//! stored in clear) and the web password: the account exists, enabled, or nothing changed.

use crate::error::is_unique_violation;
use crate::secrets::{new_secret, secret_hash};
use crate::subscribers::{check_email, hashes};
use crate::web_accounts::{web_password_hash, SET_WEB_PASSWORD_BY_ID};
use crate::{on_pool, Address, Store, StoreError};

/// What every sign-up confirmation secret starts with, so a leaked one is recognisable.
pub const SIGNUP_PREFIX: &str = "itsps_";

/// The characters of a generated SIP password: letters and digits without the ones
/// people confuse (`0`/`O`, `1`/`l`/`I`), easy to type into a phone.
const SIP_PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The length of a generated SIP password (about 94 bits).
pub const SIP_PASSWORD_LEN: usize = 16;

/// A fresh SIP password of [`SIP_PASSWORD_LEN`] characters of an unambiguous alphabet.
pub fn generate_sip_password() -> Result<String, StoreError> {
    let n = SIP_PASSWORD_ALPHABET.len();
    // Rejection sampling: bytes at or above the largest multiple of `n` are drawn again,
    // so every character is equally likely.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(SIP_PASSWORD_LEN);
    let mut buf = [0u8; 64];
    while out.len() < SIP_PASSWORD_LEN {
        getrandom::getrandom(&mut buf).map_err(|e| StoreError::Random(e.to_string()))?;
        for b in buf {
            if usize::from(b) < limit && out.len() < SIP_PASSWORD_LEN {
                out.push(char::from(SIP_PASSWORD_ALPHABET[usize::from(b) % n]));
            }
        }
    }
    Ok(out)
}

/// What the claim of a sign-up found.
enum Redeemed {
    Created(Address),
    Unknown,
    Off(String),
    Alias(String),
    Exists(String),
}

impl Store {
    /// Lets visitors create accounts in `domain` through the portal, or no longer.
    pub async fn set_self_registration(&self, domain: &str, on: bool) -> Result<(), StoreError> {
        let d = crate::address::normalize_domain(domain)?;
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE domains SET self_registration = $2 WHERE name = $1")
                .bind(&d)
                .bind(on)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchDomain(d));
        }
        tracing::info!(domain = %d, on, "self-registration set");
        Ok(())
    }

    /// Whether visitors may create accounts in `domain` (false for a domain not served).
    pub async fn self_registration(&self, domain: &str) -> Result<bool, StoreError> {
        let Ok(d) = crate::address::normalize_domain(domain) else {
            return Ok(false);
        };
        let on: Option<bool> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT self_registration FROM domains WHERE name = $1")
                .bind(&d)
                .fetch_optional(pool)
                .await?
        });
        Ok(on.unwrap_or(false))
    }

    /// The domains where visitors may create accounts, sorted.
    pub async fn self_registration_domains(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT name FROM domains WHERE self_registration = $1 ORDER BY name",
            )
            .bind(true)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Starts a sign-up for `address` at `now_ms` (Unix milliseconds), valid for `ttl_ms`:
    /// checks that the domain lets visitors in ([`StoreError::SelfRegistrationOff`]), the
    /// e-mail address and the web password, and that the name is free (neither a
    /// subscriber, [`StoreError::UserExists`], nor an alias, [`StoreError::AliasExists`],
    /// in any mix of upper and lower case).
    /// Returns the confirmation secret, which only this answer holds.
    pub async fn create_signup(
        &self,
        address: &Address,
        email: &str,
        web_password: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<String, StoreError> {
        if !self.self_registration(&address.domain).await? {
            return Err(StoreError::SelfRegistrationOff(address.domain.clone()));
        }
        let email = check_email(Some(email))?.unwrap_or_default().to_owned();
        let hash = web_password_hash(web_password).await?;
        // Names that differ only in case are held too: `Alice` must not pass for `alice`.
        let (user, alias): (Option<i32>, Option<i32>) = on_pool!(self, pool => {
            let user = sqlx::query_scalar(
                "SELECT 1 FROM subscribers WHERE domain = $2 AND LOWER(username) = LOWER($1)",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .fetch_optional(pool)
            .await?;
            let alias = sqlx::query_scalar(
                "SELECT 1 FROM aliases WHERE alias_domain = $2 AND LOWER(alias_user) = LOWER($1)",
            )
            .bind(&address.user)
            .bind(&address.domain)
            .fetch_optional(pool)
            .await?;
            (user, alias)
        });
        if user.is_some() {
            return Err(StoreError::UserExists(address.to_string()));
        }
        if alias.is_some() {
            return Err(StoreError::AliasExists(address.to_string()));
        }
        let secret = new_secret(SIGNUP_PREFIX)?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO signups (token_hash, username, domain, email, password_hash,
                                      created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(secret_hash(&secret))
            .bind(&address.user)
            .bind(&address.domain)
            .bind(&email)
            .bind(&hash)
            .bind(now_ms)
            .bind(now_ms.saturating_add(ttl_ms.max(0)))
            .execute(pool)
            .await?;
        });
        tracing::info!(user = %address, "sign-up started");
        Ok(secret)
    }

    /// How many sign-ups were started for the e-mail address `email` at or after
    /// `since_ms` (a limit on the mail sent to one mailbox).
    pub async fn signups_since(&self, email: &str, since_ms: i64) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM signups WHERE email = $1 AND created_ms >= $2")
                .bind(email)
                .bind(since_ms)
                .fetch_one(pool)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Redeems the sign-up `secret` at `now_ms`: creates the subscriber with a generated
    /// SIP password ([`generate_sip_password`]), the e-mail address and the web password
    /// of the sign-up, in one transaction with the claim of the sign-up. Returns the
    /// address and the SIP password (its only copy in clear).
    /// [`StoreError::BadSignupToken`] for an unknown, used or expired secret;
    /// [`StoreError::SelfRegistrationOff`] when the domain stopped self-registration;
    /// [`StoreError::UserExists`] or [`StoreError::AliasExists`] when the name was taken
    /// meanwhile (nothing changes).
    pub async fn redeem_signup(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<(Address, String), StoreError> {
        let sip_password = generate_sip_password()?;
        let token_hash = secret_hash(secret);
        let now_secs = now_ms.div_euclid(1000);
        let redeemed: Redeemed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The conditional UPDATE is the claim: of two redeemers, one gets the row.
            let row: Option<(String, String, String, String)> = sqlx::query_as(
                "UPDATE signups SET used_ms = $2
                 WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2
                 RETURNING username, domain, email, password_hash",
            )
            .bind(&token_hash)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => Redeemed::Unknown,
                Some((user, domain, email, web_hash)) => {
                    let on: Option<bool> = sqlx::query_scalar(
                        "SELECT self_registration FROM domains WHERE name = $1",
                    )
                    .bind(&domain)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let a = Address { user, domain };
                    if on != Some(true) {
                        Redeemed::Off(a.domain)
                    } else {
                        let (h, hb) = hashes(&a, &sip_password);
                        let inserted = sqlx::query(
                            "INSERT INTO subscribers (username, domain, ha1_md5, ha1b_md5,
                                                      ha1_sha256, ha1b_sha256, email, created_at)
                             SELECT $1, $2, $3, $4, $5, $6, $7, $8
                             WHERE NOT EXISTS (SELECT 1 FROM aliases
                                               WHERE alias_user = $1 AND alias_domain = $2)",
                        )
                        .bind(&a.user)
                        .bind(&a.domain)
                        .bind(&h.md5)
                        .bind(&hb.md5)
                        .bind(&h.sha256)
                        .bind(&hb.sha256)
                        .bind(&email)
                        .bind(now_secs)
                        .execute(&mut *tx)
                        .await;
                        match inserted {
                            Ok(done) if done.rows_affected() == 0 => Redeemed::Alias(a.to_string()),
                            Err(e) if is_unique_violation(&e) => Redeemed::Exists(a.to_string()),
                            Err(e) => return Err(e.into()),
                            Ok(_) => {
                                let id: i64 = sqlx::query_scalar(
                                    "SELECT id FROM subscribers WHERE username = $1 AND domain = $2",
                                )
                                .bind(&a.user)
                                .bind(&a.domain)
                                .fetch_one(&mut *tx)
                                .await?;
                                sqlx::query(SET_WEB_PASSWORD_BY_ID)
                                    .bind(id)
                                    .bind(&web_hash)
                                    .bind(now_secs)
                                    .execute(&mut *tx)
                                    .await?;
                                tx.commit().await?;
                                Redeemed::Created(a)
                            }
                        }
                    }
                }
            }
        });
        // Every outcome but Created rolls back (the transaction dropped): a link refused
        // for a taken name is not used up, and tells the same next time.
        match redeemed {
            Redeemed::Created(a) => {
                tracing::info!(user = %a, "subscriber created by self-registration");
                Ok((a, sip_password))
            }
            Redeemed::Unknown => Err(StoreError::BadSignupToken),
            Redeemed::Off(d) => Err(StoreError::SelfRegistrationOff(d)),
            Redeemed::Alias(a) => Err(StoreError::AliasExists(a)),
            Redeemed::Exists(a) => Err(StoreError::UserExists(a)),
        }
    }

    /// Deletes the sign-ups expired at `now_ms` (used or not); returns how many.
    pub async fn purge_signups(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM signups WHERE expires_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sip_passwords_are_long_and_plain() {
        let a = generate_sip_password().unwrap();
        let b = generate_sip_password().unwrap();
        assert_eq!(a.len(), SIP_PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| SIP_PASSWORD_ALPHABET.contains(&c)), "{a}");
    }
}
