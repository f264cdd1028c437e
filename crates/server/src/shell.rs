//! [`Server`]: the tokio shell around the [`Engine`]. It owns everything that does I/O —
//! the transports, the store, the DNS resolver, the relay controller and the writer
//! threads — feeds the engine what arrives and the time, and carries out what it asks.
//!
//! The tasks of a running server:
//!
//! - the transports' receive tasks hand every message to the engine (under its lock, on
//!   the task that read it) and send what comes out;
//! - the timer task: fires the engine's timers (retransmissions, timeouts, Timer C);
//! - the housekeeping task: purges expired bindings from memory and the store (and the
//!   guards' decayed counts, the ended bans) and reloads the served domains;
//! - the bans task: reads the store's bans when their change counter moves (`itsp ban`)
//!   and hands them to the engine's guard; the engine's own bans are written by I/O
//!   requests;
//! - a [`Reloader`] reads the domains and the bans at once when the operator asks
//!   (`itsp serve` on SIGHUP);
//! - the keepalive task: a round of pings to NATed bindings ([`crate::natping`]);
//! - one task per I/O request that waits (a store query, a DNS lookup, a relay exchange,
//!   a commit), which hands the answer back to the engine;
//! - the SIP capture's readers ([`crate::capture`]): the control socket's tasks
//!   ([`crate::control`], `itsp trace`), the HEP sender and the pcap files' thread, each
//!   reading the ring the engine's capture hook fills.
//!
//! The binding commits are queued to the location writer while the engine is locked, in
//! the order the engine made them, so the store sees the changes of one address-of-record
//! in order; the 200 of a REGISTER goes out only once its commit is done.
//!
//! Shutdown stops taking messages, lets the work in progress finish (up to
//! [`ServerConfig::shutdown_grace`]), commits every queued binding change and closes the
//! store.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locate::{LocateError, Locator};
use sip::sanity::Rejection;
use sip::Uri;
use store::{Store, StoreError};
use tokio::sync::Notify;
use transport::{Incoming, Listen, Receivers, Transports};

use crate::accounting::AccountingWriter;
use crate::billing::AccountBook;
use crate::capture::hep_sender::HepSender;
use crate::capture::pcap_files::PcapFiles;
use crate::capture::ring::SharedRing;
use crate::capture::Ring;
use crate::config::ServerConfig;
use crate::control::ControlSocket;
use crate::engine::{Answer, Engine, EngineSetup, IoRequest, Now, Query, SystemNetwork, Transmit};
use crate::error::StartError;
use crate::location::Location;
use crate::persist::LocationWriter;
use crate::proxy::Hop;
use crate::rating::SharedRater;
use crate::sync::lock;

/// The granularity of the engine's timers: they fire at the end of the tick they fall
/// in, so one wake-up of the timer task serves every timer of a tick. A few milliseconds
/// late is nothing to SIP's timers (T1 = 500 ms, RFC 3261 §17.1.1.1).
const TIMER_TICK: Duration = Duration::from_millis(10);

/// Takes a SIP-over-WebSocket connection upgraded by another server, with the client's
/// address ([`Server::websocket_entry`]).
pub type WebSocketEntry = Arc<dyn Fn(Box<dyn transport::Io>, std::net::SocketAddr) + Send + Sync>;

/// A started server: sockets bound, bindings restored; [`Server::run`] serves.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    receivers: Receivers,
    capture: Capture,
    /// The counters of the metrics hook (`None`: metrics off).
    sip_counts: Option<Arc<crate::metrics::sip_counts::SipCounts>>,
}

/// The SIP capture's ring and what reads it ([`crate::capture`], [`crate::control`]).
struct Capture {
    /// The ring the capture hook fills (`None`: capture off).
    ring: Option<SharedRing>,
    /// The control socket, bound, served by [`Server::run`].
    control: Option<ControlSocket>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("ring", &self.ring.is_some())
            .field("control", &self.control)
            .finish()
    }
}

impl Capture {
    /// The ring (when the capture is on) and the control socket (when it can be bound; a
    /// warning otherwise).
    fn start(config: &ServerConfig) -> Result<Capture, StartError> {
        let capture = &config.capture;
        let ring = capture.enabled().then(|| {
            Arc::new(Mutex::new(Ring::new(
                capture.ring_messages,
                capture.ring_bytes,
            )))
        });
        if ring.is_some() {
            tracing::info!(
                messages = capture.ring_messages,
                bytes = capture.ring_bytes,
                "SIP capture on (itsp trace)"
            );
        }
        let control = config
            .control_socket
            .as_deref()
            .and_then(ControlSocket::bind);
        Ok(Capture { ring, control })
    }
}

/// What reads the capture ring besides the control socket: the pcap files and the HEP
/// export, with the settings they run with.
#[derive(Default)]
struct CaptureOutputs {
    pcap: Option<PcapFiles>,
    hep: Option<HepSender>,
    /// The `[capture]` settings in force.
    config: crate::capture::CaptureConfig,
}

impl CaptureOutputs {
    /// The pcap writer and the HEP sender `config` asks for, reading `ring` (none without
    /// one), and the HEP sender's queue of RTCP reports.
    fn start(
        ring: Option<&SharedRing>,
        config: &crate::capture::CaptureConfig,
    ) -> Result<
        (
            CaptureOutputs,
            Option<crate::capture::hep_sender::ReportQueue>,
        ),
        String,
    > {
        let Some(ring) = ring else {
            return Ok((
                CaptureOutputs {
                    config: config.clone(),
                    ..CaptureOutputs::default()
                },
                None,
            ));
        };
        let pcap = match &config.pcap {
            Some(pcap) => Some(PcapFiles::spawn(ring.clone(), pcap.clone())?),
            None => None,
        };
        let (hep, reports) = match &config.hep {
            Some(hep) => {
                let (sender, reports) = HepSender::spawn(ring.clone(), hep.clone());
                (Some(sender), Some(reports))
            }
            None => (None, None),
        };
        let outputs = CaptureOutputs {
            pcap,
            hep,
            config: config.clone(),
        };
        Ok((outputs, reports))
    }

    /// Stops both (what is left is written and sent, as at shutdown).
    async fn close(&mut self) {
        if let Some(hep) = self.hep.take() {
            hep.close().await;
        }
        if let Some(pcap) = self.pcap.take() {
            // Joins a thread that writes a last batch: off the runtime's workers.
            let _ = tokio::task::spawn_blocking(move || pcap.close()).await;
        }
    }
}

/// What [`Server::start`] found and did, for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReport {
    /// Bindings restored from the store.
    pub bindings_restored: usize,
    /// Expired bindings purged from the store at start.
    pub bindings_purged: u64,
    /// Domains served.
    pub domains: Vec<String>,
}

/// The shell's state, shared by its tasks.
struct Shared {
    engine: Mutex<Engine>,
    config: ServerConfig,
    store: Store,
    transports: Transports,
    locator: Locator,
    relay: Option<relay::Controller>,
    location_writer: LocationWriter,
    accounting: AccountingWriter,
    /// Woken when the engine has an earlier timer than the timer task sleeps for.
    timers_changed: Notify,
    /// When the timer task will wake up: nanoseconds since `timer_epoch`, `u64::MAX` for
    /// never. Lets a message skip waking it when nothing earlier is due (most messages).
    timer_deadline: AtomicU64,
    timer_epoch: Instant,
    in_flight: Arc<InFlight>,
    /// The `bans` table's change counter when the engine's bans were last read.
    bans_version: AtomicI64,
    /// How each subscriber with an account pays (the prepaid hook and the accounting
    /// writer read it).
    book: AccountBook,
    /// The `accounts` table's change counter when the book was last read.
    accounts_version: AtomicI64,
    /// The rating plans (prepaid authorisations; the accounting writer prices with them).
    rater: SharedRater,
    /// When the server started (`itsp status`).
    started: Now,
    /// The metrics counters (`None`: metrics off), for the call quality the relay reports.
    sip_counts: Option<Arc<crate::metrics::sip_counts::SipCounts>>,
    /// The HEP sender's queue of RTCP reports, once it runs (`[capture] hep`).
    hep_reports: Mutex<Option<crate::capture::hep_sender::ReportQueue>>,
    /// The capture ring (`None`: capture off), for a reload of its bounds.
    capture_ring: Option<SharedRing>,
    /// The capture's pcap writer and HEP sender while the server runs, replaced when the
    /// configuration is reloaded ([`Reloader::apply_capture`]).
    capture_outputs: tokio::sync::Mutex<CaptureOutputs>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Server {
    /// Prepares the store (adds the configured domains, purges expired bindings, restores
    /// the others into memory) and binds the sockets.
    pub async fn start(
        config: ServerConfig,
        store: Store,
        listens: &[Listen],
    ) -> Result<(Server, StartReport), StartError> {
        for domain in &config.domains {
            if !store.domain_exists(domain).await? {
                match store.add_domain(domain).await {
                    Ok(()) | Err(StoreError::DomainExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(%domain, "domain added to the store");
            }
        }
        let now = Now::system();
        let bindings_purged = store
            .purge_expired(i64::try_from(now.unix_secs()).unwrap_or(i64::MAX))
            .await?;
        let mut location = Location::new();
        let mut bindings_restored = 0;
        for row in store.all_bindings().await? {
            let aor = row.aor.clone();
            match crate::persist::from_store(row) {
                Some((aor, binding)) => {
                    location.restore(&aor, binding);
                    bindings_restored += 1;
                }
                None => {
                    tracing::warn!(%aor, "a stored binding has an unreadable source address; skipped")
                }
            }
        }
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| StartError::Random(e.to_string()))?;
        // Calls a previous run of this node left open (it stopped without seeing them
        // end) get their records, ended by the proxy now, and leave the live-call list.
        let stale_calls = store
            .close_calls(&config.node, Now::system().unix_ms_i64())
            .await?;
        if stale_calls > 0 {
            tracing::info!(calls = stale_calls, node = %config.node, "live calls of a previous run closed (call records written)");
        }
        let mut domains = store.list_domains().await?;
        domains.sort();
        let (mut transports, receivers) =
            Transports::bind_with(listens, config.tcp, config.tls.clone()).await?;
        if let Some(addr) = config.websocket_handed_over {
            transports.add_handed_over(Listen {
                protocol: transport::Protocol::Ws,
                addr,
            });
        }
        let report = StartReport {
            bindings_restored,
            bindings_purged,
            domains: domains.clone(),
        };
        // HEP export of RTCP as it passes: the in-process relay keeps what it read.
        let rtcp_live = config.capture.hep.is_some() && config.capture.enabled();
        let (relay, relay_setup) = start_relay(&config.relay, rtcp_live)?;
        let location_writer = LocationWriter::spawn(
            &store,
            tokio::runtime::Handle::current(),
            config.commit_window,
            config.location_durability,
        )?;
        let book = AccountBook::default();
        let accounts_version = store.table_version(store::ACCOUNTS_TABLE).await?;
        book.replace(&store.accounts().await?);
        let rater = SharedRater::default();
        let accounting = AccountingWriter::spawn(
            &store,
            tokio::runtime::Handle::current(),
            rater.clone(),
            book.clone(),
        )?;
        let bans_read_at = Now::system();
        let bans = store.bans(bans_read_at.unix_ms_i64()).await?;
        let bans_version = store.table_version(store::BANS_TABLE).await?;
        let capture = Capture::start(&config)?;
        // Started here, before anything can reload them (a SIGHUP may come before `run`).
        let (capture_outputs, hep_reports) =
            CaptureOutputs::start(capture.ring.as_ref(), &config.capture)
                .map_err(StartError::Capture)?;
        let sip_counts = config.metrics.then(Arc::default);
        let mut engine = Engine::new(EngineSetup {
            config: config.clone(),
            listens: transports.local_addrs(),
            domains,
            location,
            secret,
            network: Box::new(SystemNetwork::default()),
            relay: relay_setup,
            capture: capture.ring.clone(),
            metrics: sip_counts.clone(),
            accounts: book.clone(),
            rater: rater.clone(),
        });
        engine.set_bans(bans_read_at, &bans);
        if !bans.is_empty() {
            tracing::info!(bans = bans.len(), "banned sources read from the store");
        }
        let shared = Shared {
            engine: Mutex::new(engine),
            locator: locator_for(&config.proxy.nameservers),
            config,
            store,
            transports,
            relay,
            location_writer,
            accounting,
            timers_changed: Notify::new(),
            timer_deadline: AtomicU64::new(u64::MAX),
            timer_epoch: Instant::now(),
            in_flight: Arc::new(InFlight::default()),
            bans_version: AtomicI64::new(bans_version),
            book,
            accounts_version: AtomicI64::new(accounts_version),
            rater,
            sip_counts: sip_counts.clone(),
            started: Now::system(),
            hep_reports: Mutex::new(hep_reports),
            capture_ring: capture.ring.clone(),
            capture_outputs: tokio::sync::Mutex::new(capture_outputs),
        };
        Ok((
            Server {
                shared: Arc::new(shared),
                receivers,
                capture,
                sip_counts,
            },
            report,
        ))
    }

    /// What reloads the store's domains and bans on demand (SIGHUP), while it runs.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            shared: self.shared.clone(),
        }
    }

    /// The Prometheus metrics of this server, to serve at `/metrics` (`None` when
    /// [`ServerConfig::metrics`] is off).
    pub fn metrics(&self) -> Option<crate::Metrics> {
        let counts = self.sip_counts.clone()?;
        let shared = self.shared.clone();
        let capture = self.capture.ring.is_some();
        Some(crate::Metrics::new(counts, move || {
            shared.metrics_readings(capture)
        }))
    }

    /// What has a changed address-of-record's bindings read from the store again (the
    /// portal and `itsp ul rm` remove registrations there; the engine keeps them in
    /// memory).
    pub fn bindings_reloader(&self) -> BindingsReloader {
        BindingsReloader {
            shared: self.shared.clone(),
        }
    }

    /// The calls in progress for the operator beside the server (the portal): their relay
    /// counters, and their hang-up as `itsp hangup` asks over the control socket.
    pub fn live_calls(&self) -> LiveCalls {
        LiveCalls {
            shared: self.shared.clone(),
        }
    }

    /// The sockets actually bound (with the ports the OS chose for port 0).
    pub fn local_addrs(&self) -> Vec<Listen> {
        self.shared.transports.local_addrs()
    }

    /// Where a web server hands over the SIP-over-WebSocket connections it upgraded on
    /// [`crate::ServerConfig::websocket_handed_over`] (the stream and the client's
    /// address); `None` without that address.
    pub fn websocket_entry(&self) -> Option<WebSocketEntry> {
        let addr = self.shared.config.websocket_handed_over?;
        let transports = self.shared.transports.clone();
        let local = Listen {
            protocol: transport::Protocol::Ws,
            addr,
        };
        Some(Arc::new(move |io, peer| {
            transports.serve_websocket(io, peer, local);
        }))
    }

    /// Serves until `shutdown` completes, then stops gracefully (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let shared = self.shared;
        let Capture { ring, control } = self.capture;
        let capture_on = ring.is_some();
        let control = control.map(|c| {
            let status = shared.clone();
            let hang_up = shared.clone();
            c.spawn(
                ring,
                crate::control::Controls {
                    status: Arc::new(move || status.status(capture_on)),
                    hang_up: Arc::new(move |call_id| hang_up.hang_up(call_id)),
                    bindings_changed: BindingsReloader {
                        shared: shared.clone(),
                    },
                    conferences: shared.config.conferences.clone(),
                },
            )
        });
        let timers = tokio::spawn(timer_loop(shared.clone()));
        let housekeeping = tokio::spawn(housekeeping_loop(shared.clone()));
        let bans = tokio::spawn(bans_loop(shared.clone()));
        let accounts = tokio::spawn(accounts_loop(shared.clone()));
        let media_gone = tokio::spawn(media_gone_loop(shared.clone()));
        let rtcp_reports = tokio::spawn(rtcp_report_loop(shared.clone()));
        let keepalives = tokio::spawn(keepalive_loop(shared.clone()));
        let deliver = {
            let shared = shared.clone();
            Arc::new(move |msg: Incoming| -> Option<transport::Handling> {
                // Shutting down: take no new messages.
                let guard = InFlight::enter(&shared.in_flight)?;
                let transmits = shared.drive(|engine, now| engine.handle(now, msg));
                if transmits.is_empty() {
                    return None;
                }
                let shared = shared.clone();
                Some(Box::pin(async move {
                    shared.send_all(transmits).await;
                    drop(guard);
                }))
            })
        };
        self.receivers.start(deliver);
        shutdown.await;
        let in_flight = &shared.in_flight;
        in_flight.stop();
        tracing::info!(in_progress = in_flight.count(), "shutting down");
        let finished = tokio::time::timeout(shared.config.shutdown_grace, in_flight.idle()).await;
        if finished.is_err() {
            tracing::warn!(
                abandoned = in_flight.count(),
                "requests still in progress at shutdown were abandoned"
            );
        }
        shared.location_writer.close().await;
        shared.accounting.close().await;
        if let Some(control) = control {
            control.stop();
        }
        shared.capture_outputs.lock().await.close().await;
        timers.abort();
        housekeeping.abort();
        accounts.abort();
        media_gone.abort();
        rtcp_reports.abort();
        bans.abort();
        keepalives.abort();
        let (bindings, transactions, proxied, live_calls) = {
            let engine = lock(&shared.engine);
            (
                engine.binding_count(),
                engine.transaction_count(),
                engine.proxied_count(),
                engine.live_calls(),
            )
        };
        shared.store.close().await;
        tracing::info!(
            bindings,
            transactions,
            proxied,
            live_calls,
            "stopped; bindings saved"
        );
    }
}

impl Shared {
    /// What `itsp status` shows ([`crate::control`]).
    fn status(&self, capture: bool) -> crate::control::protocol::Status {
        let now = Now::system();
        let (relay, relay_sessions) = match &self.relay {
            None => ("off", None),
            Some(relay::Controller::Local(handle)) => ("in-process", Some(handle.list().len())),
            Some(relay::Controller::Nodes(_)) => ("nodes", None),
        };
        let engine = lock(&self.engine);
        crate::control::protocol::Status {
            version: env!("CARGO_PKG_VERSION").into(),
            node: self.config.node.clone(),
            started: crate::capture::time::rfc3339_ms(self.started.unix_ms),
            uptime_secs: now.instant.duration_since(self.started.instant).as_secs(),
            listeners: self
                .transports
                .local_addrs()
                .iter()
                .map(ToString::to_string)
                .collect(),
            domains: engine.domain_count(),
            registered_aors: engine.aor_count(),
            registered_contacts: engine.binding_count(),
            transactions: engine.transaction_count(),
            proxied: engine.proxied_count(),
            waiting_for_io: engine.waiting_count(),
            live_calls: engine.live_calls(),
            relay: relay.into(),
            relay_sessions,
            store: self.store.backend_name().into(),
            capture,
            queued_bindings: self.location_writer.stats().queue_depth(),
            queued_call_records: self.accounting.stats().queue_depth(),
        }
    }

    /// What a metrics scrape reads besides the hook's counters: the status (the same
    /// numbers as `itsp status`), failed authentications, the relay's totals, the writers'
    /// queues and commit times, DNS lookups.
    fn metrics_readings(&self, capture: bool) -> crate::metrics::Readings {
        let status = self.status(capture);
        let auth_failures = lock(&self.engine).auth_failures_total();
        let relay = match &self.relay {
            Some(relay::Controller::Local(handle)) => Some(handle.totals()),
            _ => None,
        };
        crate::metrics::Readings {
            status,
            auth_failures,
            relay,
            writers: vec![
                ("location", self.location_writer.stats()),
                ("calls", self.accounting.stats()),
            ],
            dns: self.locator.lookup_counts().snapshot(),
        }
    }

    /// Runs `f` on the engine, starts the I/O it asks for and answers what to send. Binding
    /// commits are queued before the lock is released, so they reach the writer in the
    /// engine's order.
    fn drive(self: &Arc<Self>, f: impl FnOnce(&mut Engine, Now)) -> Vec<Transmit> {
        let (transmits, next) = self.drive_quietly(f);
        self.wake_timers_if_earlier(next);
        transmits
    }

    /// [`Shared::drive`] without waking the timer task: for the timer task itself, which
    /// reads the next deadline from the engine.
    fn drive_quietly(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Engine, Now),
    ) -> (Vec<Transmit>, Option<Instant>) {
        let now = Now::system();
        let mut engine = lock(&self.engine);
        f(&mut engine, now);
        let mut transmits = Vec::new();
        while let Some(t) = engine.poll_transmit() {
            transmits.push(t);
        }
        while let Some(io) = engine.poll_io() {
            self.start_io(io);
        }
        let next = engine.poll_timeout();
        drop(engine);
        (transmits, next)
    }

    /// Sends; a client transaction whose request cannot be sent is told so (its branch
    /// fails with 503, RFC 3261 §16.9), which may give more to send.
    async fn send_all(self: &Arc<Self>, mut transmits: Vec<Transmit>) {
        while !transmits.is_empty() {
            let mut failed = Vec::new();
            for t in transmits {
                if let Err(e) = self
                    .transports
                    .send(t.protocol, t.local, t.dest, t.bytes)
                    .await
                {
                    tracing::warn!(error = %e, "send failed");
                    if let Some(key) = t.client {
                        failed.push(key);
                    }
                }
            }
            if failed.is_empty() {
                return;
            }
            transmits = self.drive(|engine, now| {
                for key in &failed {
                    engine.send_failed(now, key);
                }
            });
        }
    }

    /// Carries out one I/O request (called with the engine locked: what must keep its
    /// order is queued here, what waits runs in a task of its own).
    fn start_io(self: &Arc<Self>, io: IoRequest) {
        match io {
            IoRequest::Record(record) => self.accounting.send(record),
            IoRequest::Prepaid {
                id,
                caller,
                number,
                at_secs,
                after,
            } => {
                let shared = self.clone();
                self.spawn_answer(id, async move {
                    shared.prepaid(caller, number, at_secs, after).await
                });
            }
            IoRequest::Ledger { id, account, after } => {
                let store = self.store.clone();
                self.spawn_answer(id, async move {
                    match put_in_since(&store, &account, after).await {
                        Ok(entries) => Answer::Ledger(entries),
                        Err(e) => Answer::StoreFailed(e.to_string()),
                    }
                });
            }
            IoRequest::Ban { id, ban } => {
                let store = self.store.clone();
                self.spawn_answer(id, async move {
                    let now_ms = Now::system().unix_ms_i64();
                    Answer::Committed(
                        store
                            .add_ban(&ban.network, Some(ban.until_ms), &ban.reason, true, now_ms)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string()),
                    )
                });
            }
            IoRequest::Block { source, until } => {
                self.transports.block_source(source, until);
            }
            IoRequest::Registered { aor } => {
                if let Some(listener) = &self.config.registrations {
                    let _ = listener.send(aor);
                }
            }
            IoRequest::KeepFlow { peer, for_time } => {
                self.transports
                    .keep_flow_until(peer, Instant::now() + for_time);
            }
            IoRequest::CommitBindings { id, writes } => {
                let committed = self.location_writer.submit(writes);
                self.spawn_answer(id, async move {
                    Answer::Committed(
                        committed
                            .await
                            .unwrap_or_else(|_| Err("writer stopped".into())),
                    )
                });
            }
            IoRequest::Query { id, query } => {
                let shared = self.clone();
                self.spawn_answer(id, async move { shared.answer(query).await });
            }
            IoRequest::ReloadBindings { id, aor } => {
                let store = self.store.clone();
                self.spawn_answer(id, async move {
                    match store.bindings(&aor).await {
                        Ok(rows) => Answer::Bindings(rows),
                        Err(e) => Answer::StoreFailed(e.to_string()),
                    }
                });
            }
            IoRequest::RelayExchange { id, offer, request } => {
                let shared = self.clone();
                self.spawn_answer(id, async move {
                    let Some(relay) = &shared.relay else {
                        return Answer::Sdp(None);
                    };
                    let result = if offer {
                        relay.offer(&request).await
                    } else {
                        relay.answer(&request).await
                    };
                    match result {
                        Ok(rewritten) => {
                            for warning in &rewritten.warnings {
                                tracing::debug!(call_id = %request.call_id, %warning, "relay warning");
                            }
                            Answer::Sdp(Some(bytes::Bytes::from(rewritten.sdp)))
                        }
                        Err(e) if e.refuses_call() => {
                            tracing::info!(call_id = %request.call_id, offer, error = %e, "relay refused the SDP's SRTP keys");
                            Answer::SdpRefused
                        }
                        Err(e) => {
                            tracing::warn!(call_id = %request.call_id, offer, error = %e, "relay refused the SDP; forwarded unchanged");
                            Answer::Sdp(None)
                        }
                    }
                });
            }
            IoRequest::RelayDelete {
                call_id,
                from_tag,
                why,
            } => {
                let shared = self.clone();
                let guard = InFlight::enter_always(&self.in_flight);
                tokio::spawn(async move {
                    if let Some(relay) = &shared.relay {
                        match relay.delete(&call_id, &from_tag).await {
                            Ok(counters) => {
                                tracing::info!(
                                    %call_id,
                                    why,
                                    rtp_packets = counters.rtp.packets,
                                    rtp_bytes = counters.rtp.bytes,
                                    rtcp_packets = counters.rtcp.packets,
                                    lost = counters.parties.iter().map(|p| p.lost).sum::<u64>(),
                                    "relay session ended"
                                );
                                let queue = lock(&shared.hep_reports).clone();
                                if let Some(queue) = queue {
                                    let unix_ms = Now::system().unix_ms;
                                    // The parties' RTCP went out as it passed (the
                                    // in-process relay): the relay's reception now.
                                    let live =
                                        matches!(shared.relay, Some(relay::Controller::Local(_)));
                                    for report in crate::capture::rtcp_report::reports(
                                        &call_id, &counters, unix_ms, !live,
                                    ) {
                                        // A full queue (collector far behind): dropped.
                                        let _ = queue.try_send(report);
                                    }
                                }
                                let media = call_media(&counters, &from_tag);
                                if let Some(counts) = &shared.sip_counts {
                                    for q in [media.caller_quality, media.callee_quality]
                                        .into_iter()
                                        .flatten()
                                    {
                                        counts.mos.observe_value(q.mos_centi as f64 / 100.0);
                                    }
                                }
                                shared.accounting.send(crate::engine::io::Record::Media(
                                    store::MediaUpdate {
                                        call_id,
                                        from_tag,
                                        media,
                                    },
                                ));
                            }
                            Err(e) => {
                                tracing::info!(%call_id, error = %e, "relay session not deleted")
                            }
                        }
                    }
                    drop(guard);
                });
            }
        }
    }

    /// Ends answered call `call_id` for the operator (`itsp hangup`): BYE to both parties.
    /// Answers whether this server had it.
    fn hang_up(self: &Arc<Self>, call_id: &str) -> bool {
        let mut known = false;
        let transmits = self.drive(|engine, now| {
            known = engine.hang_up(now, call_id, crate::policy::hook::EndReason::Admin);
        });
        if !transmits.is_empty() {
            let shared = self.clone();
            tokio::spawn(async move { shared.send_all(transmits).await });
        }
        known
    }

    /// What a prepaid call needs before it is authorised ([`IoRequest::Prepaid`]): the
    /// caller's account, the money put in after entry `after`, and the tariff of
    /// `number` in the caller's plan.
    async fn prepaid(
        self: &Arc<Self>,
        caller: store::Address,
        number: String,
        at_secs: i64,
        after: Option<i64>,
    ) -> Answer {
        let account = match self.store.account(&caller).await {
            Ok(Some(a)) if a.kind == store::AccountKind::Prepaid => a,
            Ok(_) => return Answer::Prepaid(None),
            Err(e) => return Answer::StoreFailed(e.to_string()),
        };
        let put_in = match after {
            Some(after) => match put_in_since(&self.store, &caller, after).await {
                Ok(entries) => entries,
                Err(e) => return Answer::StoreFailed(e.to_string()),
            },
            None => Vec::new(),
        };
        let rater = self.rater.clone();
        let store = self.store.clone();
        let runtime = tokio::runtime::Handle::current();
        let plan = account.plan.clone();
        let lookup_caller = caller.clone();
        // The plans are refreshed with blocking store reads: off the runtime's workers.
        let tariff = tokio::task::spawn_blocking(move || {
            rater.refresh(&store, &runtime);
            rater.tariff(&lookup_caller, &number, at_secs, plan.as_deref())
        })
        .await
        .unwrap_or(None);
        Answer::Prepaid(Some(crate::engine::io::PrepaidCaller {
            balance: account.balance,
            last_entry: account.last_entry,
            currency: account.currency,
            put_in,
            tariff,
        }))
    }

    /// Runs `work` in a task and hands its answer to the engine as the answer to `id`.
    fn spawn_answer(
        self: &Arc<Self>,
        id: crate::engine::IoId,
        work: impl Future<Output = Answer> + Send + 'static,
    ) {
        let shared = self.clone();
        let guard = InFlight::enter_always(&self.in_flight);
        tokio::spawn(async move {
            let answer = work.await;
            let transmits = shared.drive(|engine, now| engine.complete(now, id, answer));
            shared.send_all(transmits).await;
            drop(guard);
        });
    }

    /// What the store or DNS says to a query of the engine.
    async fn answer(&self, query: Query) -> Answer {
        let failed = |e: StoreError| Answer::StoreFailed(e.to_string());
        match query {
            Query::DomainServed(host) => self
                .store
                .domain_exists(&host)
                .await
                .map_or_else(failed, Answer::Served),
            Query::TableVersion(table) => self
                .store
                .table_version(table)
                .await
                .map_or_else(failed, Answer::Version),
            Query::Credentials { user, realm } => {
                Answer::credentials(self.store.credentials(&user, &realm).await)
            }
            Query::Forwarding { user, domain } => self
                .store
                .forwarding(&user, &domain)
                .await
                .map_or_else(failed, Answer::Forwarding),
            Query::Resolve { user, domain } => self
                .store
                .resolve(&user, &domain)
                .await
                .map_or_else(failed, Answer::Subscriber),
            Query::InGroup {
                user,
                domain,
                group,
            } => self
                .store
                .in_group(&user, &domain, &group)
                .await
                .map_or_else(failed, Answer::Served),
            Query::Locate(uri) => Answer::Hops(self.locate(&uri).await),
        }
    }

    /// The next hops of a SIP URI whose host is a name (RFC 3263 §4: NAPTR, SRV, A/AAAA),
    /// in failover order. A name with no records is 404; DNS failures and transports we
    /// cannot use are 480, with the reason in the phrase and the log.
    async fn locate(&self, uri: &str) -> Result<Vec<Hop>, Rejection> {
        let Ok(Uri::Sip(sip_uri)) = Uri::parse(uri) else {
            return Err(Rejection::new(416, "Only SIP URIs can be routed"));
        };
        match self.locator.locate(&sip_uri).await {
            Ok(targets) if !targets.is_empty() => Ok(targets
                .into_iter()
                .map(|t| {
                    if t.protocol == transport::Protocol::Tls {
                        // RFC 5922 §7.2: the certificate must be for the URI's domain,
                        // whichever SRV target serves it.
                        if let sip::uri::Host::Name(name) = sip_uri.host {
                            self.transports.name_peer(t.addr, name);
                        }
                    }
                    Hop {
                        protocol: t.protocol,
                        addr: t.addr,
                    }
                })
                .collect()),
            Ok(_) => Err(Rejection::new(404, "Destination domain not found")),
            Err(LocateError::NotFound { name }) => {
                tracing::info!(%name, "no DNS records");
                Err(Rejection::new(404, "Destination domain not found"))
            }
            Err(e) => {
                tracing::info!(uri = %uri, error = %e, "destination not located");
                Err(Rejection::new(
                    480,
                    format!("Destination not reachable: {e}"),
                ))
            }
        }
    }

    fn nanos_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.timer_epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// `at` rounded up to the next [`TIMER_TICK`] since the epoch, in nanoseconds.
    fn tick_nanos(&self, at: Instant) -> u64 {
        let tick = TIMER_TICK.as_nanos() as u64;
        self.nanos_since_epoch(at)
            .div_ceil(tick)
            .saturating_mul(tick)
    }

    /// When the timer task wakes up for a timer due at `at`: the end of its
    /// [`TIMER_TICK`], so timers due within one tick fire in one wake-up.
    fn timer_wake_up(&self, at: Instant) -> Instant {
        self.timer_epoch + Duration::from_nanos(self.tick_nanos(at))
    }

    /// Wakes the timer task when `next` falls in an earlier tick than the wake-up it
    /// planned.
    fn wake_timers_if_earlier(&self, next: Option<Instant>) {
        if let Some(next) = next {
            if self.tick_nanos(next) < self.timer_deadline.load(Ordering::Acquire) {
                self.timers_changed.notify_one();
            }
        }
    }

    /// The timer task records when it will wake up next (`None`: only when woken).
    fn set_timer_deadline(&self, at: Option<Instant>) {
        let nanos = at.map_or(u64::MAX, |at| self.nanos_since_epoch(at));
        self.timer_deadline.store(nanos, Ordering::Release);
    }
}

/// The work in progress — messages being sent, I/O being waited for — so shutdown can
/// stop taking new messages and wait for these.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    stopping: AtomicBool,
    /// Notified when the count drops to zero while stopping.
    idle: Notify,
}

/// One piece of work in flight; dropping it counts it out.
struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    /// Counts a message in, unless the server is stopping.
    fn enter(this: &Arc<InFlight>) -> Option<InFlightGuard> {
        if this.stopping.load(Ordering::Acquire) {
            return None;
        }
        Some(InFlight::enter_always(this))
    }

    /// Counts in work that belongs to a message already taken (its I/O).
    fn enter_always(this: &Arc<InFlight>) -> InFlightGuard {
        this.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(this.clone())
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Returns when nothing is in flight.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before looking, so a drop to zero in between is not missed.
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let before = self.0.count.fetch_sub(1, Ordering::AcqRel);
        if before == 1 && self.0.stopping.load(Ordering::Acquire) {
            self.0.idle.notify_waiters();
        }
    }
}

async fn timer_loop(shared: Arc<Shared>) {
    let mut next = None;
    loop {
        // Published before sleeping: a timer armed after this and earlier than `next`
        // notifies (the permit is kept if we are not waiting yet, so nothing is lost).
        shared.set_timer_deadline(next);
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                    () = shared.timers_changed.notified() => {}
                }
            }
            None => shared.timers_changed.notified().await,
        }
        // Awake: "no deadline" makes every timer armed from now on notify, so the next wait
        // returns at once instead of sleeping past one armed while we look.
        shared.set_timer_deadline(None);
        let (transmits, due) = shared.drive_quietly(|engine, now| engine.handle_timeout(now));
        shared.send_all(transmits).await;
        next = due.map(|at| shared.timer_wake_up(at));
    }
}

async fn housekeeping_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.config.purge_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; start just did this work
    loop {
        tick.tick().await;
        let now = Now::system();
        let gone = lock(&shared.engine).purge_expired(now);
        for (aor, binding) in &gone {
            crate::registration_log::log_expired(aor, binding);
        }
        if let Err(e) = shared
            .store
            .purge_expired(i64::try_from(now.unix_secs()).unwrap_or(i64::MAX))
            .await
        {
            tracing::error!(error = %e, "purging expired bindings from the store failed");
        }
        if let Err(e) = shared.reload_domains().await {
            tracing::error!(error = %e, "reloading the served domains failed");
        }
        if let Err(e) = shared.store.purge_bans(now.unix_ms_i64()).await {
            tracing::error!(error = %e, "purging ended bans from the store failed");
        }
    }
}

/// How often the `accounts` table's change counter is read: `itsp account set` takes
/// effect within this long.
const ACCOUNTS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Every [`ACCOUNTS_CHECK_INTERVAL`]: when the `accounts` table's change counter moved
/// (an account made, changed or removed), the accounts are read into the book.
async fn accounts_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(ACCOUNTS_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let version = match shared.store.table_version(store::ACCOUNTS_TABLE).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "the accounts' change counter cannot be read");
                continue;
            }
        };
        if version == shared.accounts_version.load(Ordering::Acquire) {
            continue;
        }
        match shared.store.accounts().await {
            Ok(accounts) => {
                shared.book.replace(&accounts);
                shared.accounts_version.store(version, Ordering::Release);
                tracing::debug!(accounts = shared.book.len(), "accounts read");
            }
            Err(e) => tracing::error!(error = %e, "reading the accounts failed"),
        }
    }
}

/// A record's view of the relay's counters of a call: what the caller (the party whose
/// tag is `from_tag`) and the callee (any other party) sent and how it arrived (jitter,
/// estimated MOS), and the bytes of both.
fn call_media(counters: &relay::CallCounters, from_tag: &str) -> store::CallMedia {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut media = store::CallMedia {
        bytes: count(counters.rtp.bytes),
        ..store::CallMedia::default()
    };
    for party in &counters.parties {
        let (packets, lost, quality) = if party.tag == from_tag {
            (
                &mut media.caller_packets,
                &mut media.caller_lost,
                &mut media.caller_quality,
            )
        } else {
            (
                &mut media.callee_packets,
                &mut media.callee_lost,
                &mut media.callee_quality,
            )
        };
        *packets = packets.saturating_add(count(party.rtp.packets));
        *lost = lost.saturating_add(count(party.lost));
        if let Some(q) = party.quality {
            *quality = Some(store::MediaQuality {
                jitter_us: count(q.jitter_us),
                mos_centi: i64::from(q.mos_centi),
            });
        }
    }
    media
}

/// Has the engine read an address-of-record's bindings from the store again
/// ([`Server::bindings_reloader`]); cheap to clone.
#[derive(Clone)]
pub struct BindingsReloader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BindingsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingsReloader").finish_non_exhaustive()
    }
}

impl BindingsReloader {
    /// The bindings of `aor` (`user@domain`) changed in the store: the engine reads them
    /// again (a removed registration stops receiving calls).
    pub fn reload(&self, aor: &str) {
        let transmits = self.shared.drive(|engine, _| engine.reload_bindings(aor));
        if !transmits.is_empty() {
            let shared = self.shared.clone();
            tokio::spawn(async move { shared.send_all(transmits).await });
        }
        tracing::info!(%aor, "registrations read again from the store (removed by an operator)");
    }
}

impl BindingsReloader {
    /// The subscriber `aor` (`user@domain`) was disabled, removed or given a new SIP
    /// password in the store: the
    /// engine forgets its cached credentials at once, so the next REGISTER or call with
    /// them is refused, instead of at its next check of the subscribers' version (up to a
    /// second later). All cached credentials go (the cache is keyed by realm and digest
    /// user name, which need not be `aor`'s); the others are read again as they are used.
    pub fn subscriber_disabled(&self, aor: &str) {
        lock(&self.shared.engine).forget_credentials();
        tracing::info!(%aor, "cached credentials forgotten (a subscriber disabled, removed or given a new password by an operator)");
    }
}

/// The calls in progress, for the operator ([`Server::live_calls`]): the relay's counters
/// of one, and its hang-up by Call-ID (a BYE to both parties, the call's record ending
/// `admin`); cheap to clone.
#[derive(Clone)]
pub struct LiveCalls {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LiveCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCalls").finish_non_exhaustive()
    }
}

impl LiveCalls {
    /// The relay's counters of call `call_id` so far (the in-process relay's, or its NG
    /// node's); `None` when the relay is off or does not carry the call.
    pub async fn media(&self, call_id: &str) -> Option<relay::CallCounters> {
        self.shared.relay.as_ref()?.query(call_id).await.ok()
    }

    /// Ends answered call `call_id`; whether this server had it (a ringing call, one
    /// already ended or one of another node is not ended). Call within a tokio runtime:
    /// the BYEs are sent by a task.
    pub fn hang_up(&self, call_id: &str) -> bool {
        self.shared.hang_up(call_id)
    }
}

/// How often the relay is asked for the calls it removed for idleness.
const MEDIA_GONE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Every [`MEDIA_GONE_CHECK_INTERVAL`]: the calls whose relay session saw no media from
/// either side for the relay's idle timeout are ended (BYE to both parties, end reason
/// `no media`), as rtpengine's timeout ends a Kamailio dialog: the phones are gone and
/// would otherwise leave the call open. Only the in-process relay reports them.
async fn media_gone_loop(shared: Arc<Shared>) {
    let Some(relay) = &shared.relay else {
        return;
    };
    let mut tick = tokio::time::interval(MEDIA_GONE_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let idle = relay.take_idle();
        if idle.is_empty() {
            continue;
        }
        let transmits = shared.drive(|engine, now| {
            for call_id in &idle {
                if engine.hang_up(now, call_id, crate::policy::hook::EndReason::NoMedia) {
                    tracing::info!(%call_id, "no media from either phone: ending the call");
                }
            }
        });
        shared.send_all(transmits).await;
    }
}

/// How often the in-process relay's RTCP sightings are taken for the HEP collector (the
/// delay of a report, and of its HEP timestamp).
const RTCP_REPORT_INTERVAL: Duration = Duration::from_millis(250);

/// Every [`RTCP_REPORT_INTERVAL`], when the HEP sender runs and the relay is in-process:
/// each RTCP compound the relay read goes to the collector as a HEP RTCP report (type 5,
/// [`crate::capture::rtcp_report`]) under its call's Call-ID, as HOMER's capture agent
/// sends RTCP as it sees it.
async fn rtcp_report_loop(shared: Arc<Shared>) {
    let Some(relay @ relay::Controller::Local(_)) = &shared.relay else {
        return;
    };
    let mut tick = tokio::time::interval(RTCP_REPORT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sightings = relay.take_rtcp_sightings();
        if sightings.is_empty() {
            continue;
        }
        // The sender of the moment (a reload may have replaced or stopped it).
        let Some(queue) = lock(&shared.hep_reports).clone() else {
            continue;
        };
        let unix_ms = Now::system().unix_ms;
        for sighting in &sightings {
            if let Some(report) = crate::capture::rtcp_report::sighting(sighting, unix_ms) {
                // A full queue (collector far behind): dropped.
                let _ = queue.try_send(report);
            }
        }
    }
}

/// The money put into `account` after ledger entry `after` (top-ups and adjustments; the
/// server's own debits are not "put in"), oldest first.
async fn put_in_since(
    store: &Store,
    account: &store::Address,
    after: i64,
) -> Result<Vec<(i64, billing::Decimal)>, StoreError> {
    let mut put_in = Vec::new();
    let mut cursor = Some(after);
    loop {
        let page = store.ledger(account, cursor, 500).await?;
        let Some(last) = page.last() else {
            return Ok(put_in);
        };
        cursor = Some(last.id);
        put_in.extend(
            page.iter()
                .filter(|e| e.kind.is_external())
                .map(|e| (e.id, e.amount)),
        );
        if page.len() < 500 {
            return Ok(put_in);
        }
    }
}

/// How often the `bans` table's change counter is read: `itsp ban add|rm` takes effect
/// within this long.
const BANS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Every [`BANS_CHECK_INTERVAL`]: when the `bans` table's change counter moved (an
/// operator's `itsp ban`, a ban this or another node wrote, a purge), the bans in force
/// are read and handed to the engine ([`Engine::set_bans`]).
async fn bans_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(BANS_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match shared.reload_bans(false).await {
            Ok(_) => {}
            Err(BansError::Version(e)) => {
                tracing::debug!(error = %e, "the bans' change counter cannot be read");
            }
            Err(BansError::Read(e)) => tracing::error!(error = %e, "reading the bans failed"),
        }
    }
}

/// Why the bans were not read again.
#[derive(Debug)]
enum BansError {
    /// Their change counter could not be read.
    Version(StoreError),
    /// The bans could not be read.
    Read(StoreError),
}

impl std::fmt::Display for BansError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BansError::Version(e) | BansError::Read(e) => e.fmt(f),
        }
    }
}

impl Shared {
    /// Hands the engine the served domains, read anew from the store; answers how many.
    async fn reload_domains(&self) -> Result<usize, StoreError> {
        let domains = self.store.list_domains().await?;
        let count = domains.len();
        lock(&self.engine).set_domains(domains);
        Ok(count)
    }

    /// Hands the engine the bans in force, read anew from the store when their change
    /// counter moved (or always, with `force`); answers how many were read (`None`: not
    /// read, nothing changed).
    async fn reload_bans(&self, force: bool) -> Result<Option<usize>, BansError> {
        let version = self
            .store
            .table_version(store::BANS_TABLE)
            .await
            .map_err(BansError::Version)?;
        if !force && version == self.bans_version.load(Ordering::Acquire) {
            return Ok(None);
        }
        // Read after the version: a change in between is seen now or at the next check.
        let read_at = Now::system();
        let bans = self
            .store
            .bans(read_at.unix_ms_i64())
            .await
            .map_err(BansError::Read)?;
        lock(&self.engine).set_bans(read_at, &bans);
        self.bans_version.store(version, Ordering::Release);
        Ok(Some(bans.len()))
    }
}

/// Reloads, when the operator asks (SIGHUP to `itsp serve`), what a running server reads
/// from the store on its own now and then: the served domains (every `purge_interval`)
/// and the bans (when their change counter moves); and takes the settings of the config
/// file that can change while it runs ([`Reloader::apply`]). Made by [`Server::reloader`] before
/// [`Server::run`].
#[derive(Debug, Clone)]
pub struct Reloader {
    shared: Arc<Shared>,
}

/// What [`Reloader::reload`] read: a count, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Served domains.
    pub domains: Result<usize, String>,
    /// Bans in force.
    pub bans: Result<usize, String>,
}

impl Reloader {
    /// Hands the running server new trusted networks and PSTN routing (the config file
    /// read again on SIGHUP): requests that arrive from now on see them; registrations,
    /// transactions and calls in progress are kept.
    pub fn apply(&self, trusted: Vec<crate::trusted::Network>, pstn: crate::pstn::PstnConfig) {
        let transmits = self
            .shared
            .drive(|engine, _| engine.reconfigure(trusted, pstn));
        debug_assert!(transmits.is_empty(), "a reconfiguration sends nothing");
    }

    /// Takes new `[capture]` settings (the config file read again on SIGHUP): the ring's
    /// bounds, the pcap files (the writer restarted on the new directory or sizes) and the
    /// HEP export (the sender restarted toward the new collector, or stopped). Answers
    /// what changed, or why nothing did: turning the capture itself on or off needs a
    /// restart (the capture hook is part of the engine from its start), and the phones'
    /// RTCP reaches a HEP collector turned on here only after a restart (the relay keeps
    /// it only when export was on at start; the relay's own reports at a call's end go).
    pub async fn apply_capture(
        &self,
        new: crate::capture::CaptureConfig,
    ) -> Result<Vec<String>, String> {
        let shared = &self.shared;
        let Some(ring) = &shared.capture_ring else {
            return if new.enabled() {
                Err("[capture] turning the capture on needs a restart".into())
            } else {
                Ok(Vec::new())
            };
        };
        if !new.enabled() {
            return Err("[capture] turning the capture off needs a restart".into());
        }
        let mut outputs = shared.capture_outputs.lock().await;
        let old = outputs.config.clone();
        let mut changed = Vec::new();
        if (old.ring_messages, old.ring_bytes) != (new.ring_messages, new.ring_bytes) {
            lock(ring).set_limits(new.ring_messages, new.ring_bytes);
            changed.push(format!(
                "capture ring ({} messages, {} bytes)",
                new.ring_messages, new.ring_bytes
            ));
        }
        if old.pcap != new.pcap {
            if let Some(pcap) = outputs.pcap.take() {
                let _ = tokio::task::spawn_blocking(move || pcap.close()).await;
            }
            match &new.pcap {
                Some(config) => match PcapFiles::spawn(ring.clone(), config.clone()) {
                    Ok(pcap) => {
                        outputs.pcap = Some(pcap);
                        changed.push(format!("pcap files in {}", config.dir.display()));
                    }
                    Err(e) => {
                        outputs.config.pcap = None;
                        outputs.config.ring_messages = new.ring_messages;
                        outputs.config.ring_bytes = new.ring_bytes;
                        return Err(format!("[capture] pcap_dir: {e}"));
                    }
                },
                None => changed.push("pcap files off".into()),
            }
        }
        if old.hep != new.hep {
            if let Some(hep) = outputs.hep.take() {
                *lock(&shared.hep_reports) = None;
                hep.close().await;
            }
            match &new.hep {
                Some(config) => {
                    let (sender, reports) = HepSender::spawn(ring.clone(), config.clone());
                    *lock(&shared.hep_reports) = Some(reports);
                    outputs.hep = Some(sender);
                    changed.push(format!("HEP export to {}", config.collector));
                }
                None => changed.push("HEP export off".into()),
            }
        }
        outputs.config = new;
        Ok(changed)
    }

    /// Reads the served domains and the bans from the store now.
    pub async fn reload(&self) -> Reloaded {
        let domains = self
            .shared
            .reload_domains()
            .await
            .map_err(|e| e.to_string());
        let bans = match self.shared.reload_bans(true).await {
            Ok(read) => Ok(read.unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        };
        Reloaded { domains, bans }
    }
}

/// Every `natping_interval`: a round of keepalives ([`crate::natping::Pinger::round`]),
/// sent along each binding's flow; bindings whose pings go unanswered are logged as
/// unreachable (calls skip them).
async fn keepalive_loop(shared: Arc<Shared>) {
    let config = shared.config.nat.ping;
    if config.targets == crate::nat::PingTargets::None || config.interval.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut round = None;
        let transmits = shared.drive(|engine, now| round = Some(engine.keepalive_round(now)));
        let Some((stats, unreachable)) = round else {
            continue;
        };
        for (aor, contact) in &unreachable {
            tracing::info!(%aor, %contact, failures = config.max_failures, "binding does not answer keepalives: unreachable");
        }
        for t in transmits {
            if let Err(e) = shared
                .transports
                .send(t.protocol, t.local, t.dest, t.bytes)
                .await
            {
                tracing::debug!(dest = %t.dest, error = %e, "keepalive not sent");
            }
        }
        if stats.pinged == 0 {
            continue;
        }
        tracing::info!(
            pinged = stats.pinged,
            sent = stats.sent,
            answered = stats.answered,
            unanswered = stats.unanswered,
            unreachable = stats.unreachable,
            "keepalive round"
        );
    }
}

/// The DNS resolver: the configured name servers, else the system's; without either,
/// lookups fail with a clear reason (and IP targets still work).
fn locator_for(nameservers: &[std::net::SocketAddr]) -> Locator {
    if !nameservers.is_empty() {
        return Locator::with_nameservers(nameservers);
    }
    Locator::from_system().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no system DNS configuration; domain names cannot be resolved");
        Locator::with_nameservers(&[])
    })
}

/// The relay controller of `settings` and the relay hook's setup: the in-process relay
/// started, or the NG nodes set up; `None` when the policy is `never`.
fn start_relay(
    settings: &crate::config::RelaySettings,
    keep_rtcp_reports: bool,
) -> Result<
    (
        Option<relay::Controller>,
        Option<crate::media_relay::RelaySetup>,
    ),
    StartError,
> {
    use crate::config::RelayBackend;
    use crate::media_relay::{RelayPolicy, RelaySetup};
    if settings.policy == RelayPolicy::Never {
        return Ok((None, None));
    }
    let (controller, per_party_address, all_interfaces) = match &settings.backend {
        RelayBackend::Local {
            ports,
            public_ip,
            listen_ip,
            idle_timeout,
        } => {
            let advertised = public_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
            let mut config = relay::RelayConfig::new(advertised);
            config.engine.port_min = ports.0;
            config.engine.port_max = ports.1;
            config.engine.idle_timeout = *idle_timeout;
            config.engine.keep_rtcp_reports = keep_rtcp_reports;
            if let Some(ip) = listen_ip {
                config.listen_ip = *ip;
            }
            let handle = relay::RelayHandle::start(config)?;
            tracing::info!(
                ports = %format!("{}-{}", ports.0, ports.1),
                policy = settings.policy.name(),
                "RTP relay in-process"
            );
            (
                relay::Controller::Local(handle),
                public_ip.is_none(),
                listen_ip.is_none_or(|ip| ip.is_unspecified()),
            )
        }
        RelayBackend::Nodes(nodes) => {
            tracing::info!(
                nodes = nodes.len(),
                policy = settings.policy.name(),
                "RTP relay on NG nodes"
            );
            (
                relay::Controller::Nodes(relay::NgNodes::new(nodes.clone())),
                false,
                false,
            )
        }
    };
    Ok((
        Some(controller),
        Some(RelaySetup {
            policy: settings.policy,
            per_party_address,
            all_interfaces,
            srtp: settings.srtp,
        }),
    ))
}
