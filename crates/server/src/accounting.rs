//! Dialogs and accounting: what Kamailio's `dialog` and `acc` modules do for a provider.
//!
//! `Accounting` is a hook of the engine (`crate::policy::hook::Hook::on_dialog`): the proxy
//! tells it about the record-routed INVITEs it forwards and how they end: a call starts
//! (the INVITE is forwarded: early), is answered (a 2xx went to the caller: confirmed),
//! fails (a final non-2xx went to the caller) or ends (a BYE passed through us, from the
//! caller or the callee). Each change becomes an accounting record (the `acc` table:
//! request, answered, failed with its code, ended with who hung up) and an update of the
//! live-call list that `itsp calls` shows (the `calls` table), handed to the shell as
//! [`IoRequest::Record`]s; the shell's [`AccountingWriter`] writes them in batches on a
//! thread of its own, so no request waits for the database.
//!
//! When a call attempt ends it also becomes one call detail record (the `cdrs` table,
//! [`store::Cdr`]): answered and hung up (by whom), busy, not answered (the callee's 480 or
//! 408, or Timer C), cancelled by the caller, failed, or refused by the main route itself
//! (403, 404, 480 for an offline user, 484: `DialogEvent::Refused`). A call forwarded on
//! busy or no answer, or taken over by the failure phase, is one attempt: its record names
//! who answered in the end. Calls a restarted node left open are closed at start
//! ([`store::Store::close_calls`]). Billing rates these records.

use std::net::IpAddr;

use ahash::HashMap;
use sip::{Message, Uri};
use store::{
    AccEvent, AccKind, Address, Call, CallState, CallWrite, Cdr, Charge, Disposition, HungUpBy,
    Store, Writer,
};

use crate::billing::AccountBook;
use crate::config::OnNet;
use crate::engine::io::{IoRequest, Record, Settle};
use crate::error::StartError;
use crate::policy::hook::{DialogEvent, EndReason, Hook, HookCx};
use crate::rating::SharedRater;
use crate::writer_thread::{Gathering, WriterThread};

/// Records written in one transaction at most.
const MAX_BATCH: usize = 2000;

/// How long the writer gathers records before a commit: one commit (one disk sync per
/// table) carries every call change of that time, and a call that starts and ends within
/// it leaves only its accounting rows (the live-call row collapses). A tenth of a second
/// is invisible in `itsp calls` and keeps the disk out of the call path under load.
const WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

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
    /// The Contact URI of the 2xx.
    answered_by: Option<String>,
    /// It stays on this network (to a subscriber or a service).
    on_net: bool,
}

/// The live calls of this node. See the module docs.
#[derive(Debug)]
pub(crate) struct Accounting {
    node: String,
    /// What calls that stay on this network cost.
    on_net: OnNet,
    live: HashMap<String, Dialog>,
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

impl Hook for Accounting {
    fn on_dialog(&mut self, cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
        let now_ms = cx.now.unix_ms_i64();
        let records = match event {
            DialogEvent::Started {
                invite,
                source,
                on_net,
            } => self.started(invite, source, on_net, now_ms),
            DialogEvent::Settled {
                invite,
                code,
                reason,
                to_tag,
                answered_by,
                made_here,
            } => self.settled(
                invite,
                Final {
                    code,
                    reason,
                    to_tag,
                    answered_by,
                    made_here,
                },
                now_ms,
            ),
            DialogEvent::Refused {
                invite,
                source,
                code,
                reason,
            } => self.refused(invite, source, code, reason, now_ms),
            DialogEvent::Ended { bye } => self.ended(bye, now_ms),
            DialogEvent::EndedHere { call_id, reason } => self.ended_here(call_id, reason, now_ms),
        };
        for record in records {
            cx.io.push(IoRequest::Record(record));
        }
    }

    fn live_calls(&self) -> Option<usize> {
        Some(self.live.len())
    }
}

impl Accounting {
    /// No live call; `node` is this server's name in the shared `calls` table; `on_net`
    /// says whether calls on this network are priced.
    pub(crate) fn new(node: String, on_net: OnNet) -> Accounting {
        Accounting {
            node,
            on_net,
            live: HashMap::default(),
        }
    }

    /// An initial INVITE was forwarded: the call starts ringing.
    fn started(
        &mut self,
        invite: &Message,
        source: IpAddr,
        on_net: bool,
        now_ms: i64,
    ) -> Vec<Record> {
        let (Ok(call_id), Ok(from)) = (invite.call_id(), invite.from()) else {
            return Vec::new();
        };
        let Some(from_tag) = from.tag() else {
            return Vec::new();
        };
        let callee_uri = invite.request_uri_str().unwrap_or_default().to_owned();
        let dialog = Dialog {
            from_tag: from_tag.to_owned(),
            to_tag: None,
            caller: user_domain(from.uri),
            callee: user_domain(&callee_uri),
            caller_uri: from.uri.to_owned(),
            callee_uri,
            source_ip: Some(sip::text::ip_text(source)),
            started_ms: now_ms,
            answered_ms: None,
            answered_by: None,
            on_net,
        };
        tracing::info!(
            call_id,
            from = %dialog.caller_uri,
            to = %dialog.callee_uri,
            source = dialog.source_ip.as_deref().unwrap_or(""),
            "call started"
        );
        let records = vec![
            Record::Acc(acc(AccKind::Request, call_id, &dialog, None, None, now_ms)),
            Record::Call(CallWrite::Upsert(row(&self.node, call_id, &dialog))),
        ];
        self.live.insert(call_id.to_owned(), dialog);
        records
    }

    /// The final response to an initial INVITE went to the caller.
    fn settled(&mut self, invite: &Message, end: Final<'_>, now_ms: i64) -> Vec<Record> {
        let Ok(call_id) = invite.call_id() else {
            return Vec::new();
        };
        let Final {
            code,
            reason,
            to_tag,
            answered_by,
            made_here,
        } = end;
        if (200..300).contains(&code) {
            let Some(dialog) = self.live.get_mut(call_id) else {
                return Vec::new();
            };
            if dialog.answered_ms.is_some() {
                return Vec::new(); // a second 2xx of a forked call: one call, already answered
            }
            dialog.answered_ms = Some(now_ms);
            dialog.to_tag = to_tag.map(str::to_owned);
            dialog.answered_by = answered_by.map(str::to_owned);
            tracing::info!(
                call_id,
                by = answered_by.unwrap_or(""),
                ringing_ms = now_ms - dialog.started_ms,
                "call answered"
            );
            vec![
                Record::Acc(acc(
                    AccKind::Answered,
                    call_id,
                    dialog,
                    Some(code),
                    Some(reason),
                    now_ms,
                )),
                Record::Call(CallWrite::Upsert(row(&self.node, call_id, dialog))),
            ]
        } else if let Some(dialog) = self.live.remove(call_id) {
            let mut failed = acc(
                AccKind::Failed,
                call_id,
                &dialog,
                Some(code),
                Some(reason),
                now_ms,
            );
            failed.to_tag = to_tag.map(str::to_owned);
            // Who ended the attempt: the caller's CANCEL (487), the proxy's own answer
            // (Timer C, no destination), else the callee's failure.
            let disposition = Disposition::of_failure(code);
            let (by, why) = match (disposition, made_here) {
                (Disposition::Cancelled, _) => (HungUpBy::Caller, None),
                (_, true) if code == 408 => (HungUpBy::Proxy, Some("timer C")),
                (_, true) => (HungUpBy::Proxy, None),
                (_, false) => (HungUpBy::Callee, None),
            };
            let mut cdr = cdr(
                &self.node,
                call_id,
                &dialog,
                now_ms,
                disposition,
                code,
                reason,
            );
            cdr.to_tag = to_tag.map(str::to_owned);
            cdr.hung_up_by = Some(by);
            cdr.end_reason = why.map(str::to_owned);
            log_end(&cdr);
            let free = self.free(&dialog);
            vec![
                Record::Acc(failed),
                Record::Call(CallWrite::Remove {
                    call_id: call_id.to_owned(),
                    from_tag: dialog.from_tag,
                }),
                Record::Cdr {
                    cdr: Box::new(cdr),
                    free,
                },
            ]
        } else {
            Vec::new()
        }
    }

    /// The main route refused an initial INVITE: a call attempt that never rang.
    fn refused(
        &mut self,
        invite: &Message,
        source: IpAddr,
        code: u16,
        reason: &str,
        now_ms: i64,
    ) -> Vec<Record> {
        let (Ok(call_id), Ok(from)) = (invite.call_id(), invite.from()) else {
            return Vec::new();
        };
        let dialled = invite.request_uri_str().unwrap_or_default();
        let attempt = Dialog {
            from_tag: from.tag().unwrap_or_default().to_owned(),
            to_tag: None,
            caller: user_domain(from.uri),
            callee: user_domain(dialled),
            caller_uri: from.uri.to_owned(),
            callee_uri: dialled.to_owned(),
            source_ip: Some(sip::text::ip_text(source)),
            started_ms: now_ms,
            answered_ms: None,
            answered_by: None,
            on_net: false,
        };
        let mut cdr = cdr(
            &self.node,
            call_id,
            &attempt,
            now_ms,
            Disposition::Refused,
            code,
            reason,
        );
        cdr.hung_up_by = Some(HungUpBy::Proxy);
        log_end(&cdr);
        vec![Record::Cdr {
            cdr: Box::new(cdr),
            free: false,
        }]
    }

    /// A BYE of a live call passed through: the call ended, hung up by whoever sent it.
    fn ended(&mut self, bye: &Message, now_ms: i64) -> Vec<Record> {
        let Ok(call_id) = bye.call_id() else {
            return Vec::new();
        };
        let Some(dialog) = self.live.remove(call_id) else {
            return Vec::new();
        };
        let by = match bye.from().ok().and_then(|f| f.tag().map(str::to_owned)) {
            Some(tag) if tag == dialog.from_tag => "caller",
            _ => "callee",
        };
        let mut ended = acc(AccKind::Ended, call_id, &dialog, None, None, now_ms);
        ended.method = "BYE".into();
        ended.ended_by = Some(by.into());
        let mut cdr = cdr(
            &self.node,
            call_id,
            &dialog,
            now_ms,
            Disposition::Answered,
            200,
            "OK",
        );
        cdr.hung_up_by = Some(if by == "caller" {
            HungUpBy::Caller
        } else {
            HungUpBy::Callee
        });
        log_end(&cdr);
        let free = self.free(&dialog);
        vec![
            Record::Acc(ended),
            Record::Call(CallWrite::Remove {
                call_id: call_id.to_owned(),
                from_tag: dialog.from_tag,
            }),
            Record::Cdr {
                cdr: Box::new(cdr),
                free,
            },
        ]
    }
}

impl Accounting {
    /// Whether the record of `dialog` is left unpriced: it stayed on this network and
    /// such calls are free.
    fn free(&self, dialog: &Dialog) -> bool {
        dialog.on_net && self.on_net == OnNet::Free
    }

    /// The proxy ended an answered call itself (BYE to both parties): ended by the proxy,
    /// for `reason`; the end of credit has a disposition of its own.
    fn ended_here(&mut self, call_id: &str, reason: EndReason, now_ms: i64) -> Vec<Record> {
        let Some(dialog) = self.live.remove(call_id) else {
            return Vec::new();
        };
        let mut ended = acc(AccKind::Ended, call_id, &dialog, None, None, now_ms);
        ended.method = "BYE".into();
        ended.ended_by = Some("proxy".into());
        let disposition = match reason {
            EndReason::Credit => Disposition::CreditExhausted,
            EndReason::Admin
            | EndReason::MaxDuration
            | EndReason::NoMedia
            | EndReason::NoAck
            | EndReason::SessionExpired => Disposition::Answered,
        };
        let mut cdr = cdr(&self.node, call_id, &dialog, now_ms, disposition, 200, "OK");
        cdr.hung_up_by = Some(HungUpBy::Proxy);
        cdr.end_reason = Some(reason.as_str().to_owned());
        log_end(&cdr);
        let free = self.free(&dialog);
        vec![
            Record::Acc(ended),
            Record::Call(CallWrite::Remove {
                call_id: call_id.to_owned(),
                from_tag: dialog.from_tag,
            }),
            Record::Cdr {
                cdr: Box::new(cdr),
                free,
            },
        ]
    }
}

/// The operator's line for a call attempt that ended: how, after how long, who ended it
/// (one per call, at info; the fields are those of its record).
fn log_end(cdr: &Cdr) {
    let message = if cdr.disposition == Disposition::Refused {
        "call refused"
    } else {
        "call ended"
    };
    tracing::info!(
        call_id = %cdr.call_id,
        from = %cdr.caller_uri,
        to = %cdr.dialled_uri,
        outcome = cdr.disposition.as_str(),
        code = cdr.code,
        talk_secs = cdr.billable_secs(),
        hung_up_by = cdr.hung_up_by.map_or("", HungUpBy::as_str),
        reason = cdr.end_reason.as_deref().unwrap_or(""),
        "{message}"
    );
}

/// How a call set-up ended, as the caller was told.
#[derive(Debug, Clone, Copy)]
struct Final<'a> {
    code: u16,
    reason: &'a str,
    to_tag: Option<&'a str>,
    answered_by: Option<&'a str>,
    made_here: bool,
}

/// The call detail record of call `call_id` (`d`) ended at `end_ms` this way. An answered
/// call's 2xx is its final status; `hung_up_by` is the caller's to fill.
fn cdr(
    node: &str,
    call_id: &str,
    d: &Dialog,
    end_ms: i64,
    disposition: Disposition,
    code: u16,
    reason: &str,
) -> Cdr {
    let answered = disposition.was_answered();
    Cdr {
        call_id: call_id.to_owned(),
        from_tag: d.from_tag.clone(),
        to_tag: d.to_tag.clone(),
        caller_user: d.caller.0.clone(),
        caller_domain: d.caller.1.clone(),
        caller_uri: d.caller_uri.clone(),
        source_ip: d.source_ip.clone(),
        dialled_uri: d.callee_uri.clone(),
        callee_user: d.callee.0.clone(),
        callee_domain: d.callee.1.clone(),
        answered_by: if answered {
            d.answered_by.clone()
        } else {
            None
        },
        start_ms: d.started_ms,
        answer_ms: if answered {
            d.answered_ms.or(Some(d.started_ms))
        } else {
            None
        },
        end_ms: end_ms.max(d.started_ms),
        disposition,
        code,
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        hung_up_by: None,
        end_reason: None,
        node: node.to_owned(),
        charge: None,
        media: None,
    }
}

/// The live-call row of call `call_id` at node `node`.
fn row(node: &str, call_id: &str, d: &Dialog) -> Call {
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
        node: node.to_owned(),
    }
}

fn acc(
    kind: AccKind,
    call_id: &str,
    d: &Dialog,
    code: Option<u16>,
    reason: Option<&str>,
    now_ms: i64,
) -> AccEvent {
    AccEvent {
        time_ms: now_ms,
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

/// The writer of accounting records and live-call changes: a thread of its own with the
/// store's `Writer`, committing what arrives within `WINDOW` in one transaction.
#[derive(Debug)]
pub(crate) struct AccountingWriter {
    writer: WriterThread<Record>,
}

/// How many batches a prepaid settlement waits for its call's record before it is written
/// alone (the record of a call the accounting hook did not follow never comes).
const SETTLE_WAIT_BATCHES: u32 = 20;

/// The money side of the writer: the plans, the accounts, and settlements waiting for
/// their records.
struct Money {
    rater: SharedRater,
    book: AccountBook,
    /// Prepaid settlements by Call-ID, with the batches they waited.
    settles: HashMap<String, (Settle, u32)>,
}

impl AccountingWriter {
    /// Starts the writer thread on `store`, whose pool runs on `runtime`; `rater` prices
    /// the records, `book` says who pays how.
    pub(crate) fn spawn(
        store: &Store,
        runtime: tokio::runtime::Handle,
        rater: SharedRater,
        book: AccountBook,
    ) -> Result<AccountingWriter, StartError> {
        // Call records are what billing reads: fsynced, so a power loss keeps them.
        let mut writer = store.writer(runtime.clone(), store::Durability::Disk)?;
        let store = store.clone();
        let mut money = Money {
            rater,
            book,
            settles: HashMap::default(),
        };
        let writer = WriterThread::spawn(
            "calls-writer",
            Gathering::WindowAfterFirst(WINDOW),
            MAX_BATCH,
            move |batch| {
                if batch.iter().any(|r| matches!(r, Record::Cdr { .. })) {
                    money.rater.refresh(&store, &runtime);
                }
                write(&mut writer, &mut money, batch);
            },
        )?;
        Ok(AccountingWriter { writer })
    }

    /// Queues a record; after [`AccountingWriter::close`] records are no longer taken.
    pub(crate) fn send(&self, record: Record) {
        let _ = self.writer.send(record);
    }

    /// Writes what is queued and stops the writer (at shutdown).
    pub(crate) async fn close(&self) {
        self.writer.close().await;
    }

    /// Its queue depth and commit times (metrics).
    pub(crate) fn stats(&self) -> std::sync::Arc<crate::writer_thread::WriterStats> {
        self.writer.stats()
    }
}

/// Writes one batch of records (everything queued within [`WINDOW`] of the first, up to
/// [`MAX_BATCH`]; at shutdown too, so the last batch waits a tenth of a second): one
/// transaction for the call records with the money they move and their calls' leaving the
/// live-call list (a charge and its record commit together; a crash neither loses a
/// record nor leaves its call to be closed again at restart), then one per table.
fn write(writer: &mut Writer, money: &mut Money, batch: Vec<Record>) {
    let mut acc = Vec::new();
    let mut calls = Vec::new();
    let mut cdrs = Vec::new();
    let mut entries = Vec::new();
    let mut media: Vec<store::MediaUpdate> = Vec::new();
    for record in batch {
        match record {
            Record::Acc(a) => acc.push(a),
            Record::Call(c) => calls.push(c),
            Record::Ledger(e) => entries.push(e),
            Record::Media(m) => media.push(m),
            Record::Settle(s) => {
                money.settles.insert(s.call_id.clone(), (*s, 0));
            }
            Record::Cdr { mut cdr, free } => {
                if !free {
                    money.charge(&mut cdr, &mut entries);
                }
                cdrs.push(*cdr);
            }
        }
    }
    // Settlements whose record never came are written alone after a while.
    money.settles.retain(|_, (settle, waited)| {
        *waited += 1;
        if *waited < SETTLE_WAIT_BATCHES {
            return true;
        }
        tracing::warn!(call_id = %settle.call_id, "a prepaid settlement without its call record");
        entries.extend(settlement_entry(settle));
        false
    });
    // The relay's counters: on the records of this batch before they are written, else
    // on records written before.
    media.retain(|m| {
        match cdrs
            .iter_mut()
            .find(|c| c.call_id == m.call_id && c.from_tag == m.from_tag)
        {
            Some(cdr) => {
                cdr.media = Some(m.media);
                false
            }
            None => true,
        }
    });
    if !acc.is_empty() {
        if let Err(e) = writer.record_acc(&acc) {
            tracing::error!(error = %e, rows = acc.len(), "accounting records not saved");
        }
    }
    if !cdrs.is_empty() || !entries.is_empty() {
        if let Err(e) = writer.record_cdrs_with_ledger(&cdrs, &entries) {
            // One bad record must not cost the others theirs: each alone, then.
            tracing::warn!(error = %e, rows = cdrs.len(), ledger = entries.len(), "a batch of call records refused; writing them one by one");
            if let Err(e) = writer.append_ledger(&entries) {
                tracing::error!(error = %e, ledger = entries.len(), "ledger entries not saved");
            }
            for cdr in &cdrs {
                if let Err(e) = writer.record_cdrs(std::slice::from_ref(cdr)) {
                    tracing::error!(error = %e, call_id = %cdr.call_id, "call detail record not saved");
                }
            }
        }
    }
    if !media.is_empty() {
        if let Err(e) = writer.record_media(&media) {
            tracing::error!(error = %e, rows = media.len(), "relay counters not put on call records");
        }
    }
    // After the records, which took their calls off the live-call list with them.
    if !calls.is_empty() {
        if let Err(e) = writer.write_calls(&calls) {
            tracing::error!(error = %e, rows = calls.len(), "live calls not saved");
        }
    }
}

impl Money {
    /// Prices call record `cdr` and adds the ledger entries it brings: a prepaid call's
    /// settlement (its charge is the one the credit control computed), a postpaid call's
    /// charge; a call of a subscriber without an account is only priced.
    fn charge(&mut self, cdr: &mut Cdr, entries: &mut Vec<store::NewEntry>) {
        if let Some((settle, _)) = self.settles.remove(&cdr.call_id) {
            cdr.charge = Some(Charge {
                plan: settle.plan.clone(),
                cost: billing::money::in_cents(settle.charged).to_string(),
                currency: settle.currency.clone(),
            });
            entries.extend(settlement_entry(&settle));
            return;
        }
        let caller = match (&cdr.caller_user, &cdr.caller_domain) {
            (Some(user), Some(domain)) => Address::new(user, domain).ok(),
            _ => None,
        };
        let terms = caller.as_ref().and_then(|a| self.book.terms(a));
        self.rater
            .rate(cdr, terms.as_ref().and_then(|t| t.plan.as_deref()));
        let (Some(caller), Some(terms), Some(charge)) = (caller, terms, &cdr.charge) else {
            return;
        };
        if terms.kind != store::AccountKind::Postpaid {
            return;
        }
        match charge.cost.parse::<billing::Decimal>() {
            Ok(cost) if !cost.is_zero() => entries.push(store::NewEntry {
                address: caller,
                at_ms: cdr.end_ms,
                kind: store::EntryKind::Charge,
                amount: -cost,
                call_id: Some(cdr.call_id.clone()),
                note: None,
            }),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(call_id = %cdr.call_id, error = %e, "a charge that is not a number")
            }
        }
    }
}

/// The ledger entry that squares a prepaid call's slices with its cost: a refund of what
/// was taken beyond it, or the rest of it; none when they are equal.
fn settlement_entry(settle: &Settle) -> Option<store::NewEntry> {
    let amount = settle.debited - settle.charged;
    (!amount.is_zero()).then(|| store::NewEntry {
        address: settle.account.clone(),
        at_ms: settle.at_ms,
        kind: store::EntryKind::Settlement,
        amount,
        call_id: Some(settle.call_id.clone()),
        note: None,
    })
}
