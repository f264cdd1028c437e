//! Write-through of the location index to the store (Kamailio `usrloc` in `db_mode`
//! write-through): the conversion between the registrar's [`Binding`] and the store's row,
//! and [`LocationWriter`], the thread that commits binding changes in batches.
//!
//! The registrar applies a REGISTER's changes to the in-memory index and hands them to the
//! writer in the same critical section, so the writer sees changes in the order the index
//! did. The 200 is sent only when the writer reports the commit: a binding acknowledged
//! with 200 survives `kill -9`; with [`store::Durability::Disk`]
//! ([`crate::ServerConfig::location_durability`]) the commit is also fsynced, so it
//! survives a power loss. Commits start at least the commit window
//! ([`crate::ServerConfig::commit_window`]) apart: a change after a quiet spell is
//! committed at once, and under load everything that arrived since the previous commit
//! started goes into one transaction, so one commit (and one fsync) acknowledges many
//! REGISTERs.

use std::net::SocketAddr;
use std::time::Duration;

use store::{flags, BindingWrite, Store, Writer};
use tokio::sync::oneshot;
use transport::Protocol;

use crate::error::StartError;
use crate::location::{Binding, Change};
use crate::writer_thread::{Gathering, WriterThread};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// The store row of a binding of `aor`.
pub(crate) fn to_store(aor: &str, b: &Binding) -> store::Binding {
    store::Binding {
        aor: aor.to_owned(),
        contact: b.contact.clone(),
        expires_at: i64::try_from(b.expires_at).unwrap_or(i64::MAX),
        q: b.q,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        user_agent: b.user_agent.clone().unwrap_or_default(),
        received: sip::text::socket_addr_text(b.source),
        transport: b.transport.as_via().to_owned(),
        local_socket: b
            .local
            .map(|l| {
                let mut text = b.transport.to_string();
                text.push(':');
                text.push_str(&sip::text::socket_addr_text(l));
                text
            })
            .unwrap_or_default(),
        path: (!b.path.is_empty()).then(|| b.path.join(", ")),
        instance: b.instance.clone(),
        reg_id: b.reg_id,
        flags: if b.nat { flags::NAT } else { 0 },
        updated_at: i64::try_from(b.updated_at).unwrap_or(i64::MAX),
    }
}

/// The binding a store row holds, with its AoR; `None` for a row this version cannot use
/// (a source address or a transport that does not parse).
pub(crate) fn from_store(row: store::Binding) -> Option<(String, Binding)> {
    let source: SocketAddr = row.received.parse().ok()?;
    let transport: Protocol = row.transport.parse().ok()?;
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
        transport,
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
pub(crate) fn writes_for(aor: &str, changes: &[Change]) -> Vec<BindingWrite> {
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
pub(crate) type WriteResult = Result<(), String>;

struct Job {
    writes: Vec<BindingWrite>,
    done: oneshot::Sender<WriteResult>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} writes)", self.writes.len())
    }
}

/// The batching writer: a writer thread (`writer_thread.rs`) with the store's [`Writer`]. See the module
/// docs. With its own connection a batch costs one wake-up of the thread, where the sqlx
/// pool costs two per statement.
#[derive(Debug)]
pub(crate) struct LocationWriter {
    thread: WriterThread<Job>,
}

impl LocationWriter {
    /// Starts the writer thread on `store` (its pool runs on `runtime`), committing as
    /// durably as `durability` says. Commits start at least `window` apart (group commit:
    /// what arrives meanwhile waits and shares one transaction); zero commits each batch
    /// as soon as the previous one is done.
    pub(crate) fn spawn(
        store: &Store,
        runtime: tokio::runtime::Handle,
        window: Duration,
        durability: store::Durability,
    ) -> Result<LocationWriter, StartError> {
        let mut writer = store.writer(runtime, durability)?;
        let gathering = Gathering::Spaced(window);
        let thread = WriterThread::spawn("location-writer", gathering, MAX_BATCH, move |batch| {
            commit(&mut writer, batch);
        })?;
        Ok(LocationWriter { thread })
    }

    /// Queues writes; the receiver learns when they are committed. Never waits, so it can
    /// be called while the location index is locked (that is what keeps the order).
    pub(crate) fn submit(&self, writes: Vec<BindingWrite>) -> oneshot::Receiver<WriteResult> {
        let (done, rx) = oneshot::channel();
        if let Err(job) = self.thread.send(Job { writes, done }) {
            let _ = job.done.send(Err("the server is shutting down".into()));
        }
        rx
    }

    /// Stops taking writes and waits until every queued one is committed.
    pub(crate) async fn close(&self) {
        self.thread.close().await;
    }

    /// Its queue depth and commit times (metrics).
    pub(crate) fn stats(&self) -> std::sync::Arc<crate::writer_thread::WriterStats> {
        self.thread.stats()
    }
}

/// Commits a batch of jobs in one transaction and tells each job how it went.
fn commit(writer: &mut Writer, batch: Vec<Job>) {
    // The jobs' writes in one list (moved, not copied), each job's share a range of it.
    let mut writes: Vec<BindingWrite> =
        Vec::with_capacity(batch.iter().map(|j| j.writes.len()).sum());
    let mut jobs = Vec::with_capacity(batch.len());
    for job in batch {
        let start = writes.len();
        writes.extend(job.writes);
        jobs.push((start..writes.len(), job.done));
    }
    match writer.write_bindings(&writes) {
        Ok(()) => {
            for (_, done) in jobs {
                let _ = done.send(Ok(()));
            }
        }
        Err(e) if jobs.len() > 1 => {
            // One bad job must not fail the others: commit them one by one.
            tracing::warn!(error = %e, jobs = jobs.len(), "batched location write failed; retrying one by one");
            for (range, done) in jobs {
                let result = writes
                    .get(range)
                    .map_or(Ok(()), |own| writer.write_bindings(own))
                    .map_err(|e| e.to_string());
                let _ = done.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "location write failed");
            for (_, done) in jobs {
                let _ = done.send(Err(e.to_string()));
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
            transport: Protocol::Tcp,
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

    /// A store in a temporary directory and a writer on it with commits `spacing` apart.
    async fn temporary_writer(spacing: Duration) -> (tempfile::TempDir, Store, LocationWriter) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let writer = LocationWriter::spawn(
            &store,
            tokio::runtime::Handle::current(),
            spacing,
            store::Durability::Process,
        )
        .unwrap();
        (dir, store, writer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_write_fails_alone_and_its_batch_mates_are_committed() {
        // A long spacing: the jobs after the first queue up and share a commit.
        let (_dir, store, writer) = temporary_writer(Duration::from_millis(300)).await;
        let good = |aor: &str| writes_for(aor, &[Change::Upsert(binding())]);
        let mut bad = good("carol@example.com");
        if let Some(BindingWrite::Upsert(b)) = bad.first_mut() {
            b.q = 1001; // refused by the store
        }
        let first = writer.submit(good("alice@example.com"));
        let refused = writer.submit(bad);
        let after = writer.submit(good("bob@example.com"));
        writer.close().await;
        assert_eq!(first.await.unwrap(), Ok(()));
        let error = refused.await.unwrap().unwrap_err();
        assert!(error.contains("q above 1000"), "{error}");
        assert_eq!(after.await.unwrap(), Ok(()));
        for (aor, rows) in [
            ("alice@example.com", 1),
            ("bob@example.com", 1),
            ("carol@example.com", 0),
        ] {
            assert_eq!(store.bindings(aor).await.unwrap().len(), rows, "{aor}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_are_committed_in_order_before_close_returns() {
        let (_dir, store, writer) = temporary_writer(Duration::from_millis(5)).await;
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
