//! `GET /ws`: SIP over WebSocket (RFC 7118) on the portal's listener, so a browser phone
//! served by the portal reaches the SIP server at its own origin. The portal answers the
//! HTTP upgrade (RFC 6455 §4.2.2: version 13, the `sip` subprotocol required, RFC 7118
//! §4.1) and hands the upgraded connection with the client's address to the SIP server
//! ([`WebSocketEntry`]); it reads no SIP itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;

/// Takes an upgraded connection and the client's address (`server::Server::websocket_entry`).
pub type WebSocketEntry = Arc<dyn Fn(Box<dyn transport::Io>, SocketAddr) + Send + Sync>;

/// The `/ws` route alone, to merge into the portal.
pub fn router(entry: WebSocketEntry) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(entry)
}

/// What is wrong with an upgrade request, if anything; else its `Sec-WebSocket-Key`.
fn check(headers: &HeaderMap) -> Result<&str, &'static str> {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return Err("a WebSocket upgrade is expected here (SIP over WebSocket, RFC 7118)");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err("WebSocket version 13 is expected (Sec-WebSocket-Version)");
    }
    let offers_sip = transport::offers_sip_subprotocol(
        headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    if !offers_sip {
        return Err("the WebSocket subprotocol \"sip\" is required (RFC 7118)");
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.trim().is_empty())
        .ok_or("Sec-WebSocket-Key is missing")
}

async fn upgrade(
    State(entry): State<WebSocketEntry>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let accept = match check(request.headers()) {
        Ok(key) => transport::websocket_accept(key),
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => entry(Box::new(TokioIo::new(upgraded)), peer),
            Err(e) => tracing::debug!(%peer, error = %e, "websocket upgrade not completed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(header::SEC_WEBSOCKET_PROTOCOL, "sip")
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const GOOD: [(&str, &str); 5] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "sip"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn an_upgrade_needs_version_13_the_sip_subprotocol_and_a_key() {
        assert_eq!(check(&headers(&GOOD)), Ok("dGhlIHNhbXBsZSBub25jZQ=="));
        // RFC 6455 §1.3's example key and answer.
        assert_eq!(
            transport::websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        for (drop, why) in [
            ("upgrade", "upgrade is expected"),
            ("sec-websocket-version", "version 13"),
            ("sec-websocket-protocol", "\"sip\""),
            ("sec-websocket-key", "Key is missing"),
        ] {
            let without: Vec<_> = GOOD.iter().copied().filter(|(n, _)| *n != drop).collect();
            let error = check(&headers(&without)).unwrap_err();
            assert!(error.contains(why), "without {drop}: {error}");
        }
    }
}
