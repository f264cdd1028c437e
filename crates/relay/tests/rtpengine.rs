//! Interop of the NG client: the controller drives a real rtpengine daemon (userspace,
//! `--table=-1`) for a call: offer and answer rewritten by rtpengine, RTP both ways through
//! it, counters read from its `query` and `delete` answers.
//!
//! Skipped, with a message, when `rtpengine` (Debian `rtpengine-daemon`) is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relay::{Controller, MediaRequest, NgNodes, NodeConfig, Rewritten};
use tokio::net::UdpSocket;
use tokio::time::timeout;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sdp(port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
    .into_bytes()
}

fn media_port(r: &Rewritten) -> u16 {
    let text = String::from_utf8(r.sdp.clone()).unwrap();
    assert!(text.contains("c=IN IP4 127.0.0.1"), "{text}");
    let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xff; 160]);
    p
}

#[tokio::test]
async fn controller_drives_a_real_rtpengine() {
    let binary = Path::new("/usr/bin/rtpengine");
    if !binary.exists() {
        eprintln!("skipped: rtpengine (Debian rtpengine-daemon) is not installed");
        return;
    }
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let ng: SocketAddr = ([127, 0, 0, 1], port).into();
    let _daemon = Daemon(
        Command::new(binary)
            .args([
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "-L",
                "3",
            ])
            .args(["--table=-1", "--num-threads=1", "--interface=127.0.0.1"])
            .arg(format!("--listen-ng={ng}"))
            .args(["--port-min=44000", "--port-max=44999"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut nodes = NgNodes::new(vec![NodeConfig {
        address: ng,
        weight: 1,
    }]);
    nodes.timeout = Duration::from_millis(300);
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.ping_all().await.is_empty() {
        assert!(Instant::now() < deadline, "rtpengine does not answer ping");
    }
    let controller = Controller::Nodes(nodes);

    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let call_id = format!("itsp-rtpengine-{}", std::process::id());
    let offer = MediaRequest {
        call_id: call_id.clone(),
        from_tag: "caller".into(),
        sdp: sdp(a.local_addr().unwrap().port()),
        received_from: Some([127, 0, 0, 1].into()),
        ..MediaRequest::default()
    };
    let offered = controller.offer(&offer).await.unwrap();
    let answer = MediaRequest {
        to_tag: Some("callee".into()),
        sdp: sdp(b.local_addr().unwrap().port()),
        ..offer
    };
    let answered = controller.answer(&answer).await.unwrap();
    let (b_sends_to, a_sends_to) = (media_port(&offered), media_port(&answered));
    assert_ne!(b_sends_to, a.local_addr().unwrap().port());

    let mut buf = [0u8; 2048];
    for seq in 1..=5u16 {
        a.send_to(&rtp(seq), ("127.0.0.1", a_sends_to))
            .await
            .unwrap();
        let (n, _) = timeout(Duration::from_secs(2), b.recv_from(&mut buf))
            .await
            .expect("A -> B through rtpengine")
            .unwrap();
        assert_eq!(buf[..n][12..], rtp(seq)[12..]);
        b.send_to(&rtp(seq), ("127.0.0.1", b_sends_to))
            .await
            .unwrap();
        timeout(Duration::from_secs(2), a.recv_from(&mut buf))
            .await
            .expect("B -> A through rtpengine")
            .unwrap();
    }
    let counters = controller.query(&call_id).await.unwrap();
    assert_eq!(counters.rtp.packets, 10, "{counters:?}");
    assert_eq!(counters.parties.len(), 2, "{counters:?}");
    let final_counters = controller.delete(&call_id, "caller").await.unwrap();
    assert!(final_counters.rtp.packets >= 10, "{final_counters:?}");
    assert!(controller.query(&call_id).await.is_err());
}
