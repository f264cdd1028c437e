//! [`Engine`], the sans-IO relay: the session table (offer, answer, delete, query, list),
//! the per-packet decision ([`Engine::forward`]) and idle cleanup
//! ([`Engine::handle_timeout`], [`Engine::poll_timeout`]). No sockets and no clock: the
//! caller passes the time in, opens the ports the engine picks (the `open` callback of
//! offer and answer) and closes those it gives back ([`Engine::take_released`]).
//!
//! Calls are found by Call-ID; the tags say which party an offer or answer is about (see
//! [`MediaRequest`]). A repeated offer (a retransmitted INVITE) finds the same streams and
//! so gets the same ports and the same SDP back; a re-offer (re-INVITE, hold, resume) keeps
//! the ports of every `m=` line it had and updates the announced addresses.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sdp::SessionDescription;

use crate::error::RelayError;
use crate::ports::{PortPool, DEFAULT_PORTS};
use crate::request::{MediaRequest, Rewritten};
use crate::rewrite::{announced, rewrite};
use crate::session::{side_of, Call, Component, Side, Stream, RTP};
use crate::srtp::{plan_stream, Out, StreamPlan};
use crate::stats::{
    CallStats, Heard, PartyReport, PartyStats, PayloadMap, RelayTotals, RtcpSighting, SideStats,
};
use crate::webrtc::{Certificate, LegOut};

/// Configuration of an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The address written into SDP: where parties send media to reach the relay.
    pub advertised: IpAddr,
    /// First port of the RTP/RTCP range (even).
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
    /// Calls without signalling or media for this long are removed (default 60 s).
    pub idle_timeout: Duration,
    /// A latched source silent for this long may be replaced by a new one (default 3 s; see
    /// [`crate::session`]).
    pub relatch_after: Duration,
    /// Keep every RTCP compound read for [`Engine::take_rtcp_sightings`] (a live export;
    /// default off: an unread queue would only grow to its bound).
    pub keep_rtcp_reports: bool,
}

/// RTCP sightings kept at most between two [`Engine::take_rtcp_sightings`]; later ones
/// are dropped.
pub const MAX_RTCP_SIGHTINGS: usize = 4096;

impl EngineConfig {
    /// The defaults (ports 30000-40000, 60 s idle timeout, 3 s re-latch) advertising
    /// `advertised`.
    pub fn new(advertised: IpAddr) -> EngineConfig {
        EngineConfig {
            advertised,
            port_min: DEFAULT_PORTS.0,
            port_max: DEFAULT_PORTS.1,
            idle_timeout: Duration::from_secs(60),
            relatch_after: Duration::from_secs(3),
            keep_rtcp_reports: false,
        }
    }
}

/// What to do with a datagram that arrived on a relay port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Send it from relay port `from_port` to `to`.
    Send {
        /// The relay port to send from (the other side's RTP or RTCP port).
        from_port: u16,
        /// The other party's latched or announced address.
        to: SocketAddr,
    },
    /// Send [`Engine::rewritten`] instead of the datagram, from `from_port` to `to`: the
    /// stream is bridged between SRTP and RTP ([`crate::srtp`]) and the packet was
    /// unprotected, protected, or both.
    SendRewritten {
        /// The relay port to send from.
        from_port: u16,
        /// The other party's latched or announced address.
        to: SocketAddr,
    },
    /// The datagram went to a WebRTC leg of the stream ([`crate::webrtc`]) or was made
    /// into one for it: send what [`Engine::take_transmits`] gives (possibly nothing).
    Queued,
    /// Drop it.
    Drop(DropReason),
}

/// A datagram the engine made (a WebRTC leg's STUN, DTLS and SRTP, or the plain RTP of a
/// browser for the other party), to send from relay port `from_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The relay port to send from.
    pub from_port: u16,
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Datagrams kept at most for [`Engine::take_transmits`]; later ones are dropped.
pub const MAX_TRANSMITS: usize = 4096;

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No call owns the port (a late packet of an ended call).
    UnknownPort,
    /// Not from the latched source (see [`crate::session`]).
    NotLatchedSource,
    /// The other party has no address yet (no answer) or is on hold with `0.0.0.0`.
    NoDestination,
    /// SRTP refused it: authentication failed, a replay, or a leg without keys yet
    /// (counted in the leg's [`crate::srtp::SrtpDrops`]).
    Srtp,
    /// RTCP of a plain party toward a WebRTC leg: read, not passed on (str0m reports to the
    /// browser itself).
    RtcpTerminated,
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    slot: u32,
    stream: u16,
    side: u8,
}

/// The relay's state: calls, ports, counters.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    pool: PortPool,
    calls: Vec<Option<Call>>,
    free_slots: Vec<u32>,
    by_call_id: HashMap<String, u32>,
    /// By port pair index: who owns the pair.
    owners: Vec<Option<Owner>>,
    released: Vec<u16>,
    /// Calls created, and the counters of the calls removed (for [`Engine::totals`]).
    ended: RelayTotals,
    /// RTCP compounds read, when kept ([`EngineConfig::keep_rtcp_reports`]).
    sightings: Vec<RtcpSighting>,
    /// The last packet rewritten by [`Engine::forward`] ([`Forward::SendRewritten`]).
    rewritten: Vec<u8>,
    /// The DTLS certificate of the WebRTC legs, made on first use.
    certificate: Certificate,
    /// Datagrams made by WebRTC legs, for [`Engine::take_transmits`].
    transmits: Vec<Transmit>,
    /// Calls whose WebRTC leg failed and when, removed at the next
    /// [`Engine::handle_timeout`].
    failed: Vec<(String, Instant)>,
    /// Scratch for what a leg gives out.
    leg_out: Vec<LegOut>,
}

impl Engine {
    /// An empty relay. Fails when the port range is unusable.
    pub fn new(config: EngineConfig) -> Result<Engine, RelayError> {
        let pool = PortPool::new(config.port_min, config.port_max)?;
        let owners = vec![None; pool.capacity() + 1];
        Ok(Engine {
            config,
            pool,
            calls: Vec::new(),
            free_slots: Vec::new(),
            by_call_id: HashMap::new(),
            owners,
            released: Vec::new(),
            ended: RelayTotals::default(),
            sightings: Vec::new(),
            rewritten: Vec::new(),
            certificate: Certificate::default(),
            transmits: Vec::new(),
            failed: Vec::new(),
            leg_out: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Calls in the table.
    pub fn call_count(&self) -> usize {
        self.by_call_id.len()
    }

    /// Totals since the relay started (metrics): calls created, and the packets, bytes,
    /// errors and loss of the calls removed plus those of the live ones. Costs a walk over
    /// the live calls; the per-packet path pays nothing for it.
    pub fn totals(&self) -> RelayTotals {
        let mut totals = self.ended;
        for stream in self
            .calls
            .iter()
            .flatten()
            .flat_map(|c| c.streams.iter().flatten())
        {
            for side in &stream.sides {
                totals.add_side(&side.counters, side.loss.lost());
            }
        }
        totals
    }

    /// Free port pairs.
    pub fn free_port_pairs(&self) -> usize {
        self.pool.free_pairs()
    }

    /// An offer: the SDP of the `from_tag` party, rewritten for the other. Creates the call
    /// on the first offer. `open(port)` must open relay ports `port` and `port + 1` (the I/O
    /// shell binds its sockets; `false` when they are busy, and another pair is tried).
    pub fn offer(
        &mut self,
        now: Instant,
        request: &MediaRequest,
        open: &mut dyn FnMut(u16) -> bool,
    ) -> Result<Rewritten, RelayError> {
        self.exchange(now, request, true, open)
    }

    /// An answer: the SDP of the `to_tag` party, rewritten for the offerer. The call must
    /// exist.
    pub fn answer(
        &mut self,
        now: Instant,
        request: &MediaRequest,
        open: &mut dyn FnMut(u16) -> bool,
    ) -> Result<Rewritten, RelayError> {
        self.exchange(now, request, false, open)
    }

    fn exchange(
        &mut self,
        now: Instant,
        request: &MediaRequest,
        is_offer: bool,
        open: &mut dyn FnMut(u16) -> bool,
    ) -> Result<Rewritten, RelayError> {
        let mut sdp = SessionDescription::from_bytes(&request.sdp)?;
        let existing = self.by_call_id.get(&request.call_id).copied();
        let current = existing
            .and_then(|s| self.calls.get(s as usize))
            .and_then(Option::as_ref);
        // Everything that can fail is decided before the call changes: the tags, the SRTP
        // of each stream, the ports.
        let mut tags = match current {
            Some(call) => call.tags.clone(),
            None if is_offer => [Some(request.from_tag.clone()), None],
            None => return Err(RelayError::UnknownCall),
        };
        let owner = owner_side(&mut tags, request, is_offer)?;
        let other = 1 - owner;
        let stream_at = |i: usize| {
            current
                .and_then(|c| c.streams.get(i))
                .and_then(Option::as_ref)
        };
        // The WebRTC gateway takes the first audio stream when either leg speaks WebRTC;
        // the SDP's other streams are then refused.
        let gateway = match crate::webrtc::sdp::audio_stream(&sdp) {
            Some(i) => crate::webrtc::plan(
                &sdp,
                stream_at(i).and_then(|s| s.webrtc.as_ref()),
                owner,
                is_offer,
                &request.flags,
            )?,
            None => None,
        };
        let cert = match &gateway {
            Some(_) => Some(self.certificate.get()?.clone()),
            None => None,
        };
        let carried = |i: usize| gateway.as_ref().is_none_or(|g| g.index == i);
        let mut plans = Vec::with_capacity(sdp.media().len());
        for (i, media) in sdp.media().iter().enumerate() {
            if gateway.is_some() {
                plans.push(StreamPlan::Transparent);
                continue;
            }
            let old = stream_at(i).and_then(|s| s.srtp.as_ref());
            plans.push(plan_stream(i, media, old, owner, is_offer, &request.flags)?);
        }

        // Ports for the streams this SDP adds, all or nothing.
        let new_streams: Vec<usize> = sdp
            .media()
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                m.port() != 0
                    && carried(*i)
                    && current
                        .and_then(|c| c.streams.get(*i))
                        .is_none_or(Option::is_none)
            })
            .map(|(i, _)| i)
            .collect();
        let mut fresh = Vec::with_capacity(new_streams.len() * 2);
        for _ in 0..new_streams.len() * 2 {
            match self.pool.allocate(open) {
                Ok(port) => fresh.push(port),
                Err(e) => {
                    fresh.iter().for_each(|&p| self.release_port(p));
                    return Err(e);
                }
            }
        }
        let slot = match existing {
            Some(slot) => slot,
            None => self.free_slots.pop().unwrap_or(self.calls.len() as u32),
        };
        let taken = existing
            .and_then(|s| self.calls.get_mut(s as usize))
            .and_then(Option::take);
        let mut call = taken.unwrap_or_else(|| Call {
            call_id: request.call_id.clone(),
            tags: [None, None],
            streams: Vec::new(),
            created: now,
            last_signal: now,
            last_media: None,
        });
        call.tags = tags;

        let advertise = request.flags.advertise.unwrap_or(self.config.advertised);
        let mut fresh = fresh.into_iter();
        let mut relay_ports = Vec::with_capacity(sdp.media().len());
        let mut plans = plans.into_iter();
        let mut edits = Vec::with_capacity(sdp.media().len());
        let mut gateway_ports = None;
        let mut gateway_error = None;
        for (i, media) in sdp.media().iter().enumerate() {
            let plan = plans.next().unwrap_or(StreamPlan::Transparent);
            if media.port() == 0 || !carried(i) {
                relay_ports.push(None);
                edits.push(StreamPlan::Transparent);
                continue;
            }
            if call.streams.len() <= i {
                call.streams.resize_with(i + 1, || None);
            }
            let Some(entry) = call.streams.get_mut(i) else {
                relay_ports.push(None);
                edits.push(StreamPlan::Transparent);
                continue;
            };
            if entry.is_none() {
                let (Some(a), Some(b)) = (fresh.next(), fresh.next()) else {
                    relay_ports.push(None);
                    edits.push(StreamPlan::Transparent);
                    continue;
                };
                *entry = Some(Stream {
                    media_type: String::new(),
                    protocol: String::new(),
                    sides: [Side::new(a), Side::new(b)],
                    payloads: PayloadMap::default(),
                    read_rtcp: false,
                    srtp: None,
                    webrtc: None,
                });
                for (side, port) in [(0u8, a), (1, b)] {
                    if let Some(o) = self
                        .pool
                        .pair_index(port)
                        .and_then(|i| self.owners.get_mut(i))
                    {
                        *o = Some(Owner {
                            slot,
                            stream: i as u16,
                            side,
                        });
                    }
                }
            }
            let Some(stream) = entry.as_mut() else {
                relay_ports.push(None);
                edits.push(StreamPlan::Transparent);
                continue;
            };
            media.media_type().clone_into(&mut stream.media_type);
            media.proto().clone_into(&mut stream.protocol);
            let mut plan = plan;
            plan.apply(&mut stream.srtp);
            edits.push(plan);
            stream.read_rtcp = stream.srtp.is_some() || !stream.protocol.contains("SAVP");
            stream.payloads.update(media);
            let (rtp, rtcp) = announced(&sdp, media, &request.flags, request.received_from);
            let side = &mut stream.sides[owner];
            side.symmetric = request.flags.symmetric;
            side.announce(rtp, rtcp);
            stream.sides[other].advertised = Some(advertise);
            relay_ports.push(Some(stream.sides[other].port));
            if let (Some(g), Some(cert)) = (gateway.as_ref().filter(|g| g.index == i), &cert) {
                let ports = [stream.sides[0].port, stream.sides[1].port];
                if let Err(e) = g.apply(&mut stream.webrtc, ports, advertise, now, cert) {
                    gateway_error = Some(e);
                }
                stream.read_rtcp = true;
                gateway_ports = Some(stream.sides[other].port);
            }
        }
        rewrite(&mut sdp, &relay_ports, advertise, &request.flags);
        if let (Some(g), Some(port)) = (&gateway, gateway_ports) {
            let state = call
                .streams
                .get(g.index)
                .and_then(Option::as_ref)
                .and_then(|s| s.webrtc.as_ref());
            if let Err(e) = g.edit(state, &mut sdp, advertise, port) {
                tracing::warn!(call_id = %request.call_id, error = %e, "WebRTC edit of the SDP failed");
            }
        }
        for (media, edit) in sdp.media_mut().iter_mut().zip(&edits) {
            // The plan's own values: a proto and lines that came out of a parsed SDP.
            if let Err(e) = edit.edit(media) {
                tracing::warn!(call_id = %request.call_id, error = %e, "SRTP edit of the SDP failed");
            }
        }
        call.last_signal = now;

        let index = slot as usize;
        if self.calls.len() <= index {
            self.calls.resize_with(index + 1, || None);
        }
        self.calls[index] = Some(call);
        if existing.is_none() {
            self.ended.sessions += 1;
        }
        self.by_call_id.insert(request.call_id.clone(), slot);
        if let Some(e) = gateway_error {
            return Err(e.into());
        }
        Ok(Rewritten {
            sdp: sdp.to_bytes(),
            warnings: Vec::new(),
        })
    }

    /// Removes a call, frees its ports and answers its final counters.
    pub fn delete(&mut self, call_id: &str) -> Result<CallStats, RelayError> {
        let slot = self
            .by_call_id
            .remove(call_id)
            .ok_or(RelayError::UnknownCall)?;
        let call = self
            .calls
            .get_mut(slot as usize)
            .and_then(Option::take)
            .ok_or(RelayError::UnknownCall)?;
        let stats = snapshot(&call, self.config.advertised);
        self.ended.add_call(&stats);
        for port in call.ports() {
            self.release_port(port);
        }
        self.free_slots.push(slot);
        Ok(stats)
    }

    /// The counters and addresses of a call.
    pub fn query(&self, call_id: &str) -> Result<CallStats, RelayError> {
        self.call(call_id)
            .map(|call| snapshot(call, self.config.advertised))
            .ok_or(RelayError::UnknownCall)
    }

    /// The Call-IDs in the table.
    pub fn list(&self) -> Vec<String> {
        self.by_call_id.keys().cloned().collect()
    }

    fn call(&self, call_id: &str) -> Option<&Call> {
        let slot = *self.by_call_id.get(call_id)?;
        self.calls.get(slot as usize)?.as_ref()
    }

    /// The hot path: a datagram of `len` bytes arrived on relay port `local_port` from
    /// `source`. Counts it, latches, measures RTP loss and says where it goes.
    pub fn forward(
        &mut self,
        now: Instant,
        local_port: u16,
        source: SocketAddr,
        packet: &[u8],
    ) -> Forward {
        let Some(owner) = self
            .pool
            .pair_index(local_port)
            .and_then(|i| self.owners.get(i).copied().flatten())
        else {
            return Forward::Drop(DropReason::UnknownPort);
        };
        let Some(call) = self
            .calls
            .get_mut(owner.slot as usize)
            .and_then(Option::as_mut)
        else {
            return Forward::Drop(DropReason::UnknownPort);
        };
        call.last_media = Some(now);
        let Some(stream) = call
            .streams
            .get_mut(usize::from(owner.stream))
            .and_then(Option::as_mut)
        else {
            return Forward::Drop(DropReason::UnknownPort);
        };
        let component: Component = usize::from(local_port & 1);
        if let Some(side) = stream.sides.get_mut(usize::from(owner.side)) {
            let counters = &mut side.counters[component];
            counters.packets += 1;
            counters.bytes += packet.len() as u64;
            counters.last_packet = Some(now);
        }
        if stream.webrtc.is_some() {
            let mut io = GatewayIo {
                transmits: &mut self.transmits,
                failed: &mut self.failed,
                out: &mut self.leg_out,
                sightings: self.config.keep_rtcp_reports.then_some(&mut self.sightings),
            };
            let arrival = Arrival {
                now,
                source,
                local_port,
                advertised: self.config.advertised,
            };
            return forward_gateway(
                &mut io,
                &call.call_id,
                stream,
                usize::from(owner.side),
                &arrival,
                packet,
                self.config.relatch_after,
            );
        }
        let [a, b] = &mut stream.sides;
        let (from, to) = if owner.side == 0 { (a, b) } else { (b, a) };
        if !from.accept(component, source, now, self.config.relatch_after) {
            from.counters[component].errors += 1;
            return Forward::Drop(DropReason::NotLatchedSource);
        }
        let rtcp = component != RTP || is_muxed_rtcp(packet);
        let (clear, out) = match stream.srtp.as_mut() {
            None => (Cow::Borrowed(packet), Out::Same),
            Some(bridge) => match bridge.translate(usize::from(owner.side), rtcp, packet) {
                Some(translated) => translated,
                None => {
                    from.counters[component].errors += 1;
                    return Forward::Drop(DropReason::Srtp);
                }
            },
        };
        if !rtcp {
            if let Some(payload_type) = from.loss.count(now, &clear) {
                from.loss.learn_payload_type(payload_type, &stream.payloads);
            }
        } else if stream.read_rtcp {
            let keep = self.config.keep_rtcp_reports.then_some(&mut self.sightings);
            let arrival = Arrival {
                now,
                source,
                local_port,
                advertised: self.config.advertised,
            };
            read_rtcp(&arrival, &clear, from, to, &call.call_id, keep);
        }
        let Some(to_address) = to.destination(component) else {
            from.counters[component].errors += 1;
            return Forward::Drop(DropReason::NoDestination);
        };
        let from_port = to.port + component as u16;
        match out {
            Out::Same => Forward::Send {
                from_port,
                to: to_address,
            },
            Out::Clear => {
                self.rewritten = clear.into_owned();
                Forward::SendRewritten {
                    from_port,
                    to: to_address,
                }
            }
            Out::Protected(bytes) => {
                self.rewritten = bytes;
                Forward::SendRewritten {
                    from_port,
                    to: to_address,
                }
            }
        }
    }

    /// The bytes to send for the last [`Forward::SendRewritten`].
    pub fn rewritten(&self) -> &[u8] {
        &self.rewritten
    }

    /// Counts an error on the side whose packet arrived on `local_port` (the send the
    /// engine asked for failed).
    pub fn count_send_error(&mut self, local_port: u16) {
        let Some(owner) = self
            .pool
            .pair_index(local_port)
            .and_then(|i| self.owners.get(i).copied().flatten())
        else {
            return;
        };
        let side = self
            .calls
            .get_mut(owner.slot as usize)
            .and_then(Option::as_mut)
            .and_then(|c| c.streams.get_mut(usize::from(owner.stream)))
            .and_then(Option::as_mut)
            .and_then(|s| s.sides.get_mut(usize::from(owner.side)));
        if let Some(side) = side {
            side.counters[usize::from(local_port & 1)].errors += 1;
        }
    }

    /// Removes the calls idle (no signalling, no media) for the idle timeout and those
    /// whose WebRTC leg failed ([`crate::webrtc`]); returns their Call-IDs and final
    /// counters. Also runs the WebRTC legs' timers ([`Engine::handle_webrtc_timeout`]).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<CallStats> {
        self.handle_webrtc_timeout(now);
        let idle = self.config.idle_timeout;
        let mut expired: Vec<String> = std::mem::take(&mut self.failed)
            .into_iter()
            .map(|(call_id, _)| call_id)
            .collect();
        expired.extend(
            self.calls
                .iter()
                .flatten()
                .filter(|c| now.saturating_duration_since(c.last_activity()) >= idle)
                .map(|c| c.call_id.clone()),
        );
        expired.dedup();
        expired
            .iter()
            .filter_map(|id| self.delete(id).ok())
            .collect()
    }

    /// When the next call would expire if nothing happens, or a WebRTC leg's timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = self
            .calls
            .iter()
            .flatten()
            .map(|c| c.last_activity() + self.config.idle_timeout)
            .min();
        match (idle, self.poll_webrtc_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the next WebRTC leg's timer (DTLS retransmission, RTCP, ICE consent) is due;
    /// a call whose leg failed is due from the time it failed.
    pub fn poll_webrtc_timeout(&self) -> Option<Instant> {
        let legs = self
            .calls
            .iter()
            .flatten()
            .flat_map(|c| c.streams.iter().flatten())
            .filter_map(|s| s.webrtc.as_ref())
            .flat_map(|w| w.legs.iter().flatten());
        let failed = self.failed.iter().map(|(_, at)| *at);
        legs.filter_map(|l| l.poll_timeout()).chain(failed).min()
    }

    /// Runs the timers of the WebRTC legs that are due; what they send is queued for
    /// [`Engine::take_transmits`].
    pub fn handle_webrtc_timeout(&mut self, now: Instant) {
        for call in self.calls.iter_mut().flatten() {
            for stream in call.streams.iter_mut().flatten() {
                if stream.webrtc.is_none() {
                    continue;
                }
                let mut io = GatewayIo {
                    transmits: &mut self.transmits,
                    failed: &mut self.failed,
                    out: &mut self.leg_out,
                    sightings: None,
                };
                gateway_timeout(&mut io, &call.call_id, stream, now);
            }
        }
    }

    /// The datagrams WebRTC legs made since the last call, in order (the shell sends each
    /// from its `from_port`).
    pub fn take_transmits(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.transmits)
    }

    /// The RTCP compounds read since the last call, oldest first (only with
    /// [`EngineConfig::keep_rtcp_reports`]).
    pub fn take_rtcp_sightings(&mut self) -> Vec<RtcpSighting> {
        std::mem::take(&mut self.sightings)
    }

    /// The RTP ports of pairs freed since the last call (the shell closes their sockets).
    pub fn take_released(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.released)
    }

    fn release_port(&mut self, port: u16) {
        if let Some(o) = self
            .pool
            .pair_index(port)
            .and_then(|i| self.owners.get_mut(i))
        {
            *o = None;
        }
        self.pool.release(port);
        self.released.push(port);
    }
}

/// Where and when an RTCP datagram arrived.
struct Arrival {
    now: Instant,
    source: SocketAddr,
    local_port: u16,
    advertised: IpAddr,
}

/// RTCP from the party of side `from`: rare (a report every few seconds), parsed to read
/// the reports, and kept in `sightings` when the engine keeps them. Out of line, so the
/// RTP path of [`Engine::forward`] stays as small as it was.
#[cold]
#[inline(never)]
fn read_rtcp(
    arrival: &Arrival,
    packet: &[u8],
    from: &mut Side,
    to: &Side,
    call_id: &str,
    sightings: Option<&mut Vec<RtcpSighting>>,
) {
    let read = from.rtcp.on_datagram(arrival.now, packet, &to.rtcp);
    let Some(sightings) = sightings.filter(|s| read && s.len() < MAX_RTCP_SIGHTINGS) else {
        return;
    };
    let relay = from.advertised.unwrap_or(arrival.advertised);
    sightings.push(RtcpSighting {
        call_id: call_id.to_owned(),
        report: PartyReport {
            source: Some(arrival.source),
            relay: Some(SocketAddr::new(relay, arrival.local_port)),
            seen: from.rtcp.clone(),
            relay_block: None,
        },
    });
}

/// Where a WebRTC gateway's work goes: the engine's queues.
struct GatewayIo<'a> {
    transmits: &'a mut Vec<Transmit>,
    failed: &'a mut Vec<(String, Instant)>,
    out: &'a mut Vec<LegOut>,
    sightings: Option<&'a mut Vec<RtcpSighting>>,
}

impl GatewayIo<'_> {
    fn send(&mut self, from_port: u16, to: SocketAddr, bytes: Vec<u8>) {
        if self.transmits.len() < MAX_TRANSMITS {
            self.transmits.push(Transmit {
                from_port,
                to,
                bytes,
            });
        }
    }

    /// Notes a leg that has just failed: one log line, the call removed at the next
    /// [`Engine::handle_timeout`].
    fn failed(&mut self, call_id: &str, side: usize, reason: &str, now: Instant) {
        tracing::warn!(
            call_id,
            side,
            reason,
            "WebRTC leg failed: the call is ended"
        );
        if !self.failed.iter().any(|(c, _)| c == call_id) {
            self.failed.push((call_id.to_owned(), now));
        }
    }
}

/// A datagram on a stream the relay is a WebRTC gateway for (see [`crate::webrtc`]): into
/// the WebRTC leg of side `from` (STUN, DTLS, SRTP), or, from a plain party, latched,
/// counted and written into the other side's leg.
fn forward_gateway(
    io: &mut GatewayIo<'_>,
    call_id: &str,
    stream: &mut Stream,
    from: usize,
    arrival: &Arrival,
    packet: &[u8],
    relatch_after: Duration,
) -> Forward {
    let Some(webrtc) = stream.webrtc.as_mut() else {
        return Forward::Drop(DropReason::UnknownPort);
    };
    let component: Component = usize::from(arrival.local_port & 1);
    let now = arrival.now;
    let [leg_a, leg_b] = &mut webrtc.legs;
    let [side_a, side_b] = &mut stream.sides;
    let (from_leg, to_leg, from_side, to_side) = if from == 0 {
        (leg_a, leg_b, side_a, side_b)
    } else {
        (leg_b, leg_a, side_b, side_a)
    };
    io.out.clear();
    if let Some(leg) = from_leg.as_mut() {
        if component != RTP {
            // rtcp-mux: nothing belongs on a WebRTC leg's second port.
            from_side.counters[component].errors += 1;
            return Forward::Drop(DropReason::NoDestination);
        }
        let was_failed = leg.failure().is_some();
        leg.receive(now, arrival.source, packet, io.out);
        if let (false, Some(reason)) = (was_failed, leg.failure()) {
            io.failed(call_id, from, reason, now);
        }
        let mut outs = std::mem::take(io.out);
        for out in outs.drain(..) {
            match out {
                LegOut::Transmit { to, bytes } => io.send(from_side.port, to, bytes),
                LegOut::Rtp(clear) => {
                    from_side.latched[RTP] = Some(arrival.source);
                    if let Some(pt) = from_side.loss.count(now, &clear) {
                        from_side.loss.learn_payload_type(pt, &stream.payloads);
                    }
                    deliver(
                        io,
                        call_id,
                        1 - from,
                        to_leg.as_deref_mut(),
                        to_side,
                        now,
                        clear,
                    );
                }
            }
        }
        *io.out = outs;
        return Forward::Queued;
    }
    // A plain party: latched as on any stream, its RTCP read and kept here.
    if !from_side.accept(component, arrival.source, now, relatch_after) {
        from_side.counters[component].errors += 1;
        return Forward::Drop(DropReason::NotLatchedSource);
    }
    if component != RTP || is_muxed_rtcp(packet) {
        read_rtcp(
            arrival,
            packet,
            from_side,
            to_side,
            call_id,
            io.sightings.as_deref_mut(),
        );
        return Forward::Drop(DropReason::RtcpTerminated);
    }
    if let Some(pt) = from_side.loss.count(now, packet) {
        from_side.loss.learn_payload_type(pt, &stream.payloads);
    }
    deliver(
        io,
        call_id,
        1 - from,
        to_leg.as_deref_mut(),
        to_side,
        now,
        packet.to_vec(),
    );
    Forward::Queued
}

/// Plain RTP toward side `side`: into its WebRTC leg, or to its party as it is.
fn deliver(
    io: &mut GatewayIo<'_>,
    call_id: &str,
    side: usize,
    leg: Option<&mut crate::webrtc::WebrtcLeg>,
    to: &mut Side,
    now: Instant,
    clear: Vec<u8>,
) {
    let Some(leg) = leg else {
        match to.destination(RTP) {
            Some(address) => io.send(to.port, address, clear),
            None => to.counters[RTP].errors += 1,
        }
        return;
    };
    let mut out = Vec::new();
    let was_failed = leg.failure().is_some();
    leg.send_rtp(now, &clear, &mut out);
    if let (false, Some(reason)) = (was_failed, leg.failure()) {
        io.failed(call_id, side, reason, now);
    }
    for item in out {
        if let LegOut::Transmit { to: address, bytes } = item {
            io.send(to.port, address, bytes);
        }
    }
}

/// The due timers of a gateway stream's legs.
fn gateway_timeout(io: &mut GatewayIo<'_>, call_id: &str, stream: &mut Stream, now: Instant) {
    let Some(webrtc) = stream.webrtc.as_mut() else {
        return;
    };
    for (side, (leg, party)) in webrtc.legs.iter_mut().zip(&stream.sides).enumerate() {
        let Some(leg) = leg
            .as_mut()
            .filter(|l| l.poll_timeout().is_some_and(|t| t <= now))
        else {
            continue;
        };
        io.out.clear();
        leg.handle_timeout(now, io.out);
        if let Some(reason) = leg.failure() {
            // A failed leg has no timer: this is its first failure.
            io.failed(call_id, side, reason, now);
        }
        let mut outs = std::mem::take(io.out);
        for out in outs.drain(..) {
            if let LegOut::Transmit { to, bytes } = out {
                io.send(party.port, to, bytes);
            }
        }
        *io.out = outs;
    }
}

/// Which side's SDP a request carries, binding the callee's tag when it first appears.
fn owner_side(
    tags: &mut [Option<String>; 2],
    request: &MediaRequest,
    is_offer: bool,
) -> Result<usize, RelayError> {
    if is_offer {
        if let Some(side) = side_of(tags, &request.from_tag, false) {
            return Ok(side);
        }
        // An offer from the callee (re-INVITE) before any answer named it.
        if request.to_tag.as_deref() == tags[0].as_deref() && tags[1].is_none() {
            tags[1] = Some(request.from_tag.clone());
            return Ok(1);
        }
        return Err(RelayError::UnknownTag);
    }
    let to_tag = request
        .to_tag
        .as_deref()
        .ok_or(RelayError::MissingKey("to-tag"))?;
    let from_side = side_of(tags, &request.from_tag, false).ok_or(RelayError::UnknownTag)?;
    let other = 1 - from_side;
    if tags[other].as_deref() != Some(to_tag) {
        if from_side != 0 {
            return Err(RelayError::UnknownTag);
        }
        // First answer, or a later 2xx of another fork: the last answer wins.
        tags[1] = Some(to_tag.to_owned());
    }
    Ok(other)
}

/// RTCP multiplexed on the RTP port (RFC 5761 §4): packet types 192–223 in the second byte.
fn is_muxed_rtcp(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|pt| (192..=223).contains(pt))
}

/// What the listener's RTCP adds to the relay's view of the stream `sender` sends: its
/// report block about the stream, and the round trip between the parties — the listener's
/// XR VoIP Metrics round-trip delay (RFC 3611 §4.7.3) when it gave one, else the legs the
/// relay measured from LSR/DLSR (both when known; one alone is a lower bound).
fn heard(sender: &Side, listener: &Side) -> Heard {
    let xr_round_trip = listener
        .rtcp
        .voip_metrics
        .filter(|vm| vm.round_trip_delay > 0)
        .map(|vm| Duration::from_millis(u64::from(vm.round_trip_delay)));
    let legs = match (sender.rtcp.round_trip, listener.rtcp.round_trip) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    Heard {
        report: listener.rtcp.block_about(sender.loss.ssrc()).copied(),
        round_trip: xr_round_trip.or(legs),
    }
}

fn snapshot(call: &Call, advertised: IpAddr) -> CallStats {
    let party = |i: usize| PartyStats {
        tag: call.tags[i].clone(),
        streams: call
            .streams
            .iter()
            .enumerate()
            .filter_map(|(index, s)| s.as_ref().map(|s| (index, s)))
            .map(|(index, s)| {
                let side = &s.sides[i];
                let listener = &s.sides[1 - i];
                SideStats {
                    media_index: index,
                    media_type: s.media_type.clone(),
                    protocol: s.protocol.clone(),
                    local_port: side.port,
                    announced: side.announced[RTP],
                    latched: side.latched,
                    rtp: side.counters[0],
                    rtcp: side.counters[1],
                    lost: side.loss.lost(),
                    quality: side.loss.quality_with(heard(side, listener)),
                    srtp: s.srtp.as_ref().and_then(|b| b.stats(i)),
                    report: PartyReport {
                        source: side.latched[1].or(side.latched[RTP]),
                        relay: Some(SocketAddr::new(
                            side.advertised.unwrap_or(advertised),
                            side.port + 1,
                        )),
                        seen: side.rtcp.clone(),
                        relay_block: side.loss.report_block(),
                    },
                }
            })
            .collect(),
    };
    CallStats {
        call_id: call.call_id.clone(),
        created: call.created,
        last_signal: call.last_signal,
        parties: [party(0), party(1)],
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
