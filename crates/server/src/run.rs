//! [`Server`]: starting, running and stopping the SIP server. The tasks of a running
//! server:
//!
//! - the transports' receive tasks, which spawn one task per incoming message
//!   (`Core::receive` in `core.rs`, then the routing steps of `policy.rs`) straight from
//!   the task that read it, counted in flight for a graceful shutdown;
//! - the timer task: fires transaction timers (retransmissions, timeouts, lifetimes);
//! - the housekeeping task: purges expired bindings from memory and the store and reloads
//!   the served domains;
//! - the keepalive task: OPTIONS (or CRLF, or 4-byte) pings to NATed bindings
//!   ([`crate::natping`]);
//! - the location writer ([`crate::persist::LocationWriter`]).
//!
//! Shutdown stops taking messages, lets requests in progress finish (up to
//! [`ServerConfig::shutdown_grace`]), commits every queued binding change and closes the
//! store.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use store::{Store, StoreError};
use tokio::sync::Notify;
use transport::{Incoming, Listen, Receivers, TransportError, Transports};

use crate::config::ServerConfig;
use crate::core::{lock, unix_now, Core, Work};
use crate::domains::Domains;
use crate::location::Location;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The store failed (cannot read bindings, cannot add a domain).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A socket could not be bound.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The operating system gave no random bytes for the nonce secret.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A thread of the server (a store writer) could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// The in-process RTP relay could not start (bad port range).
    #[error("RTP relay: {0}")]
    Relay(#[from] relay::RelayError),
}

/// A started server: sockets bound, bindings restored; [`Server::run`] serves.
#[derive(Debug)]
pub struct Server {
    core: Arc<Core>,
    receivers: Receivers,
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
        let now = unix_now();
        let bindings_purged = store
            .purge_expired(i64::try_from(now).unwrap_or(i64::MAX))
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
        let stale_calls = store.clear_calls(&config.node).await?;
        if stale_calls > 0 {
            tracing::info!(calls = stale_calls, node = %config.node, "live calls of a previous run cleared");
        }
        let domains = Domains::load(store.clone()).await?;
        let (transports, receivers) = Transports::bind(listens).await?;
        let report = StartReport {
            bindings_restored,
            bindings_purged,
            domains: domains.list(),
        };
        let relay = start_relay(&config.relay)?;
        let writer = crate::persist::LocationWriter::spawn(
            &store,
            tokio::runtime::Handle::current(),
            config.commit_window,
            config.location_durability,
        )?;
        let calls = crate::accounting::Calls::spawn(
            &store,
            tokio::runtime::Handle::current(),
            config.node.clone(),
        )?;
        let core = Core::new(
            config, store, transports, domains, location, &secret, relay, writer, calls,
        );
        Ok((
            Server {
                core: Arc::new(core),
                receivers,
            },
            report,
        ))
    }

    /// The sockets actually bound (with the ports the OS chose for port 0).
    pub fn local_addrs(&self) -> Vec<Listen> {
        self.core.transports.local_addrs()
    }

    /// Serves until `shutdown` completes, then stops gracefully (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let core = self.core;
        let timers = tokio::spawn(timer_loop(core.clone()));
        let housekeeping = tokio::spawn(housekeeping_loop(core.clone()));
        let keepalives = tokio::spawn(keepalive_loop(core.clone()));
        let in_flight = Arc::new(InFlight::default());
        let deliver = {
            let (core, in_flight) = (core.clone(), in_flight.clone());
            Arc::new(move |msg: Incoming| -> Option<transport::Handling> {
                // Shutting down: take no new messages.
                let guard = InFlight::enter(&in_flight)?;
                let core = core.clone();
                // Boxed: a task spawned for it then holds a pointer, and tokio's moves of
                // the task's stage (spawn, poll's end) copy that instead of the whole
                // future.
                Some(Box::pin(async move {
                    handle(&core, msg).await;
                    drop(guard);
                }))
            })
        };
        self.receivers.start(deliver);
        shutdown.await;
        in_flight.stop();
        tracing::info!(in_progress = in_flight.count(), "shutting down");
        let finished = tokio::time::timeout(core.config.shutdown_grace, in_flight.idle()).await;
        if finished.is_err() {
            tracing::warn!(
                abandoned = in_flight.count(),
                "requests still in progress at shutdown were abandoned"
            );
        }
        core.writer.close().await;
        core.calls.close().await;
        timers.abort();
        housekeeping.abort();
        keepalives.abort();
        let bindings = lock(&core.location).binding_count();
        core.store.close().await;
        tracing::info!(
            bindings,
            transactions = core.transaction_count(),
            proxied = core.proxied_count(),
            live_calls = core.calls.len(),
            "stopped; bindings saved"
        );
    }
}

/// One received message, start to end.
///
/// The request, ACK and stray-response handlings are boxed: a handling's future is as
/// large as the largest state of the futures it awaits, and is allocated and copied whole
/// whatever the message. Most messages (responses, retransmissions) end in `receive`; the
/// few kilobytes of a request's handling are allocated only for requests. Each box is
/// made in a statement of its own: a temporary lives to the end of its statement, so in
/// `Box::pin(f()).await` the unboxed `f()` would take room in this future's state too.
/// (An awaited local is the opposite case: `let r = f(); r.await` keeps both `r` and
/// the future moved out of it, so `receive` is awaited in place.)
async fn handle(core: &Core, msg: Incoming) {
    match core.receive(msg).await {
        Some(Work::Request {
            key,
            request,
            source,
        }) => {
            let handling = Box::pin(crate::policy::handle_request(core, key, request, source));
            handling.await;
        }
        Some(Work::Ack { ack, source }) => {
            let handling = Box::pin(crate::policy::route_ack(core, ack, source));
            handling.await;
        }
        Some(Work::StrayResponse(response)) => {
            let handling = Box::pin(crate::policy::forward_response(core, response));
            handling.await;
        }
        None => {}
    }
}

/// The messages being handled, so shutdown can stop taking new ones and wait for these.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    stopping: AtomicBool,
    /// Notified when the count drops to zero while stopping.
    idle: Notify,
}

/// One message in flight; dropping it (the handling ended or was abandoned) counts it out.
struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    /// Counts a message in, unless the server is stopping.
    fn enter(this: &Arc<InFlight>) -> Option<InFlightGuard> {
        if this.stopping.load(Ordering::Acquire) {
            return None;
        }
        this.count.fetch_add(1, Ordering::AcqRel);
        Some(InFlightGuard(this.clone()))
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Returns when no message is in flight.
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

async fn timer_loop(core: Arc<Core>) {
    let mut next = None;
    loop {
        // Published before sleeping: a timer armed after this and earlier than `next`
        // notifies (the permit is kept if we are not waiting yet, so nothing is lost).
        core.set_timer_deadline(next);
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                    () = core.timers_changed.notified() => {}
                }
            }
            None => core.timers_changed.notified().await,
        }
        // Awake: "no deadline" makes every timer armed from now on notify, so the next wait
        // returns at once instead of sleeping past one armed while we look.
        core.set_timer_deadline(None);
        next = core.handle_timeout().await.map(|at| core.timer_wake_up(at));
    }
}

async fn housekeeping_loop(core: Arc<Core>) {
    let mut tick = tokio::time::interval(core.config.purge_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; start just did this work
    loop {
        tick.tick().await;
        let now = unix_now();
        let gone = lock(&core.location).purge(now);
        for (aor, contact) in &gone {
            tracing::info!(%aor, %contact, "binding expired");
        }
        if let Err(e) = core
            .store
            .purge_expired(i64::try_from(now).unwrap_or(i64::MAX))
            .await
        {
            tracing::error!(error = %e, "purging expired bindings from the store failed");
        }
        if let Err(e) = core.domains.reload().await {
            tracing::error!(error = %e, "reloading the served domains failed");
        }
    }
}

/// Every `natping_interval`: a round of keepalives ([`crate::natping::Pinger::round`]),
/// sent along each binding's flow; bindings whose pings go unanswered are logged as
/// unreachable (calls skip them, `policy.rs`).
async fn keepalive_loop(core: Arc<Core>) {
    let config = core.config.nat.ping;
    if config.targets == crate::nat::PingTargets::None || config.interval.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let round = {
            let location = lock(&core.location);
            let env: &dyn crate::proxy::table::Env = &*core;
            lock(&core.pinger).round(
                location.iter(),
                unix_now(),
                &config,
                |protocol, addr| {
                    env.local_for(&crate::proxy::Hop { protocol, addr })
                        .map(|(_, l)| l)
                },
                || core.random(),
            )
        };
        for (aor, contact) in &round.unreachable {
            tracing::info!(%aor, %contact, failures = config.max_failures, "binding does not answer keepalives: unreachable");
        }
        for ping in round.pings {
            let local = ping
                .local
                .filter(|l| {
                    core.listens
                        .iter()
                        .any(|s| s.protocol == ping.protocol && s.addr == *l)
                })
                .or_else(|| {
                    let env: &dyn crate::proxy::table::Env = &*core;
                    env.local_for(&crate::proxy::Hop {
                        protocol: ping.protocol,
                        addr: ping.dest,
                    })
                    .map(|(socket, _)| socket)
                });
            if let Err(e) = core
                .transports
                .send(ping.protocol, local, ping.dest, ping.bytes)
                .await
            {
                tracing::debug!(dest = %ping.dest, error = %e, "keepalive not sent");
            }
        }
        let stats = lock(&core.pinger).stats();
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

/// The relay control of `settings`: the in-process relay started, or the NG nodes set up;
/// `None` when the policy is `never`.
fn start_relay(
    settings: &crate::config::RelaySettings,
) -> Result<Option<crate::media_relay::MediaRelay>, StartError> {
    use crate::config::RelayBackend;
    use crate::media_relay::{MediaRelay, RelayPolicy};
    if settings.policy == RelayPolicy::Never {
        return Ok(None);
    }
    let relay = match &settings.backend {
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
            if let Some(ip) = listen_ip {
                config.listen_ip = *ip;
            }
            let handle = relay::RelayHandle::start(config)?;
            tracing::info!(
                ports = %format!("{}-{}", ports.0, ports.1),
                policy = settings.policy.name(),
                "RTP relay in-process"
            );
            MediaRelay::new(
                relay::Controller::Local(handle),
                settings.policy,
                public_ip.is_none(),
            )
        }
        RelayBackend::Nodes(nodes) => {
            tracing::info!(
                nodes = nodes.len(),
                policy = settings.policy.name(),
                "RTP relay on NG nodes"
            );
            MediaRelay::new(
                relay::Controller::Nodes(relay::NgNodes::new(nodes.clone())),
                settings.policy,
                false,
            )
        }
    };
    Ok(Some(relay))
}
