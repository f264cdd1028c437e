//! End-to-end tests of the registrar: `itsp serve` on loopback with a real SQLite (or
//! PostgreSQL) store, phones over real UDP sockets answering digest challenges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{as_strs, contacts, DataDir, Itsp, Phone, DOMAIN};
use sip::HeaderName;

#[test]
fn register_with_sha256_and_md5_then_query_refresh_and_remove() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut phone = Phone::new(server.udp, "alice", "secret");

    // The first REGISTER is challenged: SHA-256 first, MD5 second (RFC 8760 §2.4),
    // realm = the domain.
    let text = phone.register_text("alice", "Contact: <sip:alice@192.0.2.1:5060>\r\n", None);
    let challenge = phone.exchange(&text);
    assert_eq!(challenge.status(), Some(401));
    let offers: Vec<&str> = challenge
        .header_values(HeaderName::WwwAuthenticate)
        .collect();
    assert_eq!(offers.len(), 2, "{offers:?}");
    assert!(
        offers[0].contains("algorithm=SHA-256")
            && offers[0].contains(&format!("realm=\"{DOMAIN}\""))
    );
    assert!(offers[1].contains("algorithm=MD5"));
    // RFC 3581: the response carries where the request came from.
    let via = challenge.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(phone.local().port())));
    assert_eq!(via.received(), Some("127.0.0.1".parse().unwrap()));

    // SHA-256.
    let auth = phone.answer(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
    assert!(auth.contains("SHA-256"));
    let text = phone.register_text(
        "alice",
        "Contact: <sip:alice@192.0.2.1:5060>\r\n",
        Some(&auth),
    );
    let ok = phone.exchange(&text);
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    assert_eq!(
        contacts(&ok),
        [("sip:alice@192.0.2.1:5060".to_owned(), 3600)]
    );
    assert!(ok.header(HeaderName::Date).is_some(), "§10.3 step 8: Date");

    // MD5, a second device with q and its own expiry.
    phone.algorithm = Some("MD5");
    let ok = phone.register("Contact: <sip:alice@192.0.2.2:5060>;q=0.5;expires=600\r\n");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        contacts(&ok),
        [
            ("sip:alice@192.0.2.1:5060".to_owned(), 3600),
            ("sip:alice@192.0.2.2:5060".to_owned(), 600)
        ]
    );
    assert!(ok
        .header_values(HeaderName::Contact)
        .any(|c| c.contains("q=0.5")));

    // Query: no Contact, the bindings are listed.
    phone.algorithm = None;
    let ok = phone.register("");
    assert_eq!(contacts(&ok).len(), 2);

    // Refresh with the Expires header.
    let ok = phone.register("Contact: <sip:alice@192.0.2.2:5060>\r\nExpires: 1200\r\n");
    assert_eq!(
        contacts(&ok)[1],
        ("sip:alice@192.0.2.2:5060".to_owned(), 1200)
    );

    // Remove one.
    let ok = phone.register("Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n");
    assert_eq!(
        contacts(&ok),
        [("sip:alice@192.0.2.2:5060".to_owned(), 1200)]
    );

    // Too brief: 423 with Min-Expires.
    let r = phone.register("Contact: <sip:alice@192.0.2.3:5060>\r\nExpires: 5\r\n");
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header(HeaderName::MinExpires), Some("60"));

    // Remove all.
    let ok = phone.register("Contact: *\r\nExpires: 0\r\n");
    assert_eq!(ok.status(), Some(200));
    assert!(contacts(&ok).is_empty());
}
