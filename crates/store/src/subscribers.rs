//! Subscribers and their digest credentials (the `subscriber` table of SER/Kamailio).
//!
//! A password is turned into four HA1 values on the way in and then forgotten: for MD5 and
//! SHA-256 (RFC 7616, RFC 8760), each over the plain user name (`ha1`) and over
//! `user@domain` as the user name (`ha1b`, for phones that send the full address as the
//! digest username). The realm is the domain.
//!
//! Every change to the table bumps a counter ([`Store::subscribers_version`], in
//! `versions.rs`), so a cache of the credentials can tell when to forget what it holds.

use std::fmt;

use sip::auth::{ha1, Algorithm};

use crate::address::{check_user, normalize_domain};
use crate::error::is_unique_violation;
use crate::{on_pool, unix_now, Address, Store, StoreError};

/// The stored HA1 values for one digest username, in lowercase hex. Debug hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1s {
    /// `MD5(username:realm:password)`.
    pub md5: String,
    /// `SHA-256(username:realm:password)`.
    pub sha256: String,
}

impl Ha1s {
    /// The HA1 to verify a response of `algorithm` with (the `-sess` variants start from the
    /// same HA1); `None` for algorithms the store keeps no HA1 for (SHA-512-256).
    pub fn for_algorithm(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Md5 | Algorithm::Md5Sess => Some(&self.md5),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Some(&self.sha256),
            _ => None,
        }
    }

    fn compute(username: &str, realm: &str, password: &str) -> Ha1s {
        Ha1s {
            md5: ha1(Algorithm::Md5, username, realm, password),
            sha256: ha1(Algorithm::Sha256, username, realm, password),
        }
    }
}

impl fmt::Debug for Ha1s {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1s(<redacted>)")
    }
}

/// A subscriber as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The row id (stable; aliases and groups refer to it).
    pub id: i64,
    /// The address.
    pub address: Address,
    /// HA1 with the plain user name as digest username.
    pub ha1: Ha1s,
    /// HA1 with `user@domain` as digest username (Kamailio's `ha1b`).
    pub ha1b: Ha1s,
    /// Contact e-mail, for voicemail and password resets.
    pub email: Option<String>,
    /// When the subscriber was added, Unix seconds.
    pub created_at: i64,
    /// Disabled: kept, but neither SIP nor the portal lets them in
    /// ([`Store::set_subscriber_disabled`]; migration `0020`).
    pub disabled: bool,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("address", &format_args!("{}", self.address))
            .field("ha1", &self.ha1)
            .field("ha1b", &self.ha1b)
            .field("email", &self.email)
            .field("created_at", &self.created_at)
            .field("disabled", &self.disabled)
            .finish()
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriberRow {
    id: i64,
    username: String,
    domain: String,
    ha1_md5: String,
    ha1b_md5: String,
    ha1_sha256: String,
    ha1b_sha256: String,
    email: Option<String>,
    created_at: i64,
    disabled: bool,
}

impl From<SubscriberRow> for Subscriber {
    fn from(r: SubscriberRow) -> Subscriber {
        Subscriber {
            id: r.id,
            address: Address {
                user: r.username,
                domain: r.domain,
            },
            ha1: Ha1s {
                md5: r.ha1_md5,
                sha256: r.ha1_sha256,
            },
            ha1b: Ha1s {
                md5: r.ha1b_md5,
                sha256: r.ha1b_sha256,
            },
            email: r.email,
            created_at: r.created_at,
            disabled: r.disabled,
        }
    }
}

pub(crate) const SUBSCRIBER_COLUMNS: &str =
    "id, username, domain, ha1_md5, ha1b_md5, ha1_sha256, ha1b_sha256, email, created_at, disabled";

/// The longest password accepted, in bytes: far above any passphrase, and it keeps a file
/// passed by mistake (or a hostile caller of the admin API) from being hashed.
pub const MAX_PASSWORD_BYTES: usize = 1024;

pub(crate) fn check_password(password: &str) -> Result<&str, StoreError> {
    if password.is_empty() {
        return Err(StoreError::BadPassword("empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(StoreError::BadPassword("longer than 1024 bytes"));
    }
    if password.chars().any(char::is_control) {
        return Err(StoreError::BadPassword("control characters"));
    }
    Ok(password)
}

pub(crate) fn check_email(email: Option<&str>) -> Result<Option<&str>, StoreError> {
    let Some(e) = email else { return Ok(None) };
    let ok = e
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.len() <= 254;
    if ok {
        Ok(Some(e))
    } else {
        Err(StoreError::BadEmail(e.to_owned()))
    }
}

/// The four HA1 values for `a` and `password`: (ha1, ha1b).
pub(crate) fn hashes(a: &Address, password: &str) -> (Ha1s, Ha1s) {
    (
        Ha1s::compute(&a.user, &a.domain, password),
        Ha1s::compute(&a.to_string(), &a.domain, password),
    )
}

impl Store {
    /// Adds a subscriber in a served domain; the password is hashed and not kept.
    pub async fn add_subscriber(
        &self,
        user: &str,
        domain: &str,
        password: &str,
        email: Option<&str>,
    ) -> Result<Subscriber, StoreError> {
        let a = Address::new(user, domain)?;
        let (h, hb) = hashes(&a, check_password(password)?);
        let email = check_email(email)?;
        // One statement, so the domain and alias checks hold at the insert.
        let r = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO subscribers (username, domain, ha1_md5, ha1b_md5, ha1_sha256,
                                          ha1b_sha256, email, created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8
                 WHERE EXISTS (SELECT 1 FROM domains WHERE name = $2)
                   AND NOT EXISTS (SELECT 1 FROM aliases
                                   WHERE alias_user = $1 AND alias_domain = $2)",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(&h.md5)
            .bind(&hb.md5)
            .bind(&h.sha256)
            .bind(&hb.sha256)
            .bind(email)
            .bind(unix_now())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        match r {
            Ok(n) if n > 0 => {}
            Ok(_) if !self.domain_exists(&a.domain).await? => {
                return Err(StoreError::NoSuchDomain(a.domain))
            }
            Ok(_) => return Err(StoreError::AliasExists(a.to_string())),
            Err(e) if is_unique_violation(&e) => return Err(StoreError::UserExists(a.to_string())),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user = %a, "subscriber added");
        self.subscriber(&a.user, &a.domain)
            .await?
            .ok_or(StoreError::NoSuchUser(a.to_string()))
    }

    /// Replaces a subscriber's password (all four HA1 values).
    pub async fn set_password(
        &self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let (h, hb) = hashes(&a, check_password(password)?);
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE subscribers SET ha1_md5 = $3, ha1b_md5 = $4, ha1_sha256 = $5,
                        ha1b_sha256 = $6
                 WHERE username = $1 AND domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(&h.md5)
            .bind(&hb.md5)
            .bind(&h.sha256)
            .bind(&hb.sha256)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, "password changed");
        Ok(())
    }

    /// Sets (or with `None` clears) the contact e-mail address of `user@domain`, where
    /// password reset links and voicemail e-mails go. [`StoreError::BadEmail`] for one not
    /// of the form `local@domain`, [`StoreError::NoSuchUser`] without them.
    pub async fn set_email(
        &self,
        user: &str,
        domain: &str,
        email: Option<&str>,
    ) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let email = check_email(email.map(str::trim).filter(|e| !e.is_empty()))?;
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE subscribers SET email = $3 WHERE username = $1 AND domain = $2")
                .bind(&a.user)
                .bind(&a.domain)
                .bind(email)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, "e-mail address changed");
        Ok(())
    }

    /// Disables the subscriber `user@domain` (or enables them again). A disabled
    /// subscriber keeps everything, but [`Store::credentials`] finds nothing for them (the
    /// SIP server answers as for an unknown user) and the portal lets them in no more:
    /// disabling ends their browser sessions in the same transaction. The update bumps
    /// the `subscribers` change counter. [`StoreError::NoSuchUser`] without them.
    pub async fn set_subscriber_disabled(
        &self,
        user: &str,
        domain: &str,
        disabled: bool,
    ) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let n = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE subscribers SET disabled = $3 WHERE username = $1 AND domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(disabled)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 && disabled {
                sqlx::query(
                    "DELETE FROM web_sessions WHERE subscriber_id =
                       (SELECT id FROM subscribers WHERE username = $1 AND domain = $2)",
                )
                .bind(&a.user)
                .bind(&a.domain)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, disabled, "subscriber disabled or enabled");
        Ok(())
    }

    /// Removes a subscriber with its aliases, group memberships, preferences, voicemail
    /// messages, account and ledger (whatever the balance) and location bindings (of the
    /// AoR `user@domain`), in one transaction.
    pub async fn remove_subscriber(&self, user: &str, domain: &str) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let n = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM subscribers WHERE username = $1 AND domain = $2")
                .bind(&a.user)
                .bind(&a.domain)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM locations WHERE aor = $1")
                .bind(a.aor())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, "subscriber removed");
        Ok(())
    }

    /// The subscriber at `user@domain`, if any (aliases are not followed: see
    /// [`Store::resolve`]).
    pub async fn subscriber(
        &self,
        user: &str,
        domain: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let a = Address::new(user, domain)?;
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE username = $1 AND domain = $2"
        );
        let row: Option<SubscriberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Subscriber::from))
    }

    /// [`StoreError::NoSuchUser`] unless `a` is a subscriber: for a change or lookup that
    /// found no rows, to tell "none" from "no such user".
    pub(crate) async fn ensure_subscriber(&self, a: &Address) -> Result<(), StoreError> {
        match self.subscriber(&a.user, &a.domain).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NoSuchUser(a.to_string())),
        }
    }

    /// Deletes the row `name` of the subscriber `a` from `table`, one of the tables of
    /// (`subscriber_id`, `name`) rows (`groups`, `preferences`); `Ok(false)` if there was
    /// none.
    pub(crate) async fn remove_named(
        &self,
        table: &'static str,
        a: &Address,
        name: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE name = $3 AND subscriber_id =
               (SELECT id FROM subscribers WHERE username = $1 AND domain = $2)"
        );
        let n = on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(&a.user)
                .bind(&a.domain)
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            self.ensure_subscriber(a).await?;
        }
        Ok(n > 0)
    }

    /// The subscribers, of one domain or of all, sorted by domain and user.
    pub async fn list_subscribers(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<Subscriber>, StoreError> {
        let rows: Vec<SubscriberRow> = match domain {
            Some(d) => {
                let d = normalize_domain(d)?;
                if !self.domain_exists(&d).await? {
                    return Err(StoreError::NoSuchDomain(d));
                }
                let sql = format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE domain = $1
                     ORDER BY username"
                );
                on_pool!(self, pool => {
                    sqlx::query_as(&sql).bind(&d).fetch_all(pool).await?
                })
            }
            None => {
                let sql = format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers ORDER BY domain, username"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?)
            }
        };
        Ok(rows.into_iter().map(Subscriber::from).collect())
    }

    /// The HA1 values to check a digest `username` in `realm` against (RFC 3261 §22.4): the
    /// subscriber `username@realm`, or, when `username` is itself `user@realm`, that
    /// subscriber's `ha1b` values. `None` for anything else, malformed input included, and
    /// for a disabled subscriber, so the caller answers every unknown user alike.
    pub async fn credentials(
        &self,
        username: &str,
        realm: &str,
    ) -> Result<Option<Ha1s>, StoreError> {
        let Ok(realm) = normalize_domain(realm) else {
            return Ok(None);
        };
        let (user, column_md5, column_sha256) = match username.split_once('@') {
            None => (username, "ha1_md5", "ha1_sha256"),
            Some((u, d)) if normalize_domain(d).is_ok_and(|d| d == realm) => {
                (u, "ha1b_md5", "ha1b_sha256")
            }
            Some(_) => return Ok(None),
        };
        if check_user(user).is_err() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {column_md5}, {column_sha256} FROM subscribers
             WHERE username = $1 AND domain = $2 AND NOT disabled"
        );
        let row: Option<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(user)
                .bind(&realm)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(md5, sha256)| Ha1s { md5, sha256 }))
    }
}
