//! The personal voicemail greeting: `/api/v1/subscribers/{address}/greeting`. A
//! subscriber uploads any WAV file ([`media::wav`]: 8-32-bit PCM or float, any rate and
//! channels), which is converted to 8 kHz mono 16-bit and stored where the media service
//! reads it for every deposit (`DATA_DIR/voicemail/DOMAIN/USER/greeting.wav`,
//! [`media::service::greeting`]), replacing the one recorded by phone (and the other way
//! round: the last one recorded or uploaded plays). `DELETE` brings back the default
//! greeting; `GET` answers the stored file.
//!
//! The upload is the raw file (`Content-Type: audio/wav`, also `audio/x-wav`, `audio/wave`,
//! `audio/vnd.wave`) or `multipart/form-data` with the file in the part `greeting` (what
//! the browser form sends); at most [`MAX_GREETING_BYTES`] and [`MAX_GREETING_SECONDS`].
//! Every refusal is a problem naming the field `greeting`: 413 too big, 415 another media
//! type, 422 not a readable WAV or too long. The decoding runs on a blocking thread.
//!
//! A subscriber reads and changes their own greeting (another's answers 404, as a missing
//! subscriber); an admin any.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use media::service::greeting::{self, GreetingError};
use media::service::Mailbox;
use serde::{Deserialize, Serialize};
use store::Address;
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{address, Problem};
use crate::AppState;

/// The largest greeting file accepted, in bytes (5 MiB: a minute of 44.1 kHz 16-bit
/// stereo is about 10 MB, of mono 5 MB; a minute at 8 or 16 kHz is far below).
pub const MAX_GREETING_BYTES: usize = 5 * 1024 * 1024;

/// The body limit of the greeting routes: the file and a multipart envelope around it.
pub const MAX_GREETING_BODY_BYTES: usize = MAX_GREETING_BYTES + 64 * 1024;

/// The longest greeting accepted, in seconds.
pub const MAX_GREETING_SECONDS: u64 = greeting::MAX_UPLOAD_SECONDS;

/// The request field every greeting problem names.
pub const FIELD: &str = "greeting";

/// The media types of a raw WAV upload.
const WAV_TYPES: &[&str] = &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"];

/// A subscriber's greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GreetingView {
    /// Whether callers hear a personal greeting (else the default one, which names the
    /// mailbox).
    pub personal: bool,
    /// The personal greeting's length in milliseconds, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

fn mailbox(a: &Address) -> Mailbox {
    Mailbox {
        user: a.user.clone(),
        domain: a.domain.clone(),
    }
}

/// The voicemail folder, or 503 when this portal has none (no media service data).
fn folder(state: &AppState) -> Result<std::path::PathBuf, Problem> {
    state
        .config()
        .voicemail_dir
        .clone()
        .ok_or_else(|| Problem::unavailable("voicemail greetings are not kept by this server"))
}

/// 404 unless `a` is a subscriber.
async fn existing(state: &AppState, a: &Address) -> Result<(), Problem> {
    match state.store().subscriber(&a.user, &a.domain).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Problem::not_found(format!("no such user: {a}"))),
        Err(e) => Err(Problem::from_store(e, "address")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, Problem> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Problem::internal(&e)),
        Err(e) => Err(Problem::internal(&e)),
    }
}

/// The stored greeting of `a`, `None` when callers hear the default one.
pub async fn audio(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<Option<Vec<u8>>, Problem> {
    caller.allow(Action::Read(a))?;
    existing(state, a).await?;
    let Ok(dir) = folder(state) else {
        return Ok(None);
    };
    let m = mailbox(a);
    blocking(move || greeting::read_greeting(&dir, &m)).await
}

/// Whether `a` has a personal greeting, and its length.
pub async fn read(state: &AppState, caller: &Caller, a: &Address) -> Result<GreetingView, Problem> {
    let stored = audio(state, caller, a).await?;
    Ok(match stored {
        Some(bytes) => GreetingView {
            personal: true,
            duration_ms: media::wav::decode(&bytes)
                .ok()
                .map(|d| d.samples.len() as u64 / 8),
        },
        None => GreetingView {
            personal: false,
            duration_ms: None,
        },
    })
}

/// The problem of a refused upload, naming [`FIELD`].
pub fn upload_problem(e: &GreetingError) -> Problem {
    let detail = match e {
        GreetingError::TooLong { .. } => e.to_string(),
        other => format!("not a WAV file this server can read: {other}"),
    };
    Problem::invalid(FIELD, detail)
}

/// 413 naming [`FIELD`].
pub fn too_big() -> Problem {
    Problem::too_large(
        FIELD,
        format!(
            "the file is larger than {} MB; a greeting may last at most {MAX_GREETING_SECONDS} s",
            MAX_GREETING_BYTES / (1024 * 1024)
        ),
    )
}

/// Stores `file` (any WAV) as the personal greeting of `a`: converted, checked, written
/// over the old one (recorded by phone or uploaded).
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    file: Vec<u8>,
) -> Result<GreetingView, Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    existing(state, a).await?;
    let dir = folder(state)?;
    if file.len() > MAX_GREETING_BYTES {
        return Err(too_big());
    }
    if file.is_empty() {
        return Err(Problem::invalid(FIELD, "choose a WAV file to upload"));
    }
    let prepared =
        tokio::task::spawn_blocking(move || greeting::prepare_upload(&file, MAX_GREETING_SECONDS))
            .await
            .map_err(|e| Problem::internal(&e))?;
    let (wav, duration_ms) = prepared.map_err(|e| upload_problem(&e))?;
    let m = mailbox(a);
    let path = blocking(move || greeting::store_greeting(&dir, &m, &wav)).await?;
    tracing::info!(user = %a, file = %path.display(), duration_ms, "voicemail greeting uploaded");
    Ok(GreetingView {
        personal: true,
        duration_ms: Some(duration_ms),
    })
}

/// Removes the personal greeting of `a` (callers hear the default one again); no
/// greeting to remove is no error.
pub async fn remove(state: &AppState, caller: &Caller, a: &Address) -> Result<(), Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    existing(state, a).await?;
    let dir = folder(state)?;
    let m = mailbox(a);
    if blocking(move || greeting::remove_greeting(&dir, &m)).await? {
        tracing::info!(user = %a, "voicemail greeting removed; the default plays");
    }
    Ok(())
}

/// Removes the greeting kept for the name `a` without asking who may (the caller
/// decided: a subscriber removed, or a new one made by self-registration), so the next
/// subscriber of that name is not greeted with it. Failures are logged.
pub async fn forget(state: &AppState, a: &Address) {
    let Some(dir) = state.config().voicemail_dir.clone() else {
        return;
    };
    let m = mailbox(a);
    match tokio::task::spawn_blocking(move || greeting::remove_greeting(&dir, &m)).await {
        Ok(Ok(true)) => tracing::info!(user = %a, "a greeting left for this name removed"),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => {
            tracing::warn!(user = %a, error = %e, "a greeting left for this name not removed")
        }
        Err(e) => {
            tracing::warn!(user = %a, error = %e, "a greeting left for this name not removed")
        }
    }
}

/// The media type of a request, lowercased, without parameters.
fn media_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// What a multipart upload held: the file of the part [`FIELD`] and the text of the
/// part `csrf` (the pages' form token).
#[derive(Debug, Default)]
pub struct Upload {
    /// The file's bytes (empty when no file was chosen).
    pub file: Vec<u8>,
    /// The form token, when sent.
    pub csrf: Option<String>,
}

/// Reads a `multipart/form-data` body: the part [`FIELD`] (at most
/// [`MAX_GREETING_BYTES`]) and `csrf`; other parts are refused, so a form that sends
/// something else is told.
pub async fn read_multipart(req: Request, state: &AppState) -> Result<Upload, Problem> {
    let mut multipart = axum::extract::Multipart::from_request(req, state)
        .await
        .map_err(|e| Problem::malformed(format!("not a multipart/form-data body: {e}")))?;
    let mut upload = Upload::default();
    loop {
        let part = match multipart.next_field().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(e) => {
                return Err(Problem::malformed(format!(
                    "the multipart body is broken: {e}"
                )))
            }
        };
        let name = part.name().unwrap_or_default().to_owned();
        let bytes = match part.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(e) => {
                return Err(Problem::malformed(format!(
                    "the multipart body is broken: {e}"
                )))
            }
        };
        match name.as_str() {
            FIELD if bytes.len() > MAX_GREETING_BYTES => return Err(too_big()),
            FIELD => upload.file = bytes.to_vec(),
            "csrf" => upload.csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            other => {
                return Err(Problem::invalid(
                    other,
                    format!("unknown part {other:?}: the file goes in the part \"greeting\""),
                ))
            }
        }
    }
    Ok(upload)
}

/// The file of an API upload: the raw body of a WAV media type, or the part
/// [`FIELD`] of a multipart body.
async fn file_of(req: Request, state: &AppState) -> Result<Vec<u8>, Problem> {
    let media = media_type(&req);
    if media == "multipart/form-data" {
        return read_multipart(req, state).await.map(|u| u.file);
    }
    if !WAV_TYPES.contains(&media.as_str()) {
        return Err(Problem::unsupported_media_type(
            FIELD,
            format!(
                "{} is not a WAV upload: send the file as audio/wav, or as multipart/form-data with the part \"greeting\"",
                if media.is_empty() { "no Content-Type" } else { media.as_str() }
            ),
        ));
    }
    // The route's body limit (MAX_GREETING_BODY_BYTES) stops a longer body as it comes.
    match axum::body::Bytes::from_request(req, state).await {
        Ok(bytes) if bytes.len() > MAX_GREETING_BYTES => Err(too_big()),
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_big()),
        Err(e) => Err(Problem::malformed(format!("cannot read the body: {e}"))),
    }
}

/// The personal greeting, as stored (8 kHz mono 16-bit WAV).
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/greeting", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the personal greeting", content_type = "audio/wav"),
        (status = 404, description = "no such subscriber (or not yours), or no personal greeting: callers hear the default one", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_greeting(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Response, Problem> {
    let a = address("address", &text)?;
    match audio(&state, &caller, &a).await? {
        Some(bytes) => Ok(greeting_response(bytes)),
        None => Err(Problem::not_found(
            "no personal greeting: callers hear the default one",
        )),
    }
}

/// A greeting answer (inline WAV).
pub fn greeting_response(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "audio/wav"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"greeting.wav\"",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Upload a personal greeting: any WAV file (PCM 8-32 bit or float, any rate and
/// channels, at most 5 MiB and 60 s), converted to 8 kHz mono 16-bit. It replaces the
/// greeting recorded by phone.
#[utoipa::path(put, path = "/api/v1/subscribers/{address}/greeting", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain")),
    request_body(content(
        (String = "audio/wav"),
        (String = "multipart/form-data"),
    ), description = "the WAV file (binary), raw, or in the part `greeting` of a form"),
    responses(
        (status = 200, description = "stored; callers hear it from the next call on", body = GreetingView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than 5 MiB (field `greeting`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not audio/wav or multipart/form-data (field `greeting`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a readable WAV file, or longer than 60 s (field `greeting`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "this server keeps no voicemail", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_greeting(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    req: Request,
) -> Result<Json<GreetingView>, Problem> {
    let a = address("address", &text)?;
    // Authorisation before the body is read: another's greeting costs no upload.
    caller.allow(Action::ChangeOwn(&a))?;
    let file = file_of(req, &state).await?;
    upload(&state, &caller, &a, file).await.map(Json)
}

/// Remove the personal greeting: callers hear the default one again.
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/greeting", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 204, description = "removed (or there was none)"),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "this server keeps no voicemail", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_greeting(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    remove(&state, &caller, &a)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}
