//! Click-to-dial: `POST /api/v1/subscribers/{address}/click-to-dial` with `{"target":
//! "bob" | "sip:bob@example.com" | "+493012345"}` connects the subscriber to the target
//! by third-party call control (RFC 3725 §4.1, flow I): the media service beside the
//! portal calls the subscriber's own phones first and, once one answers, calls the target
//! as the subscriber (`media::service::click_to_dial`). The answer is 202 with the Call-ID
//! the call to the target will have in the call history; what happens next is the phones'
//! business (a phone not answered, a busy target: no call).
//!
//! The target is read as the subscriber would dial it: a `sip:`/`sips:` URI as is, a
//! `tel:` URI or a number (`+`, digits, spaces, `-`, `.`, `()`) at the subscriber's
//! domain, `user@domain`, or a user name at the subscriber's domain. Refusals: a target
//! that is none of these, or the subscriber themself (422 naming `target`); a disabled
//! subscriber or one with no registered phone (409); a few of the subscriber's
//! click-to-dial calls under way already (429); no media service beside the portal (503). The proxy then routes the call to the target as the subscriber's own, so a call
//! they could not place themselves (a PSTN class outside their groups, no credit) is
//! refused there and their phone is hung up.
//!
//! The portal reaches the media service through the [`Dialer`] that `itsp serve` hands to
//! [`crate::AppState::set_dialer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::Address;
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::address;
use crate::problem::{JsonBody, Problem};
use crate::time::unix_now;
use crate::AppState;

/// Why the media service did not start a click-to-dial.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialFailure {
    /// The media service is off, not ready, or too busy; the text says which.
    Unavailable(String),
    /// The media service refused the target URI.
    BadTarget(String),
    /// Too many click-to-dial calls of this subscriber (or in all) are under way.
    Busy(String),
}

/// A click-to-dial started: the Call-IDs of its two calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialled {
    /// The call to the target (placed once a phone of the subscriber answers).
    pub call_id: String,
    /// The call to the subscriber's phones.
    pub caller_call_id: String,
}

/// What [`Dialer::dial`] comes back with.
pub type DialFuture<'a> = Pin<Box<dyn Future<Output = Result<Dialled, DialFailure>> + Send + 'a>>;

/// The media service beside the portal, which places click-to-dial calls.
pub trait Dialer: Send + Sync {
    /// Connects `caller` to `target` (a SIP URI); `display` is how the target is shown on
    /// the caller's phones.
    fn dial<'a>(&'a self, caller: &'a Address, target: &'a str, display: &'a str)
        -> DialFuture<'a>;
}

/// The [`Dialer`] the portal is handed.
pub type SharedDialer = Arc<dyn Dialer>;

/// A click-to-dial request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialRequest {
    /// Whom to call: a user name (`bob`), `user@domain`, a `sip:`/`sips:`/`tel:` URI or a
    /// number (`+493012345`).
    pub target: String,
}

/// A click-to-dial under way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DialView {
    /// The Call-ID of the call to the target, as the call history will show it.
    pub call_id: String,
    /// The Call-ID of the call to the subscriber's own phones.
    pub caller_call_id: String,
    /// The target as a SIP URI.
    pub target: String,
    /// `calling`: the subscriber's phones ring; the target is called once one answers.
    pub state: String,
}

/// Whether `text` is a telephone number as people type it; its digits with the `+`.
fn number(text: &str) -> Option<String> {
    let (plus, rest) = match text.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", text),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (2..=20)
        .contains(&digits.len())
        .then(|| format!("{plus}{digits}"))
}

/// The target as a SIP URI and how the caller's phone shows it, or the problem naming
/// `target` (see the module docs).
pub fn target_uri(caller: &Address, text: &str) -> Result<(String, String), Problem> {
    let bad = |why: &str| Problem::invalid("target", why.to_owned());
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("say whom to call: a name, a number or a SIP address"));
    }
    if t.len() > 256
        || t.chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == '"')
    {
        return Err(bad("not a name, a number or a SIP address"));
    }
    let lower = t.to_ascii_lowercase();
    let (uri, display) = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        match sip::Uri::parse(t) {
            Ok(sip::Uri::Sip(uri)) if uri.user.is_some() => {}
            _ => {
                return Err(bad(
                    "not a SIP address with a user part (sip:bob@example.com)",
                ))
            }
        }
        let shown = t.split_once(':').map_or(t, |(_, rest)| rest);
        (
            t.to_owned(),
            shown.split(';').next().unwrap_or(shown).to_owned(),
        )
    } else if let Some(rest) = lower.strip_prefix("tel:") {
        let digits = rest.split(';').next().unwrap_or(rest);
        let n = number(digits).ok_or_else(|| bad("not a telephone number (tel:+493012345)"))?;
        (format!("sip:{n}@{}", caller.domain), n)
    } else if let Some(n) = number(t) {
        (format!("sip:{n}@{}", caller.domain), n)
    } else if t.contains('@') {
        let a = Address::parse(t).map_err(|_| bad("not an address of the form user@domain"))?;
        (format!("sip:{}", a.aor()), a.aor())
    } else {
        let a = Address::new(t, &caller.domain).map_err(|_| bad("not a user name"))?;
        (format!("sip:{}", a.aor()), a.user)
    };
    if sip::Uri::parse(&uri).is_err() {
        return Err(bad("not a name, a number or a SIP address"));
    }
    let own = crate::api::live_calls::uri_address(&uri);
    if own.as_ref() == Some(caller) {
        return Err(bad("that is you: say whom to call"));
    }
    Ok((uri, display))
}

/// Starts a click-to-dial for subscriber `a` (admins for anyone, a subscriber for
/// themself; another's is 404 as a missing one).
pub async fn dial(
    state: &AppState,
    caller: &Caller,
    a: &Address,
    target: &str,
) -> Result<DialView, Problem> {
    caller.allow(Action::PlaceCall(a))?;
    let (target, display) = target_uri(a, target)?;
    let store = state.store();
    let subscriber = store
        .subscriber(&a.user, &a.domain)
        .await
        .map_err(|e| Problem::from_store(e, "address"))?
        .ok_or_else(|| Problem::not_found(format!("no such user: {a}")))?;
    if subscriber.disabled {
        return Err(Problem::conflict(
            None,
            format!("{a} is disabled: a disabled subscriber places no calls"),
        ));
    }
    let Some(dialer) = state.dialer() else {
        return Err(Problem::unavailable(
            "the media services are off on this server: click-to-dial needs them",
        ));
    };
    let now = unix_now();
    let registered = store
        .bindings(&a.aor())
        .await
        .map_err(|e| Problem::internal(&e))?
        .iter()
        .any(|b| b.expires_at > now);
    if !registered {
        return Err(Problem::conflict(
            None,
            format!(
                "no phone of {a} is registered: click-to-dial calls your phone first, so \
                 register one and try again"
            ),
        ));
    }
    match dialer.dial(a, &target, &display).await {
        Ok(d) => {
            tracing::info!(caller = %a, %target, call_id = %d.call_id, "click-to-dial asked in the portal");
            Ok(DialView {
                call_id: d.call_id,
                caller_call_id: d.caller_call_id,
                target,
                state: "calling".into(),
            })
        }
        Err(DialFailure::BadTarget(why)) => Err(Problem::invalid("target", why)),
        Err(DialFailure::Unavailable(why)) => Err(Problem::unavailable(why)),
        Err(DialFailure::Busy(why)) => Err(Problem::too_many_requests(format!(
            "{why}: wait until one is answered or over"
        ))),
    }
}

/// Connect a subscriber to a target (RFC 3725 click-to-dial): the subscriber's phones
/// ring first; when one answers, the target is called as the subscriber.
#[utoipa::path(post, path = "/api/v1/subscribers/{address}/click-to-dial", tag = "calls",
    params(("address" = String, Path, description = "user@domain")),
    request_body = DialRequest,
    responses(
        (status = 202, description = "the subscriber's phones are being called", body = DialView),
        (status = 404, description = "no such subscriber (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "no phone of the subscriber is registered, or the subscriber is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad target; `field` is `target`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many click-to-dial calls of the subscriber under way", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no media service beside the portal", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_click_to_dial(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    JsonBody(body): JsonBody<DialRequest>,
) -> Result<(StatusCode, Json<DialView>), Problem> {
    let a = address("address", &text)?;
    dial(&state, &caller, &a, &body.target)
        .await
        .map(|v| (StatusCode::ACCEPTED, Json(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_as_people_type_them() {
        let alice = Address::parse("alice@example.com").unwrap();
        let ok = |t: &str| target_uri(&alice, t).unwrap();
        assert_eq!(ok("bob"), ("sip:bob@example.com".into(), "bob".into()));
        assert_eq!(
            ok(" bob@other.example "),
            ("sip:bob@other.example".into(), "bob@other.example".into())
        );
        assert_eq!(
            ok("sip:bob@example.com;transport=tcp"),
            (
                "sip:bob@example.com;transport=tcp".into(),
                "bob@example.com".into()
            )
        );
        assert_eq!(
            ok("+49 30 1234-567"),
            ("sip:+49301234567@example.com".into(), "+49301234567".into())
        );
        assert_eq!(
            ok("tel:+4930123;phone-context=x").0,
            "sip:+4930123@example.com"
        );
        assert_eq!(ok("0301234").0, "sip:0301234@example.com");
        for bad in [
            "",
            "  ",
            "sip:example.com",
            "sip:",
            "alice",
            "sip:alice@example.com",
            "bob\r\nX: y",
            "<sip:bob@example.com>",
            "tel:abc",
            "bob@",
            "a b",
        ] {
            let p = target_uri(&alice, bad).unwrap_err();
            assert_eq!(p.field.as_deref(), Some("target"), "{bad:?}");
            assert_eq!(p.status, 422);
        }
    }
}
