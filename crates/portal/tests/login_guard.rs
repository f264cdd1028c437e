//! Brute-force protection over loopback HTTP: ten wrong passwords from one address get it
//! refused (429, even with the right password) on the login form and the API, while
//! another address still logs in; the forgotten-password form is limited per address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{csrf_of, Portal, DOMAIN, PASSWORD};

/// A client whose connections come from `ip` (any 127/8 address is the loopback).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(ip))
        .build()
        .unwrap()
}

async fn form_login(
    p: &Portal,
    client: &reqwest::Client,
    address: &str,
    password: &str,
) -> (u16, Option<String>, String) {
    let resp = client
        .post(p.url("/login"))
        .form(&[("address", address), ("password", password)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.text().await.unwrap())
}

async fn api_login(
    p: &Portal,
    client: &reqwest::Client,
    address: &str,
    password: &str,
) -> (u16, Option<String>, String, serde_json::Value) {
    let resp = client
        .post(p.url("/api/v1/session"))
        .json(&serde_json::json!({ "address": address, "password": password }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry, content_type, json)
}

#[tokio::test]
async fn ten_wrong_passwords_on_the_form_then_429_even_with_the_right_one() {
    let p = Portal::start().await;
    let attacker = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let alice = format!("alice@{DOMAIN}");
    // Unknown users and wrong passwords alike: the same answer, and all counted.
    let mut answers = Vec::new();
    for i in 0..10 {
        let address = if i % 2 == 0 {
            alice.clone()
        } else {
            format!("nobody{i}@{DOMAIN}")
        };
        let (status, retry, html) = form_login(&p, &attacker, &address, "wrong").await;
        assert_eq!((status, retry), (401, None), "attempt {i}");
        // The form gives the typed address back; nothing else differs.
        answers.push(html.replace(&format!(r#"value="{address}""#), "value=\"\""));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // The eleventh, with the right password: refused unchecked.
    let (status, retry, html) = form_login(&p, &attacker, &alice, PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("300"));
    assert!(
        html.contains("Too many failed logins; try again in 5 minutes"),
        "{html}"
    );
    assert!(
        html.contains(r#"action="/login""#),
        "the login page again: {html}"
    );
    // The API refuses it as well, as a problem with Retry-After.
    let (status, retry, content_type, json) = api_login(&p, &attacker, &alice, PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("300"));
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(json["status"], 429);
    assert_eq!(
        json["detail"],
        "Too many failed logins; try again in 5 minutes"
    );

    // Another address is unaffected, on the same account.
    let other = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let (status, _, _) = form_login(&p, &other, &alice, PASSWORD).await;
    assert_eq!(status, 303);
    let (status, _, _, json) = api_login(&p, &other, &alice, PASSWORD).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["address"], alice);
}

#[tokio::test]
async fn ten_wrong_passwords_on_the_api_ban_the_address_for_the_form_too() {
    let p = Portal::start().await;
    let attacker = client_from(Ipv4Addr::new(127, 0, 0, 4));
    let bob = format!("bob@{DOMAIN}");
    for i in 0..10 {
        let (status, retry, _, json) = api_login(&p, &attacker, &bob, "guess").await;
        assert_eq!((status, retry), (401, None), "attempt {i}: {json}");
        assert_eq!(json["detail"], portal::api::session::LOGIN_FAILED);
    }
    let (status, retry, _, _) = api_login(&p, &attacker, &bob, PASSWORD).await;
    assert_eq!((status, retry.as_deref()), (429, Some("300")));
    let (status, _, _) = form_login(&p, &attacker, &format!("alice@{DOMAIN}"), PASSWORD).await;
    assert_eq!(status, 429);
    // Logging in from elsewhere works, and the default client (127.0.0.1) too.
    let (status, _, _, _) = api_login(&p, &p.client, &bob, PASSWORD).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_forgotten_password_form_is_limited_per_address() {
    let p = Portal::start().await;
    let asker = client_from(Ipv4Addr::new(127, 0, 0, 5));
    let form = asker.get(p.url("/password/forgot")).send().await.unwrap();
    let cookie = form
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_of(&form.text().await.unwrap());
    let post = |address: String| {
        asker
            .post(p.url("/password/forgot"))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("address", address.as_str())])
            .send()
    };
    for i in 0..10 {
        let resp = post(format!("user{i}@{DOMAIN}")).await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "request {i}");
    }
    let resp = post(format!("alice@{DOMAIN}")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers().get("retry-after").unwrap().to_str().unwrap(),
        "300"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Too many requests; try again in 5 minutes"),
        "{html}"
    );
    // Asking does not ban logging in.
    let (status, _, _) = form_login(&p, &asker, &format!("alice@{DOMAIN}"), PASSWORD).await;
    assert_eq!(status, 303);
}
