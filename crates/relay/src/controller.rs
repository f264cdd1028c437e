//! [`Controller`]: what the SIP proxy calls, the same whether the relay runs in-process
//! ([`Controller::Local`]) or on remote NG nodes ([`Controller::Nodes`]: `itsp relay` or
//! rtpengine daemons).
//!
//! ```text
//! INVITE with SDP   → controller.offer(&request)   → forward the rewritten SDP
//! 18x/2xx with SDP  → controller.answer(&request)  → forward the rewritten SDP
//! BYE/CANCEL/failure→ controller.delete(call_id, from_tag) → CallCounters for the CDR
//! ```
//!
//! ## Several nodes ([`NgNodes`])
//!
//! A new call goes to a node drawn at random by weight among the nodes not marked down.
//! Each command is sent up to `attempts` times, waiting `timeout` for the answer each time;
//! a node that never answers is marked down for `retry_after` and the offer goes to the
//! next node (weighted again among those left). Later commands of the call (answer, query,
//! delete) go to the node that took its offer; if that node is gone they fail (the media
//! state lives there). One short-lived UDP socket per command keeps answers apart without
//! a dispatcher.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::bencode::Bencode;
use crate::error::RelayError;
use crate::ng::{client, command, frame};
use crate::node::RelayHandle;
use crate::request::{MediaRequest, Rewritten};
use crate::stats::CallCounters;

/// The relay as the proxy sees it.
#[derive(Debug)]
pub enum Controller {
    /// The relay runs in this process.
    Local(RelayHandle),
    /// The relay runs on NG nodes.
    Nodes(NgNodes),
}

impl Controller {
    /// Offer: the SDP of the `from_tag` party, rewritten to point at the relay.
    pub async fn offer(&self, request: &MediaRequest) -> Result<Rewritten, RelayError> {
        match self {
            Controller::Local(relay) => relay.offer(request),
            Controller::Nodes(nodes) => nodes.exchange(request, true).await,
        }
    }

    /// Answer: the SDP of the `to_tag` party, rewritten to point at the relay.
    pub async fn answer(&self, request: &MediaRequest) -> Result<Rewritten, RelayError> {
        match self {
            Controller::Local(relay) => relay.answer(request),
            Controller::Nodes(nodes) => nodes.exchange(request, false).await,
        }
    }

    /// Ends the call's relaying; answers its final counters.
    pub async fn delete(&self, call_id: &str, from_tag: &str) -> Result<CallCounters, RelayError> {
        match self {
            Controller::Local(relay) => relay.delete(call_id).map(|s| s.counters()),
            Controller::Nodes(nodes) => nodes.delete(call_id, from_tag).await,
        }
    }

    /// The calls the relay removed because no media came for its idle timeout (the
    /// in-process relay; NG nodes tell nobody, and answer none).
    pub fn take_idle(&self) -> Vec<String> {
        match self {
            Controller::Local(relay) => relay.take_idle(),
            Controller::Nodes(_) => Vec::new(),
        }
    }

    /// The parties' RTCP compounds the relay read since the last call (the in-process
    /// relay with [`crate::EngineConfig::keep_rtcp_reports`]; NG nodes answer none).
    pub fn take_rtcp_sightings(&self) -> Vec<crate::stats::RtcpSighting> {
        match self {
            Controller::Local(relay) => relay.take_rtcp_sightings(),
            Controller::Nodes(_) => Vec::new(),
        }
    }

    /// The call's counters so far.
    pub async fn query(&self, call_id: &str) -> Result<CallCounters, RelayError> {
        match self {
            Controller::Local(relay) => relay.query(call_id).map(|s| s.counters()),
            Controller::Nodes(nodes) => nodes.query(call_id).await,
        }
    }
}

/// One remote node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// Its NG address.
    pub address: SocketAddr,
    /// Relative share of new calls (0: only when every other node is down).
    pub weight: u32,
}

#[derive(Debug)]
struct NodeState {
    config: NodeConfig,
    down_until: Option<Instant>,
}

/// A set of NG relay nodes with weights and failover (see the module doc).
#[derive(Debug)]
pub struct NgNodes {
    nodes: Mutex<Vec<NodeState>>,
    calls: Mutex<HashMap<String, usize>>,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// Sends of one command to one node before it counts as not answering.
    pub attempts: u32,
    /// How long a node that did not answer is left alone.
    pub retry_after: Duration,
}

impl NgNodes {
    /// Nodes with the defaults: 1 s per attempt, 2 attempts, retried after 30 s.
    pub fn new(nodes: Vec<NodeConfig>) -> NgNodes {
        NgNodes {
            nodes: Mutex::new(
                nodes
                    .into_iter()
                    .map(|config| NodeState {
                        config,
                        down_until: None,
                    })
                    .collect(),
            ),
            calls: Mutex::new(HashMap::new()),
            timeout: Duration::from_secs(1),
            attempts: 2,
            retry_after: Duration::from_secs(30),
        }
    }

    /// Whether the node at `address` is marked down now.
    pub fn is_down(&self, address: SocketAddr) -> bool {
        let now = Instant::now();
        lock(&self.nodes)
            .iter()
            .any(|n| n.config.address == address && n.down_until.is_some_and(|t| t > now))
    }

    /// Sends `ping` to every node; answers those that said `pong`.
    pub async fn ping_all(&self) -> Vec<SocketAddr> {
        let addresses: Vec<SocketAddr> =
            lock(&self.nodes).iter().map(|n| n.config.address).collect();
        let mut alive = Vec::new();
        for address in addresses {
            if self
                .command(address, &client::simple("ping", None, None))
                .await
                .is_ok()
            {
                alive.push(address);
            }
        }
        alive
    }

    async fn exchange(
        &self,
        request: &MediaRequest,
        is_offer: bool,
    ) -> Result<Rewritten, RelayError> {
        let body = command::write_request(request, is_offer);
        let pinned = lock(&self.calls).get(&request.call_id).copied();
        if let Some(index) = pinned {
            let address = self.address(index).ok_or(RelayError::NoNodeAnswered)?;
            let reply = self.command(address, &body).await?;
            return client::read_rewritten(&reply);
        }
        if !is_offer {
            return Err(RelayError::UnknownCall);
        }
        let mut tried = Vec::new();
        while let Some(index) = self.pick(&tried) {
            tried.push(index);
            let Some(address) = self.address(index) else {
                break;
            };
            match self.command(address, &body).await {
                Ok(reply) => {
                    lock(&self.calls).insert(request.call_id.clone(), index);
                    return client::read_rewritten(&reply);
                }
                Err(RelayError::NoNodeAnswered) => {
                    tracing::warn!(node = %address, "relay node not answering; marked down");
                    self.mark_down(index);
                }
                Err(other) => return Err(other),
            }
        }
        Err(RelayError::NoNodeAnswered)
    }

    async fn delete(&self, call_id: &str, from_tag: &str) -> Result<CallCounters, RelayError> {
        let index = lock(&self.calls)
            .remove(call_id)
            .ok_or(RelayError::UnknownCall)?;
        let address = self.address(index).ok_or(RelayError::NoNodeAnswered)?;
        let reply = self
            .command(
                address,
                &client::simple("delete", Some(call_id), Some(from_tag)),
            )
            .await?;
        Ok(client::read_counters(&reply))
    }

    async fn query(&self, call_id: &str) -> Result<CallCounters, RelayError> {
        let index = lock(&self.calls)
            .get(call_id)
            .copied()
            .ok_or(RelayError::UnknownCall)?;
        let address = self.address(index).ok_or(RelayError::NoNodeAnswered)?;
        let reply = self
            .command(address, &client::simple("query", Some(call_id), None))
            .await?;
        Ok(client::read_counters(&reply))
    }

    fn address(&self, index: usize) -> Option<SocketAddr> {
        lock(&self.nodes).get(index).map(|n| n.config.address)
    }

    fn mark_down(&self, index: usize) {
        if let Some(n) = lock(&self.nodes).get_mut(index) {
            n.down_until = Some(Instant::now() + self.retry_after);
        }
    }

    /// A node by weight among those up and not yet tried; then those down (a node down for
    /// a while may be back); `None` when every node was tried.
    fn pick(&self, tried: &[usize]) -> Option<usize> {
        let now = Instant::now();
        let nodes = lock(&self.nodes);
        let candidates = |up: bool| -> Vec<(usize, u32)> {
            nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !tried.contains(i))
                .filter(|(_, n)| n.down_until.is_none_or(|t| t <= now) == up)
                .map(|(i, n)| (i, n.config.weight))
                .collect()
        };
        let up = candidates(true);
        let pool = if up.is_empty() { candidates(false) } else { up };
        weighted(&pool, fastrand::u64(..))
    }

    /// One command to one node: `attempts` sends, `timeout` each.
    async fn command(&self, node: SocketAddr, body: &Bencode) -> Result<Bencode, RelayError> {
        let local: SocketAddr = if node.is_ipv4() {
            ([0u8; 4], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(node).await?;
        let cookie = format!("{:016x}", fastrand::u64(..));
        let datagram = frame(cookie.as_bytes(), body);
        let mut buf = vec![0u8; 65536];
        for _ in 0..self.attempts.max(1) {
            socket.send(&datagram).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                    Err(_) => break,
                    // ICMP port unreachable: nobody listens there.
                    Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        let Some(answer) = buf.get(..n) else { break };
                        match client::read_reply(answer, cookie.as_bytes(), node) {
                            Err(RelayError::MalformedMessage(_)) => continue,
                            other => return other,
                        }
                    }
                }
            }
        }
        Err(RelayError::NoNodeAnswered)
    }
}

/// Picks from `(index, weight)` with probability proportional to weight, driven by `draw`;
/// all weights 0: the first.
fn weighted(pool: &[(usize, u32)], draw: u64) -> Option<usize> {
    let total: u64 = pool.iter().map(|&(_, w)| u64::from(w)).sum();
    if total == 0 {
        return pool.first().map(|&(i, _)| i);
    }
    let mut point = draw % total;
    for &(i, w) in pool {
        if point < u64::from(w) {
            return Some(i);
        }
        point -= u64::from(w);
    }
    pool.last().map(|&(i, _)| i)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_share_the_draws() {
        let pool = [(0, 1), (1, 3)];
        let picks: Vec<usize> = (0..4).filter_map(|d| weighted(&pool, d)).collect();
        assert_eq!(picks, [0, 1, 1, 1]);
        assert_eq!(weighted(&[(5, 0), (6, 0)], 9), Some(5));
        assert_eq!(weighted(&[], 1), None);
    }
}
