//! Fuzzes `rtcp::Compound::parse` on arbitrary datagrams: every accepted compound must walk
//! to the end (every packet, report block, SDES chunk and item, BYE source and reason, XR
//! block and VoIP Metrics block, which must re-encode to its own octets),
//! report blocks must re-encode to their own octets, and a `MediaStream` must take it. The
//! same bytes as SRTCP (RFC 3711 §3.4) under both suites: an error, never a panic, and an
//! accepted compound protects and unprotects back to itself.
#![no_main]

use std::time::{Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use rtp::rtcp::{
    Compound, ReportBlock, RtcpPacket, VoipMetrics, REPORT_BLOCK_LEN, XR_VOIP_METRICS,
};
use rtp::srtp::{CryptoSuite, MasterKey, SrtpContext};
use rtp::{MediaStream, StreamConfig};

fn check_block(block: ReportBlock) {
    let mut out = Vec::with_capacity(REPORT_BLOCK_LEN);
    block.encode(&mut out);
    assert_eq!(out.len(), REPORT_BLOCK_LEN);
    assert_eq!(ReportBlock::decode(&out), block);
}

fuzz_target!(|data: &[u8]| {
    let parsed = Compound::parse(data);
    if let Ok(compound) = parsed {
        assert_eq!(compound.as_bytes(), data);
        let mut count = 0;
        for packet in compound.packets() {
            count += 1;
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    let _ = (sr.ssrc(), sr.sender_info(), sr.extension());
                    sr.report_blocks().for_each(check_block);
                }
                RtcpPacket::ReceiverReport(rr) => {
                    let _ = (rr.ssrc(), rr.extension());
                    rr.report_blocks().for_each(check_block);
                }
                RtcpPacket::SourceDescription(sdes) => {
                    for chunk in sdes.chunks() {
                        let _ = chunk.cname();
                        for item in chunk.items() {
                            assert!(item.kind != 0 && item.value.len() <= 255);
                        }
                    }
                }
                RtcpPacket::Bye(bye) => {
                    let _ = bye.sources().count();
                    let _ = bye.reason();
                }
                RtcpPacket::ExtendedReport(xr) => {
                    let _ = xr.ssrc();
                    for block in xr.blocks() {
                        if block.block_type != XR_VOIP_METRICS {
                            continue;
                        }
                        if let Some(vm) = VoipMetrics::decode(block.contents) {
                            let mut out = Vec::new();
                            vm.encode(&mut out);
                            assert_eq!(VoipMetrics::decode(&out[4..]), Some(vm));
                        } else {
                            assert!(block.contents.len() < 32);
                        }
                    }
                    let _ = xr.voip_metrics();
                }
                _ => {}
            }
        }
        assert!(count >= 1, "a valid compound has a first report");
    }
    let t = Instant::now();
    let config = StreamConfig::new(1, 2, 3, 0, "fuzz@example.com");
    let Ok(mut stream) = MediaStream::new(config, t, SystemTime::UNIX_EPOCH) else {
        return;
    };
    let received = stream.receive_rtcp(t, SystemTime::UNIX_EPOCH, data);
    assert_eq!(received.is_ok(), parsed.is_ok());
    let _ = stream.report();

    let key = MasterKey::from_bytes([7; 30]);
    for suite in CryptoSuite::ALL {
        let contexts = SrtpContext::new(suite, &key).and_then(|tx| {
            let rx = SrtpContext::new(suite, &key)?;
            Ok((tx, rx))
        });
        let Ok((mut tx, mut rx)) = contexts else {
            panic!("no SRTP context for {suite}");
        };
        assert!(rx.unprotect_rtcp(data).is_err(), "forged SRTCP accepted");
        if parsed.is_ok() {
            if let Ok(protected) = tx.protect_rtcp(data) {
                let back = rx.unprotect_rtcp(&protected).expect("our own SRTCP packet");
                assert_eq!(back, data);
            }
        }
    }
});
