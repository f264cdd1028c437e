//! Bearer tokens of the REST API (migration `0010`, `itsp token create`): a name, the
//! owner (an admin token has none; a subscriber's token acts as that subscriber) and the
//! SHA-256 of the secret, which is shown once when the token is made and never stored.

use crate::secrets::{new_secret, secret_hash};
use crate::{on_pool, unix_now, Address, Store, StoreError};

/// What every token secret starts with, so a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "itsp_";

/// The longest token name, in bytes.
pub const MAX_TOKEN_NAME_BYTES: usize = 100;

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The row id, for `itsp token revoke ID`.
    pub id: i64,
    /// What the token is for, as its maker named it.
    pub name: String,
    /// The subscriber it acts as; `None` for an admin token.
    pub owner: Option<Address>,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// When it was last used, Unix seconds.
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    username: Option<String>,
    domain: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> ApiToken {
        let owner = match (r.username, r.domain) {
            (Some(user), Some(domain)) => Some(Address { user, domain }),
            _ => None,
        };
        ApiToken {
            id: r.id,
            name: r.name,
            owner,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

const TOKEN_SELECT: &str = "SELECT t.id, t.name, s.username, s.domain, t.created_at, t.last_used_at
     FROM api_tokens t LEFT JOIN subscribers s ON s.id = t.subscriber_id";

fn check_token_name(name: &str) -> Result<&str, StoreError> {
    if name.is_empty() || name.len() > MAX_TOKEN_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(StoreError::BadTokenName(name.to_owned()));
    }
    Ok(name)
}

impl Store {
    /// Makes a token named `name` acting as `owner` (`None`: an admin token). Returns the
    /// stored token and its secret, which only this answer holds.
    pub async fn create_api_token(
        &self,
        name: &str,
        owner: Option<&Address>,
    ) -> Result<(ApiToken, String), StoreError> {
        let name = check_token_name(name)?;
        let secret = new_secret(TOKEN_PREFIX)?;
        let hash = secret_hash(&secret);
        let now = unix_now();
        let id: Option<i64> = match owner {
            Some(a) => on_pool!(self, pool => {
                sqlx::query_scalar(
                    "INSERT INTO api_tokens (name, secret_hash, subscriber_id, created_at)
                     SELECT $1, $2, id, $3 FROM subscribers WHERE username = $4 AND domain = $5
                     RETURNING id",
                )
                .bind(name)
                .bind(&hash)
                .bind(now)
                .bind(&a.user)
                .bind(&a.domain)
                .fetch_optional(pool)
                .await?
            }),
            None => on_pool!(self, pool => {
                sqlx::query_scalar(
                    "INSERT INTO api_tokens (name, secret_hash, subscriber_id, created_at)
                     VALUES ($1, $2, NULL, $3) RETURNING id",
                )
                .bind(name)
                .bind(&hash)
                .bind(now)
                .fetch_optional(pool)
                .await?
            }),
        };
        let Some(id) = id else {
            let who = owner.map(ToString::to_string).unwrap_or_default();
            return Err(StoreError::NoSuchUser(who));
        };
        tracing::info!(id, name, admin = owner.is_none(), "API token created");
        let token = ApiToken {
            id,
            name: name.to_owned(),
            owner: owner.cloned(),
            created_at: now,
            last_used_at: None,
        };
        Ok((token, secret))
    }

    /// Every token, oldest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!("{TOKEN_SELECT} ORDER BY t.id");
        let rows: Vec<TokenRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    /// Revokes the token `id`: it stops working at once.
    pub async fn revoke_api_token(&self, id: i64) -> Result<(), StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NoSuchToken(id));
        }
        tracing::info!(id, "API token revoked");
        Ok(())
    }

    /// The token whose secret is `secret`, marking it used at `now`; `None` for an unknown
    /// or revoked one, and for one of a disabled subscriber.
    pub async fn api_token_by_secret(
        &self,
        secret: &str,
        now: i64,
    ) -> Result<Option<ApiToken>, StoreError> {
        let hash = secret_hash(secret);
        let sql =
            format!("{TOKEN_SELECT} WHERE t.secret_hash = $1 AND (s.id IS NULL OR NOT s.disabled)");
        let row: Option<TokenRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(&hash).fetch_optional(pool).await?
        });
        if row.is_some() {
            on_pool!(self, pool => {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE secret_hash = $1")
                    .bind(&hash)
                    .bind(now)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(row.map(ApiToken::from))
    }
}
