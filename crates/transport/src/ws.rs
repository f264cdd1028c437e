//! SIP over WebSocket (RFC 7118): the accept loop of `ws:` and `wss:` listeners, the HTTP
//! upgrade that requires the `sip` subprotocol (§4.1), and one reader and one writer task
//! per connection carrying one SIP message per WebSocket message (§5.1). A `wss:`
//! connection is a TLS connection (the transports' [`crate::tls::Tls`]) with the upgrade
//! on top. Connections share the table and limits of TCP's ([`Connections`]): a
//! response or a request to a registered browser goes back on its connection, and the
//! server never opens one (§5: a WebSocket client is reached only through its own).

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sip::framing::DEFAULT_MAX_MESSAGE;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::limits::Limit;
use crate::tcp::{Admission, Connections};
use crate::{hand_over, Incoming, Listen, Protocol};

/// The WebSocket subprotocol of SIP (RFC 7118 §4.1, registered with IANA).
const SUBPROTOCOL: &str = "sip";

pub(crate) async fn accept_loop(listener: TcpListener, local: Listen, connections: Connections) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(serve(stream, peer, local, connections.clone()));
            }
            Err(e) => {
                tracing::warn!(%local, error = %e, "websocket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// One accepted connection: admitted (or reset at a limit), TLS for `wss:`, the upgrade,
/// then its messages until it closes.
async fn serve(stream: TcpStream, peer: SocketAddr, local: Listen, connections: Connections) {
    if connections.blocks(peer.ip()) {
        let _ = stream.set_zero_linger();
        return;
    }
    let (admission, tx, rx) = match connections.admit(local.protocol, peer, true) {
        Ok(admitted) => admitted,
        Err(limit) => {
            connections.note(limit, peer, local);
            let _ = stream.set_zero_linger();
            return;
        }
    };
    let handshake_time = connections.limits().header_timeout;
    if local.protocol == Protocol::Wss {
        let Some(tls) = connections.tls().cloned() else {
            return;
        };
        match tokio::time::timeout(handshake_time, tls.websocket_acceptor().accept(stream)).await {
            Ok(Ok(stream)) => upgrade_and_run(stream, local, &connections, admission, tx, rx).await,
            Ok(Err(e)) => tracing::info!(%peer, %local, error = %e, "TLS handshake failed"),
            Err(_) => tracing::info!(%peer, %local, "TLS handshake timed out"),
        }
    } else {
        upgrade_and_run(stream, local, &connections, admission, tx, rx).await;
    }
}

/// Whether the upgrade request offers the `sip` subprotocol.
fn offers_sip(request: &Request) -> bool {
    offers_sip_subprotocol(
        request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The answer to an upgrade request: `sip` chosen (§4.1), or 400 when it is not offered.
/// The signature is the one tungstenite's handshake callback has.
#[allow(clippy::result_large_err)]
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    if !offers_sip(request) {
        let mut refusal = ErrorResponse::new(Some(
            "the WebSocket subprotocol \"sip\" is required (RFC 7118)".into(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// The limits of a WebSocket connection: a SIP message's largest size for a message and a
/// frame.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(DEFAULT_MAX_MESSAGE))
        .max_frame_size(Some(DEFAULT_MAX_MESSAGE))
}

/// The value of `Sec-WebSocket-Accept` for a request's `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2), for a server that answers the upgrade itself (the portal's `/ws`).
pub fn websocket_accept(key: &str) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes())
}

/// Whether `Sec-WebSocket-Protocol` values offer the `sip` subprotocol (RFC 7118 §4.1).
pub fn offers_sip_subprotocol<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// A connection whose HTTP upgrade another server answered (with `sip`): admitted (or
/// dropped at a limit or a ban), then served as one accepted here.
pub(crate) async fn serve_upgraded(
    io: Box<dyn crate::Io>,
    peer: SocketAddr,
    local: Listen,
    connections: Connections,
) {
    if connections.blocks(peer.ip()) {
        return;
    }
    let (admission, tx, rx) = match connections.admit(local.protocol, peer, true) {
        Ok(admitted) => admitted,
        Err(limit) => {
            connections.note(limit, peer, local);
            return;
        }
    };
    let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
        io,
        tokio_tungstenite::tungstenite::protocol::Role::Server,
        Some(config()),
    )
    .await;
    run(socket, local, &connections, admission, tx, rx).await;
}

/// The upgrade (within the header timeout), then [`run`].
async fn upgrade_and_run<S>(
    stream: S,
    local: Listen,
    connections: &Connections,
    admission: Admission,
    tx: mpsc::Sender<Bytes>,
    rx: mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = admission.peer;
    let limits = connections.limits();
    let upgrade =
        tokio_tungstenite::accept_hdr_async_with_config(stream, choose_subprotocol, Some(config()));
    let socket = match tokio::time::timeout(limits.header_timeout, upgrade).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            tracing::info!(%peer, %local, error = %e, "websocket upgrade refused");
            return;
        }
        Err(_) => {
            connections.note(Limit::Header, peer, local);
            return;
        }
    };
    run(socket, local, connections, admission, tx, rx).await;
}

/// An upgraded connection: its reader here and its writer on a task of its own; the
/// admission is dropped (its place freed) at the end.
async fn run<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    local: Listen,
    connections: &Connections,
    admission: Admission,
    tx: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = admission.peer;
    let limits = connections.limits();
    let (mut sink, mut messages) = socket.split();
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            // SIP is text; a message that is not UTF-8 goes as a binary message (§5.1).
            let message = match std::str::from_utf8(&bytes) {
                Ok(text) => WsMessage::text(text),
                Err(_) => WsMessage::binary(bytes),
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let deliver = connections.delivered().await;
    let mut last_activity = Instant::now();
    loop {
        let mut due = last_activity + limits.idle_timeout.min(crate::tcp::FAR_FUTURE);
        if let Some(keep) = connections.kept_until(peer, admission.id) {
            due = due.max(Instant::from_std(keep));
        }
        let next = tokio::select! {
            next = messages.next() => next,
            () = tokio::time::sleep_until(due) => {
                if connections.kept_until(peer, admission.id).is_some_and(|k| Instant::from_std(k) > due) {
                    continue;
                }
                connections.note(Limit::Idle, peer, local);
                break;
            }
        };
        let bytes = match next {
            Some(Ok(WsMessage::Text(text))) => Bytes::from(text),
            Some(Ok(WsMessage::Binary(bytes))) => bytes,
            // Pings are answered by the library; pongs and raw frames carry no SIP.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
            Some(Ok(WsMessage::Close(_))) | None => break,
            Some(Err(e)) => {
                tracing::info!(%peer, %local, error = %e, "closing websocket connection");
                break;
            }
        };
        last_activity = Instant::now();
        // A client's keepalive (RFC 5626 §3.5.1 carried as a WebSocket message, as SIP.js
        // and JsSIP send it): a double CRLF is answered by a single one.
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            if bytes.as_ref() == b"\r\n\r\n" && tx.send(Bytes::from_static(b"\r\n")).await.is_err()
            {
                break;
            }
            continue;
        }
        let message = sip::Message::parse(bytes.clone()).map_err(|e| (e, bytes));
        hand_over(
            deliver,
            Incoming {
                message,
                source: peer,
                local,
            },
        )
        .await;
    }
    drop(admission);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocols: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/");
        for p in protocols {
            builder = builder.header("Sec-WebSocket-Protocol", *p);
        }
        builder.body(()).unwrap_or_default()
    }

    #[test]
    fn the_sip_subprotocol_is_required_and_chosen() {
        assert!(offers_sip(&request(&["sip"])));
        assert!(offers_sip(&request(&["chat, SIP"])));
        assert!(offers_sip(&request(&["chat", "sip"])));
        assert!(!offers_sip(&request(&["chat"])));
        assert!(!offers_sip(&request(&[])));
        let chosen = choose_subprotocol(&request(&["sip"]), Response::default());
        assert_eq!(
            chosen
                .ok()
                .and_then(|r| r.headers().get("Sec-WebSocket-Protocol").cloned()),
            Some(HeaderValue::from_static("sip"))
        );
        let refused = choose_subprotocol(&request(&["chat"]), Response::default());
        assert_eq!(
            refused.err().map(|r| r.status()),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
