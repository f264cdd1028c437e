//! The portal in a real headless Chromium (Debian's `chromium` driven over WebDriver by
//! `chromium-driver`'s `chromedriver`): a subscriber logs in through the form, sees his
//! registered phone with its NAT verdict, gets a forwarding error next to the field, then
//! saves forwarding, places a call with the dashboard's "Call" form and calls back a missed
//! call (click-to-dial, the page saying his phone rings first), opens his call history, his account and his voicemail (whose player
//! loads the recording) and his invoices (the PDF downloaded by the browser) and turns
//! voicemail on in his settings; an admin sees the subscriber list, edits a subscriber
//! (a group, a top-up with a note) and finds both in the audit log, imports a tariff on the rates page (a bad line's error first),
//! prices a call, sees every invoice and hangs up a live call. Screenshots of each page go
//! to `target/tmp/portal-screenshots/` (a 1100x900 window at scale 1, the same size on
//! every machine; `scripts/screenshots.sh` copies some to `docs/screenshots/`).
//!
//! The WebDriver client is `webdriver/mod.rs`, shared with `crates/itsp/tests/browser_phone.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdriver;

use common::{call_record, Portal, DOMAIN, PASSWORD};
use serde_json::json;
use webdriver::Driver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_logs_in_and_sees_his_phone_in_chromium() {
    let fake = common::FakeCalls::default();
    fake.answered.lock().unwrap().push("live-1".into());
    let fake = std::sync::Arc::new(fake);
    let p = Portal::start_with_calls(fake.clone()).await;
    let invoice = p.issue_invoice("alice", "2026-11", 1_793_491_200_000).await;
    p.add_live_call("live-1", "alice", "bob", true).await;
    p.register("alice", "sip:alice@10.0.0.5:5060", true, "Deskphone 2")
        .await;
    // A missed call, an account with a top-up and a voicemail message for the self-care
    // pages.
    let busy = Some(store::Disposition::Busy);
    let start = portal::time::unix_now() * 1000 - 60_000;
    p.store
        .record_cdrs(&[call_record("c1", "bob", "alice", start, busy)])
        .await
        .unwrap();
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    p.store
        .set_account(&alice, store::AccountKind::Prepaid, None, "EUR", 1)
        .await
        .unwrap();
    p.store
        .append_ledger(&[store::NewEntry {
            address: alice.clone(),
            at_ms: start,
            kind: store::EntryKind::TopUp,
            amount: "20.00".parse().unwrap(),
            call_id: None,
            note: Some("first top-up".into()),
        }])
        .await
        .unwrap();
    p.add_voicemail("alice", "sip:bob@example.com", start).await;
    let d = Driver::start().await;

    d.go(&p.url("/login")).await;
    assert_eq!(d.title().await, "Log in · itsp");
    d.screenshot("login").await;
    d.fill("#f-address", &format!("alice@{DOMAIN}")).await;
    d.fill("#f-password", PASSWORD).await;
    d.click("button[type=submit]").await;
    let html = d.wait_for("Hello, alice@example.com").await;
    assert!(html.contains("Deskphone 2"));
    assert!(html.contains("Your phone is behind a NAT; calls are relayed."));
    d.screenshot("dashboard").await;

    // A bad forwarding target: the error next to the field.
    d.fill("#f-busy", "bob@example.com").await;
    d.click("form[action='/dashboard/forwarding'] button[type=submit]")
        .await;
    d.wait_for(r#"id="f-busy-error""#).await;
    d.screenshot("dashboard-forwarding-error").await;
    d.fill("#f-busy", "sip:bob@example.com").await;
    d.click("form[action='/dashboard/forwarding'] button[type=submit]")
        .await;
    d.wait_for("Saved.").await;
    let f = p.store.forwarding("alice", DOMAIN).await.unwrap();
    assert_eq!(f.busy.as_deref(), Some("sip:bob@example.com"));

    // Click-to-dial: the "Call" form, then the missed call's "Call back" button.
    d.fill("#f-target", "bob").await;
    d.click("form[action='/dashboard/call'] button[type=submit]")
        .await;
    d.wait_for("Calling sip:bob@example.com: your phone rings first")
        .await;
    d.screenshot("dashboard-calling").await;
    d.click("form.inline[action='/dashboard/call'] button")
        .await;
    // The page already says "Calling ..." from the first call: wait for the second
    // request itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let dialled = p.dialer.dialled.lock().unwrap().len();
        if dialled == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{dialled} click-to-dial calls placed, not 2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    d.wait_for("Calling sip:bob@example.com: your phone rings first")
        .await;

    // The self-care pages, through the navigation.
    d.click("nav a[href='/calls']").await;
    let html = d.wait_for("Call history").await;
    assert!(html.contains("busy (486)"), "{html}");
    d.screenshot("calls").await;
    // Times read in the visitor's own zone: India is UTC+05:30 all year.
    d.cdp(
        "Emulation.setTimezoneOverride",
        json!({"timezoneId": "Asia/Kolkata"}),
    )
    .await;
    d.go(&p.url("/calls")).await;
    d.wait_for("Call history").await;
    let shown = d
        .execute(
            "const t = document.querySelector('table time'); \
             return [t.getAttribute('datetime'), t.textContent, t.dataset.local || ''];",
            json!([]),
        )
        .await;
    assert_eq!(shown[2], "true", "the time was rewritten: {shown}");
    let utc = shown[0].as_str().unwrap();
    let (hour, minute): (u32, u32) = (utc[11..13].parse().unwrap(), utc[14..16].parse().unwrap());
    let local = (hour * 60 + minute + 330) % (24 * 60);
    let (h24, m) = (local / 60, local % 60);
    let h12 = if h24 % 12 == 0 { 12 } else { h24 % 12 };
    let text = shown[1].as_str().unwrap();
    assert!(
        text.contains(&format!("{h24:02}:{m:02}")) || text.contains(&format!("{h12:02}:{m:02}")),
        "{utc} in India is {h24:02}:{m:02}, the page says {text:?}"
    );
    d.click("nav a[href='/account']").await;
    let html = d.wait_for("Your account").await;
    assert!(
        html.contains("20.00 EUR") && html.contains("first top-up"),
        "{html}"
    );
    d.screenshot("account").await;
    d.click("nav a[href='/voicemail']").await;
    d.wait_for("1 new").await;
    // The player loads the recording (the CSP lets media come from the portal).
    let duration = d
        .cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "const done = arguments[0]; \
                const a = document.querySelector('audio'); \
                a.addEventListener('loadedmetadata', () => done(a.duration)); \
                a.addEventListener('error', () => done('error')); \
                a.preload = 'auto'; a.load();", "args": []})),
        )
        .await;
    assert_eq!(duration.as_f64(), Some(1.0), "{duration}");
    d.screenshot("voicemail").await;
    // A greeting uploaded with the page's plain form (multipart/form-data, no script).
    let wav = tempfile::tempdir().unwrap();
    let file = wav.path().join("my-greeting.wav");
    std::fs::write(&file, common::tone_wav(44_100, 2, 1500, 440.0)).unwrap();
    d.choose_file("#f-greeting", &file).await;
    d.click("form[action='/voicemail/greeting'] button.primary")
        .await;
    d.wait_for("Callers hear your personal greeting").await;
    assert!(p
        .voicemail_dir
        .join(format!("{DOMAIN}/alice/greeting.wav"))
        .is_file());
    d.screenshot("voicemail-greeting").await;
    // Invoices: the PDF downloaded by the browser, as issued.
    d.click("nav a[href='/invoices']").await;
    let html = d.wait_for(&invoice).await;
    assert!(html.contains("1.50 EUR"), "{html}");
    d.screenshot("invoices").await;
    d.click(&format!("a[href='/api/v1/invoices/{invoice}.pdf']"))
        .await;
    let pdf = d.downloaded(&format!("invoice-{invoice}.pdf")).await;
    assert!(pdf.starts_with(b"%PDF-"), "the PDF as issued");

    // Settings: voicemail on, messages e-mailed to another address.
    d.click("nav a[href='/settings']").await;
    d.wait_for("Web password").await;
    d.click("#f-voicemail").await;
    d.fill("#f-vm_email", "alice@mail.example").await;
    d.click("form[action='/settings/voicemail'] button.primary")
        .await;
    d.wait_for("Saved.").await;
    let prefs = p.store.preferences("alice", DOMAIN).await.unwrap();
    assert_eq!(prefs.get("voicemail").map(String::as_str), Some("on"));
    assert_eq!(
        prefs.get("vm-email").map(String::as_str),
        Some("alice@mail.example")
    );
    d.screenshot("settings").await;

    // Log out; then an admin sees the subscribers.
    d.click("form[action='/logout'] button").await;
    d.wait_for("Your address and your web password.").await;
    assert_eq!(d.title().await, "Log in · itsp");
    d.fill("#f-address", &format!("admin@{DOMAIN}")).await;
    d.fill("#f-password", PASSWORD).await;
    d.click("button[type=submit]").await;
    let html = d.wait_for("Add a subscriber").await;
    assert!(html.contains("alice@example.com"), "{html}");
    d.screenshot("admin-subscribers").await;

    // Edit alice: a group, a top-up with a note; both in the audit log.
    d.click("a[href='/admin/subscribers/alice@example.com']")
        .await;
    d.wait_for("Aliases").await;
    d.fill("#f-group", "int").await;
    d.click("form[action$='/groups'] button.primary").await;
    d.wait_for("Added.").await;
    assert_eq!(p.store.groups("alice", DOMAIN).await.unwrap(), ["int"]);
    d.fill("#f-amount", "5.00").await;
    d.fill("#f-note", "browser top-up").await;
    d.click("form[action$='/topup'] button.primary").await;
    let html = d.wait_for("Saved.").await;
    assert!(html.contains("25.00 EUR"), "{html}");
    d.screenshot("admin-subscriber").await;
    d.click("nav a[href='/admin/audit']").await;
    let html = d.wait_for("browser top-up").await;
    assert!(html.contains("group=int"), "{html}");
    d.screenshot("admin-audit").await;

    // Rates: a bad line's error under the text area, then the import and a price.
    d.click("nav a[href='/admin/rates']").await;
    d.wait_for("No rating plan yet").await;
    d.fill("#f-csv", "46,Sweden,0,0.10,60,60\n47,Norway,0,abc,60,60\n")
        .await;
    d.click("form[action='/admin/rates'] button.primary").await;
    let html = d.wait_for(r#"id="f-csv-error""#).await;
    assert!(html.contains("line 2, column"), "{html}");
    d.screenshot("admin-rates-error").await;
    d.fill("#f-csv", common::TARIFF).await;
    d.click("form[action='/admin/rates'] button.primary").await;
    let html = d.wait_for("Imported").await;
    assert!(html.contains("Stockholm"), "{html}");
    d.fill("#f-from", &format!("alice@{DOMAIN}")).await;
    d.fill("#f-to", "+46812345").await;
    d.fill("#f-duration", "125").await;
    d.click("form[action='/admin/rates/test'] button.primary")
        .await;
    let html = d.wait_for("connect fee").await;
    assert!(html.contains("EUR</p>"), "{html}");
    d.screenshot("admin-rates").await;

    // Every invoice.
    d.click("nav a[href='/admin/invoices']").await;
    d.wait_for(&invoice).await;
    d.screenshot("admin-invoices").await;

    // Live calls: hang one up.
    d.click("nav a[href='/admin/calls/live']").await;
    let html = d.wait_for("live-1").await;
    assert!(html.contains("sip:alice@example.com"), "{html}");
    d.screenshot("admin-live-calls").await;
    d.click("form[action='/admin/calls/live/hangup'] button")
        .await;
    d.wait_for("Call ended").await;
    assert_eq!(*fake.ended.lock().unwrap(), ["live-1"]);
    d.go(&p.url("/api/docs")).await;
    // The API browser rendered the document.
    d.wait_for("/api/v1/subscribers/{address}/forwarding").await;
    d.screenshot("api-docs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_signs_up_in_chromium() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store.set_self_registration(DOMAIN, true).await.unwrap();
    let d = Driver::start().await;
    d.go(&p.url("/login")).await;
    d.click("a[href='/signup']").await;
    d.wait_for("Create an account").await;
    d.fill("#f-user", "dave").await;
    d.fill("#f-email", "dave@mail.example").await;
    d.fill("#f-password", "a-long-password").await;
    d.fill("#f-password2", "another-password").await;
    d.click("form[action='/signup'] button.primary").await;
    d.wait_for(r#"id="f-password2-error""#).await;
    d.screenshot("signup-error").await;
    d.fill("#f-password", "a-long-password").await;
    d.fill("#f-password2", "a-long-password").await;
    d.click("form[action='/signup'] button.primary").await;
    d.wait_for("Check your e-mail").await;
    d.screenshot("signup-sent").await;
    // The link of the e-mail (its secret made here: the mailer of this test sends nothing).
    let erin = store::Address::new("erin", DOMAIN).unwrap();
    let secret = p
        .store
        .create_signup(
            &erin,
            "erin@mail.example",
            "erin-web-pw",
            1_000,
            3_600_000_000_000,
        )
        .await
        .unwrap();
    d.go(&p.url(&format!("/signup/confirm?token={secret}")))
        .await;
    d.click("form[action='/signup/confirm'] button.primary")
        .await;
    let html = d.wait_for("sip-password").await;
    assert!(
        html.contains("Your account erin@example.com exists"),
        "{html}"
    );
    d.screenshot("signup-welcome").await;
    assert!(p.store.subscriber("erin", DOMAIN).await.unwrap().is_some());
}
