//! The media services inside `itsp serve`: the prompts loaded and checked at start, the
//! media service UA (`media::service`) bound and spawned, and the voicemail messages it
//! records written to the data directory (`voicemail/DOMAIN/USER/TIME.wav`) with a row in
//! the store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use media::service::shell::{mailbox_dir, MediaService};
use media::service::{Deposit, ServiceConfig};
use media::Prompts;
use tokio::sync::mpsc;

use crate::config::MediaSettings;

/// Starts the media services; their SIP address for the proxy, or `None` when the socket
/// could not be bound (logged; the server runs without them). A bad prompts directory is
/// an error: the operator learns it now, not during a call.
pub(crate) async fn start(
    settings: MediaSettings,
    store: store::Store,
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
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut config = ServiceConfig::new(local.to_string(), local.ip(), prompts);
    config.recorder = settings.recorder.clone();
    config.echo_delay = settings.echo_delay;
    let (deposits, received) = mpsc::unbounded_channel();
    service.spawn(config, deposits);
    tokio::spawn(store_messages(received, store, voicemail_dir));
    tracing::info!(media = %local, rtp_ports = ?settings.shell.rtp_ports, "media services listening");
    Ok(Some(local))
}

/// Writes each recorded message and its row.
async fn store_messages(
    mut received: mpsc::UnboundedReceiver<Deposit>,
    store: store::Store,
    dir: PathBuf,
) {
    while let Some(deposit) = received.recv().await {
        if let Err(e) = store_message(&deposit, &store, &dir).await {
            tracing::error!(mailbox = %deposit.mailbox, caller = %deposit.caller, error = format!("{e:#}"), "voicemail message not stored");
        }
    }
}

async fn store_message(deposit: &Deposit, store: &store::Store, dir: &Path) -> anyhow::Result<()> {
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
    Ok(())
}
