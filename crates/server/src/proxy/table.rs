//! The live response contexts of the proxy: one per forwarded request, found by its server
//! transaction, and each branch found by its client transaction. The table carries out
//! the contexts' [`Action`]s on the transaction layer: a branch's request becomes a client
//! transaction (§16.6 step 10), a CANCEL another (§9.1); a forwarded or local response for
//! the server transaction (§16.7 step 9) is queued as an [`Upstream`] for the engine, which
//! shows it to the `on_response` hooks before it goes out.
//!
//! Sans-IO like the contexts: the engine drains what to send afterwards.

use std::collections::BTreeMap;
use std::time::Instant;

use ahash::{HashMap, HashSet};
use sip::transaction::{Side, TransactionKey, TransactionLayer};
use sip::Message;

use super::context::{Action, BranchId, ContextConfig, ResponseContext};
use super::forward::{branch_id, build_branch, BranchSpec, LocalAddr};
use super::{Forward, Hop};
use crate::engine::io::{Route, Source};

/// What the table needs from the engine around it.
pub(crate) trait Env {
    /// Our address toward `hop` (Via sent-by, Record-Route) and the local socket to send
    /// from; `None` when no socket of that transport is open.
    fn local_for(&mut self, hop: &Hop) -> Option<(std::net::SocketAddr, LocalAddr)>;
    /// A number unique to this run (branch IDs).
    fn unique(&mut self) -> u64;
}

/// The transaction layer, where each transaction's messages go, and the engine around.
pub(crate) struct Layer<'a> {
    pub(crate) layer: &'a mut TransactionLayer,
    pub(crate) routes: &'a mut HashMap<TransactionKey, Route>,
    pub(crate) env: &'a mut dyn Env,
}

/// A response for a server transaction, queued for the engine.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// The server transaction.
    pub(crate) server: TransactionKey,
    /// What to send.
    pub(crate) response: UpstreamResponse,
    /// The transaction is an accounted call set-up ([`NewContext::accounted`]).
    pub(crate) accounted: bool,
    /// The call set-up failed on every branch and the proxy is done with it: the
    /// `on_failure` hooks may forward it elsewhere instead of sending this response.
    pub(crate) failed: Option<Box<Failed>>,
}

/// A call set-up whose branches all failed (no CANCEL from the caller, no branch still
/// pending): what the failure phase needs to forward it again on the same server
/// transaction (the seed's `failure_route`).
#[derive(Debug)]
pub(crate) struct Failed {
    /// How it was forwarded; its targets are spent.
    pub(crate) forward: Forward,
    /// Where it came from.
    pub(crate) source: Source,
}

/// A response received from a branch, or one to make here.
// By value, as in `Action`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum UpstreamResponse {
    /// Received on a branch, our Via removed.
    Forward(Message),
    /// Made here with this code and reason (`None`: the standard phrase).
    Reply {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: Option<String>,
    },
}

#[derive(Debug)]
struct Branch {
    key: TransactionKey,
    route: Route,
}

#[derive(Debug)]
struct Entry {
    context: ResponseContext,
    forward: Forward,
    /// Our address on the side the request came from (the second Record-Route when the
    /// transport changes).
    inbound: LocalAddr,
    /// Where the request came from.
    source: Source,
    branches: Vec<Option<Branch>>,
    /// The deadline under which this entry is filed in [`ProxyTable::timers`].
    scheduled: Option<(Instant, u64)>,
    /// A call set-up whose outcome is accounted ([`NewContext::accounted`]).
    accounted: bool,
}

/// What a new response context needs besides its server transaction.
#[derive(Debug)]
pub(crate) struct NewContext {
    /// Where and how to forward.
    pub(crate) forward: Forward,
    /// Our address on the side the request came from.
    pub(crate) inbound: LocalAddr,
    /// Where the request came from.
    pub(crate) source: Source,
    /// Timer C and friends.
    pub(crate) config: ContextConfig,
    /// Whether the call set-up's outcome is accounted (record-routed initial INVITE): its
    /// final response tells the `on_dialog` hooks.
    pub(crate) accounted: bool,
}

/// A client transaction of the proxy: which context and branch it belongs to.
#[derive(Debug, Clone)]
struct ClientRef {
    server: TransactionKey,
    branch: BranchId,
    /// The CANCEL of that branch (its responses are not the context's business).
    cancel: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct ProxyTable {
    entries: HashMap<TransactionKey, Entry>,
    clients: HashMap<TransactionKey, ClientRef>,
    timers: BTreeMap<(Instant, u64), TransactionKey>,
    timer_seq: u64,
    /// INVITE server transactions cancelled before the policy decided to forward them
    /// (the CANCEL overtook a database lookup): answered 487 instead of forwarded.
    early_cancels: HashSet<TransactionKey>,
    /// Responses for server transactions, in the order the contexts made them.
    upstream: Vec<Upstream>,
}

impl ProxyTable {
    /// Number of live contexts.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Swaps the responses queued for server transactions since the last call with
    /// `empty` (whose capacity the table keeps using: no allocation per response).
    pub(crate) fn swap_upstream(&mut self, empty: &mut Vec<Upstream>) {
        std::mem::swap(&mut self.upstream, empty);
    }

    /// When the next context deadline (Timer C, CANCEL wait) is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    /// Starts forwarding the request of server transaction `server`.
    pub(crate) fn start(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        server: TransactionKey,
        new: NewContext,
    ) {
        let NewContext {
            forward,
            inbound,
            source,
            config,
            accounted,
        } = new;
        if self.early_cancels.remove(&server) {
            self.upstream.push(Upstream {
                server,
                response: UpstreamResponse::Reply {
                    code: 487,
                    reason: None,
                },
                accounted,
                failed: None,
            });
            return;
        }
        let targets: Vec<(u16, usize)> = forward
            .targets
            .iter()
            .map(|t| (t.q, t.hops.len()))
            .collect();
        let (context, actions) =
            ResponseContext::with_fallbacks(config, &targets, forward.fallbacks.clone(), now);
        self.entries.insert(
            server.clone(),
            Entry {
                context,
                forward,
                inbound,
                source,
                branches: Vec::new(),
                scheduled: None,
                accounted,
            },
        );
        self.run(now, tx, &server, actions);
    }

    /// A response for client transaction `key`. Returns it back when the key is not one of
    /// the proxy's (or its context is gone): the caller forwards it statelessly.
    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        key: &TransactionKey,
        response: Message,
    ) -> Option<Message> {
        let Some(client) = self.clients.get(key).cloned() else {
            return Some(response);
        };
        if client.cancel {
            return None; // 200 (or 481) for our CANCEL: nothing to do.
        }
        let Some(entry) = self.entries.get_mut(&client.server) else {
            return Some(response);
        };
        let actions = entry.context.on_response(now, client.branch, response);
        self.run(now, tx, &client.server, actions);
        None
    }

    /// The upstream client sent CANCEL for server transaction `server` (§16.10). Returns
    /// whether a context was found; if not, the request is answered 487 should the policy
    /// still decide to forward it.
    pub(crate) fn on_cancel(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        server: &TransactionKey,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(server) else {
            self.early_cancels.insert(server.clone());
            return false;
        };
        let actions = entry.context.cancel(now);
        self.run(now, tx, server, actions);
        true
    }

    /// A client transaction failed: timed out (408) or could not be sent (503).
    pub(crate) fn on_client_failed(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        key: &TransactionKey,
        code: u16,
    ) {
        let Some(client) = self.clients.get(key).cloned() else {
            return;
        };
        if client.cancel {
            return;
        }
        let Some(entry) = self.entries.get_mut(&client.server) else {
            return;
        };
        let actions = entry.context.on_branch_failed(now, client.branch, code);
        self.run(now, tx, &client.server, actions);
    }

    /// A transaction ended: forget it.
    pub(crate) fn on_terminated(&mut self, key: &TransactionKey) {
        if key.side() == Side::Client {
            self.clients.remove(key);
            return;
        }
        self.early_cancels.remove(key);
        if let Some(entry) = self.entries.get(key) {
            // The server transaction is gone; nothing more can go upstream.
            if entry.context.final_sent() {
                self.remove(key);
            }
        }
    }

    /// Fires the contexts' deadlines that are due.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Layer<'_>) {
        while let Some((&(at, seq), _)) = self.timers.iter().next() {
            if at > now {
                break;
            }
            let Some(server) = self.timers.remove(&(at, seq)) else {
                break;
            };
            let Some(entry) = self.entries.get_mut(&server) else {
                continue;
            };
            entry.scheduled = None;
            let actions = entry.context.handle_timeout(now);
            self.run(now, tx, &server, actions);
        }
    }

    fn remove(&mut self, server: &TransactionKey) -> Option<Entry> {
        let entry = self.entries.remove(server)?;
        if let Some(at) = entry.scheduled {
            self.timers.remove(&at);
        }
        Some(entry)
    }

    /// When the context of a call set-up just finished with a failure the caller did not
    /// ask for (no CANCEL), hands its forward to the failure phase with that response.
    fn offer_failure(&mut self, server: &TransactionKey, entry: Entry) {
        if !entry.context.is_invite() || entry.context.cancelled() {
            return;
        }
        let Some(last) = self.upstream.iter_mut().rev().find(|u| &u.server == server) else {
            return;
        };
        let failure = match &last.response {
            UpstreamResponse::Forward(m) => m.status().is_some_and(|c| c >= 300),
            UpstreamResponse::Reply { code, .. } => *code >= 300,
        };
        if failure {
            last.failed = Some(Box::new(Failed {
                forward: entry.forward,
                source: entry.source,
            }));
        }
    }

    /// Carries out a context's actions, then files its next deadline or forgets it.
    fn run(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        server: &TransactionKey,
        actions: Vec<Action>,
    ) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Start {
                    branch,
                    target,
                    hop,
                } => self.start_branch(now, tx, server, branch, target, hop),
                Action::Cancel(branch) => {
                    self.cancel_branch(now, tx, server, branch);
                    Vec::new()
                }
                Action::Forward(response) => {
                    self.queue_upstream(server, UpstreamResponse::Forward(response));
                    Vec::new()
                }
                Action::Reply { code, reason } => {
                    self.queue_upstream(server, UpstreamResponse::Reply { code, reason });
                    Vec::new()
                }
            };
            queue.extend(more);
        }
        let Some(entry) = self.entries.get_mut(server) else {
            return;
        };
        if entry.context.is_finished() {
            if let Some(entry) = self.remove(server) {
                self.offer_failure(server, entry);
            }
            return;
        }
        let next = entry.context.poll_timeout();
        if entry.scheduled.map(|(at, _)| at) != next {
            if let Some(old) = entry.scheduled.take() {
                self.timers.remove(&old);
            }
            if let Some(at) = next {
                self.timer_seq += 1;
                let slot = (at, self.timer_seq);
                entry.scheduled = Some(slot);
                self.timers.insert(slot, server.clone());
            }
        }
    }

    fn queue_upstream(&mut self, server: &TransactionKey, response: UpstreamResponse) {
        let accounted = self.entries.get(server).is_some_and(|e| e.accounted);
        self.upstream.push(Upstream {
            server: server.clone(),
            response,
            accounted,
            failed: None,
        });
    }

    /// §16.6: builds the branch's request and hands it to a new client transaction.
    /// A failure to build or to find a socket counts as a 503 on that branch (§16.9).
    fn start_branch(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        server: &TransactionKey,
        branch: BranchId,
        target: usize,
        hop: usize,
    ) -> Vec<Action> {
        let Some(entry) = self.entries.get_mut(server) else {
            return Vec::new();
        };
        let started = (|| {
            let received = tx.layer.request(server)?;
            let t = entry.forward.targets.get(target)?;
            let next_hop = *t.hops.get(hop)?;
            let (socket, outbound) = tx.env.local_for(&next_hop)?;
            let mut record_route = Vec::new();
            if entry.forward.record_route {
                record_route.push(outbound.record_route());
                // Double Record-Route when the two sides differ (RFC 5658 §4): each UA
                // routes to the entry on its side.
                if entry.inbound != outbound {
                    record_route.push(entry.inbound.record_route());
                }
            }
            let via = outbound.via(&branch_id(&entry.forward.loop_hash, tx.env.unique()));
            let request = build_branch(
                received,
                &BranchSpec {
                    request_uri: t
                        .hop_request_uris
                        .get(hop)
                        .or(t.request_uri.as_ref())
                        .map(String::as_str),
                    routes_before: &t.routes_before,
                    routes: &entry.forward.routes,
                    record_route: &record_route,
                    consumed_realm: entry.forward.consumed_realm.as_deref(),
                    via: &via,
                    rewrites: Some(&entry.forward.rewrites),
                },
            )
            .map_err(|e| tracing::warn!(error = %e, "cannot build the forwarded request"))
            .ok()?;
            let route = Route {
                protocol: next_hop.protocol,
                local: socket,
                dest: next_hop.addr,
            };
            let reliable = next_hop.protocol != transport::Protocol::Udp;
            let key = tx
                .layer
                .send_request(now, request, reliable)
                .map_err(|e| tracing::warn!(error = %e, "cannot start a client transaction"))
                .ok()?;
            Some(Branch { key, route })
        })();
        let Some(started) = started else {
            tracing::info!(%server, target, hop, "branch not started");
            return entry.context.on_branch_failed(now, branch, 503);
        };
        tracing::debug!(%server, key = %started.key, dest = %started.route.dest, "branch started");
        tx.routes.insert(started.key.clone(), started.route);
        self.clients.insert(
            started.key.clone(),
            ClientRef {
                server: server.clone(),
                branch,
                cancel: false,
            },
        );
        if entry.branches.len() <= branch.0 {
            entry.branches.resize_with(branch.0 + 1, || None);
        }
        entry.branches[branch.0] = Some(started);
        Vec::new()
    }

    /// §9.1: a CANCEL on the branch's path, in a client transaction of its own.
    fn cancel_branch(
        &mut self,
        now: Instant,
        tx: &mut Layer<'_>,
        server: &TransactionKey,
        branch: BranchId,
    ) {
        let Some(Some(b)) = self
            .entries
            .get(server)
            .and_then(|e| e.branches.get(branch.0))
        else {
            return;
        };
        let Some(request) = tx.layer.request(&b.key) else {
            return;
        };
        let cancel = match sip::build::cancel_for(request) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a CANCEL");
                return;
            }
        };
        let reliable = b.route.protocol != transport::Protocol::Udp;
        let route = b.route;
        match tx.layer.send_request(now, cancel, reliable) {
            Ok(key) => {
                tx.routes.insert(key.clone(), route);
                self.clients.insert(
                    key,
                    ClientRef {
                        server: server.clone(),
                        branch,
                        cancel: true,
                    },
                );
            }
            Err(e) => tracing::info!(error = %e, "CANCEL not sent"),
        }
    }
}
