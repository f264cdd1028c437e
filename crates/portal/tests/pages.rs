//! The HTML pages over loopback HTTP: login (errors next to the field), the subscriber's
//! dashboard (devices with the NAT verdict, the forwarding form and its errors), the admin
//! pages (domains, subscribers, registrations), the form token, logout, security headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{csrf_of, Portal, DOMAIN};

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
