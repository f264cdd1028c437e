//! End-to-end tests of the SIP capture: two phones register with `itsp serve` and call
//! each other through it; `itsp trace` (over the server's control socket) shows the
//! call's messages in order with a ladder, as JSON, and as a pcap file that tshark
//! decodes as SIP; the rotated pcap files of `[capture] pcap_dir` decode too; a UDP
//! socket standing in for a HOMER collector receives one HEP v3 packet per message, every
//! chunk checked; `--follow` streams new messages; without a server, a clear error. A
//! call through the in-process relay sends its RTCP reports to the collector as HEP type 5
//! (JSON in heplify's shape) under the call's Call-ID; sngrep (`-L`) as a HEP collector shows
//! the call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{as_strs, DataDir, Itsp, Phone, DOMAIN};

/// Runs `itsp trace ARGS` against the server of `data`.
fn trace(data: &DataDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itsp"))
        .arg("trace")
        .args(args)
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "itsp trace failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// tshark's one-line summaries of the SIP packets of a pcap file.
fn tshark_sip(file: &Path) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq.method",
            "-e",
            "sip.Status-Code",
        ])
        .output()
        .expect("tshark runs (Debian tshark; scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The chunks of a HEP v3 packet (type → value), checked independently of the server's
/// encoder: "HEP3", the total length, then vendor 0 chunks whose lengths add up.
fn hep_chunks(packet: &[u8]) -> Vec<(u16, Vec<u8>)> {
    assert_eq!(&packet[..4], b"HEP3");
    assert_eq!(
        usize::from(u16::from_be_bytes([packet[4], packet[5]])),
        packet.len()
    );
    let mut chunks = Vec::new();
    let mut at = 6;
    while at < packet.len() {
        let vendor = u16::from_be_bytes([packet[at], packet[at + 1]]);
        let kind = u16::from_be_bytes([packet[at + 2], packet[at + 3]]);
        let len = usize::from(u16::from_be_bytes([packet[at + 4], packet[at + 5]]));
        assert_eq!(vendor, 0, "generic chunks");
        assert!(
            len >= 6 && at + len <= packet.len(),
            "chunk {kind} length {len}"
        );
        chunks.push((kind, packet[at + 6..at + len].to_vec()));
        at += len;
    }
    chunks
}

/// The label on a ladder line's arrow: between `- ` (or `< `) and ` -`.
fn ladder_label(line: &str) -> Option<&str> {
    let start = [line.find("- "), line.find("< ")]
        .into_iter()
        .flatten()
        .min()?
        + 2;
    let len = line[start..].find(" -")?;
    Some(&line[start..start + len])
}

fn chunk(chunks: &[(u16, Vec<u8>)], kind: u16) -> &[u8] {
    &chunks
        .iter()
        .find(|c| c.0 == kind)
        .unwrap_or_else(|| panic!("no chunk {kind:#06x}"))
        .1
}

/// A call of two `itsp phone`s through the in-process relay: the collector receives HEP
/// v3 packets of protocol type 5 (RTCP as JSON) whose correlation ID is the call's
/// Call-ID — the RTCP each phone sent, as it passed the relay, and when the relay session
/// ends the relay's reception of each phone's RTP — with every chunk decoded and the JSON
/// in the shape heplify-server reads (`report_blocks[0]`: `fraction_lost`,
/// `packets_lost`, `ia_jitter`, `dlsr`; `report_blocks_xr`).
#[test]
fn a_relayed_calls_rtcp_reaches_the_collector_as_hep_type_5() {
    use common::softphone::{tone_call, Softphone};

    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let dir = tempfile::tempdir().unwrap();
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = dir.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[relay]\npolicy = \"always\"\nports = \"43000-43999\"\n\
             [capture]\nhep = \"udp:{}\"\nhep_capture_id = 78\nhep_node_name = \"node-q\"\n",
            collector.local_addr().unwrap()
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let start = |user: &str, args: &[&str]| {
        let password = format!("{}-secret", &user[..1]);
        Softphone::start(server.udp, user, &password, args)
    };
    // Four seconds: the phones' first RTCP reports (RFC 3550 §6.2, 2.5 s on average), and
    // the report of each hang-up compound.
    let _sides = tone_call(start, dir.path(), &[], Some(4), |_, _| {});
    server.wait_log("relay session ended", Duration::from_secs(20));

    let mut invite_call_id = None;
    // Each report: its chunks and its JSON.
    type Chunks = Vec<(u16, Vec<u8>)>;
    let mut reports: Vec<(Chunks, serde_json::Value)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 65_535];
    while Instant::now() < deadline {
        let Ok((n, _)) = collector.recv_from(&mut buf) else {
            // Quiet for 200 ms after the reports came: all of them are in.
            if reports.len() >= 2 && invite_call_id.is_some() {
                break;
            }
            continue;
        };
        let chunks = hep_chunks(&buf[..n]);
        match chunk(&chunks, 0x000b) {
            [1] => {
                let text = String::from_utf8(chunk(&chunks, 0x000f).to_vec()).unwrap();
                if text.starts_with("INVITE ") {
                    let message = sip::Message::parse(text.into_bytes()).unwrap();
                    invite_call_id = Some(message.call_id().unwrap().to_owned());
                }
            }
            [5] => {
                let json = serde_json::from_slice(chunk(&chunks, 0x000f)).unwrap();
                reports.push((chunks, json));
            }
            other => panic!("protocol type {other:?}"),
        }
    }
    let call_id = invite_call_id.expect("the INVITE was exported");
    assert!(
        reports.len() >= 3,
        "{} RTCP reports: {reports:?}",
        reports.len()
    );
    let mut from_relay = 0;
    let mut from_phones = 0;
    // HEP times (µs) of the phones' reports and of the relay's.
    let mut phone_times = Vec::new();
    let mut relay_times = Vec::new();
    for (chunks, json) in &reports {
        let types: Vec<u16> = chunks.iter().map(|c| c.0).collect();
        assert_eq!(
            types,
            [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 15, 17, 19],
            "every chunk, in order"
        );
        assert_eq!(chunk(chunks, 0x0001), [2], "IPv4");
        assert_eq!(chunk(chunks, 0x0002), [17], "UDP");
        assert_eq!(chunk(chunks, 0x0003), [127, 0, 0, 1]);
        assert_eq!(chunk(chunks, 0x0004), [127, 0, 0, 1]);
        let ports = [chunk(chunks, 0x0007), chunk(chunks, 0x0008)]
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        let secs = u32::from_be_bytes(chunk(chunks, 0x0009).try_into().unwrap());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now - u64::from(secs) < 60, "{secs}");
        let micros = u32::from_be_bytes(chunk(chunks, 0x000a).try_into().unwrap());
        assert!(micros < 1_000_000);
        let time = u64::from(secs) * 1_000_000 + u64::from(micros);
        assert_eq!(chunk(chunks, 0x000c), 78u32.to_be_bytes());
        assert_eq!(
            chunk(chunks, 0x0011),
            call_id.as_bytes(),
            "correlation ID = the call's Call-ID"
        );
        assert_eq!(chunk(chunks, 0x0013), b"node-q");
        // heplify's RTCP_Packet shape, every field present.
        for key in [
            "sender_information",
            "ssrc",
            "type",
            "report_count",
            "report_blocks",
            "report_blocks_xr",
            "sdes_ssrc",
        ] {
            assert!(!json[key].is_null(), "{key} missing: {json}");
        }
        for key in [
            "ntp_timestamp_sec",
            "ntp_timestamp_usec",
            "rtp_timestamp",
            "packets",
            "octets",
        ] {
            assert!(json["sender_information"][key].is_u64(), "{key}: {json}");
        }
        let block = &json["report_blocks"][0];
        for key in [
            "source_ssrc",
            "fraction_lost",
            "packets_lost",
            "highest_seq_no",
            "ia_jitter",
            "lsr",
            "dlsr",
        ] {
            assert!(block[key].is_u64(), "{key}: {json}");
        }
        assert!(
            json["report_blocks_xr"]["round_trip_delay"].is_u64(),
            "{json}"
        );
        assert_eq!(
            json["report_count"].as_u64().unwrap(),
            json["report_blocks"].as_array().unwrap().len() as u64
        );
        let relay_port = if json["ssrc"] == 0 {
            // The relay's reception of a phone's RTP: an RR from the relay's port, the
            // 4 s of 20 ms packets counted, nothing lost on loopback.
            from_relay += 1;
            relay_times.push(time);
            assert_eq!(json["type"], 201, "{json}");
            assert!(block["highest_seq_no"].as_u64().unwrap() > 100, "{json}");
            assert_eq!(block["packets_lost"], 0, "{json}");
            ports[0]
        } else {
            // A phone's own SR or RR, from the phone to the relay's RTCP port.
            from_phones += 1;
            phone_times.push(time);
            assert!(
                [200, 201].contains(&json["type"].as_u64().unwrap()),
                "{json}"
            );
            assert_ne!(block["source_ssrc"], 0, "{json}");
            ports[1]
        };
        assert!(
            (43000..=43999).contains(&relay_port) && relay_port % 2 == 1,
            "the relay's RTCP port: {ports:?}"
        );
    }
    eprintln!("{from_relay} reports of the relay, {from_phones} of the phones");
    assert_eq!(from_relay, 2, "one per phone");
    // Each phone's hang-up compound at least, and the periodic reports (RFC 3550 §6.2:
    // the first within 3.75 s) as they passed, before the call ended.
    assert!(from_phones >= 2, "{reports:?}");
    let ended = relay_times.iter().min().unwrap();
    assert!(
        phone_times.iter().any(|t| t < ended),
        "a phone's report went out live: {phone_times:?} {relay_times:?}"
    );
}

#[test]
fn a_call_is_traced_as_text_ladder_json_pcap_and_hep() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let pcap_dir = data.path().join("pcap");
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\npcap_dir = \"{}\"\nhep = \"udp:{}\"\nhep_capture_id = 77\nhep_auth_key = \"k3y\"\nhep_node_name = \"node-a\"\n",
            pcap_dir.display(),
            collector.local_addr().unwrap()
        ),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let socket = data.path().join("control.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is the server user's only"
    );

    // The call of tests/proxy.rs: challenged INVITE, 180, 200, ACK, BYE from the callee.
    let mut alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    for phone in [&mut alice, &mut bob] {
        let contact = format!("Contact: <{}>\r\n", phone.contact());
        assert_eq!(phone.register(&contact).status(), Some(200));
    }
    let mut call = alice.new_call(&format!("bob@{DOMAIN}"), "traced");
    alice.send(&alice.invite_text(&call, None));
    let challenge = alice.expect_response("INVITE");
    assert_eq!(challenge.status(), Some(407));
    alice.ack_failure(&call, &challenge);
    let auth = alice.answer(&challenge, "INVITE", &format!("sip:bob@{DOMAIN}"));
    alice.next_invite(&mut call);
    alice.send(&alice.invite_text(&call, Some(&auth)));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 180, "b1");
    assert_eq!(alice.expect_response("INVITE").status(), Some(180));
    bob.reply(&invite, proxy, 200, "b1");
    let ok = alice.expect_response("INVITE");
    alice.send(&alice.in_dialog("ACK", &ok, true, call.cseq));
    bob.expect_request("ACK");
    bob.send(&bob.in_dialog("BYE", &invite, false, 1));
    let (bye, from) = alice.expect_request("BYE");
    alice.reply(&bye, from, 200, "unused");
    assert_eq!(bob.expect_response("BYE").status(), Some(200));

    // Text: each message in full, then the ladder, in the order of the call.
    let text = stdout(&trace(&data, &["--call-id", &call.call_id]));
    let ladder_start = text.rfind("\n\n").unwrap();
    let (messages, ladder) = text.split_at(ladder_start);
    assert!(
        messages.contains(&format!("Call-ID: {}", call.call_id)),
        "{text}"
    );
    assert!(messages.contains("received UDP"), "{messages}");
    let labels: Vec<&str> = ladder.lines().filter_map(ladder_label).collect();
    let flow = [
        "INVITE (SDP)",
        "407", // cut to fit between the columns
        "ACK",
        "INVITE (SDP)",
        "180 Ringing",
        "200 OK",
        "ACK",
        "BYE",
        "200 OK",
    ];
    let mut rest = labels.iter();
    for step in flow {
        assert!(
            rest.any(|l| l.starts_with(step)),
            "{step} missing or out of order in {labels:?}\n{ladder}"
        );
    }
    let header = ladder.lines().find(|l| !l.trim().is_empty()).unwrap();
    for address in [alice.local(), server.udp, bob.local()] {
        assert!(header.contains(&address.to_string()), "{header}");
    }

    // JSON: the same messages, with RFC 3339 times and real addresses.
    let json: serde_json::Value = serde_json::from_str(&stdout(&trace(
        &data,
        &["--call-id", &call.call_id, "--json"],
    )))
    .unwrap();
    let records = json.as_array().unwrap();
    assert!(records.len() >= 15, "{} messages", records.len());
    for r in records {
        let time = r["time"].as_str().unwrap();
        assert!(
            time.len() == 24 && &time[10..11] == "T" && time.ends_with('Z'),
            "{time}"
        );
        assert!(["in", "out"].contains(&r["direction"].as_str().unwrap()));
        assert_eq!(r["protocol"], "udp");
        assert!(r["text"].as_str().unwrap().contains(&call.call_id));
    }
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in capture order");
    let byes = records
        .iter()
        .filter(|r| r["text"].as_str().unwrap().starts_with("BYE "))
        .count();
    assert_eq!(byes, 2, "the BYE in from bob and out to alice");
    // The other filters.
    let invites: serde_json::Value = serde_json::from_str(&stdout(&trace(
        &data,
        &["--user", "bob", "--method", "invite", "--json"],
    )))
    .unwrap();
    assert!(invites.as_array().unwrap().iter().all(|r| {
        let t = r["text"].as_str().unwrap();
        t.contains("CSeq: 1 INVITE") || t.contains("CSeq: 2 INVITE")
    }));
    assert!(!invites.as_array().unwrap().is_empty());

    // pcap: tshark decodes every message of the call as SIP.
    let file = data.path().join("call.pcap");
    let summary = stdout(&trace(
        &data,
        &["--call-id", &call.call_id, "--pcap", file.to_str().unwrap()],
    ));
    assert_eq!(
        summary.trim(),
        format!("{} messages written to {}", records.len(), file.display())
    );
    let decoded = tshark_sip(&file);
    assert_eq!(decoded.len(), records.len(), "{decoded:?}");
    assert!(
        decoded.iter().all(|l| l.starts_with(&call.call_id)),
        "{decoded:?}"
    );
    assert_eq!(decoded.iter().filter(|l| l.ends_with("\t180")).count(), 2);

    // HEP: one packet per message of the call, every chunk as configured.
    let mut hep_call = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 65_535];
    while hep_call.len() < records.len() && Instant::now() < deadline {
        let Ok((n, _)) = collector.recv_from(&mut buf) else {
            continue;
        };
        let chunks = hep_chunks(&buf[..n]);
        let payload = String::from_utf8(chunk(&chunks, 0x000f).to_vec()).unwrap();
        let message = sip::Message::parse(payload.clone().into_bytes()).unwrap();
        let call_id = message.call_id().unwrap().to_owned();
        assert_eq!(
            chunk(&chunks, 0x0011),
            call_id.as_bytes(),
            "correlation ID = Call-ID"
        );
        assert_eq!(chunk(&chunks, 0x0001), [2], "IPv4");
        assert_eq!(chunk(&chunks, 0x0002), [17], "UDP");
        assert_eq!(chunk(&chunks, 0x0003), [127, 0, 0, 1]);
        assert_eq!(chunk(&chunks, 0x0004), [127, 0, 0, 1]);
        let ports = [chunk(&chunks, 0x0007), chunk(&chunks, 0x0008)]
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        assert!(ports.contains(&server.udp.port()), "{ports:?}");
        let secs = u32::from_be_bytes(chunk(&chunks, 0x0009).try_into().unwrap());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            u64::from(secs) <= now && now - u64::from(secs) < 60,
            "{secs}"
        );
        assert!(u32::from_be_bytes(chunk(&chunks, 0x000a).try_into().unwrap()) < 1_000_000);
        assert_eq!(chunk(&chunks, 0x000b), [1], "SIP");
        assert_eq!(chunk(&chunks, 0x000c), 77u32.to_be_bytes());
        assert_eq!(chunk(&chunks, 0x000e), b"k3y");
        assert_eq!(chunk(&chunks, 0x0013), b"node-a");
        if call_id == call.call_id {
            hep_call.push(payload);
        }
    }
    let texts: Vec<&str> = records
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        hep_call, texts,
        "the call's messages, in order, byte for byte"
    );

    // The rotated pcap files on disk hold the call too.
    common::eventually("the pcap files are written", || {
        std::fs::read_dir(&pcap_dir).is_ok_and(|d| {
            d.filter_map(Result::ok)
                .flat_map(|e| tshark_sip(&e.path()))
                .filter(|l| l.starts_with(&call.call_id))
                .count()
                == records.len()
        })
    });
}

#[test]
fn follow_streams_new_messages_and_no_server_is_a_clear_error() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let server = Itsp::start(&as_strs(&data.args()));
    let mut follow = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "trace",
            "--follow",
            "--json",
            "--user",
            "alice",
            "--data-dir",
            &data.path_str(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut alice = Phone::new(server.udp, "alice", "a-secret");
    let contact = format!("Contact: <{}>\r\n", alice.contact());
    assert_eq!(alice.register(&contact).status(), Some(200));
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let line = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("followed messages");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(
            v["text"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        seen,
        [
            format!("REGISTER sip:{DOMAIN} SIP/2.0"),
            "SIP/2.0 401 Unauthorized".into(),
            format!("REGISTER sip:{DOMAIN} SIP/2.0"),
            "SIP/2.0 200 OK".into()
        ]
    );
    let _ = follow.kill();
    let _ = follow.wait();
    drop(server);

    // No server: the socket file is gone, and the error says what to do.
    let out = trace(&data, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "no itsp serve listening on {}",
            data.path().join("control.sock").display()
        )) && err.contains("start it, or pass --data-dir"),
        "{err}"
    );
    let out = trace(&data, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("no itsp serve listening"));
}

#[test]
fn sngrep_listening_for_hep_shows_the_call() {
    // sngrep, the ladder tool operators run beside Kamailio, as a HEP collector (`-L`):
    // what it receives from our export, written to a pcap (`-O`), is the call as SIP.
    let port = common::free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sngrep.pcap");
    let mut sngrep = Command::new("sngrep")
        .args(["-N", "-q", "-L", &format!("udp:127.0.0.1:{port}"), "-O"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sngrep runs (Debian sngrep; scripts/install-test-deps.sh installs it)");
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!("[capture]\nhep = \"udp:127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut bob = common::softphone::Softphone::start(
        server.udp,
        "bob",
        "b-secret",
        &["--calls", "1", "answer"],
    );
    bob.wait_event("waiting", Duration::from_secs(20));
    let mut alice = common::softphone::Softphone::start(
        server.udp,
        "alice",
        "a-secret",
        &["--duration", "1", "call", "bob"],
    );
    alice.wait_event("answered", Duration::from_secs(20));
    assert!(alice.wait_exit(Duration::from_secs(20)).success());
    // The HEP sender sends every 50 ms; then sngrep is stopped (SIGINT writes its file).
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &sngrep.id().to_string()])
        .status();
    let status = sngrep.wait().unwrap();
    assert!(
        status.success() || status.code().is_none(),
        "sngrep: {status:?}"
    );
    let decoded = tshark_sip(&pcap);
    let of_call: Vec<&String> = decoded
        .iter()
        .filter(|l| l.contains("\tINVITE\t") || l.contains("\tBYE\t"))
        .collect();
    assert!(
        of_call.iter().any(|l| l.ends_with("\t200")),
        "the answered INVITE and the BYE's 200 through sngrep: {decoded:#?}"
    );
    assert!(
        of_call.iter().any(|l| l.contains("\tBYE\t")),
        "{decoded:#?}"
    );
    let call_ids: std::collections::BTreeSet<&str> = of_call
        .iter()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(call_ids.len(), 1, "one call: {decoded:#?}");
}
