//! Write-through of the location index to the store (Kamailio `usrloc` in `db_mode`
//! write-through): the conversion between the registrar's [`Binding`] and the store's row,
//! and [`LocationWriter`], the task that commits binding changes in batches.
//!
//! The registrar applies a REGISTER's changes to the in-memory index and hands them to the
//! writer in the same critical section, so the writer sees changes in the order the index
//! did. The 200 is sent only when the writer reports the commit: a binding acknowledged
//! with 200 survives `kill -9`. Changes that arrive within the commit window
//! ([`crate::ServerConfig::commit_window`]) or while a commit runs go into one transaction
//! together, so under load one fsync acknowledges many REGISTERs.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::mpsc as std_mpsc;

use store::{flags, BindingWrite, Store, Writer};
use tokio::sync::oneshot;

use crate::location::{Binding, Change};
use crate::run::StartError;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// The store row of a binding of `aor`.
pub fn to_store(aor: &str, b: &Binding) -> store::Binding {
    store::Binding {
        aor: aor.to_owned(),
        contact: b.contact.clone(),
        expires_at: i64::try_from(b.expires_at).unwrap_or(i64::MAX),
        q: b.q,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        user_agent: b.user_agent.clone().unwrap_or_default(),
        received: b.source.to_string(),
        transport: b.transport.clone(),
        local_socket: b
            .local
            .map(|l| format!("{}:{l}", b.transport.to_ascii_lowercase()))
            .unwrap_or_default(),
        path: (!b.path.is_empty()).then(|| b.path.join(", ")),
        instance: b.instance.clone(),
        reg_id: b.reg_id,
        flags: if b.nat { flags::NAT } else { 0 },
        updated_at: i64::try_from(b.updated_at).unwrap_or(i64::MAX),
    }
}

/// The binding a store row holds, with its AoR; `None` for a row this version cannot use
/// (a source address that does not parse).
pub fn from_store(row: store::Binding) -> Option<(String, Binding)> {
    let source: SocketAddr = row.received.parse().ok()?;
    let path = match &row.path {
        Some(p) => sip::text::split_top_level(p)
            .filter_map(Result::ok)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let binding = Binding {
        contact: row.contact,
        expires_at: u64::try_from(row.expires_at).unwrap_or(0),
        q: row.q,
        call_id: row.call_id,
        cseq: row.cseq,
        user_agent: (!row.user_agent.is_empty()).then_some(row.user_agent),
        source,
        transport: row.transport,
        // `udp:192.0.2.1:5060`; the protocol is also in `transport`.
        local: row
            .local_socket
            .split_once(':')
            .and_then(|(_, addr)| addr.parse().ok()),
        path,
        instance: row.instance,
        reg_id: row.reg_id,
        nat: row.flags & flags::NAT != 0,
        updated_at: u64::try_from(row.updated_at).unwrap_or(0),
    };
    Some((row.aor, binding))
}

/// The store writes for a registrar's changes to `aor`.
pub fn writes_for(aor: &str, changes: &[Change]) -> Vec<BindingWrite> {
    changes
        .iter()
        .map(|c| match c {
            Change::Upsert(b) => BindingWrite::Upsert(to_store(aor, b)),
            Change::Remove { contact } => BindingWrite::Remove {
                aor: aor.to_owned(),
                contact: contact.clone(),
            },
        })
        .collect()
}

/// The result of a write: `Err` carries the store's message.
pub type WriteResult = Result<(), String>;

struct Job {
    writes: Vec<BindingWrite>,
    done: oneshot::Sender<WriteResult>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} writes)", self.writes.len())
    }
}

/// The batching writer: a thread of its own with the store's [`Writer`]. See the
/// module docs.
///
/// A thread rather than a task because committing blocks (SQLite runs the statements and
/// the fsync on the calling thread); with its own connection a batch costs one wake-up of
/// this thread, where the sqlx pool costs two per statement.
#[derive(Debug)]
pub struct LocationWriter {
    jobs: std::sync::Mutex<Option<std_mpsc::Sender<Job>>>,
    /// Signalled by the thread when it has committed everything and ends.
    finished: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl LocationWriter {
    /// Starts the writer thread on `store` (its pool runs on `runtime`). After the first
    /// change of a batch arrives it waits `window` for more before committing (group
    /// commit: one transaction and one fsync for all of them); zero commits at once.
    pub fn spawn(
        store: &Store,
        runtime: tokio::runtime::Handle,
        window: Duration,
    ) -> Result<LocationWriter, StartError> {
        let writer = store.writer(runtime)?;
        let (tx, rx) = std_mpsc::channel();
        let (finished_tx, finished) = oneshot::channel();
        std::thread::Builder::new()
            .name("location-writer".into())
            .spawn(move || {
                write_loop(writer, &rx, window);
                let _ = finished_tx.send(());
            })
            .map_err(StartError::Thread)?;
        Ok(LocationWriter {
            jobs: std::sync::Mutex::new(Some(tx)),
            finished: tokio::sync::Mutex::new(Some(finished)),
        })
    }

    /// Queues writes; the receiver learns when they are committed. Never waits, so it can
    /// be called while the location index is locked (that is what keeps the order).
    pub fn submit(&self, writes: Vec<BindingWrite>) -> oneshot::Receiver<WriteResult> {
        let (done, rx) = oneshot::channel();
        let job = Job { writes, done };
        let sent = match self.jobs.lock() {
            Ok(guard) => match guard.as_ref() {
                Some(tx) => tx.send(job).map_err(|e| e.0),
                None => Err(job),
            },
            Err(_) => Err(job),
        };
        if let Err(job) = sent {
            let _ = job.done.send(Err("the server is shutting down".into()));
        }
        rx
    }

    /// Stops taking writes and waits until every queued one is committed.
    pub async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(finished) = self.finished.lock().await.take() {
            let _ = finished.await;
        }
    }
}

/// The writer thread: a batch is what arrived by the end of the window after its first
/// job (or while the previous commit ran), at most [`MAX_BATCH`] jobs. Ends when every
/// sender is gone and the queue is empty.
fn write_loop(mut writer: Writer, rx: &std_mpsc::Receiver<Job>, window: Duration) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        if !window.is_zero() {
            std::thread::sleep(window);
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let writes: Vec<BindingWrite> = batch.iter().flat_map(|j| j.writes.clone()).collect();
        match writer.write_bindings(&writes) {
            Ok(()) => {
                for job in batch.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) if batch.len() > 1 => {
                // One bad job must not fail the others: commit them one by one.
                tracing::warn!(error = %e, jobs = batch.len(), "batched location write failed; retrying one by one");
                for job in batch.drain(..) {
                    let result = writer
                        .write_bindings(&job.writes)
                        .map_err(|e| e.to_string());
                    let _ = job.done.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "location write failed");
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(e.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn binding() -> Binding {
        Binding {
            contact: "sip:alice@192.0.2.1:5062;transport=tcp".into(),
            expires_at: 5_000,
            q: 500,
            call_id: "c1".into(),
            cseq: 7,
            user_agent: Some("phone/1".into()),
            source: "198.51.100.4:40000".parse().unwrap(),
            transport: "TCP".into(),
            local: Some("192.0.2.100:5060".parse().unwrap()),
            path: vec!["<sip:edge1.example.com;lr>".into(), "<sip:edge2;lr>".into()],
            instance: Some("<urn:uuid:1>".into()),
            reg_id: Some(1),
            nat: true,
            updated_at: 1_000,
        }
    }

    #[test]
    fn rows_round_trip() {
        let b = binding();
        let row = to_store("alice@example.com", &b);
        assert_eq!(row.flags, flags::NAT);
        assert_eq!(row.received, "198.51.100.4:40000");
        assert_eq!(row.local_socket, "tcp:192.0.2.100:5060");
        assert_eq!(from_store(row), Some(("alice@example.com".into(), b)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_are_committed_in_order_before_close_returns() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let writer = LocationWriter::spawn(
            &store,
            tokio::runtime::Handle::current(),
            Duration::from_millis(5),
        )
        .unwrap();
        let aor = "alice@example.com";
        let mut b = binding();
        let mut receivers = Vec::new();
        for cseq in 1..=50 {
            b.cseq = cseq;
            receivers.push(writer.submit(writes_for(aor, &[Change::Upsert(b.clone())])));
        }
        let removed = writer.submit(writes_for(
            aor,
            &[Change::Remove {
                contact: "sip:nobody@192.0.2.9".into(),
            }],
        ));
        writer.close().await;
        for rx in receivers {
            assert_eq!(rx.await.unwrap(), Ok(()));
        }
        assert_eq!(removed.await.unwrap(), Ok(()));
        let rows = store.bindings(aor).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cseq, 50, "the last change wins");
        // After close, writes are refused, not lost silently.
        let late = writer.submit(Vec::new());
        assert!(late.await.unwrap().is_err());
    }
}
