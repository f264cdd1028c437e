//! The text of a scrape from known counts and readings.

use super::*;
use crate::policy::hook::Direction;
use crate::writer_thread::WriterStats;

fn status() -> Status {
    Status {
        version: "0.1.0".into(),
        node: "node-\"1\"".into(),
        started: "2025-01-01T00:00:00.000Z".into(),
        uptime_secs: 5,
        listeners: vec!["udp:127.0.0.1:5060".into()],
        domains: 1,
        registered_aors: 2,
        registered_contacts: 3,
        transactions: 4,
        proxied: 5,
        waiting_for_io: 6,
        live_calls: 7,
        relay: "in-process".into(),
        relay_sessions: Some(1),
        store: "sqlite".into(),
        capture: false,
        queued_bindings: 0,
        queued_call_records: 0,
    }
}

fn metrics(relay_lost: Arc<AtomicU64>) -> (Arc<SipCounts>, Metrics) {
    let counts = Arc::new(SipCounts::default());
    let writer = Arc::new(WriterStats::default());
    writer.commits.observe(std::time::Duration::from_millis(3));
    let metrics = Metrics::new(counts.clone(), move || Readings {
        status: status(),
        auth_failures: 9,
        relay: Some(relay::RelayTotals {
            sessions: 2,
            packets: 100,
            bytes: 17_200,
            errors: 1,
            lost: relay_lost.load(Ordering::Relaxed),
        }),
        writers: vec![("location", writer.clone())],
        dns: locate::LookupKind::ALL.map(|k| (k, 3, 1)),
    });
    (counts, metrics)
}

/// The value of the sample whose line starts with `series ` (name and labels).
fn value(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(str::to_owned)
}

#[test]
fn a_scrape_has_every_family_with_help_and_type() {
    let lost = Arc::new(AtomicU64::new(4));
    let (counts, metrics) = metrics(lost.clone());
    counts.count(Direction::In, b"REGISTER sip:example.com SIP/2.0\r\n");
    counts.count(Direction::In, b"REGISTER sip:example.com SIP/2.0\r\n");
    counts.count(Direction::Out, b"SIP/2.0 401 Unauthorized\r\n");
    counts.count(Direction::Out, b"SIP/2.0 200 OK\r\n");
    counts.count(Direction::In, b"\x00\x01binary");
    let text = metrics.render();
    for (series, want) in [
        ("itsp_core_rcv_request_total{method=\"register\"}", "2"),
        ("itsp_core_rcv_request_total{method=\"invite\"}", "0"),
        ("itsp_core_rcv_request_total{method=\"other\"}", "0"),
        ("itsp_core_snd_reply_total{code=\"200\"}", "1"),
        ("itsp_core_snd_reply_total{code=\"401\"}", "1"),
        ("itsp_core_bad_msg_total", "1"),
        ("itsp_dialogs_total{event=\"started\"}", "0"),
        (
            "itsp_build_info{version=\"0.1.0\",node=\"node-\\\"1\\\"\"}",
            "1",
        ),
        ("itsp_tm_transactions", "4"),
        ("itsp_tm_proxied", "5"),
        ("itsp_tm_waiting", "6"),
        ("itsp_dialogs_active", "7"),
        ("itsp_usrloc_contacts", "3"),
        ("itsp_usrloc_aors", "2"),
        ("itsp_auth_failures_total", "9"),
        ("itsp_relay_sessions", "1"),
        ("itsp_relay_sessions_total", "2"),
        ("itsp_relay_packets_total", "100"),
        ("itsp_relay_bytes_total", "17200"),
        ("itsp_relay_lost_packets_total", "4"),
        ("itsp_store_writer_queue_depth{writer=\"location\"}", "0"),
        (
            "itsp_store_writer_commit_seconds_bucket{writer=\"location\",le=\"0.005\"}",
            "1",
        ),
        (
            "itsp_store_writer_commit_seconds_bucket{writer=\"location\",le=\"+Inf\"}",
            "1",
        ),
        (
            "itsp_store_writer_commit_seconds_count{writer=\"location\"}",
            "1",
        ),
        ("itsp_dns_lookups_total{type=\"srv\"}", "3"),
        ("itsp_dns_failed_request_total{type=\"naptr\"}", "1"),
    ] {
        assert_eq!(
            value(&text, series).as_deref(),
            Some(want),
            "{series} in\n{text}"
        );
    }
    assert!(value(&text, "itsp_core_snd_reply_total{code=\"404\"}").is_none());
    // Every sample belongs to a family announced with HELP and TYPE just before it.
    let mut family = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            family = rest.split(' ').next().unwrap().to_owned();
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| *b == family))
                .unwrap_or(name);
            assert_eq!(base, family, "{line}");
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
        }
    }
    // The relay's loss as a counter never goes back.
    lost.store(3, Ordering::Relaxed);
    let text = metrics.render();
    assert_eq!(
        value(&text, "itsp_relay_lost_packets_total").as_deref(),
        Some("4")
    );
}

#[test]
fn without_the_in_process_relay_there_are_no_relay_families() {
    let counts = Arc::new(SipCounts::default());
    let metrics = Metrics::new(counts, || Readings {
        status: Status {
            relay: "off".into(),
            relay_sessions: None,
            ..status()
        },
        auth_failures: 0,
        relay: None,
        writers: Vec::new(),
        dns: locate::LookupKind::ALL.map(|k| (k, 0, 0)),
    });
    assert!(!metrics.render().contains("itsp_relay_"));
}
