//! Conference rooms configured by the operator (migration `0022`): a room of a served
//! domain with an optional PIN that callers type before they join (`itsp conf add`).
//! Rooms not listed here still open on demand, without a PIN.

use crate::address::normalize_domain;
use crate::{on_pool, Store, StoreError};

/// The longest room name, in bytes.
pub const MAX_ROOM_NAME_BYTES: usize = 64;

/// A configured room.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConferenceRoom {
    /// The served domain.
    pub domain: String,
    /// The room's name: callers dial `conf-NAME` (the conference prefix and the name).
    pub name: String,
    /// The PIN callers type before they join, if any (4 to 10 digits).
    pub pin: Option<String>,
    /// When it was added, Unix milliseconds.
    pub created_ms: i64,
}

/// Checks a room name: 1 to [`MAX_ROOM_NAME_BYTES`] letters, digits, `-`, `_` or `.`
/// (what can follow the prefix in a dialled user part without escaping).
pub fn check_room_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_ROOM_NAME_BYTES {
        return Err(StoreError::BadRoom(format!(
            "a room name has 1 to {MAX_ROOM_NAME_BYTES} characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(StoreError::BadRoom(format!(
            "character {c:?} not allowed in room name {name:?} (letters, digits, - _ .)"
        )));
    }
    Ok(())
}

/// Checks a room PIN: 4 to 10 digits (typed on a phone's keypad).
pub fn check_room_pin(pin: &str) -> Result<(), StoreError> {
    if !(4..=10).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::BadRoom("a room PIN is 4 to 10 digits".into()));
    }
    Ok(())
}

impl Store {
    /// Adds room `name` of `domain` with `pin` (or without one); the domain must be
    /// served. [`StoreError::RoomExists`] when it is there already.
    pub async fn add_conference_room(
        &self,
        domain: &str,
        name: &str,
        pin: Option<&str>,
        now_ms: i64,
    ) -> Result<ConferenceRoom, StoreError> {
        let domain = normalize_domain(domain)?;
        check_room_name(name)?;
        if let Some(pin) = pin {
            check_room_pin(pin)?;
        }
        if !self.domain_exists(&domain).await? {
            return Err(StoreError::NoSuchDomain(domain));
        }
        let name = name.to_ascii_lowercase();
        let added = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO conference_rooms (domain, name, pin, created_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (domain, name) DO NOTHING",
            )
            .bind(&domain)
            .bind(&name)
            .bind(pin)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if added == 0 {
            return Err(StoreError::RoomExists(format!("{name}@{domain}")));
        }
        Ok(ConferenceRoom {
            domain,
            name,
            pin: pin.map(str::to_owned),
            created_ms: now_ms,
        })
    }

    /// Sets or clears the PIN of room `name` of `domain`.
    pub async fn set_conference_pin(
        &self,
        domain: &str,
        name: &str,
        pin: Option<&str>,
    ) -> Result<(), StoreError> {
        let domain = normalize_domain(domain)?;
        if let Some(pin) = pin {
            check_room_pin(pin)?;
        }
        let name = name.to_ascii_lowercase();
        let changed = on_pool!(self, pool => {
            sqlx::query("UPDATE conference_rooms SET pin = $3 WHERE domain = $1 AND name = $2")
                .bind(&domain)
                .bind(&name)
                .bind(pin)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NoSuchRoom(format!("{name}@{domain}")));
        }
        Ok(())
    }

    /// Removes room `name` of `domain`.
    pub async fn remove_conference_room(&self, domain: &str, name: &str) -> Result<(), StoreError> {
        let domain = normalize_domain(domain)?;
        let name = name.to_ascii_lowercase();
        let removed = on_pool!(self, pool => {
            sqlx::query("DELETE FROM conference_rooms WHERE domain = $1 AND name = $2")
                .bind(&domain)
                .bind(&name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if removed == 0 {
            return Err(StoreError::NoSuchRoom(format!("{name}@{domain}")));
        }
        Ok(())
    }

    /// Room `name` of `domain`, when configured (names compared without regard to case).
    pub async fn conference_room(
        &self,
        domain: &str,
        name: &str,
    ) -> Result<Option<ConferenceRoom>, StoreError> {
        let domain = normalize_domain(domain)?;
        let name = name.to_ascii_lowercase();
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT domain, name, pin, created_ms FROM conference_rooms
                  WHERE domain = $1 AND name = $2",
            )
            .bind(&domain)
            .bind(&name)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The configured rooms, of `domain` or of all, by domain and name.
    pub async fn conference_rooms(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<ConferenceRoom>, StoreError> {
        let domain = domain.map(normalize_domain).transpose()?;
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT domain, name, pin, created_ms FROM conference_rooms
                  WHERE $1 IS NULL OR domain = $1 ORDER BY domain, name",
            )
            .bind(&domain)
            .fetch_all(pool)
            .await?
        }))
    }
}
