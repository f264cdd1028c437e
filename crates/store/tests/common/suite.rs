//! Behaviours of the store, each an `async fn(Store)` run on a fresh, empty database of
//! every backend (`tests/sqlite.rs`, `tests/postgres.rs`).

use sip::auth::{ha1, Algorithm};
use store::{
    flags, AccEvent, AccFilter, AccKind, Address, BindingWrite, CallState, CallWrite, Forwarding,
    Store, StoreError, BANS_TABLE, PREFERENCES_TABLE, SUBSCRIBERS_TABLE,
};

#[allow(unused_imports)] // not by tests/durability.rs
pub use super::accounts::{
    accounts, ledger, ledger_audit, ledger_concurrent, ledger_writer, low_balance_notices,
};
#[allow(unused_imports)] // not by tests/durability.rs
pub use super::invoices::invoices;
use super::{acc_event, binding, call};

/// Calls `$m!(name, ...)` with every behaviour below, so each backend runs them all.
#[allow(unused_macros)] // not by tests/durability.rs
macro_rules! for_each_behaviour {
    ($m:ident) => {
        $m!(
            domains,
            subscribers,
            passwords_are_not_stored,
            credentials,
            subscribers_version,
            preferences_version,
            address_and_group_versions,
            aliases,
            groups,
            remove_subscriber_cascades,
            locations,
            purge_expired,
            batched_binding_writes,
            binding_writer,
            writer_calls_and_acc,
            concurrent_writes,
            preferences,
            forwarding,
            accounting,
            accounting_filters,
            live_calls,
            cdrs,
            tariffs,
            bans,
            web_accounts,
            web_sessions,
            password_resets,
            api_tokens,
            subscribers_page_and_totals,
            voicemail,
            conference_rooms,
            accounts,
            ledger,
            ledger_audit,
            ledger_concurrent,
            ledger_writer,
            invoices,
            low_balance_notices,
            cdr_media,
            audit_log,
            disabled_subscribers,
            self_registration,
            subscriber_email,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_behaviour;

/// Serves example.com with the subscribers `users` in it.
pub async fn example_com_with(s: &Store, users: &[&str]) {
    s.add_domain("example.com").await.unwrap();
    for u in users {
        s.add_subscriber(u, "example.com", "pw", None)
            .await
            .unwrap();
    }
}

pub fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

pub async fn domains(s: Store) {
    assert_eq!(s.list_domains().await.unwrap(), Vec::<String>::new());
    s.add_domain("example.com").await.unwrap();
    s.add_domain("Example.NET.").await.unwrap();
    s.add_domain("10.0.0.1").await.unwrap();
    assert!(matches!(
        s.add_domain("EXAMPLE.com").await,
        Err(StoreError::DomainExists(d)) if d == "example.com"
    ));
    assert!(matches!(
        s.add_domain("bad domain").await,
        Err(StoreError::BadAddress(_))
    ));
    assert_eq!(
        s.list_domains().await.unwrap(),
        ["10.0.0.1", "example.com", "example.net"]
    );
    assert!(s.domain_exists("example.net").await.unwrap());
    assert!(s.domain_exists("EXAMPLE.NET").await.unwrap());
    assert!(!s.domain_exists("example.org").await.unwrap());
    assert!(!s.domain_exists("not a domain").await.unwrap());

    // In use by a subscriber, then by an alias.
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_alias("ally", "example.net", "alice", "example.com")
        .await
        .unwrap();
    assert!(matches!(
        s.remove_domain("example.com").await,
        Err(StoreError::DomainInUse(_))
    ));
    assert!(matches!(
        s.remove_domain("example.net").await,
        Err(StoreError::DomainInUse(_))
    ));
    s.remove_alias("ally", "example.net").await.unwrap();
    s.remove_domain("example.net").await.unwrap();
    assert!(matches!(
        s.remove_domain("example.net").await,
        Err(StoreError::NoSuchDomain(_))
    ));
    assert_eq!(s.list_domains().await.unwrap(), ["10.0.0.1", "example.com"]);
}

pub async fn subscribers(s: Store) {
    s.add_domain("example.com").await.unwrap();
    s.add_domain("example.org").await.unwrap();
    let alice = s
        .add_subscriber("alice", "Example.com", "s3cret", Some("alice@mail.example"))
        .await
        .unwrap();
    assert_eq!(alice.address, addr("alice@example.com"));
    assert_eq!(alice.email.as_deref(), Some("alice@mail.example"));
    assert_eq!(
        alice.ha1.md5,
        ha1(Algorithm::Md5, "alice", "example.com", "s3cret")
    );
    assert_eq!(
        alice.ha1.sha256,
        ha1(Algorithm::Sha256, "alice", "example.com", "s3cret")
    );
    assert_eq!(
        alice.ha1b.md5,
        ha1(Algorithm::Md5, "alice@example.com", "example.com", "s3cret")
    );
    assert_eq!(
        alice.ha1b.sha256,
        ha1(
            Algorithm::Sha256,
            "alice@example.com",
            "example.com",
            "s3cret"
        )
    );
    assert!(alice.created_at > 1_600_000_000);
    assert_eq!(
        s.subscriber("alice", "example.com").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.subscriber("Alice", "example.com").await.unwrap(), None);

    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_subscriber("+4684567890", "example.org", "pw", None)
        .await
        .unwrap();

    assert!(matches!(
        s.add_subscriber("alice", "example.com", "other", None).await,
        Err(StoreError::UserExists(a)) if a == "alice@example.com"
    ));
    assert!(matches!(
        s.add_subscriber("carol", "example.net", "pw", None).await,
        Err(StoreError::NoSuchDomain(d)) if d == "example.net"
    ));
    assert!(matches!(
        s.add_subscriber("carol", "example.com", "", None).await,
        Err(StoreError::BadPassword(_))
    ));
    let long = "x".repeat(store::MAX_PASSWORD_BYTES + 1);
    assert!(matches!(
        s.add_subscriber("carol", "example.com", &long, None).await,
        Err(StoreError::BadPassword(_))
    ));
    assert!(matches!(
        s.add_subscriber("carol", "example.com", "pw", Some("not an email"))
            .await,
        Err(StoreError::BadEmail(_))
    ));
    assert!(matches!(
        s.add_subscriber("car ol", "example.com", "pw", None).await,
        Err(StoreError::BadAddress(_))
    ));

    let all: Vec<String> = s
        .list_subscribers(None)
        .await
        .unwrap()
        .iter()
        .map(|x| x.address.to_string())
        .collect();
    assert_eq!(
        all,
        [
            "alice@example.com",
            "bob@example.com",
            "+4684567890@example.org"
        ]
    );
    let org = s.list_subscribers(Some("EXAMPLE.ORG")).await.unwrap();
    assert_eq!(org.len(), 1);
    assert!(matches!(
        s.list_subscribers(Some("example.net")).await,
        Err(StoreError::NoSuchDomain(_))
    ));

    s.set_password("alice", "example.com", "n3w").await.unwrap();
    let after = s.subscriber("alice", "example.com").await.unwrap().unwrap();
    assert_eq!(
        after.ha1.md5,
        ha1(Algorithm::Md5, "alice", "example.com", "n3w")
    );
    assert_eq!(
        after.ha1b.sha256,
        ha1(Algorithm::Sha256, "alice@example.com", "example.com", "n3w")
    );
    assert_eq!(after.id, alice.id);
    assert_eq!(after.email, alice.email);
    assert!(matches!(
        s.set_password("nobody", "example.com", "x").await,
        Err(StoreError::NoSuchUser(_))
    ));
}

pub async fn passwords_are_not_stored(s: Store) {
    s.add_domain("example.com").await.unwrap();
    let password = "correct-horse-battery-staple";
    let sub = s
        .add_subscriber("alice", "example.com", password, None)
        .await
        .unwrap();
    let debug = format!("{sub:?}");
    assert!(debug.contains("alice@example.com"), "{debug}");
    assert!(!debug.contains(&sub.ha1.md5), "{debug}");
    assert!(!debug.contains(&sub.ha1b.sha256), "{debug}");
    assert!(!debug.contains(password));
    let creds = s
        .credentials("alice", "example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{creds:?}").contains(&creds.md5));
    for col in [
        &sub.ha1.md5,
        &sub.ha1.sha256,
        &sub.ha1b.md5,
        &sub.ha1b.sha256,
    ] {
        assert!(!col.contains(password));
    }
}

pub async fn credentials(s: Store) {
    s.add_domain("example.com").await.unwrap();
    s.add_domain("example.org").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    let plain = s
        .credentials("alice", "example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.md5, ha1(Algorithm::Md5, "alice", "example.com", "pw"));
    assert_eq!(
        plain.for_algorithm(Algorithm::Sha256Sess),
        Some(ha1(Algorithm::Sha256, "alice", "example.com", "pw").as_str())
    );
    assert_eq!(plain.for_algorithm(Algorithm::Sha512_256), None);
    // The digest username may be the whole address (ha1b).
    let full = s
        .credentials("alice@example.com", "example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        full.for_algorithm(Algorithm::Md5),
        Some(ha1(Algorithm::Md5, "alice@example.com", "example.com", "pw").as_str())
    );
    for (user, realm) in [
        ("alice", "example.org"),
        ("alice@example.org", "example.com"),
        ("bob", "example.com"),
        ("", "example.com"),
        ("al ice", "example.com"),
        ("alice", "bad realm"),
        ("alice@", "example.com"),
    ] {
        assert_eq!(
            s.credentials(user, realm).await.unwrap(),
            None,
            "{user} {realm}"
        );
    }
}

pub async fn subscribers_version(s: Store) {
    let start = s.subscribers_version().await.unwrap();
    // Tables other than subscribers do not move it.
    s.add_domain("example.com").await.unwrap();
    assert_eq!(s.subscribers_version().await.unwrap(), start);

    let mut seen = start;
    for step in ["add", "passwd", "second add", "remove"] {
        match step {
            "add" => s
                .add_subscriber("alice", "example.com", "pw", None)
                .await
                .map(drop),
            "passwd" => s.set_password("alice", "example.com", "pw2").await,
            "second add" => s
                .add_subscriber("bob", "example.com", "pw", None)
                .await
                .map(drop),
            _ => s.remove_subscriber("bob", "example.com").await,
        }
        .unwrap();
        let now = s.subscribers_version().await.unwrap();
        assert!(now > seen, "{step}: version {now}, was {seen}");
        seen = now;
    }

    // Writes that change no subscriber leave it alone.
    let before = s.subscribers_version().await.unwrap();
    assert!(s
        .add_subscriber("alice", "example.com", "x", None)
        .await
        .is_err());
    assert!(s.set_password("bob", "example.com", "x").await.is_err());
    assert!(s.remove_subscriber("bob", "example.com").await.is_err());
    s.add_alias("ally", "example.com", "alice", "example.com")
        .await
        .unwrap();
    s.add_group("alice", "example.com", "ld").await.unwrap();
    assert_eq!(s.subscribers_version().await.unwrap(), before);
}

pub async fn preferences_version(s: Store) {
    let version = || async { s.table_version(PREFERENCES_TABLE).await.unwrap() };
    let start = version().await;
    // Other tables do not move it.
    example_com_with(&s, &["alice", "bob", "carol"]).await;
    s.add_alias("ally", "example.com", "alice", "example.com")
        .await
        .unwrap();
    s.set_password("alice", "example.com", "pw2").await.unwrap();
    assert_eq!(version().await, start);
    // Nor does it stand for the subscribers' counter, which preferences do not move.
    assert_eq!(
        s.table_version(SUBSCRIBERS_TABLE).await.unwrap(),
        s.subscribers_version().await.unwrap()
    );
    let subscribers = s.subscribers_version().await.unwrap();

    let mut seen = start;
    for step in ["set", "set two", "change", "clear", "remove bob"] {
        match step {
            "set" => {
                s.set_preference("alice", "example.com", "forward-busy", "sip:b@example.com")
                    .await
            }
            "set two" => {
                s.set_preferences(
                    "bob",
                    "example.com",
                    &[
                        ("forward-always", Some("sip:a@example.com")),
                        ("no-answer-after", Some("20")),
                    ],
                )
                .await
            }
            "change" => {
                s.set_preference("alice", "example.com", "forward-busy", "sip:c@example.com")
                    .await
            }
            "clear" => s
                .remove_preference("alice", "example.com", "forward-busy")
                .await
                .map(|was_set| assert!(was_set)),
            // Its preferences go with it (ON DELETE CASCADE), and count.
            _ => s.remove_subscriber("bob", "example.com").await,
        }
        .unwrap();
        let now = version().await;
        assert!(now > seen, "{step}: version {now}, was {seen}");
        seen = now;
        if step != "remove bob" {
            assert_eq!(
                s.subscribers_version().await.unwrap(),
                subscribers,
                "{step}"
            );
        }
    }
    assert!(s.forwarding("bob", "example.com").await.unwrap() == Forwarding::default());

    // Writes that change no preference leave it alone.
    let before = version().await;
    assert!(!s
        .remove_preference("alice", "example.com", "forward-busy")
        .await
        .unwrap());
    assert!(s
        .set_preference("bob", "example.com", "forward-busy", "sip:a@example.com")
        .await
        .is_err());
    assert!(s
        .set_preference("alice", "example.com", "forward-busy", "not a uri")
        .await
        .is_err());
    assert!(s
        .set_preference(
            "alice",
            "example.com",
            "forward-elsewhere",
            "sip:a@example.com"
        )
        .await
        .is_err());
    s.remove_subscriber("carol", "example.com").await.unwrap();
    assert_eq!(version().await, before);

    // A table without a counter is an error, not version 0.
    assert!(matches!(
        s.table_version("aliases").await,
        Err(StoreError::NoTableVersion(t)) if t == "aliases"
    ));
}

/// The counters of who is reached by which name (subscribers, aliases) and of group
/// membership move with every change of theirs, cascades included, and only then.
pub async fn address_and_group_versions(s: Store) {
    let addresses = || async { s.table_version(store::ADDRESSES_TABLE).await.unwrap() };
    let groups = || async { s.table_version(store::GROUPS_TABLE).await.unwrap() };
    s.add_domain("example.com").await.unwrap();
    let (a0, g0) = (addresses().await, groups().await);
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    let a1 = addresses().await;
    assert!(a1 > a0, "a new subscriber");
    assert_eq!(groups().await, g0, "no group changed");
    s.add_alias("ali", "example.com", "alice", "example.com")
        .await
        .unwrap();
    let a2 = addresses().await;
    assert!(a2 > a1, "a new alias");
    s.add_group("alice", "example.com", "int").await.unwrap();
    let g1 = groups().await;
    assert!(g1 > g0, "a new membership");
    assert_eq!(addresses().await, a2, "a membership is no address");
    s.set_preference("alice", "example.com", "forward-busy", "sip:b@example.com")
        .await
        .unwrap();
    assert_eq!(addresses().await, a2, "a preference is no address");
    s.remove_subscriber("alice", "example.com").await.unwrap();
    assert!(addresses().await > a2, "removed with its alias");
    assert!(groups().await > g1, "its memberships went with it");
}

pub async fn aliases(s: Store) {
    s.add_domain("example.com").await.unwrap();
    s.add_domain("example.net").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_alias("+4684567890", "example.com", "alice", "example.com")
        .await
        .unwrap();
    s.add_alias("45678901", "example.com", "alice", "example.com")
        .await
        .unwrap();
    s.add_alias("alice", "EXAMPLE.NET", "alice", "example.com")
        .await
        .unwrap();

    let alice = addr("alice@example.com");
    for (u, d) in [
        ("alice", "example.com"),
        ("+4684567890", "example.com"),
        ("45678901", "example.com"),
        ("alice", "example.net"),
    ] {
        assert_eq!(
            s.resolve(u, d).await.unwrap(),
            Some(alice.clone()),
            "{u}@{d}"
        );
    }
    assert_eq!(
        s.resolve("bob", "example.com").await.unwrap(),
        Some(addr("bob@example.com"))
    );
    assert_eq!(s.resolve("45678901", "example.net").await.unwrap(), None);
    assert_eq!(s.resolve("carol", "example.com").await.unwrap(), None);
    assert_eq!(s.resolve("", "bad domain").await.unwrap(), None);

    assert!(matches!(
        s.add_alias("45678901", "example.com", "bob", "example.com").await,
        Err(StoreError::AliasExists(a)) if a == "45678901@example.com"
    ));
    assert!(matches!(
        s.add_alias("bob", "example.com", "alice", "example.com")
            .await,
        Err(StoreError::UserExists(_))
    ));
    assert!(matches!(
        s.add_alias("x", "example.org", "alice", "example.com")
            .await,
        Err(StoreError::NoSuchDomain(_))
    ));
    assert!(matches!(
        s.add_alias("x", "example.com", "carol", "example.com")
            .await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.add_subscriber("45678901", "example.com", "pw", None)
            .await,
        Err(StoreError::AliasExists(_))
    ));

    let listed: Vec<(String, String)> = s
        .list_aliases(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.alias.to_string(), a.target.to_string()))
        .collect();
    assert_eq!(
        listed,
        [
            ("+4684567890@example.com".into(), "alice@example.com".into()),
            ("45678901@example.com".into(), "alice@example.com".into()),
            ("alice@example.net".into(), "alice@example.com".into()),
        ]
    );
    assert_eq!(s.list_aliases(Some("example.net")).await.unwrap().len(), 1);
    assert!(matches!(
        s.list_aliases(Some("example.org")).await,
        Err(StoreError::NoSuchDomain(_))
    ));
    assert_eq!(
        s.aliases_of("alice", "example.com").await.unwrap(),
        [
            addr("+4684567890@example.com"),
            addr("45678901@example.com"),
            addr("alice@example.net")
        ]
    );
    assert!(s.aliases_of("bob", "example.com").await.unwrap().is_empty());

    s.remove_alias("45678901", "example.com").await.unwrap();
    assert_eq!(s.resolve("45678901", "example.com").await.unwrap(), None);
    assert!(matches!(
        s.remove_alias("45678901", "example.com").await,
        Err(StoreError::NoSuchAlias(_))
    ));
}

pub async fn groups(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    assert!(s.add_group("alice", "example.com", "local").await.unwrap());
    assert!(s
        .add_group("alice", "example.com", "international")
        .await
        .unwrap());
    assert!(!s.add_group("alice", "example.com", "local").await.unwrap());
    assert_eq!(
        s.groups("alice", "example.com").await.unwrap(),
        ["international", "local"]
    );
    assert!(s.groups("bob", "example.com").await.unwrap().is_empty());
    assert!(s
        .in_group("alice", "example.com", "international")
        .await
        .unwrap());
    assert!(!s
        .in_group("bob", "example.com", "international")
        .await
        .unwrap());
    assert!(!s.in_group("carol", "example.com", "local").await.unwrap());
    assert!(!s
        .in_group("alice", "example.com", "bad group")
        .await
        .unwrap());

    assert!(s
        .remove_group("alice", "example.com", "international")
        .await
        .unwrap());
    assert!(!s
        .remove_group("alice", "example.com", "international")
        .await
        .unwrap());
    assert!(!s
        .in_group("alice", "example.com", "international")
        .await
        .unwrap());

    assert!(matches!(
        s.add_group("carol", "example.com", "local").await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.remove_group("carol", "example.com", "local").await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.groups("carol", "example.com").await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.add_group("alice", "example.com", "").await,
        Err(StoreError::BadGroup(_))
    ));
}

pub async fn remove_subscriber_cascades(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    s.add_alias("4567", "example.com", "alice", "example.com")
        .await
        .unwrap();
    s.add_group("alice", "example.com", "local").await.unwrap();
    s.add_group("bob", "example.com", "local").await.unwrap();
    s.upsert_binding(&binding(
        "alice@example.com",
        "sip:a@192.0.2.1",
        5_000,
        1000,
    ))
    .await
    .unwrap();
    s.upsert_binding(&binding("alice@example.com", "sip:a@192.0.2.2", 5_000, 500))
        .await
        .unwrap();
    s.upsert_binding(&binding("bob@example.com", "sip:b@192.0.2.3", 5_000, 1000))
        .await
        .unwrap();

    s.set_preference("alice", "example.com", "forward-busy", "sip:vm@example.com")
        .await
        .unwrap();
    s.set_preference("bob", "example.com", "forward-busy", "sip:vm@example.com")
        .await
        .unwrap();

    s.remove_subscriber("alice", "example.com").await.unwrap();
    assert_eq!(s.subscriber("alice", "example.com").await.unwrap(), None);
    assert_eq!(
        s.forwarding("alice", "example.com").await.unwrap(),
        Forwarding::default()
    );
    assert_eq!(s.preferences("bob", "example.com").await.unwrap().len(), 1);
    assert_eq!(s.resolve("4567", "example.com").await.unwrap(), None);
    assert!(s.list_aliases(None).await.unwrap().is_empty());
    assert!(s.bindings("alice@example.com").await.unwrap().is_empty());
    assert_eq!(s.bindings("bob@example.com").await.unwrap().len(), 1);
    assert!(s.in_group("bob", "example.com", "local").await.unwrap());
    assert!(matches!(
        s.remove_subscriber("alice", "example.com").await,
        Err(StoreError::NoSuchUser(_))
    ));
    // The id is not reused, so nothing left behind can attach to a new alice.
    let again = s
        .add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    assert!(s.groups("alice", "example.com").await.unwrap().is_empty());
    assert!(s
        .preferences("alice", "example.com")
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .aliases_of("alice", "example.com")
        .await
        .unwrap()
        .is_empty());
    assert!(again.id > 0);
}

pub async fn locations(s: Store) {
    let aor = "alice@example.com";
    let mut desk = binding(aor, "sip:alice@192.0.2.1:5060", 2_000, 500);
    let mut phone = binding(aor, "sip:alice@10.0.0.9:5062;transport=tcp", 2_000, 1000);
    phone.user_agent = "itsp-phone/0.1".into();
    phone.received = "198.51.100.4:40000".into();
    phone.transport = "tcp".into();
    phone.path = Some("<sip:edge.example.com;lr>".into());
    phone.instance = Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into());
    phone.reg_id = Some(u32::MAX);
    phone.cseq = u32::MAX;
    phone.flags = flags::NAT;
    s.upsert_binding(&desk).await.unwrap();
    s.upsert_binding(&phone).await.unwrap();
    s.upsert_binding(&binding("bob@example.com", "sip:bob@192.0.2.5", 2_000, 0))
        .await
        .unwrap();

    // Highest q first; every field round-trips.
    assert_eq!(
        s.bindings(aor).await.unwrap(),
        [phone.clone(), desk.clone()]
    );

    // A refresh replaces the row: same key, new values.
    desk.expires_at = 3_600;
    desk.cseq = 2;
    desk.q = 1000;
    desk.updated_at = 1_100;
    desk.flags = flags::NAT;
    s.upsert_binding(&desk).await.unwrap();
    assert_eq!(
        s.bindings(aor).await.unwrap(),
        [desk.clone(), phone.clone()]
    );

    let all = s.all_bindings().await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].aor, aor);
    assert_eq!(all[2].aor, "bob@example.com");

    assert!(s.remove_binding(aor, &phone.contact).await.unwrap());
    assert!(!s.remove_binding(aor, &phone.contact).await.unwrap());
    assert_eq!(s.bindings(aor).await.unwrap(), [desk.clone()]);
    assert_eq!(s.remove_bindings(aor).await.unwrap(), 1);
    assert_eq!(s.remove_bindings(aor).await.unwrap(), 0);
    assert!(s.bindings(aor).await.unwrap().is_empty());

    let mut bad = binding(aor, "sip:x@192.0.2.9", 1, 1001);
    assert!(matches!(
        s.upsert_binding(&bad).await,
        Err(StoreError::BadBinding(_))
    ));
    bad.q = 0;
    bad.contact.clear();
    assert!(matches!(
        s.upsert_binding(&bad).await,
        Err(StoreError::BadBinding(_))
    ));
}

pub async fn batched_binding_writes(s: Store) {
    binding_writes_through(&s, None).await;
}

/// The same as [`batched_binding_writes`] through the location writer's own connection
/// (SQLite) or its blocking use of the pool (PostgreSQL), on a blocking thread as the
/// server runs it.
pub async fn binding_writer(s: Store) {
    let writer = s
        .writer(
            tokio::runtime::Handle::current(),
            store::Durability::Process,
        )
        .unwrap();
    let writer = std::sync::Arc::new(std::sync::Mutex::new(writer));
    binding_writes_through(&s, Some(writer)).await;
}

/// One batch of writes, by `Store::write_bindings` or by the blocking writer.
async fn write_batch(
    s: &Store,
    writer: &Option<std::sync::Arc<std::sync::Mutex<store::Writer>>>,
    writes: &[BindingWrite],
) -> Result<(), StoreError> {
    match writer {
        None => s.write_bindings(writes).await,
        Some(w) => {
            let (w, writes) = (w.clone(), writes.to_vec());
            tokio::task::spawn_blocking(move || w.lock().unwrap().write_bindings(&writes))
                .await
                .unwrap()
        }
    }
}

async fn binding_writes_through(
    s: &Store,
    writer: Option<std::sync::Arc<std::sync::Mutex<store::Writer>>>,
) {
    let aor = "alice@example.com";
    let a = binding(aor, "sip:alice@192.0.2.1", 2_000, 1000);
    let b = binding(aor, "sip:alice@192.0.2.2", 2_000, 500);
    write_batch(
        s,
        &writer,
        &[
            BindingWrite::Upsert(a.clone()),
            BindingWrite::Upsert(b.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(s.bindings(aor).await.unwrap(), [a.clone(), b.clone()]);
    write_batch(
        s,
        &writer,
        &[
            BindingWrite::Remove {
                aor: aor.into(),
                contact: a.contact.clone(),
            },
            BindingWrite::Remove {
                aor: aor.into(),
                contact: "sip:never@192.0.2.9".into(),
            },
        ],
    )
    .await
    .unwrap();
    assert_eq!(s.bindings(aor).await.unwrap(), std::slice::from_ref(&b));
    // All or nothing: a bad binding in the batch leaves the good ones unwritten.
    let mut bad = binding(aor, "sip:x@192.0.2.9", 1, 1001);
    bad.q = 1001;
    let c = binding(aor, "sip:alice@192.0.2.3", 2_000, 1000);
    assert!(matches!(
        write_batch(
            s,
            &writer,
            &[BindingWrite::Upsert(c), BindingWrite::Upsert(bad)]
        )
        .await,
        Err(StoreError::BadBinding(_))
    ));
    assert_eq!(s.bindings(aor).await.unwrap(), std::slice::from_ref(&b));
    write_batch(s, &writer, &[]).await.unwrap();

    // In one batch the last write of a key wins: upsert then remove, remove then upsert,
    // two upserts.
    let gone = binding(aor, "sip:alice@192.0.2.7", 2_000, 1000);
    let mut twice = binding(aor, "sip:alice@192.0.2.8", 2_000, 1000);
    let remove = |b: &store::Binding| BindingWrite::Remove {
        aor: b.aor.clone(),
        contact: b.contact.clone(),
    };
    let mut batch = vec![
        BindingWrite::Upsert(gone.clone()),
        remove(&gone),
        remove(&b),
        BindingWrite::Upsert(b.clone()),
        BindingWrite::Upsert(twice.clone()),
    ];
    twice.cseq = 9;
    batch.push(BindingWrite::Upsert(twice.clone()));
    write_batch(s, &writer, &batch).await.unwrap();
    let mut got = s.bindings(aor).await.unwrap();
    got.sort_by(|x, y| x.contact.cmp(&y.contact));
    assert_eq!(got, [b.clone(), twice]);

    // More rows than one statement holds.
    let many: Vec<BindingWrite> = (0..1_234)
        .map(|i| {
            BindingWrite::Upsert(binding(
                "bulk@example.com",
                &format!("sip:b{i}@192.0.2.1"),
                2_000,
                1000,
            ))
        })
        .collect();
    write_batch(s, &writer, &many).await.unwrap();
    assert_eq!(s.bindings("bulk@example.com").await.unwrap().len(), 1_234);
    let removes: Vec<BindingWrite> = (0..1_234)
        .map(|i| BindingWrite::Remove {
            aor: "bulk@example.com".into(),
            contact: format!("sip:b{i}@192.0.2.1"),
        })
        .collect();
    write_batch(s, &writer, &removes).await.unwrap();
    assert!(s.bindings("bulk@example.com").await.unwrap().is_empty());
}

pub async fn purge_expired(s: Store) {
    for (i, expires_at) in [999, 1_000, 1_001, 5_000].into_iter().enumerate() {
        s.upsert_binding(&binding(
            "a@example.com",
            &format!("sip:{i}@h"),
            expires_at,
            0,
        ))
        .await
        .unwrap();
    }
    assert_eq!(s.purge_expired(998).await.unwrap(), 0);
    // Expired means at or before now.
    assert_eq!(s.purge_expired(1_000).await.unwrap(), 2);
    let left: Vec<i64> = s
        .bindings("a@example.com")
        .await
        .unwrap()
        .iter()
        .map(|b| b.expires_at)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&1_001) && left.contains(&5_000));
    assert_eq!(s.purge_expired(10_000).await.unwrap(), 2);
    assert!(s.all_bindings().await.unwrap().is_empty());
}

/// Many writers at once (the registrar under load): none fails with a busy database.
pub async fn concurrent_writes(s: Store) {
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let aor = format!("u{t}@example.com");
                s.upsert_binding(&binding(&aor, &format!("sip:{i}@h"), 9_000, 0))
                    .await
                    .unwrap();
                if i % 5 == 0 {
                    s.purge_expired(1).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.all_bindings().await.unwrap().len(), 200);
}

pub async fn preferences(s: Store) {
    example_com_with(&s, &["alice"]).await;
    assert!(s
        .preferences("alice", "example.com")
        .await
        .unwrap()
        .is_empty());
    s.set_preferences(
        "alice",
        "Example.COM",
        &[
            ("forward-busy", Some("sip:bob@example.com")),
            ("no-answer-after", Some("020")),
            ("forward-always", Some("tel:+4684567890")),
        ],
    )
    .await
    .unwrap();
    let got: Vec<(String, String)> = s
        .preferences("alice", "example.com")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        got,
        [
            ("forward-always".into(), "tel:+4684567890".into()),
            ("forward-busy".into(), "sip:bob@example.com".into()),
            ("no-answer-after".into(), "20".into()),
        ]
    );
    // Replace one, clear one (and one that is not set), in one call.
    s.set_preferences(
        "alice",
        "example.com",
        &[
            ("forward-busy", Some("sips:carol@example.com")),
            ("forward-always", None),
            ("forward-no-answer", None),
        ],
    )
    .await
    .unwrap();
    let got = s.preferences("alice", "example.com").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["forward-busy"], "sips:carol@example.com");
    assert!(s
        .remove_preference("alice", "example.com", "no-answer-after")
        .await
        .unwrap());
    assert!(!s
        .remove_preference("alice", "example.com", "no-answer-after")
        .await
        .unwrap());

    // A bad value or name anywhere in the list: nothing changes.
    for changes in [
        [
            ("forward-always", Some("sip:x@example.com")),
            ("forward-busy", Some("mailto:x@example.com")),
        ],
        [
            ("forward-always", Some("sip:x@example.com")),
            ("no-answer-after", Some("601")),
        ],
    ] {
        assert!(matches!(
            s.set_preferences("alice", "example.com", &changes).await,
            Err(StoreError::BadPreference { .. })
        ));
    }
    assert!(matches!(
        s.set_preference("alice", "example.com", "forward", "sip:x@example.com")
            .await,
        Err(StoreError::UnknownPreference(n)) if n == "forward"
    ));
    assert!(matches!(
        s.remove_preference("alice", "example.com", "vm-colour")
            .await,
        Err(StoreError::UnknownPreference(_))
    ));
    assert_eq!(
        s.preferences("alice", "example.com").await.unwrap().len(),
        1
    );

    for e in [
        s.set_preference("bob", "example.com", "forward-busy", "sip:x@example.com")
            .await
            .unwrap_err(),
        s.preferences("bob", "example.com").await.unwrap_err(),
        s.remove_preference("bob", "example.com", "forward-busy")
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(e, StoreError::NoSuchUser(ref u) if u == "bob@example.com"),
            "{e}"
        );
    }
    assert!(matches!(
        s.preferences("bad user", "example.com").await,
        Err(StoreError::BadAddress(_))
    ));
}

pub async fn forwarding(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    assert_eq!(
        s.forwarding("alice", "example.com").await.unwrap(),
        Forwarding::default()
    );
    s.set_preferences(
        "alice",
        "example.com",
        &[
            ("forward-always", Some("tel:+4684567890")),
            ("forward-busy", Some("sip:bob@example.com")),
            ("forward-no-answer", Some("sip:vm@example.com")),
            ("no-answer-after", Some("20")),
        ],
    )
    .await
    .unwrap();
    s.set_preference(
        "bob",
        "example.com",
        "forward-busy",
        "sip:alice@example.com",
    )
    .await
    .unwrap();
    assert_eq!(
        s.forwarding("alice", "EXAMPLE.com").await.unwrap(),
        Forwarding {
            always: Some("tel:+4684567890".into()),
            busy: Some("sip:bob@example.com".into()),
            no_answer: Some("sip:vm@example.com".into()),
            no_answer_after: Some(20),
            voicemail: false,
        }
    );
    s.set_preference("bob", "example.com", "voicemail", "on")
        .await
        .unwrap();
    assert_eq!(
        s.forwarding("bob", "example.com").await.unwrap(),
        Forwarding {
            busy: Some("sip:alice@example.com".into()),
            voicemail: true,
            ..Forwarding::default()
        }
    );
    // Unknown and malformed: nothing to forward, no error.
    for (u, d) in [("carol", "example.com"), ("", "bad domain")] {
        assert_eq!(
            s.forwarding(u, d).await.unwrap(),
            Forwarding::default(),
            "{u}@{d}"
        );
    }
}

pub async fn accounting(s: Store) {
    assert!(s
        .acc_events(&AccFilter::default())
        .await
        .unwrap()
        .is_empty());
    let request = acc_event(
        1_000,
        AccKind::Request,
        "c1",
        "alice@Example.COM.",
        "bob@example.com",
    );
    let mut answered = acc_event(
        1_500,
        AccKind::Answered,
        "c1",
        "alice@example.com",
        "bob@example.com",
    );
    answered.to_tag = Some("t1".into());
    answered.code = Some(200);
    answered.reason = Some("OK".into());
    let mut ended = acc_event(
        61_500,
        AccKind::Ended,
        "c1",
        "alice@example.com",
        "bob@example.com",
    );
    ended.method = "BYE".into();
    ended.to_tag = Some("t1".into());
    ended.ended_by = Some("callee".into());
    let mut failed = acc_event(
        2_000,
        AccKind::Failed,
        "c2",
        "bob@example.com",
        "carol@example.org",
    );
    failed.code = Some(486);
    failed.reason = Some("Busy Here".into());
    failed.caller_user = None;
    failed.caller_domain = None;
    failed.source_ip = None;
    s.record_acc(&[request.clone(), answered.clone()])
        .await
        .unwrap();
    s.record_acc(&[ended.clone(), failed.clone()])
        .await
        .unwrap();
    s.record_acc(&[]).await.unwrap();

    // Every field round-trips; domains are kept lowercased without the trailing dot.
    let mut stored_request = request.clone();
    stored_request.caller_domain = Some("example.com".into());
    assert_eq!(
        s.acc_events(&AccFilter::default()).await.unwrap(),
        [
            stored_request,
            answered.clone(),
            failed.clone(),
            ended.clone()
        ]
    );

    // A bad event anywhere: none of the batch is written.
    let good = acc_event(
        3_000,
        AccKind::Request,
        "c3",
        "a@example.com",
        "b@example.com",
    );
    let mut bad = [good.clone(), good.clone(), good.clone(), good.clone()];
    bad[1].code = Some(99);
    bad[2].ended_by = Some("nobody".into());
    bad[3].call_id.clear();
    for b in &bad[1..] {
        assert!(matches!(
            s.record_acc(&[good.clone(), b.clone()]).await,
            Err(StoreError::BadAcc(_))
        ));
    }
    let c3 = AccFilter {
        call_id: Some("c3".into()),
        ..AccFilter::default()
    };
    assert!(s.acc_events(&c3).await.unwrap().is_empty());

    // More rows than one statement holds, in one batch.
    let many: Vec<AccEvent> = (0..1_234)
        .map(|i| {
            acc_event(
                10_000 + i,
                AccKind::Request,
                &format!("bulk{i}"),
                "a@example.com",
                "b@example.com",
            )
        })
        .collect();
    s.record_acc(&many).await.unwrap();
    let all = s.acc_events(&AccFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1_238);
    assert!(all.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
}

pub async fn accounting_filters(s: Store) {
    let mut events = Vec::new();
    for (i, (caller, callee)) in [
        ("alice@example.com", "bob@example.com"),
        ("bob@example.com", "alice@example.com"),
        ("carol@example.com", "bob@example.com"),
        ("alice@example.org", "carol@example.com"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = 1_000 * i64::try_from(i).unwrap();
        let call_id = format!("c{i}");
        events.push(acc_event(t, AccKind::Request, &call_id, caller, callee));
        events.push(acc_event(t + 10, AccKind::Failed, &call_id, caller, callee));
    }
    // Two events in the same millisecond keep the order they were recorded in.
    events.push(acc_event(
        5_000,
        AccKind::Answered,
        "same",
        "x@example.com",
        "y@example.com",
    ));
    events.push(acc_event(
        5_000,
        AccKind::Ended,
        "same",
        "x@example.com",
        "y@example.com",
    ));
    s.record_acc(&events).await.unwrap();

    let ids = |v: Vec<AccEvent>| -> Vec<(String, AccKind)> {
        v.into_iter().map(|e| (e.call_id, e.kind)).collect()
    };
    let get = async |f: AccFilter| ids(s.acc_events(&f).await.unwrap());
    let alice = Some(Address::parse("alice@example.com").unwrap());
    assert_eq!(
        get(AccFilter {
            user: alice.clone(),
            ..AccFilter::default()
        })
        .await,
        [
            ("c0".into(), AccKind::Request),
            ("c0".into(), AccKind::Failed),
            ("c1".into(), AccKind::Request),
            ("c1".into(), AccKind::Failed),
        ]
    );
    assert_eq!(
        get(AccFilter {
            call_id: Some("c2".into()),
            ..AccFilter::default()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        get(AccFilter {
            since_ms: Some(1_010),
            ..AccFilter::default()
        })
        .await
        .len(),
        7
    );
    // The newest ones, still newest last.
    assert_eq!(
        get(AccFilter {
            limit: Some(3),
            ..AccFilter::default()
        })
        .await,
        [
            ("c3".into(), AccKind::Failed),
            ("same".into(), AccKind::Answered),
            ("same".into(), AccKind::Ended),
        ]
    );
    // Everything at once.
    assert_eq!(
        get(AccFilter {
            call_id: Some("c1".into()),
            user: alice,
            since_ms: Some(1_005),
            limit: Some(10),
        })
        .await,
        [("c1".into(), AccKind::Failed)]
    );
    assert!(get(AccFilter {
        user: Some(Address::parse("dave@example.com").unwrap()),
        ..AccFilter::default()
    })
    .await
    .is_empty());
    assert!(get(AccFilter {
        limit: Some(0),
        ..AccFilter::default()
    })
    .await
    .is_empty());
}

pub async fn live_calls(s: Store) {
    assert!(s.calls().await.unwrap().is_empty());
    let a = call("a", "ft-a", 2_000, "node1");
    let b = call("b", "ft-b", 1_000, "node2");
    let c = call("c", "ft-c", 3_000, "node1");
    s.write_calls(&[
        CallWrite::Upsert(a.clone()),
        CallWrite::Upsert(b.clone()),
        CallWrite::Upsert(c.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(s.calls().await.unwrap(), [b.clone(), a.clone(), c.clone()]);

    // Answered: the row is replaced; the same Call-ID with another From tag is another call.
    let mut a_answered = a.clone();
    a_answered.state = CallState::Confirmed;
    a_answered.to_tag = Some("tt".into());
    a_answered.answered_ms = Some(2_500);
    let a_fork = call("a", "ft-other", 4_000, "node2");
    s.write_calls(&[
        CallWrite::Upsert(a_answered.clone()),
        CallWrite::Upsert(a_fork.clone()),
        CallWrite::Remove {
            call_id: "c".into(),
            from_tag: "ft-c".into(),
        },
        CallWrite::Remove {
            call_id: "never".into(),
            from_tag: "x".into(),
        },
    ])
    .await
    .unwrap();
    assert_eq!(
        s.calls().await.unwrap(),
        [b.clone(), a_answered.clone(), a_fork.clone()]
    );

    // In one batch the last write of a key wins.
    let d = call("d", "ft-d", 5_000, "node1");
    s.write_calls(&[
        CallWrite::Upsert(d.clone()),
        CallWrite::Remove {
            call_id: "d".into(),
            from_tag: "ft-d".into(),
        },
        CallWrite::Remove {
            call_id: "b".into(),
            from_tag: "ft-b".into(),
        },
        CallWrite::Upsert(b.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(s.calls().await.unwrap().len(), 3);

    // A bad call anywhere: nothing is written.
    let mut bad = call("e", "ft-e", 6_000, "");
    assert!(matches!(
        s.write_calls(&[CallWrite::Upsert(d.clone()), CallWrite::Upsert(bad.clone())])
            .await,
        Err(StoreError::BadCall(_))
    ));
    bad.node = "node1".into();
    bad.caller.clear();
    assert!(matches!(
        s.write_calls(&[CallWrite::Upsert(bad)]).await,
        Err(StoreError::BadCall(_))
    ));
    assert_eq!(s.calls().await.unwrap().len(), 3);

    // A restarting node drops its own rows only.
    assert_eq!(s.clear_calls("node1").await.unwrap(), 1);
    assert_eq!(s.clear_calls("node1").await.unwrap(), 0);
    assert_eq!(s.calls().await.unwrap(), [b.clone(), a_fork.clone()]);

    // Many at once.
    let many: Vec<CallWrite> = (0..1_234)
        .map(|i| CallWrite::Upsert(call(&format!("bulk{i}"), "f", 10_000 + i, "node3")))
        .collect();
    s.write_calls(&many).await.unwrap();
    assert_eq!(s.calls().await.unwrap().len(), 1_236);
    assert_eq!(s.clear_calls("node3").await.unwrap(), 1_234);
}

/// A write run on the blocking writer's thread.
pub type WriterJob = Box<dyn FnOnce(&mut store::Writer) -> Result<(), StoreError> + Send>;

/// The blocking writer's live-call and accounting writes store what the pool's do: the
/// same rows (domains folded alike), the last write per call wins, checks refuse bad rows
/// and write nothing.
pub async fn writer_calls_and_acc(s: Store) {
    let writer = std::sync::Arc::new(std::sync::Mutex::new(
        s.writer(tokio::runtime::Handle::current(), store::Durability::Disk)
            .unwrap(),
    ));
    let run = |f: WriterJob| {
        let w = writer.clone();
        async move {
            tokio::task::spawn_blocking(move || f(&mut w.lock().unwrap()))
                .await
                .unwrap()
        }
    };
    // Accounting: one event through each path, then read back alike.
    let mut by_pool = acc_event(
        1_000,
        AccKind::Request,
        "pool",
        "alice@Example.COM.",
        "bob@example.com",
    );
    by_pool.code = Some(200);
    let mut by_writer = by_pool.clone();
    by_writer.call_id = "writer".into();
    by_writer.time_ms = 1_001;
    s.record_acc(std::slice::from_ref(&by_pool)).await.unwrap();
    let e = by_writer.clone();
    run(Box::new(move |w| w.record_acc(&[e]))).await.unwrap();
    let got = s.acc_events(&AccFilter::default()).await.unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let mut from_writer = got[1].clone();
    assert_eq!(from_writer.call_id, "writer");
    assert_eq!(from_writer.caller_domain.as_deref(), Some("example.com"));
    from_writer.call_id = "pool".into();
    from_writer.time_ms = 1_000;
    assert_eq!(from_writer, got[0]);
    // A bad event in a batch: nothing of the batch is written.
    let mut bad = by_writer.clone();
    bad.method = String::new();
    let good = acc_event(
        1_002,
        AccKind::Request,
        "good",
        "a@example.com",
        "b@example.com",
    );
    let r = run(Box::new(move |w| w.record_acc(&[good, bad]))).await;
    assert!(matches!(r, Err(StoreError::BadAcc(_))), "{r:?}");
    assert_eq!(s.acc_events(&AccFilter::default()).await.unwrap().len(), 2);

    // Live calls: upsert, answer (the last write wins), remove.
    let a = call("a", "ft-a", 2_000, "node1");
    let mut a_answered = a.clone();
    a_answered.state = CallState::Confirmed;
    a_answered.to_tag = Some("tt".into());
    a_answered.answered_ms = Some(2_500);
    let b = call("b", "ft-b", 1_000, "node1");
    let writes = vec![
        CallWrite::Upsert(a.clone()),
        CallWrite::Upsert(b.clone()),
        CallWrite::Upsert(a_answered.clone()),
    ];
    run(Box::new(move |w| w.write_calls(&writes)))
        .await
        .unwrap();
    assert_eq!(s.calls().await.unwrap(), [b.clone(), a_answered.clone()]);
    let remove = vec![CallWrite::Remove {
        call_id: "b".into(),
        from_tag: "ft-b".into(),
    }];
    run(Box::new(move |w| w.write_calls(&remove)))
        .await
        .unwrap();
    assert_eq!(s.calls().await.unwrap(), [a_answered]);
    let mut bad = call("c", "ft-c", 3_000, "node1");
    bad.caller = String::new();
    let r = run(Box::new(move |w| w.write_calls(&[CallWrite::Upsert(bad)]))).await;
    assert!(matches!(r, Err(StoreError::BadCall(_))), "{r:?}");
}

pub async fn bans(s: Store) {
    let now = 1_790_000_000_000;
    assert!(s.bans(now).await.unwrap().is_empty());
    let v0 = s.table_version(BANS_TABLE).await.unwrap();
    assert_eq!(
        s.add_ban("192.0.2.7", Some(now + 60_000), "auth failures", true, now)
            .await
            .unwrap(),
        "192.0.2.7"
    );
    assert_eq!(
        s.add_ban("198.51.100.9/24", None, "manual", false, now)
            .await
            .unwrap(),
        "198.51.100.0/24"
    );
    let v1 = s.table_version(BANS_TABLE).await.unwrap();
    assert!(v1 > v0);
    let bans = s.bans(now).await.unwrap();
    assert_eq!(bans.len(), 2);
    assert_eq!(bans[0].network, "192.0.2.7");
    assert_eq!(bans[0].until_ms, Some(now + 60_000));
    assert!(bans[0].automatic);
    assert_eq!(bans[1].until_ms, None);
    assert!(!bans[1].automatic);
    // A second ban of the same network replaces the first.
    s.add_ban("192.0.2.7/32", Some(now + 120_000), "again", true, now + 1)
        .await
        .unwrap();
    let bans = s.bans(now).await.unwrap();
    assert_eq!(bans.len(), 2);
    assert_eq!(bans[0].reason, "again");
    // Ended bans are not in force and are purged.
    assert_eq!(s.bans(now + 120_000).await.unwrap().len(), 1);
    assert_eq!(s.purge_bans(now + 120_000).await.unwrap(), 1);
    assert!(s.table_version(BANS_TABLE).await.unwrap() > v1);
    assert!(matches!(
        s.remove_ban("192.0.2.7").await,
        Err(StoreError::NoSuchBan(_))
    ));
    assert!(matches!(
        s.add_ban("example.com", None, "x", false, now).await,
        Err(StoreError::BadBan(_))
    ));
    assert!(matches!(
        s.add_ban("192.0.2.1", None, &"x".repeat(201), false, now)
            .await,
        Err(StoreError::BadBan(_))
    ));
    s.remove_ban("198.51.100.0/24").await.unwrap();
    assert!(s.bans(now).await.unwrap().is_empty());
}

/// Web passwords are apart from the SIP password; one answer for every failed login; the
/// admin flag; all gone with the subscriber.
pub async fn web_accounts(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    // No web password yet: no login, whatever the password.
    assert_eq!(
        s.check_web_login("alice", "example.com", "pw")
            .await
            .unwrap(),
        None
    );
    s.set_web_password("alice", "example.com", "web-pw")
        .await
        .unwrap();
    let account = s
        .check_web_login("alice", "example.com", "web-pw")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.address, addr("alice@example.com"));
    assert!(!account.is_admin);
    for (user, password) in [
        ("alice", "pw"),
        ("alice", "WEB-PW"),
        ("zed", "web-pw"),
        ("a b", "x"),
    ] {
        assert_eq!(
            s.check_web_login(user, "example.com", password)
                .await
                .unwrap(),
            None,
            "{user}"
        );
    }
    // The SIP password did not change, and the web password is no HA1.
    let before = s
        .credentials("alice", "example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        before.md5,
        ha1(Algorithm::Md5, "alice", "example.com", "pw")
    );
    // Admin flag.
    assert!(!s.is_admin("alice", "example.com").await.unwrap());
    s.set_admin("alice", "example.com", true).await.unwrap();
    assert!(s.is_admin("alice", "example.com").await.unwrap());
    assert!(
        s.check_web_login("alice", "example.com", "web-pw")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    s.set_admin("bob", "example.com", true).await.unwrap();
    assert!(s.is_admin("bob", "example.com").await.unwrap());
    assert_eq!(
        s.check_web_login("bob", "example.com", "pw").await.unwrap(),
        None,
        "no web password"
    );
    // Errors.
    assert!(matches!(
        s.set_web_password("zed", "example.com", "x").await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.set_web_password("alice", "example.com", "").await,
        Err(StoreError::BadPassword(_))
    ));
    assert!(matches!(
        s.set_admin("zed", "example.com", true).await,
        Err(StoreError::NoSuchUser(_))
    ));
    // Removed with the subscriber.
    s.remove_subscriber("alice", "example.com").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    assert!(!s.is_admin("alice", "example.com").await.unwrap());
    assert_eq!(
        s.check_web_login("alice", "example.com", "web-pw")
            .await
            .unwrap(),
        None
    );
}

/// Sessions: found by their secret until they expire or end; the admin flag read live.
pub async fn web_sessions(s: Store) {
    example_com_with(&s, &["alice"]).await;
    s.set_web_password("alice", "example.com", "web-pw")
        .await
        .unwrap();
    let account = s
        .check_web_login("alice", "example.com", "web-pw")
        .await
        .unwrap()
        .unwrap();
    let new = s.create_session(&account, 1000, 60).await.unwrap();
    assert_eq!(new.secret.len(), 64);
    let found = s.session(&new.secret, 1001).await.unwrap().unwrap();
    assert_eq!(found.account, account);
    assert_eq!(found.csrf_token, new.csrf_token);
    assert_eq!(found.expires_at, 1060);
    assert_eq!(s.session(&new.secret, 1060).await.unwrap(), None, "expired");
    assert_eq!(s.session("made-up", 1001).await.unwrap(), None);
    s.set_admin("alice", "example.com", true).await.unwrap();
    assert!(
        s.session(&new.secret, 1001)
            .await
            .unwrap()
            .unwrap()
            .account
            .is_admin
    );
    assert!(s.end_session(&new.secret).await.unwrap());
    assert!(!s.end_session(&new.secret).await.unwrap());
    assert_eq!(s.session(&new.secret, 1001).await.unwrap(), None);
    let other = s.create_session(&account, 1000, 60).await.unwrap();
    assert_eq!(s.purge_expired_sessions(2000).await.unwrap(), 1);
    assert_eq!(s.session(&other.secret, 1001).await.unwrap(), None);
}

/// Password resets: the secret shown once, redeemed once before it expires; redeeming
/// sets the web password, closes the other open resets and ends the sessions.
pub async fn password_resets(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    let alice = addr("alice@example.com");
    let bob = addr("bob@example.com");
    s.set_web_password("alice", "example.com", "old-pw")
        .await
        .unwrap();
    let account = s
        .check_web_login("alice", "example.com", "old-pw")
        .await
        .unwrap()
        .unwrap();
    let session = s.create_session(&account, 1, 1_000_000).await.unwrap();
    let hour = 3_600_000;
    assert!(matches!(
        s.create_password_reset(&addr("zed@example.com"), 1000, hour)
            .await,
        Err(StoreError::NoSuchUser(_))
    ));
    let first = s.create_password_reset(&alice, 1000, hour).await.unwrap();
    let second = s.create_password_reset(&alice, 2000, hour).await.unwrap();
    let bobs = s.create_password_reset(&bob, 2000, hour).await.unwrap();
    assert!(first.starts_with(store::RESET_PREFIX));
    assert_ne!(first, second);
    assert_eq!(s.password_resets_since(&alice, 0).await.unwrap(), 2);
    assert_eq!(s.password_resets_since(&alice, 1500).await.unwrap(), 1);
    assert_eq!(
        s.password_resets_since(&addr("zed@example.com"), 0)
            .await
            .unwrap(),
        0
    );
    // Unknown and expired secrets, and a bad password, change nothing.
    for (secret, now) in [("itspr_made-up", 3000), (first.as_str(), 1000 + hour)] {
        assert!(matches!(
            s.redeem_password_reset(secret, "new-pw", now).await,
            Err(StoreError::BadResetToken)
        ));
    }
    assert!(matches!(
        s.redeem_password_reset(&second, "", 3000).await,
        Err(StoreError::BadPassword(_))
    ));
    assert!(s.session(&session.secret, 2).await.unwrap().is_some());
    // The second one works once; the first, still open, is closed with it.
    assert_eq!(
        s.redeem_password_reset(&second, "new-pw", 3000)
            .await
            .unwrap(),
        alice
    );
    assert!(s
        .check_web_login("alice", "example.com", "new-pw")
        .await
        .unwrap()
        .is_some());
    assert!(s
        .check_web_login("alice", "example.com", "old-pw")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.session(&session.secret, 2).await.unwrap(),
        None,
        "sessions end"
    );
    for secret in [&second, &first] {
        assert!(matches!(
            s.redeem_password_reset(secret, "third-pw", 4000).await,
            Err(StoreError::BadResetToken)
        ));
    }
    // Bob's reset is his own, and gives him a web password he did not have.
    assert_eq!(
        s.redeem_password_reset(&bobs, "bob-pw", 4000)
            .await
            .unwrap(),
        bob
    );
    assert!(s
        .check_web_login("bob", "example.com", "bob-pw")
        .await
        .unwrap()
        .is_some());
    // Purged once expired; removed with the subscriber.
    let later = s.create_password_reset(&alice, 5000, hour).await.unwrap();
    assert_eq!(s.purge_password_resets(2000 + hour).await.unwrap(), 3);
    assert_eq!(s.password_resets_since(&alice, 0).await.unwrap(), 1);
    s.remove_subscriber("alice", "example.com").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    assert_eq!(s.password_resets_since(&alice, 0).await.unwrap(), 0);
    assert!(matches!(
        s.redeem_password_reset(&later, "x-pw", 6000).await,
        Err(StoreError::BadResetToken)
    ));
}

/// API tokens: shown once, stored hashed, found by the secret, revoked.
pub async fn api_tokens(s: Store) {
    example_com_with(&s, &["alice"]).await;
    let alice = addr("alice@example.com");
    let (admin, admin_secret) = s.create_api_token("ops", None).await.unwrap();
    let (user, user_secret) = s.create_api_token("laptop", Some(&alice)).await.unwrap();
    assert!(admin_secret.starts_with(store::TOKEN_PREFIX));
    assert_ne!(admin_secret, user_secret);
    assert_eq!(admin.owner, None);
    assert_eq!(user.owner, Some(alice.clone()));
    let found = s
        .api_token_by_secret(&user_secret, 5000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.owner.clone()),
        (user.id, Some(alice.clone()))
    );
    let listed = s.api_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].last_used_at, Some(5000));
    assert_eq!(listed[0].last_used_at, None);
    assert_eq!(
        s.api_token_by_secret("itsp_made_up", 1).await.unwrap(),
        None
    );
    assert!(matches!(
        s.create_api_token("", None).await,
        Err(StoreError::BadTokenName(_))
    ));
    assert!(matches!(
        s.create_api_token("x", Some(&addr("zed@example.com")))
            .await,
        Err(StoreError::NoSuchUser(_))
    ));
    s.revoke_api_token(admin.id).await.unwrap();
    assert_eq!(s.api_token_by_secret(&admin_secret, 1).await.unwrap(), None);
    assert!(matches!(
        s.revoke_api_token(admin.id).await,
        Err(StoreError::NoSuchToken(_))
    ));
    // A subscriber's tokens go with the subscriber.
    s.remove_subscriber("alice", "example.com").await.unwrap();
    assert_eq!(s.api_token_by_secret(&user_secret, 1).await.unwrap(), None);
    assert!(s.api_tokens().await.unwrap().is_empty());
}

/// Keyset pages of subscribers, in (domain, user) order, and the totals.
pub async fn subscribers_page_and_totals(s: Store) {
    example_com_with(&s, &["c", "a", "b"]).await;
    s.add_domain("b.example").await.unwrap();
    s.add_subscriber("z", "b.example", "pw", None)
        .await
        .unwrap();
    s.add_alias("100", "example.com", "a", "example.com")
        .await
        .unwrap();
    let names = |v: Vec<store::Subscriber>| {
        v.into_iter()
            .map(|s| s.address.to_string())
            .collect::<Vec<_>>()
    };
    let first = s.subscribers_page(None, None, 2).await.unwrap();
    assert_eq!(names(first.clone()), ["z@b.example", "a@example.com"]);
    let after = first.last().unwrap().address.clone();
    let rest = s.subscribers_page(None, Some(&after), 10).await.unwrap();
    assert_eq!(names(rest), ["b@example.com", "c@example.com"]);
    let only = s
        .subscribers_page(Some("Example.COM"), Some(&addr("a@example.com")), 10)
        .await
        .unwrap();
    assert_eq!(names(only), ["b@example.com", "c@example.com"]);
    // A cursor that no longer exists still pages on.
    let gone = s
        .subscribers_page(None, Some(&addr("bb@example.com")), 10)
        .await
        .unwrap();
    assert_eq!(names(gone), ["c@example.com"]);
    assert!(matches!(
        s.subscribers_page(Some("no.example"), None, 1).await,
        Err(StoreError::NoSuchDomain(_))
    ));
    // Searched: by a part of the address or of the e-mail, ignoring case; paged the same.
    s.add_subscriber("d_x", "example.com", "pw", Some("Dora.Xu@Mail.example"))
        .await
        .unwrap();
    let found = |text: &'static str, after: Option<&'static str>, limit: u32| {
        let s = s.clone();
        async move {
            let after = after.map(addr);
            names(
                s.subscribers_matching(None, Some(text), after.as_ref(), limit)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(found("B.EXAMPLE", None, 10).await, ["z@b.example"]);
    assert_eq!(
        found("@example.com", None, 2).await,
        ["a@example.com", "b@example.com"]
    );
    assert_eq!(
        found("@example.com", Some("b@example.com"), 10).await,
        ["c@example.com", "d_x@example.com"]
    );
    assert_eq!(found("dora.xu@mail", None, 10).await, ["d_x@example.com"]);
    assert_eq!(
        found("_", None, 10).await,
        ["d_x@example.com"],
        "_ is no wildcard"
    );
    assert!(found("%", None, 10).await.is_empty(), "% is no wildcard");
    assert!(found("nobody", None, 10).await.is_empty());
    let only = s
        .subscribers_matching(Some("b.example"), Some("example"), None, 10)
        .await
        .unwrap();
    assert_eq!(names(only), ["z@b.example"]);
    s.remove_subscriber("d_x", "example.com").await.unwrap();
    s.upsert_binding(&binding("a@example.com", "sip:a@192.0.2.1", 2000, 1000))
        .await
        .unwrap();
    s.upsert_binding(&binding("b@example.com", "sip:b@192.0.2.2", 500, 1000))
        .await
        .unwrap();
    let t = s.totals(1000).await.unwrap();
    assert_eq!(
        (t.domains, t.subscribers, t.aliases, t.registrations),
        (2, 4, 1, 1)
    );
}

/// A record as the proxy writes it: alice calls bob, answered at 2 s, ended at 7.5 s.
pub fn answered_cdr(call_id: &str, start_ms: i64) -> store::Cdr {
    store::Cdr {
        call_id: call_id.to_owned(),
        from_tag: "f".into(),
        to_tag: Some("t".into()),
        caller_user: Some("alice".into()),
        caller_domain: Some("Example.COM.".into()),
        caller_uri: "sip:alice@example.com".into(),
        source_ip: Some("192.0.2.7".into()),
        dialled_uri: "sip:bob@example.com".into(),
        callee_user: Some("bob".into()),
        callee_domain: Some("example.com".into()),
        answered_by: Some("sip:bob@198.51.100.21:5060".into()),
        start_ms,
        answer_ms: Some(start_ms + 2_000),
        end_ms: start_ms + 7_500,
        disposition: store::Disposition::Answered,
        code: 200,
        reason: Some("OK".into()),
        hung_up_by: Some(store::HungUpBy::Caller),
        end_reason: None,
        node: "n1".into(),
        charge: None,
        media: None,
    }
}

/// Call detail records: written through the pool and the writer alike, read a page at a
/// time with filters (user, missed calls, time, disposition), checked before writing (a bad
/// batch writes nothing), and the live calls of a restarted node closed into records.
pub async fn cdrs(s: Store) {
    use store::{CdrFilter, Disposition, HungUpBy};
    let mut first = answered_cdr("c1", 10_000);
    first.charge = Some(store::Charge {
        plan: "default".into(),
        cost: "0.8900".into(),
        currency: "EUR".into(),
    });
    s.record_cdrs(std::slice::from_ref(&first)).await.unwrap();
    let mut busy = answered_cdr("c2", 20_000);
    busy.answer_ms = None;
    busy.answered_by = None;
    busy.disposition = Disposition::Busy;
    busy.code = 486;
    busy.reason = Some("Busy Here".into());
    busy.hung_up_by = Some(HungUpBy::Callee);
    let mut from_bob = answered_cdr("c3", 30_000);
    from_bob.caller_user = Some("bob".into());
    from_bob.callee_user = Some("carol".into());
    let mut writer = s
        .writer(tokio::runtime::Handle::current(), store::Durability::Disk)
        .unwrap();
    let batch = vec![busy.clone(), from_bob.clone()];
    tokio::task::spawn_blocking(move || writer.record_cdrs(&batch))
        .await
        .unwrap()
        .unwrap();
    let all = s.cdrs(&CdrFilter::default(), None, 100).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0].cdr.caller_domain.as_deref(),
        Some("example.com"),
        "folded"
    );
    let mut expected = first.clone();
    expected.caller_domain = Some("example.com".into());
    assert_eq!(all[0].cdr, expected);
    let mut busy_folded = busy.clone();
    busy_folded.caller_domain = Some("example.com".into());
    assert_eq!(all[1].cdr, busy_folded, "the writer folds the domain too");
    // Pages: two, then the rest after the cursor.
    let page = s.cdrs(&CdrFilter::default(), None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    let rest = s
        .cdrs(&CdrFilter::default(), Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].cdr.call_id, "c3");
    // Filters.
    let alice = CdrFilter {
        user: Some(addr("alice@example.com")),
        ..CdrFilter::default()
    };
    let ids = |v: Vec<store::StoredCdr>| v.into_iter().map(|c| c.cdr.call_id).collect::<Vec<_>>();
    assert_eq!(ids(s.cdrs(&alice, None, 100).await.unwrap()), ["c1", "c2"]);
    let missed = CdrFilter {
        missed_by: Some(addr("bob@example.com")),
        ..CdrFilter::default()
    };
    assert_eq!(ids(s.cdrs(&missed, None, 100).await.unwrap()), ["c2"]);
    let window = CdrFilter {
        since_ms: Some(15_000),
        until_ms: Some(30_000),
        ..CdrFilter::default()
    };
    assert_eq!(ids(s.cdrs(&window, None, 100).await.unwrap()), ["c2"]);
    let answered = CdrFilter {
        disposition: Some(Disposition::Answered),
        ..CdrFilter::default()
    };
    assert_eq!(
        ids(s.cdrs(&answered, None, 100).await.unwrap()),
        ["c1", "c3"]
    );
    // A bad record in a batch: nothing of the batch is written.
    let mut float = answered_cdr("c4", 40_000);
    float.charge = Some(store::Charge {
        plan: "default".into(),
        cost: "8.9e-1".into(),
        currency: "EUR".into(),
    });
    let err = s.record_cdrs(&[float]).await.unwrap_err();
    assert!(err.to_string().contains("exact decimal"), "{err}");
    let mut bad = answered_cdr("c4", 40_000);
    bad.end_ms = 39_000;
    let err = s
        .record_cdrs(&[answered_cdr("c5", 50_000), bad])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("end before start"), "{err}");
    assert_eq!(
        s.cdrs(&CdrFilter::default(), None, 100)
            .await
            .unwrap()
            .len(),
        3
    );
    // A restart closes the node's live calls, and only its own.
    let mut talking = call("live1", "f1", 60_000, "n1");
    talking.state = store::CallState::Confirmed;
    talking.answered_ms = Some(61_000);
    let ringing = call("live2", "f2", 62_000, "n1");
    let elsewhere = call("live3", "f3", 63_000, "n2");
    s.write_calls(&[
        CallWrite::Upsert(talking),
        CallWrite::Upsert(ringing),
        CallWrite::Upsert(elsewhere),
    ])
    .await
    .unwrap();
    assert_eq!(s.close_calls("n1", 70_000).await.unwrap(), 2);
    let left: Vec<String> = s
        .calls()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(left, ["live3"]);
    let closed = s
        .cdrs(
            &CdrFilter {
                since_ms: Some(60_000),
                ..CdrFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(closed.len(), 2);
    let talked = &closed[0].cdr;
    assert_eq!(talked.disposition, Disposition::Answered);
    assert_eq!(talked.billable_secs(), 9);
    assert_eq!(talked.hung_up_by, Some(HungUpBy::Proxy));
    assert_eq!(talked.end_reason.as_deref(), Some("restart"));
    assert_eq!(talked.caller_user.as_deref(), Some("alice"));
    assert_eq!(closed[1].cdr.disposition, Disposition::Failed);
    assert_eq!(closed[1].cdr.end_ms, 70_000);
}

/// Voicemail messages: added to a subscriber's mailbox, listed oldest first, new; an unknown
/// mailbox is an error; removed with the subscriber.
pub async fn voicemail(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    assert!(s
        .voicemail_messages("bob", "example.com")
        .await
        .unwrap()
        .is_empty());
    let first = store::NewVoicemail {
        caller: "sip:alice@example.com",
        created_ms: 2_000,
        duration_ms: 2_140,
        file: "example.com/bob/2.wav",
    };
    let older = store::NewVoicemail {
        created_ms: 1_000,
        file: "example.com/bob/1.wav",
        ..first.clone()
    };
    let id = s.add_voicemail("bob", "example.com", &first).await.unwrap();
    let id_older = s.add_voicemail("bob", "example.com", &older).await.unwrap();
    assert_ne!(id, id_older);
    let list = s.voicemail_messages("bob", "EXAMPLE.COM").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].file, "example.com/bob/1.wav");
    assert_eq!(list[1].id, id);
    assert_eq!(list[1].caller, "sip:alice@example.com");
    assert_eq!(list[1].duration_ms, 2_140);
    assert_eq!(list[1].status, store::STATUS_NEW);
    assert_eq!(
        s.mark_voicemail_saved("bob", "example.com", &[id, 9999])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.mark_voicemail_saved("alice", "example.com", &[id_older])
            .await
            .unwrap(),
        0,
        "not alice's"
    );
    let list = s.voicemail_messages("bob", "example.com").await.unwrap();
    assert_eq!(list[1].status, store::STATUS_SAVED);
    assert_eq!(list[0].status, store::STATUS_NEW);
    // The mailboxes holding messages, with their counts (alice's empty one is not listed).
    assert_eq!(
        s.voicemail_mailboxes().await.unwrap(),
        vec![store::MailboxCounts {
            user: "bob".into(),
            domain: "example.com".into(),
            new: 1,
            saved: 1,
        }]
    );
    // Removed (e-mailed): only from its own mailbox, once, answering its file.
    assert_eq!(
        s.remove_voicemail("alice", "example.com", id_older)
            .await
            .unwrap(),
        None,
        "not alice's"
    );
    let file = list[0].file.clone();
    assert_eq!(
        s.remove_voicemail("bob", "example.com", id_older)
            .await
            .unwrap(),
        Some(file)
    );
    assert_eq!(
        s.remove_voicemail("bob", "example.com", id_older)
            .await
            .unwrap(),
        None
    );
    let kept = s.voicemail_messages("bob", "example.com").await.unwrap();
    assert_eq!(kept.len(), 1);
    s.add_voicemail("bob", "example.com", &first).await.unwrap();
    assert!(matches!(
        s.add_voicemail("carol", "example.com", &first).await,
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.voicemail_messages("carol", "example.com").await,
        Err(StoreError::NoSuchUser(_))
    ));
    s.remove_subscriber("bob", "example.com").await.unwrap();
    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
    assert!(s
        .voicemail_messages("bob", "example.com")
        .await
        .unwrap()
        .is_empty());
}

/// Tariff files: a set replaced whole (files of another set untouched), read back as
/// given; a file of another set in the batch is refused and nothing changes.
pub async fn tariffs(s: Store) {
    use store::{TariffFile, TariffFormat};
    let file = |set: &str, name: &str, content: &str| TariffFile {
        set_key: set.into(),
        format: if set == "cgrates" {
            TariffFormat::Cgrates
        } else {
            TariffFormat::Native
        },
        name: name.into(),
        content: content.into(),
        currency: "EUR".into(),
        utc_offset: 3600,
        imported_ms: 1_000,
    };
    assert!(s.tariff_files().await.unwrap().is_empty());
    assert_eq!(s.tariff_stamp().await.unwrap(), (0, 0));
    let first = vec![file("default", "rates.csv", "46,Sweden,0,0.10,60,60\n")];
    s.replace_tariff_set("default", &first).await.unwrap();
    assert_eq!(
        s.tariff_stamp().await.unwrap(),
        (1, 1_000),
        "the stamp moves"
    );
    let cgrates = vec![
        file("cgrates", "Destinations.csv", "DST_46,46\n"),
        file("cgrates", "Rates.csv", "RT,0,0.1,60s,60s,0s\n"),
    ];
    s.replace_tariff_set("cgrates", &cgrates).await.unwrap();
    let second = vec![file("default", "rates-2.csv", "46,Sweden,0,0.20,60,60\n")];
    s.replace_tariff_set("default", &second).await.unwrap();
    let all = s.tariff_files().await.unwrap();
    assert_eq!(
        all,
        [cgrates[0].clone(), cgrates[1].clone(), second[0].clone()]
    );
    let err = s
        .replace_tariff_set("default", &[file("cgrates", "x.csv", "")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("belong to the set"), "{err}");
    assert_eq!(s.tariff_files().await.unwrap(), all);
}

/// The relay's counters on call records: with the record, or put on it afterwards by the
/// pool and by the writer; a row with some of them and not others is corrupt.
pub async fn cdr_media(s: Store) {
    use store::{CallMedia, CdrFilter, MediaUpdate};
    let media = CallMedia {
        caller_packets: 1500,
        caller_lost: 3,
        callee_packets: 1490,
        callee_lost: 0,
        bytes: 515_680,
        caller_quality: Some(store::MediaQuality {
            jitter_us: 2_125,
            mos_centi: 438,
        }),
        callee_quality: None,
    };
    let mut with = answered_cdr("m1", 10_000);
    with.media = Some(media);
    s.record_cdrs(&[with, answered_cdr("m2", 20_000), answered_cdr("m3", 30_000)])
        .await
        .unwrap();
    let later = |call_id: &str, caller_packets| MediaUpdate {
        call_id: call_id.into(),
        from_tag: "f".into(),
        media: CallMedia {
            caller_packets,
            ..media
        },
    };
    s.record_media(&[later("m2", 7), later("nobody", 9)])
        .await
        .unwrap();
    let mut writer = s
        .writer(tokio::runtime::Handle::current(), store::Durability::Disk)
        .unwrap();
    let update = vec![later("m3", 8)];
    tokio::task::spawn_blocking(move || writer.record_media(&update))
        .await
        .unwrap()
        .unwrap();
    let all = s.cdrs(&CdrFilter::default(), None, 10).await.unwrap();
    let got: Vec<Option<i64>> = all
        .iter()
        .map(|c| c.cdr.media.map(|m| m.caller_packets))
        .collect();
    assert_eq!(got, [Some(1500), Some(7), Some(8)]);
    assert_eq!(all[0].cdr.media, Some(media));
}

pub async fn audit_log(s: Store) {
    use store::{AuditFilter, NewAuditEntry, MAX_AUDIT_DETAIL_BYTES};
    let entry = |at_ms: i64, actor: &str, action: &str| NewAuditEntry {
        at_ms,
        actor: actor.to_owned(),
        source: "192.0.2.7".to_owned(),
        action: action.to_owned(),
        status: 204,
        detail: Some("address=bob@example.com".to_owned()),
    };
    assert!(s
        .audit_entries(&AuditFilter::default(), None, 10)
        .await
        .unwrap()
        .is_empty());
    let first = s
        .record_audit(&entry(1000, "admin@example.com", "POST /api/v1/domains"))
        .await
        .unwrap();
    let second = s
        .record_audit(&entry(2000, "token 3", "DELETE /api/v1/domains/x.example"))
        .await
        .unwrap();
    let mut long = entry(
        3000,
        "admin@example.com",
        "PATCH /api/v1/subscribers/b@example.com",
    );
    long.detail = Some("é".repeat(MAX_AUDIT_DETAIL_BYTES));
    long.status = 303;
    let third = s.record_audit(&long).await.unwrap();
    assert!(first < second && second < third);
    // Newest first; a page after a cursor.
    let all = s
        .audit_entries(&AuditFilter::default(), None, 10)
        .await
        .unwrap();
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, [third, second, first]);
    assert_eq!(all[1].actor, "token 3");
    assert_eq!(all[1].source, "192.0.2.7");
    assert_eq!(all[1].status, 204);
    assert_eq!(all[1].at_ms, 2000);
    assert_eq!(all[1].action, "DELETE /api/v1/domains/x.example");
    assert_eq!(all[0].status, 303);
    let cut = all[0].detail.as_deref().unwrap();
    assert!(cut.len() <= MAX_AUDIT_DETAIL_BYTES && cut.chars().all(|c| c == 'é'));
    let page = s
        .audit_entries(&AuditFilter::default(), Some(third), 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, second);
    // Filters: time (since inclusive, until exclusive) and actor.
    let f = AuditFilter {
        since_ms: Some(2000),
        until_ms: Some(3000),
        actor: None,
    };
    let found = s.audit_entries(&f, None, 10).await.unwrap();
    assert_eq!(found.iter().map(|e| e.id).collect::<Vec<_>>(), [second]);
    let f = AuditFilter {
        actor: Some("admin@example.com".to_owned()),
        ..AuditFilter::default()
    };
    let found = s.audit_entries(&f, None, 10).await.unwrap();
    assert_eq!(
        found.iter().map(|e| e.id).collect::<Vec<_>>(),
        [third, first]
    );
}

pub async fn disabled_subscribers(s: Store) {
    example_com_with(&s, &["alice", "bob"]).await;
    let alice = addr("alice@example.com");
    s.set_web_password("alice", "example.com", "web-pw")
        .await
        .unwrap();
    let account = s
        .check_web_login("alice", "example.com", "web-pw")
        .await
        .unwrap()
        .unwrap();
    let session = s.create_session(&account, 1000, 60).await.unwrap();
    let (_, token) = s.create_api_token("script", Some(&alice)).await.unwrap();
    let (_, admin_token) = s.create_api_token("admin", None).await.unwrap();
    assert!(
        !s.subscriber("alice", "example.com")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    let before = s.subscribers_version().await.unwrap();

    s.set_subscriber_disabled("alice", "example.com", true)
        .await
        .unwrap();
    assert!(
        s.subscriber("alice", "example.com")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        s.subscribers_version().await.unwrap() > before,
        "caches must forget"
    );
    // No way in: SIP credentials (both digest usernames), web login, session, token.
    assert_eq!(s.credentials("alice", "example.com").await.unwrap(), None);
    assert_eq!(
        s.credentials("alice@example.com", "example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.check_web_login("alice", "example.com", "web-pw")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.session(&session.secret, 1001).await.unwrap(), None);
    assert_eq!(s.api_token_by_secret(&token, 1001).await.unwrap(), None);
    assert!(s
        .api_token_by_secret(&admin_token, 1001)
        .await
        .unwrap()
        .is_some());
    // Others are untouched; everything of alice's is kept.
    assert!(s.credentials("bob", "example.com").await.unwrap().is_some());
    assert_eq!(
        s.resolve("alice", "example.com").await.unwrap(),
        Some(alice.clone())
    );

    s.set_subscriber_disabled("alice", "example.com", false)
        .await
        .unwrap();
    assert!(s
        .credentials("alice", "example.com")
        .await
        .unwrap()
        .is_some());
    assert!(s
        .check_web_login("alice", "example.com", "web-pw")
        .await
        .unwrap()
        .is_some());
    assert!(s.api_token_by_secret(&token, 1002).await.unwrap().is_some());
    // The session ended when she was disabled.
    assert_eq!(s.session(&session.secret, 1002).await.unwrap(), None);
    assert!(matches!(
        s.set_subscriber_disabled("zed", "example.com", true).await,
        Err(StoreError::NoSuchUser(_))
    ));
}

/// Conference rooms: added with or without a PIN to a served domain, names kept in lower
/// case, found without regard to case, listed by domain and name, the PIN changed and
/// cleared, removed; bad names and PINs, unknown domains and rooms refused.
pub async fn conference_rooms(s: Store) {
    example_com_with(&s, &[]).await;
    s.add_domain("example.org").await.unwrap();
    let room = s
        .add_conference_room("example.com", "Sales", Some("1234"), 1_000)
        .await
        .unwrap();
    assert_eq!(room.name, "sales");
    assert_eq!(room.pin.as_deref(), Some("1234"));
    s.add_conference_room("example.org", "team", None, 2_000)
        .await
        .unwrap();
    s.add_conference_room("example.com", "all-hands", None, 3_000)
        .await
        .unwrap();
    assert!(matches!(
        s.add_conference_room("EXAMPLE.com", "SALES", None, 4_000).await,
        Err(StoreError::RoomExists(r)) if r == "sales@example.com"
    ));
    let found = s.conference_room("example.com", "SALES").await.unwrap();
    assert_eq!(found, Some(room));
    assert_eq!(
        s.conference_room("example.org", "sales").await.unwrap(),
        None
    );
    let names = |rooms: Vec<store::ConferenceRoom>| {
        rooms
            .into_iter()
            .map(|r| format!("{}@{}", r.name, r.domain))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.conference_rooms(None).await.unwrap()),
        [
            "all-hands@example.com",
            "sales@example.com",
            "team@example.org"
        ]
    );
    assert_eq!(
        names(s.conference_rooms(Some("example.org")).await.unwrap()),
        ["team@example.org"]
    );
    s.set_conference_pin("example.com", "sales", None)
        .await
        .unwrap();
    let cleared = s
        .conference_room("example.com", "sales")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.pin, None);
    s.set_conference_pin("example.org", "team", Some("98765"))
        .await
        .unwrap();
    for (name, pin) in [
        ("bad name", None),
        ("", None),
        ("ok", Some("12")),
        ("ok", Some("12ab")),
    ] {
        assert!(
            matches!(
                s.add_conference_room("example.com", name, pin, 0).await,
                Err(StoreError::BadRoom(_))
            ),
            "{name:?} {pin:?}"
        );
    }
    assert!(matches!(
        s.add_conference_room("example.net", "x", None, 0).await,
        Err(StoreError::NoSuchDomain(_))
    ));
    assert!(matches!(
        s.set_conference_pin("example.com", "nope", None).await,
        Err(StoreError::NoSuchRoom(_))
    ));
    s.remove_conference_room("example.com", "Sales")
        .await
        .unwrap();
    assert!(matches!(
        s.remove_conference_room("example.com", "sales").await,
        Err(StoreError::NoSuchRoom(_))
    ));
    assert_eq!(s.conference_rooms(None).await.unwrap().len(), 2);
}

/// Self-registration (migration `0021`): the domain setting, sign-ups refused where it is
/// off or the name is held, redeemed once into an enabled subscriber with the web
/// password of the sign-up and a generated SIP password; a name taken meanwhile or a
/// domain that stopped sign-ups changes nothing.
pub async fn self_registration(s: Store) {
    example_com_with(&s, &["alice"]).await;
    s.add_domain("example.net").await.unwrap();
    let hour = 3_600_000;
    assert!(!s.self_registration("example.com").await.unwrap());
    assert!(!s.self_registration("nowhere.example").await.unwrap());
    let dave = addr("dave@example.com");
    assert!(matches!(
        s.create_signup(&dave, "d@mail.example", "dave-web-pw", 1000, hour)
            .await,
        Err(StoreError::SelfRegistrationOff(_))
    ));
    s.set_self_registration("Example.COM", true).await.unwrap();
    assert!(matches!(
        s.set_self_registration("nowhere.example", true).await,
        Err(StoreError::NoSuchDomain(_))
    ));
    assert_eq!(
        s.self_registration_domains().await.unwrap(),
        ["example.com"]
    );
    // Held names and bad fields.
    s.add_alias("+4611", "example.com", "alice", "example.com")
        .await
        .unwrap();
    for (who, email, pw) in [
        ("alice@example.com", "a@mail.example", "a-web-pw"),
        ("ALICE@example.com", "a@mail.example", "a-web-pw"),
        ("+4611@example.com", "a@mail.example", "a-web-pw"),
        ("dave@example.com", "no-address", "dave-web-pw"),
        ("dave@example.com", "d@mail.example", ""),
        ("dave@example.net", "d@mail.example", "dave-web-pw"),
    ] {
        let r = s.create_signup(&addr(who), email, pw, 1000, hour).await;
        assert!(
            matches!(
                r,
                Err(StoreError::UserExists(_)
                    | StoreError::AliasExists(_)
                    | StoreError::BadEmail(_)
                    | StoreError::BadPassword(_)
                    | StoreError::SelfRegistrationOff(_))
            ),
            "{who} {email}: {r:?}"
        );
    }
    // Two sign-ups for one name: no subscriber before the confirmation, the first wins.
    let first = s
        .create_signup(&dave, "d@mail.example", "dave-web-pw", 1000, hour)
        .await
        .unwrap();
    let second = s
        .create_signup(&dave, "other@mail.example", "other-pw", 2000, hour)
        .await
        .unwrap();
    assert!(first.starts_with(store::SIGNUP_PREFIX));
    assert_eq!(s.signups_since("d@mail.example", 0).await.unwrap(), 1);
    assert_eq!(s.signups_since("d@mail.example", 1001).await.unwrap(), 0);
    assert!(s.subscriber("dave", "example.com").await.unwrap().is_none());
    assert!(matches!(
        s.redeem_signup("itsps_unknown", 1500).await,
        Err(StoreError::BadSignupToken)
    ));
    assert!(matches!(
        s.redeem_signup(&first, 1000 + hour).await,
        Err(StoreError::BadSignupToken)
    ));
    let version = s.subscribers_version().await.unwrap();
    let (a, sip) = s.redeem_signup(&first, 1500).await.unwrap();
    assert_eq!(a, dave);
    assert_eq!(sip.len(), store::SIP_PASSWORD_LEN);
    assert!(s.subscribers_version().await.unwrap() > version);
    let sub = s.subscriber("dave", "example.com").await.unwrap().unwrap();
    assert!(!sub.disabled);
    assert_eq!(sub.email.as_deref(), Some("d@mail.example"));
    assert_eq!(
        sub.ha1.md5,
        ha1(Algorithm::Md5, "dave", "example.com", &sip)
    );
    let account = s
        .check_web_login("dave", "example.com", "dave-web-pw")
        .await
        .unwrap()
        .unwrap();
    assert!(!account.is_admin);
    assert!(matches!(
        s.redeem_signup(&first, 1600).await,
        Err(StoreError::BadSignupToken)
    ));
    // The second sign-up for the name: taken now, and it stays unused (it says so again).
    for _ in 0..2 {
        assert!(matches!(
            s.redeem_signup(&second, 1600).await,
            Err(StoreError::UserExists(_))
        ));
    }
    // A domain that stopped sign-ups: the link makes nothing.
    let erin = s
        .create_signup(
            &addr("erin@example.com"),
            "e@mail.example",
            "erin-web-pw",
            1000,
            hour,
        )
        .await
        .unwrap();
    s.set_self_registration("example.com", false).await.unwrap();
    assert!(matches!(
        s.redeem_signup(&erin, 1600).await,
        Err(StoreError::SelfRegistrationOff(_))
    ));
    assert!(s.subscriber("erin", "example.com").await.unwrap().is_none());
    // Expired ones are purged.
    assert_eq!(s.purge_signups(1000 + hour).await.unwrap(), 2);
    assert_eq!(s.signups_since("e@mail.example", 0).await.unwrap(), 0);
}

/// A subscriber's e-mail address set, checked and cleared.
pub async fn subscriber_email(s: Store) {
    example_com_with(&s, &["alice"]).await;
    s.set_email("alice", "example.com", Some("a@mail.example"))
        .await
        .unwrap();
    let sub = s.subscriber("alice", "example.com").await.unwrap().unwrap();
    assert_eq!(sub.email.as_deref(), Some("a@mail.example"));
    assert!(matches!(
        s.set_email("alice", "example.com", Some("nope")).await,
        Err(StoreError::BadEmail(_))
    ));
    assert!(matches!(
        s.set_email("bob", "example.com", None).await,
        Err(StoreError::NoSuchUser(_))
    ));
    s.set_email("alice", "example.com", Some("  "))
        .await
        .unwrap();
    let sub = s.subscriber("alice", "example.com").await.unwrap().unwrap();
    assert_eq!(sub.email, None);
}
