//! itsp's proxy driving a real rtpengine (Debian `rtpengine-daemon`, userspace only) as its
//! relay node over the NG protocol (`[relay] nodes`): two `itsp phone`s call through
//! `itsp serve` on loopback, every SDP points at rtpengine, tones go both ways through it,
//! and the session is deleted at the BYE with rtpengine's counters in the log. Skipped
//! with a line saying so when rtpengine is not installed (`.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::softphone::{assert_two_way_audio, tone_call, Softphone};
use common::{as_strs, free_udp_port, DataDir, Itsp, Process};

const WAIT: Duration = Duration::from_secs(20);

/// A running rtpengine, killed on drop.
struct Rtpengine {
    _process: Process,
    ng: u16,
}

fn start_rtpengine() -> Option<Rtpengine> {
    if Command::new("rtpengine").arg("--version").output().is_err() {
        eprintln!("skipping: rtpengine is not installed (Debian rtpengine-daemon)");
        return None;
    }
    let ng = free_udp_port();
    let child = Command::new("rtpengine")
        .args([
            "--config-file=none",
            "--foreground",
            "--log-stderr",
            "--log-level=5",
            "--table=-1",
            "--num-threads=1",
            "--interface=127.0.0.1",
            &format!("--listen-ng=127.0.0.1:{ng}"),
            "--port-min=43000",
            "--port-max=43999",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rtpengine starts");
    let engine = Rtpengine {
        _process: Process(child),
        ng,
    };
    // Ready when it answers an NG ping (bencode `d7:command4:pinge`).
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        probe
            .send_to(b"c1 d7:command4:pinge", ("127.0.0.1", ng))
            .unwrap();
        if let Ok(n) = probe.recv(&mut buf) {
            assert!(
                String::from_utf8_lossy(&buf[..n]).contains("pong"),
                "rtpengine answered {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
            return Some(engine);
        }
    }
    panic!("rtpengine did not answer NG pings on port {ng}");
}

#[test]
fn the_proxy_drives_rtpengine_for_a_call() {
    let Some(engine) = start_rtpengine() else {
        return;
    };
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[relay]\npolicy = \"always\"\nnodes = [\"127.0.0.1:{}\"]\n",
            engine.ng
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    server.startup_log("RTP relay on NG nodes");

    let start = |user: &str, args: &[&str]| {
        let password = format!("{}-secret", &user[..1]);
        Softphone::start(server.udp, user, &password, args)
    };
    let sides = tone_call(start, dir.path(), &[], Some(3), |_, _| {});
    assert_two_way_audio(&sides, 100);
    // rtpengine relayed it: its delete answer counted the packets of both phones.
    let ended = server.wait_log("relay session ended", WAIT);
    assert_eq!(ended["fields"]["why"], "BYE");
    let relayed = ended["fields"]["rtp_packets"].as_u64().unwrap();
    assert!(relayed > 200, "rtpengine relayed {relayed} RTP packets");
}
