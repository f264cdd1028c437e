//! Prometheus metrics of a running server, served at `/metrics` by `itsp serve` (on the
//! portal's listener, or `--metrics-listen`).
//!
//! Two kinds of numbers, gathered two ways so that the message path pays almost nothing:
//!
//! - **counted as they happen**, with relaxed atomic adds and no lock: SIP messages in
//!   and out by method and code, from the first line of the bytes the tap shows
//!   (`hook::MetricsHook`, `sip_counts`); dialog events (the `on_dialog` phase); the
//!   store writers' queue depth and commit times (`writer_thread.rs`); DNS lookups and
//!   failures (`locate::LookupCounts`);
//! - **read when scraped**: the gauges `itsp status` shows (transactions, calls,
//!   registrations — the same [`Status`] the control socket answers, so the two never
//!   disagree), failed authentications (the guard), the in-process relay's totals, and
//!   the process (`/proc/self`).
//!
//! Names follow the Kamailio exporters' where one exists (`kamailio_core_rcv_request_total
//! {method}` → `itsp_core_rcv_request_total{method}`, `usrloc`, `tm`, `dns_failed_request`)
//! with the `itsp_` prefix; the `process_*` ones are the standard names. The per-call MOS
//! histogram is not here: the relay measures loss, not MOS.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `mod.rs` | [`Metrics`] (the handle the HTTP side renders), `Readings`, the families and their names |
//! | `sip_counts` | `sip_counts::SipCounts`: messages by direction, method and code; first-line classification; dialog events |
//! | `hook` | `hook::MetricsHook`: the tap and the dialog phase |
//! | `histogram` | a fixed-bucket histogram of durations on atomics |
//! | `process` | `process_*` from `/proc/self` |
//! | `text` | the text exposition format 0.0.4 |

pub(crate) mod histogram;
pub(crate) mod hook;
mod process;
pub(crate) mod sip_counts;
mod text;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use text::CONTENT_TYPE;

use crate::control::protocol::Status;
use crate::writer_thread::WriterStats;
use process::ProcessReading;
use sip_counts::SipCounts;
use text::{Exposition, Kind};

/// What the shell reads for a scrape, besides the counters of [`SipCounts`].
pub(crate) struct Readings {
    /// What `itsp status` shows.
    pub(crate) status: Status,
    /// Failed authentications since the start.
    pub(crate) auth_failures: u64,
    /// The in-process relay's totals (`None`: relay off or on other nodes).
    pub(crate) relay: Option<relay::RelayTotals>,
    /// The store writers by name.
    pub(crate) writers: Vec<(&'static str, Arc<WriterStats>)>,
    /// DNS lookups made and failed.
    pub(crate) dns: locate::LookupSnapshot,
}

/// The metrics of a running server: cheap to clone; [`Metrics::render`] gives the text of
/// a scrape.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    counts: Arc<SipCounts>,
    read: Box<dyn Fn() -> Readings + Send + Sync>,
    /// The highest relay loss reported: a live stream's loss may shrink (late packets),
    /// a counter must not.
    relay_lost_reported: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics over `counts` (filled by the hook) and what `read` answers when scraped.
    pub(crate) fn new(
        counts: Arc<SipCounts>,
        read: impl Fn() -> Readings + Send + Sync + 'static,
    ) -> Metrics {
        Metrics {
            inner: Arc::new(Inner {
                counts,
                read: Box::new(read),
                relay_lost_reported: AtomicU64::new(0),
            }),
        }
    }

    /// The text of a scrape (Prometheus text format 0.0.4, [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let readings = (self.inner.read)();
        let mut relay = readings.relay;
        if let Some(r) = &mut relay {
            let before = self
                .inner
                .relay_lost_reported
                .fetch_max(r.lost, Ordering::Relaxed);
            r.lost = r.lost.max(before);
        }
        let readings = Readings { relay, ..readings };
        let mut e = Exposition::default();
        write_sip(&mut e, &self.inner.counts);
        write_readings(&mut e, &readings);
        ProcessReading::read().write(&mut e);
        e.finish()
    }
}

/// The message and dialog counters.
fn write_sip(e: &mut Exposition, counts: &SipCounts) {
    for (name, help, direction) in [
        (
            "itsp_core_rcv_request_total",
            "SIP requests received, by method (retransmissions included).",
            &counts.received,
        ),
        (
            "itsp_core_snd_request_total",
            "SIP requests sent, by method (forwarded and our own; retransmissions included).",
            &counts.sent,
        ),
    ] {
        e.family(name, Kind::Counter, help);
        for (method, n) in direction.requests() {
            let method = method.to_ascii_lowercase();
            e.sample(name, &[("method", &method)], n);
        }
    }
    for (name, help, direction) in [
        (
            "itsp_core_rcv_reply_total",
            "SIP replies received, by code (retransmissions included).",
            &counts.received,
        ),
        (
            "itsp_core_snd_reply_total",
            "SIP replies sent, by code (relayed and our own; retransmissions included).",
            &counts.sent,
        ),
    ] {
        e.family(name, Kind::Counter, help);
        for (code, n) in direction.replies() {
            e.sample(name, &[("code", &code.to_string())], n);
        }
    }
    e.single(
        "itsp_core_bad_msg_total",
        Kind::Counter,
        "Messages received whose first line is neither a SIP request nor a reply.",
        counts.received.unreadable(),
    );
    e.family(
        "itsp_dialogs_total",
        Kind::Counter,
        "Calls (record-routed INVITE dialogs) by event: started (forwarded), answered, \
         failed, refused by the route, ended.",
    );
    for (event, n) in counts.dialogs() {
        e.sample("itsp_dialogs_total", &[("event", event.as_str())], n);
    }
    e.family(
        "itsp_call_mos",
        Kind::Histogram,
        "Estimated MOS (ITU-T G.107 E-model, 1 to 4.5) of each side of a relayed call, from \
         its loss, burstiness and jitter at the relay and in the listener's RTCP reports, the \
         round trip from RTCP and the codec the SDP names, at the call's end.",
    );
    e.histogram("itsp_call_mos", &[], &counts.mos.snapshot());
}

/// The families read when scraped.
fn write_readings(e: &mut Exposition, r: &Readings) {
    let s = &r.status;
    e.family(
        "itsp_build_info",
        Kind::Gauge,
        "The server's version and node name; always 1.",
    );
    e.sample(
        "itsp_build_info",
        &[("version", &s.version), ("node", &s.node)],
        1u64,
    );
    e.single(
        "itsp_tm_transactions",
        Kind::Gauge,
        "Live SIP transactions, client and server.",
        s.transactions,
    );
    e.single(
        "itsp_tm_proxied",
        Kind::Gauge,
        "Requests being proxied (response contexts).",
        s.proxied,
    );
    e.single(
        "itsp_tm_waiting",
        Kind::Gauge,
        "Requests waiting for the store, DNS or the relay.",
        s.waiting_for_io,
    );
    e.single(
        "itsp_dialogs_active",
        Kind::Gauge,
        "Calls in progress (record-routed INVITE dialogs).",
        s.live_calls,
    );
    e.single(
        "itsp_usrloc_contacts",
        Kind::Gauge,
        "Registered contacts (bindings) in the location service.",
        s.registered_contacts,
    );
    e.single(
        "itsp_usrloc_aors",
        Kind::Gauge,
        "Addresses-of-record with at least one registered contact.",
        s.registered_aors,
    );
    e.single("itsp_domains", Kind::Gauge, "Domains served.", s.domains);
    e.single(
        "itsp_auth_failures_total",
        Kind::Counter,
        "Failed digest authentications (wrong password or unknown user alike; the \
         \"auth failed\" log lines).",
        r.auth_failures,
    );
    if let (Some(sessions), Some(t)) = (s.relay_sessions, &r.relay) {
        e.single(
            "itsp_relay_sessions",
            Kind::Gauge,
            "Calls the in-process RTP relay carries now.",
            sessions,
        );
        e.single(
            "itsp_relay_sessions_total",
            Kind::Counter,
            "Calls the in-process RTP relay created.",
            t.sessions,
        );
        e.single(
            "itsp_relay_packets_total",
            Kind::Counter,
            "RTP and RTCP datagrams received by the relay.",
            t.packets,
        );
        e.single(
            "itsp_relay_bytes_total",
            Kind::Counter,
            "Bytes (UDP payload) received by the relay.",
            t.bytes,
        );
        e.single(
            "itsp_relay_dropped_packets_total",
            Kind::Counter,
            "Datagrams the relay did not forward (not from the latched source, no \
             destination yet, send failed).",
            t.errors,
        );
        e.single(
            "itsp_relay_lost_packets_total",
            Kind::Counter,
            "RTP packets lost before reaching the relay (from sequence numbers).",
            t.lost,
        );
    }
    e.family(
        "itsp_store_writer_queue_depth",
        Kind::Gauge,
        "Items queued for a store writer thread and not yet committed.",
    );
    for (writer, stats) in &r.writers {
        e.sample(
            "itsp_store_writer_queue_depth",
            &[("writer", writer)],
            stats.queue_depth(),
        );
    }
    e.family(
        "itsp_store_writer_commit_seconds",
        Kind::Histogram,
        "Time a store writer thread took to write one batch.",
    );
    for (writer, stats) in &r.writers {
        e.histogram(
            "itsp_store_writer_commit_seconds",
            &[("writer", writer)],
            &stats.commits.snapshot(),
        );
    }
    e.family(
        "itsp_dns_lookups_total",
        Kind::Counter,
        "DNS lookups of the proxy by type (a_aaaa: both families of one name), cached \
         answers included.",
    );
    for (kind, made, _) in &r.dns {
        e.sample("itsp_dns_lookups_total", &[("type", kind.as_str())], *made);
    }
    e.family(
        "itsp_dns_failed_request_total",
        Kind::Counter,
        "DNS lookups that failed (time-out, SERVFAIL, REFUSED; not an empty answer), by type.",
    );
    for (kind, _, failed) in &r.dns {
        e.sample(
            "itsp_dns_failed_request_total",
            &[("type", kind.as_str())],
            *failed,
        );
    }
}

#[cfg(test)]
mod tests;
