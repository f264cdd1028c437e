//! Interop: Kamailio 5.6 with its `rtpengine` module drives `itsp relay` for a call between
//! two endpoints of this test (raw SIP over UDP, RTP from their own sockets). The SDP each
//! side receives must point at the relay, RTP must flow both ways through it (query
//! counters), and the BYE must delete the call on the relay.
//!
//! Skipped, with a message, when `kamailio` or its rtpengine module is not installed (the
//! Debian package `kamailio` ships `rtpengine.so`; `scripts/install-test-deps.sh kamailio`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_udp_port, Process};

use relay::ng::{frame, split};
use relay::Bencode;

const MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules";
/// The relay's media address: distinct from the endpoints' 127.0.0.1, so the SDP check means
/// something.
const RELAY_IP: &str = "127.0.0.2";

fn ng(ng: SocketAddr, command: &str, call_id: Option<&str>) -> Option<Bencode> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut body = Bencode::dict();
    body.insert("command", Bencode::str(command));
    if let Some(id) = call_id {
        body.insert("call-id", Bencode::str(id));
    }
    socket.send_to(&frame(b"t1", &body), ng).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = socket.recv(&mut buf).ok()?;
    Some(split(&buf[..n]).unwrap().1)
}

fn kamailio_cfg(sip_port: u16, ng_port: u16) -> String {
    let flags = "trust-address replace-origin replace-session-connection ICE=remove";
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{sip_port}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:{ng_port}")
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (!loose_route()) {{ sl_send_reply("404", "Not here"); exit; }}
    }} else if (is_method("INVITE")) {{
        record_route();
    }}
    if (is_method("BYE|CANCEL") || (is_method("INVITE|ACK") && has_body("application/sdp"))) {{
        rtpengine_manage("{flags}");
    }}
    t_on_reply("MANAGE");
    if (!t_relay()) {{ sl_reply_error(); }}
}}
onreply_route[MANAGE] {{
    if (has_body("application/sdp")) {{
        rtpengine_manage("{flags}");
    }}
}}
"#
    )
}

fn sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

fn message(start: &str, headers: &[String], body: &str) -> String {
    let mut m = format!("{start}\r\n");
    for h in headers {
        m.push_str(h);
        m.push_str("\r\n");
    }
    if !body.is_empty() {
        m.push_str("Content-Type: application/sdp\r\n");
    }
    m.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    m
}

/// Receives SIP on `socket` until a message whose first line starts with `start` arrives.
fn expect(socket: &UdpSocket, start: &str) -> (String, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < deadline {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with(start) {
            return (text, from);
        }
    }
    panic!("no {start:?} within 5 s");
}

fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    let head = msg.split("\r\n\r\n").next().unwrap();
    head.lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .collect()
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The relay's media port in an SDP body, after checking the body points at the relay.
fn relay_port(sdp: &str) -> u16 {
    assert!(sdp.contains(&format!("c=IN IP4 {RELAY_IP}\r\n")), "{sdp}");
    assert!(!sdp.contains("c=IN IP4 127.0.0.1"), "{sdp}");
    let m = sdp.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    m.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn kamailio_rtpengine_module_drives_itsp_relay() {
    if !Path::new("/usr/sbin/kamailio").exists()
        || !Path::new(MODULES).join("rtpengine.so").exists()
    {
        eprintln!("skipped: kamailio or its rtpengine module is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ng_addr: SocketAddr = ([127, 0, 0, 1], free_udp_port()).into();
    let _relay = Process(
        Command::new(env!("CARGO_BIN_EXE_itsp"))
            .args(["relay", "--listen-ng", &ng_addr.to_string()])
            .args([
                "--ports",
                "48000-48999",
                "--public-ip",
                RELAY_IP,
                "--listen-ip",
                RELAY_IP,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sip_port = free_udp_port();
    let cfg = dir.path().join("kamailio.cfg");
    std::fs::write(&cfg, kamailio_cfg(sip_port, ng_addr.port())).unwrap();
    let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
    let _kamailio = Process(
        Command::new("/usr/sbin/kamailio")
            .arg("-DD")
            .arg("-E")
            .args(["-m", "32", "-M", "8", "-L", MODULES])
            .arg("-f")
            .arg(&cfg)
            .arg("-Y")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while ng(ng_addr, "ping", None).is_none() {
        assert!(Instant::now() < deadline, "itsp relay does not answer");
    }

    let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uas = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&uac, &uas, &rtp_a, &rtp_b] {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    let (uac_port, uas_port) = (
        uac.local_addr().unwrap().port(),
        uas.local_addr().unwrap().port(),
    );
    let proxy: SocketAddr = ([127, 0, 0, 1], sip_port).into();
    let call_id = format!("kam-relay-{}@127.0.0.1", std::process::id());
    let from = "From: <sip:alice@127.0.0.1>;tag=alice-tag".to_owned();
    let invite = message(
        &format!("INVITE sip:bob@127.0.0.1:{uas_port} SIP/2.0"),
        &[
            format!("Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-inv1;rport"),
            "Max-Forwards: 70".into(),
            from.clone(),
            "To: <sip:bob@127.0.0.1>".into(),
            format!("Call-ID: {call_id}"),
            "CSeq: 1 INVITE".into(),
            format!("Contact: <sip:alice@127.0.0.1:{uac_port}>"),
        ],
        &sdp(rtp_a.local_addr().unwrap().port()),
    );
    // Kamailio may still be starting: send the INVITE until it arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (incoming, proxy_source) = loop {
        uac.send_to(invite.as_bytes(), proxy).unwrap();
        let mut buf = vec![0u8; 65536];
        if let Ok((n, source)) = uas.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("INVITE ") {
                break (text, source);
            }
        }
        assert!(
            Instant::now() < deadline,
            "Kamailio does not forward the INVITE"
        );
    };
    let b_sends_to = relay_port(body(&incoming));

    let to = "To: <sip:bob@127.0.0.1>;tag=bob-tag".to_owned();
    let mut reply: Vec<String> = headers(&incoming, "Via")
        .into_iter()
        .map(str::to_owned)
        .collect();
    reply.extend(
        headers(&incoming, "Record-Route")
            .into_iter()
            .map(str::to_owned),
    );
    reply.extend([
        from.clone(),
        to.clone(),
        format!("Call-ID: {call_id}"),
        "CSeq: 1 INVITE".into(),
        format!("Contact: <sip:bob@127.0.0.1:{uas_port}>"),
    ]);
    let ok = message(
        "SIP/2.0 200 OK",
        &reply,
        &sdp(rtp_b.local_addr().unwrap().port()),
    );
    uas.send_to(ok.as_bytes(), proxy_source).unwrap();
    let (answer, _) = expect(&uac, "SIP/2.0 200");
    let a_sends_to = relay_port(body(&answer));
    assert!(
        body(&answer).contains(&format!("IN IP4 {RELAY_IP}\r\ns=")),
        "replace-origin"
    );
    let route: Vec<String> = headers(&answer, "Record-Route")
        .iter()
        .map(|h| h.replacen("Record-Route", "Route", 1))
        .collect();
    assert!(!route.is_empty(), "Kamailio record-routes");
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        let mut h = vec![format!(
            "Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{branch};rport"
        )];
        h.extend(route.iter().cloned());
        h.extend([
            "Max-Forwards: 70".into(),
            from.clone(),
            to.clone(),
            format!("Call-ID: {call_id}"),
            format!("CSeq: {cseq} {method}"),
        ]);
        message(
            &format!("{method} sip:bob@127.0.0.1:{uas_port} SIP/2.0"),
            &h,
            "",
        )
    };
    uac.send_to(in_dialog("ACK", 1, "ack1").as_bytes(), proxy)
        .unwrap();

    // Media through the relay, both ways.
    let relay_ip: std::net::IpAddr = RELAY_IP.parse().unwrap();
    let packet = |seq: u8| {
        let mut p = vec![0x80, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0xff; 160]);
        p
    };
    let mut buf = [0u8; 2048];
    for seq in 0..5u8 {
        rtp_a.send_to(&packet(seq), (relay_ip, a_sends_to)).unwrap();
        let (n, from) = rtp_b
            .recv_from(&mut buf)
            .expect("RTP A -> B through the relay");
        assert_eq!(&buf[..n], packet(seq));
        assert_eq!(from, SocketAddr::new(relay_ip, b_sends_to));
        rtp_b.send_to(&packet(seq), (relay_ip, b_sends_to)).unwrap();
        let (n, from) = rtp_a
            .recv_from(&mut buf)
            .expect("RTP B -> A through the relay");
        assert_eq!(&buf[..n], packet(seq));
        assert_eq!(from, SocketAddr::new(relay_ip, a_sends_to));
    }
    let query = ng(ng_addr, "query", Some(&call_id)).expect("query answered");
    let packets = query
        .get("totals")
        .and_then(|t| t.get("RTP"))
        .and_then(|r| r.get("packets"))
        .and_then(Bencode::as_int);
    assert_eq!(packets, Some(10), "{query:?}");
    for tag in ["alice-tag", "bob-tag"] {
        assert!(
            query.get("tags").and_then(|t| t.get(tag)).is_some(),
            "{tag} in {query:?}"
        );
    }

    // BYE through Kamailio deletes the call on the relay.
    uac.send_to(in_dialog("BYE", 2, "bye1").as_bytes(), proxy)
        .unwrap();
    let (bye, source) = expect(&uas, "BYE ");
    let mut reply: Vec<String> = headers(&bye, "Via")
        .into_iter()
        .map(str::to_owned)
        .collect();
    reply.extend([
        from.clone(),
        to.clone(),
        format!("Call-ID: {call_id}"),
        "CSeq: 2 BYE".into(),
    ]);
    uas.send_to(message("SIP/2.0 200 OK", &reply, "").as_bytes(), source)
        .unwrap();
    expect(&uac, "SIP/2.0 200");
    let list = ng(ng_addr, "list", None).expect("list answered");
    assert_eq!(
        list.get("calls"),
        Some(&Bencode::List(Vec::new())),
        "{list:?}"
    );
}
