//! Behaviours of the store, each an `async fn(Store)` run on a fresh, empty database of
//! every backend (`tests/sqlite.rs`, `tests/postgres.rs`).

use sip::auth::{ha1, Algorithm};
use store::{flags, Address, BindingWrite, Store, StoreError};

use super::binding;

/// Calls `$m!(name, ...)` with every behaviour below, so each backend runs them all.
#[allow(unused_macros)] // not by tests/durability.rs
macro_rules! for_each_behaviour {
    ($m:ident) => {
        $m!(
            domains,
            subscribers,
            passwords_are_not_stored,
            credentials,
            aliases,
            groups,
            remove_subscriber_cascades,
            locations,
            purge_expired,
            batched_binding_writes,
            concurrent_writes,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_behaviour;

fn addr(s: &str) -> Address {
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
    s.add_domain("example.com").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
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
    s.add_domain("example.com").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    s.add_subscriber("bob", "example.com", "pw", None)
        .await
        .unwrap();
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

    s.remove_subscriber("alice", "example.com").await.unwrap();
    assert_eq!(s.subscriber("alice", "example.com").await.unwrap(), None);
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
    let aor = "alice@example.com";
    let a = binding(aor, "sip:alice@192.0.2.1", 2_000, 1000);
    let b = binding(aor, "sip:alice@192.0.2.2", 2_000, 500);
    s.write_bindings(&[
        BindingWrite::Upsert(a.clone()),
        BindingWrite::Upsert(b.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(s.bindings(aor).await.unwrap(), [a.clone(), b.clone()]);
    s.write_bindings(&[
        BindingWrite::Remove {
            aor: aor.into(),
            contact: a.contact.clone(),
        },
        BindingWrite::Remove {
            aor: aor.into(),
            contact: "sip:never@192.0.2.9".into(),
        },
    ])
    .await
    .unwrap();
    assert_eq!(s.bindings(aor).await.unwrap(), std::slice::from_ref(&b));
    // All or nothing: a bad binding in the batch leaves the good ones unwritten.
    let mut bad = binding(aor, "sip:x@192.0.2.9", 1, 1001);
    bad.q = 1001;
    let c = binding(aor, "sip:alice@192.0.2.3", 2_000, 1000);
    assert!(matches!(
        s.write_bindings(&[BindingWrite::Upsert(c), BindingWrite::Upsert(bad)])
            .await,
        Err(StoreError::BadBinding(_))
    ));
    assert_eq!(s.bindings(aor).await.unwrap(), std::slice::from_ref(&b));
    s.write_bindings(&[]).await.unwrap();

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
    s.write_bindings(&batch).await.unwrap();
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
    s.write_bindings(&many).await.unwrap();
    assert_eq!(s.bindings("bulk@example.com").await.unwrap().len(), 1_234);
    let removes: Vec<BindingWrite> = (0..1_234)
        .map(|i| BindingWrite::Remove {
            aor: "bulk@example.com".into(),
            contact: format!("sip:b{i}@192.0.2.1"),
        })
        .collect();
    s.write_bindings(&removes).await.unwrap();
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
