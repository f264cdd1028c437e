//! A binding acknowledged by `upsert_binding` (the pool, `synchronous=FULL`) or by a
//! [`store::Writer`] with [`Durability::Process`] (`synchronous=NORMAL`, what the server's
//! location writer uses by default) survives `kill -9` of the process.
//!
//! The test re-runs its own binary as a child that writes bindings one by one, alternating
//! between the two, and prints `ack N` after each write returned `Ok`; the parent kills it
//! with SIGKILL while it is still writing, reopens the database and finds every
//! acknowledged binding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use store::{BindingWrite, Durability, Store};

/// Set in the child's environment to the database URL.
const CHILD_ENV: &str = "ITSP_STORE_KILL9_CHILD_DB";
/// Acknowledgements to wait for before the kill.
const ACKS_BEFORE_KILL: u64 = 200;
/// Upper bound on the whole test, and on the child if the parent vanished.
const LIMIT: Duration = Duration::from_secs(60);

fn contact(i: u64) -> String {
    format!("sip:dev{i}@192.0.2.1:5060")
}

/// The child: only does something when started by the test below.
#[test]
#[ignore = "child process of kill9_keeps_acknowledged_bindings"]
fn kill9_child() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        let mut writer = store
            .writer(tokio::runtime::Handle::current(), Durability::Process)
            .unwrap();
        let started = Instant::now();
        let mut out = std::io::stdout();
        for i in 0.. {
            let aor = format!("user{}@example.com", i % 17);
            let binding = common::binding(&aor, &contact(i), 10_000 + i as i64, 0);
            if i % 2 == 0 {
                store.upsert_binding(&binding).await.unwrap();
            } else {
                // The SQLite writer blocks on its own connection; no runtime involved.
                writer
                    .write_bindings(&[BindingWrite::Upsert(binding)])
                    .unwrap();
            }
            writeln!(out, "ack {i}").unwrap();
            out.flush().unwrap();
            if started.elapsed() > LIMIT {
                break;
            }
        }
    });
}

#[test]
fn kill9_keeps_acknowledged_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/data/itsp.db?mode=rwc", dir.path().display());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "kill9_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                if tx.send(n.parse::<u64>().unwrap()).is_err() {
                    break;
                }
            }
        }
    });

    let deadline = Instant::now() + LIMIT;
    let mut last_ack = None;
    while last_ack.is_none_or(|n| n < ACKS_BEFORE_KILL) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => last_ack = Some(n),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child stopped acknowledging after {last_ack:?}: {e}");
            }
        }
    }
    // SIGKILL, in the middle of the child's stream of writes.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed: {status:?}");
    // Acks the child printed before it died count too.
    while let Ok(n) = rx.recv_timeout(Duration::from_millis(200)) {
        last_ack = Some(n);
    }
    let last_ack = last_ack.unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        let stored: std::collections::HashSet<String> = store
            .all_bindings()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.contact)
            .collect();
        let missing: Vec<u64> = (0..=last_ack)
            .filter(|i| !stored.contains(&contact(*i)))
            .collect();
        assert!(
            missing.is_empty(),
            "acknowledged bindings lost after kill -9: {missing:?} (of 0..={last_ack})"
        );
        eprintln!(
            "kill -9 after {} acknowledged writes: all {} found ({} stored)",
            last_ack + 1,
            last_ack + 1,
            stored.len()
        );
    });
}
