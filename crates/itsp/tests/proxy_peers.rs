//! The proxy with real peers: sipp's call scenarios from `../shared/bench` (the ones the
//! benchmark uses) place calls from a sipp UAC through `itsp serve` to a registered sipp
//! UAS: INVITE, 100, 200 with Record-Route, ACK and BYE along the route set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{admin_json, as_strs, eventually, DataDir, Itsp, Phone, DOMAIN};

fn shared() -> PathBuf {
    common::repo_root().join("../shared")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sipp_calls_through_the_proxy_to_a_registered_sipp() {
    const CALLS: &str = "30";
    let data = DataDir::with_users(&[("uas", "secret")]);
    let mut args = data.args();
    args.extend(["--trusted".into(), "127.0.0.0/8".into()]);
    let server = Itsp::start(&as_strs(&args));

    // The UAS answers on its own port; its contact is registered as uas@example.com.
    let uas_port = free_udp_port();
    let mut uas = Command::new("sipp")
        .arg("-sf")
        .arg(shared().join("bench/uas.xml"))
        .args(["-i", "127.0.0.1", "-p", &uas_port.to_string()])
        .args(["-m", CALLS, "-timeout", "60s", "-nostdin"])
        .stdout(Stdio::null())
        .spawn()
        .expect("sipp runs (scripts/install-test-deps.sh sip-tester)");
    let mut registrar = Phone::new(server.udp, "uas", "secret");
    let ok = registrar.register(&format!("Contact: <sip:uas@127.0.0.1:{uas_port}>\r\n"));
    assert_eq!(ok.status(), Some(200));

    let out = Command::new("sipp")
        .arg("-sf")
        .arg(shared().join("bench/uac.xml"))
        .args(["-set", "domain", DOMAIN, "-s", "uas"])
        .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
        .args([
            "-r",
            "30",
            "-m",
            CALLS,
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
        ])
        .arg(server.udp.to_string())
        .output()
        .expect("sipp runs");
    let uas_done = uas.wait().unwrap();
    assert!(
        out.status.success(),
        "sipp uac failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(uas_done.success(), "the UAS saw every call");
    // Every call was accounted and none is left live.
    eventually("30 answered calls in the accounting", || {
        let acc = admin_json(&data, &["acc", "--limit", "0"]);
        let answered = acc
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "answered")
            .count();
        answered == 30 && admin_json(&data, &["calls"]).as_array().unwrap().is_empty()
    });
}
