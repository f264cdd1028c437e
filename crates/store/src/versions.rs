//! Change counters of tables (`table_versions`, migrations `0003`, `0004`, `0006`, `0007`
//! and `0014`): a row per
//! counted table whose version goes up with every row inserted, updated or deleted in it,
//! by triggers in the database, whoever the writer is (another process, another node on
//! PostgreSQL). A caller that keeps what it read from a table in memory asks for the
//! table's version now and then and forgets what it keeps when the version has moved.

use crate::{on_pool, Store, StoreError};

/// The counted table of subscribers (their HA1 values): [`Store::subscribers_version`].
pub const SUBSCRIBERS_TABLE: &str = "subscribers";

/// The counted table of per-subscriber preferences (call forwarding), also changed when a
/// subscriber is removed with its preferences.
pub const PREFERENCES_TABLE: &str = "preferences";

/// The counted names by which subscribers are reached: subscribers and their aliases
/// (what [`Store::resolve`] answers), migration `0007`.
pub const ADDRESSES_TABLE: &str = "addresses";

/// The counted group memberships (what [`Store::in_group`] answers), migration `0007`.
pub const GROUPS_TABLE: &str = "groups";

/// The counted accounts: made, removed, or a new kind or plan (not their balances),
/// migration `0014`.
pub const ACCOUNTS_TABLE: &str = "accounts";

impl Store {
    /// The change counter of the table `name` ([`SUBSCRIBERS_TABLE`], [`crate::BANS_TABLE`],
    /// [`PREFERENCES_TABLE`]): one indexed query. Only a later call that returns another
    /// value tells of a change; the numbers themselves mean nothing.
    /// [`StoreError::NoTableVersion`] for a table that is not counted (or whose row was
    /// deleted by hand), never a made-up version.
    pub async fn table_version(&self, name: &str) -> Result<i64, StoreError> {
        let version: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT version FROM table_versions WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        version.ok_or_else(|| StoreError::NoTableVersion(name.to_owned()))
    }

    /// The change counter of the subscribers ([`Store::table_version`] of
    /// [`SUBSCRIBERS_TABLE`]): it goes up with every subscriber added, changed (a new
    /// password) or removed. A caller that keeps [`Store::credentials`] answers in memory
    /// asks for this now and then and forgets them when it has moved.
    pub async fn subscribers_version(&self) -> Result<i64, StoreError> {
        self.table_version(SUBSCRIBERS_TABLE).await
    }
}
