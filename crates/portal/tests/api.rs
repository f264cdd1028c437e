//! The REST API over loopback HTTP against a SQLite store: every endpoint's answers for an
//! admin, the owner, another subscriber (404, as for someone who does not exist, or 403)
//! and nobody (401); pagination; problem+json errors naming the field; the session with
//! its CSRF header; the OpenAPI document and its routes; tariff imports (all or nothing,
//! errors with file:line:column), rate tests, invoices and their documents, live calls
//! and their hang-up; accounts opened, changed and closed, subscribers disabled, the
//! voicemail settings, the current web password (guarded like a login), and the audit
//! log of admin changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{call_record, Portal, DOMAIN};
use serde_json::json;

const ALICE: &str = "alice@example.com";

/// What a caller gets for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Any 2xx.
    Ok,
    Status(u16),
}

struct Case {
    method: &'static str,
    path: String,
    body: Option<serde_json::Value>,
    /// For alice (the owner, not an admin).
    owner: Want,
    /// For bob (another subscriber).
    other: u16,
}

fn case(
    method: &'static str,
    path: &str,
    body: Option<serde_json::Value>,
    owner: Want,
    other: u16,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        body,
        owner,
        other,
    }
}

/// Every endpoint, about alice's resources where it has an owner.
fn cases() -> Vec<Case> {
    let a = format!("/api/v1/subscribers/{ALICE}");
    let rate_test = format!("/api/v1/rates/test?from={ALICE}&to=%2B46812345&duration=125");
    let forbidden = Want::Status(403);
    vec![
        case("GET", "/api/v1/status", None, forbidden, 403),
        case("GET", "/api/v1/domains", None, forbidden, 403),
        case(
            "POST",
            "/api/v1/domains",
            Some(json!({"name": "new.example"})),
            forbidden,
            403,
        ),
        case(
            "DELETE",
            "/api/v1/domains/unused.example",
            None,
            forbidden,
            403,
        ),
        case("GET", "/api/v1/subscribers", None, forbidden, 403),
        case(
            "POST",
            "/api/v1/subscribers",
            Some(json!({"address": "carol@example.com", "password": "pw"})),
            forbidden,
            403,
        ),
        case("GET", "/api/v1/registrations", None, forbidden, 403),
        case("GET", &a, None, Want::Ok, 404),
        case(
            "PATCH",
            &a,
            Some(json!({"web_password": common::PASSWORD, "current_password": common::PASSWORD})),
            Want::Ok,
            404,
        ),
        case("PATCH", &a, Some(json!({"admin": true})), forbidden, 404),
        // Enabling: disabling would take the registration the cases below remove.
        case(
            "PATCH",
            &a,
            Some(json!({"disabled": false})),
            forbidden,
            404,
        ),
        case("GET", &format!("{a}/settings"), None, Want::Ok, 404),
        case(
            "PUT",
            &format!("{a}/settings"),
            Some(json!({"voicemail": true, "vm_delivery": "both"})),
            Want::Ok,
            404,
        ),
        case("GET", "/api/v1/audit", None, forbidden, 403),
        case("GET", &format!("{a}/aliases"), None, Want::Ok, 404),
        case(
            "POST",
            &format!("{a}/aliases"),
            Some(json!({"alias": "+4611@example.com"})),
            forbidden,
            404,
        ),
        case(
            "DELETE",
            &format!("{a}/aliases/100@example.com"),
            None,
            forbidden,
            404,
        ),
        case("GET", &format!("{a}/groups"), None, Want::Ok, 404),
        case("PUT", &format!("{a}/groups/int"), None, forbidden, 404),
        case("DELETE", &format!("{a}/groups/ld"), None, forbidden, 404),
        case("GET", &format!("{a}/forwarding"), None, Want::Ok, 404),
        case(
            "PUT",
            &format!("{a}/forwarding"),
            Some(json!({"busy": "sip:carol@example.com"})),
            Want::Ok,
            404,
        ),
        case("GET", &format!("{a}/registrations"), None, Want::Ok, 404),
        case(
            "DELETE",
            &format!("{a}/registrations?contact=sip:alice@192.0.2.9:5060"),
            None,
            Want::Ok,
            404,
        ),
        case("GET", &format!("{a}/calls"), None, Want::Ok, 404),
        case(
            "GET",
            &format!("{a}/calls?missed=true"),
            None,
            Want::Ok,
            404,
        ),
        case("GET", &format!("{a}/calls.csv"), None, Want::Ok, 404),
        case("GET", "/api/v1/calls", None, forbidden, 403),
        case("GET", &format!("{a}/account"), None, Want::Ok, 404),
        case("GET", &format!("{a}/account/ledger"), None, Want::Ok, 404),
        // Closed at a zero balance, opened again (postpaid), before the top-up below.
        case("DELETE", &format!("{a}/account"), None, forbidden, 404),
        case(
            "PUT",
            &format!("{a}/account"),
            Some(json!({"kind": "postpaid"})),
            forbidden,
            404,
        ),
        case(
            "POST",
            &format!("{a}/account/topups"),
            Some(json!({"amount": "5.00"})),
            forbidden,
            404,
        ),
        case("GET", &format!("{a}/voicemail"), None, Want::Ok, 404),
        case(
            "GET",
            &format!("{a}/voicemail/1/audio"),
            None,
            Want::Ok,
            404,
        ),
        case(
            "PATCH",
            &format!("{a}/voicemail/1"),
            Some(json!({"heard": true})),
            Want::Ok,
            404,
        ),
        case("DELETE", &format!("{a}/voicemail/1"), None, Want::Ok, 404),
        case("GET", "/api/v1/rates", None, forbidden, 403),
        case(
            "POST",
            "/api/v1/rates",
            Some(
                json!({"plan": "mobile", "files": [{"name": "m.csv", "content": common::TARIFF}]}),
            ),
            forbidden,
            403,
        ),
        // A subscriber prices calls with their own plan only; naming one is an admin's.
        case("GET", &rate_test, None, Want::Ok, 404),
        case(
            "GET",
            &format!("{rate_test}&plan=default"),
            None,
            forbidden,
            403,
        ),
        case("GET", "/api/v1/invoices", None, forbidden, 403),
        case(
            "GET",
            &format!("/api/v1/invoices?account={ALICE}"),
            None,
            forbidden,
            403,
        ),
        case("GET", &format!("{a}/invoices"), None, Want::Ok, 404),
        case(
            "GET",
            &format!("/api/v1/invoices/{INVOICE}"),
            None,
            Want::Ok,
            404,
        ),
        case(
            "GET",
            &format!("/api/v1/invoices/{INVOICE}.pdf"),
            None,
            Want::Ok,
            404,
        ),
        case(
            "GET",
            &format!("/api/v1/invoices/{INVOICE}.html"),
            None,
            Want::Ok,
            404,
        ),
        case("DELETE", "/api/v1/calls/live/call-a", None, forbidden, 403),
        case("DELETE", &a, None, forbidden, 404),
    ]
}

/// Alice's invoice ([`prepare_alice`]).
const INVOICE: &str = "2026-11-0001";

/// A control that has alice's answered call `call-a`.
fn calls() -> std::sync::Arc<common::FakeCalls> {
    let fake = common::FakeCalls::default();
    fake.answered.lock().unwrap().push("call-a".into());
    std::sync::Arc::new(fake)
}

async fn prepare_alice(p: &Portal) {
    p.store
        .add_alias("100", DOMAIN, "alice", DOMAIN)
        .await
        .unwrap();
    p.store.add_group("alice", DOMAIN, "ld").await.unwrap();
    p.register("alice", "sip:alice@192.0.2.9:5060", true, "Phone/1.0")
        .await;
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    p.store
        .set_account(&alice, store::AccountKind::Prepaid, None, "EUR", 1)
        .await
        .unwrap();
    p.store
        .record_cdrs(&[call_record("c1", "bob", "alice", 1_790_000_000_000, None)])
        .await
        .unwrap();
    let id = p
        .add_voicemail("alice", "sip:bob@example.com", 1_790_000_000_000)
        .await;
    assert_eq!(id, 1, "the cases name message 1");
    p.import_default_plan().await;
    let number = p.issue_invoice("alice", "2026-11", 1_793_491_200_000).await;
    assert_eq!(number, INVOICE);
    p.add_live_call("call-a", "alice", "bob", true).await;
}

#[tokio::test]
async fn every_endpoint_is_authorised_in_one_way() {
    let p = Portal::start_with_calls(calls()).await;
    prepare_alice(&p).await;
    let before = p
        .call(
            "GET",
            &format!("/api/v1/subscribers/{ALICE}"),
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(before.0, 200);

    for c in cases() {
        // Nobody: 401, as problem+json.
        let (status, ct, body) = p.call(c.method, &c.path, None, c.body.clone()).await;
        assert_eq!(status, 401, "{} {} without credentials", c.method, c.path);
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["status"], 401);
        // A revoked or made-up token: 401 too.
        let (status, _, _) = p
            .call(c.method, &c.path, Some("itsp_made_up"), c.body.clone())
            .await;
        assert_eq!(status, 401, "{} {} with a made-up token", c.method, c.path);
        // Bob, about alice: 404 (or 403 for admin-only endpoints), as problem+json.
        let (status, ct, body) = p
            .call(c.method, &c.path, Some(&p.bob_token), c.body.clone())
            .await;
        assert_eq!(status, c.other, "{} {} as bob: {body}", c.method, c.path);
        assert_eq!(ct, "application/problem+json");
        if c.other == 404 {
            // The same answer as for a subscriber who does not exist: nothing learnt.
            let nobody = c.path.replace(ALICE, "nobody@example.com");
            let (status, _, body2) = p
                .call(c.method, &nobody, Some(&p.bob_token), c.body.clone())
                .await;
            assert_eq!(status, 404, "{} {nobody} as bob", c.method);
            assert_eq!(body["title"], body2["title"]);
        }
    }
    // Nothing bob tried changed alice.
    let after = p
        .call(
            "GET",
            &format!("/api/v1/subscribers/{ALICE}"),
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(before.2, after.2);
    assert_eq!(p.store.bindings(ALICE).await.unwrap().len(), 1);

    // Alice herself.
    for c in cases() {
        let (status, _, body) = p
            .call(c.method, &c.path, Some(&p.alice_token), c.body.clone())
            .await;
        match c.owner {
            Want::Ok => assert!(
                (200..300).contains(&status),
                "{} {} as alice: {status} {body}",
                c.method,
                c.path
            ),
            Want::Status(s) => assert_eq!(status, s, "{} {} as alice: {body}", c.method, c.path),
        }
    }
    assert!(
        p.store.bindings(ALICE).await.unwrap().is_empty(),
        "alice removed her own registration"
    );
    assert!(
        p.store
            .voicemail_messages("alice", DOMAIN)
            .await
            .unwrap()
            .is_empty(),
        "alice removed her own message"
    );
    assert!(
        !p.voicemail_dir
            .join(format!("{DOMAIN}/alice/msg-1790000000000.wav"))
            .exists(),
        "and its recording"
    );
}

#[tokio::test]
async fn voicemail_lists_plays_is_marked_heard_and_removed() {
    let p = Portal::start().await;
    let a = format!("/api/v1/subscribers/{ALICE}/voicemail");
    let t = Some(p.alice_token.as_str());
    let first = p
        .add_voicemail("alice", "sip:bob@example.com", 1_790_000_000_000)
        .await;
    let second = p
        .add_voicemail("alice", "sip:carol@example.com", 1_790_000_100_000)
        .await;
    let (status, _, body) = p.call("GET", &a, t, None).await;
    assert_eq!(status, 200);
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second, "newest first");
    assert_eq!(items[0]["caller"], "sip:carol@example.com");
    assert_eq!(items[0]["new"], true);
    assert_eq!(items[0]["duration_ms"], 1000);
    assert!(items[1]["created"].as_str().unwrap().starts_with("2026-"));

    // The audio.
    let resp = p
        .client
        .get(p.url(&format!("{a}/{first}/audio")))
        .bearer_auth(&p.alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        common::wav(8000).as_slice()
    );

    // Marking heard; it cannot be made new again; bad ids name the field.
    let (status, _, _) = p
        .call(
            "PATCH",
            &format!("{a}/{first}"),
            t,
            Some(json!({"heard": true})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, _, body) = p.call("GET", &a, t, None).await;
    assert_eq!(body[1]["new"], false);
    let (status, _, body) = p
        .call(
            "PATCH",
            &format!("{a}/{first}"),
            t,
            Some(json!({"heard": false})),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("heard")));
    let (status, _, body) = p.call("DELETE", &format!("{a}/x1"), t, None).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("id")));
    let (status, _, _) = p.call("DELETE", &format!("{a}/999"), t, None).await;
    assert_eq!(status, 404);

    // Removal takes the file too; the audio is gone.
    let file = p
        .voicemail_dir
        .join(format!("{DOMAIN}/alice/msg-1790000000000.wav"));
    assert!(file.exists());
    let (status, _, _) = p.call("DELETE", &format!("{a}/{first}"), t, None).await;
    assert_eq!(status, 204);
    assert!(!file.exists());
    let (status, _, _) = p.call("GET", &format!("{a}/{first}/audio"), t, None).await;
    assert_eq!(status, 404);
    let (_, _, body) = p.call("GET", &a, t, None).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_admin_may_do_everything() {
    let fake = calls();
    let p = Portal::start_with_calls(fake.clone()).await;
    prepare_alice(&p).await;
    p.store.add_domain("unused.example").await.unwrap();
    let t = Some(p.admin_token.as_str());
    for c in cases() {
        let (status, _, body) = p.call(c.method, &c.path, t, c.body.clone()).await;
        assert!(
            (200..300).contains(&status),
            "{} {} as admin: {status} {body}",
            c.method,
            c.path
        );
    }
    assert!(p.store.subscriber("alice", DOMAIN).await.unwrap().is_none());
    assert!(p.store.subscriber("carol", DOMAIN).await.unwrap().is_some());
    assert!(p.store.domain_exists("new.example").await.unwrap());
    assert!(!p.store.domain_exists("unused.example").await.unwrap());
    assert_eq!(
        *fake.ended.lock().unwrap(),
        ["call-a"],
        "the admin ended the call"
    );
    let plans = p.store.tariff_files().await.unwrap();
    assert!(plans.iter().any(|f| f.set_key == "mobile"), "and imported");
}

#[tokio::test]
async fn subscribers_come_a_page_at_a_time() {
    let p = Portal::start().await;
    p.store.add_domain("other.example").await.unwrap();
    for i in 0..7 {
        p.store
            .add_subscriber(&format!("u{i}"), "other.example", "pw", None)
            .await
            .unwrap();
    }
    let t = Some(p.admin_token.as_str());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/subscribers?domain=other.example&limit=3&cursor={c}"),
            None => "/api/v1/subscribers?domain=other.example&limit=3".to_owned(),
        };
        let (status, _, body) = p.call("GET", &path, t, None).await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|i| i["address"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).map(|i| format!("u{i}@other.example")).collect();
    assert_eq!(seen, want);
    // All domains, default page: created_at is RFC 3339.
    let (_, _, body) = p.call("GET", "/api/v1/subscribers", t, None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 10);
    let created = body["items"][0]["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    // Bad parameters name themselves.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=nope", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, ct, body) = p
            .call("GET", &format!("/api/v1/subscribers?{query}"), t, None)
            .await;
        assert_eq!(
            (status, ct.as_str()),
            (422, "application/problem+json"),
            "{query}: {body}"
        );
        assert_eq!(body["field"], field, "{query}");
    }
    let (status, _, _) = p
        .call("GET", "/api/v1/subscribers?domain=unknown.example", t, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn subscribers_are_searched_by_address_or_e_mail_with_q() {
    let p = Portal::start().await;
    p.store.add_domain("other.example").await.unwrap();
    for i in 0..5 {
        let email = format!("Member{i}@Club.example");
        p.store
            .add_subscriber(&format!("u{i}"), "other.example", "pw", Some(&email))
            .await
            .unwrap();
    }
    let t = Some(p.admin_token.as_str());
    let addresses = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["address"].as_str().unwrap().to_owned())
            .collect()
    };
    // By a part of the address, ignoring case.
    let (status, _, body) = p.call("GET", "/api/v1/subscribers?q=ALIC", t, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(addresses(&body), ["alice@example.com"]);
    // By a part of the e-mail, a page at a time.
    let (_, _, body) = p
        .call("GET", "/api/v1/subscribers?q=club.EXAMPLE&limit=3", t, None)
        .await;
    assert_eq!(
        addresses(&body),
        ["u0@other.example", "u1@other.example", "u2@other.example"]
    );
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, body) = p
        .call(
            "GET",
            &format!("/api/v1/subscribers?q=club.EXAMPLE&limit=3&cursor={cursor}"),
            t,
            None,
        )
        .await;
    assert_eq!(addresses(&body), ["u3@other.example", "u4@other.example"]);
    assert!(body["next_cursor"].is_null());
    // With the domain; nothing matching is an empty page.
    let (_, _, body) = p
        .call(
            "GET",
            "/api/v1/subscribers?domain=example.com&q=member",
            t,
            None,
        )
        .await;
    assert!(addresses(&body).is_empty());
    // Subscribers may not search.
    let (status, _, _) = p
        .call(
            "GET",
            "/api/v1/subscribers?q=bob",
            Some(&p.alice_token),
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let p = Portal::start().await;
    let t = Some(p.admin_token.as_str());
    let cases = [
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol", "password": "pw"}),
            422,
            "address",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com"}),
            422,
            "password",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com", "password": ""}),
            422,
            "password",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com", "password": 5}),
            422,
            "password",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com", "password": "pw", "email": "nope"}),
            422,
            "email",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com", "password": "pw", "colour": 1}),
            422,
            "colour",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "alice@example.com", "password": "pw"}),
            409,
            "address",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "carol@example.com", "password": "pw", "web_password": "a\u{7}b"}),
            422,
            "web_password",
        ),
        (
            "POST",
            "/api/v1/domains",
            json!({"name": "bad domain"}),
            422,
            "name",
        ),
        (
            "POST",
            "/api/v1/domains",
            json!({"name": "example.com"}),
            409,
            "name",
        ),
        (
            "PUT",
            "/api/v1/subscribers/alice@example.com/forwarding",
            json!({"busy": "bob@example.com"}),
            422,
            "busy",
        ),
        (
            "PUT",
            "/api/v1/subscribers/alice@example.com/forwarding",
            json!({"no_answer_after": 601}),
            422,
            "no_answer_after",
        ),
        (
            "PUT",
            "/api/v1/subscribers/alice@example.com/forwarding",
            json!({"no_answer_after": "20"}),
            422,
            "no_answer_after",
        ),
        (
            "PATCH",
            "/api/v1/subscribers/alice@example.com",
            json!({"sip_password": ""}),
            422,
            "sip_password",
        ),
        (
            "POST",
            "/api/v1/subscribers/alice@example.com/aliases",
            json!({"alias": "x@unserved.example"}),
            422,
            "alias",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            json!({"address": "x@unserved.example", "password": "pw"}),
            422,
            "address",
        ),
        (
            "PUT",
            "/api/v1/subscribers/alice@example.com/groups/a%20b",
            json!(null),
            422,
            "group",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let body = (!body.is_null()).then_some(body);
        let (got, ct, problem) = p.call(method, path, t, body.clone()).await;
        assert_eq!(got, status, "{method} {path} {body:?}: {problem}");
        assert_eq!(ct, "application/problem+json", "{method} {path}");
        assert_eq!(problem["type"], "about:blank");
        assert_eq!(problem["status"], status);
        if !field.is_empty() {
            assert_eq!(
                problem["field"], field,
                "{method} {path} {body:?}: {problem}"
            );
        }
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    // Not JSON at all.
    let resp = p
        .client
        .post(p.url("/api/v1/domains"))
        .bearer_auth(&p.admin_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = p
        .client
        .post(p.url("/api/v1/domains"))
        .bearer_auth(&p.admin_token)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // Nothing was changed by any of it.
    assert!(p.store.subscriber("carol", DOMAIN).await.unwrap().is_none());
    let f = p.store.forwarding("alice", DOMAIN).await.unwrap();
    assert_eq!(f, store::Forwarding::default());
    // An unknown endpoint is a problem too.
    let (status, ct, _) = p.call("GET", "/api/v1/nothing", t, None).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
}

#[tokio::test]
async fn forwarding_round_trips() {
    let p = Portal::start().await;
    let t = Some(p.alice_token.as_str());
    let path = format!("/api/v1/subscribers/{ALICE}/forwarding");
    let want = json!({"always": null, "busy": "sip:bob@example.com", "no_answer": "tel:+4684567890", "no_answer_after": 20});
    let (status, _, body) = p.call("PUT", &path, t, Some(want.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, want);
    let f = p.store.forwarding("alice", DOMAIN).await.unwrap();
    assert_eq!(f.busy.as_deref(), Some("sip:bob@example.com"));
    assert_eq!(f.no_answer_after, Some(20));
    // A PUT replaces: absent members are off.
    let (_, _, body) = p
        .call(
            "PUT",
            &path,
            t,
            Some(json!({"always": "sip:carol@example.com"})),
        )
        .await;
    assert_eq!(
        body,
        json!({"always": "sip:carol@example.com", "busy": null, "no_answer": null, "no_answer_after": null})
    );
}

#[tokio::test]
async fn a_session_needs_its_csrf_token_to_change_anything() {
    let p = Portal::start().await;
    // Wrong password and unknown user: the same answer.
    let (s1, _, wrong) = p
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"address": ALICE, "password": "nope"})),
        )
        .await;
    let (s2, _, unknown) = p
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"address": "zed@example.com", "password": "nope"})),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown);
    let resp = p
        .client
        .post(p.url("/api/v1/session"))
        .json(&json!({"address": ALICE, "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let session: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(session["address"], ALICE);
    assert_eq!(session["admin"], false);
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();

    let path = format!("/api/v1/subscribers/{ALICE}/forwarding");
    let get = p
        .client
        .get(p.url(&path))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 200);
    let body = json!({"busy": "sip:bob@example.com"});
    let put = p
        .client
        .put(p.url(&path))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 403, "no X-CSRF-Token");
    let put = p
        .client
        .put(p.url(&path))
        .header("cookie", &cookie)
        .header("x-csrf-token", "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 403, "a wrong X-CSRF-Token");
    let put = p
        .client
        .put(p.url(&path))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    // Logout ends the session.
    let out = p
        .client
        .delete(p.url("/api/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    let get = p
        .client
        .get(p.url(&path))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 401);
}

#[tokio::test]
async fn registrations_show_the_nat_verdict_and_status_counts() {
    let p = Portal::start().await;
    p.register("alice", "sip:alice@10.0.0.5:5060", true, "Deskphone 2")
        .await;
    p.register("bob", "sip:bob@198.51.100.4:5060", false, "Softphone")
        .await;
    let (_, _, mine) = p
        .call(
            "GET",
            &format!("/api/v1/subscribers/{ALICE}/registrations"),
            Some(&p.alice_token),
            None,
        )
        .await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["nat"], true);
    assert_eq!(mine[0]["user_agent"], "Deskphone 2");
    assert!(mine[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    let (_, _, all) = p
        .call("GET", "/api/v1/registrations", Some(&p.admin_token), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, _, st) = p
        .call("GET", "/api/v1/status", Some(&p.admin_token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(st["subscribers"], 3);
    assert_eq!(st["registrations"], 2);
    assert_eq!(st["domains"], 1);
    assert_eq!(st["database"], "sqlite");
    assert_eq!(st["version"], env!("CARGO_PKG_VERSION"));
    // Removing one that is not there: 404; without a contact: 422 naming it.
    let path = format!("/api/v1/subscribers/{ALICE}/registrations");
    let (status, _, _) = p
        .call(
            "DELETE",
            &format!("{path}?contact=sip:x@192.0.2.1"),
            Some(&p.alice_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, body) = p.call("DELETE", &path, Some(&p.alice_token), None).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("contact")));
}

#[tokio::test]
async fn tokens_can_be_revoked() {
    let p = Portal::start().await;
    let (status, _, _) = p
        .call("GET", "/api/v1/session", Some(&p.admin_token), None)
        .await;
    assert_eq!(status, 200);
    let id = p.store.api_tokens().await.unwrap()[0].id;
    assert!(p.store.api_tokens().await.unwrap()[0]
        .last_used_at
        .is_some());
    p.store.revoke_api_token(id).await.unwrap();
    let (status, _, _) = p
        .call("GET", "/api/v1/session", Some(&p.admin_token), None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let p = Portal::start().await;
    let (status, ct, doc) = p.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    let list = &paths["/api/v1/subscribers"]["get"]["parameters"];
    assert!(
        list.as_array().unwrap().iter().any(|p| p["name"] == "q"),
        "the subscriber search is documented: {list}"
    );
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["responses"].is_object(), "{method} {path}");
            // Every documented operation is routed: not the fallback, not 405.
            let concrete = path
                .replace("{address}", ALICE)
                .replace("{domain}", "nothing.example")
                .replace("{alias}", "1@example.com")
                .replace("{group}", "g")
                .replace("{id}", "1")
                .replace("{call_id}", "no-such-call");
            let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
            let (status, _, answer) = p
                .call(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&p.admin_token),
                    body,
                )
                .await;
            assert_ne!(status, 405, "{method} {path}");
            let fallback = answer["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no such endpoint"));
            assert!(!fallback, "{method} {path} is documented but not routed");
        }
    }
    assert_eq!(
        operations, 55,
        "the number of documented operations changed: update this test"
    );
    // The browsable view and its script.
    let page = p.client.get(p.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("/assets/api-docs.js"));
    let js = p
        .client
        .get(p.url("/assets/api-docs.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200);
}

#[tokio::test]
async fn call_history_and_the_account_come_a_page_at_a_time() {
    let p = Portal::start().await;
    let alice = store::Address::new("alice", DOMAIN).unwrap();
    let mut records = Vec::new();
    for i in 0..5 {
        let start = 1_790_000_000_000 + i * 3_600_000;
        records.push(call_record(&format!("a{i}"), "alice", "bob", start, None));
        let busy = Some(store::Disposition::Busy);
        records.push(call_record(
            &format!("b{i}"),
            "bob",
            "alice",
            start + 60_000,
            busy,
        ));
    }
    records.push(call_record("x", "bob", "carol", 1_790_000_000_000, None));
    p.store.record_cdrs(&records).await.unwrap();
    let a = format!("/api/v1/subscribers/{ALICE}");
    let t = Some(p.alice_token.as_str());

    // Alice's ten calls (not bob's to carol), four and four and two.
    let mut seen = Vec::new();
    let mut path = format!("{a}/calls?limit=4");
    loop {
        let (status, _, body) = p.call("GET", &path, t, None).await;
        assert_eq!(status, 200, "{body}");
        for c in body["items"].as_array().unwrap() {
            seen.push(c["call_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => path = format!("{a}/calls?limit=4&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(!seen.contains(&"x".to_owned()));
    // What she missed, since the third hour; as the admin CLI shows them.
    let (_, _, body) = p
        .call(
            "GET",
            &format!("{a}/calls?missed=true&since=2026-09-21T16:13:20Z"),
            t,
            None,
        )
        .await;
    let missed: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(missed, ["b2", "b3", "b4"], "{body}");
    assert_eq!(body["items"][0]["disposition"], "busy");
    assert_eq!(body["items"][0]["start"], "2026-09-21T16:14:20.000Z");
    // The same as CSV: the columns of `itsp cdr list --csv`, a line per record.
    let resp = p
        .client
        .get(p.url(&format!(
            "{a}/calls.csv?missed=true&since=2026-09-21T16:13:20Z"
        )))
        .bearer_auth(&p.alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("id,call_id,start,answer,end,billable_secs,disposition,code,"));
    assert!(lines[0].ends_with(",node,rate_plan,cost,currency"));
    assert!(lines[1].contains(",b2,2026-09-21T16:14:20.000Z,,"), "{csv}");
    assert!(lines[1].contains(",busy,486,"), "{csv}");
    let (status, _, _) = p
        .call("GET", &format!("{a}/calls.csv?limit=2"), t, None)
        .await;
    assert_eq!(status, 200);
    // Bad filters name their field.
    for (query, field) in [
        ("since=yesterday", "since"),
        ("disposition=lost", "disposition"),
        ("missed=maybe", "missed"),
        ("limit=0", "limit"),
        ("cursor=abc", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, _, body) = p.call("GET", &format!("{a}/calls?{query}"), t, None).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    // The admin's list, narrowed to bob.
    let (status, _, body) = p
        .call(
            "GET",
            "/api/v1/calls?user=bob@example.com&disposition=answered",
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Answered, to bob (alice's five) or from him (to carol).
    assert_eq!(body["items"].as_array().unwrap().len(), 6, "{body}");

    // No account yet: 404 saying so; the admin makes one and tops it up.
    let (status, _, body) = p.call("GET", &format!("{a}/account"), t, None).await;
    assert_eq!(status, 404, "{body}");
    p.store
        .set_account(&alice, store::AccountKind::Prepaid, None, "EUR", 1)
        .await
        .unwrap();
    let admin = Some(p.admin_token.as_str());
    for amount in ["20", "0.30"] {
        let (status, _, body) = p
            .call(
                "POST",
                &format!("{a}/account/topups"),
                admin,
                Some(json!({"amount": amount, "note": "desk"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _, body) = p
        .call(
            "POST",
            &format!("{a}/account/topups"),
            admin,
            Some(json!({"amount": "-1"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("amount")),
        "{body}"
    );
    let (_, _, body) = p.call("GET", &format!("{a}/account"), t, None).await;
    assert_eq!(body["balance"], "20.30", "{body}");
    assert_eq!(body["kind"], "prepaid");
    let (_, _, body) = p.call("GET", &format!("{a}/account/ledger"), t, None).await;
    let entries = body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[1]["amount"], "0.30");
    assert_eq!(entries[1]["balance_after"], "20.30");
    assert_eq!(entries[1]["kind"], "top_up");
    assert_eq!(entries[1]["note"], "desk");
}

#[tokio::test]
async fn tariffs_import_all_or_nothing_list_by_page_and_price_calls() {
    let p = Portal::start().await;
    let t = Some(p.admin_token.as_str());
    // Bad lines: each listed with file:line:column, nothing stored.
    let bad = "46,Sweden,0,0.10,60,60\n47,Norway,0,abc,60,60\n48,Poland,0,0.1,0,60\n";
    let (status, ct, body) = p
        .call(
            "POST",
            "/api/v1/rates",
            t,
            Some(json!({"plan": "mobile", "files": [{"name": "mobile.csv", "content": bad}]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["field"], "files");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{body}");
    assert_eq!(errors[0]["file"], "mobile.csv");
    assert_eq!(errors[0]["line"], 2);
    assert!(errors[0]["column"].as_u64().unwrap() > 1, "{body}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("mobile.csv:2:"),
        "{body}"
    );
    assert!(
        p.store.tariff_files().await.unwrap().is_empty(),
        "nothing stored"
    );
    // Bad settings name their field and store nothing either.
    for (body, field) in [
        (
            json!({"currency": "euros", "files": [{"name": "r.csv", "content": common::TARIFF}]}),
            "currency",
        ),
        (
            json!({"utc_offset": "noon", "files": [{"name": "r.csv", "content": common::TARIFF}]}),
            "utc_offset",
        ),
        (
            json!({"plan": "no spaces", "files": [{"name": "r.csv", "content": common::TARIFF}]}),
            "plan",
        ),
        (json!({"files": []}), "files"),
        (json!({"files": [{"name": "r.csv"}]}), "files[0]"),
        (
            json!({"files": [{"name": "r.csv", "content": "x"}], "colour": 1}),
            "colour",
        ),
    ] {
        let (status, _, answer) = p.call("POST", "/api/v1/rates", t, Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    assert!(p.store.tariff_files().await.unwrap().is_empty());
    // A CSV body, plan named in the query.
    let resp = p
        .client
        .post(p.url("/api/v1/rates?plan=default&currency=SEK"))
        .bearer_auth(&p.admin_token)
        .header("content-type", "text/csv")
        .body(common::TARIFF)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let done: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(done["plans"], json!(["default"]));
    assert_eq!(done["prefixes"], 2);
    assert_eq!(done["currency"], "SEK");
    // Listed a page at a time.
    let (status, _, page) = p.call("GET", "/api/v1/rates?limit=1", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["plans"][0]["name"], "default");
    assert_eq!(page["items"][0]["prefix"], "46");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, next) = p
        .call(
            "GET",
            &format!("/api/v1/rates?limit=1&cursor={cursor}"),
            t,
            None,
        )
        .await;
    assert_eq!(next["items"][0]["prefix"], "468");
    // 30/6: the first 30 s, then 6 s steps.
    let slots = &next["items"][0]["rates"][0]["slots"];
    assert_eq!(slots[0]["increment_secs"], 30);
    assert_eq!(slots[1]["from_secs"], 30);
    assert_eq!(slots[1]["increment_secs"], 6);
    assert!(next["next_cursor"].is_null());
    for (path, field) in [
        ("/api/v1/rates?limit=0", "limit"),
        ("/api/v1/rates?cursor=x", "cursor"),
        ("/api/v1/rates?cursor=-1", "cursor"),
        ("/api/v1/rates?plan=nothing", "plan"),
        ("/api/v1/rates?colour=red", "colour"),
    ] {
        let (status, _, answer) = p.call("GET", path, t, None).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}");
    }
    // Alice prices her own call: Stockholm, 30 s then 6 s steps, 5 cents to connect.
    let (status, _, priced) = p
        .call(
            "GET",
            &format!("/api/v1/rates/test?from={ALICE}&to=%2B46812345&duration=125&at=2026-12-24T18:00:00%2B01:00"),
            Some(&p.alice_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{priced}");
    assert_eq!(priced["prefix"], "468");
    assert_eq!(priced["billed_secs"], 126);
    assert_eq!(priced["currency"], "SEK");
    assert_eq!(priced["connect_fee"], "0.05");
    assert!(priced["explanation"]
        .as_str()
        .unwrap()
        .contains("connect fee"));
    for (query, field) in [
        ("to=%2B46812345&duration=60", "from"),
        ("from=alice@example.com&duration=60", "to"),
        ("from=alice@example.com&to=%2B46812345", "duration"),
        (
            "from=alice@example.com&to=%2B46812345&duration=-3",
            "duration",
        ),
        (
            "from=alice@example.com&to=%2B46812345&duration=60&at=noon",
            "at",
        ),
        ("from=alice@example.com&to=%2B19995551234&duration=60", "to"),
        ("from=alice@example.com&to=abc&duration=60", "to"),
        ("from=alice&to=%2B46812345&duration=60", "from"),
    ] {
        let (status, _, answer) = p
            .call("GET", &format!("/api/v1/rates/test?{query}"), t, None)
            .await;
        assert_eq!(status, 422, "{query}: {answer}");
        assert_eq!(answer["field"], field, "{query}: {answer}");
    }
}

#[tokio::test]
async fn invoices_are_listed_and_downloaded_as_issued_by_their_owner_only() {
    let p = Portal::start().await;
    let first = p.issue_invoice("alice", "2026-10", 1_790_812_800_000).await;
    let second = p.issue_invoice("alice", "2026-11", 1_793_491_200_000).await;
    let bobs = p.issue_invoice("bob", "2026-11", 1_793_491_200_000).await;
    let t = Some(p.admin_token.as_str());
    // Admins: all, a page at a time, or one customer's.
    let (status, _, all) = p.call("GET", "/api/v1/invoices?limit=2", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let cursor = all["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, rest) = p
        .call(
            "GET",
            &format!("/api/v1/invoices?limit=2&cursor={cursor}"),
            t,
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let (_, _, bob_only) = p
        .call("GET", "/api/v1/invoices?account=bob@example.com", t, None)
        .await;
    assert_eq!(bob_only["items"][0]["number"], bobs.as_str());
    assert_eq!(bob_only["items"].as_array().unwrap().len(), 1);
    for (path, field) in [
        ("/api/v1/invoices?account=bob", "account"),
        ("/api/v1/invoices?series=November", "series"),
        ("/api/v1/invoices?limit=5000", "limit"),
        ("/api/v1/invoices?colour=red", "colour"),
    ] {
        let (status, _, answer) = p.call("GET", path, t, None).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}");
    }
    // Alice: her own, with money in its currency's decimals.
    let a = Some(p.alice_token.as_str());
    let (status, _, mine) = p
        .call(
            "GET",
            &format!("/api/v1/subscribers/{ALICE}/invoices"),
            a,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let numbers: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [first.as_str(), second.as_str()]);
    let (status, _, one) = p
        .call("GET", &format!("/api/v1/invoices/{second}"), a, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["total"], "1.50");
    assert_eq!(one["period_start"], "2026-11-01T00:00:00.000Z");
    assert_eq!(one["period_last_day"], "2026-11-01", "the end is exclusive");
    assert_eq!(one["currency"], "EUR");
    assert_eq!(one["lines"][0]["destination"], "Sweden (+46)");
    assert_eq!(one["lines"][0]["amount"], "1.20");
    // The PDF and the page, as issued.
    let pdf = p
        .client
        .get(p.url(&format!("/api/v1/invoices/{second}.pdf")))
        .bearer_auth(&p.alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(
        pdf.headers()["content-disposition"],
        format!("attachment; filename=\"invoice-{second}.pdf\"").as_str()
    );
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let html = p
        .client
        .get(p.url(&format!("/api/v1/invoices/{second}.html")))
        .bearer_auth(&p.alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status().as_u16(), 200);
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert!(html.text().await.unwrap().contains(&second));
    // Bob's invoice is, for alice, exactly a number that does not exist.
    for suffix in ["", ".pdf", ".html"] {
        let (status, ct, theirs) = p
            .call("GET", &format!("/api/v1/invoices/{bobs}{suffix}"), a, None)
            .await;
        assert_eq!(status, 404, "{suffix}");
        assert_eq!(ct, "application/problem+json");
        let (_, _, missing) = p
            .call(
                "GET",
                &format!("/api/v1/invoices/2026-12-0042{suffix}"),
                a,
                None,
            )
            .await;
        assert_eq!(
            theirs["detail"].as_str().unwrap().replace(&bobs, "N"),
            missing["detail"]
                .as_str()
                .unwrap()
                .replace("2026-12-0042", "N")
        );
    }
    let (status, _, _) = p
        .call(
            "GET",
            "/api/v1/subscribers/bob@example.com/invoices",
            a,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = p
        .call("GET", "/api/v1/invoices/..%2Fetc.pdf", a, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn live_calls_are_listed_for_their_parties_and_ended_by_admins() {
    let fake = calls();
    let p = Portal::start_with_calls(fake.clone()).await;
    p.add_live_call("call-a", "alice", "bob", true).await;
    p.add_live_call("call-r", "bob", "carol", false).await;
    // Nobody, or a made-up token: 401 (the list is not in the matrix of cases: every
    // subscriber gets an answer, their own calls).
    for token in [None, Some("itsp_made_up")] {
        let (status, _, _) = p.call("GET", "/api/v1/calls/live", token, None).await;
        assert_eq!(status, 401);
    }
    let t = Some(p.admin_token.as_str());
    let (status, _, all) = p.call("GET", "/api/v1/calls/live", t, None).await;
    assert_eq!(status, 200);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["call_id"], "call-a");
    assert_eq!(items[0]["state"], "confirmed");
    assert!(items[0]["duration_secs"].as_i64().unwrap() >= 59, "{all}");
    assert_eq!(
        items[0]["media"]["rtp_packets"], 3000,
        "the relay's counters"
    );
    assert_eq!(items[1]["state"], "early");
    assert!(items[1]["media"].is_null());
    assert!(items[1]["answered"].is_null());
    // A subscriber sees the calls they make or take.
    let (status, _, alices) = p
        .call("GET", "/api/v1/calls/live", Some(&p.alice_token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(alices["items"].as_array().unwrap().len(), 1);
    let (_, _, bobs) = p
        .call("GET", "/api/v1/calls/live", Some(&p.bob_token), None)
        .await;
    assert_eq!(bobs["items"].as_array().unwrap().len(), 2);
    // Only admins end calls; a ringing or unknown call is 404, and nothing is ended.
    let (status, _, _) = p
        .call(
            "DELETE",
            "/api/v1/calls/live/call-a",
            Some(&p.bob_token),
            None,
        )
        .await;
    assert_eq!(status, 403);
    for id in ["call-r", "nothing"] {
        let (status, ct, answer) = p
            .call("DELETE", &format!("/api/v1/calls/live/{id}"), t, None)
            .await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(ct, "application/problem+json");
    }
    assert!(fake.ended.lock().unwrap().is_empty());
    let (status, _, _) = p.call("DELETE", "/api/v1/calls/live/call-a", t, None).await;
    assert_eq!(status, 204);
    assert_eq!(*fake.ended.lock().unwrap(), ["call-a"]);
    let (status, _, _) = p.call("GET", "/api/v1/calls/live?x=1", t, None).await;
    assert_eq!(status, 422);
    // Without a SIP server beside it, the portal says so.
    let alone = Portal::start().await;
    let (status, _, answer) = alone
        .call(
            "DELETE",
            "/api/v1/calls/live/call-a",
            Some(&alone.admin_token),
            None,
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("itsp hangup"));
}

#[tokio::test]
async fn click_to_dial_calls_the_owners_phone_first() {
    let p = Portal::start().await;
    let path = format!("/api/v1/subscribers/{ALICE}/click-to-dial");
    let alice = Some(p.alice_token.as_str());
    let body = |t: &str| Some(json!({ "target": t }));
    // Nobody: 401.
    let (status, _, _) = p.call("POST", &path, None, body("bob")).await;
    assert_eq!(status, 401);
    // No phone of alice registered: 409, with why.
    let (status, ct, answer) = p.call("POST", &path, alice, body("bob")).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(ct, "application/problem+json");
    assert!(answer["detail"].as_str().unwrap().contains("registered"));
    p.register("alice", "sip:alice@192.0.2.9:5060", false, "Phone/1.0")
        .await;
    // Her own: 202 with the Call-ID of the call to the target.
    let (status, _, answer) = p.call("POST", &path, alice, body(" bob ")).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["call_id"], "c2d-b-1");
    assert_eq!(answer["caller_call_id"], "c2d-a-1");
    assert_eq!(answer["target"], "sip:bob@example.com");
    assert_eq!(answer["state"], "calling");
    // A number and a SIP URI.
    let (status, _, answer) = p.call("POST", &path, alice, body("+49 30 1234")).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["target"], "sip:+49301234@example.com");
    let (status, _, _) = p
        .call("POST", &path, alice, body("sip:carol@other.example"))
        .await;
    assert_eq!(status, 202);
    // Another subscriber asking for alice: 404, as for nobody there; nothing placed.
    let (status, ct, answer) = p.call("POST", &path, Some(&p.bob_token), body("bob")).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(ct, "application/problem+json");
    // A bad target: 422 naming `target`; nothing placed.
    for bad in ["", "sip:example.com", "bob\r\nX: y", "alice", "tel:abc"] {
        let (status, ct, answer) = p.call("POST", &path, alice, body(bad)).await;
        assert_eq!(status, 422, "{bad}: {answer}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(answer["field"], "target", "{bad}");
    }
    let (status, _, answer) = p
        .call("POST", &path, alice, Some(json!({"target": "bob", "x": 1})))
        .await;
    assert_eq!(status, 422, "{answer}");
    // An admin for alice.
    let (status, _, _) = p
        .call("POST", &path, Some(&p.admin_token), body("bob"))
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        *p.dialer.dialled.lock().unwrap(),
        [
            (ALICE.into(), "sip:bob@example.com".into(), "bob".into()),
            (
                ALICE.into(),
                "sip:+49301234@example.com".into(),
                "+49301234".into()
            ),
            (
                ALICE.into(),
                "sip:carol@other.example".into(),
                "carol@other.example".into()
            ),
            (ALICE.into(), "sip:bob@example.com".into(), "bob".into()),
        ]
    );
    // A disabled subscriber: 409. The media service off: 503.
    let (status, _, _) = p
        .call(
            "PATCH",
            &format!("/api/v1/subscribers/{ALICE}"),
            Some(&p.admin_token),
            Some(json!({"disabled": true})),
        )
        .await;
    assert!((200..300).contains(&status));
    let (status, _, _) = p
        .call("POST", &path, Some(&p.admin_token), body("bob"))
        .await;
    assert_eq!(status, 409);
    let (status, _, _) = p
        .call(
            "PATCH",
            &format!("/api/v1/subscribers/{ALICE}"),
            Some(&p.admin_token),
            Some(json!({"disabled": false})),
        )
        .await;
    assert!((200..300).contains(&status));
    p.register("alice", "sip:alice@192.0.2.9:5060", false, "Phone/1.0")
        .await;
    p.dialer
        .busy
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, ct, answer) = p.call("POST", &path, alice, body("bob")).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(ct, "application/problem+json");
    p.dialer
        .off
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, ct, answer) = p.call("POST", &path, alice, body("bob")).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(ct, "application/problem+json");
}

#[tokio::test]
async fn a_cgrates_tariff_plan_prices_each_subscriber_by_their_profile() {
    let p = Portal::start().await;
    let t = Some(p.admin_token.as_str());
    let file = |name: &str, content: &str| json!({"name": name, "content": content});
    let mut files = vec![
        file("Destinations.csv", "#Id,Prefix\nDST_SE,+46\n"),
        file(
            "Rates.csv",
            "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n\
             RT_RETAIL,0,0.60,60s,60s,0s\nRT_CHEAP,0,0.06,60s,1s,0s\n",
        ),
        file(
            "DestinationRates.csv",
            "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n\
             DR_RETAIL,DST_SE,RT_RETAIL,*up,4,0,\nDR_CHEAP,DST_SE,RT_CHEAP,*up,4,0,\n",
        ),
        file("Timings.csv", "#Tag,Years,Months,MonthDays,WeekDays,Time\n"),
        file(
            "RatingPlans.csv",
            "#Id,DestinationRatesId,TimingTag,Weight\n\
             RP_RETAIL,DR_RETAIL,*any,10\nRP_CHEAP,DR_CHEAP,*any,10\n",
        ),
        file(
            "RatingProfiles.csv",
            "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n\
             example.com,call,*any,2026-01-01T00:00:00Z,RP_RETAIL,\n\
             example.com,call,bob,2026-01-01T00:00:00Z,RP_CHEAP,\n",
        ),
    ];
    // A plan name is for native files; mixing formats is refused; nothing stored.
    let (status, _, answer) = p
        .call(
            "POST",
            "/api/v1/rates",
            t,
            Some(json!({"plan": "x", "files": files})),
        )
        .await;
    assert_eq!((status, answer["field"].as_str()), (422, Some("plan")));
    let mut mixed = files.clone();
    mixed.push(file("rates.csv", common::TARIFF));
    let (status, _, answer) = p
        .call("POST", "/api/v1/rates", t, Some(json!({"files": mixed})))
        .await;
    assert_eq!((status, answer["field"].as_str()), (422, Some("files")));
    assert!(p.store.tariff_files().await.unwrap().is_empty());
    let (status, _, done) = p
        .call(
            "POST",
            "/api/v1/rates",
            t,
            Some(json!({"files": files.clone()})),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["format"], "cgrates");
    assert_eq!(done["plans"], json!(["RP_CHEAP", "RP_RETAIL"]));
    // Each subscriber's own price: bob by the second, alice by the minute.
    let price = |token: String, user: &'static str| {
        let p = &p;
        async move {
            let (status, _, v) = p
                .call(
                    "GET",
                    &format!("/api/v1/rates/test?from={user}@example.com&to=%2B4670123&at=2026-12-04T10:00:00Z&duration=90"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{v}");
            (
                v["plan"].as_str().unwrap().to_owned(),
                v["total"].as_str().unwrap().to_owned(),
            )
        }
    };
    assert_eq!(
        price(p.alice_token.clone(), "alice").await,
        ("RP_RETAIL".to_owned(), "1.20".to_owned())
    );
    assert_eq!(
        price(p.bob_token.clone(), "bob").await,
        ("RP_CHEAP".to_owned(), "0.09".to_owned())
    );
    // A bad line in one of the six files: named with its file and line.
    files[1] = file(
        "Rates.csv",
        "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_RETAIL,0,lots,60s,60s,0s\n",
    );
    let (status, _, answer) = p
        .call("POST", "/api/v1/rates", t, Some(json!({"files": files})))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"][0]["file"], "Rates.csv", "{answer}");
    assert_eq!(answer["errors"][0]["line"], 2, "{answer}");
    let (_, _, still) = p.call("GET", "/api/v1/rates", t, None).await;
    assert_eq!(
        still["plans"].as_array().unwrap().len(),
        2,
        "the old plans stay"
    );
}

#[tokio::test]
async fn a_large_tariff_is_accepted_past_the_api_s_usual_body_limit() {
    let p = Portal::start().await;
    let mut csv = String::from("prefix,description,connect_fee,rate_per_min,initial,increment\n");
    for n in 0..6000 {
        csv.push_str(&format!("4{n:05},Destination {n},0,0.10,60,60\n"));
    }
    assert!(csv.len() > portal::MAX_BODY_BYTES);
    let (status, _, done) = p
        .call(
            "POST",
            "/api/v1/rates",
            Some(&p.admin_token),
            Some(json!({"files": [{"name": "big.csv", "content": csv}]})),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["prefixes"], 6000);
    let (status, _, page) = p
        .call("GET", "/api/v1/rates", Some(&p.admin_token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    assert_eq!(page["next_cursor"], "100");
}

#[tokio::test]
async fn admins_set_accounts_and_disable_subscribers() {
    let p = Portal::start().await;
    let a = format!("/api/v1/subscribers/{ALICE}");
    let admin = Some(p.admin_token.as_str());

    // Accounts: opened, changed, bad fields named, closed only at zero.
    let (status, _, body) = p
        .call(
            "PUT",
            &format!("{a}/account"),
            admin,
            Some(json!({"kind": "prepaid"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "prepaid");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["balance"], "0.00");
    assert!(body["plan"].is_null());
    let (status, _, body) = p
        .call(
            "PUT",
            &format!("{a}/account"),
            admin,
            Some(json!({"kind": "postpaid", "plan": "gold"})),
        )
        .await;
    assert_eq!(
        (status, &body["kind"], &body["plan"]),
        (200, &json!("postpaid"), &json!("gold"))
    );
    for (bad, field) in [
        (json!({"kind": "credit"}), "kind"),
        (json!({"kind": "prepaid", "currency": "euro"}), "currency"),
        (json!({"kind": "prepaid", "plan": "a\u{7}b"}), "plan"),
        (json!({"kind": "prepaid", "colour": 1}), "colour"),
        (json!({}), "kind"),
    ] {
        let (status, ct, body) = p
            .call("PUT", &format!("{a}/account"), admin, Some(bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    let (_, _, body) = p.call("GET", &format!("{a}/account"), admin, None).await;
    assert_eq!(
        (&body["kind"], &body["plan"]),
        (&json!("postpaid"), &json!("gold")),
        "unchanged"
    );
    let (status, _, _) = p
        .call(
            "POST",
            &format!("{a}/account/topups"),
            admin,
            Some(json!({"amount": "5.00", "note": "receipt 7"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, body) = p
        .call(
            "PUT",
            &format!("{a}/account"),
            admin,
            Some(json!({"kind": "prepaid", "currency": "SEK"})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (409, &json!("currency")),
        "{body}"
    );
    let (status, _, _) = p.call("DELETE", &format!("{a}/account"), admin, None).await;
    assert_eq!(status, 409, "the balance is not zero");
    let (status, _, _) = p
        .call(
            "DELETE",
            "/api/v1/subscribers/bob@example.com/account",
            admin,
            None,
        )
        .await;
    assert_eq!(status, 404, "bob has no account");
    let (status, _, _) = p
        .call(
            "PUT",
            "/api/v1/subscribers/nobody@example.com/account",
            admin,
            Some(json!({"kind": "prepaid"})),
        )
        .await;
    assert_eq!(status, 404);

    // Disabling: alice's token stops working, then works again once enabled.
    let (status, _, _) = p.call("GET", &a, Some(&p.alice_token), None).await;
    assert_eq!(status, 200);
    let (status, _, body) = p
        .call("PATCH", &a, admin, Some(json!({"disabled": true})))
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, _, body) = p.call("GET", &a, admin, None).await;
    assert_eq!(body["disabled"], true);
    assert!(p
        .store
        .credentials("alice", DOMAIN)
        .await
        .unwrap()
        .is_none());
    let (status, _, _) = p.call("GET", &a, Some(&p.alice_token), None).await;
    assert_eq!(status, 401, "a disabled subscriber's token is refused");
    let (status, _, body) = p
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"address": ALICE, "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (_, _, list) = p.call("GET", "/api/v1/subscribers", admin, None).await;
    let listed = list["items"].as_array().unwrap();
    assert!(listed
        .iter()
        .any(|s| s["address"] == ALICE && s["disabled"] == true));
    let (status, _, body) = p
        .call("PATCH", &a, admin, Some(json!({"disabled": "yes"})))
        .await;
    assert_eq!((status, &body["field"]), (422, &json!("disabled")));
    let (status, _, _) = p
        .call("PATCH", &a, admin, Some(json!({"disabled": false})))
        .await;
    assert_eq!(status, 204);
    assert!(p
        .store
        .credentials("alice", DOMAIN)
        .await
        .unwrap()
        .is_some());
    let (status, _, _) = p.call("GET", &a, Some(&p.alice_token), None).await;
    assert_eq!(status, 200);
    // Bob cannot disable himself either.
    let (status, _, _) = p
        .call(
            "PATCH",
            "/api/v1/subscribers/bob@example.com",
            Some(&p.bob_token),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn subscribers_set_voicemail_settings_and_their_web_password_with_the_old_one() {
    let p = Portal::start().await;
    let a = format!("/api/v1/subscribers/{ALICE}");
    let alice = Some(p.alice_token.as_str());
    let (status, _, body) = p.call("GET", &format!("{a}/settings"), alice, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["voicemail"], false);
    assert_eq!(body["vm_delivery"], "store");
    assert!(body["vm_email"].is_null());
    assert_eq!(body["vm_pin_set"], false);
    let (status, _, body) = p
        .call(
            "PUT",
            &format!("{a}/settings"),
            alice,
            Some(json!({"voicemail": true, "vm_delivery": "Email", "vm_email": "alice@mail.example"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["voicemail"], true);
    assert_eq!(body["vm_delivery"], "email");
    assert_eq!(body["vm_email"], "alice@mail.example");
    let prefs = p.store.preferences("alice", DOMAIN).await.unwrap();
    assert_eq!(prefs.get("voicemail").map(String::as_str), Some("on"));
    assert_eq!(prefs.get("vm-delivery").map(String::as_str), Some("email"));
    // Bad values name their member and change nothing.
    for (bad, field) in [
        (
            json!({"voicemail": false, "vm_delivery": "fax"}),
            "vm_delivery",
        ),
        (json!({"voicemail": false, "vm_email": "nope"}), "vm_email"),
        (json!({"voicemail": false, "vm_pin": "12a"}), "vm_pin"),
        (json!({"voicemail": "on"}), "voicemail"),
        (json!({"voicemail": true, "ringtone": 1}), "ringtone"),
    ] {
        let (status, ct, body) = p
            .call("PUT", &format!("{a}/settings"), alice, Some(bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    assert_eq!(p.store.preferences("alice", DOMAIN).await.unwrap(), prefs);
    // Absent members go back to the defaults.
    let (status, _, body) = p
        .call("PUT", &format!("{a}/settings"), alice, Some(json!({})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["voicemail"], &body["vm_delivery"]),
        (&json!(false), &json!("store"))
    );
    assert!(body["vm_email"].is_null());
    // Bob does not see or change alice's.
    let (status, _, _) = p
        .call(
            "PUT",
            &format!("{a}/settings"),
            Some(&p.bob_token),
            Some(json!({"voicemail": true})),
        )
        .await;
    assert_eq!(status, 404);

    // The web password: the current one is required of the subscriber.
    let (status, _, body) = p
        .call(
            "PATCH",
            &a,
            alice,
            Some(json!({"web_password": "new-web-pw"})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (422, &json!("current_password")),
        "{body}"
    );
    let (status, _, body) = p
        .call(
            "PATCH",
            &a,
            alice,
            Some(json!({"web_password": "new-web-pw", "current_password": "wrong"})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (422, &json!("current_password")),
        "{body}"
    );
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, common::PASSWORD)
        .await
        .unwrap()
        .is_some());
    let (status, _, _) = p
        .call(
            "PATCH",
            &a,
            alice,
            Some(json!({"web_password": "new-web-pw", "current_password": common::PASSWORD})),
        )
        .await;
    assert_eq!(status, 204);
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, "new-web-pw")
        .await
        .unwrap()
        .is_some());
    // The SIP password alone needs no web password; an admin needs none.
    let before = p.store.credentials("alice", DOMAIN).await.unwrap();
    let (status, _, _) = p
        .call(
            "PATCH",
            &a,
            alice,
            Some(json!({"sip_password": "new-sip-pw"})),
        )
        .await;
    assert_eq!(status, 204);
    assert_ne!(p.store.credentials("alice", DOMAIN).await.unwrap(), before);
    let (status, _, _) = p
        .call(
            "PATCH",
            &a,
            Some(&p.admin_token),
            Some(json!({"web_password": "reset-by-admin"})),
        )
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn every_admin_change_is_in_the_audit_log_without_secrets() {
    let p = Portal::start().await;
    let admin = Some(p.admin_token.as_str());
    let a = format!("/api/v1/subscribers/{ALICE}");
    let (status, _, body) = p.call("GET", "/api/v1/audit", admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));
    // Three admin changes, one refused (not recorded), a subscriber's own change (not an
    // admin's: not recorded) and reads (not changes).
    p.call(
        "POST",
        "/api/v1/domains",
        admin,
        Some(json!({"name": "voip.example"})),
    )
    .await;
    p.call("PUT", &format!("{a}/groups/int"), admin, None).await;
    let (status, _, _) = p
        .call(
            "PATCH",
            &a,
            admin,
            Some(json!({"password": "n3w-secret-pw", "disabled": false})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = p
        .call(
            "POST",
            "/api/v1/domains",
            admin,
            Some(json!({"name": "not a domain"})),
        )
        .await;
    assert_eq!(status, 422);
    p.call(
        "PUT",
        &format!("{a}/forwarding"),
        Some(&p.alice_token),
        Some(json!({"busy": "sip:bob@example.com"})),
    )
    .await;
    p.call("GET", "/api/v1/subscribers", admin, None).await;

    let (status, _, body) = p.call("GET", "/api/v1/audit", admin, None).await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            format!("PATCH {a}").as_str(),
            format!("PUT {a}/groups/int").as_str(),
            "POST /api/v1/domains",
        ],
        "newest first: {body}"
    );
    let newest = &items[0];
    assert!(
        newest["actor"].as_str().unwrap().starts_with("token "),
        "{newest}"
    );
    assert_eq!(newest["source"], "127.0.0.1");
    assert_eq!(newest["status"], 204);
    assert!(newest["at"].as_str().unwrap().ends_with('Z'));
    let detail = newest["detail"].as_str().unwrap();
    assert!(
        detail.contains("disabled") && detail.contains("(hidden)"),
        "{detail}"
    );
    assert!(
        !body.to_string().contains("n3w-secret-pw"),
        "no password in the log"
    );
    assert!(items[2]["detail"]
        .as_str()
        .unwrap()
        .contains("voip.example"));

    // Pages by cursor, filters, bad parameters.
    let (_, _, page1) = p.call("GET", "/api/v1/audit?limit=2", admin, None).await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, page2) = p
        .call(
            "GET",
            &format!("/api/v1/audit?limit=2&cursor={cursor}"),
            admin,
            None,
        )
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["action"], "POST /api/v1/domains");
    assert!(page2["next_cursor"].is_null());
    let (_, _, none) = p
        .call(
            "GET",
            "/api/v1/audit?actor=someone@example.com",
            admin,
            None,
        )
        .await;
    assert_eq!(none["items"], json!([]));
    let actor = newest["actor"].as_str().unwrap().replace(' ', "%20");
    let (_, _, mine) = p
        .call(
            "GET",
            &format!("/api/v1/audit?actor={actor}&since=2000-01-01"),
            admin,
            None,
        )
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    let (_, _, later) = p
        .call("GET", "/api/v1/audit?since=2999-01-01", admin, None)
        .await;
    assert_eq!(later["items"], json!([]));
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=x", "until"),
        ("limit=0", "limit"),
        ("cursor=abc", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, _, body) = p
            .call("GET", &format!("/api/v1/audit?{query}"), admin, None)
            .await;
        assert_eq!(
            (status, &body["field"]),
            (422, &json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _, _) = p
        .call("GET", "/api/v1/audit", Some(&p.alice_token), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn wrong_current_passwords_are_limited_like_logins() {
    let p = Portal::start().await;
    let a = format!("/api/v1/subscribers/{ALICE}");
    let alice = Some(p.alice_token.as_str());
    let change = |current: &str| json!({"web_password": "new-web-pw", "current_password": current});
    for _ in 0..10 {
        let (status, _, body) = p.call("PATCH", &a, alice, Some(change("guess"))).await;
        assert_eq!(status, 422, "{body}");
    }
    // Refused now even with the right one, without the password being checked.
    let (status, ct, body) = p
        .call("PATCH", &a, alice, Some(change(common::PASSWORD)))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert!(body["detail"].as_str().unwrap().contains("try again in"));
    // With the seconds the guard still refuses (RFC 9110 §10.2.3): the 5-minute ban.
    let resp = p
        .client
        .patch(p.url(&a))
        .bearer_auth(&p.alice_token)
        .json(&change(common::PASSWORD))
        .send()
        .await
        .unwrap();
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
    assert!(p
        .store
        .check_web_login("alice", DOMAIN, common::PASSWORD)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_voicemail_pin_is_set_but_never_shown() {
    let p = Portal::start().await;
    let a = format!("/api/v1/subscribers/{ALICE}/settings");
    let alice = Some(p.alice_token.as_str());
    let put = |body: serde_json::Value| p.call("PUT", &a, alice, Some(body));
    let (status, _, body) = put(json!({"voicemail": true, "vm_pin": "0042"})).await;
    if !portal::api::settings::pin_supported() {
        // A store without the vm-pin preference: the field is refused, by name.
        assert_eq!((status, &body["field"]), (422, &json!("vm_pin")), "{body}");
        assert_eq!(body["detail"], "this server has no voicemail PINs");
        let (_, _, body) = p.call("GET", &a, alice, None).await;
        assert_eq!(body["vm_pin_supported"], false);
        return;
    }
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["vm_pin_set"], &body["vm_pin_supported"]),
        (&json!(true), &json!(true))
    );
    assert!(!body.to_string().contains("0042"), "the PIN is never shown");
    let prefs = p.store.preferences("alice", DOMAIN).await.unwrap();
    assert_eq!(prefs.get("vm-pin").map(String::as_str), Some("0042"));
    // Absent: kept. Bad: refused by name, without echoing it. Empty: removed.
    let (_, _, body) = put(json!({"voicemail": true})).await;
    assert_eq!(body["vm_pin_set"], true);
    let (status, _, body) = put(json!({"voicemail": true, "vm_pin": "12x"})).await;
    assert_eq!((status, &body["field"]), (422, &json!("vm_pin")), "{body}");
    assert!(!body["detail"].as_str().unwrap().contains("12x"), "{body}");
    let (_, _, body) = put(json!({"voicemail": true, "vm_pin": ""})).await;
    assert_eq!(body["vm_pin_set"], false);
    assert!(!p
        .store
        .preferences("alice", DOMAIN)
        .await
        .unwrap()
        .contains_key("vm-pin"));
}

/// The format of a WAV file's header: (sample rate, channels, bits per sample, data bytes).
fn wav_format(wav: &[u8]) -> (u32, u16, u16, usize) {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    let channels = u16::from_le_bytes([wav[22], wav[23]]);
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]);
    let bits = u16::from_le_bytes([wav[34], wav[35]]);
    assert_eq!(&wav[36..40], b"data");
    (rate, channels, bits, wav.len() - 44)
}

#[tokio::test]
async fn a_greeting_upload_is_converted_replaces_the_default_and_is_removed() {
    let p = Portal::start().await;
    let path = format!("/api/v1/subscribers/{ALICE}/greeting");
    let alice = (Some(p.alice_token.as_str()), None);
    // None yet: callers hear the default.
    let (status, _, body) = p.call("GET", &path, Some(&p.alice_token), None).await;
    assert_eq!(status, 404, "{body}");
    // Two seconds of 440 Hz, 16 kHz stereo: stored as 8 kHz mono 16-bit.
    let upload = common::tone_wav(16_000, 2, 2000, 440.0);
    let (status, ct, body) = p.send_bytes("PUT", &path, alice, "audio/wav", upload).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("application/json"));
    let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(view["personal"], true);
    let ms = view["duration_ms"].as_u64().unwrap();
    assert!((1990..=2010).contains(&ms), "{view}");
    let (status, ct, wav) = p
        .send_bytes("GET", &path, alice, "text/plain", Vec::new())
        .await;
    assert_eq!((status, ct.as_str()), (200, "audio/wav"));
    let (rate, channels, bits, data) = wav_format(&wav);
    assert_eq!((rate, channels, bits), (8000, 1, 16));
    assert!((31_800..=32_200).contains(&data), "{data} bytes");
    let file = p.voicemail_dir.join("example.com/alice/greeting.wav");
    assert_eq!(std::fs::read(&file).unwrap(), wav);
    // The same through multipart/form-data (what the browser form sends).
    let form = common::multipart(&[(
        "greeting",
        Some("hello.wav"),
        &common::tone_wav(8000, 1, 1000, 700.0),
    )]);
    let (status, _, body) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            &format!("multipart/form-data; boundary={}", common::BOUNDARY),
            form,
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(view["duration_ms"], 1000);
    // Removed: the default again; removing none is no error.
    for _ in 0..2 {
        let (status, _, _) = p.call("DELETE", &path, Some(&p.alice_token), None).await;
        assert_eq!(status, 204);
    }
    assert!(!file.exists());
    let (status, _, _) = p.call("GET", &path, Some(&p.alice_token), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_bad_greeting_is_a_problem_naming_the_field_and_changes_nothing() {
    let p = Portal::start().await;
    let path = format!("/api/v1/subscribers/{ALICE}/greeting");
    let alice = (Some(p.alice_token.as_str()), None);
    let problem = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap();
    // Not a WAV file.
    let (status, ct, body) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            "audio/wav",
            b"GIF89a not audio".to_vec(),
        )
        .await;
    assert_eq!((status, ct.as_str()), (422, "application/problem+json"));
    let pb = problem(&body);
    assert_eq!(pb["field"], "greeting", "{pb}");
    assert!(
        pb["detail"].as_str().unwrap().contains("not a WAV file"),
        "{pb}"
    );
    // Another media type.
    let (status, _, body) = p
        .send_bytes("PUT", &path, alice, "image/png", common::wav(8000))
        .await;
    assert_eq!(status, 415);
    assert_eq!(problem(&body)["field"], "greeting");
    // Too long: 61 s.
    let (status, _, body) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            "audio/wav",
            common::tone_wav(8000, 1, 61_000, 440.0),
        )
        .await;
    assert_eq!(status, 422);
    let pb = problem(&body);
    assert_eq!(pb["field"], "greeting");
    assert!(
        pb["detail"].as_str().unwrap().contains("at most 60 s"),
        "{pb}"
    );
    // Too big: over 5 MiB, raw and in a form.
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    let (status, ct, body) = p
        .send_bytes("PUT", &path, alice, "audio/wav", big.clone())
        .await;
    assert_eq!((status, ct.as_str()), (413, "application/problem+json"));
    assert_eq!(problem(&body)["field"], "greeting");
    let form = common::multipart(&[("greeting", Some("big.wav"), &big)]);
    let (status, _, body) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            &format!("multipart/form-data; boundary={}", common::BOUNDARY),
            form,
        )
        .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(problem(&body)["field"], "greeting");
    // An empty form, a broken one.
    let (status, _, body) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            &format!("multipart/form-data; boundary={}", common::BOUNDARY),
            common::multipart(&[("greeting", Some("none.wav"), b"")]),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem(&body)["field"], "greeting");
    let (status, _, _) = p
        .send_bytes(
            "PUT",
            &path,
            alice,
            &format!("multipart/form-data; boundary={}", common::BOUNDARY),
            b"--nothing like it".to_vec(),
        )
        .await;
    assert!(matches!(status, 400 | 422), "{status}");
    // Nothing was stored.
    let (status, _, _) = p.call("GET", &path, Some(&p.alice_token), None).await;
    assert_eq!(status, 404);
    assert!(!p.voicemail_dir.join("example.com/alice").exists());
}

#[tokio::test]
async fn a_greeting_is_its_owners_and_any_admins() {
    let p = Portal::start().await;
    let path = format!("/api/v1/subscribers/{ALICE}/greeting");
    let tone = common::tone_wav(8000, 1, 1000, 440.0);
    // Nobody, then bob: 401, then 404 as for a missing subscriber; nothing stored.
    let (status, _, _) = p
        .send_bytes("PUT", &path, (None, None), "audio/wav", tone.clone())
        .await;
    assert_eq!(status, 401);
    let bob = (Some(p.bob_token.as_str()), None);
    for method in ["PUT", "GET", "DELETE"] {
        let (status, _, body) = p
            .send_bytes(method, &path, bob, "audio/wav", tone.clone())
            .await;
        assert_eq!(status, 404, "{method}: {}", String::from_utf8_lossy(&body));
    }
    assert!(!p.voicemail_dir.join("example.com/alice").exists());
    // An admin sets and reads alice's.
    let admin = (Some(p.admin_token.as_str()), None);
    let (status, _, _) = p
        .send_bytes("PUT", &path, admin, "audio/wav", tone.clone())
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = p.call("GET", &path, Some(&p.admin_token), None).await;
    assert_eq!(status, 200);
    // Bob still cannot remove it; a subscriber that does not exist is 404 to an admin.
    let (status, _, _) = p.call("DELETE", &path, Some(&p.bob_token), None).await;
    assert_eq!(status, 404);
    assert!(p
        .voicemail_dir
        .join("example.com/alice/greeting.wav")
        .exists());
    let (status, _, _) = p
        .send_bytes(
            "PUT",
            "/api/v1/subscribers/nobody@example.com/greeting",
            admin,
            "audio/wav",
            tone,
        )
        .await;
    assert_eq!(status, 404);
}

fn signup(user: &str, email: &str, password: &str) -> serde_json::Value {
    json!({ "user": user, "email": email, "password": password })
}

#[tokio::test]
async fn self_registration_is_off_by_default_and_needs_e_mail() {
    let p = Portal::start().await;
    let body = signup("dave", "dave@mail.example", "a-long-password");
    let (status, ct, pb) = p
        .call("POST", "/api/v1/signup", None, Some(body.clone()))
        .await;
    assert_eq!(
        (status, ct.as_str()),
        (404, "application/problem+json"),
        "{pb}"
    );
    // An admin turns it on (a subscriber may not); the list shows it.
    let on = Some(json!({"self_registration": true}));
    let path = format!("/api/v1/domains/{DOMAIN}");
    let (status, _, _) = p
        .call("PATCH", &path, Some(&p.alice_token), on.clone())
        .await;
    assert_eq!(status, 403);
    let (status, _, view) = p
        .call("PATCH", &path, Some(&p.admin_token), on.clone())
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view, json!({"name": DOMAIN, "self_registration": true}));
    let (status, _, pb) = p
        .call(
            "PATCH",
            "/api/v1/domains/other.example",
            Some(&p.admin_token),
            on,
        )
        .await;
    assert_eq!(status, 404, "{pb}");
    let (_, _, list) = p
        .call("GET", "/api/v1/domains", Some(&p.admin_token), None)
        .await;
    assert_eq!(list[0]["self_registration"], true, "{list}");
    // On, but this portal sends no e-mail: nothing can be confirmed.
    let (status, _, pb) = p.call("POST", "/api/v1/signup", None, Some(body)).await;
    assert_eq!(status, 503, "{pb}");
    assert!(p.store.subscriber("dave", DOMAIN).await.unwrap().is_none());
}

#[tokio::test]
async fn a_sign_up_checks_every_field_and_says_when_a_name_is_taken() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store.set_self_registration(DOMAIN, true).await.unwrap();
    // Nine requests: under the guard's ten a minute.
    for (body, status, field) in [
        (
            signup("4686", "d@mail.example", "a-long-password"),
            422,
            "user",
        ),
        (
            signup("echo", "d@mail.example", "a-long-password"),
            422,
            "user",
        ),
        (
            signup("da ve", "d@mail.example", "a-long-password"),
            422,
            "user",
        ),
        (
            signup("dave", "not-an-address", "a-long-password"),
            422,
            "email",
        ),
        (signup("dave", "d@mail.example", "short"), 422, "password"),
        (
            signup("alice", "d@mail.example", "a-long-password"),
            409,
            "user",
        ),
        (
            json!({"user": "dave", "domain": "other.example", "email": "d@mail.example", "password": "a-long-password"}),
            404,
            "domain",
        ),
    ] {
        let (s, ct, pb) = p
            .call("POST", "/api/v1/signup", None, Some(body.clone()))
            .await;
        assert_eq!(
            (s, ct.as_str()),
            (status, "application/problem+json"),
            "{body}: {pb}"
        );
        assert_eq!(pb["field"], field, "{body}: {pb}");
    }
    let (status, _, started) = p
        .call(
            "POST",
            "/api/v1/signup",
            None,
            Some(signup("dave", "dave@mail.example", "a-long-password")),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["address"], "dave@example.com");
    assert!(started["expires"].as_str().unwrap().ends_with('Z'));
    // Mailed, not made: the name is still free until the link is followed.
    assert_eq!(
        p.store.signups_since("dave@mail.example", 0).await.unwrap(),
        1
    );
    assert!(p.store.subscriber("dave", DOMAIN).await.unwrap().is_none());
    // The visitor's steps are in the audit log.
    let (_, _, log) = p
        .call(
            "GET",
            "/api/v1/audit?actor=dave@example.com",
            Some(&p.admin_token),
            None,
        )
        .await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(items[0]["action"], "POST /api/v1/signup");
    assert!(!items[0]["detail"]
        .as_str()
        .unwrap()
        .contains("a-long-password"));
}

#[tokio::test]
async fn sign_ups_are_limited_per_source_and_per_e_mail_address() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store.set_self_registration(DOMAIN, true).await.unwrap();
    let mut statuses = Vec::new();
    for i in 0..11 {
        let body = signup(&format!("user{i}"), "same@mail.example", "a-long-password");
        let (status, _, pb) = p.call("POST", "/api/v1/signup", None, Some(body)).await;
        if status == 429 && i < 10 {
            assert_eq!(pb["field"], "email", "{pb}");
        }
        statuses.push(status);
    }
    // Three links a day to one mailbox, then 429 naming `email`; the eleventh request
    // from one address in a minute is refused unchecked.
    assert_eq!(&statuses[..4], [202, 202, 202, 429]);
    assert_eq!(statuses[10], 429);
    let resp = p
        .client
        .post(p.url("/api/v1/signup"))
        .json(&signup("zed", "zed@mail.example", "a-long-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn a_confirmed_sign_up_is_an_account_with_a_sip_password_shown_once() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store.set_self_registration(DOMAIN, true).await.unwrap();
    let dave = store::Address::new("dave", DOMAIN).unwrap();
    let secret = p
        .store
        .create_signup(
            &dave,
            "dave@mail.example",
            "dave-web-pw",
            1_000,
            3_600_000_000_000,
        )
        .await
        .unwrap();
    assert!(secret.starts_with(store::SIGNUP_PREFIX));
    let (status, _, pb) = p
        .call(
            "POST",
            "/api/v1/signup/confirm",
            None,
            Some(json!({"token": "itsps_0"})),
        )
        .await;
    assert_eq!((status, &pb["field"]), (422, &json!("token")), "{pb}");
    // A greeting an earlier dave left behind (his files outlived his rows).
    let old = p.voicemail_dir.join("example.com/dave/greeting.wav");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, common::wav(800)).unwrap();
    let (status, _, created) = p
        .call(
            "POST",
            "/api/v1/signup/confirm",
            None,
            Some(json!({"token": secret})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["address"], "dave@example.com");
    let sip = created["sip_password"].as_str().unwrap();
    assert_eq!(sip.len(), store::SIP_PASSWORD_LEN);
    assert!(
        !old.exists(),
        "the new dave is not greeted with the old one's greeting"
    );
    // Once.
    let (status, _, _) = p
        .call(
            "POST",
            "/api/v1/signup/confirm",
            None,
            Some(json!({"token": secret})),
        )
        .await;
    assert_eq!(status, 422);
    // The account: enabled, its e-mail, the web password logs in, the SIP password is
    // the digest's.
    let s = p.store.subscriber("dave", DOMAIN).await.unwrap().unwrap();
    assert!(!s.disabled);
    assert_eq!(s.email.as_deref(), Some("dave@mail.example"));
    assert_eq!(
        s.ha1.md5,
        sip::auth::ha1(sip::auth::Algorithm::Md5, "dave", DOMAIN, sip)
    );
    let (status, _, session) = p
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"address": "dave@example.com", "password": "dave-web-pw"})),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["admin"], false);
    let (_, _, log) = p
        .call(
            "GET",
            "/api/v1/audit?actor=dave@example.com",
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(
        log["items"][0]["action"], "POST /api/v1/signup/confirm",
        "{log}"
    );
    // A link for a name taken meanwhile, or in a domain that stopped sign-ups, makes nothing.
    let again = p
        .store
        .create_signup(
            &store::Address::new("erin", DOMAIN).unwrap(),
            "erin@mail.example",
            "erin-web-pw",
            1_000,
            3_600_000_000_000,
        )
        .await
        .unwrap();
    p.store.set_self_registration(DOMAIN, false).await.unwrap();
    let (status, _, pb) = p
        .call(
            "POST",
            "/api/v1/signup/confirm",
            None,
            Some(json!({"token": again})),
        )
        .await;
    assert_eq!(status, 404, "{pb}");
    assert!(p.store.subscriber("erin", DOMAIN).await.unwrap().is_none());
}

#[tokio::test]
async fn an_admin_sets_the_e_mail_address_through_the_api() {
    let p = Portal::start().await;
    let path = format!("/api/v1/subscribers/{ALICE}");
    let (status, _, pb) = p
        .call(
            "PATCH",
            &path,
            Some(&p.alice_token),
            Some(json!({"email": "a@mail.example"})),
        )
        .await;
    assert_eq!(status, 403, "{pb}");
    let (status, _, pb) = p
        .call(
            "PATCH",
            &path,
            Some(&p.admin_token),
            Some(json!({"email": "nope"})),
        )
        .await;
    assert_eq!((status, &pb["field"]), (422, &json!("email")), "{pb}");
    let (status, _, _) = p
        .call(
            "PATCH",
            &path,
            Some(&p.admin_token),
            Some(json!({"email": "a@mail.example"})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, _, d) = p.call("GET", &path, Some(&p.admin_token), None).await;
    assert_eq!(d["email"], "a@mail.example", "{d}");
    let (status, _, _) = p
        .call(
            "PATCH",
            &path,
            Some(&p.admin_token),
            Some(json!({"email": ""})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, _, d) = p.call("GET", &path, Some(&p.admin_token), None).await;
    assert_eq!(d["email"], serde_json::Value::Null, "{d}");
}

#[tokio::test]
async fn removing_a_subscriber_removes_their_greeting() {
    let p = Portal::start().await;
    p.add_voicemail("bob", "sip:alice@example.com", 1_790_000_000_000)
        .await;
    let bob = (Some(p.bob_token.as_str()), None);
    let (status, _, _) = p
        .send_bytes(
            "PUT",
            "/api/v1/subscribers/bob@example.com/greeting",
            bob,
            "audio/wav",
            common::tone_wav(8000, 1, 1000, 440.0),
        )
        .await;
    assert_eq!(status, 200);
    let folder = p.voicemail_dir.join("example.com/bob");
    assert!(folder.join("greeting.wav").is_file());
    let (status, _, _) = p
        .call(
            "DELETE",
            "/api/v1/subscribers/bob@example.com",
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(!folder.join("greeting.wav").exists());
}

#[tokio::test]
async fn with_several_domains_open_a_sign_up_names_its_domain() {
    let p = Portal::start_with_mail(Some(common::unreachable_mail())).await;
    p.store.add_domain("example.net").await.unwrap();
    for d in [DOMAIN, "example.net"] {
        p.store.set_self_registration(d, true).await.unwrap();
    }
    let body = signup("dave", "dave@mail.example", "a-long-password");
    let (status, _, pb) = p.call("POST", "/api/v1/signup", None, Some(body)).await;
    assert_eq!((status, &pb["field"]), (422, &json!("domain")), "{pb}");
    assert!(
        pb["detail"].as_str().unwrap().contains("example.net"),
        "{pb}"
    );
    let body = json!({"user": "dave", "domain": "Example.NET", "email": "dave@mail.example", "password": "a-long-password"});
    let (status, _, started) = p.call("POST", "/api/v1/signup", None, Some(body)).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["address"], "dave@example.net");
    // The form offers both.
    let resp = p.client.get(p.url("/signup")).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"<option value="example.com""#)
            && html.contains(r#"<option value="example.net""#),
        "{html}"
    );
}
