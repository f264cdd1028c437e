//! The relay with real UDP sockets on loopback: two endpoints exchange RTP and RTCP
//! through it after offer/answer; a source that changes port is re-latched after the
//! silence window; the NG server and the controller's NG client with failover.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use relay::{
    serve_ng, Controller, MediaRequest, NgNodes, NodeConfig, RelayConfig, RelayHandle, Rewritten,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

fn config(relatch_ms: u64) -> RelayConfig {
    let mut c = RelayConfig::new([127, 0, 0, 1].into());
    c.listen_ip = [127, 0, 0, 1].into();
    // A range of its own per test binary run; busy pairs are skipped anyway.
    let base = 20000 + 2 * (std::process::id() % 4000) as u16;
    c.engine.port_min = base;
    c.engine.port_max = base + 999;
    c.engine.relatch_after = Duration::from_millis(relatch_ms);
    c
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
    let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xff; 160]);
    p
}

fn request(call: &str, to_tag: Option<&str>, port: u16) -> MediaRequest {
    MediaRequest {
        call_id: call.into(),
        from_tag: "a".into(),
        to_tag: to_tag.map(str::to_owned),
        sdp: sdp(port),
        ..MediaRequest::default()
    }
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 2048];
    let (n, from) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .expect("a datagram within 2 s")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

struct Call {
    a: UdpSocket,
    b: UdpSocket,
    /// Where A sends (the port in the answer), where B sends (the port in the offer).
    to_relay_from_a: SocketAddr,
    to_relay_from_b: SocketAddr,
}

async fn set_up(relay: &RelayHandle, call: &str) -> Call {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = relay
        .offer(&request(call, None, a.local_addr().unwrap().port()))
        .unwrap();
    let answer = relay
        .answer(&request(call, Some("b"), b.local_addr().unwrap().port()))
        .unwrap();
    Call {
        to_relay_from_a: ([127, 0, 0, 1], media_port(&answer)).into(),
        to_relay_from_b: ([127, 0, 0, 1], media_port(&offer)).into(),
        a,
        b,
    }
}

#[tokio::test]
async fn rtp_and_rtcp_flow_both_ways_and_are_counted() {
    let relay = RelayHandle::start(config(3000)).unwrap();
    let c = set_up(&relay, "loop-1").await;
    for seq in 1..=5u16 {
        c.a.send_to(&rtp(seq), c.to_relay_from_a).await.unwrap();
        let (data, from) = recv(&c.b).await;
        assert_eq!(data, rtp(seq));
        assert_eq!(
            from, c.to_relay_from_b,
            "B hears the relay port it sends to"
        );
    }
    for seq in [1u16, 2, 4] {
        c.b.send_to(&rtp(seq), c.to_relay_from_b).await.unwrap();
        let (data, from) = recv(&c.a).await;
        assert_eq!(data, rtp(seq));
        assert_eq!(from, c.to_relay_from_a);
    }
    // RTCP from A's RTCP socket to the relay's RTCP port reaches B's RTP port + 1.
    let a_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_rtcp = UdpSocket::bind(("127.0.0.1", c.b.local_addr().unwrap().port() + 1)).await;
    if let Ok(b_rtcp) = b_rtcp {
        let to = SocketAddr::from(([127, 0, 0, 1], c.to_relay_from_a.port() + 1));
        a_rtcp
            .send_to(&[0x80, 201, 0, 1, 0, 0, 0, 1], to)
            .await
            .unwrap();
        let (data, _) = recv(&b_rtcp).await;
        assert_eq!(data[1], 201);
    }
    let stats = relay.query("loop-1").unwrap();
    let a = &stats.parties[0].streams[0];
    let b = &stats.parties[1].streams[0];
    assert_eq!((a.rtp.packets, a.rtp.bytes), (5, 5 * 172));
    assert_eq!(b.rtp.packets, 3);
    assert_eq!(b.lost, 1, "B skipped sequence number 3");
    assert_eq!(a.latched[0], Some(c.a.local_addr().unwrap()));
    let counters = relay.delete("loop-1").unwrap().counters();
    assert_eq!(counters.rtp.packets, 8);
    assert!(relay.list().is_empty());
    // The ports are closed: nothing is relayed any more.
    c.a.send_to(&rtp(9), c.to_relay_from_a).await.unwrap();
    let mut buf = [0u8; 64];
    assert!(timeout(Duration::from_millis(200), c.b.recv_from(&mut buf))
        .await
        .is_err());
}

#[tokio::test]
async fn a_source_that_changes_port_is_relatched_after_the_silence_window() {
    let relay = RelayHandle::start(config(300)).unwrap();
    let c = set_up(&relay, "loop-2").await;
    c.a.send_to(&rtp(1), c.to_relay_from_a).await.unwrap();
    recv(&c.b).await;
    // A's NAT mapping changes: a new source port.
    let moved = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    moved.send_to(&rtp(2), c.to_relay_from_a).await.unwrap();
    let mut buf = [0u8; 256];
    assert!(
        timeout(Duration::from_millis(150), c.b.recv_from(&mut buf))
            .await
            .is_err(),
        "refused while the latched source is fresh"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    moved.send_to(&rtp(3), c.to_relay_from_a).await.unwrap();
    let (data, _) = recv(&c.b).await;
    assert_eq!(data, rtp(3));
    // B's media now goes to the new source.
    c.b.send_to(&rtp(1), c.to_relay_from_b).await.unwrap();
    let (data, _) = recv(&moved).await;
    assert_eq!(data, rtp(1));
    let stats = relay.query("loop-2").unwrap();
    assert_eq!(
        stats.parties[0].streams[0].latched[0],
        Some(moved.local_addr().unwrap())
    );
    assert_eq!(stats.parties[0].streams[0].rtp.errors, 1);
}

#[tokio::test]
async fn many_packets_in_bursts_all_arrive() {
    let relay = RelayHandle::start(config(3000)).unwrap();
    let c = set_up(&relay, "loop-3").await;
    // Bursts larger than one recvmmsg batch (32), small enough for the default socket
    // buffers (the test's sends do not yield to the relay task until the burst is out).
    let (bursts, burst) = (20u16, 40u16);
    let n = bursts * burst;
    for k in 0..bursts {
        for seq in k * burst..(k + 1) * burst {
            c.a.send_to(&rtp(seq), c.to_relay_from_a).await.unwrap();
        }
        for _ in 0..burst {
            recv(&c.b).await;
        }
    }
    let stats = relay.query("loop-3").unwrap();
    assert_eq!(stats.parties[0].streams[0].rtp.packets, u64::from(n));
    assert_eq!(stats.parties[0].streams[0].lost, 0);
}

#[tokio::test]
async fn controller_drives_an_ng_node_and_fails_over_from_a_dead_one() {
    let relay = RelayHandle::start(config(3000)).unwrap();
    let ng = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let live = ng.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_ng(relay.clone(), ng, async {
        let _ = stop_rx.await;
    }));
    // A port nobody listens on: ICMP unreachable, or silence.
    let dead = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut nodes = NgNodes::new(vec![
        NodeConfig {
            address: dead,
            weight: 1_000_000,
        },
        NodeConfig {
            address: live,
            weight: 1,
        },
    ]);
    nodes.timeout = Duration::from_millis(200);
    assert_eq!(nodes.ping_all().await, [live]);
    let controller = Controller::Nodes(nodes);
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut offer = request("ng-1", None, a.local_addr().unwrap().port());
    offer.received_from = Some([127, 0, 0, 1].into());
    let offered = controller.offer(&offer).await.unwrap();
    let answered = controller
        .answer(&request("ng-1", Some("b"), b.local_addr().unwrap().port()))
        .await
        .unwrap();
    let Controller::Nodes(nodes) = &controller else {
        unreachable!()
    };
    assert!(nodes.is_down(dead), "the dead node is marked down");
    assert_eq!(relay.list(), ["ng-1"], "the call lives on the live node");
    a.send_to(&rtp(1), ("127.0.0.1", media_port(&answered)))
        .await
        .unwrap();
    recv(&b).await;
    b.send_to(&rtp(1), ("127.0.0.1", media_port(&offered)))
        .await
        .unwrap();
    recv(&a).await;
    let counters = controller.query("ng-1").await.unwrap();
    assert_eq!(counters.rtp.packets, 2);
    assert_eq!(counters.parties.len(), 2);
    assert!(counters.parties.iter().all(|p| p.rtp.packets == 1));
    let last = controller.delete("ng-1", "a").await.unwrap();
    assert_eq!(last.rtp.packets, 2);
    assert!(relay.list().is_empty());
    let err = controller.query("ng-1").await.unwrap_err();
    assert!(matches!(err, relay::RelayError::UnknownCall), "{err}");
    stop_tx.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn the_in_process_controller_gives_the_same_answers() {
    let relay = RelayHandle::start(config(3000)).unwrap();
    let controller = Controller::Local(relay.clone());
    let offered = controller
        .offer(&request("local-1", None, 4000))
        .await
        .unwrap();
    assert_ne!(media_port(&offered), 4000);
    controller
        .answer(&request("local-1", Some("b"), 4002))
        .await
        .unwrap();
    assert_eq!(controller.query("local-1").await.unwrap().parties.len(), 2);
    controller.delete("local-1", "a").await.unwrap();
    assert!(controller.query("local-1").await.is_err());
}

#[tokio::test]
async fn idle_calls_are_removed_by_the_media_thread() {
    let mut c = config(3000);
    c.engine.idle_timeout = Duration::from_millis(700);
    let relay = RelayHandle::start(c).unwrap();
    let call = set_up(&relay, "loop-idle").await;
    // Media keeps the call alive past the timeout...
    for seq in 0..6u16 {
        call.a
            .send_to(&rtp(seq), call.to_relay_from_a)
            .await
            .unwrap();
        recv(&call.b).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(relay.list(), ["loop-idle"]);
    // ...silence ends it (cleanup runs once a second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(relay.list().is_empty());
    call.a.send_to(&rtp(9), call.to_relay_from_a).await.unwrap();
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(200), call.b.recv_from(&mut buf))
            .await
            .is_err()
    );
}
