//! The control socket of a running server: a Unix domain socket (`data/control.sock` by
//! default, `[control] socket`; mode 0600, so only the server's user may connect) where
//! local commands talk to the server: `itsp trace` (the captured messages), `itsp
//! status` (what the server is doing), `itsp hangup`, `itsp ul rm` and `itsp conf
//! list|kick|mute` (the media services' rooms, through [`ConferenceControl`]). One JSON
//! request per connection, answers as JSON lines ([`protocol`]).
//!
//! A socket file left by a server that died is replaced; one where another server
//! answers is left alone (this server then runs without a control socket, and says so).
//! A control socket that cannot be set up never stops the server: it logs a warning.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `mod.rs` | `ControlSocket`: binding, the accept loop, one task per connection, the trace and status commands |
//! | [`protocol`] | the requests and answers, as JSON |

pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{UnixListener, UnixStream};

use crate::capture::ring::SharedRing;
use crate::capture::Filter;
use crate::engine::SystemNetwork;
use crate::sync::lock;
use protocol::{Answer, Request, Status, TraceRecord};

/// Reads the running server's state when `itsp status` asks (the shell's, which holds
/// the engine).
pub(crate) type StatusSource = std::sync::Arc<dyn Fn() -> Status + Send + Sync>;

/// Ends an answered call by its Call-ID (`itsp hangup`); answers whether this server had
/// it.
pub(crate) type HangUpSource = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Carries out an `itsp conf` request on the media services' conference rooms: the
/// answer line ([`Answer::Rooms`], [`Answer::ConferenceDone`] or [`Answer::Error`]).
pub type ConferenceSource = std::sync::Arc<
    dyn Fn(
            protocol::ConferenceAction,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send>>
        + Send
        + Sync,
>;

/// Where `itsp conf list|kick|mute` go: set by `itsp serve` when the media services run
/// ([`crate::ServerConfig::conferences`]).
#[derive(Clone)]
pub struct ConferenceControl(pub ConferenceSource);

impl std::fmt::Debug for ConferenceControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConferenceControl")
    }
}

/// What the control socket asks the server: its status, a hang-up, a reading of changed
/// bindings, the conference rooms.
#[derive(Clone)]
pub(crate) struct Controls {
    /// Answers `itsp status`.
    pub(crate) status: StatusSource,
    /// Carries out `itsp hangup`.
    pub(crate) hang_up: HangUpSource,
    /// Has the bindings of an address-of-record read again (`itsp ul rm`).
    pub(crate) bindings_changed: crate::BindingsReloader,
    /// The media services' rooms, when they run.
    pub(crate) conferences: Option<ConferenceControl>,
}

/// The longest request line read (a trace filter is a few hundred bytes).
const MAX_REQUEST: u64 = 64 * 1024;

/// How often a follow looks for new messages.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// Records taken from the ring at a time.
const BATCH: usize = 1000;

/// The bound control socket.
#[derive(Debug)]
pub(crate) struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (mode 0600); `None`, with a warning saying why, when it cannot.
    pub(crate) fn bind(path: &Path) -> Option<ControlSocket> {
        match bind(path) {
            Ok(listener) => {
                tracing::info!(socket = %path.display(), "control socket listening (itsp trace, itsp status)");
                Some(ControlSocket {
                    listener,
                    path: path.to_owned(),
                })
            }
            Err(why) => {
                tracing::warn!(socket = %path.display(), "no control socket: {why}; itsp trace will not reach this server");
                None
            }
        }
    }

    /// Serves connections until the task is aborted; `ring` is the capture (`None`: off),
    /// `controls` answer `itsp status` and carry out `itsp hangup`.
    pub(crate) fn spawn(self, ring: Option<SharedRing>, controls: Controls) -> ControlTask {
        let path = self.path.clone();
        let task = tokio::spawn(async move {
            loop {
                match self.listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream, ring.clone(), controls.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        ControlTask { task, path }
    }
}

/// The accept loop of a control socket; [`ControlTask::stop`] ends it and removes the
/// socket file.
#[derive(Debug)]
pub(crate) struct ControlTask {
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl ControlTask {
    /// Stops taking connections and removes the socket file.
    pub(crate) fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket, replacing a stale one, and restricts it to our user.
fn bind(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err("the path exists and is not a socket".into());
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err("another server answers on it".into()),
            Err(_) => {
                // Left by a server that is gone.
                std::fs::remove_file(path)
                    .map_err(|e| format!("cannot remove the old socket: {e}"))?;
            }
        }
    }
    let listener = UnixListener::bind(path).map_err(|e| e.to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make it private (mode 0600): {e}"))?;
    Ok(listener)
}

/// One connection: a request line, its answers.
async fn serve(stream: UnixStream, ring: Option<SharedRing>, controls: Controls) {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let mut out = BufWriter::new(write);
    let mut line = String::new();
    let request = match reader.read_line(&mut line).await {
        Ok(0) | Err(_) => return,
        Ok(_) => serde_json::from_str::<Request>(&line),
    };
    let result = match request {
        Err(e) => {
            let error = format!("not a request this server knows: {e}");
            send(&mut out, &Answer::Error { error }).await
        }
        Ok(Request::Trace { filter, follow }) => match ring {
            None => {
                let error = "SIP capture is off on this server (capture.ring_messages = 0)".into();
                send(&mut out, &Answer::Error { error }).await
            }
            Some(ring) => trace(&ring, &filter, follow, &mut reader, &mut out).await,
        },
        Ok(Request::Status) => send(&mut out, &Answer::Status((controls.status)())).await,
        Ok(Request::HangUp { call_id }) => {
            let answer = if (controls.hang_up)(&call_id) {
                Answer::HungUp { call_id }
            } else {
                Answer::Error {
                    error: format!(
                        "no answered call with Call-ID {call_id} on this server (see `itsp calls`)"
                    ),
                }
            };
            send(&mut out, &answer).await
        }
        Ok(Request::BindingsChanged { aor }) => {
            controls.bindings_changed.reload(&aor);
            send(&mut out, &Answer::Reloading { aor }).await
        }
        Ok(Request::SubscriberDisabled { aor }) => {
            controls.bindings_changed.subscriber_disabled(&aor);
            send(&mut out, &Answer::CredentialsForgotten { aor }).await
        }
        Ok(Request::Conference { action }) => {
            let answer = match &controls.conferences {
                Some(control) => (control.0)(action).await,
                None => Answer::Error {
                    error: "the media services are off on this server: no conference rooms".into(),
                },
            };
            send(&mut out, &answer).await
        }
    };
    if result.is_ok() {
        let _ = out.flush().await;
    }
}

/// Sends the messages of the ring that pass `filter`, then `end`; with `follow`, the new
/// ones as they come until the client hangs up.
async fn trace(
    ring: &SharedRing,
    filter: &Filter,
    follow: bool,
    reader: &mut (impl AsyncBufReadExt + AsyncRead + Unpin),
    out: &mut (impl AsyncWriteExt + Unpin),
) -> std::io::Result<()> {
    let mut after = 0;
    let mut caught_up = false;
    let mut network = SystemNetwork::default();
    let mut ignored = String::new();
    loop {
        let batch = lock(ring).after(after, BATCH);
        if batch.missed > 0 && caught_up {
            send(
                out,
                &Answer::Missed {
                    count: batch.missed,
                },
            )
            .await?;
        }
        let Some(last) = batch.records.last().map(|r| r.seq) else {
            if !follow {
                return send(out, &Answer::End { last_seq: after }).await;
            }
            caught_up = true;
            out.flush().await?;
            tokio::select! {
                () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                read = reader.read_line(&mut ignored) => {
                    // The client hung up (or wrote more than it may).
                    if !matches!(read, Ok(n) if n > 0) {
                        return Ok(());
                    }
                    ignored.clear();
                }
            }
            continue;
        };
        after = last;
        for record in batch.records {
            if !filter.matches(&record.message.bytes) {
                continue;
            }
            let mut message = record.message;
            message.resolve_local(&mut network);
            send(
                out,
                &Answer::Message(TraceRecord::new(record.seq, &message)),
            )
            .await?;
        }
    }
}

/// Writes one answer line.
async fn send(out: &mut (impl AsyncWriteExt + Unpin), answer: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(answer).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line).await
}
