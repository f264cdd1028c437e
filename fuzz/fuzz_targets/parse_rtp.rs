//! Fuzzes `RtpPacket::parse` on arbitrary datagrams: every accepted packet must read all its
//! fields, rebuild to the same header octets (and the same length) through `RtpHeader`, and
//! go through a `MediaStream`'s receive path (statistics, jitter buffer, event receiver)
//! without a panic. The same bytes as SRTP (RFC 3711) under both suites: an error, never a
//! panic (they carry no valid tag), and an accepted packet protects and unprotects back to
//! itself.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use rtp::event::TelephoneEvent;
use rtp::srtp::{CryptoSuite, MasterKey, SrtpContext};
use rtp::{MediaStream, RtpPacket, StreamConfig};

fuzz_target!(|data: &[u8]| {
    let parsed = RtpPacket::parse(data);
    if let Ok(p) = parsed {
        let _ = (p.version(), p.has_padding(), p.marker(), p.payload_type());
        let _ = (p.sequence(), p.timestamp(), p.ssrc(), p.csrc_count());
        let _ = p.csrcs().count();
        if let Some(ext) = p.extension() {
            assert_eq!(ext.data.len() % 4, 0);
        }
        assert_eq!(p.header_len() + p.payload().len() + p.padding_len(), data.len());
        let mut csrcs = Vec::new();
        let rebuilt = p
            .header(&mut csrcs)
            .to_vec(p.payload())
            .expect("an accepted header can be written");
        assert_eq!(rebuilt.len(), data.len());
        assert_eq!(rebuilt[..p.header_len()], data[..p.header_len()]);
        assert_eq!(rebuilt.last(), data.last());
        let _ = TelephoneEvent::decode(p.payload());
    }

    // The same bytes through a stream, twice (the second time as a duplicate), with the
    // payload types it listens to: 0 audio, 101 events.
    let t = Instant::now();
    let config = StreamConfig::new(1, 2, 3, 0, "fuzz@example.com");
    let Ok(mut stream) = MediaStream::new(config, t, SystemTime::UNIX_EPOCH) else {
        return;
    };
    let first = stream.receive_rtp(t, data);
    if parsed.is_err() {
        assert!(first.is_err(), "the stream took a packet the parser refused");
    }
    let _ = stream.receive_rtp(t + Duration::from_millis(20), data);
    for tick in 0..20u32 {
        let now = t + Duration::from_millis(20 * u64::from(tick));
        let _ = stream.pop_audio(now);
        while stream.poll_event(now).is_some() {}
        while stream.poll_transmit(now).is_some() {}
    }
    let report = stream.report();
    assert!(report.loss_percent >= 0.0);

    let key = MasterKey::from_bytes([7; 30]);
    for suite in CryptoSuite::ALL {
        let contexts = SrtpContext::new(suite, &key).and_then(|tx| {
            let rx = SrtpContext::new(suite, &key)?;
            Ok((tx, rx))
        });
        let Ok((mut tx, mut rx)) = contexts else {
            panic!("no SRTP context for {suite}");
        };
        assert!(rx.unprotect_rtp(data).is_err(), "forged SRTP accepted");
        if parsed.is_ok() {
            if let Ok(protected) = tx.protect_rtp(data) {
                let back = rx.unprotect_rtp(&protected).expect("our own SRTP packet");
                assert_eq!(back, data);
            }
        }
    }
});
