//! SIP over WebSocket (RFC 7118) end to end: a client like a browser phone (JsSIP, SIP.js)
//! opens `ws:` with the `sip` subprotocol, registers with digest under a made-up
//! `.invalid` contact, and is reached through its connection when `itsp phone` on UDP
//! calls it; the INVITE carries the proxy's Record-Route with `transport=ws`. A client
//! that does not ask for the `sip` subprotocol is refused at the upgrade; `wss:` serves
//! the same over TLS; the portal's `/ws` hands its upgraded connections to the server; a
//! message larger than any SIP message ends only its own connection. With WebRTC media:
//! the in-process relay turns the UDP phone's offer into a WebRTC one for the WebSocket
//! client, whose media (a str0m peer on a UDP socket) connects with ICE-lite and DTLS and
//! exchanges G.711 with the phone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sip::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use common::softphone::Softphone;
use common::{as_strs, DataDir, Itsp, Phone, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Opens `ws://addr/PATH` asking for `protocol`.
async fn connect(
    addr: std::net::SocketAddr,
    path: &str,
    protocol: &str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (socket, response) = tokio_tungstenite::client_async(request, tcp).await?;
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol"),
        Some(&HeaderValue::from_static("sip"))
    );
    Ok(socket)
}

/// The next SIP message on the socket.
async fn next_message(socket: &mut Socket) -> Message {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .unwrap();
        if let WsMessage::Text(text) = frame {
            if text.trim().is_empty() {
                continue;
            }
            return Message::parse(bytes::Bytes::from(text.as_str().to_owned())).unwrap();
        }
    }
}

async fn send(socket: &mut Socket, text: &str) {
    socket.send(WsMessage::text(text)).await.unwrap();
}

fn register(user: &str, cseq: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-ws-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=wsreg\r\nTo: <sip:{user}@{DOMAIN}>\r\n\
         Call-ID: ws-register@test\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>;expires=600\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_websocket_client_registers_and_is_called_through_its_connection() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start_on(
        &as_strs(&data.args()),
        &["ws:127.0.0.1:0", "udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    let ws_addr = server.ws.expect("the WebSocket listener is reported");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(call_the_websocket_client(&data, &server, ws_addr, "/"));
}

/// The same through the portal's `/ws`, at the portal's address (a browser phone's own
/// origin).
#[test]
fn the_portal_hands_its_ws_path_to_the_sip_server() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let portal = server.http.expect("the portal runs");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(call_the_websocket_client(&data, &server, portal, "/ws"));
}

async fn call_the_websocket_client(
    data: &DataDir,
    server: &Itsp,
    ws_addr: std::net::SocketAddr,
    path: &str,
) {
    let refused = connect(ws_addr, path, "chat").await;
    assert!(
        refused.is_err(),
        "an upgrade without the sip subprotocol was accepted"
    );
    // A message larger than any SIP message ends that connection, and only that one.
    let mut flooder = connect(ws_addr, path, "sip").await.unwrap();
    let _ = flooder
        .send(WsMessage::text(
            "x".repeat(sip::framing::DEFAULT_MAX_MESSAGE + 1),
        ))
        .await;
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match flooder.next().await {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the oversized message did not end its connection"
    );

    let mut socket = connect(ws_addr, path, "sip").await.unwrap();
    // A keepalive as JsSIP sends it is answered with a CRLF.
    send(&mut socket, "\r\n\r\n").await;
    let pong = tokio::time::timeout(WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, WsMessage::text("\r\n"));

    send(&mut socket, &register("alice", 1, None)).await;
    let challenge = next_message(&mut socket).await;
    assert_eq!(challenge.status(), Some(401));
    let digest = Phone::new(server.udp, "alice", "a-secret").answer(
        &challenge,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
    );
    send(&mut socket, &register("alice", 2, Some(&digest))).await;
    let ok = next_message(&mut socket).await;
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let bindings = common::admin_json(data, &["ul", "show", "alice@example.com"]);
    assert_eq!(bindings[0]["transport"], "WS", "{bindings}");

    // Bob on UDP calls alice: the INVITE comes down the WebSocket.
    let mut bob = tokio::task::spawn_blocking({
        let udp = server.udp;
        move || Softphone::start(udp, "bob", "b-secret", &["call", "alice"])
    })
    .await
    .unwrap();
    let invite = next_message(&mut socket).await;
    assert_eq!(
        invite.method(),
        Some(&sip::method::Method::Invite),
        "{invite:?}"
    );
    assert!(
        invite
            .request_uri_str()
            .unwrap()
            .contains("df7jal23ls0d.invalid"),
        "{invite:?}"
    );
    let record_route: Vec<String> = invite
        .header_values(sip::HeaderName::RecordRoute)
        .map(str::to_owned)
        .collect();
    assert!(
        record_route.iter().any(|r| r.contains("transport=ws")),
        "{record_route:?}"
    );
    // Alice is busy.
    let busy = sip::MessageBuilder::response_to(&invite, 486, None, Some("ws-busy"))
        .build()
        .unwrap();
    send(&mut socket, std::str::from_utf8(busy.as_bytes()).unwrap()).await;
    let failed = tokio::task::spawn_blocking(move || {
        let status = bob.wait_exit(WAIT);
        (status, bob.all("failed"), bob.events.clone())
    })
    .await
    .unwrap();
    assert!(!failed.0.success());
    assert!(
        failed.2.iter().any(|e| e.to_string().contains("486")),
        "{:?}",
        failed.2
    );
}

/// `wss:`: the upgrade over TLS with the server's certificate; a REGISTER is challenged.
#[test]
fn wss_serves_the_upgrade_over_tls() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let server = Itsp::start_on(
        &as_strs(&data.args()),
        &["wss:127.0.0.1:0", "udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    let wss_addr = server.ws.expect("the WebSocket listener is reported");
    let ca = data.path().join("tls/cert.pem");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let trust = transport::tls::Trust::Verify { extra_ca: vec![ca] };
            let config = transport::tls::client_config(&trust).unwrap();
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
            let tcp = tokio::net::TcpStream::connect(wss_addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from(DOMAIN).unwrap();
            let tls = connector.connect(name, tcp).await.unwrap();
            let mut request = format!("wss://{DOMAIN}/").into_client_request().unwrap();
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
            let (mut socket, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
            socket
                .send(WsMessage::text(register("alice", 1, None)))
                .await
                .unwrap();
            let answer = tokio::time::timeout(WAIT, socket.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let text = answer.into_text().unwrap();
            assert!(text.starts_with("SIP/2.0 401"), "{text}");
        });
}

/// A browser's media for a call: str0m on a UDP socket of its own, answering `offer`.
struct BrowserMedia {
    rtc: str0m::Rtc,
    socket: std::net::UdpSocket,
    local: std::net::SocketAddr,
    mid: str0m::media::Mid,
}

impl BrowserMedia {
    fn answer(offer: &str) -> (BrowserMedia, String) {
        use str0m::change::SdpOffer;
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let now = std::time::Instant::now();
        let mut rtc = str0m::Rtc::builder()
            .set_crypto_provider(relay::webrtc::crypto::provider())
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .build(now);
        rtc.add_local_candidate(str0m::Candidate::host(local, "udp").unwrap());
        let answer = rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(offer).unwrap())
            .unwrap();
        let mid = offer
            .lines()
            .find_map(|l| l.strip_prefix("a=mid:"))
            .unwrap_or("0");
        let mid = str0m::media::Mid::from(mid.trim());
        (
            BrowserMedia {
                rtc,
                socket,
                local,
                mid,
            },
            answer.to_sdp_string(),
        )
    }

    /// Runs the media for `duration`: sends PCMU every 20 ms once connected; answers
    /// whether ICE and DTLS completed and how many packets of 160 octets came.
    fn run(mut self, duration: Duration) -> (bool, usize) {
        use str0m::media::Pt;
        use str0m::net::{Protocol, Receive};
        use str0m::rtp::{RtpWrite, SeqNo};
        use str0m::{Event, Input, Output};
        let start = std::time::Instant::now();
        let mut connected = false;
        let mut heard = 0;
        let mut seq = 1u64;
        let mut next_send = start;
        let mut buf = vec![0u8; 2048];
        while start.elapsed() < duration {
            let now = std::time::Instant::now();
            self.rtc.handle_input(Input::Timeout(now)).unwrap();
            let wait = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(t) => break t.saturating_duration_since(now),
                    Output::Transmit(t) => {
                        self.socket.send_to(&t.contents, t.destination).unwrap();
                    }
                    Output::Event(Event::Connected) => connected = true,
                    Output::Event(Event::RtpPacket(p)) if p.payload.len() == 160 => heard += 1,
                    Output::Event(_) => {}
                }
            };
            if connected && now >= next_send {
                next_send = now + Duration::from_millis(20);
                let mut api = self.rtc.direct_api();
                if let Some(tx) = api.stream_tx_by_mid(self.mid, None) {
                    tx.write_rtp(RtpWrite::new(
                        Pt::from(0),
                        SeqNo::from(seq),
                        (seq as u32).wrapping_mul(160),
                        now,
                        vec![0xff; 160],
                    ));
                    seq += 1;
                }
            }
            self.socket
                .set_read_timeout(Some(
                    wait.clamp(Duration::from_millis(1), Duration::from_millis(10)),
                ))
                .unwrap();
            if let Ok((n, source)) = self.socket.recv_from(&mut buf) {
                let input = Input::Receive(
                    std::time::Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: self.local,
                        contents: buf[..n].try_into().unwrap(),
                    },
                );
                self.rtc.handle_input(input).unwrap();
            }
        }
        (connected, heard)
    }
}

/// A UDP phone calls a WebSocket client (a browser phone) that answers with WebRTC: the
/// relay's gateway makes the phone's offer WebRTC for it and its answer plain for the
/// phone, and G.711 flows both ways through ICE-lite and DTLS-SRTP; the phone's ACK and
/// BYE reach the client over its connection.
#[test]
fn a_udp_phone_and_a_webrtc_client_talk_through_the_relay_gateway() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(&config, "[relay]\nports = \"44000-44999\"\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start_on(
        &as_strs(&args),
        &["ws:127.0.0.1:0", "udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    let ws_addr = server.ws.expect("the WebSocket listener is reported");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let mut socket = connect(ws_addr, "/", "sip").await.unwrap();
            send(&mut socket, &register("alice", 1, None)).await;
            let challenge = next_message(&mut socket).await;
            let digest = Phone::new(server.udp, "alice", "a-secret").answer(
                &challenge,
                "REGISTER",
                &format!("sip:{DOMAIN}"),
            );
            send(&mut socket, &register("alice", 2, Some(&digest))).await;
            assert_eq!(next_message(&mut socket).await.status(), Some(200));

            let mut bob = tokio::task::spawn_blocking({
                let udp = server.udp;
                move || {
                    Softphone::start(
                        udp,
                        "bob",
                        "b-secret",
                        &["--tone", "440", "--duration", "4", "call", "alice"],
                    )
                }
            })
            .await
            .unwrap();
            let invite = next_message(&mut socket).await;
            assert_eq!(invite.method(), Some(&sip::method::Method::Invite));
            let offer = std::str::from_utf8(invite.body()).unwrap().to_owned();
            for expected in [
                "UDP/TLS/RTP/SAVPF",
                "a=ice-lite",
                "a=fingerprint:sha-256 ",
                "a=setup:actpass",
                "a=rtcp-mux",
                "a=group:BUNDLE",
                "typ host",
            ] {
                assert!(offer.contains(expected), "{expected} missing: {offer}");
            }
            let (media, answer) = BrowserMedia::answer(&offer);
            // The 2xx copies the Record-Route (RFC 3261 §12.1.1), as JsSIP does.
            let mut ok = sip::MessageBuilder::response_to(&invite, 200, None, Some("ws-ok"));
            for route in invite.header_values(sip::HeaderName::RecordRoute) {
                ok = ok.header(sip::HeaderName::RecordRoute, route);
            }
            let ok = ok
                .header(
                    sip::HeaderName::Contact,
                    "<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>",
                )
                .body("application/sdp", answer.into_bytes())
                .build()
                .unwrap();
            send(&mut socket, std::str::from_utf8(ok.as_bytes()).unwrap()).await;
            let media = tokio::task::spawn_blocking(move || media.run(Duration::from_secs(4)));
            // The phone's ACK, then its BYE after its 4 s, come down the WebSocket (the
            // contact's host is a made-up `.invalid` name: the registration's flow).
            let ack = next_message(&mut socket).await;
            assert_eq!(ack.method(), Some(&sip::method::Method::Ack), "{ack:?}");
            let (connected, heard) = media.await.unwrap();
            let bye = next_message(&mut socket).await;
            assert_eq!(bye.method(), Some(&sip::method::Method::Bye), "{bye:?}");
            let done = sip::MessageBuilder::response_to(&bye, 200, None, None)
                .build()
                .unwrap();
            send(&mut socket, std::str::from_utf8(done.as_bytes()).unwrap()).await;
            assert!(connected, "ICE-lite and DTLS with the relay");
            assert!(heard >= 50, "the browser heard {heard} packets of bob");
            let report = tokio::task::spawn_blocking(move || {
                assert!(bob.wait_exit(WAIT).success(), "bob's call ended well");
                bob.all("report")[0].clone()
            })
            .await
            .unwrap();
            let received = report["packets_received"].as_u64().unwrap();
            assert!(received >= 50, "bob heard {received} packets: {report}");
        });
}
