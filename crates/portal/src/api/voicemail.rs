//! Voicemail: the messages the media service recorded in a subscriber's mailbox
//! (`store::voicemail`), their audio (a WAV file under the data directory's `voicemail/`,
//! [`crate::PortalConfig::voicemail_dir`]), removal (row and file) and marking one heard.
//! `/api/v1/subscribers/{address}/voicemail`, `.../voicemail/{id}`,
//! `.../voicemail/{id}/audio`. The subscriber reads and changes their own.

use std::path::{Component, Path as FsPath, PathBuf};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sip::headers::rfc3339_ms;
use store::{Address, VoicemailMessage};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::{address, JsonBody, Problem};
use crate::AppState;

/// One voicemail message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VoicemailView {
    /// Its number in the mailbox.
    pub id: i64,
    /// Who called: the From URI.
    pub caller: String,
    /// When it was recorded (RFC 3339).
    pub created: String,
    /// Its length in milliseconds.
    pub duration_ms: i64,
    /// Not heard yet.
    pub new: bool,
}

impl From<VoicemailMessage> for VoicemailView {
    fn from(m: VoicemailMessage) -> VoicemailView {
        VoicemailView {
            id: m.id,
            new: m.status == store::STATUS_NEW,
            caller: m.caller,
            created: rfc3339_ms(m.created_ms),
            duration_ms: m.duration_ms,
        }
    }
}

/// A change to a message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailChange {
    /// `true`: mark it heard (a heard message cannot be made new again).
    pub heard: bool,
}

fn no_message(id: i64) -> Problem {
    Problem::not_found(format!("no such voicemail message: {id}"))
}

/// A message number from a path.
pub fn message_id(text: &str) -> Result<i64, Problem> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Problem::invalid("id", format!("{text:?} is not a message number")))
}

async fn stored(state: &AppState, a: &Address) -> Result<Vec<VoicemailMessage>, Problem> {
    state
        .store()
        .voicemail_messages(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))
}

/// The messages of `a`, newest first.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    a: &Address,
) -> Result<Vec<VoicemailView>, Problem> {
    caller.allow(Action::Read(a))?;
    let mut rows = stored(state, a).await?;
    rows.reverse();
    Ok(rows.into_iter().map(VoicemailView::from).collect())
}

/// The file `relative` (as the store names it) under the voicemail folder; `None` when it
/// would leave the folder or there is no folder.
fn file_path(state: &AppState, relative: &str) -> Option<PathBuf> {
    let dir = state.config().voicemail_dir.as_ref()?;
    let rel = FsPath::new(relative);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !relative.is_empty()).then(|| dir.join(rel))
}

/// The audio of message `id` of `a`: the WAV file's bytes.
pub async fn audio(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    id: i64,
) -> Result<Vec<u8>, Problem> {
    caller.allow(Action::Read(a))?;
    let rows = stored(state, a).await?;
    let message = rows
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| no_message(id))?;
    let path = file_path(state, &message.file)
        .ok_or_else(|| Problem::not_found("the audio of this message is not kept here"))?;
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Problem::not_found("the audio of this message is gone"))
        }
        Err(e) => Err(Problem::internal(&e)),
    }
}

/// Removes message `id` of `a`, its row and its file.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    id: i64,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    let file = state
        .store()
        .remove_voicemail(&a.user, &a.domain, id)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?
        .ok_or_else(|| no_message(id))?;
    if let Some(path) = file_path(state, &file) {
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "voicemail file not removed")
            }
        }
    }
    Ok(())
}

/// Marks message `id` of `a` heard.
pub async fn mark_heard(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    id: i64,
) -> Result<(), Problem> {
    caller.allow(Action::ChangeOwn(a))?;
    let changed = state
        .store()
        .mark_voicemail_saved(&a.user, &a.domain, &[id])
        .await
        .map_err(|e| Problem::from_store(e, "address"))?;
    if changed == 0 {
        return Err(no_message(id));
    }
    Ok(())
}

/// A subscriber's voicemail messages, newest first.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/voicemail", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain")),
    responses(
        (status = 200, description = "the messages, newest first", body = [VoicemailView]),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_voicemail(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Vec<VoicemailView>>, Problem> {
    let a = address("address", &text)?;
    list(&state, &caller, &a).await.map(Json)
}

/// The audio of one message, a WAV file.
#[utoipa::path(get, path = "/api/v1/subscribers/{address}/voicemail/{id}/audio", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain"),
           ("id" = String, Path, description = "the message's id")),
    responses(
        (status = 200, description = "the recording", content_type = "audio/wav"),
        (status = 404, description = "no such subscriber, not yours, or no such message", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_voicemail_audio(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let a = address("address", &text)?;
    let id = message_id(&id)?;
    let bytes = audio(&state, &caller, &a, id).await?;
    Ok(wav_response(bytes, id, false))
}

/// A WAV answer; `download`: as an attachment named after the message.
pub fn wav_response(bytes: Vec<u8>, id: i64, download: bool) -> Response {
    let disposition = if download {
        format!("attachment; filename=\"voicemail-{id}.wav\"")
    } else {
        format!("inline; filename=\"voicemail-{id}.wav\"")
    };
    (
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// Removes one message and its recording.
#[utoipa::path(delete, path = "/api/v1/subscribers/{address}/voicemail/{id}", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain"),
           ("id" = String, Path, description = "the message's id")),
    responses(
        (status = 204, description = "removed"),
        (status = 404, description = "no such subscriber, not yours, or no such message", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_voicemail(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    let id = message_id(&id)?;
    remove(&state, &caller, &a, id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Marks one message heard (`{"heard": true}`).
#[utoipa::path(patch, path = "/api/v1/subscribers/{address}/voicemail/{id}", tag = "voicemail",
    params(("address" = String, Path, description = "user@domain"),
           ("id" = String, Path, description = "the message's id")),
    request_body = VoicemailChange,
    responses(
        (status = 204, description = "marked heard"),
        (status = 404, description = "no such subscriber, not yours, or no such message", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`heard` is not true", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_voicemail(
    State(state): State<AppState>,
    caller: Caller,
    Path((text, id)): Path<(String, String)>,
    JsonBody(change): JsonBody<VoicemailChange>,
) -> Result<StatusCode, Problem> {
    let a = address("address", &text)?;
    let id = message_id(&id)?;
    if !change.heard {
        return Err(Problem::invalid(
            "heard",
            "a heard message cannot be made new again: give true",
        ));
    }
    mark_heard(&state, &caller, &a, id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}
