//! Digest authentication on the server side (RFC 3261 §22, RFC 7616), for one REGISTER:
//!
//! - `digest/challenge/*`: a fresh `WWW-Authenticate` value (HMAC-signed stateless nonce,
//!   RFC 7616 §3.3), what the server does for the first REGISTER of every registration.
//! - `digest/verify/*`: [`sip::auth::verify`] alone: the expected response from the stored
//!   HA1 (RFC 7616 §3.4.1) compared in constant time with the client's.
//! - `digest/parse_verify/*`: what the server does with the second REGISTER:
//!   [`sip::auth::parse_credentials`] on the `Authorization` value, then
//!   [`sip::auth::Verifier::verify`]: realm, nonce authenticity and age, response, and the
//!   nonce count (replay, RFC 7616 §5.5). Every iteration answers with the next nonce
//!   count, as a client reusing its nonce does; the credentials are made outside the timing.
//!
//! Each for MD5 (what sipp and most phones answer) and SHA-256 (RFC 8760).
//! Run with `cargo bench -p sip --bench digest`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sip::auth::{
    ha1, parse_credentials, respond, verify, Algorithm, AuthHeader, ClientRequest, Outcome, Secret,
    Verifier,
};

const REALM: &str = "example.com";
const USER: &str = "user17";
const PASSWORD: &str = "pw17";
const URI: &str = "sip:example.com";
/// Seconds since the Unix epoch: the benchmark's fixed "now" (nothing here reads a clock).
const NOW: u64 = 1_790_000_000;
/// Nonce lifetime, seconds.
const MAX_AGE: u64 = 300;

/// The `Authorization` value a client sends for `challenge` with nonce count `nc`.
fn credentials(challenge: &str, nc: u32) -> String {
    let AuthHeader::Digest(ch) = sip::auth::parse_challenge(challenge).unwrap() else {
        panic!("not a Digest challenge: {challenge}");
    };
    respond(
        &ch,
        &ClientRequest {
            method: "REGISTER",
            uri: URI,
            username: USER,
            secret: Secret::Password(PASSWORD),
            cnonce: "0a4f113b",
            nc,
            body: &[],
        },
    )
    .unwrap()
}

fn digest(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest");
    group.throughput(Throughput::Elements(1));
    for (name, algorithm) in [("md5", Algorithm::Md5), ("sha256", Algorithm::Sha256)] {
        let stored = ha1(algorithm, USER, REALM, PASSWORD);
        let mut verifier = Verifier::new(b"bench secret", MAX_AGE, 100_000);
        let challenge = verifier.challenge(REALM, algorithm, false, NOW, 42);

        group.bench_function(format!("challenge/{name}"), |b| {
            let mut random = 0u64;
            b.iter(|| {
                random = random.wrapping_add(1);
                black_box(&verifier).challenge(REALM, algorithm, false, NOW, random)
            })
        });

        // A right answer verifies and a wrong password does not: the work measured is the
        // real check.
        let value = credentials(&challenge, 1);
        let AuthHeader::Digest(creds) = parse_credentials(&value).unwrap() else {
            panic!("not Digest credentials: {value}");
        };
        assert!(verify(&creds, "REGISTER", &stored));
        assert!(!verify(
            &creds,
            "REGISTER",
            &ha1(algorithm, USER, REALM, "wrong")
        ));
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| verify(black_box(&creds), "REGISTER", black_box(&stored)))
        });

        assert_eq!(
            verifier.verify(&creds, "REGISTER", REALM, &stored, NOW),
            Outcome::Ok
        );
        assert_eq!(
            verifier.verify(&creds, "REGISTER", REALM, &stored, NOW),
            Outcome::Replay
        );
        let mut nc = 1u32;
        group.bench_function(format!("parse_verify/{name}"), |b| {
            b.iter_batched(
                || {
                    nc += 1;
                    credentials(&challenge, nc)
                },
                |value| {
                    let AuthHeader::Digest(creds) = parse_credentials(&value).unwrap() else {
                        panic!("not Digest credentials");
                    };
                    let outcome = verifier.verify(&creds, "REGISTER", REALM, &stored, NOW);
                    assert_eq!(outcome, Outcome::Ok);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, digest);
criterion_main!(benches);
