//! The browser phone (`/phone`, JsSIP over the portal's `/ws`) in a real headless Chromium
//! against `itsp serve`'s defaults: a wrong SIP password is said to be wrong, the right one
//! registers (the binding is a WebSocket flow with the page's user agent), a call from
//! `itsp phone` rings the page with the caller shown and is declined from the page, and
//! signing out removes the binding.
//!
//! The WebDriver client is the portal's (`crates/portal/tests/webdriver/mod.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../portal/tests/webdriver/mod.rs"]
mod webdriver;

use std::time::{Duration, Instant};

use common::softphone::Softphone;
use common::{as_strs, DataDir, Itsp};
use serde_json::{json, Value};
use webdriver::Driver;

const WAIT: Duration = Duration::from_secs(15);

/// The `data-state` of the element `id` once it is one of `states` (or the test fails
/// with the states seen).
async fn wait_state(d: &Driver, id: &str, states: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = d
            .execute(
                "const e = document.getElementById(arguments[0]); \
                 return e ? [e.dataset.state || '', e.textContent] : ['', ''];",
                json!([id]),
            )
            .await;
        let state = v[0].as_str().unwrap_or_default().to_owned();
        if states.contains(&state.as_str()) {
            return v[1].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "#{id} stayed {state:?} ({v}), not one of {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the element `id`.
async fn text_of(d: &Driver, id: &str) -> String {
    d.execute(
        "return document.getElementById(arguments[0]).textContent;",
        json!([id]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn sign_in(d: &Driver, portal: std::net::SocketAddr, password: &str) {
    d.go(&format!("http://{portal}/phone")).await;
    d.fill("#phone-address", "alice@example.com").await;
    d.fill("#phone-password", password).await;
    d.click("#phone-register").await;
}

#[test]
fn the_browser_phone_registers_over_the_portals_websocket_and_rings() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let portal = server.http.expect("the portal runs");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let d = Driver::start_with(&[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ])
            .await;

            // A wrong password: said so, not signed in.
            sign_in(&d, portal, "not-the-password").await;
            wait_state(&d, "phone-state", &["failed"]).await;
            let error = text_of(&d, "phone-error").await;
            assert!(error.contains("wrong address or password"), "{error}");

            // The right one registers over the portal's /ws.
            sign_in(&d, portal, "a-secret").await;
            let shown = wait_state(&d, "phone-state", &["registered"]).await;
            assert!(shown.contains("alice@example.com"), "{shown}");
            d.screenshot("phone-registered").await;
            let bindings: Value = common::admin_json(&data, &["ul", "show", "alice@example.com"]);
            assert_eq!(bindings[0]["transport"], "WS", "{bindings}");
            assert!(
                bindings[0]["user_agent"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("itsp browser phone"),
                "{bindings}"
            );

            // Bob calls: the page rings with bob shown, and declines from the page.
            let mut bob = tokio::task::spawn_blocking({
                let udp = server.udp;
                move || Softphone::start(udp, "bob", "b-secret", &["call", "alice"])
            })
            .await
            .unwrap();
            wait_state(&d, "call-state", &["incoming"]).await;
            let peer = text_of(&d, "call-peer").await;
            assert!(peer.contains("bob@example.com"), "{peer}");
            d.screenshot("phone-incoming").await;
            d.click("#phone-hangup").await;
            wait_state(&d, "call-state", &["failed", "ended"]).await;
            let (status, events) = tokio::task::spawn_blocking(move || {
                let status = bob.wait_exit(WAIT);
                (status, bob.events.clone())
            })
            .await
            .unwrap();
            assert!(!status.success(), "bob's call was declined: {events:?}");

            // Signing out unregisters.
            d.click("#phone-logout").await;
            let deadline = Instant::now() + WAIT;
            loop {
                let bindings = common::admin_json(&data, &["ul", "show", "alice@example.com"]);
                if bindings.as_array().is_some_and(Vec::is_empty) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "still bound after sign-out: {bindings}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
}
