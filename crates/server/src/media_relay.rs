//! Relay control: the seed's `force_rtp_proxy()` / Kamailio's `rtpengine_manage()`. When a
//! call needs its media relayed ([`RelayPolicy`]: by default when the caller or a callee is
//! behind a NAT), every SDP of the call passes through the relay on its way: the offer in
//! the INVITE (or re-INVITE, UPDATE), the answer in the 18x/2xx (or the ACK, for an offer
//! made in the 2xx), each rewritten so both parties send their RTP and RTCP to the relay,
//! which latches onto where the packets really come from (symmetric RTP) and forwards them.
//! The session is deleted on BYE and when the call set-up fails (CANCEL, error, Timer C);
//! the relay's own idle timeout catches the rest.
//!
//! `RelayHook` is the sans-IO half, a `Hook` of the engine: it keeps which calls are
//! relayed and asks the shell for each exchange (`IoRequest::RelayExchange`), holding the
//! message until the rewritten SDP comes back. It sees responses only after transaction
//! matching: a retransmitted 2xx that arrives after its transaction ended gets the SDP the
//! relay gave the first one, without another exchange. The shell's
//! [`relay::Controller`] (in-process or NG nodes) carries the exchanges out.
//!
//! The NG tag convention (rtpengine's): an offer belongs to the From tag of the message
//! that carries it, an answer to its To tag; an offer made in a 2xx (late offer) belongs to
//! the callee, whose tag is then the To tag.
//!
//! ## SRTP
//!
//! The relay bridges SDES-SRTP and plain RTP per leg (`relay::srtp`), as `[relay] srtp`
//! ([`SrtpPolicy`]) decides from what the offer uses and whether each party is *secure*:
//! its SIP comes over TLS (or WSS). The caller is secure when its INVITE arrived over TLS;
//! the callee when every target of the INVITE is reached over TLS (a call forked to a
//! TLS phone and a UDP phone gets one SDP for both, so it is plain toward them). Each
//! offer carries the `transport` of its receiver, each answer the upgrade of its receiver
//! (`SrtpPolicy::answer_transport`). A call that needs bridging is relayed whatever
//! `[relay] policy` says (`nat` would not relay two phones on public addresses). SRTP keys
//! the relay refuses (no usable `a=crypto` line, a malformed one) answer an offer with
//! `488 Not Acceptable Here`; an answer with such keys passes unchanged (logged) and the
//! offerer is left to refuse it.
//!
//! ## WebRTC
//!
//! The relay is a WebRTC gateway (`relay::webrtc`): ICE-lite and DTLS-SRTP toward a
//! browser, plain RTP toward a SIP phone. A party is *web* when its SIP comes over a
//! WebSocket (WS or WSS: the caller's INVITE, every target's hop) or, for an offerer, when
//! its offer is `UDP/TLS/RTP/SAVPF` (`relay::webrtc::offered`). A call whose parties differ
//! is relayed whatever `[relay] policy` says, and every offer carries `Flags::webrtc` of
//! its receiver: a phone's plain offer to a browser becomes a WebRTC offer made by the
//! relay, a browser's offer to a phone plain RTP/AVP; answers are turned back the same way.
//! An SDP the gateway refuses (no ICE credentials, a malformed fingerprint, an answer to a
//! WebRTC offer that is not WebRTC) answers an offer 488, as refused SRTP keys do; a DTLS
//! failure later (a fingerprint that does not match) ends the call through the relay
//! (`relay::Controller::take_idle`).

use ahash::HashMap;
use std::net::IpAddr;

use bytes::Bytes;
use relay::{AddressSource, Flags, MediaRequest, Offered, Profile, SrtpPolicy};
use sip::{HeaderName, Message, Method};

use crate::engine::io::Source;
use crate::engine::io::{Answer, IoId, IoRequest};
use crate::policy::hook::{Arrival, DialogEvent, Flow, Hook, HookCx};
use crate::proxy::Forward;

/// When calls are relayed (`[relay] policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayPolicy {
    /// When the caller or a callee is behind a NAT (the default).
    #[default]
    Nat,
    /// Every call the proxy stays in (record-routed INVITEs).
    Always,
    /// Never: phones and NATs manage on their own (STUN, ICE).
    Never,
}

impl RelayPolicy {
    /// The name in the config file: `nat`, `always`, `never`.
    pub fn name(self) -> &'static str {
        match self {
            RelayPolicy::Nat => "nat",
            RelayPolicy::Always => "always",
            RelayPolicy::Never => "never",
        }
    }
}

/// A name that is no [`RelayPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a relay policy: write \"nat\", \"always\" or \"never\"")]
pub struct UnknownRelayPolicy(pub String);

impl std::str::FromStr for RelayPolicy {
    type Err = UnknownRelayPolicy;

    fn from_str(s: &str) -> Result<RelayPolicy, UnknownRelayPolicy> {
        match s {
            "nat" => Ok(RelayPolicy::Nat),
            "always" => Ok(RelayPolicy::Always),
            "never" => Ok(RelayPolicy::Never),
            other => Err(UnknownRelayPolicy(other.to_owned())),
        }
    }
}

/// What the relay hook is set up with.
#[derive(Debug, Clone, Copy)]
pub struct RelaySetup {
    /// Which calls are relayed.
    pub policy: RelayPolicy,
    /// Write our address toward each party in the SDP (an in-process relay without a
    /// configured public address).
    pub per_party_address: bool,
    /// The relay's media sockets listen on every interface (no `[relay] listen_ip`): a
    /// browser that our address toward is loopback is given this machine's interface
    /// address instead, as browsers gather no loopback candidates and so never reach a
    /// relay on 127.0.0.1 (a browser on the server's own machine, `/phone` at
    /// `http://127.0.0.1:8080`).
    pub all_interfaces: bool,
    /// SRTP bridging per leg (`[relay] srtp`).
    pub srtp: SrtpPolicy,
}

/// One relayed call.
#[derive(Debug, Clone, Default)]
struct RelayedCall {
    /// The From tag of the INVITE that started it (the NG `from-tag` of `delete`).
    from_tag: String,
    /// The INVITE carried no SDP: the offer comes in the 2xx and the answer in the ACK.
    late_offer: bool,
    /// The last rewritten SDP of a response, by CSeq number and To tag: what a
    /// retransmission of that response gets.
    last_response: Option<(u32, String, Bytes)>,
    /// Whether the caller (0) and the callee (1) use TLS for their SIP.
    secure: [bool; 2],
    /// Whether the caller (0) and the callee (1) speak WebRTC.
    web: [bool; 2],
}

/// A response waiting for its exchange.
#[derive(Debug)]
struct PendingResponse {
    call_id: String,
    cseq: u32,
    to_tag: String,
}

/// The relay hook. See the module docs.
#[derive(Debug)]
pub struct RelayHook {
    setup: RelaySetup,
    /// The proxy forwards statelessly: there are no transactions to hold responses in.
    stateless: bool,
    calls: HashMap<String, RelayedCall>,
    responses: HashMap<IoId, PendingResponse>,
}

/// Who a message with SDP is from, as far as relaying cares.
#[derive(Debug, Clone, Copy)]
struct Party {
    /// The source address of the SIP message (`received-from`).
    source: IpAddr,
    /// Found behind a NAT: its SDP address is not to be trusted, its source is.
    natted: bool,
    /// Our address toward the party that will read the rewritten SDP.
    facing: Option<IpAddr>,
}

impl RelayHook {
    /// A hook with no relayed call; `stateless` is the proxy's `[proxy] stateless`.
    pub fn new(setup: RelaySetup, stateless: bool) -> RelayHook {
        RelayHook {
            setup,
            stateless,
            calls: HashMap::default(),
            responses: HashMap::default(),
        }
    }

    /// Whether a call set-up is to be relayed: `natted` says if the caller or any callee
    /// is behind a NAT.
    fn wanted(&self, natted: bool) -> bool {
        match self.setup.policy {
            RelayPolicy::Nat => natted,
            RelayPolicy::Always => true,
            RelayPolicy::Never => false,
        }
    }

    fn end(&mut self, cx: &mut HookCx<'_>, call_id: &str, why: &'static str) {
        if let Some(call) = self.calls.remove(call_id) {
            cx.io.push(IoRequest::RelayDelete {
                call_id: call_id.to_owned(),
                from_tag: call.from_tag,
                why,
            });
        }
    }

    /// The SRTP flags of an offer (`offer`) or answer sent by side `sender` of a call.
    fn srtp_flags(&self, call_id: &str, sender: usize, offer: bool, sdp: &[u8]) -> Option<Profile> {
        let secure = self.calls.get(call_id)?.secure;
        let (sender_secure, receiver_secure) = (secure[sender & 1], secure[1 - (sender & 1)]);
        if offer {
            self.setup
                .srtp
                .offer_transport(Offered::of(sdp), sender_secure, receiver_secure)
        } else {
            self.setup.srtp.answer_transport(receiver_secure)
        }
    }

    /// Whether the party that receives what side `sender` sends speaks WebRTC.
    fn receiver_web(&self, call_id: &str, sender: usize) -> bool {
        self.calls
            .get(call_id)
            .is_some_and(|c| c.web[1 - (sender & 1)])
    }

    /// Our address toward `toward`, the party that reads what side `sender` sent after
    /// the relay rewrote it; for a browser to which that is loopback, this machine's
    /// interface address of the same family when the relay listens there too
    /// ([`RelaySetup::all_interfaces`]).
    fn facing(
        &self,
        cx: &mut HookCx<'_>,
        call_id: &str,
        sender: usize,
        toward: Option<IpAddr>,
    ) -> Option<IpAddr> {
        let facing = cx.addresses.host.outbound_ip(toward?)?;
        if facing.is_loopback() && self.setup.all_interfaces && self.receiver_web(call_id, sender) {
            return cx.addresses.host.interface_ip(facing).or(Some(facing));
        }
        Some(facing)
    }

    /// The side (0 caller, 1 callee) whose tag is `tag` in call `call_id`.
    fn side_of(&self, call_id: &str, tag: &str) -> usize {
        match self.calls.get(call_id) {
            Some(call) if call.from_tag != tag => 1,
            _ => 0,
        }
    }

    fn media_request(
        &self,
        call_id: &str,
        from_tag: String,
        to_tag: Option<String>,
        message: &Message,
        party: Party,
    ) -> MediaRequest {
        MediaRequest {
            call_id: call_id.to_owned(),
            from_tag,
            to_tag,
            sdp: message.body().to_vec(),
            received_from: Some(party.source),
            flags: Flags {
                address: if party.natted {
                    AddressSource::SipSource
                } else {
                    AddressSource::Sdp
                },
                advertise: party.facing.filter(|_| self.setup.per_party_address),
                ..Flags::default()
            },
        }
    }

    fn exchange(cx: &mut HookCx<'_>, request: MediaRequest, offer: bool) -> IoId {
        cx.ask(|id| IoRequest::RelayExchange { id, offer, request })
    }
}

impl Hook for RelayHook {
    /// A request being forwarded: an initial INVITE the proxy stays in starts relaying
    /// when the policy wants it; every SDP of a relayed call goes through the relay.
    fn on_forward(
        &mut self,
        cx: &mut HookCx<'_>,
        request: &Message,
        source: Source,
        forward: &mut Forward,
    ) -> Flow {
        // Stateless mode sees no responses to rewrite: no relaying.
        if self.stateless {
            return Flow::Continue;
        }
        let (Ok(call_id), Some(method)) = (request.call_id(), request.method()) else {
            return Flow::Continue;
        };
        let Some(from_tag) = request.from().ok().and_then(|f| f.tag().map(str::to_owned)) else {
            return Flow::Continue;
        };
        let to_tag = request.to().ok().and_then(|t| t.tag().map(str::to_owned));
        let initial_invite = *method == Method::Invite && to_tag.is_none();
        let has_sdp = request.has_sdp();
        let secure = [
            is_secure(source.local.protocol),
            !forward.targets.is_empty()
                && forward
                    .targets
                    .iter()
                    .all(|t| t.hops.first().is_some_and(|h| is_secure(h.protocol))),
        ];
        let web = [
            is_web(source.local.protocol) || (has_sdp && relay::webrtc::offered(request.body())),
            !forward.targets.is_empty()
                && forward
                    .targets
                    .iter()
                    .all(|t| t.hops.first().is_some_and(|h| is_web(h.protocol))),
        ];
        let bridge =
            initial_invite && (self.bridging_needed(request, has_sdp, secure) || web[0] != web[1]);
        let start = initial_invite
            && forward.record_route
            && (bridge
                || self.wanted(forward.sender_natted || forward.targets.iter().any(|t| t.nat)));
        if start {
            self.calls.insert(
                call_id.to_owned(),
                RelayedCall {
                    from_tag: from_tag.clone(),
                    late_offer: !has_sdp,
                    last_response: None,
                    secure,
                    web,
                },
            );
        } else if !self.calls.contains_key(call_id) {
            return Flow::Continue;
        }
        if !has_sdp || *method == Method::Bye {
            return Flow::Continue;
        }
        let toward = forward
            .targets
            .first()
            .and_then(|t| t.hops.first())
            .map(|h| h.addr.ip());
        let sender = self.side_of(call_id, &from_tag);
        let party = Party {
            source: source.addr.ip(),
            natted: forward.sender_natted,
            facing: self.facing(cx, call_id, sender, toward),
        };
        // A late offer ends with its answer in the ACK, or with a new offer in a request:
        // from then on the 2xx of a re-INVITE carries an answer again.
        let late = self
            .calls
            .get_mut(call_id)
            .is_some_and(|c| std::mem::replace(&mut c.late_offer, false));
        let id = match method {
            // The answer to an offer made in a 2xx (or a reliable 18x).
            Method::Ack | Method::Prack if late => {
                let Some(to_tag) = to_tag else {
                    return Flow::Continue;
                };
                let mut answer =
                    self.media_request(call_id, to_tag, Some(from_tag), request, party);
                answer.flags.transport = self.srtp_flags(call_id, sender, false, &answer.sdp);
                Self::exchange(cx, answer, false)
            }
            Method::Ack | Method::Prack => {
                let mut answer = self.media_request(call_id, from_tag, to_tag, request, party);
                answer.flags.transport = self.srtp_flags(call_id, sender, false, &answer.sdp);
                Self::exchange(cx, answer, false)
            }
            _ => {
                let mut offer = self.media_request(call_id, from_tag, to_tag, request, party);
                offer.flags.transport = self.srtp_flags(call_id, sender, true, &offer.sdp);
                offer.flags.webrtc = self.receiver_web(call_id, sender);
                Self::exchange(cx, offer, true)
            }
        };
        Flow::Wait(id)
    }

    fn resume_forward(
        &mut self,
        _cx: &mut HookCx<'_>,
        _id: IoId,
        answer: Answer,
        forward: &mut Forward,
    ) -> Flow {
        if let Answer::SdpRefused = answer {
            // Logged by the shell with the relay's reason. RFC 4568 §7.5: no acceptable
            // SRTP keys.
            return Flow::Refuse {
                code: 488,
                reason: "Not Acceptable Here",
            };
        }
        if let Some(sdp) = rewritten(answer) {
            forward.rewrites.sdp = Some(sdp);
        }
        Flow::Continue
    }

    /// A response on its way back (18x/2xx with SDP to INVITE, UPDATE, PRACK): the answer,
    /// or the offer of a late-offer call.
    fn on_response(
        &mut self,
        cx: &mut HookCx<'_>,
        response: &Message,
        arrival: Option<Arrival>,
    ) -> Flow {
        let Some(arrival) = arrival else {
            return Flow::Continue;
        };
        let Some(code) = response.status() else {
            return Flow::Continue;
        };
        if !(101..300).contains(&code) || !response.has_sdp() {
            return Flow::Continue;
        }
        let (Ok(call_id), Ok(cseq)) = (response.call_id(), response.cseq()) else {
            return Flow::Continue;
        };
        let late = match self.calls.get(call_id) {
            Some(call) => call.late_offer,
            None => return Flow::Continue,
        };
        let (Some(from_tag), Some(to_tag)) = (
            response
                .from()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned)),
            response.to().ok().and_then(|t| t.tag().map(str::to_owned)),
        ) else {
            return Flow::Continue;
        };
        // The rewritten SDP goes to the one the response goes to: the Via below ours,
        // now the top one.
        let upstream = response.vias().next().and_then(|v| {
            let v = v.ok()?;
            v.received().or(v.host.ip())
        });
        // The response comes from the party the request went to.
        let sender = 1 - self.side_of(call_id, &from_tag);
        let party = Party {
            source: arrival.source.ip(),
            natted: arrival.natted,
            facing: self.facing(cx, call_id, sender, upstream),
        };
        let pending = PendingResponse {
            call_id: call_id.to_owned(),
            cseq: cseq.seq,
            to_tag: to_tag.clone(),
        };
        let initial_invite = cseq.method == Method::Invite.as_str() && late;
        let id = if initial_invite {
            let mut offer = self.media_request(call_id, to_tag, Some(from_tag), response, party);
            offer.flags.transport = self.srtp_flags(call_id, sender, true, &offer.sdp);
            offer.flags.webrtc = self.receiver_web(call_id, sender);
            Self::exchange(cx, offer, true)
        } else {
            let mut answer = self.media_request(call_id, from_tag, Some(to_tag), response, party);
            answer.flags.transport = self.srtp_flags(call_id, sender, false, &answer.sdp);
            Self::exchange(cx, answer, false)
        };
        self.responses.insert(id, pending);
        Flow::Wait(id)
    }

    fn resume_response(
        &mut self,
        _cx: &mut HookCx<'_>,
        id: IoId,
        answer: Answer,
        response: Message,
    ) -> Message {
        let pending = self.responses.remove(&id);
        let Some(sdp) = rewritten(answer) else {
            return response;
        };
        if let Some(p) = pending {
            if let Some(call) = self.calls.get_mut(&p.call_id) {
                call.last_response = Some((p.cseq, p.to_tag, sdp.clone()));
            }
        }
        with_body(&response, sdp).unwrap_or(response)
    }

    /// A retransmitted 2xx after its transaction ended: the SDP the relay gave the first.
    fn on_stray_response(&mut self, _cx: &mut HookCx<'_>, response: Message) -> Message {
        if !response.has_sdp() {
            return response;
        }
        let (Ok(call_id), Ok(cseq)) = (response.call_id(), response.cseq()) else {
            return response;
        };
        let to_tag = response.to().ok().and_then(|t| t.tag());
        let remembered = self.calls.get(call_id).and_then(|c| {
            c.last_response
                .as_ref()
                .filter(|(seq, tag, _)| *seq == cseq.seq && Some(tag.as_str()) == to_tag)
                .map(|(_, _, sdp)| sdp.clone())
        });
        match remembered {
            Some(sdp) => with_body(&response, sdp).unwrap_or(response),
            None => response,
        }
    }

    /// The call set-up failed, a BYE passed, or the proxy ended the call: the relay
    /// session goes.
    fn on_dialog(&mut self, cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
        match event {
            DialogEvent::Settled { invite, code, .. } if code >= 300 => {
                if let Ok(call_id) = invite.call_id() {
                    self.end(cx, call_id, "call failed");
                }
            }
            DialogEvent::Ended { bye } => {
                if let Ok(call_id) = bye.call_id() {
                    self.end(cx, call_id, "BYE");
                }
            }
            DialogEvent::EndedHere { call_id, .. } => self.end(cx, call_id, "ended by the proxy"),
            _ => {}
        }
    }
}

/// Whether a party whose SIP comes over `protocol` is a browser (RFC 7118 SIP over
/// WebSocket): its media is WebRTC.
fn is_web(protocol: transport::Protocol) -> bool {
    matches!(protocol, transport::Protocol::Ws | transport::Protocol::Wss)
}

/// Whether SIP over `protocol` keeps SDES keys from readers on the way (RFC 4568 §8.3).
fn is_secure(protocol: transport::Protocol) -> bool {
    matches!(
        protocol,
        transport::Protocol::Tls | transport::Protocol::Wss
    )
}

impl RelayHook {
    /// Whether a new call needs the relay for SRTP bridging whatever the NAT: its offer
    /// would be bridged, or (a late offer, not seen yet) its parties differ in security.
    fn bridging_needed(&self, request: &Message, has_sdp: bool, secure: [bool; 2]) -> bool {
        let policy = self.setup.srtp;
        if policy == SrtpPolicy::Off {
            return false;
        }
        if !has_sdp {
            return secure[0] != secure[1];
        }
        policy
            .offer_transport(Offered::of(request.body()), secure[0], secure[1])
            .is_some()
    }
}

/// The SDP of a relay answer; `None` (and the message goes on unchanged) when the relay
/// refused: better one-way audio than no call.
fn rewritten(answer: Answer) -> Option<Bytes> {
    match answer {
        Answer::Sdp(sdp) => sdp,
        _ => None,
    }
}

/// `message` with `sdp` as its body (Content-Length follows).
pub(crate) fn with_body(message: &Message, sdp: Bytes) -> Option<Message> {
    let mut edit = message.edit();
    let content_type = message.header(HeaderName::ContentType).map(str::to_owned);
    edit.set_body(content_type.as_deref(), sdp);
    edit.finish().ok()
}
