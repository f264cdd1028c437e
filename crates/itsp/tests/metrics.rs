//! `/metrics` of `itsp serve` under a known load: a phone registers (two REGISTERs — the
//! challenged one and the answer —, a 401 and a 200 sent, one contact of one AoR), a wrong
//! password fails once, and two `itsp phone`s make a call (started, answered, ended; no
//! call left). The counters move by those amounts, and every scrape passes
//! `promtool check metrics` (Debian `prometheus`). `--no-http --metrics-listen` serves them
//! alone; `[http] metrics = false` takes them off the portal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::softphone::Softphone;
use common::{as_strs, DataDir, Itsp, Phone, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

/// `GET /metrics`: the status and the body.
fn scrape_at(addr: SocketAddr) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    if status == 200 {
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{head}"
        );
    }
    (status, body.to_owned())
}

/// Runs `promtool check metrics` on `text` and fails with what it says.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every sample of a scrape by its series (`name{labels}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// A checked scrape of `server`'s portal.
fn scrape(server: &Itsp) -> HashMap<String, f64> {
    let (status, text) = scrape_at(server.http.expect("the portal listens"));
    assert_eq!(status, 200, "{text}");
    promtool_check(&text);
    samples(&text)
}

fn get(s: &HashMap<String, f64>, series: &str) -> f64 {
    *s.get(series)
        .unwrap_or_else(|| panic!("{series} not in the scrape: {s:?}"))
}

/// How much `series` moved from `before` to `after` (absent before: from 0).
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    get(after, series) - before.get(series).copied().unwrap_or(0.0)
}

/// Scrapes until `done` holds (a call's end reaches the server a little after the phone
/// exits).
fn scrape_until(
    server: &Itsp,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = scrape(server);
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "not reached: {s:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn counters_move_by_a_known_load_and_promtool_accepts_the_scrape() {
    let data = DataDir::with_users(&[
        ("alice", "a-secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
    ]);
    let server = Itsp::start(&as_strs(&data.args()));
    let start = scrape(&server);
    assert_eq!(get(&start, "itsp_usrloc_contacts"), 0.0);
    assert_eq!(
        get(&start, "itsp_core_rcv_request_total{method=\"register\"}"),
        0.0
    );
    assert!(get(&start, "process_resident_memory_bytes") > 0.0);
    assert!(get(&start, "process_open_fds") > 0.0);

    // A registration: REGISTER → 401, REGISTER with credentials → 200.
    let mut carol = Phone::new(server.udp, "carol", "c-secret");
    let ok = carol.register(&format!(
        "Contact: <{}>\r\nExpires: 600\r\n",
        carol.contact()
    ));
    assert_eq!(ok.status(), Some(200));
    let registered = scrape(&server);
    for (series, by) in [
        ("itsp_core_rcv_request_total{method=\"register\"}", 2.0),
        ("itsp_core_snd_reply_total{code=\"401\"}", 1.0),
        ("itsp_core_snd_reply_total{code=\"200\"}", 1.0),
        ("itsp_auth_failures_total", 0.0),
    ] {
        assert_eq!(moved(&start, &registered, series), by, "{series}");
    }
    assert_eq!(get(&registered, "itsp_usrloc_contacts"), 1.0);
    assert_eq!(get(&registered, "itsp_usrloc_aors"), 1.0);
    // The 200 goes out before the location writer commits the binding (write-behind), so
    // the commit shows in a later scrape.
    scrape_until(&server, |s| {
        get(
            s,
            "itsp_store_writer_commit_seconds_count{writer=\"location\"}",
        ) >= 1.0
    });

    // A wrong password: one failed authentication.
    let mut mallory = Phone::at("127.0.0.2", server.udp, "carol", "wrong");
    let refused = mallory.register(&format!("Contact: <{}>\r\n", mallory.contact()));
    assert_eq!(refused.status(), Some(401));
    let failed = scrape(&server);
    assert_eq!(moved(&registered, &failed, "itsp_auth_failures_total"), 1.0);
    assert_eq!(get(&failed, "itsp_usrloc_contacts"), 1.0);

    // A call between two itsp phones.
    let mut alice = Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "1", "--calls", "1", "answer"],
    );
    alice.wait_event("waiting", WAIT);
    let mut bob = Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["call", &format!("sip:alice@{DOMAIN}")],
    );
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success());
    assert!(alice.wait_exit(WAIT).success());
    // The call's records are committed after the call ends, by the writer thread.
    let called = scrape_until(&server, |s| {
        s.get("itsp_dialogs_total{event=\"ended\"}") == Some(&1.0)
            && s.get("itsp_dialogs_active") == Some(&0.0)
            && get(
                s,
                "itsp_store_writer_commit_seconds_count{writer=\"calls\"}",
            ) >= 1.0
    });
    for (series, by) in [
        ("itsp_dialogs_total{event=\"started\"}", 1.0),
        ("itsp_dialogs_total{event=\"answered\"}", 1.0),
        ("itsp_dialogs_total{event=\"failed\"}", 0.0),
        ("itsp_dialogs_total{event=\"ended\"}", 1.0),
    ] {
        assert_eq!(moved(&failed, &called, series), by, "{series}");
    }
    // The INVITE reached us once or more (a retransmission counts again), was sent on
    // once or more, and so were the ACK and the BYE.
    for series in [
        "itsp_core_rcv_request_total{method=\"invite\"}",
        "itsp_core_snd_request_total{method=\"invite\"}",
        "itsp_core_rcv_request_total{method=\"ack\"}",
        "itsp_core_rcv_request_total{method=\"bye\"}",
        "itsp_core_snd_request_total{method=\"bye\"}",
    ] {
        assert!(moved(&failed, &called, series) >= 1.0, "{series}");
    }
    assert!(
        get(&called, "itsp_core_rcv_reply_total{code=\"200\"}") >= 2.0,
        "the 200s of INVITE and BYE"
    );
    assert_eq!(get(&called, "itsp_core_bad_msg_total"), 0.0);
    assert_eq!(get(&called, "itsp_tm_waiting"), 0.0);
}

/// Every metric the Grafana dashboard in `contrib/grafana/` queries is one the server
/// exports (the relay's too: `itsp serve` runs the in-process relay by default).
#[test]
fn the_dashboard_queries_metrics_that_exist() {
    let dashboard =
        std::fs::read_to_string(common::repo_root().join("contrib/grafana/itsp-dashboard.json"))
            .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert_eq!(parsed["title"], "itsp");
    let data = DataDir::with_users(&[]);
    let server = Itsp::start(&as_strs(&data.args()));
    let (_, text) = scrape_at(server.http.unwrap());
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut queried = 0;
    for prefix in ["itsp_", "process_"] {
        for (at, _) in dashboard.match_indices(prefix) {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // A histogram's series: `_bucket`, `_sum` and `_count` of its family.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|f| families.contains(f))
                .unwrap_or(&name);
            assert!(
                families.contains(&family),
                "{family} is not exported: {families:?}"
            );
            queried += 1;
        }
    }
    assert!(queried > 20, "{queried} metrics queried");
}

#[test]
fn metrics_alone_with_the_portal_off_and_off_the_portal_when_asked() {
    let data = DataDir::with_users(&[]);
    let mut args = data.args();
    args.extend([
        "--no-http".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
    ]);
    let server = Itsp::start(&as_strs(&args));
    assert!(server.http.is_none());
    let line = server.startup_log("Prometheus metrics");
    let addr: SocketAddr = line["fields"]["metrics"].as_str().unwrap().parse().unwrap();
    let (status, text) = scrape_at(addr);
    assert_eq!(status, 200);
    promtool_check(&text);
    assert!(text.contains("\nitsp_tm_transactions 0\n"), "{text}");
    drop(server);

    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[http]\nmetrics = false\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let (status, _) = scrape_at(server.http.unwrap());
    assert_eq!(status, 404, "[http] metrics = false: not on the portal");
}
