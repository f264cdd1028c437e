//! [`Problem`]: every error answer of the API, as `application/problem+json` (RFC 9457),
//! naming the field that is wrong; and [`JsonBody`], the JSON extractor whose errors are
//! problems too.

use axum::extract::{FromRequest, Request};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

/// The media type of a problem answer (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer (RFC 9457 §3.1): `type` is `about:blank` (the status says it all),
/// `title` a short summary, `detail` this occurrence in words, `field` the request field at
/// fault (a JSON member, a form field, a path or query parameter), when one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// The field of the request at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Each error of an uploaded file (a tariff import), where it is; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LineError>,
    /// For a 429: the seconds until the attempt may be made again, sent as `Retry-After`
    /// (RFC 9110 §10.2.3); not part of the body.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

/// One error in an uploaded file: the file, line and column (1-based), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineError {
    /// The file's name as uploaded.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column where the offending field starts (1 for a whole line).
    pub column: usize,
    /// What is wrong, naming the field.
    pub problem: String,
    /// `file:line:column: problem`, as `itsp rate import` prints it.
    pub message: String,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 422: the value of `field` is not acceptable.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid field", detail)
        }
    }

    /// 422: the uploaded file in `field` has errors, each at its line and column;
    /// nothing was changed.
    pub fn file_errors(field: &str, detail: impl Into<String>, errors: Vec<LineError>) -> Problem {
        Problem {
            errors,
            ..Problem::invalid(field, detail)
        }
    }

    /// 400: the request cannot be read at all (not JSON, not a form).
    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "malformed request", detail)
    }

    /// 401: no credentials, or ones that are not (or no longer) valid.
    pub fn unauthenticated() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "not logged in",
            "log in, or send Authorization: Bearer TOKEN (itsp token create)",
        )
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404: no such thing (or nothing the caller may see, which looks the same).
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not found", detail)
    }

    /// 409: the change clashes with what exists.
    pub fn conflict(field: Option<&str>, detail: impl Into<String>) -> Problem {
        Problem {
            field: field.map(str::to_owned),
            ..Problem::new(StatusCode::CONFLICT, "conflict", detail)
        }
    }

    /// 413: the body (the upload in `field`) is larger than allowed.
    pub fn too_large(field: &str, detail: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            ..Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too large", detail)
        }
    }

    /// 415: the body (the upload in `field`) is of a media type not taken here.
    pub fn unsupported_media_type(field: &str, detail: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            ..Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported media type",
                detail,
            )
        }
    }

    /// 503: what would carry this out is not there (no SIP server beside the portal).
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 429: too many attempts; the answer should carry `Retry-After`
    /// ([`Problem::with_retry_after`]).
    pub fn too_many_requests(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "too many requests", detail)
    }

    /// The problem, answered with `Retry-After: wait` (whole seconds, rounded up).
    #[must_use]
    pub fn with_retry_after(self, wait: Duration) -> Problem {
        Problem {
            retry_after: Some(retry_after_secs(wait)),
            ..self
        }
    }

    /// 500: the database or the machine failed; the detail is logged, not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "portal request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            "the server failed; its log says why",
        )
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Maps a store error to a problem, with `field` named for errors of the input.
    pub fn from_store(e: StoreError, field: &str) -> Problem {
        use StoreError as E;
        match e {
            E::BadAddress(_)
            | E::BadPassword(_)
            | E::BadEmail(_)
            | E::BadGroup(_)
            | E::BadTokenName(_)
            | E::BadPreference { .. }
            | E::UnknownPreference(_) => Problem::invalid(field, e.to_string()),
            E::NoSuchDomain(_)
            | E::NoSuchUser(_)
            | E::NoSuchAlias(_)
            | E::NoSuchToken(_)
            | E::NoSuchBan(_) => Problem::not_found(e.to_string()),
            E::DomainExists(_) | E::UserExists(_) | E::AliasExists(_) => {
                Problem::conflict(Some(field), e.to_string())
            }
            E::DomainInUse(_) => Problem::conflict(None, e.to_string()),
            other => Problem::internal(&other),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}", field, self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            self.status_code(),
            [(header::CONTENT_TYPE, PROBLEM_JSON)],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A wait in whole seconds, rounded up, at least 1 (at most `u32::MAX`).
pub fn retry_after_secs(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// The `Retry-After` value of a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_value(wait: Duration) -> HeaderValue {
    HeaderValue::from(retry_after_secs(wait))
}

/// A JSON request body of `T`; a body that is not JSON, or not a `T`, is a [`Problem`]
/// naming the member at fault (`"forwarding.busy"`), never axum's plain-text rejection.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return Err(Problem::malformed(
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::malformed(format!("cannot read the body: {e}")))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body into `T`, naming the member at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(Problem::malformed(format!(
                    "the body is not valid JSON: {inner}"
                )));
            }
            let message = inner.to_string();
            // serde names a missing or unknown member only in its message.
            let field = if path == "." || path.is_empty() {
                quoted_name(&message).unwrap_or_default()
            } else {
                path
            };
            let detail = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            Err(Problem::invalid(&field, detail))
        }
    }
}

/// The first name in backquotes of a serde message (`missing field `password``).
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// Parses a `user@domain` request field; the problem names `field`.
pub fn address(field: &str, text: &str) -> Result<store::Address, Problem> {
    store::Address::parse(text.trim()).map_err(|e| Problem::from_store(e, field))
}

/// The `limit` parameter of a list: `default` when absent, else a number from 1 to
/// `max`, or the problem naming `limit`.
pub fn page_limit(text: Option<&str>, default: u32, max: u32) -> Result<u32, Problem> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Problem::invalid("limit", format!("{text:?} is not a number from 1 to {max}"))
            }),
    }
}

/// The `cursor` parameter of a list paged by row id (a `next_cursor` this API gave).
pub fn id_cursor(text: Option<&str>) -> Result<Option<i64>, Problem> {
    text.map(|c| {
        c.parse::<i64>()
            .map_err(|_| Problem::invalid("cursor", "not a cursor this API gave (a next_cursor)"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        seconds: Option<u32>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"name": 3}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(e.status, 422);
        let e = parse_json::<Body>(br#"{"name": "a", "seconds": -1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("seconds"));
        let e = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"), "{e:?}");
        let e = parse_json::<Body>(br#"{"name": "a", "colour": 1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"), "{e:?}");
        let e = parse_json::<Body>(b"{").unwrap_err();
        assert_eq!(e.status, 400);
    }
}
