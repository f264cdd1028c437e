//! The media services inside `itsp serve`: the prompts loaded and checked at start, the
//! media service UA (`media::service`) bound and spawned, and the voicemail messages it
//! records written to the data directory (`voicemail/DOMAIN/USER/TIME.wav`) with a row in
//! the store; a message its owner wants by e-mail goes to the mailer (`notices.rs`). The
//! message counts of mailboxes with message-waiting subscriptions are read from the store
//! when the service asks (after a deposit or a retrieval, and every few seconds). For the
//! voicemail menu by phone it reads a mailbox's messages (new first), checks a mailbox
//! number and PIN (`vm-pin`, the mailbox named by a subscriber's name or alias), marks
//! messages saved, deletes them (row and file, as the portal does), writes a personal
//! greeting (`voicemail/DOMAIN/USER/greeting.wav`, where deposits read it) and keeps a new
//! PIN.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use media::service::greeting;
use media::service::mwi::MessageCounts;
use media::service::shell::{mailbox_dir, MailboxAnswer, MediaService, Outgoing};
use media::service::{Deposit, Mailbox, ServiceConfig, StoredMessage};
use media::{Prompt, Prompts};
use tokio::sync::mpsc;

use crate::config::MediaSettings;
use crate::notices::{Notices, StoredVoicemail};

/// Starts the media services; their SIP address for the proxy, or `None` when the socket
/// could not be bound (logged; the server runs without them). A bad prompts directory is
/// an error: the operator learns it now, not during a call.
pub(crate) async fn start(
    settings: MediaSettings,
    store: store::Store,
    notices: Option<Notices>,
) -> anyhow::Result<Option<SocketAddr>> {
    let prompts = match &settings.prompts {
        // The media error names the directory or file and says what is wrong.
        Some(dir) => Prompts::load(dir).map_err(|e| anyhow::anyhow!("media.prompts: {e}"))?,
        None => Prompts::built_in().context("the built-in prompts")?,
    };
    let voicemail_dir = settings
        .shell
        .voicemail_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("voicemail"));
    let service = match MediaService::bind(settings.shell.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(listen = %settings.shell.listen, error = %e, "media services not started: their socket cannot be bound (set [media] listen)");
            return Ok(None);
        }
    };
    let mut local = service.local_addr();
    if !local.ip().is_loopback() {
        // The service trusts the Request-URI the proxy wrote (whose mailbox, deposit or
        // listening): whoever can reach its socket can do what the proxy can.
        tracing::warn!(media = %local, "the media services listen beyond loopback: firewall their port so only this server reaches it");
    }
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut config = ServiceConfig::new(local.to_string(), local.ip(), prompts);
    config.recorder = settings.recorder.clone();
    config.echo_delay = settings.echo_delay;
    config.mwi_recount = settings.mwi_recount;
    let (outgoing, received) = mpsc::unbounded_channel();
    let (answers, answered) = mpsc::unbounded_channel();
    service.spawn(config, outgoing, answered);
    tokio::spawn(keep_mailboxes(
        received,
        answers,
        store,
        voicemail_dir,
        notices,
    ));
    tracing::info!(media = %local, rtp_ports = ?settings.shell.rtp_ports, "media services ready");
    Ok(Some(local))
}

/// Does what the media service asks of the store: writes each recorded message and its
/// row (and hands it to the mailer when e-mail is on), reads a mailbox's new messages,
/// marks heard ones saved.
async fn keep_mailboxes(
    mut received: mpsc::UnboundedReceiver<Outgoing>,
    answers: mpsc::UnboundedSender<MailboxAnswer>,
    store: store::Store,
    dir: PathBuf,
    notices: Option<Notices>,
) {
    while let Some(job) = received.recv().await {
        match job {
            Outgoing::Deposit(deposit) => match store_message(&deposit, &store, &dir).await {
                Ok((id, created_ms)) => {
                    if let Some(notices) = &notices {
                        let message = StoredVoicemail {
                            user: &deposit.mailbox.user,
                            domain: &deposit.mailbox.domain,
                            id,
                            caller: &deposit.caller,
                            created_ms,
                            duration: deposit.duration,
                            wav: &deposit.wav,
                        };
                        notices.voicemail(&store, &dir, message).await;
                    }
                }
                Err(e) => {
                    tracing::error!(mailbox = %deposit.mailbox, caller = %deposit.caller, error = format!("{e:#}"), "voicemail message not stored");
                }
            },
            Outgoing::ListMessages { call, mailbox } => {
                let messages = mailbox_messages(&mailbox, &store, &dir).await;
                let _ = answers.send(MailboxAnswer::Messages { call, messages });
            }
            Outgoing::CheckPin {
                call,
                domain,
                number,
                pin,
            } => {
                let mailbox = check_pin(&store, &domain, &number, &pin).await;
                let _ = answers.send(MailboxAnswer::Login { call, mailbox });
            }
            Outgoing::Delete { mailbox, id } => delete_message(&store, &dir, &mailbox, id).await,
            Outgoing::Greeting { mailbox, wav } => save_greeting(&dir, &mailbox, &wav).await,
            Outgoing::SetPin { mailbox, pin } => {
                match store
                    .set_preference(&mailbox.user, &mailbox.domain, store::VM_PIN, &pin)
                    .await
                {
                    Ok(()) => tracing::info!(%mailbox, "voicemail PIN stored"),
                    Err(e) => {
                        tracing::error!(%mailbox, error = %e, "voicemail PIN not changed")
                    }
                }
            }
            Outgoing::CountMessages { mailbox } => {
                if let Some(counts) = message_counts(&mailbox, &store).await {
                    let _ = answers.send(MailboxAnswer::Counts { mailbox, counts });
                }
            }
            Outgoing::Heard { mailbox, ids } => {
                match store
                    .mark_voicemail_saved(&mailbox.user, &mailbox.domain, &ids)
                    .await
                {
                    Ok(n) => tracing::info!(%mailbox, saved = n, "voicemail messages heard"),
                    Err(e) => {
                        tracing::error!(%mailbox, error = %e, "voicemail messages not marked heard")
                    }
                }
            }
            _ => {}
        }
    }
}

/// The new and old (heard, kept) messages of `mailbox`, for message-waiting indication;
/// `None` when the store cannot say (logged; the subscribers keep what they were told).
async fn message_counts(mailbox: &Mailbox, store: &store::Store) -> Option<MessageCounts> {
    match store
        .voicemail_messages(&mailbox.user, &mailbox.domain)
        .await
    {
        Ok(rows) => {
            let mut counts = MessageCounts::default();
            for row in &rows {
                if row.status == store::STATUS_NEW {
                    counts.new = counts.new.saturating_add(1);
                } else if row.status == store::STATUS_SAVED {
                    counts.old = counts.old.saturating_add(1);
                }
            }
            Some(counts)
        }
        Err(e) => {
            tracing::error!(%mailbox, error = %e, "voicemail messages not counted");
            None
        }
    }
}

/// The messages of `mailbox` with their audio, new ones first (each part oldest first);
/// one whose file is missing or unreadable is skipped (logged).
async fn mailbox_messages(
    mailbox: &Mailbox,
    store: &store::Store,
    dir: &Path,
) -> Vec<StoredMessage> {
    let mut rows = match store
        .voicemail_messages(&mailbox.user, &mailbox.domain)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(%mailbox, error = %e, "voicemail messages not read");
            return Vec::new();
        }
    };
    // A stable sort: the store's order (oldest first) stays within each part.
    rows.sort_by_key(|r| r.status != store::STATUS_NEW);
    let mut messages = Vec::new();
    for row in rows {
        let path = dir.join(&row.file);
        let audio = match tokio::fs::read(&path).await {
            Ok(bytes) => Prompt::from_wav(&row.file, &bytes),
            Err(e) => {
                tracing::warn!(%mailbox, file = %path.display(), error = %e, "voicemail file missing");
                continue;
            }
        };
        match audio {
            Ok(audio) => messages.push(StoredMessage {
                id: row.id,
                caller: row.caller,
                new: row.status == store::STATUS_NEW,
                audio,
            }),
            Err(e) => tracing::warn!(%mailbox, error = %e, "voicemail file unusable"),
        }
    }
    messages
}

/// The mailbox that mailbox number `number` of `domain` names (a subscriber or an alias)
/// when `pin` is its `vm-pin`; `None` for a wrong PIN, no such mailbox, no PIN set, or a
/// store that cannot say (logged). The menu logs the failure with the caller.
async fn check_pin(store: &store::Store, domain: &str, number: &str, pin: &str) -> Option<Mailbox> {
    let owner = match store.resolve(number, domain).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(%domain, error = %e, "voicemail login: the mailbox was not looked up");
            return None;
        }
    };
    let preferences = match store.preferences(&owner.user, &owner.domain).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(mailbox = %owner, error = %e, "voicemail login: the PIN was not read");
            return None;
        }
    };
    let expected = preferences.get(store::VM_PIN)?;
    same_secret(expected.as_bytes(), pin.as_bytes()).then_some(Mailbox {
        user: owner.user,
        domain: owner.domain,
    })
}

/// `a == b`, in a time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Deletes message `id` of `mailbox` by phone: its row, then its file (as the portal does).
async fn delete_message(store: &store::Store, dir: &Path, mailbox: &Mailbox, id: i64) {
    match store
        .remove_voicemail(&mailbox.user, &mailbox.domain, id)
        .await
    {
        Ok(Some(file)) => {
            let path = dir.join(&file);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "voicemail file not removed")
                }
            }
            tracing::info!(%mailbox, id, "voicemail message deleted");
        }
        // Deleted meanwhile (the portal), or the subscriber is gone.
        Ok(None) => {}
        Err(e) => tracing::error!(%mailbox, id, error = %e, "voicemail message not deleted"),
    }
}

/// Writes the personal greeting of `mailbox` where deposits read it
/// (`DIR/DOMAIN/USER/greeting.wav`, `media::service::greeting`, as the portal's upload
/// does): a temporary file renamed over the old one, so a deposit never reads half a
/// greeting.
async fn save_greeting(dir: &Path, mailbox: &Mailbox, wav: &[u8]) {
    let (dir, owned, wav) = (dir.to_owned(), mailbox.clone(), wav.to_vec());
    let written =
        tokio::task::spawn_blocking(move || greeting::store_greeting(&dir, &owned, &wav)).await;
    match written {
        Ok(Ok(path)) => {
            tracing::info!(%mailbox, file = %path.display(), "voicemail greeting stored")
        }
        Ok(Err(e)) => tracing::error!(%mailbox, error = %e, "voicemail greeting not stored"),
        Err(e) => tracing::error!(%mailbox, error = %e, "voicemail greeting not stored"),
    }
}

/// Writes the message's file and row; answers the row's id and its time (Unix ms).
async fn store_message(
    deposit: &Deposit,
    store: &store::Store,
    dir: &Path,
) -> anyhow::Result<(i64, i64)> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let folder = mailbox_dir(dir, &deposit.mailbox);
    tokio::fs::create_dir_all(&folder)
        .await
        .with_context(|| format!("creating {}", folder.display()))?;
    let name = format!("{now_ms}-{:04x}.wav", fastrand::u16(..));
    let path = folder.join(&name);
    tokio::fs::write(&path, &deposit.wav)
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    let relative = path
        .strip_prefix(dir)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    let duration_ms = i64::try_from(deposit.duration.as_millis()).unwrap_or(i64::MAX);
    let id = store
        .add_voicemail(
            &deposit.mailbox.user,
            &deposit.mailbox.domain,
            &store::NewVoicemail {
                caller: &deposit.caller,
                created_ms: now_ms,
                duration_ms,
                file: &relative,
            },
        )
        .await?;
    tracing::info!(
        mailbox = %deposit.mailbox,
        caller = %deposit.caller,
        duration_ms,
        file = %path.display(),
        id,
        "voicemail message stored"
    );
    Ok((id, now_ms))
}
