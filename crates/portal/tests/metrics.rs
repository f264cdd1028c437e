//! `GET /metrics`: answered by the source the portal is handed, unauthenticated, in the
//! Prometheus text format; absent (the portal's 404) when no source is given; served
//! alone on a listener of its own.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use portal::metrics::{MetricsSource, CONTENT_TYPE};

async fn get(url: String) -> (u16, Option<String>, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, response.text().await.unwrap())
}

fn source() -> MetricsSource {
    let scrapes = Arc::new(AtomicU64::new(0));
    Arc::new(move || {
        let n = scrapes.fetch_add(1, Ordering::Relaxed) + 1;
        format!("# HELP scrapes_total Scrapes.\n# TYPE scrapes_total counter\nscrapes_total {n}\n")
    })
}

async fn store() -> (tempfile::TempDir, store::Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/itsp.db?mode=rwc", dir.path().display());
    let store = store::Store::open(&url).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn the_portal_serves_metrics_it_is_handed_and_only_then() {
    let (_dir, store) = store().await;
    for metrics in [Some(source()), None] {
        let with = metrics.is_some();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = portal::AppState::new(store.clone(), portal::PortalConfig::default());
        tokio::spawn(portal::serve_with_metrics(
            listener,
            state,
            metrics,
            std::future::pending(),
        ));
        let (status, content_type, body) = get(format!("http://{addr}/metrics")).await;
        if with {
            assert_eq!(status, 200);
            assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
            assert!(body.ends_with("scrapes_total 1\n"), "{body}");
            // The rest of the portal is still there.
            let (status, _, _) = get(format!("http://{addr}/login")).await;
            assert_eq!(status, 200);
        } else {
            assert_eq!(status, 404);
        }
    }
}

#[tokio::test]
async fn metrics_alone_on_their_own_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(portal::metrics::serve(
        listener,
        source(),
        std::future::pending(),
    ));
    let (status, _, body) = get(format!("http://{addr}/metrics")).await;
    assert_eq!(
        (status, body.ends_with("scrapes_total 1\n")),
        (200, true),
        "{body}"
    );
    let (status, _, body) = get(format!("http://{addr}/metrics")).await;
    assert!(
        body.ends_with("scrapes_total 2\n"),
        "each scrape renders anew: {body}"
    );
    assert_eq!(status, 200);
    let (status, _, _) = get(format!("http://{addr}/login")).await;
    assert_eq!(status, 404, "nothing but /metrics there");
}
