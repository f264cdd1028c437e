//! The WebRTC gateway with real UDP sockets on loopback: a str0m peer plays the browser
//! on its own socket, the relay's media threads carry its STUN, DTLS and SRTP (what the
//! engine queues is sent by the shell, the janitor runs the legs' timers), and a plain
//! RTP phone socket exchanges G.711 with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use relay::{Flags, MediaRequest, RelayConfig, RelayHandle};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

fn config() -> RelayConfig {
    let mut c = RelayConfig::new([127, 0, 0, 1].into());
    c.listen_ip = [127, 0, 0, 1].into();
    let base = 24000 + 2 * (std::process::id() % 4000) as u16;
    c.engine.port_min = base;
    c.engine.port_max = base + 999;
    c
}

fn media_port(sdp: &[u8]) -> u16 {
    let text = std::str::from_utf8(sdp).unwrap();
    let line = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_browser_and_a_phone_talk_through_the_relay_on_loopback() {
    let relay = RelayHandle::start(config()).unwrap();
    let browser_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let browser_addr = browser_socket.local_addr().unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone.set_nonblocking(true).unwrap();
    let phone_addr = phone.local_addr().unwrap();

    let start = Instant::now();
    let mut browser = Rtc::builder()
        .set_crypto_provider(relay::webrtc::crypto::provider())
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true, false)
        .build(start);
    browser.add_local_candidate(Candidate::host(browser_addr, "udp").unwrap());
    let mut change = browser.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().unwrap();

    let request = |to: Option<&str>, sdp: String| MediaRequest {
        call_id: "loop-webrtc".into(),
        from_tag: "browser".into(),
        to_tag: to.map(str::to_owned),
        sdp: sdp.into_bytes(),
        flags: Flags::default(),
        ..MediaRequest::default()
    };
    let to_phone = relay.offer(&request(None, offer.to_sdp_string())).unwrap();
    let phone_to_relay = SocketAddr::new([127, 0, 0, 1].into(), media_port(&to_phone.sdp));
    let phone_answer = format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        phone_addr.port()
    );
    let to_browser = relay.answer(&request(Some("phone"), phone_answer)).unwrap();
    let text = String::from_utf8(to_browser.sdp).unwrap();
    browser
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&text).unwrap())
        .unwrap();

    let mut connected = false;
    let mut browser_audio = 0;
    let mut phone_audio = 0;
    let mut sent = 0u16;
    let mut next_send = start;
    let mut buf = vec![0u8; 2048];
    while start.elapsed() < Duration::from_secs(8) && (browser_audio < 10 || phone_audio < 10) {
        let now = Instant::now();
        browser.handle_input(Input::Timeout(now)).unwrap();
        let wait = loop {
            match browser.poll_output().unwrap() {
                Output::Timeout(t) => break t.saturating_duration_since(now),
                Output::Transmit(t) => {
                    browser_socket.send_to(&t.contents, t.destination).unwrap();
                }
                Output::Event(Event::Connected) => connected = true,
                Output::Event(Event::RtpPacket(p)) if p.payload.len() == 160 => {
                    assert!(p.payload.iter().all(|&b| b == 0x55));
                    browser_audio += 1;
                }
                Output::Event(_) => {}
            }
        };
        // Both sides talk every 20 ms once connected.
        if connected && now >= next_send && sent < 50 {
            next_send = now + Duration::from_millis(20);
            let mut api = browser.direct_api();
            let stream = api.stream_tx_by_mid(mid, None).unwrap();
            stream.write_rtp(RtpWrite::new(
                Pt::from(0),
                SeqNo::from(u64::from(1000 + sent)),
                u32::from(sent) * 160,
                now,
                vec![0xd5; 160],
            ));
            let mut rtp = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b];
            rtp[2..4].copy_from_slice(&(7000 + sent).to_be_bytes());
            rtp[4..8].copy_from_slice(&(u32::from(sent) * 160).to_be_bytes());
            rtp.extend_from_slice(&[0x55; 160]);
            phone.send_to(&rtp, phone_to_relay).unwrap();
            sent += 1;
        }
        while let Ok((n, _)) = phone.recv_from(&mut buf) {
            if n == 172 && buf[12..n].iter().all(|&b| b == 0xd5) {
                phone_audio += 1;
            }
        }
        browser_socket
            .set_read_timeout(Some(
                wait.clamp(Duration::from_millis(1), Duration::from_millis(10)),
            ))
            .unwrap();
        if let Ok((n, source)) = browser_socket.recv_from(&mut buf) {
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: browser_addr,
                    contents: buf[..n].try_into().unwrap(),
                },
            );
            browser.handle_input(input).unwrap();
        }
    }
    assert!(connected, "ICE-lite and DTLS over real sockets");
    assert!(phone_audio >= 10, "the phone heard {phone_audio} packets");
    assert!(
        browser_audio >= 10,
        "the browser heard {browser_audio} packets"
    );
    let stats = relay.delete("loop-webrtc").unwrap();
    assert!(stats.parties[1].streams[0].rtp.packets >= 10);
    relay.shutdown();
}
