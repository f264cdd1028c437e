//! How fast the call history answers with a million call records (issue 20: p99 under
//! 50 ms for a page of 50): the portal on loopback over a SQLite store holding
//! `CDRS` records (default 1,000,000) of `SUBSCRIBERS` callers (default 1,000), then
//! `REQUESTS` requests (default 500) of each kind, one at a time, over HTTP:
//!
//! - an admin's first page of every record (`/api/v1/calls?limit=50`);
//! - an admin's page deep in the table (`cursor` from the middle of the ids);
//! - an admin's page of one subscriber's calls (`?user=`);
//! - a subscriber's own first page and own missed calls (`/api/v1/subscribers/{a}/calls`);
//! - the subscriber's HTML page (`/calls`, with a session cookie).
//!
//! Prints p50, p99 and the slowest for each. Run with
//! `cargo bench -p portal --bench cdr_pages` (environment `CDRS`, `SUBSCRIBERS`,
//! `REQUESTS` to change the sizes); the records are written once per run, in batches,
//! with progress on standard error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use store::{Cdr, Disposition, HungUpBy, Store};

const DOMAIN: &str = "example.com";
const PASSWORD: &str = "bench-pw-1";

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Record number `i`: from subscriber `i % subscribers` to the next one, one a minute
/// apart; one call in five missed (no answer).
fn record(i: usize, subscribers: usize, start_ms: i64) -> Cdr {
    let from = format!("user{}", i % subscribers);
    let to = format!("user{}", (i + 1) % subscribers);
    let start_ms = start_ms + i as i64 * 60_000;
    let missed = i % 5 == 0;
    Cdr {
        call_id: format!("bench-{i}@{DOMAIN}"),
        from_tag: "f".into(),
        to_tag: (!missed).then(|| "t".into()),
        caller_user: Some(from.clone()),
        caller_domain: Some(DOMAIN.into()),
        caller_uri: format!("sip:{from}@{DOMAIN}"),
        source_ip: Some("192.0.2.7".into()),
        dialled_uri: format!("sip:{to}@{DOMAIN}"),
        callee_user: Some(to.clone()),
        callee_domain: Some(DOMAIN.into()),
        answered_by: (!missed).then(|| format!("sip:{to}@192.0.2.8")),
        start_ms,
        answer_ms: (!missed).then_some(start_ms + 3_000),
        end_ms: start_ms + 45_000,
        disposition: if missed {
            Disposition::NoAnswer
        } else {
            Disposition::Answered
        },
        code: if missed { 408 } else { 200 },
        reason: None,
        hung_up_by: Some(if missed {
            HungUpBy::Proxy
        } else {
            HungUpBy::Caller
        }),
        end_reason: None,
        node: "bench".into(),
        charge: None,
        media: None,
    }
}

/// `requests` GETs of `path` (with `token` or `cookie`); the sorted latencies.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    auth: &Auth<'_>,
    requests: usize,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let mut req = client.get(url);
        req = match auth {
            Auth::Token(t) => req.bearer_auth(t),
            Auth::Cookie(c) => req.header("cookie", *c),
        };
        let started = Instant::now();
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        times.push(started.elapsed());
        assert!(status.is_success(), "{url}: {status} {body:?}");
    }
    times.sort();
    times
}

enum Auth<'a> {
    Token(&'a str),
    Cookie(&'a str),
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let cdrs = env_number("CDRS", 1_000_000);
    let subscribers = env_number("SUBSCRIBERS", 1_000).max(2);
    let requests = env_number("REQUESTS", 500).max(1);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/itsp.db?mode=rwc", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    store.add_domain(DOMAIN).await.unwrap();
    for i in 0..subscribers {
        store
            .add_subscriber(&format!("user{i}"), DOMAIN, PASSWORD, None)
            .await
            .unwrap();
    }
    store
        .set_web_password("user1", DOMAIN, PASSWORD)
        .await
        .unwrap();
    let user1 = store::Address::new("user1", DOMAIN).unwrap();
    let (_, admin_token) = store.create_api_token("bench", None).await.unwrap();
    let (_, user_token) = store.create_api_token("user1", Some(&user1)).await.unwrap();

    let started = Instant::now();
    let start_ms = 1_700_000_000_000;
    let batch = 5_000;
    let mut written = 0;
    while written < cdrs {
        let n = batch.min(cdrs - written);
        let records: Vec<Cdr> = (written..written + n)
            .map(|i| record(i, subscribers, start_ms))
            .collect();
        store.record_cdrs(&records).await.unwrap();
        written += n;
        if written % 100_000 == 0 || written == cdrs {
            eprintln!(
                "{written} records written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = portal::AppState::new(store.clone(), portal::PortalConfig::default());
    tokio::spawn(portal::serve(listener, state, std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    // The session cookie of user1, through the login form.
    let login = client
        .post(format!("{base}/login"))
        .form(&[("address", "user1@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("itsp_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .expect("the login sets a session cookie");
    // A cursor from the middle of the table: the ids run from 1 in insertion order.
    let middle = (cdrs / 2).max(1);
    let own = format!("/api/v1/subscribers/{user1}/calls");
    let cases: Vec<(&str, String, Auth<'_>)> = vec![
        (
            "admin, first page of all",
            "/api/v1/calls?limit=50".into(),
            Auth::Token(&admin_token),
        ),
        (
            "admin, a page from the middle",
            format!("/api/v1/calls?limit=50&cursor={middle}"),
            Auth::Token(&admin_token),
        ),
        (
            "admin, one subscriber's calls",
            "/api/v1/calls?limit=50&user=user7@example.com".into(),
            Auth::Token(&admin_token),
        ),
        (
            "subscriber, own first page",
            format!("{own}?limit=50"),
            Auth::Token(&user_token),
        ),
        (
            "subscriber, own missed calls",
            format!("{own}?limit=50&missed=true"),
            Auth::Token(&user_token),
        ),
        (
            "subscriber, the /calls page",
            "/calls".into(),
            Auth::Cookie(&cookie),
        ),
    ];
    println!(
        "{cdrs} call records, {subscribers} subscribers, {requests} requests each, one at a time"
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "request", "p50 ms", "p99 ms", "max ms"
    );
    for (name, path, auth) in &cases {
        let times = measure(&client, &format!("{base}{path}"), auth, requests).await;
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}",
            name,
            ms(at(0.50)),
            ms(at(0.99)),
            ms(times[times.len() - 1])
        );
    }
}
