//! HEP RTCP reports (protocol type 5): what a relayed call's media was like, per party,
//! as JSON a HOMER collector files under the call (correlation ID = the SIP Call-ID).
//!
//! The JSON is the shape HOMER's capture agent writes for an RTCP packet and
//! heplify-server reads: `RTCP_Packet` of sipcapture/heplify (`src/decoder/rtcp.go`,
//! `rtcpPacketJSON`, "mirrors heplify v1.67.1 protos/rtcp.go", commit 8d33a945): `type`,
//! `ssrc`, `report_count`, `sender_information` {`ntp_timestamp_sec`,
//! `ntp_timestamp_usec` (the NTP fraction word, as heplify writes it), `rtp_timestamp`,
//! `packets`, `octets`}, `report_blocks` [{`source_ssrc`, `fraction_lost`,
//! `packets_lost`, `highest_seq_no`, `ia_jitter`, `lsr`, `dlsr`}], `report_blocks_xr`
//! {`type`, `id`, `fraction_lost`, `fraction_discard`, `burst_density`, `gap_density`,
//! `burst_duration`, `gap_duration`, `round_trip_delay`, `end_system_delay`} (RFC 3611
//! §4.7, zeros when absent) and `sdes_ssrc`. heplify-server (sipcapture/heplify-server
//! `metric/definition.go` `rtcpPaths` and `metric/dissect.go` `dissectRTCPStats`, commit
//! 0112e4dd) reads `report_blocks[0].fraction_lost`, `.packets_lost`, `.ia_jitter`,
//! `.dlsr` and the `report_blocks_xr` fields from a type-5 payload, and stores the
//! payload with its correlation ID (`database/postgres.go`: `hep_proto_5_default`).
//!
//! The reports of a party:
//!
//! - **its own RTCP**, each compound as the in-process relay read it pass
//!   ([`sighting`], taken from the relay every 250 ms by the shell): its SR or RR (what
//!   it received: the other party's stream through the relay, RFC 3550 §6.4) and its
//!   last XR VoIP Metrics, from the party's address to the relay's. (Without the live
//!   sightings, its last one at the session's end: [`reports`] `with_party_rtcp`.)
//! - **the relay's reception of its RTP**, when the relay session ends ([`reports`]): an
//!   RR (type 201) from the relay (SSRC 0: the relay sends no RTP) with one block about
//!   the party's SSRC — loss over the whole call as the fraction, the cumulative loss,
//!   the extended highest sequence number, the jitter in timestamp units (0 when the
//!   payload type is not rated), LSR and DLSR 0 — from the relay's address to the
//!   party's.

use std::net::SocketAddr;

use relay::{CallCounters, PartyReport, RtcpSighting};
use rtp::rtcp::{ReportBlock, PT_RR, PT_SR};
use serde::Serialize;

/// HEP protocol type 5: RTCP, JSON (chunk 0x000b).
pub(crate) const PROTOCOL_RTCP: u8 = 5;

/// One HEP type-5 packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QualityReport {
    /// The SIP Call-ID (chunk 0x0011).
    pub(crate) call_id: String,
    /// When (Unix milliseconds).
    pub(crate) unix_ms: u64,
    /// Who reported.
    pub(crate) source: SocketAddr,
    /// To whom.
    pub(crate) destination: SocketAddr,
    /// The JSON (chunk 0x000f).
    pub(crate) json: String,
}

impl QualityReport {
    /// Fills in the relay's address when it listens on every address and advertises
    /// none (each party was told the address facing it): the address the routing table
    /// uses toward the party, as for the SIP messages ([`super::Captured::resolve_local`]).
    pub(crate) fn resolve_relay(
        &mut self,
        network: &mut dyn crate::engine::addresses::HostNetwork,
    ) {
        let (source, destination) = (self.source, self.destination);
        for (relay, party) in [
            (&mut self.source, destination),
            (&mut self.destination, source),
        ] {
            if relay.ip().is_unspecified() && !party.ip().is_unspecified() {
                if let Some(ip) = network.outbound_ip(party.ip()) {
                    relay.set_ip(ip);
                }
            }
        }
    }
}

#[derive(Serialize)]
struct RtcpPacket {
    sender_information: SenderInformation,
    ssrc: u32,
    #[serde(rename = "type")]
    kind: u8,
    report_count: usize,
    report_blocks: Vec<Block>,
    report_blocks_xr: XrBlock,
    sdes_ssrc: u32,
}

#[derive(Serialize, Default)]
struct SenderInformation {
    ntp_timestamp_sec: u32,
    ntp_timestamp_usec: u32,
    rtp_timestamp: u32,
    packets: u32,
    octets: u32,
}

#[derive(Serialize)]
struct Block {
    source_ssrc: u32,
    fraction_lost: u8,
    packets_lost: u32,
    highest_seq_no: u32,
    ia_jitter: u32,
    lsr: u32,
    dlsr: u32,
}

impl From<&ReportBlock> for Block {
    fn from(b: &ReportBlock) -> Block {
        Block {
            source_ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            // heplify writes the 24-bit field unsigned; a negative loss (duplicates) is 0.
            packets_lost: u32::try_from(b.cumulative_lost).unwrap_or(0),
            highest_seq_no: b.highest_sequence,
            ia_jitter: b.jitter,
            lsr: b.last_sr,
            dlsr: b.delay_since_last_sr,
        }
    }
}

#[derive(Serialize, Default)]
struct XrBlock {
    #[serde(rename = "type")]
    kind: u8,
    id: u32,
    fraction_lost: u8,
    fraction_discard: u8,
    burst_density: u8,
    gap_density: u8,
    burst_duration: u16,
    gap_duration: u16,
    round_trip_delay: u16,
    end_system_delay: u16,
}

/// The reports of a call whose relay session ended (see the module doc), the parties'
/// own RTCP only with `with_party_rtcp` (not sent live already); nothing for a party the
/// relay has no report of (a remote NG node's counters).
pub(crate) fn reports(
    call_id: &str,
    counters: &CallCounters,
    unix_ms: u64,
    with_party_rtcp: bool,
) -> Vec<QualityReport> {
    let mut out = Vec::new();
    for party in &counters.parties {
        let Some(report) = &party.report else {
            continue;
        };
        let (Some(party_address), Some(relay_address)) = (report.source, report.relay) else {
            continue;
        };
        let mut push = |source, destination, packet: RtcpPacket| {
            if let Ok(json) = serde_json::to_string(&packet) {
                out.push(QualityReport {
                    call_id: call_id.to_owned(),
                    unix_ms,
                    source,
                    destination,
                    json,
                });
            }
        };
        if let Some(packet) = party_rtcp(report).filter(|_| with_party_rtcp) {
            push(party_address, relay_address, packet);
        }
        if let Some(block) = &report.relay_block {
            push(relay_address, party_address, relay_reception(block));
        }
    }
    out
}

/// The report of one RTCP compound the relay read as it passed: the party's SR or RR
/// (and its last XR), from the party to the relay.
pub(crate) fn sighting(sighting: &RtcpSighting, unix_ms: u64) -> Option<QualityReport> {
    let report = &sighting.report;
    let packet = party_rtcp(report)?;
    let json = serde_json::to_string(&packet).ok()?;
    Some(QualityReport {
        call_id: sighting.call_id.clone(),
        unix_ms,
        source: report.source?,
        destination: report.relay?,
        json,
    })
}

/// The party's last SR or RR and XR, as it sent them.
fn party_rtcp(report: &PartyReport) -> Option<RtcpPacket> {
    let seen = &report.seen;
    if seen.compounds == 0 {
        return None;
    }
    let sender_information = match (seen.last_type, seen.sender_info) {
        (PT_SR, Some(info)) => SenderInformation {
            ntp_timestamp_sec: info.ntp.seconds(),
            ntp_timestamp_usec: info.ntp.fraction(),
            rtp_timestamp: info.rtp_timestamp,
            packets: info.packet_count,
            octets: info.octet_count,
        },
        _ => SenderInformation::default(),
    };
    let report_blocks: Vec<Block> = seen.blocks.iter().map(Block::from).collect();
    let report_blocks_xr = seen
        .voip_metrics
        .map(|vm| XrBlock {
            kind: rtp::rtcp::XR_VOIP_METRICS,
            id: vm.ssrc,
            fraction_lost: vm.loss_rate,
            fraction_discard: vm.discard_rate,
            burst_density: vm.burst_density,
            gap_density: vm.gap_density,
            burst_duration: vm.burst_duration,
            gap_duration: vm.gap_duration,
            round_trip_delay: vm.round_trip_delay,
            end_system_delay: vm.end_system_delay,
        })
        .unwrap_or_default();
    Some(RtcpPacket {
        sender_information,
        ssrc: seen.ssrc,
        kind: if seen.last_type == PT_SR {
            PT_SR
        } else {
            PT_RR
        },
        report_count: report_blocks.len(),
        report_blocks,
        report_blocks_xr,
        sdes_ssrc: seen.ssrc,
    })
}

/// The relay's reception of the party's RTP as an RR from SSRC 0.
fn relay_reception(block: &ReportBlock) -> RtcpPacket {
    RtcpPacket {
        sender_information: SenderInformation::default(),
        ssrc: 0,
        kind: PT_RR,
        report_count: 1,
        report_blocks: vec![Block::from(block)],
        report_blocks_xr: XrBlock::default(),
        sdes_ssrc: 0,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use relay::rtcp::RtcpSeen;
    use relay::PartyCounters;
    use rtp::ntp::NtpTimestamp;
    use rtp::rtcp::{write_sender_report, SenderInfo, VoipMetrics};

    #[test]
    fn a_partys_rtcp_and_the_relays_reception_in_heplifys_shape() {
        let t = std::time::Instant::now();
        let block = ReportBlock {
            ssrc: 0xaabb,
            fraction_lost: 12,
            cumulative_lost: 40,
            highest_sequence: 70_000,
            jitter: 96,
            last_sr: 0x1111_2222,
            delay_since_last_sr: 3000,
        };
        let mut bytes = Vec::new();
        let info = SenderInfo {
            ntp: NtpTimestamp::from_parts(3_900_000_000, 0x8000_0000),
            rtp_timestamp: 1234,
            packet_count: 900,
            octet_count: 144_000,
        };
        write_sender_report(&mut bytes, 0x5151, &info, &[block]).unwrap();
        // An XR with a VoIP Metrics block (RFC 3611 §4.7).
        let vm = VoipMetrics {
            ssrc: 0xaabb,
            loss_rate: 7,
            round_trip_delay: 180,
            end_system_delay: 40,
            ..VoipMetrics::default()
        };
        let mut xr = vec![0x80, 207, 0, 10, 0, 0, 0x51, 0x51];
        vm.encode(&mut xr);
        bytes.extend_from_slice(&xr);
        let mut seen = RtcpSeen::default();
        seen.on_datagram(t, &bytes, &RtcpSeen::default());
        let relay_block = ReportBlock {
            ssrc: 0x5151,
            cumulative_lost: 3,
            highest_sequence: 999,
            fraction_lost: 1,
            ..ReportBlock::default()
        };
        let counters = CallCounters {
            parties: vec![
                PartyCounters {
                    tag: "a".into(),
                    report: Some(PartyReport {
                        source: Some("198.51.100.7:40001".parse().unwrap()),
                        relay: Some("203.0.113.5:30001".parse().unwrap()),
                        seen,
                        relay_block: Some(relay_block),
                    }),
                    ..PartyCounters::default()
                },
                // A remote node's counters: no report.
                PartyCounters::default(),
            ],
            ..CallCounters::default()
        };
        let out = reports("c@h", &counters, 1_700_000_000_000, true);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.call_id == "c@h"));
        let party: serde_json::Value = serde_json::from_str(&out[0].json).unwrap();
        assert_eq!(out[0].source.to_string(), "198.51.100.7:40001");
        assert_eq!(out[0].destination.to_string(), "203.0.113.5:30001");
        assert_eq!(party["type"], 200);
        assert_eq!(party["ssrc"], 0x5151);
        assert_eq!(party["report_count"], 1);
        assert_eq!(
            party["sender_information"]["ntp_timestamp_sec"],
            3_900_000_000u32
        );
        assert_eq!(
            party["sender_information"]["ntp_timestamp_usec"],
            0x8000_0000u32
        );
        assert_eq!(party["sender_information"]["packets"], 900);
        assert_eq!(party["sender_information"]["octets"], 144_000);
        let b = &party["report_blocks"][0];
        assert_eq!(b["source_ssrc"], 0xaabb);
        assert_eq!(b["fraction_lost"], 12);
        assert_eq!(b["packets_lost"], 40);
        assert_eq!(b["highest_seq_no"], 70_000);
        assert_eq!(b["ia_jitter"], 96);
        assert_eq!(b["lsr"], 0x1111_2222);
        assert_eq!(b["dlsr"], 3000);
        let x = &party["report_blocks_xr"];
        assert_eq!(x["type"], 7);
        assert_eq!(x["id"], 0xaabb);
        assert_eq!(x["fraction_lost"], 7);
        assert_eq!(x["round_trip_delay"], 180);
        assert_eq!(x["end_system_delay"], 40);
        assert_eq!(party["sdes_ssrc"], 0x5151);
        let relay: serde_json::Value = serde_json::from_str(&out[1].json).unwrap();
        assert_eq!(out[1].source.to_string(), "203.0.113.5:30001");
        assert_eq!(relay["type"], 201);
        assert_eq!(relay["ssrc"], 0);
        assert_eq!(relay["report_blocks"][0]["source_ssrc"], 0x5151);
        assert_eq!(relay["report_blocks"][0]["packets_lost"], 3);
        assert_eq!(relay["report_blocks_xr"]["type"], 0);
        // A party that sent no RTCP: the relay's report alone.
        let mut quiet = counters.clone();
        if let Some(r) = quiet.parties[0].report.as_mut() {
            r.seen = RtcpSeen::default();
        }
        assert_eq!(reports("c@h", &quiet, 0, true).len(), 1);
        // Sent live already: the relay's report alone.
        assert_eq!(reports("c@h", &counters, 0, false).len(), 1);
        // The same party report, live.
        let live = RtcpSighting {
            call_id: "c@h".into(),
            report: PartyReport {
                relay_block: None,
                ..counters.parties[0].report.clone().unwrap()
            },
        };
        let report = sighting(&live, 5).unwrap();
        assert_eq!(report.json, out[0].json);
        assert_eq!(
            (report.source, report.destination),
            (out[0].source, out[0].destination)
        );
    }

    /// A network that routes everything from 192.0.2.1.
    struct OneRoute;

    impl crate::engine::addresses::HostNetwork for OneRoute {
        fn is_local_ip(&mut self, ip: std::net::IpAddr) -> bool {
            ip.to_string() == "192.0.2.1"
        }
        fn outbound_ip(&mut self, _dest: std::net::IpAddr) -> Option<std::net::IpAddr> {
            "192.0.2.1".parse().ok()
        }
        fn interface_ip(&mut self, _like: std::net::IpAddr) -> Option<std::net::IpAddr> {
            "192.0.2.1".parse().ok()
        }
    }

    #[test]
    fn an_unspecified_relay_address_is_the_one_toward_the_party() {
        let mut report = QualityReport {
            call_id: "c".into(),
            unix_ms: 0,
            source: "0.0.0.0:30001".parse().unwrap(),
            destination: "198.51.100.7:40001".parse().unwrap(),
            json: String::new(),
        };
        report.resolve_relay(&mut OneRoute);
        assert_eq!(report.source.to_string(), "192.0.2.1:30001");
        assert_eq!(report.destination.to_string(), "198.51.100.7:40001");
        // From the party: the destination is filled in; a known address stays.
        let mut report = QualityReport {
            source: "198.51.100.7:40001".parse().unwrap(),
            destination: "0.0.0.0:30001".parse().unwrap(),
            ..report
        };
        report.resolve_relay(&mut OneRoute);
        assert_eq!(report.destination.to_string(), "192.0.2.1:30001");
        let mut known = report.clone();
        known.destination = "203.0.113.5:30001".parse().unwrap();
        known.resolve_relay(&mut OneRoute);
        assert_eq!(known.destination.to_string(), "203.0.113.5:30001");
    }
}
