//! Calls in progress: `GET /api/v1/calls/live` (admins: every call; a subscriber: the
//! calls they make or take) and `DELETE /api/v1/calls/live/{call_id}` (admins: end an
//! answered call, as `itsp hangup` does).
//!
//! The list is the one `itsp calls` shows: the `calls` table the proxy nodes' accounting
//! keeps (every node sharing the database; the engine itself keeps only their number).
//! The SIP server beside the portal adds what only it knows through the [`CallControl`]
//! that `itsp serve` hands to [`crate::AppState::set_call_control`] (the server's own
//! handle, not its control socket): the relay's counters of each answered call so far
//! (asked with a deadline; a call the relay does not carry has none), and the hang-up: a
//! BYE to both parties, the call's record ending `admin`. A portal without a server beside
//! it lists calls without counters and answers 503 to a hang-up; a call another node
//! handles answers 404 from this one.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sip::headers::rfc3339_ms;
use store::{Address, Call, CallState};
use utoipa::ToSchema;

use crate::auth::{Action, Caller};
use crate::problem::Problem;
use crate::time::unix_now;
use crate::AppState;

/// How long the relay's counters of one call are waited for.
pub const MEDIA_WAIT: Duration = Duration::from_millis(500);

/// The most calls of one list whose relay counters are asked for.
pub const MAX_MEDIA_QUERIES: usize = 200;

/// The relay's counters of a call, when they come.
pub type MediaFuture<'a> = Pin<Box<dyn Future<Output = Option<MediaView>> + Send + 'a>>;

/// What the SIP server beside the portal tells of calls in progress, and does to them.
pub trait CallControl: Send + Sync {
    /// Ends answered call `call_id` (BYE to both parties); whether this server had it (a
    /// ringing call, an ended one or one of another node is not ended).
    fn hang_up(&self, call_id: &str) -> bool;

    /// The relay's counters of call `call_id` so far; `None` when the relay does not
    /// carry it.
    fn media<'a>(&'a self, call_id: &'a str) -> MediaFuture<'a> {
        let _ = call_id;
        Box::pin(std::future::ready(None))
    }
}

/// The relay's counters of a call so far, both parties together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaView {
    /// RTP packets relayed.
    pub rtp_packets: u64,
    /// Their bytes.
    pub rtp_bytes: u64,
    /// RTCP packets relayed.
    pub rtcp_packets: u64,
    /// RTP packets lost before the relay, as far as it can tell.
    pub lost: u64,
}

/// The [`CallControl`] the portal is handed.
pub type SharedCallControl = Arc<dyn CallControl>;

/// A call in progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveCallView {
    /// Its Call-ID: the `{call_id}` of its hang-up.
    pub call_id: String,
    /// `early` (ringing) or `confirmed` (answered).
    pub state: String,
    /// The caller (From URI).
    pub caller: String,
    /// The callee (the INVITE's Request-URI).
    pub callee: String,
    /// When the INVITE arrived (RFC 3339).
    pub started: String,
    /// When it was answered (RFC 3339), if it was.
    pub answered: Option<String>,
    /// Talk time once answered, ringing time before, in seconds.
    pub duration_secs: i64,
    /// Where the INVITE came from.
    pub source_ip: Option<String>,
    /// The proxy node handling it.
    pub node: String,
    /// The relay's counters so far, when the relay beside this portal carries the call.
    pub media: Option<MediaView>,
}

/// The calls in progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveCalls {
    /// The calls, oldest first.
    pub items: Vec<LiveCallView>,
}

/// A call seen at `now_ms`.
pub fn view(c: Call, now_ms: i64) -> LiveCallView {
    let since = c.answered_ms.unwrap_or(c.started_ms);
    LiveCallView {
        duration_secs: now_ms.saturating_sub(since).max(0) / 1000,
        state: c.state.as_str().to_owned(),
        started: rfc3339_ms(c.started_ms),
        answered: c.answered_ms.map(rfc3339_ms),
        call_id: c.call_id,
        caller: c.caller,
        callee: c.callee,
        source_ip: c.source_ip,
        node: c.node,
        media: None,
    }
}

/// Whether a call is answered (only those can be ended).
pub fn is_answered(c: &LiveCallView) -> bool {
    c.state == CallState::Confirmed.as_str()
}

/// The `user@domain` a SIP URI names (`sip:alice@example.com;transport=tcp`,
/// `<sips:bob@Example.COM>`), if it names one.
pub fn uri_address(uri: &str) -> Option<Address> {
    let t = uri.trim();
    let t = t
        .find('<')
        .and_then(|i| t.get(i + 1..))
        .map_or(t, |inner| inner.split('>').next().unwrap_or(inner));
    let lower = t.get(..5).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("sips:") {
        t.get(5..)?
    } else if lower.starts_with("sip:") {
        t.get(4..)?
    } else {
        return None;
    };
    let end = rest.find([';', '?', '>']).unwrap_or(rest.len());
    let (user, host) = rest.get(..end)?.split_once('@')?;
    let host = host.split(':').next().unwrap_or(host);
    Address::new(user, host).ok()
}

/// Whether `a` makes or takes the call.
fn takes_part(c: &Call, a: &Address) -> bool {
    [&c.caller, &c.callee]
        .into_iter()
        .any(|u| uri_address(u).as_ref() == Some(a))
}

/// The calls in progress: all for admins, a subscriber's own otherwise.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    fields: HashMap<String, String>,
) -> Result<LiveCalls, Problem> {
    if let Some(name) = fields.keys().next() {
        return Err(Problem::invalid(name, "unknown parameter: there are none"));
    }
    let own = match caller.allow(Action::ListAllLiveCalls) {
        Ok(()) => None,
        Err(p) => match &caller.address {
            Some(a) => {
                caller.allow(Action::Read(a))?;
                Some(a.clone())
            }
            None => return Err(p),
        },
    };
    let calls = state
        .store()
        .calls()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let now_ms = unix_now().saturating_mul(1000);
    let mut items: Vec<LiveCallView> = calls
        .into_iter()
        .filter(|c| own.as_ref().is_none_or(|a| takes_part(c, a)))
        .map(|c| view(c, now_ms))
        .collect();
    if let Some(control) = state.call_control() {
        for item in items
            .iter_mut()
            .filter(|c| is_answered(c))
            .take(MAX_MEDIA_QUERIES)
        {
            item.media = tokio::time::timeout(MEDIA_WAIT, control.media(&item.call_id))
                .await
                .ok()
                .flatten();
        }
    }
    Ok(LiveCalls { items })
}

/// Ends answered call `call_id` (admins).
pub fn hang_up(state: &AppState, caller: &Caller, call_id: &str) -> Result<(), Problem> {
    caller.allow(Action::HangUpCalls)?;
    let call_id = call_id.trim();
    if call_id.is_empty() {
        return Err(Problem::invalid("call_id", "the Call-ID is missing"));
    }
    let Some(control) = state.call_control() else {
        return Err(Problem::unavailable(
            "no SIP server runs beside this portal: end the call with itsp hangup on the \
             server's machine",
        ));
    };
    if control.hang_up(call_id) {
        let who = caller
            .address
            .as_ref()
            .map_or_else(|| "an admin token".to_owned(), ToString::to_string);
        tracing::info!(%call_id, by = %who, "call ended in the portal");
        Ok(())
    } else {
        Err(Problem::not_found(format!(
            "no answered call with Call-ID {call_id} on this server (a ringing call, one \
             that ended, or one another node handles cannot be ended here)"
        )))
    }
}

/// The calls in progress, oldest first: every call for admins, the calls a subscriber
/// makes or takes for them.
#[utoipa::path(get, path = "/api/v1/calls/live", tag = "calls",
    responses(
        (status = 200, description = "the calls in progress", body = LiveCalls),
    ))]
pub async fn list_live_calls(
    State(state): State<AppState>,
    caller: Caller,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Json<LiveCalls>, Problem> {
    list(&state, &caller, fields).await.map(Json)
}

/// End an answered call (admins): the server sends a BYE to both parties, and the call's
/// record says the proxy ended it (`admin`).
#[utoipa::path(delete, path = "/api/v1/calls/live/{call_id}", tag = "calls",
    params(("call_id" = String, Path, description = "the Call-ID, as the list gives it")),
    responses(
        (status = 204, description = "ended: BYE sent to both parties"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no answered call with this Call-ID on this server", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no SIP server beside the portal", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_live_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<StatusCode, Problem> {
    hang_up(&state, &caller, &call_id).map(|()| StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_their_subscriber() {
        let alice = Address::parse("alice@example.com").unwrap();
        for uri in [
            "sip:alice@example.com",
            "sip:alice@Example.COM;transport=tcp",
            "<sips:alice@example.com:5061>",
            "\"Alice\" <sip:alice@example.com>;tag=1",
            "SIP:alice@example.com?subject=x",
        ] {
            assert_eq!(uri_address(uri).as_ref(), Some(&alice), "{uri}");
        }
        assert_eq!(uri_address("tel:+46812345"), None);
        assert_eq!(uri_address("sip:example.com"), None);
        assert_eq!(uri_address(""), None);
    }

    #[test]
    fn durations_count_talk_time_once_answered() {
        let ringing = Call {
            call_id: "c1".into(),
            from_tag: "f".into(),
            to_tag: None,
            state: CallState::Early,
            caller: "sip:alice@example.com".into(),
            callee: "sip:bob@example.com".into(),
            source_ip: None,
            started_ms: 100_000,
            answered_ms: None,
            node: "n1".into(),
        };
        let answered = Call {
            state: CallState::Confirmed,
            answered_ms: Some(110_000),
            ..ringing.clone()
        };
        assert_eq!(view(ringing.clone(), 200_500).duration_secs, 100);
        let v = view(answered, 200_500);
        assert_eq!(v.duration_secs, 90);
        assert!(is_answered(&v));
        assert!(!is_answered(&view(ringing.clone(), 0)));
        let bob = Address::parse("bob@example.com").unwrap();
        let carol = Address::parse("carol@example.com").unwrap();
        assert!(takes_part(&ringing, &bob));
        assert!(!takes_part(&ringing, &carol));
    }
}
