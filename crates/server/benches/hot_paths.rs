//! The server's per-request hot paths, without sockets or the store:
//!
//! - `location/lookup_100k`: [`server::Location::lookup`] of one address-of-record in an
//!   index of 100,000 registered users (one binding each), what the proxy does for every
//!   INVITE to a local user (RFC 3261 §16.5).
//! - `location/lookup_from_uri_100k`: the same, starting from the Request-URI text: parse it,
//!   [`server::aor_key`], lookup.
//! - `location/refresh_100k`: [`server::Location::apply`] of a refreshed binding (same
//!   contact, new expiry), what every re-REGISTER does (§10.3 step 7).
//! - `proxy/build_branch`: [`server::proxy::forward::build_branch`] on a parsed INVITE:
//!   Request-URI to the contact, Max-Forwards, Record-Route, our Via, written and parsed
//!   back (§16.6); `proxy/loop_hash` is the hash in our branch (§16.6 step 8).
//! - `auth/check_md5`: [`server::DigestAuth::check`] of a parsed REGISTER with MD5
//!   credentials (parse the Authorization value, nonce, response, nonce count), the HA1
//!   given by the lookup closure as the store would.
//!
//! Run with `cargo bench -p server --bench hot_paths`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use server::proxy::forward::{build_branch, loop_hash, BranchSpec};
use server::{aor_key, AuthKind, Binding, Change, Decision, DigestAuth, Ha1s, Location};
use sip::auth::{ha1, parse_challenge, respond, Algorithm, AuthHeader, ClientRequest, Secret};
use sip::uri::Uri;

const DOMAIN: &str = "example.com";
/// Registered users in the index.
const USERS: u32 = 100_000;
/// The benchmark's "now", Unix seconds.
const NOW: u64 = 1_790_000_000;

fn binding(user: u32, expires_at: u64) -> Binding {
    let source: SocketAddr = format!("198.51.100.{}:{}", user % 250 + 1, 5060 + user % 1000)
        .parse()
        .unwrap();
    Binding {
        contact: format!("sip:user{user}@{source};transport=udp"),
        expires_at,
        q: 1000,
        call_id: format!("{user:08x}-reg@{}", source.ip()),
        cseq: 1,
        user_agent: Some("ExamplePhone/4.2.1".to_owned()),
        source,
        transport: transport::Protocol::Udp,
        local: None,
        path: Vec::new(),
        instance: None,
        reg_id: None,
        nat: false,
        updated_at: NOW,
    }
}

fn index() -> Location {
    let mut location = Location::new();
    for user in 0..USERS {
        location.apply(
            &format!("user{user}@{DOMAIN}"),
            &[Change::Upsert(binding(user, NOW + 3600))],
        );
    }
    location
}

fn location(c: &mut Criterion) {
    let mut location = index();
    assert_eq!(location.binding_count(), USERS as usize);
    let aor = format!("user{}@{DOMAIN}", USERS / 2);
    assert_eq!(location.lookup(&aor, NOW).len(), 1);
    assert!(location.lookup("nobody@example.com", NOW).is_empty());
    let request_uri = format!("sip:user{}@{DOMAIN}", USERS / 2);

    let mut group = c.benchmark_group("location");
    group.throughput(Throughput::Elements(1));
    group.bench_function("lookup_100k", |b| {
        b.iter(|| black_box(&location).lookup(black_box(&aor), NOW).len())
    });
    group.bench_function("lookup_from_uri_100k", |b| {
        b.iter(|| {
            let Ok(Uri::Sip(uri)) = Uri::parse(black_box(&request_uri)) else {
                panic!("not a SIP URI");
            };
            let key = aor_key(&uri).unwrap();
            location.lookup(&key, NOW).len()
        })
    });
    let mut expires = NOW + 3600;
    group.bench_function("refresh_100k", |b| {
        b.iter_batched(
            || {
                expires += 1;
                [Change::Upsert(binding(USERS / 2, expires))]
            },
            |changes| location.apply(black_box(&aor), &changes),
            BatchSize::SmallInput,
        )
    });
    group.finish();
    assert_eq!(location.binding_count(), USERS as usize);
}

const INVITE: &[u8] = b"INVITE sip:user50000@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.23:5060;rport=5060;branch=z9hG4bKnashds8a7f3c1\r\n\
Max-Forwards: 70\r\n\
To: <sip:user50000@example.com>\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710f8a3b2c9d1@198.51.100.23\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.23:5060;transport=udp>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 131\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.23\r\n\
s=-\r\n\
c=IN IP4 198.51.100.23\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn proxy(c: &mut Criterion) {
    let request = sip::Message::parse(Bytes::from_static(INVITE)).unwrap();
    let hash = loop_hash(&request);
    let via = format!("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{hash}.1");
    let record_route = ["<sip:192.0.2.10:5060;lr>".to_owned()];
    let spec = BranchSpec {
        request_uri: Some("sip:user50000@198.51.100.201:5060;transport=udp"),
        record_route: &record_route,
        via: &via,
        ..BranchSpec::default()
    };
    let branch = build_branch(&request, &spec).unwrap();
    assert_eq!(branch.request_uri_str(), spec.request_uri);
    assert_eq!(branch.max_forwards().unwrap(), Some(69));
    assert_eq!(branch.vias().count(), 2);

    let mut group = c.benchmark_group("proxy");
    group.throughput(Throughput::Elements(1));
    group.bench_function("loop_hash", |b| b.iter(|| loop_hash(black_box(&request))));
    group.bench_function("build_branch", |b| {
        b.iter(|| build_branch(black_box(&request), &spec).unwrap())
    });
    group.finish();
}

/// A REGISTER for user17 carrying `authorization`.
fn register(authorization: &str) -> sip::Message {
    let text = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.23:5060;rport;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:user17@{DOMAIN}>\r\n\
From: <sip:user17@{DOMAIN}>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1827 REGISTER\r\n\
Contact: <sip:user17@198.51.100.23:5060>\r\n\
Authorization: {authorization}\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n"
    );
    sip::Message::parse(Bytes::from(text)).unwrap()
}

fn auth(c: &mut Criterion) {
    let mut auth = DigestAuth::new(b"bench secret", 300);
    let stored = Ha1s {
        md5: ha1(Algorithm::Md5, "user17", DOMAIN, "pw17"),
        sha256: ha1(Algorithm::Sha256, "user17", DOMAIN, "pw17"),
    };
    // The challenge of the first REGISTER, answered with increasing nonce counts.
    let first = register("Digest username=\"user17\", realm=\"other.net\", nonce=\"x\", uri=\"sip:other.net\", response=\"0\"");
    let Decision::Challenge { headers, .. } =
        auth.check(&first, AuthKind::Www, DOMAIN, NOW, 7, |_| {
            Some(stored.clone())
        })
    else {
        panic!("no challenge for credentials of another realm");
    };
    let challenge = headers
        .iter()
        .map(|(_, v)| v.clone())
        .find(|v| v.contains("MD5"))
        .unwrap();
    let answer = |nc: u32| {
        let AuthHeader::Digest(ch) = parse_challenge(&challenge).unwrap() else {
            panic!("not Digest: {challenge}");
        };
        let value = respond(
            &ch,
            &ClientRequest {
                method: "REGISTER",
                uri: "sip:example.com",
                username: "user17",
                secret: Secret::Password("pw17"),
                cnonce: "0a4f113b",
                nc,
                body: &[],
            },
        )
        .unwrap();
        register(&value)
    };
    let ok = answer(1);
    assert!(matches!(
        auth.check(&ok, AuthKind::Www, DOMAIN, NOW, 8, |_| Some(stored.clone())),
        Decision::Authenticated { .. }
    ));

    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));
    let mut nc = 1u32;
    group.bench_function("check_md5", |b| {
        b.iter_batched(
            || {
                nc += 1;
                answer(nc)
            },
            |request| {
                let decision = auth.check(&request, AuthKind::Www, DOMAIN, NOW, 9, |_| {
                    Some(stored.clone())
                });
                assert!(matches!(decision, Decision::Authenticated { .. }));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, location, proxy, auth);
criterion_main!(benches);
