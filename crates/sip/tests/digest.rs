//! Digest authentication: RFC test vectors, a SIP REGISTER round trip, nonce and replay
//! handling, and robustness of the parsers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sip::auth::{
    best_challenge, compute_response, ha1, parse_challenge, parse_credentials, respond, verify,
    Algorithm, AuthError, AuthHeader, Challenge, ClientRequest, Credentials, Outcome, Qop,
    ResponseInput, Secret, Verifier,
};

const NOW: u64 = 1_700_000_000;

#[test]
fn rfc2617_section_3_5() {
    let h = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    let r = compute_response(&ResponseInput {
        algorithm: Algorithm::Md5,
        ha1: &h,
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method: "GET",
        uri: "/dir/index.html",
        qop: Some(Qop::Auth),
        nc: Some(1),
        cnonce: Some("0a4f113b"),
        body: b"",
    })
    .unwrap();
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");

    // The Authorization header of the same example, parsed and verified.
    let header = "Digest username=\"Mufasa\",\r\n                 realm=\"testrealm@host.com\",\r\n                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n                 uri=\"/dir/index.html\",\r\n                 qop=auth,\r\n                 nc=00000001,\r\n                 cnonce=\"0a4f113b\",\r\n                 response=\"6629fae49393a05397450978507c4ef1\",\r\n                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let c = Credentials::parse(header).unwrap();
    assert!(verify(&c, "GET", &h));
    assert!(!verify(&c, "POST", &h));
}

const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616(alg: Algorithm) -> String {
    let h = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
    compute_response(&ResponseInput {
        algorithm: alg,
        ha1: &h,
        nonce: RFC7616_NONCE,
        method: "GET",
        uri: "/dir/index.html",
        qop: Some(Qop::Auth),
        nc: Some(1),
        cnonce: Some(RFC7616_CNONCE),
        body: b"",
    })
    .unwrap()
}

#[test]
fn rfc7616_section_3_9_1() {
    assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    assert_eq!(
        rfc7616(Algorithm::Sha256),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn rfc7616_client_side() {
    // The two challenges of RFC 7616 §3.9.1; the client must pick SHA-256.
    let sha = "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let md5 = "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=MD5,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let challenges = [
        Challenge::parse(md5).unwrap(),
        Challenge::parse(sha).unwrap(),
    ];
    let best = best_challenge(&challenges).unwrap();
    assert_eq!(best.algorithm(), Ok(Algorithm::Sha256));

    let req = ClientRequest {
        method: "GET",
        uri: "/dir/index.html",
        username: "Mufasa",
        secret: Secret::Password("Circle of Life"),
        cnonce: RFC7616_CNONCE,
        nc: 1,
        body: b"",
    };
    let value = respond(best, &req).unwrap();
    let c = Credentials::parse(&value).unwrap();
    assert_eq!(
        c.response.raw(),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc, Some(1));
    assert_eq!(
        c.opaque.map(|o| o.raw()),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );

    let value = respond(&challenges[0], &req).unwrap();
    let c = Credentials::parse(&value).unwrap();
    assert_eq!(c.response.raw(), "8ca523f5e9506fed4657c9700eebdbec");
}

struct Registrar {
    verifier: Verifier,
    realm: &'static str,
    ha1_md5: String,
    ha1_sha256: String,
}

impl Registrar {
    fn new() -> Self {
        let realm = "atlanta.example.com";
        Registrar {
            verifier: Verifier::new(b"0123456789abcdef registrar key", 300, 1000),
            realm,
            ha1_md5: ha1(Algorithm::Md5, "alice", realm, "s3cr3t"),
            ha1_sha256: ha1(Algorithm::Sha256, "alice", realm, "s3cr3t"),
        }
    }

    fn check(&mut self, authorization: &str, now: u64) -> Outcome {
        let c = match parse_credentials(authorization) {
            Ok(AuthHeader::Digest(c)) => c,
            Ok(AuthHeader::Other(_)) => return Outcome::WrongRealm,
            Err(e) => return Outcome::Invalid(e),
        };
        let ha1 = match c.algorithm() {
            Ok(Algorithm::Sha256 | Algorithm::Sha256Sess) => self.ha1_sha256.clone(),
            _ => self.ha1_md5.clone(),
        };
        self.verifier.verify(&c, "REGISTER", self.realm, &ha1, now)
    }
}

fn register(challenge: &str, nc: u32, password: &str) -> String {
    let c = Challenge::parse(challenge).unwrap();
    respond(
        &c,
        &ClientRequest {
            method: "REGISTER",
            uri: "sip:atlanta.example.com",
            username: "alice",
            secret: Secret::Password(password),
            cnonce: "a1b2c3d4",
            nc,
            body: b"",
        },
    )
    .unwrap()
}

#[test]
fn sip_register_round_trip() {
    let mut reg = Registrar::new();
    for (random, alg) in [
        Algorithm::Md5,
        Algorithm::Sha256,
        Algorithm::Md5Sess,
        Algorithm::Sha256Sess,
    ]
    .into_iter()
    .enumerate()
    {
        let ch = reg
            .verifier
            .challenge(reg.realm, alg, false, NOW, random as u64);
        let auth = register(&ch, 1, "s3cr3t");
        assert_eq!(reg.check(&auth, NOW + 1), Outcome::Ok, "{alg}");
        // Same nonce, next count: fine. Same count again: replay.
        let auth2 = register(&ch, 2, "s3cr3t");
        assert_eq!(reg.check(&auth2, NOW + 2), Outcome::Ok);
        assert_eq!(reg.check(&auth2, NOW + 3), Outcome::Replay);
        assert_eq!(reg.check(&auth, NOW + 3), Outcome::Replay);
    }
}

#[test]
fn wrong_password_and_wrong_realm() {
    let mut reg = Registrar::new();
    let ch = reg
        .verifier
        .challenge(reg.realm, Algorithm::Sha256, false, NOW, 1);
    assert_eq!(
        reg.check(&register(&ch, 1, "guess"), NOW),
        Outcome::BadResponse
    );
    // The wrong guess did not burn nc=1.
    assert_eq!(reg.check(&register(&ch, 1, "s3cr3t"), NOW), Outcome::Ok);

    let other = reg
        .verifier
        .challenge("biloxi.example.com", Algorithm::Md5, false, NOW, 2);
    assert_eq!(
        reg.check(&register(&other, 1, "s3cr3t"), NOW),
        Outcome::WrongRealm
    );
}

#[test]
fn stale_invalid_and_tampered_nonces() {
    let mut reg = Registrar::new();
    let ch = reg
        .verifier
        .challenge(reg.realm, Algorithm::Md5, false, NOW, 3);
    let auth = register(&ch, 1, "s3cr3t");
    // Too old, but the response is right: stale.
    assert_eq!(reg.check(&auth, NOW + 301), Outcome::Stale);
    // Too old and wrong: no hint that the nonce was the problem.
    assert_eq!(
        reg.check(&register(&ch, 1, "nope"), NOW + 301),
        Outcome::BadResponse
    );
    // Issued in the future.
    let future = reg
        .verifier
        .challenge(reg.realm, Algorithm::Md5, false, NOW + 3600, 4);
    assert_eq!(
        reg.check(&register(&future, 1, "s3cr3t"), NOW),
        Outcome::UnknownNonce
    );
    // Tampered: the timestamp pushed forward to look fresh.
    let c = Challenge::parse(&ch).unwrap();
    let mut nonce = c.nonce.raw().to_owned();
    nonce.replace_range(14..16, if &nonce[14..16] == "ff" { "00" } else { "ff" });
    let forged = Challenge::new(reg.realm, &nonce, Algorithm::Md5, false).to_string();
    assert_eq!(
        reg.check(&register(&forged, 1, "s3cr3t"), NOW + 301),
        Outcome::UnknownNonce
    );
    // A nonce from another server.
    let foreign = Challenge::new(reg.realm, "abc", Algorithm::Md5, false).to_string();
    assert_eq!(
        reg.check(&register(&foreign, 1, "s3cr3t"), NOW),
        Outcome::UnknownNonce
    );
    // The server then answers with a fresh stale challenge.
    let again = reg
        .verifier
        .challenge(reg.realm, Algorithm::Md5, true, NOW + 301, 5);
    assert!(Challenge::parse(&again).unwrap().stale);
    assert_eq!(
        reg.check(&register(&again, 1, "s3cr3t"), NOW + 302),
        Outcome::Ok
    );
}

#[test]
fn malformed_credentials_map_to_400_reasons() {
    let mut reg = Registrar::new();
    let out = reg.check(
        "Digest username=\"alice\", realm=\"atlanta.example.com\", uri=\"sip:x\", response=\"00\"",
        NOW,
    );
    assert_eq!(out, Outcome::Invalid(AuthError::MissingCredential("nonce")));
    if let Outcome::Invalid(e) = out {
        assert_eq!(e.to_string(), "Authorization without nonce");
    }
    // RFC 2069 credentials are refused unless allowed.
    let ch = reg
        .verifier
        .challenge(reg.realm, Algorithm::Md5, false, NOW, 9);
    let mut c = Challenge::parse(&ch).unwrap();
    c.qop = None;
    let auth = respond(
        &c,
        &ClientRequest {
            method: "REGISTER",
            uri: "sip:atlanta.example.com",
            username: "alice",
            secret: Secret::Password("s3cr3t"),
            cnonce: "x",
            nc: 1,
            body: b"",
        },
    )
    .unwrap();
    assert!(!auth.contains("qop"));
    assert_eq!(
        reg.check(&auth, NOW),
        Outcome::Invalid(AuthError::MissingCredential("qop"))
    );
    reg.verifier = Verifier::new(b"0123456789abcdef registrar key", 300, 1000).allow_rfc2069(true);
    assert_eq!(reg.check(&auth, NOW), Outcome::Ok);
}

#[test]
fn auth_int_with_body() {
    let ch = "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\", algorithm=SHA-256";
    let c = Challenge::parse(ch).unwrap();
    let body = b"v=0\r\n";
    let auth = respond(
        &c,
        &ClientRequest {
            method: "INVITE",
            uri: "sip:bob@r",
            username: "alice",
            secret: Secret::Password("pw"),
            cnonce: "cn",
            nc: 1,
            body,
        },
    )
    .unwrap();
    let cred = Credentials::parse(&auth).unwrap();
    assert_eq!(cred.qop, Some(Qop::AuthInt));
    let h = ha1(Algorithm::Sha256, "alice", "r", "pw");
    assert!(sip::auth::verify_with_body(&cred, "INVITE", body, &h));
    assert!(!sip::auth::verify_with_body(
        &cred, "INVITE", b"v=1\r\n", &h
    ));
}

#[test]
fn userhash_and_ha1_secret() {
    let ch = "Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256, userhash=true";
    let c = Challenge::parse(ch).unwrap();
    let h = ha1(Algorithm::Sha256, "alice", "r", "pw");
    let req = ClientRequest {
        method: "REGISTER",
        uri: "sip:r",
        username: "alice",
        secret: Secret::Ha1(&h),
        cnonce: "cn",
        nc: 1,
        body: b"",
    };
    let cred_s = respond(&c, &req).unwrap();
    let cred = Credentials::parse(&cred_s).unwrap();
    assert!(cred.userhash);
    assert_eq!(
        cred.username.raw(),
        sip::auth::userhash(Algorithm::Sha256, "alice", "r")
    );
    assert!(verify(&cred, "REGISTER", &h));
}

#[test]
fn parses_odd_but_legal_headers() {
    // Folding, tabs, spaces around '=' and ',', case-insensitive scheme and names,
    // empty list elements, escaped quotes.
    let v = "  DIGEST\r\n\tUsername = \"al\\\"ice\" ,, REALM=\"atlanta.com\",\r\n nonce= \"abc\" ,uri =\"sip:a@b;transport=tcp\",response=\"0123\",algorithm = \"MD5\", nc = 00000002, qop = auth, cnonce=\"x,y\" , extension=token ";
    let c = Credentials::parse(v).unwrap();
    assert_eq!(c.username.unescape(), "al\"ice");
    assert_eq!(c.username.raw(), "al\\\"ice");
    assert_eq!(c.uri.raw(), "sip:a@b;transport=tcp");
    assert_eq!(c.nc, Some(2));
    assert_eq!(c.cnonce.map(|v| v.raw()), Some("x,y"));
    assert_eq!(c.algorithm(), Ok(Algorithm::Md5));

    match parse_challenge("Digest realm=\"a\", nonce=\"b\", algorithm=SHA-999").unwrap() {
        AuthHeader::Digest(ch) => {
            assert_eq!(ch.algorithm(), Err(AuthError::UnsupportedAlgorithm));
            assert!(best_challenge([&ch]).is_none());
        }
        AuthHeader::Other(_) => panic!("digest expected"),
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        let _ = parse_challenge(&s);
        let _ = parse_credentials(&s);
        let with_scheme = format!("Digest {s}");
        if let Ok(AuthHeader::Digest(c)) = parse_credentials(&with_scheme) {
            let _ = c.to_string();
            let _ = verify(&c, "REGISTER", "00");
            let mut v = Verifier::new(b"k", 60, 4);
            let _ = v.verify(&c, "REGISTER", "r", "00", NOW);
        }
        if let Ok(AuthHeader::Digest(c)) = parse_challenge(&with_scheme) {
            let _ = c.to_string();
            let _ = c.qop_options().count();
        }
    }

    #[test]
    fn param_soup_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("realm".to_owned()), Just("nonce".to_owned()), Just("nc".to_owned()),
            Just("qop".to_owned()), Just("=".to_owned()), Just(",".to_owned()),
            Just("\"".to_owned()), Just("\\".to_owned()), Just("\r\n ".to_owned()),
            Just("auth".to_owned()), Just("00000001".to_owned()), "[ -~]{0,4}",
        ],
        0..24,
    )) {
        let s = format!("Digest {}", parts.concat());
        let _ = parse_challenge(&s).map(|h| h.digest().map(|c| c.to_string()));
        let _ = parse_credentials(&s).map(|h| h.digest().map(|c| c.to_string()));
    }

    #[test]
    fn formatted_challenges_parse_back(realm in "\\PC{0,20}", nonce in "[ -~]{0,20}") {
        let c = Challenge::new(&realm, &nonce, Algorithm::Sha256, true);
        let s = c.to_string();
        let p = Challenge::parse(&s).unwrap();
        let want_realm: String = realm.chars().map(|ch| if ch == '\r' || ch == '\n' { ' ' } else { ch }).collect();
        prop_assert_eq!(p.realm.unescape(), want_realm);
        prop_assert_eq!(p.nonce.unescape(), nonce);
        prop_assert!(p.stale);
    }
}
