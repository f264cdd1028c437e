//! Relay control: the seed's `force_rtp_proxy()` / Kamailio's `rtpengine_manage()`. When a
//! call needs its media relayed ([`RelayPolicy`]: by default when the caller or a callee is
//! behind a NAT), every SDP of the call passes through the relay ([`relay::Controller`],
//! in-process or on NG nodes) on its way: the offer in the INVITE (or re-INVITE, UPDATE),
//! the answer in the 18x/2xx (or the ACK, for an offer made in the 2xx), each rewritten so
//! both parties send their RTP and RTCP to the relay, which latches onto where the packets
//! really come from (symmetric RTP) and forwards them. The session is deleted on BYE and
//! when the call set-up fails (CANCEL, error, Timer C); the relay's own idle timeout catches
//! the rest.
//!
//! The NG tag convention (rtpengine's): an offer belongs to the From tag of the message
//! that carries it, an answer to its To tag; an offer made in a 2xx (late offer) belongs to
//! the callee, whose tag is then the To tag.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use bytes::Bytes;
use relay::{AddressSource, Controller, Flags, MediaRequest};
use sip::{HeaderName, Message, Method};

use crate::core::lock;

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

/// One relayed call.
#[derive(Debug, Clone, Default)]
struct RelayedCall {
    /// The From tag of the INVITE that started it (the NG `from-tag` of `delete`).
    from_tag: String,
    /// The INVITE carried no SDP: the offer comes in the 2xx and the answer in the ACK.
    late_offer: bool,
}

/// The relay as the proxy uses it.
#[derive(Debug)]
pub struct MediaRelay {
    controller: Controller,
    policy: RelayPolicy,
    /// The address written in SDP when the relay has none of its own configured: the
    /// in-process relay then advertises the server's address toward each party.
    per_party_address: bool,
    calls: Mutex<HashMap<String, RelayedCall>>,
}

/// Who a message with SDP is from, as far as relaying cares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Party {
    /// The source address of the SIP message (`received-from`).
    pub(crate) source: IpAddr,
    /// Found behind a NAT: its SDP address is not to be trusted, its source is.
    pub(crate) natted: bool,
    /// Our address toward the party that will read the rewritten SDP.
    pub(crate) facing: Option<IpAddr>,
}

impl MediaRelay {
    /// A relay control over `controller`. `per_party_address`: write our address toward
    /// each party in the SDP (for an in-process relay without a configured public address).
    pub fn new(controller: Controller, policy: RelayPolicy, per_party_address: bool) -> MediaRelay {
        MediaRelay {
            controller,
            policy,
            per_party_address,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> RelayPolicy {
        self.policy
    }

    /// Whether a call set-up is to be relayed: `natted` says if the caller or any callee
    /// is behind a NAT.
    pub(crate) fn wanted(&self, natted: bool) -> bool {
        match self.policy {
            RelayPolicy::Nat => natted,
            RelayPolicy::Always => true,
            RelayPolicy::Never => false,
        }
    }

    /// Whether the call with this Call-ID is relayed.
    pub(crate) fn is_relayed(&self, call_id: &str) -> bool {
        lock(&self.calls).contains_key(call_id)
    }

    /// A request being forwarded. `start`: this initial INVITE begins relaying its call.
    /// Answers the SDP to forward in place of the request's, if any.
    pub(crate) async fn on_request(
        &self,
        request: &Message,
        party: Party,
        start: bool,
    ) -> Option<Bytes> {
        let call_id = request.call_id().ok()?;
        let method = request.method()?;
        let has_sdp = has_sdp(request);
        if start {
            lock(&self.calls).insert(
                call_id.to_owned(),
                RelayedCall {
                    from_tag: request.from().ok()?.tag()?.to_owned(),
                    late_offer: !has_sdp,
                },
            );
        } else if !self.is_relayed(call_id) {
            return None;
        }
        if *method == Method::Bye {
            self.end(call_id, "BYE").await;
            return None;
        }
        if !has_sdp {
            return None;
        }
        let from_tag = request.from().ok()?.tag()?.to_owned();
        let to_tag = request.to().ok()?.tag().map(str::to_owned);
        // A late offer ends with its answer in the ACK, or with a new offer in a request:
        // from then on the 2xx of a re-INVITE carries an answer again.
        let late = lock(&self.calls)
            .get_mut(call_id)
            .is_some_and(|c| std::mem::replace(&mut c.late_offer, false));
        match method {
            // The answer to an offer made in a 2xx (or a reliable 18x).
            Method::Ack | Method::Prack if late => {
                let answer = self.media_request(call_id, to_tag?, Some(from_tag), request, party);
                self.exchange(answer, false).await
            }
            Method::Ack | Method::Prack => {
                let answer = self.media_request(call_id, from_tag, to_tag, request, party);
                self.exchange(answer, false).await
            }
            _ => {
                let offer = self.media_request(call_id, from_tag, to_tag, request, party);
                self.exchange(offer, true).await
            }
        }
    }

    /// A response on its way back (18x/2xx with SDP to INVITE, UPDATE, PRACK): the answer,
    /// or the offer of a late-offer call. Answers the rewritten response.
    pub(crate) async fn on_response(&self, response: Message, party: Party) -> Message {
        let Some(code) = response.status() else {
            return response;
        };
        if !(101..300).contains(&code) || !has_sdp(&response) {
            return response;
        }
        let (Ok(call_id), Ok(cseq)) = (response.call_id(), response.cseq()) else {
            return response;
        };
        let late = match lock(&self.calls).get(call_id) {
            Some(call) => call.late_offer,
            None => return response,
        };
        let (Some(from_tag), Some(to_tag)) = (
            response
                .from()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned)),
            response.to().ok().and_then(|t| t.tag().map(str::to_owned)),
        ) else {
            return response;
        };
        let initial_invite = cseq.method == Method::Invite.as_str() && late;
        let rewritten = if initial_invite {
            let offer = self.media_request(call_id, to_tag, Some(from_tag), &response, party);
            self.exchange(offer, true).await
        } else {
            let answer = self.media_request(call_id, from_tag, Some(to_tag), &response, party);
            self.exchange(answer, false).await
        };
        match rewritten {
            Some(sdp) => with_body(&response, sdp).unwrap_or(response),
            None => response,
        }
    }

    /// The call set-up failed (final response ≥ 300 upstream, CANCEL, Timer C): the relay
    /// session goes.
    pub(crate) async fn on_failure(&self, call_id: &str) {
        if self.is_relayed(call_id) {
            self.end(call_id, "call failed").await;
        }
    }

    async fn end(&self, call_id: &str, why: &str) {
        let Some(call) = lock(&self.calls).remove(call_id) else {
            return;
        };
        match self.controller.delete(call_id, &call.from_tag).await {
            Ok(counters) => tracing::info!(
                %call_id,
                why,
                rtp_packets = counters.rtp.packets,
                rtp_bytes = counters.rtp.bytes,
                rtcp_packets = counters.rtcp.packets,
                lost = counters.parties.iter().map(|p| p.lost).sum::<u64>(),
                "relay session ended"
            ),
            Err(e) => tracing::info!(%call_id, error = %e, "relay session not deleted"),
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
                advertise: party.facing.filter(|_| self.per_party_address),
                ..Flags::default()
            },
        }
    }

    async fn exchange(&self, request: MediaRequest, offer: bool) -> Option<Bytes> {
        let result = if offer {
            self.controller.offer(&request).await
        } else {
            self.controller.answer(&request).await
        };
        match result {
            Ok(rewritten) => {
                for warning in &rewritten.warnings {
                    tracing::debug!(call_id = %request.call_id, %warning, "relay warning");
                }
                Some(Bytes::from(rewritten.sdp))
            }
            Err(e) => {
                // The call goes on with its own SDP: better one-way audio than no call.
                tracing::warn!(call_id = %request.call_id, offer, error = %e, "relay refused the SDP; forwarded unchanged");
                None
            }
        }
    }
}

/// Whether a message carries an SDP body.
pub(crate) fn has_sdp(message: &Message) -> bool {
    !message.body().is_empty()
        && matches!(message.content_type(), Ok(Some(t)) if t.is("application", "sdp"))
}

/// `message` with `sdp` as its body (Content-Length follows).
pub(crate) fn with_body(message: &Message, sdp: Bytes) -> Option<Message> {
    let mut edit = message.edit();
    let content_type = message.header(HeaderName::ContentType).map(str::to_owned);
    edit.set_body(content_type.as_deref(), sdp);
    edit.finish().ok()
}
