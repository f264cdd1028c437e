//! The media services inside `itsp serve`: the prompts loaded and checked at start, the
//! media service UA (`media::service`) bound and spawned, and the voicemail messages it
//! records written to the data directory (`voicemail/DOMAIN/USER/TIME.wav`) with a row in
//! the store; a message its owner wants by e-mail goes to the mailer (`notices.rs`). The
//! message counts of mailboxes with message-waiting subscriptions are read from the store
//! when the service asks (after a deposit or a retrieval, and every few seconds).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
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
                let messages = new_messages(&mailbox, &store, &dir).await;
                let _ = answers.send(MailboxAnswer::Messages { call, messages });
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

/// The new messages of `mailbox` with their audio; one whose file is missing or unreadable
/// is skipped (logged).
async fn new_messages(mailbox: &Mailbox, store: &store::Store, dir: &Path) -> Vec<StoredMessage> {
    let rows = match store
        .voicemail_messages(&mailbox.user, &mailbox.domain)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(%mailbox, error = %e, "voicemail messages not read");
            return Vec::new();
        }
    };
    let mut messages = Vec::new();
    for row in rows.into_iter().filter(|r| r.status == store::STATUS_NEW) {
        let path = dir.join(&row.file);
        let audio = match tokio::fs::read(&path).await {
            Ok(bytes) => Prompt::from_wav(&row.file, &bytes),
            Err(e) => {
                tracing::warn!(%mailbox, file = %path.display(), error = %e, "voicemail file missing");
                continue;
            }
        };
        match audio {
            Ok(audio) => messages.push(StoredMessage { id: row.id, audio }),
            Err(e) => tracing::warn!(%mailbox, error = %e, "voicemail file unusable"),
        }
    }
    messages
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
