//! The store's behaviours on SQLite, each on a fresh database file, plus what only SQLite
//! has (the file and its directory are created).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::suite::{self, for_each_behaviour};
use sqlx::Connection;
use store::{Store, StoreError};

async fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/itsp.db?mode=rwc", dir.path().display());
    (dir, Store::open(&url).await.unwrap())
}

macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh().await;
                suite::$name(store.clone()).await;
                store.close().await;
            }
        )*
    };
}

for_each_behaviour!(sqlite_tests);

#[tokio::test]
async fn creates_file_and_directory_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/itsp.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let s = Store::open(&url).await.unwrap();
    assert_eq!(s.backend_name(), "sqlite");
    s.add_domain("example.com").await.unwrap();
    s.close().await;
    assert!(path.is_file());
    // Reopening runs the migrations again (nothing to do) and keeps the data.
    let s = Store::open(&url).await.unwrap();
    assert_eq!(s.list_domains().await.unwrap(), ["example.com"]);
    // WAL is a property of the file: a plain connection sees it.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn in_memory_and_bad_urls() {
    let s = Store::open("sqlite::memory:").await.unwrap();
    s.add_domain("example.com").await.unwrap();
    assert!(s.domain_exists("example.com").await.unwrap());
    let e = Store::open("mysql://user:hunter2@db/itsp")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::UnsupportedUrl(_)));
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// An in-memory database has no file another connection could open: the location writer
/// goes through the pool, and what it writes is what the pool reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_binding_writer_uses_the_pool() {
    let s = Store::open("sqlite::memory:").await.unwrap();
    let mut writer = s
        .writer(tokio::runtime::Handle::current(), store::Durability::Disk)
        .unwrap();
    assert!(format!("{writer:?}").contains("pool"), "{writer:?}");
    let b = common::binding("alice@example.com", "sip:alice@192.0.2.1", 2_000, 1000);
    let write = store::BindingWrite::Upsert(b.clone());
    tokio::task::spawn_blocking(move || writer.write_bindings(&[write]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.bindings("alice@example.com").await.unwrap(), [b]);
}

#[tokio::test]
async fn a_write_by_another_connection_moves_the_subscribers_version() {
    // What `itsp user passwd` in another process does to a running server's database: the
    // triggers count the change, not the Store that made it.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/itsp.db?mode=rwc", dir.path().display());
    let s = Store::open(&url).await.unwrap();
    s.add_domain("example.com").await.unwrap();
    s.add_subscriber("alice", "example.com", "pw", None)
        .await
        .unwrap();
    let before = s.subscribers_version().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE subscribers SET email = 'a@mail.example' WHERE username = 'alice'")
        .execute(&mut conn)
        .await
        .unwrap();
    let after_update = s.subscribers_version().await.unwrap();
    assert!(after_update > before, "{after_update} after {before}");
    sqlx::query("DELETE FROM subscribers")
        .execute(&mut conn)
        .await
        .unwrap();
    let after_delete = s.subscribers_version().await.unwrap();
    assert!(
        after_delete > after_update,
        "{after_delete} after {after_update}"
    );
    // The counter row gone is reported, not taken for version 0.
    sqlx::query("DELETE FROM table_versions")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        s.subscribers_version().await,
        Err(StoreError::NoTableVersion(_))
    ));
}

/// Migration 0005: the CHECK constraints of `acc` still refuse unknown values, and an insert
/// builds no temporary table for them (an `IN (...)` list did, on every row).
#[tokio::test]
async fn acc_checks_compare_in_place() {
    let (dir, store) = fresh().await;
    store.close().await;
    let conn = rusqlite::Connection::open(dir.path().join("itsp.db")).unwrap();
    let insert = "INSERT INTO acc (time_ms, kind, method, call_id, from_tag, ended_by) \
                  VALUES (1, ?1, 'BYE', 'c', 'f', ?2)";
    let mut plan = conn.prepare(&format!("EXPLAIN {insert}")).unwrap();
    let opcodes: Vec<String> = plan
        .query_map(["ended", "caller"], |r| r.get(1))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(opcodes.iter().any(|o| o == "Insert"), "{opcodes:?}");
    assert!(!opcodes.iter().any(|o| o == "OpenEphemeral"), "{opcodes:?}");
    conn.execute(insert, ["ended", "caller"]).unwrap();
    assert!(conn.execute(insert, ["bogus", "caller"]).is_err());
    assert!(conn.execute(insert, ["ended", "nobody"]).is_err());
}

/// An issued invoice is final: the schema's triggers refuse to change or delete it or its
/// lines, whoever asks (the store has no API for it; this is a plain connection).
#[tokio::test]
async fn issued_invoices_cannot_be_changed_or_deleted() {
    let (dir, store) = fresh().await;
    suite::invoices(store.clone()).await;
    store.close().await;
    let url = format!("sqlite://{}/itsp.db", dir.path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for tamper in [
        "UPDATE invoices SET total = '0' WHERE number = '2026-11-0001'",
        "UPDATE invoices SET pdf = x'00'",
        "DELETE FROM invoices WHERE number = '2026-11-0001'",
        "UPDATE invoice_lines SET amount = '0'",
        "DELETE FROM invoice_lines",
    ] {
        let e = sqlx::query(tamper).execute(&mut conn).await.unwrap_err();
        assert!(
            e.to_string().contains("an issued invoice cannot be"),
            "{tamper}: {e}"
        );
    }
    let total: String =
        sqlx::query_scalar("SELECT total FROM invoices WHERE number = '2026-11-0001'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(total, "1.3558");
}
