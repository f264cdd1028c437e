//! Banned source networks (migration `0006`): every request from a banned address is
//! dropped (or refused) by the server before it is looked at. The server writes the bans it
//! decides itself (too many failed authentications, `automatic`); `itsp ban add|rm` writes
//! and removes any. The table has a change counter ([`BANS_TABLE`]): a running server
//! reads the bans again when it moves.
//!
//! A network is kept in a canonical text: a bare address for one host (`192.0.2.7`,
//! `2001:db8::1`), else `address/prefix` with the host bits cleared (`192.0.2.0/24`), so
//! one network has one row whatever way it was written.

use std::net::IpAddr;

use crate::{on_pool, Store, StoreError};

/// The counted table of bans: [`Store::table_version`].
pub const BANS_TABLE: &str = "bans";

/// The longest ban reason kept.
const MAX_REASON: usize = 200;

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The network, canonical ([`canonical_network`]).
    pub network: String,
    /// When it ends (Unix milliseconds); `None`: when removed.
    pub until_ms: Option<i64>,
    /// Why, for people.
    pub reason: String,
    /// Decided by the server (failed authentications), not by an operator.
    pub automatic: bool,
    /// When it was written (Unix milliseconds).
    pub created_ms: i64,
}

/// The canonical text of an address or network (`192.0.2.7`, `192.0.2.0/24`,
/// `2001:db8::/32`): a bare address for a single host, host bits cleared otherwise;
/// IPv4-mapped IPv6 addresses as IPv4. [`StoreError::BadBan`] for anything else.
pub fn canonical_network(text: &str) -> Result<String, StoreError> {
    let bad = || StoreError::BadBan(format!("{text:?} is not an address or network"));
    let (addr, prefix) = match text.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text.trim(), None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
    };
    if prefix == max {
        return Ok(addr.to_string());
    }
    let masked = match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    };
    Ok(format!("{masked}/{prefix}"))
}

impl Store {
    /// Bans `network` (an address or `address/prefix`) until `until_ms` (Unix
    /// milliseconds; `None`: until removed), replacing an earlier ban of the same network.
    /// Answers the canonical network ([`canonical_network`]). `now_ms` is the creation time.
    pub async fn add_ban(
        &self,
        network: &str,
        until_ms: Option<i64>,
        reason: &str,
        automatic: bool,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        let network = canonical_network(network)?;
        if reason.len() > MAX_REASON {
            return Err(StoreError::BadBan(format!(
                "the reason is longer than {MAX_REASON} bytes"
            )));
        }
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO bans (network, until_ms, reason, automatic, created_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (network) DO UPDATE SET until_ms = excluded.until_ms,
                   reason = excluded.reason, automatic = excluded.automatic,
                   created_ms = excluded.created_ms",
            )
            .bind(&network)
            .bind(until_ms)
            .bind(reason)
            .bind(automatic)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(network)
    }

    /// Lifts the ban of `network` (written as for [`Store::add_ban`]);
    /// [`StoreError::NoSuchBan`] when there is none.
    pub async fn remove_ban(&self, network: &str) -> Result<(), StoreError> {
        let network = canonical_network(network)?;
        let removed = on_pool!(self, pool => {
            sqlx::query("DELETE FROM bans WHERE network = $1")
                .bind(&network)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if removed == 0 {
            return Err(StoreError::NoSuchBan(network));
        }
        Ok(())
    }

    /// The bans in force at `now_ms` (those without an end, or ending later), by network.
    pub async fn bans(&self, now_ms: i64) -> Result<Vec<Ban>, StoreError> {
        type Row = (String, Option<i64>, String, bool, i64);
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT network, until_ms, reason, automatic, created_ms FROM bans
                 WHERE until_ms IS NULL OR until_ms > $1 ORDER BY network",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(network, until_ms, reason, automatic, created_ms)| Ban {
                network,
                until_ms,
                reason,
                automatic,
                created_ms,
            })
            .collect())
    }

    /// Deletes the bans that ended at or before `now_ms`; answers how many.
    pub async fn purge_bans(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM bans WHERE until_ms IS NOT NULL AND until_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn networks_are_canonical() {
        assert_eq!(canonical_network("192.0.2.7").unwrap(), "192.0.2.7");
        assert_eq!(canonical_network("192.0.2.7/32").unwrap(), "192.0.2.7");
        assert_eq!(canonical_network("192.0.2.7/24").unwrap(), "192.0.2.0/24");
        assert_eq!(canonical_network("::ffff:192.0.2.7").unwrap(), "192.0.2.7");
        assert_eq!(
            canonical_network("2001:db8::1/32").unwrap(),
            "2001:db8::/32"
        );
        assert_eq!(canonical_network("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        for bad in ["", "example.com", "192.0.2.7/33", "192.0.2.7/", "1.2.3.4/x"] {
            assert!(canonical_network(bad).is_err(), "{bad}");
        }
    }
}
