//! URI parsing and comparison against RFC 3261 §19.1, RFC 3966 and the RFC 4475 torture
//! tests, plus property tests.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sip::uri::{unescape, Host, SipUri, Uri, UriError};

fn sip(s: &str) -> SipUri<'_> {
    match Uri::parse(s) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{s}: {other:?}"),
    }
}

fn equivalent(a: &str, b: &str) -> bool {
    let x = Uri::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
    let y = Uri::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
    let r = x.equivalent(&y);
    assert_eq!(r, y.equivalent(&x), "asymmetric: {a} / {b}");
    r
}

/// RFC 4475 §3.1.1.1 (A Short Tortuous INVITE): a parameter without value.
#[test]
fn tortuous_request_uri() {
    let u = sip("sip:vivekg@chair-dnrc.example.com;unknownparam");
    assert_eq!(u.user, Some("vivekg"));
    assert_eq!(u.host, Host::Name("chair-dnrc.example.com"));
    assert_eq!(u.param("unknownparam"), Some(None));
}

/// RFC 4475 §3.1.1.2 (Wide Range of Valid Characters).
#[test]
fn wide_range_of_characters() {
    let u = sip("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
    assert_eq!(
        u.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(u.host, Host::Name("example.com"));
    assert!(u.params.is_empty());
    assert!(u.headers.is_none());
}

/// RFC 4475 §3.1.1.3 (Valid Use of the % Escaping Mechanism).
#[test]
fn valid_escapes() {
    let u = sip("sip:sips%3Auser%40example.com@example.net");
    assert_eq!(u.user, Some("sips%3Auser%40example.com"));
    assert_eq!(
        u.user_unescaped().as_deref(),
        Some(&b"sips:user@example.com"[..])
    );
    assert_eq!(u.host, Host::Name("example.net"));
    assert!(equivalent(
        "sip:%75se%72@example.com",
        "sip:user@example.com"
    ));
    let u = sip("sip:I%20have%20spaces@example.net");
    assert_eq!(u.user_unescaped().as_deref(), Some(&b"I have spaces"[..]));
    let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert!(u.lr(), "%6C%72 is lr");
    let v = u.param("name").flatten().unwrap();
    assert_eq!(&*unescape(v), b"value%41");
    assert!(equivalent(
        "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
        "sip:caller@host5.example.net;lr;name=value%2541"
    ));
}

/// RFC 4475 §3.1.1.4 (Escaped Nulls in URIs).
#[test]
fn escaped_nulls() {
    let u = sip("sip:null-%00-null@example.com");
    assert_eq!(u.user_unescaped().as_deref(), Some(&b"null-\0-null"[..]));
    let u = sip("sip:%00@192.0.2.2");
    assert_eq!(u.user_unescaped().as_deref(), Some(&b"\0"[..]));
    assert_eq!(u.host, Host::V4(Ipv4Addr::new(192, 0, 2, 2)));
    let u = sip("sip:%00%00@192.0.2.2");
    assert_eq!(u.user_unescaped().as_deref(), Some(&b"\0\0"[..]));
    assert!(!equivalent("sip:%00@192.0.2.2", "sip:%00%00@192.0.2.2"));
}

/// RFC 4475 §3.1.1.5 (Use of % When It Is Not an Escape) has no `%` in its URIs; `%25` is
/// the escaped form of a literal `%`, and a bare `%` is invalid in a SIP URI.
#[test]
fn percent_signs() {
    let u = sip("sip:registrar.example.com");
    assert_eq!(u.user, None);
    let u = sip("sip:%25@example.com");
    assert_eq!(u.user_unescaped().as_deref(), Some(&b"%"[..]));
    assert_eq!(Uri::parse("sip:%@example.com"), Err(UriError::BadEscape));
    assert_eq!(
        Uri::parse("sip:%user@example.com"),
        Err(UriError::BadEscape)
    );
    assert_eq!(
        Uri::parse("sip:a@example.com;x=%4"),
        Err(UriError::BadEscape)
    );
}

/// RFC 4475 §3.1.1.9 (Semicolon-Separated Parameters in URI User Part).
#[test]
fn semicolons_in_user() {
    let u = sip("sip:user;par=u%40example.net@example.com");
    assert_eq!(u.user, Some("user;par=u%40example.net"));
    assert_eq!(u.host, Host::Name("example.com"));
    assert!(u.params.is_empty());
    assert_eq!(u.as_str(), "sip:user;par=u%40example.net@example.com");
}

/// RFC 4475 §3.1.2.11 (Escaped Headers in SIP Request-URI): a valid URI, whose headers the
/// message layer must refuse in a Request-URI.
#[test]
fn escaped_headers() {
    let u = sip("sip:user@example.com?Route=%3Csip:example.com%3E");
    assert_eq!(
        u.headers().collect::<Vec<_>>(),
        [("Route", "%3Csip:example.com%3E")]
    );
}

/// RFC 4475 §3.1.2.8, §3.1.2.14 and others: white space and delimiters inside a URI.
#[test]
fn embedded_white_space_and_delimiters() {
    assert_eq!(
        Uri::parse("sip:user@example.com; lr"),
        Err(UriError::WhiteSpace)
    );
    assert_eq!(
        Uri::parse("sip: caller@example.com"),
        Err(UriError::WhiteSpace)
    );
    assert_eq!(
        Uri::parse("sip:user@example.com\t"),
        Err(UriError::WhiteSpace)
    );
    assert_eq!(Uri::parse("<sip:user@example.com>"), Err(UriError::BadChar));
    assert_eq!(
        Uri::parse("sip:j\"user@example.com"),
        Err(UriError::BadChar)
    );
    assert!(Uri::parse("sip:user@exa\u{e9}mple.com").is_err());
}

/// RFC 4475 §4.1 to §4.6: IPv6 references.
#[test]
fn ipv6_references() {
    let u = sip("sip:[2001:db8::10]");
    assert_eq!(
        u.host,
        Host::V6("2001:db8::10".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(u.port, None);
    // §4.2: an IPv6 address without brackets is invalid.
    assert!(Uri::parse("sip:2001:db8::10").is_err());
    // §4.3: the port is inside the brackets, so it is part of the address.
    let u = sip("sip:[2001:db8::10:5070]");
    assert_eq!(
        u.host,
        Host::V6("2001:db8::10:5070".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(u.port, None);
    // §4.4: unambiguous port.
    let u = sip("sip:user@[2001:db8::10]:5070");
    assert_eq!(u.port, Some(5070));
    assert_eq!(u.host_port(), "[2001:db8::10]:5070");
    assert!(u.host.is_ip());
    assert_eq!(u.host.to_string(), "[2001:db8::10]");
    // IPv4-mapped addresses.
    let u = sip("sip:caller@[::ffff:192.0.2.10]");
    assert!(u.host.is_ip());
    assert!(equivalent(
        "sip:caller@[::ffff:192.0.2.10]",
        "sip:caller@[::FFFF:c000:20a]"
    ));
    assert!(Uri::parse("sip:[2001:db8::10").is_err());
    assert!(Uri::parse("sip:[2001:db8::10]5070").is_err());
    assert!(Uri::parse("sip:[2001:db8::g]").is_err());
    assert!(Uri::parse("sip:[fe80::1%25eth0]").is_err());
}

#[test]
fn sips_and_scheme_case() {
    let u = sip("sips:alice@atlanta.com");
    assert!(u.secure);
    assert_eq!(u.port_or_default(), 5061);
    let uri = Uri::parse("SiPs:alice@atlanta.com").unwrap();
    assert!(uri.is_sip());
    assert!(uri.is_sips());
    assert_eq!(uri.scheme(), "SiPs");
    assert!(equivalent(
        "SIPS:alice@atlanta.com",
        "sips:alice@ATLANTA.com"
    ));
    assert!(!equivalent(
        "sip:alice@atlanta.com",
        "sips:alice@atlanta.com"
    ));
}

#[test]
fn ports() {
    assert_eq!(sip("sip:h:0").port, Some(0));
    assert_eq!(sip("sip:h:05060").port, Some(5060));
    assert_eq!(sip("sip:h:65535").port, Some(65535));
    for bad in [
        "sip:user@example.com:65536",
        "sip:user@example.com:99999999999999999999999",
        "sip:user@example.com:",
        "sip:user@example.com:50a",
        "sip:user@example.com:-1",
        "sip:user@example.com:5060:5060",
    ] {
        assert_eq!(Uri::parse(bad), Err(UriError::BadPort), "{bad}");
    }
}

#[test]
fn ipv4_hosts() {
    assert_eq!(
        sip("sip:user@192.0.2.4").host,
        Host::V4(Ipv4Addr::new(192, 0, 2, 4))
    );
    for bad in [
        "sip:user@1.2.3.456",
        "sip:user@1.2.3",
        "sip:user@1.2.3.4.5",
        "sip:user@1..3.4",
        "sip:user@1.2.3.4.",
        "sip:user@1234",
        "sip:user@0001.2.3.4",
    ] {
        assert_eq!(Uri::parse(bad), Err(UriError::BadHost), "{bad}");
    }
    // A name may start with digits as long as the top label starts with a letter.
    assert_eq!(
        sip("sip:user@1.2.3.4.example").host,
        Host::Name("1.2.3.4.example")
    );
}

#[test]
fn tel_uris() {
    for s in [
        "tel:+1-201-555-0123",
        "tel:7042;phone-context=example.com",
        "tel:863-1234;phone-context=+1-914-555",
        "tel:+358-555-1234567;postd=pp22",
        "tel:+1-212-555-1212;isub=1234;ext=22",
        "tel:*97#;phone-context=example.com",
    ] {
        let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let t = u.as_tel().unwrap_or_else(|| panic!("{s}"));
        assert_eq!(u.to_string(), s);
        assert!(t.params.validate().is_ok());
    }
    let Ok(Uri::Tel(t)) = Uri::parse("tel:+1-212-555-1212;isub=1234;ext=22") else {
        panic!()
    };
    assert_eq!(t.number, "+1-212-555-1212");
    assert_eq!(t.ext(), Some("22"));
    assert_eq!(t.digits().collect::<String>(), "+12125551212");
    for bad in [
        "tel:",
        "tel:+",
        "tel:+-",
        "tel:12 34",
        "tel:+1;",
        "tel:+1;=x",
        "tel:+1?x=y",
    ] {
        assert!(Uri::parse(bad).is_err(), "{bad}");
    }
    assert!(equivalent("tel:+1-201-555-0123", "tel:+1.201.555.0123"));
    assert!(equivalent(
        "tel:7042;phone-context=Example.COM",
        "tel:7042;PHONE-CONTEXT=example.com"
    ));
    assert!(!equivalent("tel:+12015550123", "tel:+12015550124"));
    assert!(!equivalent("tel:+12015550123;ext=1", "tel:+12015550123"));
}

#[test]
fn absolute_uris() {
    for (s, scheme) in [
        ("soap.beep://192.0.2.103:3002", "soap.beep"),
        ("isbn:2983792873", "isbn"),
        ("http://www.example.com", "http"),
        ("name:John_Smith", "name"),
        ("im:user@host", "im"),
        ("urn:service:sos", "urn"),
    ] {
        match Uri::parse(s) {
            Ok(u @ Uri::Absolute(a)) => {
                assert_eq!(a.scheme, scheme);
                assert_eq!(u.scheme(), scheme);
                assert_eq!(u.as_str(), s);
                assert!(!u.is_sip());
            }
            other => panic!("{s}: {other:?}"),
        }
    }
    assert!(equivalent("IM:user@host", "im:user@host"));
    assert!(!equivalent("im:user@host", "pres:user@host"));
}

/// RFC 3261 §19.1.4: "The URIs within each of the following sets are equivalent".
#[test]
fn rfc3261_equivalent_sets() {
    assert!(equivalent(
        "sip:%61lice@atlanta.com;transport=TCP",
        "sip:alice@AtLanTa.CoM;Transport=tcp"
    ));
    for (a, b) in [
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        (
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on",
        ),
    ] {
        assert!(equivalent(a, b), "{a} / {b}");
    }
    assert!(equivalent(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
    ));
    assert!(equivalent(
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
    ));
}

/// RFC 3261 §19.1.4: "The URIs within each of the following sets are not equivalent".
#[test]
fn rfc3261_non_equivalent_sets() {
    for (a, b) in [
        (
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP",
        ),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        (
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp",
        ),
        (
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting",
        ),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ] {
        assert!(!equivalent(a, b), "{a} / {b}");
    }
}

#[test]
fn parameter_rules() {
    // user, ttl, method, maddr, transport: must match when present in either.
    for p in [
        "user=phone",
        "ttl=1",
        "method=INVITE",
        "maddr=239.0.0.1",
        "transport=udp",
    ] {
        let a = "sip:h".to_owned();
        let b = format!("sip:h;{p}");
        assert!(!equivalent(&a, &b), "{p}");
        assert!(equivalent(&b, &b.to_uppercase().replace("SIP:H", "sip:h")));
    }
    assert!(!equivalent("sip:h;user=phone", "sip:h;user=ip"));
    assert!(equivalent("sip:h;lr;x=1", "sip:h;X=1"));
    assert!(!equivalent("sip:h;x=1", "sip:h;x=2"));
    let u = sip("sip:h;ttl=300");
    assert_eq!(u.ttl(), None);
    let u = sip("sip:h;maddr=[2001:db8::1];TTL=5;Transport=TLS");
    assert!(u.maddr().is_some_and(|h| h.is_ip()));
    assert_eq!(u.ttl(), Some(5));
    assert_eq!(u.transport(), Some("TLS"));
    assert_eq!(Uri::parse("sip:h;;lr"), Err(UriError::BadParam));
    assert_eq!(Uri::parse("sip:h;lr;"), Err(UriError::BadParam));
    assert_eq!(Uri::parse("sip:h;a=b;=c"), Err(UriError::BadParam));
}

#[test]
fn error_texts_are_short_single_lines() {
    for s in [
        "",
        "sip",
        "1:x",
        "sip:",
        "sip:@h",
        "sip:a:b:c@h",
        "sip:h:99999",
        "sip:h;;",
        "sip:h?",
        "tel:x",
        "sip:a b",
        "sip:<",
    ] {
        let e = Uri::parse(s).expect_err(s).to_string();
        assert!(
            !e.is_empty() && e.len() < 40 && !e.contains(['\r', '\n']),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests

#[derive(Debug, Clone)]
enum GenHost {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

fn gen_host() -> impl Strategy<Value = GenHost> {
    prop_oneof![
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?){0,3}\\.[a-zA-Z]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?\\.?"
            .prop_map(GenHost::Name),
        "[a-zA-Z]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?".prop_map(GenHost::Name),
        any::<[u8; 4]>().prop_map(|o| GenHost::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| GenHost::V6(Ipv6Addr::from(s))),
    ]
}

const ESC: &str = "%[0-9A-Fa-f]{2}";

fn gen_user() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("([a-zA-Z0-9_.!~*'()&=+$,;?/#-]|{ESC}){{1,12}}"))
        .expect("regex")
}

fn gen_password() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("([a-zA-Z0-9_.!~*'()&=+$,-]|{ESC}){{0,8}}"))
        .expect("regex")
}

fn gen_paramtext() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("([a-zA-Z0-9_.!~*'()\\[\\]/:&+$-]|{ESC}){{1,8}}"))
        .expect("regex")
}

fn gen_hnv(min: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(
        "([a-zA-Z0-9_.!~*'()\\[\\]/?:+$-]|{ESC}){{{min},8}}"
    ))
    .expect("regex")
}

type Parts = (
    bool,
    Option<(String, Option<String>)>,
    GenHost,
    Option<u16>,
    Vec<(String, Option<String>)>,
    Vec<(String, String)>,
);

fn gen_parts() -> impl Strategy<Value = Parts> {
    (
        any::<bool>(),
        proptest::option::of((gen_user(), proptest::option::of(gen_password()))),
        gen_host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(
            (gen_paramtext(), proptest::option::of(gen_paramtext())),
            0..4,
        ),
        proptest::collection::vec((gen_hnv(1), gen_hnv(0)), 0..3),
    )
}

proptest! {
    #[test]
    fn built_sip_uris_parse_back((secure, userinfo, host, port, params, headers) in gen_parts()) {
        let mut s = String::from(if secure { "sips:" } else { "sip:" });
        if let Some((u, p)) = &userinfo {
            s.push_str(u);
            if let Some(p) = p {
                s.push(':');
                s.push_str(p);
            }
            s.push('@');
        }
        let host_text = match &host {
            GenHost::Name(n) => n.clone(),
            GenHost::V4(a) => a.to_string(),
            GenHost::V6(a) => format!("[{a}]"),
        };
        s.push_str(&host_text);
        if let Some(p) = port {
            s.push_str(&format!(":{p}"));
        }
        let params_text = params
            .iter()
            .map(|(n, v)| match v {
                Some(v) => format!("{n}={v}"),
                None => n.clone(),
            })
            .collect::<Vec<_>>()
            .join(";");
        if !params.is_empty() {
            s.push(';');
            s.push_str(&params_text);
        }
        let headers_text = headers
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        if !headers.is_empty() {
            s.push('?');
            s.push_str(&headers_text);
        }

        let uri = Uri::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        let Uri::Sip(u) = uri else {
            return Err(TestCaseError::fail(format!("{s}: not sip")));
        };
        prop_assert_eq!(u.secure, secure);
        prop_assert_eq!(u.user, userinfo.as_ref().map(|(u, _)| u.as_str()));
        prop_assert_eq!(
            u.password,
            userinfo.as_ref().and_then(|(_, p)| p.as_deref())
        );
        match (&host, u.host) {
            (GenHost::Name(n), Host::Name(m)) => prop_assert_eq!(n.as_str(), m),
            (GenHost::V4(a), Host::V4(b)) => prop_assert_eq!(*a, b),
            (GenHost::V6(a), Host::V6(b)) => prop_assert_eq!(*a, b),
            (h, got) => return Err(TestCaseError::fail(format!("{s}: {h:?} vs {got:?}"))),
        }
        prop_assert_eq!(u.port, port);
        prop_assert_eq!(u.params.as_str(), params_text.as_str());
        prop_assert_eq!(u.headers, (!headers.is_empty()).then_some(headers_text.as_str()));
        let got: Vec<(&str, &str)> = u.headers().collect();
        let want: Vec<(&str, &str)> =
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(uri.as_str(), s.as_str());
        prop_assert_eq!(uri.to_string(), s.clone());
        prop_assert!(uri.equivalent(&uri));
        let upper_host = s.replacen(&host_text, &host_text.to_uppercase(), 1);
        if userinfo.is_none() {
            let other = Uri::parse(&upper_host)
                .map_err(|e| TestCaseError::fail(format!("{upper_host}: {e}")))?;
            prop_assert!(uri.equivalent(&other), "{} / {}", s, upper_host);
        }
    }

    #[test]
    fn unescape_inverts_escaping(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
        let escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        prop_assert_eq!(&*unescape(&escaped), &bytes[..]);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn uri_like_strings_never_panic(
        s in "(sip|SIPS|tel|x-y|):[a-zA-Z0-9@:;?=&%\\[\\]./+#()*,$ é-]{0,40}"
    ) {
        exercise(&s);
    }
}

fn exercise(s: &str) {
    if let Ok(u) = Uri::parse(s) {
        assert_eq!(u.as_str(), s);
        assert!(u.equivalent(&u));
        let _ = u.scheme();
        if let Some(sip) = u.as_sip() {
            let _ = (sip.transport(), sip.ttl(), sip.maddr(), sip.lr());
            let _ = (sip.user_unescaped(), sip.host.to_string(), sip.host_port());
            let _ = sip.headers().count();
        }
        if let Some(tel) = u.as_tel() {
            let _ = tel.digits().count();
        }
    }
    let _ = unescape(s);
}
