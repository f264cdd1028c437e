//! Dialogs and accounting: what Kamailio's `dialog` and `acc` modules do for a provider.
//!
//! The proxy tells [`Calls`] about the record-routed INVITEs it forwards and how they end:
//! a call starts (the INVITE is forwarded: early), is answered (a 2xx went to the caller:
//! confirmed), fails (a final non-2xx went to the caller) or ends (a BYE passed through
//! us, from the caller or the callee). Each change becomes an accounting record (the `acc`
//! table: request, answered, failed with its code, ended with who hung up) and an update
//! of the live-call list that `itsp calls` shows (the `calls` table), written in batches
//! by a task of its own so no request waits for the database. Billing builds on these
//! records.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ahash::HashMap;
use sip::{Message, Uri};
use store::{AccEvent, AccKind, Call, CallState, CallWrite, Store, Writer};

use crate::core::lock;
use crate::run::StartError;
use crate::writer_thread::{Gathering, WriterThread};

/// Records written in one transaction at most.
const MAX_BATCH: usize = 2000;

/// How long the writer gathers records before a commit: one commit (one disk sync per
/// table) carries every call change of that time, and a call that starts and ends within
/// it leaves only its accounting rows (the live-call row collapses). A tenth of a second
/// is invisible in `itsp calls` and keeps the disk out of the call path under load.
const WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

/// One change to write.
#[derive(Debug)]
enum Record {
    Acc(AccEvent),
    Call(CallWrite),
}

/// What is known of a live call, by Call-ID.
#[derive(Debug, Clone)]
struct Dialog {
    from_tag: String,
    to_tag: Option<String>,
    caller: (Option<String>, Option<String>),
    callee: (Option<String>, Option<String>),
    caller_uri: String,
    callee_uri: String,
    source_ip: Option<String>,
    started_ms: i64,
    answered_ms: Option<i64>,
}

/// The live calls of this node and the writer of their records. See the module docs.
#[derive(Debug)]
pub struct Calls {
    node: String,
    live: Mutex<HashMap<String, Dialog>>,
    writer: WriterThread<Record>,
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `(user, domain)` of a URI, when it is a SIP URI.
fn user_domain(uri: &str) -> (Option<String>, Option<String>) {
    match Uri::parse(uri) {
        Ok(Uri::Sip(u)) => match crate::location::user_and_domain(&u) {
            Some((user, domain)) => (Some(user), Some(domain)),
            None => (None, Some(crate::domains::normalize(&u.host.text()))),
        },
        Ok(Uri::Tel(t)) => (Some(t.number.to_owned()), None),
        _ => (None, None),
    }
}

impl Calls {
    /// Starts the writer thread for `node` (this server's name in the shared `calls`
    /// table) on `store`, whose pool runs on `runtime`.
    pub fn spawn(
        store: &Store,
        runtime: tokio::runtime::Handle,
        node: String,
    ) -> Result<Calls, StartError> {
        // Call records are what billing reads: fsynced, so a power loss keeps them.
        let mut writer = store.writer(runtime, store::Durability::Disk)?;
        let writer = WriterThread::spawn(
            "calls-writer",
            Gathering::WindowAfterFirst(WINDOW),
            MAX_BATCH,
            move |batch| {
                write(&mut writer, batch);
            },
        )?;
        Ok(Calls {
            node,
            live: Mutex::new(HashMap::default()),
            writer,
        })
    }

    fn send(&self, record: Record) {
        // After close (shutdown) records are no longer taken.
        let _ = self.writer.send(record);
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        lock(&self.live).len()
    }

    /// Whether there are no live calls.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An initial INVITE was forwarded: the call starts ringing.
    pub fn started(&self, invite: &Message, source: IpAddr) {
        let (Ok(call_id), Ok(from)) = (invite.call_id(), invite.from()) else {
            return;
        };
        let Some(from_tag) = from.tag() else { return };
        let callee_uri = invite.request_uri_str().unwrap_or_default().to_owned();
        let dialog = Dialog {
            from_tag: from_tag.to_owned(),
            to_tag: None,
            caller: user_domain(from.uri),
            callee: user_domain(&callee_uri),
            caller_uri: from.uri.to_owned(),
            callee_uri,
            source_ip: Some(sip::text::ip_text(source)),
            started_ms: now_ms(),
            answered_ms: None,
        };
        self.send(Record::Acc(self.acc(
            AccKind::Request,
            call_id,
            &dialog,
            None,
            None,
        )));
        self.send(Record::Call(CallWrite::Upsert(self.row(call_id, &dialog))));
        lock(&self.live).insert(call_id.to_owned(), dialog);
    }

    /// The final response to an initial INVITE went to the caller.
    pub fn answered_or_failed(
        &self,
        invite: &Message,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) {
        let Ok(call_id) = invite.call_id() else {
            return;
        };
        let mut live = lock(&self.live);
        let Some(dialog) = live.get_mut(call_id) else {
            return;
        };
        if (200..300).contains(&code) {
            if dialog.answered_ms.is_some() {
                return; // a second 2xx of a forked call: one call, already answered
            }
            dialog.answered_ms = Some(now_ms());
            dialog.to_tag = to_tag.map(str::to_owned);
            let dialog = dialog.clone();
            drop(live);
            self.send(Record::Acc(self.acc(
                AccKind::Answered,
                call_id,
                &dialog,
                Some(code),
                Some(reason),
            )));
            self.send(Record::Call(CallWrite::Upsert(self.row(call_id, &dialog))));
        } else if let Some(dialog) = live.remove(call_id) {
            drop(live);
            let mut failed = self.acc(AccKind::Failed, call_id, &dialog, Some(code), Some(reason));
            failed.to_tag = to_tag.map(str::to_owned);
            self.send(Record::Acc(failed));
            self.send(Record::Call(CallWrite::Remove {
                call_id: call_id.to_owned(),
                from_tag: dialog.from_tag,
            }));
        }
    }

    /// A BYE of a live call passed through: the call ended, hung up by whoever sent it.
    pub fn ended(&self, bye: &Message) {
        let Ok(call_id) = bye.call_id() else { return };
        let Some(dialog) = lock(&self.live).remove(call_id) else {
            return;
        };
        let by = match bye.from().ok().and_then(|f| f.tag().map(str::to_owned)) {
            Some(tag) if tag == dialog.from_tag => "caller",
            _ => "callee",
        };
        let mut ended = self.acc(AccKind::Ended, call_id, &dialog, None, None);
        ended.method = "BYE".into();
        ended.ended_by = Some(by.into());
        self.send(Record::Acc(ended));
        self.send(Record::Call(CallWrite::Remove {
            call_id: call_id.to_owned(),
            from_tag: dialog.from_tag,
        }));
    }

    fn acc(
        &self,
        kind: AccKind,
        call_id: &str,
        d: &Dialog,
        code: Option<u16>,
        reason: Option<&str>,
    ) -> AccEvent {
        AccEvent {
            time_ms: now_ms(),
            kind,
            method: "INVITE".into(),
            call_id: call_id.to_owned(),
            from_tag: d.from_tag.clone(),
            to_tag: d.to_tag.clone(),
            code,
            reason: reason.map(str::to_owned),
            caller_user: d.caller.0.clone(),
            caller_domain: d.caller.1.clone(),
            callee_user: d.callee.0.clone(),
            callee_domain: d.callee.1.clone(),
            source_ip: d.source_ip.clone(),
            ended_by: None,
        }
    }

    fn row(&self, call_id: &str, d: &Dialog) -> Call {
        Call {
            call_id: call_id.to_owned(),
            from_tag: d.from_tag.clone(),
            to_tag: d.to_tag.clone(),
            state: if d.answered_ms.is_some() {
                CallState::Confirmed
            } else {
                CallState::Early
            },
            caller: d.caller_uri.clone(),
            callee: d.callee_uri.clone(),
            source_ip: d.source_ip.clone(),
            started_ms: d.started_ms,
            answered_ms: d.answered_ms,
            node: self.node.clone(),
        }
    }

    /// Writes what is queued and stops the writer (at shutdown).
    pub async fn close(&self) {
        self.writer.close().await;
    }
}

/// Writes one batch of records (everything queued within [`WINDOW`] of the first, up to
/// [`MAX_BATCH`]; at shutdown too, so the last batch waits a tenth of a second): one
/// transaction per table.
fn write(writer: &mut Writer, batch: Vec<Record>) {
    let mut acc = Vec::new();
    let mut calls = Vec::new();
    for record in batch {
        match record {
            Record::Acc(a) => acc.push(a),
            Record::Call(c) => calls.push(c),
        }
    }
    if !calls.is_empty() {
        if let Err(e) = writer.write_calls(&calls) {
            tracing::error!(error = %e, rows = calls.len(), "live calls not saved");
        }
    }
    if !acc.is_empty() {
        if let Err(e) = writer.record_acc(&acc) {
            tracing::error!(error = %e, rows = acc.len(), "accounting records not saved");
        }
    }
}
