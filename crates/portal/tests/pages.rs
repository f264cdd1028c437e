//! The HTML pages over loopback HTTP: login (errors next to the field), the subscriber's
//! dashboard (devices with the NAT verdict, the forwarding form and its errors), the admin
//! pages (domains, subscribers with the search, registrations, call records with filters,
//! paging and CSV), the form token, logout, security headers;
//! the self-care pages (call history with filters, paging and CSV, the account and its
//! ledger, voicemail played, downloaded, marked heard and deleted) and the dashboard's
//! summary, each for its owner only; the rates page (import with each line's error,
//! list, price a call), the invoices pages (own, all) and the live calls page (hang-up
//! with the form token); an admin's subscriber page (disable, aliases, groups, account,
//! top-up) with each change in the audit page, and a subscriber's settings page
//! (voicemail, web password with the current one, SIP password); the dashboard's "Call"
//! form (click-to-dial) and the "Call back" button of a missed call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{call_record, csrf_of, Portal, DOMAIN};

#[tokio::test]
async fn login_then_dashboard_with_devices_and_nat_verdict() {
    let p = Portal::start().await;
    p.register("alice", "sip:alice@10.0.0.5:5060", true, "Deskphone 2")
        .await;
    p.register("bob", "sip:bob@198.51.100.4:5060", false, "Bob's phone")
        .await;

    // Not logged in: to the login page.
    let (status, location, _) = p.post_form("/dashboard/forwarding", "", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let resp = p.client.get(p.url("/dashboard")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(resp.headers().get("x-frame-options").unwrap(), "DENY");

    // A wrong password: the error next to the password field, the address kept.
    let (status, _, html) = p
        .post_form(
            "/login",
            "",
            &[("address", "alice@example.com"), ("password", "wrong")],
        )
        .await;
    assert_eq!(status, 401);
    assert!(html.contains(r#"id="f-password-error""#), "{html}");
    assert!(html.contains("wrong address or password"));
    assert!(html.contains(r#"value="alice@example.com""#));
    let (status, _, html) = p
        .post_form("/login", "", &[("address", ""), ("password", "x")])
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-address-error""#));

    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/dashboard", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hello, alice@example.com"));
    assert!(html.contains("Deskphone 2"));
    assert!(html.contains("Your phone is behind a NAT; calls are relayed."));
    assert!(
        !html.contains("Bob&#39;s phone"),
        "alice sees only her own devices"
    );
    // Admin pages are not hers.
    let (status, _) = p.page("/admin/subscribers", &cookie).await;
    assert_eq!(status, 403);

    // Bob's phone is not behind a NAT.
    let bob = p.login_cookie("bob").await;
    let (_, html) = p.page("/dashboard", &bob).await;
    assert!(html.contains("Your phone is reachable directly"));
    assert!(html.contains("Bob&#39;s phone"), "escaped");
}

#[tokio::test]
async fn the_forwarding_form_shows_errors_next_to_the_field() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("alice").await;
    let (_, html) = p.page("/dashboard", &cookie).await;
    let csrf = csrf_of(&html);

    // Without the form token: refused, nothing changed.
    let (status, _, _) = p
        .post_form(
            "/dashboard/forwarding",
            &cookie,
            &[("busy", "sip:bob@example.com")],
        )
        .await;
    assert_eq!(status, 403);
    // Two bad values: both shown at their field, what was typed kept, nothing changed.
    let (status, _, html) = p
        .post_form(
            "/dashboard/forwarding",
            &cookie,
            &[
                ("csrf", &csrf),
                ("busy", "bob@example.com"),
                ("no_answer", "sip:carol@example.com"),
                ("no_answer_after", "900"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-busy-error""#), "{html}");
    assert!(html.contains(r#"id="f-no_answer_after-error""#));
    assert!(!html.contains(r#"id="f-no_answer-error""#));
    assert!(html.contains(r#"value="bob@example.com""#));
    assert_eq!(
        p.store.forwarding("alice", DOMAIN).await.unwrap(),
        store::Forwarding::default()
    );
    // Good values: saved, back to the dashboard.
    let (status, location, _) = p
        .post_form(
            "/dashboard/forwarding",
            &cookie,
            &[
                ("csrf", &csrf),
                ("busy", "sip:bob@example.com"),
                ("no_answer_after", "20"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/dashboard?notice=saved")
    );
    let f = p.store.forwarding("alice", DOMAIN).await.unwrap();
    assert_eq!(f.busy.as_deref(), Some("sip:bob@example.com"));
    assert_eq!(f.no_answer_after, Some(20));
    let (_, html) = p.page("/dashboard?notice=saved", &cookie).await;
    assert!(html.contains("Saved."));
    assert!(html.contains(r#"value="sip:bob@example.com""#));

    // Removing her device through the page.
    p.register("alice", "sip:alice@10.0.0.5:5060", true, "Deskphone 2")
        .await;
    let (status, location, _) = p
        .post_form(
            "/dashboard/registrations/remove",
            &cookie,
            &[("csrf", &csrf), ("contact", "sip:alice@10.0.0.5:5060")],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/dashboard?notice=removed")
    );
    assert!(p
        .store
        .bindings("alice@example.com")
        .await
        .unwrap()
        .is_empty());

    // Logout ends the session.
    let (status, location, _) = p.post_form("/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _) = p.page("/dashboard", &cookie).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn admin_pages_manage_domains_subscribers_and_registrations() {
    let p = Portal::start().await;
    p.register("bob", "sip:bob@10.1.1.1:5060", true, "Bob phone")
        .await;
    let cookie = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/subscribers", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("alice@example.com") && html.contains("bob@example.com"));
    let csrf = csrf_of(&html);

    // Domains: add, a bad one with its error at the field, remove.
    let (status, location, _) = p
        .post_form(
            "/admin/domains",
            &cookie,
            &[("csrf", &csrf), ("name", "voip.example")],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/domains?notice=added")
    );
    assert!(p.store.domain_exists("voip.example").await.unwrap());
    let (status, _, html) = p
        .post_form(
            "/admin/domains",
            &cookie,
            &[("csrf", &csrf), ("name", "not a domain")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-name-error""#), "{html}");
    let (status, _, html) = p
        .post_form(
            "/admin/domains/remove",
            &cookie,
            &[("csrf", &csrf), ("name", DOMAIN)],
        )
        .await;
    assert_eq!(status, 409, "in use");
    assert!(html.contains("still has subscribers"));
    let (status, _, _) = p
        .post_form(
            "/admin/domains/remove",
            &cookie,
            &[("csrf", &csrf), ("name", "voip.example")],
        )
        .await;
    assert_eq!(status, 303);

    // Subscribers: add (SIP and web password), errors at their field, remove.
    let (status, location, _) = p
        .post_form(
            "/admin/subscribers",
            &cookie,
            &[
                ("csrf", &csrf),
                ("address", "carol@example.com"),
                ("password", "pw-carol"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/subscribers?notice=added")
    );
    assert!(p
        .store
        .credentials("carol", DOMAIN)
        .await
        .unwrap()
        .is_some());
    assert!(p
        .store
        .check_web_login("carol", DOMAIN, "pw-carol")
        .await
        .unwrap()
        .is_some());
    for (address, password, field) in [
        ("dave", "pw", "address"),
        ("dave@unserved.example", "pw", "address"),
        ("carol@example.com", "pw", "address"),
        ("dave@example.com", "", "password"),
    ] {
        let (status, _, html) = p
            .post_form(
                "/admin/subscribers",
                &cookie,
                &[
                    ("csrf", &csrf),
                    ("address", address),
                    ("password", password),
                ],
            )
            .await;
        assert!(status == 422 || status == 409, "{address}: {status}");
        assert!(
            html.contains(&format!(r#"id="f-{field}-error""#)),
            "{address}: {html}"
        );
    }
    let (status, _, _) = p
        .post_form(
            "/admin/subscribers/remove",
            &cookie,
            &[("csrf", &csrf), ("address", "carol@example.com")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(p.store.subscriber("carol", DOMAIN).await.unwrap().is_none());

    // Registrations: listed with the NAT flag and user agent; removed.
    let (_, html) = p.page("/admin/registrations", &cookie).await;
    assert!(
        html.contains("Bob phone") && html.contains("NAT, relayed"),
        "{html}"
    );
    let (status, _, _) = p
        .post_form(
            "/admin/registrations/remove",
            &cookie,
            &[
                ("csrf", &csrf),
                ("aor", "bob@example.com"),
                ("contact", "sip:bob@10.1.1.1:5060"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert!(p
        .store
        .bindings("bob@example.com")
        .await
        .unwrap()
        .is_empty());

    // A page of subscribers at a time, with a link to the next.
    for i in 0..55 {
        p.store
            .add_subscriber(&format!("u{i:02}"), DOMAIN, "pw", None)
            .await
            .unwrap();
    }
    let (_, html) = p.page("/admin/subscribers", &cookie).await;
    assert!(html.contains("Next page"));
    assert!(html.contains("/admin/subscribers?cursor="));
}

#[tokio::test]
async fn the_subscribers_page_searches_by_address_or_e_mail() {
    let p = Portal::start().await;
    p.store.add_domain("other.example").await.unwrap();
    for i in 0..55 {
        let email = format!("Member{i:02}@Club.example");
        p.store
            .add_subscriber(&format!("u{i:02}"), "other.example", "pw", Some(&email))
            .await
            .unwrap();
    }
    let admin = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/subscribers", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"action="/admin/subscribers""#) && html.contains(r#"name="q""#));

    // By a part of the address, ignoring case.
    let (status, html) = p.page("/admin/subscribers?q=ALIC", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("alice@example.com"), "{html}");
    assert!(!html.contains("bob@example.com") && !html.contains("u00@other.example"));
    assert!(
        html.contains(r#"value="ALIC""#),
        "the search stays in the box"
    );
    // By a part of the e-mail: 55, 50 a page, the next page keeps the search.
    let (_, html) = p.page("/admin/subscribers?q=club.EXAMPLE", &admin).await;
    assert!(html.contains("u00@other.example") && !html.contains("alice@example.com"));
    assert!(!html.contains("u50@other.example"));
    let marker = r#"href="/admin/subscribers?cursor="#;
    let at =
        html.find(marker).expect("a next page") + marker.len() - "/admin/subscribers?cursor=".len();
    let next = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.ends_with("&q=club.EXAMPLE"), "{next}");
    let (status, html) = p.page(&next, &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("u50@other.example") && html.contains("u54@other.example"));
    assert!(!html.contains("u49@other.example") && !html.contains("alice@example.com"));
    // Nothing matches: says so.
    let (status, html) = p.page("/admin/subscribers?q=%3Cnobody%3E", &admin).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("No subscriber matches “&lt;nobody&gt;”"),
        "{html}"
    );
    // Subscribers may not search.
    let alice = p.login_cookie("alice").await;
    let (status, html) = p.page("/admin/subscribers?q=bob", &alice).await;
    assert!(status == 403 || status == 404, "{status}");
    assert!(!html.contains("bob@example.com"));
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let p = Portal::start().await;
    let css = p
        .client
        .get(p.url("/assets/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);
    assert!(css
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let (status, html) = p.page("/nowhere", "").await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no page here."));
}

/// Now, Unix milliseconds.
fn now_ms() -> i64 {
    portal::time::unix_now() * 1000
}

#[tokio::test]
async fn call_history_pages_filter_and_download_as_csv() {
    let p = Portal::start().await;
    let start = now_ms() - 3_600_000;
    let busy = Some(store::Disposition::Busy);
    // The history comes in the order it was written: the old calls first.
    let mut records: Vec<store::Cdr> = (0..120)
        .map(|i| {
            call_record(
                &format!("old-{i}"),
                "alice",
                "bob",
                1_700_000_000_000 + i,
                None,
            )
        })
        .collect();
    records.extend([
        call_record("out-1", "alice", "bob", start, None),
        call_record("missed-1", "bob", "alice", start + 60_000, busy),
        call_record("other", "bob", "carol", start, None),
    ]);
    p.store.record_cdrs(&records).await.unwrap();

    // Not logged in: to the login page.
    for path in ["/calls", "/calls.csv", "/account", "/voicemail"] {
        let (status, _) = p.page(path, "").await;
        assert_eq!(status, 303, "{path}");
    }

    let alice = p.login_cookie("alice").await;
    let (status, html) = p.page("/calls", &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("Call history"));
    assert!(html.contains("sip:bob@example.com"));
    assert!(html.contains("Newer calls →"), "a page of 100, then more");
    assert!(html.contains(r#"href="/calls.csv""#));
    assert!(!html.contains("sip:carol@example.com"), "not hers");
    // The next page has her recent calls.
    let marker = r#"href="/calls?cursor="#;
    let at = html.find(marker).unwrap() + marker.len() - "/calls?cursor=".len();
    let next = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    let (status, html) = p.page(&next, &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("← Oldest calls"));
    assert!(html.contains("busy (486)"), "{html}");

    // Missed calls since yesterday: one; the CSV link carries the filters.
    let since = portal::time::rfc3339(portal::time::unix_now() - 86_400);
    let (status, html) = p
        .page(&format!("/calls?missed=true&since={since}"), &alice)
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Missed calls"));
    assert!(html.contains("busy (486)"));
    assert!(!html.contains("answered (200)"));
    assert!(
        html.contains(r#"href="/calls.csv?missed=true&amp;since="#),
        "{html}"
    );
    let (status, csv) = p
        .page(&format!("/calls.csv?missed=true&since={since}"), &alice)
        .await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,call_id,start,answer,end,"));
    assert!(lines[1].contains(",missed-1,"));
    // The whole history: every record of hers, none of others.
    let (_, csv) = p.page("/calls.csv", &alice).await;
    assert_eq!(csv.lines().count(), 1 + 122);
    assert!(!csv.contains(",other,"));

    // A bad date: the error next to the field.
    let (status, html) = p.page("/calls?since=yesterday", &alice).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-since-error""#), "{html}");
    assert!(html.contains(r#"value="yesterday""#));

    // Bob's history has his call to carol, which alice's has not; his missed calls are
    // not hers.
    let bob = p.login_cookie("bob").await;
    let (_, csv) = p.page("/calls.csv", &bob).await;
    assert!(csv.contains(",other,"));
    let (_, csv) = p.page("/calls.csv?missed=true", &bob).await;
    assert_eq!(csv.lines().count(), 1, "{csv}");

    // The dashboard: the last missed call, links to the pages, no account.
    let (_, html) = p.page("/dashboard", &alice).await;
    assert!(html.contains("Last missed calls"));
    assert!(
        html.contains("from <code>sip:bob@example.com</code> (busy)"),
        "{html}"
    );
    assert!(html.contains(r#"href="/calls?missed=true""#));
    assert!(!html.contains("Balance:"));
    let (_, html) = p.page("/dashboard", &bob).await;
    assert!(html.contains("No missed calls in the last 30 days."));
}

#[tokio::test]
async fn the_call_records_page_shows_everyone_s_calls_to_admins_only() {
    let p = Portal::start().await;
    let start = now_ms() - 3_600_000;
    let busy = Some(store::Disposition::Busy);
    let mut records: Vec<store::Cdr> = (0..110)
        .map(|i| {
            call_record(
                &format!("old-{i}"),
                "alice",
                "bob",
                1_700_000_000_000 + i,
                None,
            )
        })
        .collect();
    records.extend([
        call_record("out-1", "alice", "bob", start, None),
        call_record("missed-1", "bob", "alice", start + 60_000, busy),
        call_record("other", "bob", "carol", start, None),
    ]);
    p.store.record_cdrs(&records).await.unwrap();

    // Not logged in: to the login page; a subscriber: refused.
    let alice = p.login_cookie("alice").await;
    for path in [
        "/admin/calls",
        "/admin/calls.csv",
        "/admin/calls?user=alice@example.com",
    ] {
        let (status, _) = p.page(path, "").await;
        assert_eq!(status, 303, "{path}");
        let (status, body) = p.page(path, &alice).await;
        assert!(status == 403 || status == 404, "{path}: {status}");
        assert!(
            !body.contains(",other,") && !body.contains("sip:carol@"),
            "{path}"
        );
    }

    // Every record, a page at a time, in the navigation.
    let admin = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/calls", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<a href="/admin/calls">Call records</a>"#));
    assert!(html.contains("Newer calls →"), "a page of 100, then more");
    assert!(html.contains(r#"href="/admin/calls.csv""#));
    let marker = r#"href="/admin/calls?cursor="#;
    let at = html.find(marker).unwrap() + marker.len() - "/admin/calls?cursor=".len();
    let next = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    let (status, html) = p.page(&next, &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("← Oldest calls"));
    assert!(
        html.contains("sip:carol@example.com"),
        "bob's call to carol too"
    );
    assert!(html.contains("busy (486)"));

    // One subscriber's, since yesterday, busy: one, with the filters in the CSV link.
    let since = portal::time::rfc3339(portal::time::unix_now() - 86_400);
    let filters = format!("user=alice@example.com&since={since}&disposition=busy");
    let (status, html) = p.page(&format!("/admin/calls?{filters}"), &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("busy (486)"), "{html}");
    assert!(!html.contains("answered (200)"));
    assert!(!html.contains("Newer calls"));
    assert!(
        html.contains(r#"href="/admin/calls.csv?user=alice@example.com&amp;since="#),
        "{html}"
    );
    assert!(html.contains(r#"value="alice@example.com""#));
    let (status, csv) = p.page(&format!("/admin/calls.csv?{filters}"), &admin).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(lines[0], portal::api::calls::CSV_COLUMNS.join(","));
    assert!(lines[1].contains(",missed-1,"));
    // The missed calls of bob: none; of alice: one.
    let (_, csv) = p
        .page("/admin/calls.csv?user=bob@example.com&missed=true", &admin)
        .await;
    assert_eq!(csv.lines().count(), 1, "{csv}");
    let (_, html) = p
        .page("/admin/calls?user=alice@example.com&missed=true", &admin)
        .await;
    assert!(html.contains("busy (486)") && !html.contains("answered (200)"));
    // The whole CSV: every record of everyone.
    let (_, csv) = p.page("/admin/calls.csv", &admin).await;
    assert_eq!(csv.lines().count(), 1 + 113);
    assert!(csv.contains(",other,"));

    // Nothing matches: what to do. Bad filters: the error at the field.
    let (status, html) = p
        .page(
            "/admin/calls?user=carol@example.com&disposition=refused",
            &admin,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("No call record matches these filters."),
        "{html}"
    );
    let (status, html) = p.page("/admin/calls?since=yesterday", &admin).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-since-error""#), "{html}");
    let (status, html) = p.page("/admin/calls?disposition=maybe", &admin).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-disposition-error""#), "{html}");
    let (status, html) = p.page("/admin/calls?missed=true", &admin).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-missed-error""#), "{html}");
}

#[tokio::test]
async fn the_account_page_shows_balance_and_ledger() {
    let p = Portal::start().await;
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("You have no account"));

    p.store
        .set_account(&alice, store::AccountKind::Prepaid, Some("gold"), "EUR", 1)
        .await
        .unwrap();
    let entries: Vec<store::NewEntry> = (0..105)
        .map(|i| store::NewEntry {
            address: alice.clone(),
            at_ms: 1_790_000_000_000 + i,
            kind: store::EntryKind::TopUp,
            amount: "1.50".parse().unwrap(),
            call_id: None,
            note: Some(format!("receipt {i}")),
        })
        .collect();
    p.store.append_ledger(&entries).await.unwrap();
    let (status, html) = p.page("/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("157.50 EUR"), "{html}");
    assert!(html.contains("prepaid") && html.contains("gold"));
    assert!(html.contains("receipt 0") && !html.contains("receipt 104"));
    assert!(html.contains("Later entries →"));
    let marker = r#"href="/account?cursor="#;
    let at = html.find(marker).unwrap() + r#"href=""#.len();
    let next = html[at..].split('"').next().unwrap().to_owned();
    let (_, html) = p.page(&next, &cookie).await;
    assert!(html.contains("receipt 104") && !html.contains("receipt 0<"));
    let (_, html) = p.page("/dashboard", &cookie).await;
    assert!(
        html.contains("Balance: <strong>157.50 EUR</strong>"),
        "{html}"
    );

    // Bob has no account, and does not see hers.
    let bob = p.login_cookie("bob").await;
    let (_, html) = p.page("/account", &bob).await;
    assert!(html.contains("You have no account") && !html.contains("157.50"));
}

#[tokio::test]
async fn voicemail_plays_is_marked_heard_and_deleted() {
    let p = Portal::start().await;
    let first = p
        .add_voicemail("alice", "sip:bob@example.com", 1_790_000_000_000)
        .await;
    let second = p
        .add_voicemail("alice", "sip:carol@example.com", 1_790_000_100_000)
        .await;
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/voicemail", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 messages") && html.contains("2 new"));
    let carol = html.find("sip:carol@example.com").unwrap();
    assert!(
        carol < html.find("sip:bob@example.com").unwrap(),
        "newest first"
    );
    assert!(html.contains(&format!(
        r#"<audio controls preload="none" src="/voicemail/{first}/audio">"#
    )));
    assert!(html.contains(&format!(r#"href="/voicemail/{first}/audio?download=1""#)));
    assert!(html.contains("0:01"));
    let csrf = csrf_of(&html);
    let (_, html) = p.page("/dashboard", &cookie).await;
    assert!(html.contains("2 new messages"));

    // Played and downloaded as WAV.
    let resp = p
        .client
        .get(p.url(&format!("/voicemail/{first}/audio?download=1")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        common::wav(8000).as_slice()
    );

    // Bob sees none of it.
    let bob = p.login_cookie("bob").await;
    let (status, html) = p.page("/voicemail", &bob).await;
    assert_eq!(status, 200);
    assert!(html.contains("No messages") && !html.contains("carol"));
    let (status, _) = p.page(&format!("/voicemail/{first}/audio"), &bob).await;
    assert_eq!(status, 404);
    let (_, bob_html) = p.page("/dashboard", &bob).await;
    let bob_csrf = csrf_of(&bob_html);
    let id = first.to_string();
    let (status, _, _) = p
        .post_form(
            "/voicemail/remove",
            &bob,
            &[("csrf", &bob_csrf), ("id", &id)],
        )
        .await;
    assert_eq!(status, 404);

    // Without the form token: refused, nothing changed.
    for path in ["/voicemail/heard", "/voicemail/remove"] {
        let (status, _, _) = p.post_form(path, &cookie, &[("id", &id)]).await;
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(
        p.store
            .voicemail_messages("alice", DOMAIN)
            .await
            .unwrap()
            .len(),
        2
    );

    // Marked heard.
    let (status, location, _) = p
        .post_form("/voicemail/heard", &cookie, &[("csrf", &csrf), ("id", &id)])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/voicemail?notice=saved")
    );
    let (_, html) = p.page("/voicemail", &cookie).await;
    assert!(html.contains("1 new") && html.contains("Heard"));

    // Deleted: the row and the file.
    let file = p
        .voicemail_dir
        .join(format!("{DOMAIN}/alice/msg-1790000000000.wav"));
    assert!(file.exists());
    let (status, location, _) = p
        .post_form(
            "/voicemail/remove",
            &cookie,
            &[("csrf", &csrf), ("id", &id)],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/voicemail?notice=removed")
    );
    assert!(!file.exists());
    let left = p.store.voicemail_messages("alice", DOMAIN).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second);
    let (_, html) = p.page("/voicemail?notice=removed", &cookie).await;
    assert!(html.contains("Removed.") && html.contains("1 message") && !html.contains("sip:bob@"));
}

#[tokio::test]
async fn forgotten_password_answers_alike_and_starts_a_reset_for_a_known_user() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store
        .add_subscriber("carol", DOMAIN, "sip-pw", Some("carol@mail.example"))
        .await
        .unwrap();
    let carol = store::Address::new("carol", DOMAIN).unwrap();

    // The login page links to it.
    let (_, html) = p.page("/login", "").await;
    assert!(html.contains(r#"href="/password/forgot""#), "{html}");
    let (status, cookie, html) = p.visitor_form("/password/forgot").await;
    assert_eq!(status, 200);
    assert!(cookie.starts_with("itsp_form="), "{cookie}");
    assert!(!html.contains(portal::pages::password::NO_MAIL_TEXT));
    let csrf = csrf_of(&html);
    assert_eq!(cookie, format!("itsp_form={csrf}"));

    // Unknown user, known user without e-mail, known user with e-mail: the same page.
    let mut answers = Vec::new();
    for address in [
        "nobody@example.com",
        "alice@example.com",
        "carol@example.com",
        "carol@elsewhere.example",
    ] {
        let (status, _, html) = p
            .post_form(
                "/password/forgot",
                &cookie,
                &[("csrf", &csrf), ("address", address)],
            )
            .await;
        assert_eq!(status, 200, "{address}");
        assert!(html.contains(portal::pages::password::SENT_TEXT), "{html}");
        assert!(!html.contains(address), "the answer names nobody: {html}");
        answers.push(html);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    // Only carol, who has an e-mail address, got a reset.
    assert_eq!(p.store.password_resets_since(&carol, 0).await.unwrap(), 1);
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    assert_eq!(p.store.password_resets_since(&alice, 0).await.unwrap(), 0);
    // At most three an hour; the fourth request gets the same page and no reset.
    for _ in 0..3 {
        let (status, _, html) = p
            .post_form(
                "/password/forgot",
                &cookie,
                &[("csrf", &csrf), ("address", "carol@example.com")],
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(html, answers[0]);
    }
    assert_eq!(
        p.store.password_resets_since(&carol, 0).await.unwrap(),
        portal::pages::password::RESETS_PER_HOUR
    );

    // A malformed address is an error next to the field.
    let (status, _, html) = p
        .post_form(
            "/password/forgot",
            &cookie,
            &[("csrf", &csrf), ("address", "")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-address-error""#), "{html}");

    // Without the form token, or with another one: refused, nothing made.
    for (cookie, fields) in [
        ("", vec![("address", "carol@example.com")]),
        (
            cookie.as_str(),
            vec![("csrf", "0123"), ("address", "carol@example.com")],
        ),
        (
            "itsp_form=other",
            vec![("csrf", csrf.as_str()), ("address", "carol@example.com")],
        ),
    ] {
        let (status, _, _) = p.post_form("/password/forgot", cookie, &fields).await;
        assert_eq!(status, 403);
    }
}

#[tokio::test]
async fn forgotten_password_without_email_says_so_to_everyone() {
    let p = Portal::start().await;
    let (status, cookie, html) = p.visitor_form("/password/forgot").await;
    assert_eq!(status, 200);
    assert!(html.contains(portal::pages::password::NO_MAIL_TEXT));
    let csrf = csrf_of(&html);
    let mut answers = Vec::new();
    for address in ["nobody@example.com", "alice@example.com"] {
        let (status, _, html) = p
            .post_form(
                "/password/forgot",
                &cookie,
                &[("csrf", &csrf), ("address", address)],
            )
            .await;
        assert_eq!(status, 200);
        assert!(html.contains(portal::pages::password::NO_MAIL_TEXT));
        answers.push(html);
    }
    assert_eq!(answers[0], answers[1]);
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    assert_eq!(p.store.password_resets_since(&alice, 0).await.unwrap(), 0);
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once() {
    let p = Portal::start().await;
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    let secret = p
        .store
        .create_password_reset(&alice, now_ms(), 3_600_000)
        .await
        .unwrap();
    let path = format!("/password/reset?token={secret}");
    let (status, cookie, html) = p.visitor_form(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"name="token" value="{secret}""#)));
    let csrf = csrf_of(&html);

    // Checks: empty, different passwords; without the form token.
    let (status, _, html) = p
        .post_form(
            "/password/reset",
            &cookie,
            &[
                ("csrf", &csrf),
                ("token", &secret),
                ("password", ""),
                ("password2", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-password-error""#), "{html}");
    let (status, _, html) = p
        .post_form(
            "/password/reset",
            &cookie,
            &[
                ("csrf", &csrf),
                ("token", &secret),
                ("password", "new-pw-1"),
                ("password2", "new-pw-2"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-password2-error""#), "{html}");
    let fields = [
        ("token", secret.as_str()),
        ("password", "new-pw-1"),
        ("password2", "new-pw-1"),
    ];
    let (status, _, _) = p.post_form("/password/reset", &cookie, &fields).await;
    assert_eq!(status, 403, "no form token");
    let (status, _, _) = p
        .post_form(
            "/password/reset",
            "",
            &[("csrf", csrf.as_str()), fields[0], fields[1], fields[2]],
        )
        .await;
    assert_eq!(status, 403, "no form cookie");

    // Set, then log in with it; the old one is gone.
    let mut ok_fields = vec![("csrf", csrf.as_str())];
    ok_fields.extend(fields);
    let (status, _, html) = p.post_form("/password/reset", &cookie, &ok_fields).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Password changed") && html.contains(r#"href="/login""#));
    let (status, _, _) = p
        .post_form(
            "/login",
            "",
            &[("address", "alice@example.com"), ("password", "new-pw-1")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = p
        .post_form(
            "/login",
            "",
            &[
                ("address", "alice@example.com"),
                ("password", common::PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 401);

    // Used: refused, the password stays.
    let mut again = vec![("csrf", csrf.as_str()), ("token", secret.as_str())];
    again.extend([("password", "new-pw-2"), ("password2", "new-pw-2")]);
    let (status, _, html) = p.post_form("/password/reset", &cookie, &again).await;
    assert_eq!(status, 400);
    assert!(
        html.contains(portal::pages::password::BAD_LINK_TEXT),
        "{html}"
    );
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, "new-pw-1")
        .await
        .unwrap()
        .is_some());

    // Expired: refused.
    let old = p
        .store
        .create_password_reset(&alice, now_ms() - 7_200_000, 3_600_000)
        .await
        .unwrap();
    let expired = [
        ("csrf", csrf.as_str()),
        ("token", old.as_str()),
        ("password", "new-pw-3"),
        ("password2", "new-pw-3"),
    ];
    let (status, _, html) = p.post_form("/password/reset", &cookie, &expired).await;
    assert_eq!(status, 400);
    assert!(html.contains(portal::pages::password::BAD_LINK_TEXT));
    // A made-up one, and a link without a token.
    let made_up = [
        ("csrf", csrf.as_str()),
        ("token", "itspr_made-up"),
        ("password", "new-pw-3"),
        ("password2", "new-pw-3"),
    ];
    let (status, _, _) = p.post_form("/password/reset", &cookie, &made_up).await;
    assert_eq!(status, 400);
    let (status, _, html) = p.visitor_form("/password/reset").await;
    assert_eq!(status, 200);
    assert!(html.contains(portal::pages::password::BAD_LINK_TEXT));
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, "new-pw-1")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_rates_page_imports_shows_line_errors_lists_and_prices() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/rates", &cookie).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("No rating plan yet"),
        "an empty state that says what to do"
    );
    assert!(html.contains(r#"href="/admin/rates""#), "in the navigation");
    let csrf = csrf_of(&html);

    // A file with bad lines: each error under the text area, what was typed kept,
    // nothing stored.
    let bad = "46,Sweden,0,0.10,60,60\n47,Norway,0,abc,60,60\n";
    let (status, _, html) = p
        .post_form(
            "/admin/rates",
            &cookie,
            &[
                ("csrf", &csrf),
                ("csv", bad),
                ("plan", "mobile"),
                ("currency", "EUR"),
                ("utc_offset", "Z"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-csv-error""#), "{html}");
    assert!(html.contains("line 2, column"), "{html}");
    assert!(
        html.contains("47,Norway,0,abc,60,60"),
        "the CSV typed is kept"
    );
    assert!(p.store.tariff_files().await.unwrap().is_empty());
    // A bad currency: its error at its field.
    let (status, _, html) = p
        .post_form(
            "/admin/rates",
            &cookie,
            &[
                ("csrf", &csrf),
                ("csv", common::TARIFF),
                ("currency", "euro"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-currency-error""#), "{html}");
    // A stale form token changes nothing.
    let (status, _, _) = p
        .post_form(
            "/admin/rates",
            &cookie,
            &[("csrf", "stale"), ("csv", common::TARIFF)],
        )
        .await;
    assert_eq!(status, 403);
    assert!(p.store.tariff_files().await.unwrap().is_empty());

    // The good file: imported, listed.
    let (status, location, _) = p
        .post_form(
            "/admin/rates",
            &cookie,
            &[
                ("csrf", &csrf),
                ("csv", common::TARIFF),
                ("plan", "default"),
                ("currency", "SEK"),
                ("utc_offset", "+01:00"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/rates?notice=imported")
    );
    let (_, html) = p.page("/admin/rates?notice=imported", &cookie).await;
    assert!(html.contains("Imported"), "{html}");
    assert!(html.contains("Stockholm") && html.contains("<code>468</code>"));
    assert!(html.contains("0.05 SEK"), "money with its currency: {html}");

    // The price of a call, and a bad number at its field.
    let (status, html) = p
        .page(
            "/admin/rates/test?from=alice%40example.com&to=%2B46812345&duration=125&at=2026-12-24T18%3A00%3A00%2B01%3A00",
            &cookie,
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Stockholm"), "{html}");
    assert!(html.contains("SEK</p>"), "{html}");
    assert!(html.contains("connect fee"), "the explanation");
    let (status, html) = p
        .page(
            "/admin/rates/test?from=alice%40example.com&to=abc&duration=60",
            &cookie,
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-to-error""#), "{html}");

    // Not for subscribers.
    let alice = p.login_cookie("alice").await;
    let (status, _) = p.page("/admin/rates", &alice).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn invoices_pages_list_each_owner_s_and_every_one_for_admins() {
    let p = Portal::start().await;
    let alice = p.login_cookie("alice").await;
    let (status, html) = p.page("/invoices", &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("No invoices yet"), "{html}");
    assert!(html.contains(r#"href="/invoices""#), "in the navigation");
    let mine = p.issue_invoice("alice", "2026-11", 1_793_491_200_000).await;
    let bobs = p.issue_invoice("bob", "2026-10", 1_790_812_800_000).await;
    let (_, html) = p.page("/invoices", &alice).await;
    assert!(html.contains(&mine) && !html.contains(&bobs), "{html}");
    assert!(html.contains("1.50 EUR"), "money with its currency");
    let pdf = format!("/api/v1/invoices/{mine}.pdf");
    assert!(
        html.contains(&format!(r#"href="{pdf}" download"#)),
        "{html}"
    );
    // The session downloads its own PDF, not bob's.
    let resp = p
        .client
        .get(p.url(&pdf))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let (status, _) = p
        .page(&format!("/api/v1/invoices/{bobs}.pdf"), &alice)
        .await;
    assert_eq!(status, 404);
    let (status, _) = p.page("/admin/invoices", &alice).await;
    assert_eq!(status, 403);

    let admin = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/invoices", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains(&mine) && html.contains(&bobs));
    let (_, html) = p
        .page("/admin/invoices?account=bob%40example.com", &admin)
        .await;
    assert!(html.contains(&bobs) && !html.contains(&mine), "{html}");
    let (status, html) = p.page("/admin/invoices?account=bob", &admin).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-account-error""#), "{html}");
}

#[tokio::test]
async fn the_live_calls_page_hangs_up_with_the_form_token() {
    let fake = common::FakeCalls::default();
    fake.answered.lock().unwrap().push("call-a".into());
    let fake = std::sync::Arc::new(fake);
    let p = Portal::start_with_calls(fake.clone()).await;
    let admin = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/calls/live", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("No call in progress"), "{html}");
    p.add_live_call("call-a", "alice", "bob", true).await;
    p.add_live_call("call-r", "bob", "carol", false).await;
    let (_, html) = p.page("/admin/calls/live", &admin).await;
    assert!(html.contains("sip:alice@example.com") && html.contains("call-r"));
    assert!(
        html.contains("1:0"),
        "the talk time, about a minute: {html}"
    );
    assert!(
        html.contains("3000 RTP packets, 503.9 KiB"),
        "the relay's counters: {html}"
    );
    assert!(
        html.contains("not relayed here"),
        "none for the ringing call"
    );
    assert_eq!(
        html.matches("Hang up</button>").count(),
        1,
        "a ringing call has no button"
    );
    let csrf = csrf_of(&html);
    let (status, _, _) = p
        .post_form(
            "/admin/calls/live/hangup",
            &admin,
            &[("csrf", "stale"), ("call_id", "call-a")],
        )
        .await;
    assert_eq!(status, 403);
    assert!(fake.ended.lock().unwrap().is_empty());
    let (status, _, html) = p
        .post_form(
            "/admin/calls/live/hangup",
            &admin,
            &[("csrf", &csrf), ("call_id", "call-r")],
        )
        .await;
    assert_eq!(status, 404);
    assert!(html.contains("no answered call"), "{html}");
    let (status, location, _) = p
        .post_form(
            "/admin/calls/live/hangup",
            &admin,
            &[("csrf", &csrf), ("call_id", "call-a")],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/calls/live?notice=ended")
    );
    assert_eq!(*fake.ended.lock().unwrap(), ["call-a"]);
    let alice = p.login_cookie("alice").await;
    let (status, _) = p.page("/admin/calls/live", &alice).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_subscriber_prices_a_call_under_their_own_plan_on_the_account_page() {
    let p = Portal::start().await;
    p.import_default_plan().await;
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    p.store
        .set_account(&alice, store::AccountKind::Postpaid, None, "EUR", 1)
        .await
        .unwrap();
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("What does a call cost?"), "{html}");
    let (status, html) = p
        .page("/account?to=%2B46812345&duration=125", &cookie)
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Stockholm") && html.contains("EUR</p>"),
        "{html}"
    );
    let (status, html) = p.page("/account?to=%2B46812345&duration=x", &cookie).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-duration-error""#), "{html}");
    let (status, html) = p.page("/account?to=%2B1999&duration=60", &cookie).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-to-error""#), "{html}");
}

#[tokio::test]
async fn an_admin_edits_a_subscriber_and_every_change_is_audited() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/subscribers", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/admin/subscribers/alice@example.com""#));
    let here = "/admin/subscribers/alice@example.com";
    let (status, html) = p.page(here, &cookie).await;
    assert_eq!(status, 200);
    for part in ["Status", "Aliases", "Groups", "Account", "No account"] {
        assert!(html.contains(part), "{part}");
    }
    assert!(
        !html.contains("Top up</h2>"),
        "no top-up without an account"
    );
    let csrf = csrf_of(&html);
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let csrf = csrf.clone();
        let p = &p;
        async move {
            let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            p.post_form(&format!("{here}{path}"), &cookie, &all).await
        }
    };
    let ok = |r: (u16, String, String), notice: &str| {
        assert_eq!(
            (r.0, r.1.as_str()),
            (303, format!("{here}?notice={notice}").as_str()),
            "{}",
            r.2
        );
    };

    // Aliases and groups: added, a bad one shown at its field, removed.
    ok(
        post("/aliases", vec![("alias", "+4611@example.com".into())]).await,
        "added",
    );
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    assert_eq!(
        p.store.resolve("+4611", DOMAIN).await.unwrap(),
        Some(alice.clone())
    );
    let (status, _, html) = post("/aliases", vec![("alias", "not an alias".into())]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-alias-error""#), "{html}");
    assert!(
        html.contains(r#"value="not an alias""#),
        "what was typed is kept"
    );
    ok(
        post("/groups", vec![("group", "int".into())]).await,
        "added",
    );
    let (status, _, html) = post("/groups", vec![("group", "bad group!".into())]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-group-error""#), "{html}");
    assert_eq!(p.store.groups("alice", DOMAIN).await.unwrap(), ["int"]);
    let (_, html) = p.page(here, &cookie).await;
    assert!(html.contains("+4611@example.com") && html.contains("<li>int"));
    ok(
        post("/groups/remove", vec![("group", "int".into())]).await,
        "removed",
    );
    ok(
        post(
            "/aliases/remove",
            vec![("alias", "+4611@example.com".into())],
        )
        .await,
        "removed",
    );
    assert!(p.store.groups("alice", DOMAIN).await.unwrap().is_empty());
    assert_eq!(p.store.resolve("+4611", DOMAIN).await.unwrap(), None);

    // The account: opened, a bad currency at its field (nothing changes), a top-up with
    // a note, closing refused while money is on it.
    let account = |kind: &str, currency: &str| {
        vec![
            ("kind", kind.to_owned()),
            ("plan", String::new()),
            ("currency", currency.to_owned()),
        ]
    };
    ok(post("/account", account("prepaid", "EUR")).await, "saved");
    let (status, _, html) = post("/account", account("postpaid", "euro")).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-currency-error""#), "{html}");
    let stored = p.store.account(&alice).await.unwrap().unwrap();
    assert_eq!(stored.kind, store::AccountKind::Prepaid);
    ok(
        post(
            "/topup",
            vec![("amount", "20.00".into()), ("note", "receipt 7".into())],
        )
        .await,
        "saved",
    );
    let (status, _, html) = post("/topup", vec![("amount", "-5".into())]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-amount-error""#), "{html}");
    let ledger = p.store.ledger(&alice, None, 10).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].note.as_deref(), Some("receipt 7"));
    let (status, _, html) = post("/account", account("none", "EUR")).await;
    assert_eq!(status, 409);
    assert!(html.contains(r#"id="f-kind-error""#), "{html}");
    let (_, html) = p.page(here, &cookie).await;
    assert!(html.contains("20.00 EUR") && html.contains("Top up</h2>"));

    // Disabled: no SIP credentials, no registrations, no portal login; enabled again.
    p.register("alice", "sip:alice@192.0.2.9:5060", true, "Phone/1.0")
        .await;
    ok(
        post("/status", vec![("disabled", "on".into())]).await,
        "saved",
    );
    assert!(p
        .store
        .bindings("alice@example.com")
        .await
        .unwrap()
        .is_empty());
    assert!(p
        .store
        .credentials("alice", DOMAIN)
        .await
        .unwrap()
        .is_none());
    let resp = p
        .client
        .post(p.url("/login"))
        .form(&[
            ("address", "alice@example.com"),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(
        resp.status().as_u16(),
        303,
        "a disabled subscriber cannot log in"
    );
    let (_, html) = p.page("/admin/subscribers", &cookie).await;
    assert!(html.contains("badge off"));
    ok(
        post("/status", vec![("disabled", "off".into())]).await,
        "saved",
    );
    assert!(p
        .store
        .credentials("alice", DOMAIN)
        .await
        .unwrap()
        .is_some());

    // A stale form token changes nothing.
    let (status, _, _) = p
        .post_form(
            &format!("{here}/groups"),
            &cookie,
            &[("csrf", "stale"), ("group", "int")],
        )
        .await;
    assert_eq!(status, 403);
    assert!(p.store.groups("alice", DOMAIN).await.unwrap().is_empty());

    // The audit log has each change that was made, and only those.
    let entries = p
        .store
        .audit_entries(&store::AuditFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(entries.len(), 8, "{entries:#?}");
    assert!(entries
        .iter()
        .all(|e| e.actor == "admin@example.com" && e.source == "127.0.0.1" && e.status == 303));
    assert_eq!(entries[0].action, format!("POST {here}/status"));
    assert_eq!(entries[0].detail.as_deref(), Some("disabled=off"));
    let (status, html) = p.page("/admin/audit", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("admin@example.com"));
    assert!(html.contains("receipt 7"));
    // The path may break after its slashes only.
    let topup = format!("POST {here}/topup").replace('/', "/<wbr>");
    assert!(html.contains(&topup), "{html}");
    assert!(
        !html.contains(&format!("csrf={csrf}")),
        "no form token in the log"
    );
    let (status, html) = p.page("/admin/audit?since=yesterday", &cookie).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-since-error""#));
    let (status, html) = p
        .page("/admin/audit?actor=someone%40example.com", &cookie)
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("No admin change recorded here"));

    // Not for subscribers.
    let alice_cookie = p.login_cookie("alice").await;
    assert_eq!(p.page(here, &alice_cookie).await.0, 403);
    assert_eq!(p.page("/admin/audit", &alice_cookie).await.0, 403);
    let (status, _, _) = p
        .post_form(
            &format!("{here}/groups"),
            &alice_cookie,
            &[("csrf", &csrf), ("group", "int")],
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_settings_page_says_when_to_try_the_current_password_again() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("alice").await;
    let (_, html) = p.page("/settings", &cookie).await;
    let csrf = csrf_of(&html);
    let post = |current: &'static str| {
        let fields = [
            ("csrf", csrf.clone()),
            ("current_password", current.to_owned()),
            ("web_password", "new-web-pw".to_owned()),
            ("web_password_again", "new-web-pw".to_owned()),
        ];
        p.client
            .post(p.url("/settings/web-password"))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    for _ in 0..10 {
        let resp = post("guess").await.unwrap();
        assert_eq!(resp.status().as_u16(), 422);
        assert!(resp.headers().get("retry-after").is_none());
    }
    // The guard refuses now, and the page says for how long, in the header too.
    let resp = post(common::PASSWORD).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let secs: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((290..=300).contains(&secs), "Retry-After: {secs}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("try again in"), "{html}");
}

#[tokio::test]
async fn the_settings_page_sets_voicemail_and_both_passwords() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/settings", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Voicemail") && html.contains("Web password"));
    let csrf = csrf_of(&html);

    let (status, location, html) = p
        .post_form(
            "/settings/voicemail",
            &cookie,
            &[
                ("csrf", &csrf),
                ("voicemail", "on"),
                ("vm_delivery", "both"),
                ("vm_email", "alice@mail.example"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/settings?notice=saved"),
        "{html}"
    );
    let prefs = p.store.preferences("alice", DOMAIN).await.unwrap();
    assert_eq!(prefs.get("voicemail").map(String::as_str), Some("on"));
    assert_eq!(prefs.get("vm-delivery").map(String::as_str), Some("both"));
    assert_eq!(
        prefs.get("vm-email").map(String::as_str),
        Some("alice@mail.example")
    );
    let (_, html) = p.page("/settings?notice=saved", &cookie).await;
    assert!(html.contains("Saved.") && html.contains(r#"value="both" selected"#));
    // A bad address at its field; nothing changes.
    let (status, _, html) = p
        .post_form(
            "/settings/voicemail",
            &cookie,
            &[
                ("csrf", &csrf),
                ("vm_delivery", "store"),
                ("vm_email", "nope"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-vm_email-error""#), "{html}");
    assert!(html.contains(r#"value="nope""#));
    assert_eq!(p.store.preferences("alice", DOMAIN).await.unwrap(), prefs);

    // The web password: the current one, the new one twice.
    let web = |current: &'static str, new: &'static str, again: &'static str| {
        let csrf = csrf.clone();
        let cookie = cookie.clone();
        let p = &p;
        async move {
            p.post_form(
                "/settings/web-password",
                &cookie,
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", current),
                    ("web_password", new),
                    ("web_password_again", again),
                ],
            )
            .await
        }
    };
    let (status, _, html) = web("wrong", "new-web-pw", "new-web-pw").await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-current_password-error""#), "{html}");
    let (status, _, html) = web(common::PASSWORD, "new-web-pw", "other").await;
    assert_eq!(status, 422);
    assert!(
        html.contains(r#"id="f-web_password_again-error""#),
        "{html}"
    );
    assert!(
        !html.contains("new-web-pw"),
        "passwords are not shown again"
    );
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, common::PASSWORD)
        .await
        .unwrap()
        .is_some());
    let (status, _, _) = web(common::PASSWORD, "new-web-pw", "new-web-pw").await;
    assert_eq!(status, 303);
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, "new-web-pw")
        .await
        .unwrap()
        .is_some());

    // The SIP password, twice.
    let before = p.store.credentials("alice", DOMAIN).await.unwrap();
    let (status, _, html) = p
        .post_form(
            "/settings/sip-password",
            &cookie,
            &[
                ("csrf", &csrf),
                ("sip_password", "sip-pw-2"),
                ("sip_password_again", "sip-pw-3"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="f-sip_password_again-error""#));
    assert_eq!(p.store.credentials("alice", DOMAIN).await.unwrap(), before);
    let (status, _, _) = p
        .post_form(
            "/settings/sip-password",
            &cookie,
            &[
                ("csrf", &csrf),
                ("sip_password", "sip-pw-2"),
                ("sip_password_again", "sip-pw-2"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_ne!(p.store.credentials("alice", DOMAIN).await.unwrap(), before);
    // A stale token changes nothing; bob's settings are his own; a subscriber's own
    // changes are not admin changes.
    let (status, _, _) = p
        .post_form(
            "/settings/voicemail",
            &cookie,
            &[("csrf", "stale"), ("voicemail", "off")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(p.store.preferences("alice", DOMAIN).await.unwrap(), prefs);
    assert!(p.store.preferences("bob", DOMAIN).await.unwrap().is_empty());
    assert!(p
        .store
        .audit_entries(&store::AuditFilter::default(), None, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_voicemail_page_uploads_plays_and_removes_the_greeting() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/voicemail", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Callers hear the default greeting"), "{html}");
    assert!(html.contains(r#"enctype="multipart/form-data""#), "{html}");
    assert!(html.contains(r#"<label for="f-greeting">"#), "{html}");
    let csrf = csrf_of(&html);
    let multipart = format!("multipart/form-data; boundary={}", common::BOUNDARY);
    let tone = common::tone_wav(44_100, 1, 1500, 440.0);
    let auth = (None, Some(cookie.as_str()));

    // Without the form token: 403, nothing stored.
    let form = common::multipart(&[("greeting", Some("hi.wav"), &tone)]);
    let (status, _, _) = p
        .send_bytes("POST", "/voicemail/greeting", auth, &multipart, form)
        .await;
    assert_eq!(status, 403);
    let file = p.voicemail_dir.join("example.com/alice/greeting.wav");
    assert!(!file.exists());

    // A file that is no WAV: the page again, the error next to the field.
    let form = common::multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("greeting", Some("photo.wav"), b"\x89PNG not audio"),
    ]);
    let (status, _, html) = p
        .send_bytes("POST", "/voicemail/greeting", auth, &multipart, form)
        .await;
    let html = String::from_utf8(html).unwrap();
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="f-greeting-error""#), "{html}");
    assert!(html.contains("not a WAV file"), "{html}");
    assert!(!file.exists());

    // A good one: stored, then played from the page.
    let form = common::multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("greeting", Some("hi.wav"), &tone),
    ]);
    let (status, _, _) = p
        .send_bytes("POST", "/voicemail/greeting", auth, &multipart, form)
        .await;
    assert_eq!(status, 303);
    assert!(file.exists());
    let (_, html) = p.page("/voicemail?notice=saved", &cookie).await;
    assert!(
        html.contains("Callers hear your personal greeting (2 s)"),
        "{html}"
    );
    assert!(html.contains(r#"src="/voicemail/greeting.wav""#), "{html}");
    let (status, ct, wav) = p
        .send_bytes(
            "GET",
            "/voicemail/greeting.wav",
            auth,
            "text/plain",
            Vec::new(),
        )
        .await;
    assert_eq!((status, ct.as_str()), (200, "audio/wav"));
    assert_eq!(wav, std::fs::read(&file).unwrap());
    // Bob's page shows his own (none), and cannot reach alice's.
    let bob = p.login_cookie("bob").await;
    let (_, html) = p.page("/voicemail", &bob).await;
    assert!(html.contains("Callers hear the default greeting"), "{html}");
    let (status, _) = p.page("/voicemail/greeting.wav", &bob).await;
    assert_eq!(status, 404);

    // Removed: the default again.
    let (status, location, _) = p
        .post_form("/voicemail/greeting/remove", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/voicemail?notice=removed#greeting")
    );
    assert!(!file.exists());
}

#[tokio::test]
async fn self_registration_pages_appear_when_a_domain_allows_it() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    // Off: no link, no page.
    let (_, html) = p.page("/login", "").await;
    assert!(!html.contains(r#"href="/signup""#), "{html}");
    let (status, _) = p.page("/signup", "").await;
    assert_eq!(status, 404);
    let (status, _, _) = p.post_form("/signup", "", &[("user", "dave")]).await;
    assert_eq!(status, 404);

    p.store.set_self_registration(DOMAIN, true).await.unwrap();
    let (_, html) = p.page("/login", "").await;
    assert!(html.contains(r#"href="/signup""#), "{html}");
    let (status, cookie, html) = p.visitor_form("/signup").await;
    assert_eq!(status, 200, "{html}");
    assert!(cookie.starts_with("itsp_form="), "{cookie}");
    let csrf = csrf_of(&html);
    for name in ["user", "email", "password", "password2"] {
        assert!(
            html.contains(&format!(r#"name="{name}""#)),
            "{name}: {html}"
        );
    }
    let post = |fields: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let csrf = csrf.clone();
        let p = &p;
        async move {
            let mut all = vec![("csrf", csrf)];
            all.extend(fields);
            let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            p.post_form("/signup", &cookie, &refs).await
        }
    };
    let form = |user: &str, p1: &str, p2: &str| {
        vec![
            ("user", user.to_owned()),
            ("domain", DOMAIN.to_owned()),
            ("email", "dave@mail.example".to_owned()),
            ("password", p1.to_owned()),
            ("password2", p2.to_owned()),
        ]
    };
    // A stale form token: refused before anything.
    let (status, _, _) = p
        .post_form("/signup", &cookie, &[("csrf", "nope"), ("user", "dave")])
        .await;
    assert_eq!(status, 403);
    // The passwords differ; the name is taken: each next to its field, what was typed kept.
    let (status, _, html) = post(form("dave", "a-long-password", "another-one")).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="f-password2-error""#), "{html}");
    assert!(html.contains(r#"value="dave""#), "{html}");
    assert!(!html.contains("a-long-password"), "{html}");
    let (status, _, html) = post(form("alice", "a-long-password", "a-long-password")).await;
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains(r#"id="f-user-error""#) && html.contains("is taken"),
        "{html}"
    );
    // Good: check your e-mail.
    let (status, _, html) = post(form("dave", "a-long-password", "a-long-password")).await;
    assert_eq!(status, 202, "{html}");
    assert!(
        html.contains("Check your e-mail") && html.contains("dave@example.com"),
        "{html}"
    );
    assert_eq!(
        p.store.signups_since("dave@mail.example", 0).await.unwrap(),
        1
    );

    // The link's page asks for a click; the click makes the account and shows its SIP
    // password once.
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
    let (status, cookie, html) = p
        .visitor_form(&format!("/signup/confirm?token={secret}"))
        .await;
    assert_eq!(status, 200);
    assert!(p.store.subscriber("erin", DOMAIN).await.unwrap().is_none());
    let csrf = csrf_of(&html);
    let (status, _, html) = p
        .post_form(
            "/signup/confirm",
            &cookie,
            &[("csrf", &csrf), ("token", &secret)],
        )
        .await;
    assert_eq!(status, 201, "{html}");
    let marker = r#"<code id="sip-password">"#;
    let start = html.find(marker).unwrap() + marker.len();
    let sip = &html[start..start + html[start..].find('<').unwrap()];
    assert_eq!(sip.len(), store::SIP_PASSWORD_LEN, "{html}");
    let s = p.store.subscriber("erin", DOMAIN).await.unwrap().unwrap();
    assert_eq!(
        s.ha1.md5,
        sip::auth::ha1(sip::auth::Algorithm::Md5, "erin", DOMAIN, sip)
    );
    // The link works once.
    let (status, _, html) = p
        .post_form(
            "/signup/confirm",
            &cookie,
            &[("csrf", &csrf), ("token", &secret)],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("unknown, used or expired"), "{html}");
    // Erin logs in with her web password.
    let (status, _, _) = p
        .post_form(
            "/login",
            "",
            &[("address", "erin@example.com"), ("password", "erin-web-pw")],
        )
        .await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn an_admin_edits_a_subscribers_e_mail_and_admin_flag() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("admin").await;
    let here = "/admin/subscribers/alice@example.com";
    let (status, html) = p.page(here, &cookie).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("E-mail and rights") && html.contains(r#"name="admin""#),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let path = format!("{here}/profile");
    // A bad e-mail address: next to its field, what was typed kept, nothing changed.
    let (status, _, html) = p
        .post_form(
            &path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("email", "not-an-address"),
                ("admin", "on"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="f-email-error""#), "{html}");
    assert!(html.contains(r#"value="not-an-address""#), "{html}");
    assert!(!p.store.is_admin("alice", DOMAIN).await.unwrap());
    // Set both; the page shows them.
    let (status, location, _) = p
        .post_form(
            &path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("email", "alice@mail.example"),
                ("admin", "on"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{here}?notice=saved").as_str())
    );
    let s = p.store.subscriber("alice", DOMAIN).await.unwrap().unwrap();
    assert_eq!(s.email.as_deref(), Some("alice@mail.example"));
    assert!(p.store.is_admin("alice", DOMAIN).await.unwrap());
    let (_, html) = p.page(here, &cookie).await;
    assert!(
        html.contains(r#"value="alice@mail.example""#) && html.contains(" checked>"),
        "{html}"
    );
    // Cleared and taken away (the box unchecked sends nothing).
    let (status, _, _) = p
        .post_form(&path, &cookie, &[("csrf", &csrf), ("email", "")])
        .await;
    assert_eq!(status, 303);
    let s = p.store.subscriber("alice", DOMAIN).await.unwrap().unwrap();
    assert_eq!(s.email, None);
    assert!(!p.store.is_admin("alice", DOMAIN).await.unwrap());
    // An admin does not take their own flag away here.
    let (status, _, html) = p
        .post_form(
            "/admin/subscribers/admin@example.com/profile",
            &cookie,
            &[("csrf", &csrf), ("email", "")],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(p.store.is_admin("admin", DOMAIN).await.unwrap());
    // A subscriber cannot reach the form at all; the changes are audited.
    let bob = p.login_cookie("bob").await;
    let (status, _, _) = p
        .post_form(
            &path,
            &bob,
            &[
                ("csrf", &csrf),
                ("email", "x@mail.example"),
                ("admin", "on"),
            ],
        )
        .await;
    assert_ne!(status, 303);
    assert!(!p.store.is_admin("alice", DOMAIN).await.unwrap());
    let entries = p
        .store
        .audit_entries(&store::AuditFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(
        entries[1].detail.as_deref(),
        Some("email=alice@mail.example, admin=on")
    );
}

#[tokio::test]
async fn an_admin_turns_self_registration_on_and_off_on_the_domains_page() {
    let p = Portal::start().await;
    let cookie = p.login_cookie("admin").await;
    let (status, html) = p.page("/admin/domains", &cookie).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Self-registration") && html.contains("Turn on"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let path = "/admin/domains/self-registration";
    let (status, location, _) = p
        .post_form(
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", DOMAIN),
                ("self_registration", "on"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/domains?notice=saved")
    );
    assert!(p.store.self_registration(DOMAIN).await.unwrap());
    let (_, html) = p.page("/admin/domains", &cookie).await;
    assert!(html.contains("Turn off"), "{html}");
    // Bad values and unknown domains change nothing; a subscriber cannot.
    let (status, _, _) = p
        .post_form(
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", DOMAIN),
                ("self_registration", "maybe"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = p
        .post_form(
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", "nowhere.example"),
                ("self_registration", "off"),
            ],
        )
        .await;
    assert_eq!(status, 404);
    let bob = p.login_cookie("bob").await;
    let (status, _, _) = p
        .post_form(
            path,
            &bob,
            &[
                ("csrf", &csrf),
                ("name", DOMAIN),
                ("self_registration", "off"),
            ],
        )
        .await;
    assert_ne!(status, 303);
    assert!(p.store.self_registration(DOMAIN).await.unwrap());
    let (status, _, _) = p
        .post_form(
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", DOMAIN),
                ("self_registration", "off"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert!(!p.store.self_registration(DOMAIN).await.unwrap());
    // Both changes are audited.
    let entries = p
        .store
        .audit_entries(&store::AuditFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(
        entries[0].detail.as_deref(),
        Some("name=example.com, self_registration=off")
    );
}

#[tokio::test]
async fn the_dashboard_places_a_call_and_calls_back_a_missed_one() {
    let p = Portal::start().await;
    let start = now_ms() - 3_600_000;
    p.store
        .record_cdrs(&[
            call_record(
                "missed-c2d",
                "bob",
                "alice",
                start,
                Some(store::Disposition::Busy),
            ),
            // Her own click-to-dial she did not answer: no "Call back".
            call_record(
                "own-c2d",
                "click-to-dial",
                "alice",
                start + 1_000,
                Some(store::Disposition::NoAnswer),
            ),
        ])
        .await
        .unwrap();
    let cookie = p.login_cookie("alice").await;
    let (status, html) = p.page("/dashboard", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"action="/dashboard/call""#), "{html}");
    assert!(html.contains(r#"name="target""#));
    // The missed call from bob has its "Call back" button.
    assert!(html.contains("Call back"), "{html}");
    assert!(html.contains(r#"name="target" value="sip:bob@example.com""#));
    assert!(html.contains("sip:click-to-dial@example.com"));
    assert_eq!(html.matches("Call back").count(), 1, "{html}");
    let csrf = csrf_of(&html);

    // Without the form token: refused, nothing placed.
    let (status, _, _) = p
        .post_form("/dashboard/call", &cookie, &[("target", "bob")])
        .await;
    assert_eq!(status, 403);
    // No phone registered: said above the form, what was typed kept.
    let (status, _, html) = p
        .post_form(
            "/dashboard/call",
            &cookie,
            &[("csrf", &csrf), ("target", "bob")],
        )
        .await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("no phone of alice@example.com is registered"));
    assert!(html.contains(r#"value="bob""#));
    // A bad target: the error next to the field.
    p.register("alice", "sip:alice@192.0.2.9:5060", false, "Phone/1.0")
        .await;
    let (status, _, html) = p
        .post_form(
            "/dashboard/call",
            &cookie,
            &[("csrf", &csrf), ("target", "sip:example.com")],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="f-target-error""#), "{html}");
    assert!(html.contains(r#"value="sip:example.com""#));
    // The call is placed: the page says so.
    let (status, _, html) = p
        .post_form(
            "/dashboard/call",
            &cookie,
            &[("csrf", &csrf), ("target", "sip:bob@example.com")],
        )
        .await;
    assert_eq!(status, 202, "{html}");
    assert!(
        html.contains("Calling sip:bob@example.com: your phone rings first"),
        "{html}"
    );
    assert_eq!(
        *p.dialer.dialled.lock().unwrap(),
        [(
            "alice@example.com".to_owned(),
            "sip:bob@example.com".to_owned(),
            "bob@example.com".to_owned()
        )]
    );
}
