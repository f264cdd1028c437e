//! One WebRTC leg: the relay's end of a browser's peer connection for one audio stream,
//! driven through str0m's direct API in RTP mode (our own SDP: [`super::sdp`]).
//!
//! The relay is an ICE-lite agent (RFC 8445 §2.5: it answers the browser's connectivity
//! checks on its one host candidate and never checks itself; the browser controls and
//! nominates), the DTLS server unless the browser asked to be (RFC 5763 §5, rtpengine's
//! `DTLS=passive`), and keys SRTP from the DTLS handshake (RFC 5764 §4.2). RTP and RTCP
//! share the leg's one port (RFC 5761). str0m checks the browser's certificate against
//! its `a=fingerprint` (RFC 5763 §5): a mismatch, or any DTLS failure, fails the leg
//! ([`WebrtcLeg::failure`]) and the engine ends the call.
//!
//! The leg is sans-IO like the engine: datagrams and the time go in
//! ([`WebrtcLeg::receive`], [`WebrtcLeg::send_rtp`], [`WebrtcLeg::handle_timeout`]); what
//! comes out is a list of [`LegOut`]: datagrams for the browser and the browser's RTP in
//! the clear, for the other party.
//!
//! ## Bounded state
//!
//! STUN from anyone is handed to str0m, which checks MESSAGE-INTEGRITY (RFC 5389 §10.1.2)
//! with the leg's password before it keeps anything, and bounds its candidate pairs (100);
//! a flood of checks from unknown addresses keeps no state. Receive streams are only those
//! the browser's SDP announced ([`super::sdp::MAX_REMOTE_SSRCS`] at most).

use std::net::SocketAddr;
use std::time::Instant;

use str0m::config::Fingerprint;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcError};

use super::crypto;
use super::sdp::{RemoteParams, WebrtcFault};
use str0m::config::DtlsCert;

/// A payload type the leg carries: its number, encoding name and clock rate (from the
/// SDP's `a=rtpmap`, or the static table of RFC 3551 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The payload type.
    pub pt: u8,
    /// The encoding name (`PCMU`, `telephone-event`, ...).
    pub name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels.
    pub channels: Option<u8>,
}

/// What a leg gives out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegOut {
    /// A datagram for the browser (STUN, DTLS, SRTP, SRTCP), sent from the leg's port.
    Transmit {
        /// Where to.
        to: SocketAddr,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A plain RTP packet the browser sent, for the other party.
    Rtp(Vec<u8>),
}

/// Packets a leg refused, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebrtcDrops {
    /// Not a datagram str0m takes (empty, too long).
    pub malformed: u64,
    /// From the other party while the browser's leg was not connected (no ICE, no DTLS
    /// keys yet), or not RTP.
    pub not_ready: u64,
    /// Arriving on a failed leg.
    pub failed: u64,
    /// From the other party with a payload type the SDP did not name.
    pub payload_type: u64,
}

/// The relay's end of one browser's audio stream.
pub struct WebrtcLeg {
    rtc: Rtc,
    /// The relay's address and port of this leg (the host candidate).
    local: SocketAddr,
    mid: Mid,
    /// The `a=mid` written in the SDP (str0m's [`Mid`] is a sanitised copy).
    sdp_mid: String,
    tx: Ssrc,
    creds: IceCreds,
    fingerprint: String,
    /// The DTLS role, once the browser's SDP is known.
    active: Option<bool>,
    remote: Option<RemoteParams>,
    /// The payload types the leg carries (str0m drops, with a warning each, any other).
    payload_types: Vec<u8>,
    /// The last extended sequence number written toward the browser.
    last_seq: Option<u64>,
    next_timeout: Option<Instant>,
    connected: bool,
    failure: Option<String>,
    /// Refused packets.
    pub drops: WebrtcDrops,
}

impl std::fmt::Debug for WebrtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebrtcLeg")
            .field("local", &self.local)
            .field("mid", &self.mid)
            .field("connected", &self.connected)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// str0m's codec for an encoding name (RFC 3551 §6 names, `opus`, `telephone-event`).
fn codec(name: &str) -> Codec {
    match name.to_ascii_lowercase().as_str() {
        "pcmu" => Codec::PCMU,
        "pcma" => Codec::PCMA,
        "g722" => Codec::G722,
        "opus" => Codec::Opus,
        "cn" => Codec::CN,
        "telephone-event" => Codec::Tele,
        _ => Codec::Null,
    }
}

impl WebrtcLeg {
    /// A leg on the relay's `local` address and port for stream `mid`, carrying
    /// `payloads`, with the relay's certificate `cert`. Its ICE credentials are fresh.
    pub fn new(
        now: Instant,
        local: SocketAddr,
        cert: &DtlsCert,
        mid: &str,
        payloads: &[Payload],
    ) -> Result<WebrtcLeg, WebrtcFault> {
        let creds = IceCreds::new();
        let mut config = Rtc::builder()
            .set_rtp_mode(true)
            .set_ice_lite(true)
            .set_crypto_provider(crypto::provider())
            .set_dtls_cert(cert.clone())
            .set_local_ice_credentials(creds.clone())
            .clear_codecs()
            .clear_extension_map()
            .set_stats_interval(None);
        for p in payloads {
            let Some(clock) = std::num::NonZeroU32::new(p.clock_rate) else {
                continue;
            };
            config.codec_config().add_config(
                Pt::from(p.pt),
                None,
                codec(&p.name),
                Frequency::from_nonzero(clock),
                p.channels,
                Default::default(),
            );
        }
        let mut rtc = config.build(now);
        let host = Candidate::host(local, "udp")
            .map_err(|e| WebrtcFault::Local(format!("host candidate {local}: {e}")))?;
        rtc.add_local_candidate(host);
        let sdp_mid = mid.to_owned();
        let mid = Mid::from(mid);
        let mut api = rtc.direct_api();
        api.set_ice_controlling(false);
        api.declare_media(mid, MediaKind::Audio);
        let tx = api.new_ssrc();
        api.declare_stream_tx(tx, None, mid, None);
        let fingerprint = api.local_dtls_fingerprint().to_string();
        Ok(WebrtcLeg {
            rtc,
            local,
            mid,
            sdp_mid,
            tx,
            creds,
            fingerprint,
            active: None,
            remote: None,
            payload_types: payloads.iter().map(|p| p.pt).collect(),
            last_seq: None,
            next_timeout: Some(now),
            connected: false,
            failure: None,
            drops: WebrtcDrops::default(),
        })
    }

    /// The relay's ICE username fragment and password of this leg.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.creds.ufrag, &self.creds.pass)
    }

    /// The relay's certificate fingerprint, as `a=fingerprint` writes it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The `a=mid` of the stream.
    pub fn sdp_mid(&self) -> &str {
        &self.sdp_mid
    }

    /// The SSRC the relay sends to the browser with.
    pub fn ssrc(&self) -> u32 {
        *self.tx
    }

    /// The relay's DTLS role once the browser's SDP is known: `true` for active.
    pub fn active(&self) -> Option<bool> {
        self.active
    }

    /// The relay's address and port of this leg.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Whether ICE and DTLS are done: SRTP flows.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Why the leg failed (DTLS, a fingerprint mismatch), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// What the browser's SDP said. The first time: its ICE credentials and certificate
    /// fingerprint are set, its SSRCs expected and DTLS started in the role its `a=setup`
    /// leaves the relay. Again with the same credentials and fingerprint (a re-offer): only
    /// new SSRCs are added. Another fingerprint on a running leg is refused.
    pub fn set_remote(&mut self, now: Instant, remote: &RemoteParams) -> Result<(), WebrtcFault> {
        let mid = self.mid;
        if let Some(old) = &self.remote {
            if old.fingerprint != remote.fingerprint {
                return Err(WebrtcFault::Local(
                    "a new a=fingerprint on a running WebRTC leg (a new DTLS session is not supported)".into(),
                ));
            }
            let mut api = self.rtc.direct_api();
            if old.ufrag != remote.ufrag || old.pwd != remote.pwd {
                api.set_remote_ice_credentials(IceCreds {
                    ufrag: remote.ufrag.clone(),
                    pass: remote.pwd.clone(),
                });
            }
            for ssrc in remote.ssrcs.iter().filter(|s| !old.ssrcs.contains(s)) {
                api.expect_stream_rx(Ssrc::from(*ssrc), None, mid, None);
            }
            self.remote = Some(remote.clone());
            return Ok(());
        }
        let active = remote.setup.relay_active();
        let mut api = self.rtc.direct_api();
        api.set_remote_ice_credentials(IceCreds {
            ufrag: remote.ufrag.clone(),
            pass: remote.pwd.clone(),
        });
        api.set_remote_fingerprint(Fingerprint {
            hash_func: remote.hash.clone(),
            bytes: remote.fingerprint.clone(),
        });
        for ssrc in &remote.ssrcs {
            api.expect_stream_rx(Ssrc::from(*ssrc), None, mid, None);
        }
        api.start_dtls(active)
            .map_err(|e| WebrtcFault::Local(format!("DTLS did not start: {e}")))?;
        self.active = Some(active);
        self.remote = Some(remote.clone());
        self.next_timeout = Some(now);
        Ok(())
    }

    /// A datagram from `source` on the leg's port: STUN, DTLS, SRTP or SRTCP (RFC 7983
    /// §7 demultiplexing is str0m's). What it gives out is appended to `out`.
    pub fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        packet: &[u8],
        out: &mut Vec<LegOut>,
    ) {
        if self.failure.is_some() {
            self.drops.failed += 1;
            return;
        }
        let Ok(contents) = packet.try_into() else {
            self.drops.malformed += 1;
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            self.fail(&e);
            return;
        }
        self.drain(out);
    }

    /// A plain RTP packet from the other party, for the browser: written to the leg's send
    /// stream (str0m renumbers nothing: sequence number and timestamp are the party's, the
    /// SSRC the relay's), protected and sent once connected.
    pub fn send_rtp(&mut self, now: Instant, packet: &[u8], out: &mut Vec<LegOut>) {
        if self.failure.is_some() {
            self.drops.failed += 1;
            return;
        }
        let Some(rtp) = PlainRtp::parse(packet) else {
            self.drops.not_ready += 1;
            return;
        };
        if !self.connected {
            self.drops.not_ready += 1;
            return;
        }
        if !self.payload_types.contains(&rtp.pt) {
            self.drops.payload_type += 1;
            return;
        }
        let seq = extend(self.last_seq, rtp.seq);
        self.last_seq = Some(seq);
        let tx = self.tx;
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx(&tx) else {
            self.drops.not_ready += 1;
            return;
        };
        let write = RtpWrite::new(
            Pt::from(rtp.pt),
            SeqNo::from(seq),
            rtp.timestamp,
            now,
            rtp.payload.to_vec(),
        )
        .marker(rtp.marker);
        stream.write_rtp(write);
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(&e);
            return;
        }
        self.drain(out);
    }

    /// When [`WebrtcLeg::handle_timeout`] is due (DTLS retransmission, RTCP reports,
    /// ICE consent); `None` on a failed leg.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failure.is_some() {
            return None;
        }
        self.next_timeout
    }

    /// Moves the leg's clock to `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<LegOut>) {
        if self.failure.is_some() {
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(&e);
            return;
        }
        self.drain(out);
    }

    fn fail(&mut self, error: &RtcError) {
        if self.failure.is_none() {
            self.failure = Some(match error {
                RtcError::RemoteSdp(why) => format!("DTLS: {why}"),
                other => format!("DTLS/ICE: {other}"),
            });
        }
        self.next_timeout = None;
    }

    /// Takes what str0m has to give until it next wants the time.
    fn drain(&mut self, out: &mut Vec<LegOut>) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.next_timeout = Some(at);
                    return;
                }
                Ok(Output::Transmit(t)) => out.push(LegOut::Transmit {
                    to: t.destination,
                    bytes: t.contents.to_vec(),
                }),
                Ok(Output::Event(event)) => match event {
                    Event::Connected => {
                        self.connected = true;
                        tracing::debug!(local = %self.local, "WebRTC leg connected (ICE and DTLS done)");
                    }
                    Event::RtpPacket(p) => out.push(LegOut::Rtp(plain_rtp(
                        p.header.marker,
                        *p.header.payload_type,
                        p.header.sequence_number,
                        p.header.timestamp,
                        *p.header.ssrc,
                        &p.payload,
                    ))),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        tracing::debug!(local = %self.local, "WebRTC leg: ICE disconnected");
                    }
                    _ => {}
                },
                Err(e) => {
                    self.fail(&e);
                    return;
                }
            }
        }
    }
}

/// The parts of a plain RTP packet (RFC 3550 §5.1) the leg passes on.
struct PlainRtp<'a> {
    marker: bool,
    pt: u8,
    seq: u16,
    timestamp: u32,
    payload: &'a [u8],
}

impl<'a> PlainRtp<'a> {
    /// Version 2, CSRCs and a header extension skipped, padding removed.
    fn parse(packet: &'a [u8]) -> Option<PlainRtp<'a>> {
        let first = *packet.first()?;
        if first >> 6 != 2 || packet.len() < 12 {
            return None;
        }
        let second = packet[1];
        let pt = second & 0x7f;
        if (72..=79).contains(&pt) {
            // RTCP multiplexed (RFC 5761 §4): not RTP.
            return None;
        }
        let csrcs = usize::from(first & 0x0f);
        let mut start = 12 + 4 * csrcs;
        if first & 0x10 != 0 {
            let words = packet.get(start + 2..start + 4)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        let mut end = packet.len();
        if first & 0x20 != 0 {
            let pad = usize::from(*packet.last()?);
            end = end.checked_sub(pad)?;
        }
        Some(PlainRtp {
            marker: second & 0x80 != 0,
            pt,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            payload: packet.get(start..end)?,
        })
    }
}

/// A 12-byte RTP header and `payload`.
fn plain_rtp(marker: bool, pt: u8, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(12 + payload.len());
    packet.push(0x80);
    packet.push(u8::from(marker) << 7 | (pt & 0x7f));
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// The extended sequence number of `seq` nearest to the last one (RFC 3711 §3.3.1's
/// index guess, without the rollover counter going below 0).
fn extend(last: Option<u64>, seq: u16) -> u64 {
    let Some(last) = last else {
        return u64::from(seq);
    };
    let roc = last >> 16;
    let candidates = [roc.checked_sub(1), Some(roc), roc.checked_add(1)];
    candidates
        .into_iter()
        .flatten()
        .map(|r| (r << 16) | u64::from(seq))
        .min_by_key(|c| c.abs_diff(last))
        .unwrap_or(u64::from(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_wraps() {
        assert_eq!(extend(None, 65535), 65535);
        assert_eq!(extend(Some(65535), 0), 65536);
        assert_eq!(extend(Some(65536), 65535), 65535);
        assert_eq!(extend(Some(3 << 16), 2), (3 << 16) | 2);
        assert_eq!(extend(Some(5), 3), 3);
    }

    #[test]
    fn plain_rtp_round_trip() {
        let packet = plain_rtp(true, 8, 7, 160, 0x1234, b"abc");
        let parsed = PlainRtp::parse(&packet).unwrap();
        assert!(parsed.marker);
        assert_eq!((parsed.pt, parsed.seq, parsed.timestamp), (8, 7, 160));
        assert_eq!(parsed.payload, b"abc");
        assert!(PlainRtp::parse(&[0x80, 200, 0, 1]).is_none());
        assert!(PlainRtp::parse(&[0x80, 72, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        let mut extended = plain_rtp(false, 0, 1, 2, 3, b"xy");
        extended[0] |= 0x10;
        assert!(
            PlainRtp::parse(&extended).is_none(),
            "extension header past the end"
        );
    }
}
