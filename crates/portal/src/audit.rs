//! The audit log of admin changes, written in one place: [`record_changes`], a layer
//! around every route. A request that may change something (any method but GET, HEAD
//! and OPTIONS) from an admin — an admin token, or the session of a subscriber with the
//! admin flag — is passed on, and when it succeeds (a 2xx or 3xx answer: pages answer a
//! change with 303, and a refused or bad one with 4xx) one [`store::NewAuditEntry`] is
//! written: who ([`actor`]), from where (the same source address as the login guard,
//! [`crate::auth::client_ip`], so `trusted_proxies` apply), what (`METHOD /path` and the
//! fields sent, [`detail`], with every password, PIN, secret and token left out, and the
//! form token dropped) and the answer's status. Every API operation and page form is
//! covered as it is added, with nothing to remember in the handlers. Logging in and out
//! is not a change and is not recorded.
//!
//! The entry is written after the change: if the store fails then, the change stands and
//! the failure is logged at `error`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::auth::{authenticate, client_ip, Caller, Credential};
use crate::problem::Problem;
use crate::AppState;

/// What stands in the log for a secret's value.
pub const HIDDEN: &str = "(hidden)";

/// A JSON string longer than this (an uploaded tariff file) is logged as its length.
const LONG_VALUE_BYTES: usize = 200;

/// Paths whose posts are not recorded here: logging in and out (not changes), and the
/// sign-up steps, which record themselves ([`crate::api::signup`]: a visitor has no
/// admin to name).
const NOT_CHANGES: &[&str] = &[
    "/login",
    "/logout",
    "/api/v1/session",
    "/signup",
    "/signup/confirm",
    "/api/v1/signup",
    "/api/v1/signup/confirm",
];

/// Who the log names for `caller`: the admin's `user@domain`, or `token N`.
pub fn actor(caller: &Caller) -> String {
    match (&caller.address, &caller.credential) {
        (Some(a), _) => a.to_string(),
        (None, Credential::Token(id)) => format!("token {id}"),
        (None, Credential::Session { .. }) => "unknown".to_owned(),
    }
}

/// Whether a field called `name` holds a secret whose value the log must not keep.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "token", "pin", "csrf"]
        .iter()
        .any(|s| n.contains(s))
}

/// The fields of a request body for the log: a form's fields (`name=value`, in the
/// order sent, the form token left out), or the JSON with secrets replaced by
/// [`HIDDEN`] and long strings by their length; `None` for an empty body or one of another type (a tariff upload is named
/// by its path).
pub fn detail(content_type: &str, body: &[u8]) -> Option<String> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if body.is_empty() {
        return None;
    }
    match media.as_str() {
        "application/x-www-form-urlencoded" => {
            let fields: Vec<String> = form_pairs(body)
                .into_iter()
                .filter(|(k, _)| k != "csrf")
                .map(|(k, v)| {
                    if is_secret(&k) {
                        format!("{k}={HIDDEN}")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            (!fields.is_empty()).then(|| fields.join(", "))
        }
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(mut v) => {
                hide_secrets(&mut v);
                Some(v.to_string())
            }
            Err(_) => Some("(not JSON)".to_owned()),
        },
        "" => None,
        other => Some(format!("({other}, {} bytes)", body.len())),
    }
}

fn hide_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret(k) {
                    *v = Value::String(HIDDEN.to_owned());
                } else {
                    hide_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_secrets),
        Value::String(text) if text.len() > LONG_VALUE_BYTES => {
            *text = format!("({} bytes)", text.len());
        }
        _ => {}
    }
}

/// The `name=value` pairs of an `application/x-www-form-urlencoded` body, decoded
/// (`+` is a space, `%XX` a byte; bytes that are not UTF-8 replaced).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &[u8]) -> String {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                text.get(i + 1).copied().and_then(hex),
                text.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The layer: records each successful change an admin makes (see the module docs).
pub async fn record_changes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || NOT_CHANGES.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let caller = match authenticate(&state, &parts).await {
        Ok(Some(c)) if c.is_admin => c,
        // Not an admin (or not logged in): the handler answers; nothing to record.
        _ => return next.run(Request::from_parts(parts, body)).await,
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let readable = content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.starts_with("application/json");
    let (body, detail) = if readable {
        // The largest body any route takes (a tariff import); each route's own limit
        // still applies when its handler reads the body.
        let limit = crate::api::rates::MAX_TARIFF_BYTES.max(crate::MAX_BODY_BYTES);
        match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => {
                let d = detail(&content_type, &bytes);
                (Body::from(bytes), d)
            }
            Err(_) => {
                return Problem::malformed("the body is too large or could not be read")
                    .into_response()
            }
        }
    } else {
        let d = (!content_type.is_empty()).then(|| {
            format!(
                "({})",
                content_type.split(';').next().unwrap_or_default().trim()
            )
        });
        (body, d)
    };
    let action = format!(
        "{} {}",
        parts.method,
        parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |p| p.as_str())
    );
    let source = client_ip(&state, &parts).to_string();
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        let entry = store::NewAuditEntry {
            at_ms: unix_now_ms(),
            actor: actor(&caller),
            source,
            action,
            status: i64::from(status.as_u16()),
            detail,
        };
        if let Err(e) = state.store().record_audit(&entry).await {
            tracing::error!(error = %e, actor = %entry.actor, action = %entry.action,
                "an admin change was made but could not be written to the audit log");
        }
    }
    response
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_fields_but_not_secrets() {
        let d = detail(
            "application/x-www-form-urlencoded",
            b"csrf=abc&address=bob%40example.com&password=s3cret&note=a+b%21",
        );
        assert_eq!(
            d.as_deref(),
            Some("address=bob@example.com, password=(hidden), note=a b!")
        );
        assert_eq!(detail("application/x-www-form-urlencoded", b"csrf=x"), None);
        assert_eq!(decode(b"%zz%4"), "%zz%4");
    }

    #[test]
    fn json_secrets_are_hidden_at_any_depth() {
        let d = detail(
            "application/json; charset=utf-8",
            br#"{"address":"c@example.com","web_password":"x","inner":[{"vm_pin":"1234"}]}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["address"], "c@example.com");
        assert_eq!(v["web_password"], HIDDEN);
        assert_eq!(v["inner"][0]["vm_pin"], HIDDEN);
        assert_eq!(detail("application/json", b""), None);
        let long = format!(
            r#"{{"files":[{{"name":"a.csv","content":"{}"}}]}}"#,
            "x".repeat(300)
        );
        let d = detail("application/json", long.as_bytes()).unwrap();
        assert!(d.contains("(300 bytes)") && d.contains("a.csv"), "{d}");
        assert_eq!(
            detail("multipart/form-data; boundary=x", b"--x").as_deref(),
            Some("(multipart/form-data, 3 bytes)")
        );
    }
}
