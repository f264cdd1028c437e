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
//! PIN; it answers a conference room's PIN (`itsp conf`, the store's `conference_rooms`).
//! For the message-waiting lamps of phones that do not subscribe it hands the
//! service the counts of a mailbox whose owner's phone registered anew (the server tells
//! the address of record), and, once the proxy listens, its address and the counts of
//! every mailbox holding messages (the lamps agree with the store after a restart).
//! The portal's click-to-dial reaches the service's controller through
//! `MediaServices::dialer` (RFC 3725 §4.1).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use media::service::conference::{RoomAccess, RoomCommand, RoomKey, RoomReply};
use media::service::greeting;
use media::service::mwi::MessageCounts;
use media::service::shell::{mailbox_dir, MailboxAnswer, MediaService, Outgoing};
use media::service::{Deposit, Mailbox, MessageTime, ServiceConfig, StoredMessage};
use media::{Prompt, Prompts};
use server::control::protocol::{Answer, ConferenceAction, LiveParticipant, LiveRoom};
use tokio::sync::mpsc;

use crate::config::MediaSettings;
use crate::notices::{Notices, StoredVoicemail};

/// The running media services: their SIP address for the proxy, and what `itsp serve`
/// tells them about the server.
pub(crate) struct MediaServices {
    /// The service UA's SIP address.
    pub(crate) addr: SocketAddr,
    /// For [`server::ServerConfig::registrations`]: the addresses of record whose phones
    /// registered anew.
    pub(crate) registrations: mpsc::UnboundedSender<String>,
    answers: mpsc::UnboundedSender<MailboxAnswer>,
    store: store::Store,
}

impl MediaServices {
    /// The proxy listens on `listens`: the service learns where message-waiting NOTIFYs
    /// without a subscription go (a UDP listener, on loopback when it listens on every
    /// address), then the counts of every mailbox holding messages.
    pub(crate) fn proxy_ready(&self, listens: &[transport::Listen]) {
        let udp = listens
            .iter()
            .filter(|l| l.protocol == transport::Protocol::Udp)
            .map(|l| l.addr);
        let same_family = udp.clone().find(|a| a.is_ipv4() == self.addr.is_ipv4());
        let Some(mut proxy) = same_family.or_else(|| udp.clone().next()) else {
            tracing::info!("no UDP listener: message-waiting NOTIFYs go to subscribers only");
            return;
        };
        if proxy.ip().is_unspecified() {
            proxy.set_ip(if proxy.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        // Sent before the counts: the service handles them in this order.
        if self.answers.send(MailboxAnswer::Proxy(proxy)).is_err() {
            return;
        }
        tokio::spawn(light_lamps(self.answers.clone(), self.store.clone()));
    }
}

impl MediaServices {
    /// Where the control socket's `itsp conf list|kick|mute` go: the service's rooms.
    pub(crate) fn conference_control(&self) -> server::control::ConferenceControl {
        let answers = self.answers.clone();
        server::control::ConferenceControl(std::sync::Arc::new(move |action| {
            let answers = answers.clone();
            Box::pin(async move { conference(&answers, action).await })
        }))
    }
}

impl MediaServices {
    /// What the portal's click-to-dial calls through (`POST
    /// /api/v1/subscribers/{address}/click-to-dial`): the service's
    /// [`media::service::ServiceUa::click_to_dial`], asked over its answers channel.
    pub(crate) fn dialer(&self) -> portal::api::click_to_dial::SharedDialer {
        std::sync::Arc::new(Dialer(self.answers.clone()))
    }
}

/// The portal's way to the service's click-to-dial.
struct Dialer(mpsc::UnboundedSender<MailboxAnswer>);

impl portal::api::click_to_dial::Dialer for Dialer {
    fn dial<'a>(
        &'a self,
        caller: &'a store::Address,
        target: &'a str,
        display: &'a str,
    ) -> portal::api::click_to_dial::DialFuture<'a> {
        use media::service::click_to_dial::{ClickToDial, DialError};
        use portal::api::click_to_dial::{DialFailure, Dialled};
        Box::pin(async move {
            let request = ClickToDial {
                caller: media::service::Mailbox {
                    user: caller.user.clone(),
                    domain: caller.domain.clone(),
                },
                target: target.to_owned(),
                display: display.to_owned(),
            };
            let (reply, answer) = tokio::sync::oneshot::channel();
            let stopped = || DialFailure::Unavailable("the media services have stopped".into());
            self.0
                .send(MailboxAnswer::Dial { request, reply })
                .map_err(|_| stopped())?;
            match answer.await.map_err(|_| stopped())? {
                Ok(started) => Ok(Dialled {
                    call_id: started.call_id,
                    caller_call_id: started.caller_call_id,
                }),
                Err(DialError::BadTarget(t)) => {
                    Err(DialFailure::BadTarget(format!("not a SIP URI: {t}")))
                }
                Err(e @ DialError::Busy) => Err(DialFailure::Busy(e.to_string())),
                Err(e) => Err(DialFailure::Unavailable(e.to_string())),
            }
        })
    }
}

/// Carries out an `itsp conf` request on the service's rooms.
async fn conference(
    answers: &mpsc::UnboundedSender<MailboxAnswer>,
    action: ConferenceAction,
) -> Answer {
    let key = |room: String, domain: String| RoomKey {
        domain: domain.to_ascii_lowercase(),
        name: room,
    };
    let (command, done) = match action {
        ConferenceAction::List => (RoomCommand::List, String::new()),
        ConferenceAction::Kick {
            room,
            domain,
            participant,
        } => {
            let done = format!("participant {participant} of {room}@{domain} removed (BYE sent)");
            let room = key(room, domain);
            (
                RoomCommand::Kick {
                    room,
                    call: participant,
                },
                done,
            )
        }
        ConferenceAction::Mute {
            room,
            domain,
            participant,
            muted,
        } => {
            let done = format!(
                "participant {participant} of {room}@{domain} {}",
                if muted { "muted" } else { "unmuted" }
            );
            let room = key(room, domain);
            (
                RoomCommand::Mute {
                    room,
                    call: participant,
                    muted,
                },
                done,
            )
        }
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if answers
        .send(MailboxAnswer::Rooms { command, reply })
        .is_err()
    {
        return Answer::Error {
            error: "the media services have stopped".into(),
        };
    }
    match answer.await {
        Ok(RoomReply::Rooms(rooms)) => Answer::Rooms {
            rooms: rooms
                .into_iter()
                .map(|r| LiveRoom {
                    room: r.key.name,
                    domain: r.key.domain,
                    participants: r
                        .participants
                        .into_iter()
                        .map(|p| LiveParticipant {
                            participant: p.call,
                            caller: p.caller,
                            muted: p.muted,
                            in_room_secs: p.in_room.as_secs(),
                        })
                        .collect(),
                })
                .collect(),
        },
        Ok(RoomReply::Done) => Answer::ConferenceDone { message: done },
        Ok(RoomReply::NotInRoom) => Answer::Error {
            error: "no such participant in that room (see `itsp conf list`)".into(),
        },
        Err(_) => Answer::Error {
            error: "the media services have stopped".into(),
        },
    }
}

/// Hands the service the counts of every mailbox holding messages (after a start).
async fn light_lamps(answers: mpsc::UnboundedSender<MailboxAnswer>, store: store::Store) {
    let mailboxes = match store.voicemail_mailboxes().await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "mailboxes not read: message-waiting lamps are set at the next change");
            return;
        }
    };
    for m in mailboxes {
        let counts = MessageCounts {
            new: u32::try_from(m.new).unwrap_or(u32::MAX),
            old: u32::try_from(m.saved).unwrap_or(u32::MAX),
        };
        let mailbox = Mailbox {
            user: m.user,
            domain: m.domain,
        };
        if answers
            .send(MailboxAnswer::Registered { mailbox, counts })
            .is_err()
        {
            return;
        }
    }
}

/// Hands the service the counts of the mailbox of each address of record whose phone
/// registered anew (an alias names its subscriber's mailbox).
async fn tell_registrations(
    mut registrations: mpsc::UnboundedReceiver<String>,
    answers: mpsc::UnboundedSender<MailboxAnswer>,
    store: store::Store,
) {
    while let Some(aor) = registrations.recv().await {
        let Some((user, domain)) = aor.rsplit_once('@') else {
            continue;
        };
        let owner = match store.resolve(user, domain).await {
            Ok(Some(owner)) => owner,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(%aor, error = %e, "registered phone's mailbox not looked up");
                continue;
            }
        };
        let mailbox = Mailbox {
            user: owner.user,
            domain: owner.domain,
        };
        if let Some(counts) = message_counts(&mailbox, &store).await {
            if answers
                .send(MailboxAnswer::Registered { mailbox, counts })
                .is_err()
            {
                return;
            }
        }
    }
}

/// Starts the media services, or answers `None` when the socket could not be bound
/// (logged; the server runs without them). A bad prompts directory is an error: the
/// operator learns it now, not during a call.
pub(crate) async fn start(
    settings: MediaSettings,
    store: store::Store,
    notices: Option<Notices>,
) -> anyhow::Result<Option<MediaServices>> {
    let prompts = match &settings.prompts {
        // The media error names the directory or file and says what is wrong.
        Some(dir) => Prompts::load(dir).map_err(|e| anyhow::anyhow!("media.prompts: {e}"))?,
        None => Prompts::built_in().context("the built-in prompts")?,
    };
    // An IVR menu's prompt missing is an error now, not silence during a call.
    settings
        .ivr
        .check_prompts(&prompts)
        .map_err(anyhow::Error::msg)?;
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
    config.unsolicited_mwi = settings.unsolicited_mwi;
    config.ivr = settings.ivr.clone();
    let (outgoing, received) = mpsc::unbounded_channel();
    let (answers, answered) = mpsc::unbounded_channel();
    let (registrations, registered) = mpsc::unbounded_channel();
    service.spawn(config, outgoing, answered);
    if settings.unsolicited_mwi {
        tokio::spawn(tell_registrations(
            registered,
            answers.clone(),
            store.clone(),
        ));
    }
    tokio::spawn(keep_mailboxes(
        received,
        answers.clone(),
        store.clone(),
        voicemail_dir,
        notices,
        settings.utc_offset_secs,
    ));
    tracing::info!(media = %local, rtp_ports = ?settings.shell.rtp_ports, "media services ready");
    Ok(Some(MediaServices {
        addr: local,
        registrations,
        answers,
        store,
    }))
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
    utc_offset_secs: i32,
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
                let messages = mailbox_messages(&mailbox, &store, &dir, utc_offset_secs).await;
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
            Outgoing::RoomPin { call, room } => {
                let access = match store.conference_room(&room.domain, &room.name).await {
                    Ok(found) => match found.and_then(|r| r.pin) {
                        Some(pin) => RoomAccess::Pin(pin),
                        None => RoomAccess::Open,
                    },
                    Err(e) => {
                        // Not let in unchecked.
                        tracing::error!(%room, error = %e, "conference room not looked up; the caller is refused");
                        RoomAccess::Shut
                    }
                };
                let _ = answers.send(MailboxAnswer::RoomPin { call, access });
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
    utc_offset_secs: i32,
) -> Vec<StoredMessage> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
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
                received: Some(MessageTime::at(row.created_ms, now_ms, utc_offset_secs)),
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

/// The shortest message kept when the disk fills up while it is written (as the recorder
/// discards shorter ones).
const SHORTEST_KEPT: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes a message's WAV (8 kHz mono 16-bit, as the recorder makes it) to `path`;
/// answers the length of audio kept. When the disk fills up part way, what fitted is kept:
/// the file is written again as a shorter WAV of the samples that fitted (the space the
/// first try took is enough for it), and the cut is logged; under [`SHORTEST_KEPT`]
/// nothing is kept and the error is returned.
async fn write_message(
    path: &Path,
    wav: &[u8],
    duration: std::time::Duration,
) -> std::io::Result<std::time::Duration> {
    let error = match tokio::fs::write(path, wav).await {
        Ok(()) => return Ok(duration),
        Err(e) => e,
    };
    let written = tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let samples = match rtp::audio::wav::parse(wav) {
        Ok(parsed) => parsed.samples,
        Err(_) => Vec::new(),
    };
    // The header is 44 bytes; each sample 2.
    let fitted = usize::try_from(written.saturating_sub(44) / 2)
        .unwrap_or(0)
        .min(samples.len());
    let kept = std::time::Duration::from_millis(fitted as u64 / 8);
    if kept < SHORTEST_KEPT {
        let _ = tokio::fs::remove_file(path).await;
        return Err(error);
    }
    let shorter = rtp::audio::wav::write(8000, &samples[..fitted]);
    if let Err(e) = tokio::fs::write(path, &shorter).await {
        let _ = tokio::fs::remove_file(path).await;
        return Err(e);
    }
    tracing::warn!(
        file = %path.display(),
        error = %error,
        recorded_ms = duration.as_millis() as u64,
        kept_ms = kept.as_millis() as u64,
        "voicemail message cut short: the disk is full"
    );
    Ok(kept)
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
    let duration = write_message(&path, &deposit.wav, deposit.duration)
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    let relative = path
        .strip_prefix(dir)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
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
