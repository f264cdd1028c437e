//! The greeting card of `/voicemail`: whether callers hear a personal greeting (played in
//! the browser, `/voicemail/greeting.wav`) or the default one, a form that uploads a WAV
//! file (`POST /voicemail/greeting`, `multipart/form-data` with the form token in the part
//! `csrf` and the file in `greeting`: a plain HTML form, no script) and one that removes
//! it (`POST /voicemail/greeting/remove`). Both call [`crate::api::greeting`], as the API
//! does; a refused file is shown next to the field, the page answered with the problem's
//! status (413, 415 or 422).

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};

use super::selfcare::{subscriber, voicemail_body};
use super::{csrf_field, error_page, esc, form_fields, layout, see_other, MaybeCaller};
use crate::api::greeting::{self, GreetingView, MAX_GREETING_BYTES, MAX_GREETING_SECONDS};
use crate::auth::Caller;
use crate::problem::Problem;
use crate::AppState;

/// The greeting card; `kept`: whether this server keeps greetings at all; `error`: the
/// last upload's problem.
pub fn card(caller: &Caller, current: &GreetingView, kept: bool, error: Option<&str>) -> String {
    if !kept {
        return r#"<section class="card"><h2>Greeting</h2><p class="empty">Greetings are not kept by this server: callers hear the default one.</p></section>"#.to_owned();
    }
    let now = if current.personal {
        let length = current
            .duration_ms
            .map(|ms| format!(" ({} s)", ms.div_ceil(1000)))
            .unwrap_or_default();
        format!(
            r#"<p>Callers hear your personal greeting{length}.</p>
<audio controls preload="none" src="/voicemail/greeting.wav">Your browser cannot play it here.</audio>
<form method="post" action="/voicemail/greeting/remove">{csrf}<button class="danger small">Use the default greeting</button></form>"#,
            csrf = csrf_field(caller),
        )
    } else {
        r#"<p>Callers hear the default greeting, which says your number. Upload your own below, or dial *97 from your phone and choose 0, then 1, to record one.</p>"#.to_owned()
    };
    let (class, described, message) = match error {
        Some(e) => (
            " invalid",
            r#" aria-invalid="true" aria-describedby="f-greeting-error""#,
            format!(
                r#"<p class="error" id="f-greeting-error" role="alert">{}</p>"#,
                esc(e)
            ),
        ),
        None => ("", "", String::new()),
    };
    format!(
        r#"<section class="card" id="greeting"><h2>Greeting</h2>{now}
<form method="post" action="/voicemail/greeting" enctype="multipart/form-data">
{csrf}
<div class="field{class}"><label for="f-greeting">A new greeting (WAV file)</label><input id="f-greeting" name="greeting" type="file" accept=".wav,audio/wav,audio/x-wav,audio/wave"{described}><p class="hint">Any WAV file up to {mb} MB and {secs} seconds; it replaces the greeting recorded by phone.</p>{message}</div>
<button type="submit" class="primary">Upload</button>
</form></section>"#,
        csrf = csrf_field(caller),
        mb = MAX_GREETING_BYTES / (1024 * 1024),
        secs = MAX_GREETING_SECONDS,
    )
}

/// `POST /voicemail/greeting`: the upload.
pub async fn upload(State(state): State<AppState>, caller: MaybeCaller, req: Request) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let problem = match greeting::read_multipart(req, &state).await {
        Ok(upload) => {
            if let Err(p) = caller.check_form_token(upload.csrf.as_deref()) {
                return error_page(&p);
            }
            match greeting::upload(&state, &caller, &me, upload.file).await {
                Ok(_) => return see_other("/voicemail?notice=saved#greeting"),
                Err(p) => p,
            }
        }
        Err(p) => p,
    };
    // A problem of the file goes next to the field; others get their page.
    if problem.field.as_deref() != Some(greeting::FIELD) {
        return error_page(&problem);
    }
    match voicemail_body(&state, &caller, &me, &HashMap::new(), Some(&problem.detail)).await {
        Ok(body) => (
            problem.status_code(),
            Html(layout("Voicemail", Some(&caller), &body)),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// `POST /voicemail/greeting/remove`: back to the default greeting.
pub async fn remove(State(state): State<AppState>, caller: MaybeCaller, req: Request) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = match form_fields(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(p) = caller.check_form_token(fields.get("csrf").map(String::as_str)) {
        return error_page(&p);
    }
    match greeting::remove(&state, &caller, &me).await {
        Ok(()) => see_other("/voicemail?notice=removed#greeting"),
        Err(p) => error_page(&p),
    }
}

/// `GET /voicemail/greeting.wav`: the personal greeting, to play.
pub async fn audio(State(state): State<AppState>, caller: MaybeCaller) -> Response {
    let (caller, me) = match subscriber(caller) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match greeting::audio(&state, &caller, &me).await {
        Ok(Some(bytes)) => greeting::greeting_response(bytes),
        Ok(None) => error_page(&Problem::not_found(
            "You have no personal greeting: callers hear the default one.",
        )),
        Err(p) => error_page(&p),
    }
}
