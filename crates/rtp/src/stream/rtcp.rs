//! The RTCP side of a [`MediaStream`]: report timing, our compound reports, and what the
//! remote's reports tell (RFC 3550 §6).

use std::time::{Duration, Instant, SystemTime};

use super::{MediaStream, RemoteView, RtcpReceived};
use crate::error::Error;
use crate::ntp::NtpTimestamp;
use crate::rtcp::{Compound, CompoundReport, RtcpPacket, SenderInfo};
use crate::stats::round_trip_time;

impl MediaStream {
    /// The wall-clock time of `now` as NTP.
    fn ntp_at(&self, now: Instant) -> NtpTimestamp {
        let (at, wall) = self.anchor;
        let time = if now >= at {
            wall.checked_add(now - at)
        } else {
            wall.checked_sub(at - now)
        };
        NtpTimestamp::from_system_time(time.unwrap_or(wall))
    }

    /// The next report interval (see the module documentation).
    pub(super) fn report_interval(&mut self) -> Duration {
        let base = self.config.rtcp_interval;
        let Some(state) = self.rng.as_mut() else {
            return base;
        };
        // xorshift64*: a uniform factor in [0.5, 1.5).
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        let unit = bits as f64 / (1u64 << 53) as f64;
        let compensation = std::f64::consts::E - 1.5;
        base.mul_f64((0.5 + unit) / compensation)
    }

    /// Our compound report at `now` (RFC 3550 §6.1): SR if we sent since the last one, else
    /// RR; a report block about the remote source; SDES CNAME; BYE when closing.
    pub(super) fn build_report(&mut self, now: Instant, bye: bool) -> Vec<u8> {
        let mut blocks = Vec::with_capacity(1);
        if let (Some(ssrc), Some(stats)) = (self.remote_ssrc, self.receiver.as_mut()) {
            if stats.is_valid() {
                blocks.push(stats.report_block(ssrc, now));
            }
        }
        let sender_info = self.sent_since_report.then(|| SenderInfo {
            ntp: self.ntp_at(now),
            rtp_timestamp: self.timestamp_at(now),
            packet_count: self.sender.packets as u32,
            octet_count: self.sender.octets as u32,
        });
        self.sent_since_report = false;
        let report = CompoundReport {
            ssrc: self.config.ssrc,
            sender_info,
            report_blocks: &blocks,
            cname: &self.config.cname,
            bye,
            bye_reason: None,
        };
        // Cannot fail: one block, a CNAME checked by `new`.
        report.to_vec().unwrap_or_default()
    }

    /// Takes an RTCP datagram that arrived at `now`, when the wall clock read `wall`.
    pub fn receive_rtcp(
        &mut self,
        now: Instant,
        wall: SystemTime,
        bytes: &[u8],
    ) -> Result<RtcpReceived, Error> {
        let compound = Compound::parse(bytes)?;
        self.anchor = (now, wall);
        let arrival = self.ntp_at(now);
        let mut found = RtcpReceived::default();
        for packet in compound.packets() {
            let blocks = match packet {
                RtcpPacket::SenderReport(sr) => {
                    if Some(sr.ssrc()) == self.remote_ssrc {
                        if let Some(stats) = self.receiver.as_mut() {
                            stats.on_sender_report(now, sr.sender_info().ntp);
                        }
                        found.sender_report = true;
                    }
                    Some(sr.report_blocks())
                }
                RtcpPacket::ReceiverReport(rr) => Some(rr.report_blocks()),
                RtcpPacket::SourceDescription(sdes) => {
                    if let Some(cname) = self.remote_ssrc.and_then(|s| sdes.cname_of(s)) {
                        self.remote_cname = Some(String::from_utf8_lossy(cname).into_owned());
                    }
                    None
                }
                RtcpPacket::Bye(bye) => {
                    if bye.sources().any(|s| Some(s) == self.remote_ssrc) {
                        self.remote_bye = true;
                        found.bye = true;
                    }
                    None
                }
                _ => None,
            };
            for block in blocks.into_iter().flatten() {
                if block.ssrc != self.config.ssrc {
                    continue;
                }
                found.report_about_us = true;
                self.remote_view = Some(RemoteView { block });
                if let Some(rtt) = round_trip_time(arrival, &block) {
                    self.rtt = Some(rtt);
                    found.rtt = Some(rtt);
                }
            }
        }
        Ok(found)
    }
}
