//! Voicemail messages (migration `0011`): one row per message the media service recorded in
//! a subscriber's mailbox — caller, time, length, the WAV file and whether it is new. The
//! audio itself is a file beside the database (`itsp serve` keeps it under the data
//! directory's `voicemail/DOMAIN/USER/`); the row names it relative to that folder.

use crate::{on_pool, Address, Store, StoreError};

/// A message not yet heard.
pub const STATUS_NEW: &str = "new";
/// A message heard and kept.
pub const STATUS_SAVED: &str = "saved";

/// One voicemail message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VoicemailMessage {
    /// The row's number.
    pub id: i64,
    /// Who called: the From URI.
    pub caller: String,
    /// When it was recorded (Unix milliseconds).
    pub created_ms: i64,
    /// Its length in milliseconds.
    pub duration_ms: i64,
    /// The WAV file, relative to the voicemail folder (`DOMAIN/USER/NAME.wav`).
    pub file: String,
    /// [`STATUS_NEW`] or [`STATUS_SAVED`].
    pub status: String,
}

/// A message to add with [`Store::add_voicemail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoicemail<'a> {
    /// Who called.
    pub caller: &'a str,
    /// When (Unix milliseconds).
    pub created_ms: i64,
    /// Its length in milliseconds.
    pub duration_ms: i64,
    /// The file, relative to the voicemail folder.
    pub file: &'a str,
}

impl Store {
    /// Adds a new message to the mailbox of the subscriber `user@domain`; answers its id.
    /// [`StoreError::NoSuchUser`] when there is no such subscriber (removed meanwhile).
    pub async fn add_voicemail(
        &self,
        user: &str,
        domain: &str,
        message: &NewVoicemail<'_>,
    ) -> Result<i64, StoreError> {
        let a = Address::new(user, domain)?;
        let id: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO voicemail_messages
                     (subscriber_id, caller, created_ms, duration_ms, file, status)
                 SELECT id, $3, $4, $5, $6, $7 FROM subscribers
                  WHERE username = $1 AND domain = $2
                 RETURNING id",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(message.caller)
            .bind(message.created_ms)
            .bind(message.duration_ms.max(0))
            .bind(message.file)
            .bind(STATUS_NEW)
            .fetch_optional(pool)
            .await?
        });
        id.ok_or_else(|| StoreError::NoSuchUser(a.to_string()))
    }

    /// Marks messages of `user@domain` heard ([`STATUS_SAVED`]); answers how many changed.
    /// Ids of other mailboxes are left alone.
    pub async fn mark_voicemail_saved(
        &self,
        user: &str,
        domain: &str,
        ids: &[i64],
    ) -> Result<u64, StoreError> {
        let a = Address::new(user, domain)?;
        let mut changed = 0;
        for id in ids {
            let n = on_pool!(self, pool => {
                sqlx::query(
                    "UPDATE voicemail_messages SET status = $4
                      WHERE id = $3 AND subscriber_id =
                        (SELECT id FROM subscribers WHERE username = $1 AND domain = $2)",
                )
                .bind(&a.user)
                .bind(&a.domain)
                .bind(id)
                .bind(STATUS_SAVED)
                .execute(pool)
                .await?
                .rows_affected()
            });
            changed += n;
        }
        Ok(changed)
    }

    /// Removes message `id` of `user@domain` (voicemail e-mailed with `vm-delivery=email`);
    /// answers its file, relative to the voicemail folder, for the caller to delete, or
    /// `None` when there was no such message in that mailbox.
    pub async fn remove_voicemail(
        &self,
        user: &str,
        domain: &str,
        id: i64,
    ) -> Result<Option<String>, StoreError> {
        let a = Address::new(user, domain)?;
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(
                "DELETE FROM voicemail_messages
                  WHERE id = $3 AND subscriber_id =
                    (SELECT id FROM subscribers WHERE username = $1 AND domain = $2)
                 RETURNING file",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The messages of `user@domain`, oldest first.
    pub async fn voicemail_messages(
        &self,
        user: &str,
        domain: &str,
    ) -> Result<Vec<VoicemailMessage>, StoreError> {
        let a = Address::new(user, domain)?;
        let rows: Vec<VoicemailMessage> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT m.id, m.caller, m.created_ms, m.duration_ms, m.file, m.status
                   FROM voicemail_messages m JOIN subscribers s ON s.id = m.subscriber_id
                  WHERE s.username = $1 AND s.domain = $2
                  ORDER BY m.created_ms, m.id",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_all(pool)
            .await?
        });
        if rows.is_empty() {
            self.ensure_subscriber(&a).await?;
        }
        Ok(rows)
    }

    /// Every mailbox that holds messages, with its counts of new and saved ones (for the
    /// message-waiting lamps after a restart), in no particular order.
    pub async fn voicemail_mailboxes(&self) -> Result<Vec<MailboxCounts>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT s.username AS user, s.domain AS domain,
                        SUM(CASE WHEN m.status = $1 THEN 1 ELSE 0 END) AS new,
                        SUM(CASE WHEN m.status = $2 THEN 1 ELSE 0 END) AS saved
                   FROM voicemail_messages m JOIN subscribers s ON s.id = m.subscriber_id
                  GROUP BY s.username, s.domain",
            )
            .bind(STATUS_NEW)
            .bind(STATUS_SAVED)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// A mailbox's message counts ([`Store::voicemail_mailboxes`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MailboxCounts {
    /// The subscriber's user name.
    pub user: String,
    /// Their domain.
    pub domain: String,
    /// Messages not yet heard.
    pub new: i64,
    /// Messages heard and kept.
    pub saved: i64,
}
