//! `GET /metrics`: the server's Prometheus metrics, on the portal's listener or on a
//! listener of its own (`itsp serve --metrics-listen`). The portal does not compute them:
//! it is handed a [`MetricsSource`] that renders the text (`server::Metrics`), and shares
//! no other memory with the SIP engine.
//!
//! Unauthenticated, like the Kamailio exporters: scrapers rarely carry credentials. The
//! portal binds 127.0.0.1 by default; an operator who exposes it turns `/metrics` off
//! there (`[http] metrics = false`) or filters it in the proxy or firewall in front.

use std::future::Future;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The content type of the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the text of one scrape.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The `/metrics` route alone, to merge into the portal or to serve by itself.
pub fn router(source: MetricsSource) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let source = source.clone();
            async move {
                // Reads the engine under its lock and /proc: quick, but not async work.
                let text = tokio::task::spawn_blocking(move || source())
                    .await
                    .unwrap_or_default();
                (
                    [
                        (header::CONTENT_TYPE, CONTENT_TYPE),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    text,
                )
                    .into_response()
            }
        }),
    )
}

/// Serves `/metrics` alone on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: MetricsSource,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source))
        .with_graceful_shutdown(shutdown)
        .await
}
