//! Group membership of subscribers (SER's `grp` table): the routing policy asks
//! [`Store::in_group`] before, say, an international call.

use crate::{on_pool, Address, Store, StoreError};

/// Checks a group name: 1 to 64 bytes of letters, digits, `-`, `_` and `.`.
fn check_group(group: &str) -> Result<&str, StoreError> {
    let ok = !group.is_empty()
        && group.len() <= 64
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(group)
    } else {
        Err(StoreError::BadGroup(group.to_owned()))
    }
}

impl Store {
    /// Puts `user@domain` in `group`. `Ok(false)` if it already was.
    pub async fn add_group(
        &self,
        user: &str,
        domain: &str,
        group: &str,
    ) -> Result<bool, StoreError> {
        let a = Address::new(user, domain)?;
        let group = check_group(group)?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO groups (subscriber_id, name)
                 SELECT id, $3 FROM subscribers WHERE username = $1 AND domain = $2
                 ON CONFLICT (subscriber_id, name) DO NOTHING",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(group)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            self.ensure_subscriber(&a).await?;
        }
        Ok(n > 0)
    }

    /// Takes `user@domain` out of `group`. `Ok(false)` if it was not in it.
    pub async fn remove_group(
        &self,
        user: &str,
        domain: &str,
        group: &str,
    ) -> Result<bool, StoreError> {
        let a = Address::new(user, domain)?;
        self.remove_named("groups", &a, check_group(group)?).await
    }

    /// The groups of `user@domain`, sorted.
    pub async fn groups(&self, user: &str, domain: &str) -> Result<Vec<String>, StoreError> {
        let a = Address::new(user, domain)?;
        let groups: Vec<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT g.name FROM groups g JOIN subscribers s ON s.id = g.subscriber_id
                 WHERE s.username = $1 AND s.domain = $2 ORDER BY g.name",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_all(pool)
            .await?
        });
        if groups.is_empty() {
            self.ensure_subscriber(&a).await?;
        }
        Ok(groups)
    }

    /// Whether `user@domain` is a subscriber in `group` (`false` for unknown users and
    /// malformed input).
    pub async fn in_group(
        &self,
        user: &str,
        domain: &str,
        group: &str,
    ) -> Result<bool, StoreError> {
        let (Ok(a), Ok(group)) = (Address::new(user, domain), check_group(group)) else {
            return Ok(false);
        };
        let found: Option<i32> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT 1 FROM groups g JOIN subscribers s ON s.id = g.subscriber_id
                 WHERE s.username = $1 AND s.domain = $2 AND g.name = $3",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(group)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }
}
