//! The browser phone (`/phone`, JsSIP over the portal's `/ws`) in a real headless Chromium
//! against `itsp serve`'s defaults: a wrong SIP password is said to be wrong, the right one
//! registers (the binding is a WebSocket flow with the page's user agent), a call from
//! `itsp phone` rings the page with the caller shown and is declined from the page, and
//! signing out removes the binding. With audio (the relay's WebRTC gateway between the
//! browser's DTLS-SRTP and the phone's plain RTP): the page, whose fake microphone plays
//! 700 Hz, calls `itsp phone`, which sends 1000 Hz: the phone's recording holds 700 Hz and
//! the page's WebAudio analyser hears 1000 Hz; the page hangs up. Then the phone calls the
//! page, the page answers, hears the tone, and the phone hangs up.
//!
//! The audio test runs as a user on the server's own machine would: the page at
//! `http://127.0.0.1`, Chromium without `--allow-loopback-in-peer-connection`, so it
//! gathers no loopback candidate and reaches the relay only at the machine's interface
//! address, which the server gives browsers in place of 127.0.0.1. To keep that traffic
//! off the machine's real interfaces, the test runs again inside a network namespace of
//! its own (`unshare --net`) whose only address besides loopback is 10.201.0.1/24 on a
//! veth `eth0`: the server, the phone, Chromium and its driver all live there.
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

/// A WAV of `hz` for Chromium's fake microphone (48 kHz mono, 16-bit, ten seconds; Chromium
/// plays it in a loop).
fn tone_wav(path: &std::path::Path, hz: f64) {
    let rate = 48_000u32;
    let samples: Vec<i16> = (0..rate * 10)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect();
    std::fs::write(path, rtp::audio::wav::write(rate, &samples)).unwrap();
}

/// The strongest frequency the page hears, once it has heard sound for a while: waits
/// until `#remote-level` has named a frequency near `hz` in five readings, or fails with
/// the readings.
async fn page_hears(d: &Driver, hz: u64) {
    let deadline = Instant::now() + WAIT;
    let mut readings = Vec::new();
    let mut near = 0;
    while near < 5 {
        let v = d
            .execute(
                "const m = document.getElementById('remote-level'); \
                 return [m.dataset.peakHz || '0', m.dataset.rms || '0', \
                         document.getElementById('media-state').dataset.state];",
                json!([]),
            )
            .await;
        let peak: u64 = v[0].as_str().unwrap_or("0").parse().unwrap_or(0);
        readings.push(v);
        if peak.abs_diff(hz) <= 30 {
            near += 1;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not hear {hz} Hz: {readings:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Set in the copy of the test that runs inside its private network namespace.
const IN_PRIVATE_NETWORK: &str = "ITSP_TEST_IN_PRIVATE_NETWORK";

/// Makes the namespace's network (loopback up, `eth0` with 10.201.0.1/24: one end of a
/// veth pair whose other end, `eth1`, has no address), then runs the command line after it.
const PRIVATE_NETWORK: &str = "ip link set lo up && ip link add eth0 type veth peer name eth1 && \
    ip addr add 10.201.0.1/24 dev eth0 && ip link set eth1 up && ip link set eth0 up && \
    exec \"$@\"";

#[test]
fn the_browser_phone_talks_to_itsp_phone_through_the_webrtc_gateway() {
    if std::env::var_os(IN_PRIVATE_NETWORK).is_none() {
        let test = std::env::current_exe().unwrap();
        let status = std::process::Command::new("unshare")
            .args(["--net", "--", "sh", "-c", PRIVATE_NETWORK, "sh"])
            .arg(test)
            .args([
                "--exact",
                "the_browser_phone_talks_to_itsp_phone_through_the_webrtc_gateway",
                "--nocapture",
            ])
            .env(IN_PRIVATE_NETWORK, "1")
            .status()
            .expect("unshare runs (util-linux; the test needs root for a network namespace)");
        assert!(status.success(), "the test in its private network failed");
        return;
    }
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let portal = server.http.expect("the portal runs");
    let dir = tempfile::tempdir().unwrap();
    let microphone = dir.path().join("microphone-700.wav");
    tone_wav(&microphone, 700.0);
    let fake_file = format!("--use-file-for-fake-audio-capture={}", microphone.display());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let d = Driver::start_with(&[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                &fake_file,
                "--autoplay-policy=no-user-gesture-required",
            ])
            .await;
            sign_in(&d, portal, "a-secret").await;
            wait_state(&d, "phone-state", &["registered"]).await;

            // The page calls bob's itsp phone, which answers with 1000 Hz.
            let heard = dir.path().join("bob-heard.wav");
            let mut bob = tokio::task::spawn_blocking({
                let udp = server.udp;
                let heard = heard.clone();
                move || {
                    let mut bob = Softphone::start(
                        udp,
                        "bob",
                        "b-secret",
                        &[
                            "--tone",
                            "1000",
                            "--record",
                            heard.to_str().unwrap(),
                            "--calls",
                            "1",
                            "answer",
                        ],
                    );
                    bob.wait_event("waiting", WAIT);
                    bob
                }
            })
            .await
            .unwrap();
            d.fill("#phone-target", "bob").await;
            d.click("#phone-call").await;
            wait_state(&d, "call-state", &["connected"]).await;
            page_hears(&d, 1000).await;
            d.screenshot("phone-in-call").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            d.click("#phone-hangup").await;
            let ended = wait_state(&d, "call-state", &["ended"]).await;
            assert!(ended.contains("you hung up"), "{ended}");
            let status = tokio::task::spawn_blocking(move || bob.wait_exit(WAIT))
                .await
                .unwrap();
            assert!(status.success(), "bob's call ended well");
            let share = common::softphone::tone_share(&heard, 700.0);
            assert!(share > 0.5, "bob heard 700 Hz as {share:.2} of his audio");

            // Bob calls the page for three seconds; the page answers and hears him.
            let mut bob = tokio::task::spawn_blocking({
                let udp = server.udp;
                move || {
                    Softphone::start(
                        udp,
                        "bob",
                        "b-secret",
                        &["--tone", "1000", "--duration", "4", "call", "alice"],
                    )
                }
            })
            .await
            .unwrap();
            wait_state(&d, "call-state", &["incoming"]).await;
            d.click("#phone-answer").await;
            wait_state(&d, "call-state", &["connected"]).await;
            page_hears(&d, 1000).await;
            let ended = wait_state(&d, "call-state", &["ended"]).await;
            assert!(ended.contains("the other side hung up"), "{ended}");
            let status = tokio::task::spawn_blocking(move || bob.wait_exit(WAIT))
                .await
                .unwrap();
            assert!(status.success(), "bob's call ended well");
        });
}
