//! End-to-end: the lines an operator reads in the log of a real `itsp serve` (JSON
//! format, at the default level `info`): a registration, a periodic refresh that logs
//! nothing, a new contact of the same phone, unregistrations (expires 0 and `*`), an
//! expiry, and failed logins — an unknown user and a wrong password worded alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{as_strs, DataDir, Itsp, Phone, DOMAIN};
use serde_json::Value;

/// The log lines up to and including the first whose message is `message`.
fn lines_until(server: &Itsp, message: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server
            .log
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no log line {message:?} after {lines:#?}"));
        let found = line["fields"]["message"] == message;
        lines.push(line);
        if found {
            return lines;
        }
    }
}

/// The messages of `lines`.
fn messages(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect()
}

/// Asserts the registration fields of a line.
fn assert_binding_fields(line: &Value, contact: &str, expires: u64, phone: &Phone) {
    let fields = &line["fields"];
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(fields["aor"], format!("alice@{DOMAIN}"), "{line}");
    assert_eq!(fields["contact"], contact, "{line}");
    assert_eq!(fields["expires"], expires, "{line}");
    assert_eq!(fields["source"], phone.local().to_string(), "{line}");
    assert_eq!(fields["transport"], "udp", "{line}");
    assert_eq!(fields["user_agent"], "itsp-test-phone", "{line}");
    assert_eq!(fields["nat"], false, "{line}");
}

#[test]
fn registrations_and_failed_logins_are_logged_for_the_operator() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(
        &config,
        "[registrar]\nmin_expires = 1\npurge_interval = 1\n",
    )
    .unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut phone = Phone::new(server.udp, "alice", "secret");
    let first = phone.contact();
    let header =
        |contact: &str, expires: u32| format!("Contact: <{contact}>;expires={expires}\r\n");

    assert_eq!(phone.register(&header(&first, 600)).status(), Some(200));
    let lines = lines_until(&server, "registered");
    assert_binding_fields(lines.last().unwrap(), &first, 600, &phone);

    // A periodic refresh of the same contact: no line at info. The next change is the
    // next line about registrations.
    assert_eq!(phone.register(&header(&first, 600)).status(), Some(200));
    let second = format!("sip:alice@127.0.0.1:{}", phone.local().port() + 1);
    assert_eq!(phone.register(&header(&second, 300)).status(), Some(200));
    let lines = lines_until(&server, "registration refreshed with a new contact");
    let about_registrations: Vec<&str> = messages(&lines)
        .into_iter()
        .filter(|m| m.contains("regist"))
        .collect();
    assert_eq!(
        about_registrations,
        ["registration refreshed with a new contact"],
        "the refresh is quiet: {lines:#?}"
    );
    let moved = lines.last().unwrap();
    assert_binding_fields(moved, &second, 300, &phone);
    assert_eq!(moved["fields"]["previous_contact"], first.as_str());

    // Unregistration: one contact with expires 0, then the rest with `*`.
    assert_eq!(phone.register(&header(&first, 0)).status(), Some(200));
    let lines = lines_until(&server, "unregistered");
    assert_binding_fields(lines.last().unwrap(), &first, 0, &phone);
    let star = "Contact: *\r\nExpires: 0\r\n";
    assert_eq!(phone.register(star).status(), Some(200));
    let lines = lines_until(&server, "unregistered");
    assert_binding_fields(lines.last().unwrap(), &second, 0, &phone);

    // A binding nobody refreshes expires (the purge runs every second here).
    assert_eq!(phone.register(&header(&first, 1)).status(), Some(200));
    lines_until(&server, "registered");
    let lines = lines_until(&server, "registration expired");
    assert_binding_fields(lines.last().unwrap(), &first, 0, &phone);

    // Failed logins: a wrong password and an unknown user, logged alike. Their first
    // requests, without credentials, are challenged and are no failures.
    let mut wrong_password = Phone::new(server.udp, "alice", "not-the-password");
    let contact = wrong_password.contact();
    assert_ne!(
        wrong_password.register(&header(&contact, 600)).status(),
        Some(200)
    );
    let mut unknown_user = Phone::new(server.udp, "mallory", "secret");
    let contact = unknown_user.contact();
    assert_ne!(
        unknown_user.register(&header(&contact, 600)).status(),
        Some(200)
    );
    assert_eq!(phone.register(&header(&first, 600)).status(), Some(200));
    let lines = lines_until(&server, "registered");
    let failures: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "auth failed")
        .collect();
    assert_eq!(failures.len(), 2, "one line per failure: {lines:#?}");
    for (line, phone) in failures.iter().zip([&wrong_password, &unknown_user]) {
        let fields = &line["fields"];
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(fields["user"], phone.user.as_str(), "{line}");
        assert_eq!(fields["realm"], DOMAIN, "{line}");
        assert_eq!(fields["source"], "127.0.0.1", "{line}");
        assert_eq!(fields["reason"], "bad credentials", "{line}");
    }
    // Worded alike: the same fields, the same values but the user's name and the count
    // of the source's failures.
    let without_user = |line: &Value| {
        let mut fields = line["fields"].clone();
        let fields_map = fields.as_object_mut().unwrap();
        fields_map.remove("user");
        assert!(fields_map.remove("failures").is_some(), "{line}");
        (line["target"].clone(), fields)
    };
    assert_eq!(without_user(failures[0]), without_user(failures[1]));
}

/// Runs `itsp status` with `args`; its output.
fn status(data: &DataDir, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .arg("status")
        .args(["--data-dir", &data.path_str()])
        .args(args)
        .env_remove("ITSP_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn status_shows_a_running_server_and_sighup_reloads_it() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[log]\nfilter = \"info\"\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    // No --log: the config file's filter is the one in force, and SIGHUP can change it.
    let mut server = Itsp::start_logged(
        std::process::Command::new(env!("CARGO_BIN_EXE_itsp")),
        None,
        &as_strs(&args),
        &["udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    let mut phone = Phone::new(server.udp, "alice", "secret");
    let contact = format!("Contact: <{}>\r\n", phone.contact());
    assert_eq!(phone.register(&contact).status(), Some(200));
    server.wait_log("registered", Duration::from_secs(5));
    // The binding committed (the 200 goes before the commit): nothing waits for the store.
    common::eventually("the binding is in the store", || {
        common::admin_json(&data, &["ul", "show"])
            .as_array()
            .is_some_and(|b| b.len() == 1)
    });

    let out = status(&data, &["--json"]);
    assert!(out.status.success(), "{out:?}");
    let status_json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_json["version"], env!("CARGO_PKG_VERSION"));
    let started = status_json["started"].as_str().unwrap();
    assert!(
        started.len() == 24 && started.ends_with('Z') && &started[10..11] == "T",
        "RFC 3339: {started}"
    );
    assert!(status_json["uptime_secs"].as_u64().unwrap() < 120);
    let listeners: Vec<&str> = status_json["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // The portal's `/ws` counts as a WebSocket listener of the server.
    assert_eq!(
        listeners,
        [
            format!("udp:{}", server.udp),
            format!("tcp:{}", server.tcp),
            format!("ws:{}", server.http.unwrap()),
        ]
    );
    assert_eq!(status_json["domains"], 1);
    assert_eq!(status_json["registered_aors"], 1);
    assert_eq!(status_json["registered_contacts"], 1);
    assert_eq!(status_json["live_calls"], 0);
    assert_eq!(status_json["store"], "sqlite");
    assert_eq!(status_json["capture"], true);
    // The writers are idle: nothing waits for the store.
    assert_eq!(status_json["queued_bindings"], 0);
    assert_eq!(status_json["queued_call_records"], 0);

    let out = status(&data, &[]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for line in [
        vec!["version", env!("CARGO_PKG_VERSION")],
        vec!["registered", "contacts", "1"],
        vec!["store", "sqlite"],
        vec![
            "waiting",
            "for",
            "the",
            "store",
            "0",
            "bindings,",
            "0",
            "call",
            "records",
        ],
    ] {
        assert!(lines.contains(&line), "{line:?} in\n{text}");
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["status", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("itsp status --json"));

    // SIGHUP: a new log filter, a domain added meanwhile, a section that needs a restart.
    common::admin(&data, &["domain", "add", "other.example.com"]);
    std::fs::write(
        &config,
        "[log]\nfilter = \"debug\"\n[registrar]\nmax_contacts = 5\n",
    )
    .unwrap();
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", Duration::from_secs(10));
    let fields = &reloaded["fields"];
    assert_eq!(
        fields["reloaded"],
        "0 trusted networks, PSTN routing (0 gateways, 3 classes), log filter \"debug\", \
         2 domains, 0 bans",
        "{reloaded}"
    );
    assert_eq!(fields["needs_restart"], "[registrar]", "{reloaded}");
    assert_eq!(fields["not_reloaded"], "", "{reloaded}");
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    // The debug filter is in force: a quiet refresh now has its line.
    assert_eq!(phone.register(&contact).status(), Some(200));
    server.wait_log("registration refreshed", Duration::from_secs(5));
    let out = status(&data, &["--json"]);
    let status_json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_json["domains"], 2);

    // No server: a plain error, in JSON with --json, exit status 2.
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    let out = status(&data, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "no itsp server is running with data dir {}: start it with `itsp serve`",
            data.path().display()
        )),
        "{err}"
    );
    let out = status(&data, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(error["error"]
        .as_str()
        .unwrap()
        .starts_with("no itsp server is running"));
}

#[test]
fn sighup_takes_new_trusted_networks_and_gateways_keeping_registrations_and_calls() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    common::admin(&data, &["group", "add", "alice@example.com", "ld"]);
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[log]\nfilter = \"info\"\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let mut alice = Phone::new(server.udp, "alice", "a-secret");
    let mut bob = Phone::new(server.udp, "bob", "b-secret");
    for phone in [&mut alice, &mut bob] {
        let contact = format!("Contact: <{}>\r\n", phone.contact());
        assert_eq!(phone.register(&contact).status(), Some(200));
    }
    // Not trusted yet: alice's INVITE is challenged. She answers it: a call in progress.
    let mut call = alice.new_call("bob@example.com", "before");
    alice.send(&alice.invite_text(&call, None));
    let challenge = alice.expect_response("INVITE");
    assert_eq!(challenge.status(), Some(407));
    alice.ack_failure(&call, &challenge);
    let auth = alice.answer(&challenge, "INVITE", "sip:bob@example.com");
    alice.next_invite(&mut call);
    alice.send(&alice.invite_text(&call, Some(&auth)));
    let (invite, proxy) = bob.expect_request("INVITE");
    bob.reply(&invite, proxy, 200, "b1");
    let ok = alice.expect_response("INVITE");
    assert_eq!(ok.status(), Some(200));
    alice.send(&alice.in_dialog("ACK", &ok, true, call.cseq));
    bob.expect_request("ACK");

    // Loopback becomes trusted and a gateway appears, while the call goes on.
    let gateway = Phone::new("127.0.0.1:9".parse().unwrap(), "gw", "-");
    std::fs::write(
        &config,
        format!(
            "[log]\nfilter = \"info\"\n[auth]\ntrusted = [\"127.0.0.0/8\"]\n\
             [pstn]\ngateways = [\"sip:{}\"]\n",
            gateway.local()
        ),
    )
    .unwrap();
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", Duration::from_secs(10));
    let fields = &reloaded["fields"];
    assert!(
        fields["reloaded"]
            .as_str()
            .unwrap()
            .contains("1 trusted networks, PSTN routing (1 gateways, 3 classes)"),
        "{reloaded}"
    );
    assert_eq!(fields["needs_restart"], "", "{reloaded}");

    // Trusted now: no challenge; a number goes to the new gateway.
    let number_call = alice.new_call("0812345678@example.com", "after");
    alice.send(&alice.invite_text(&number_call, None));
    let (at_gateway, _) = gateway.expect_request("INVITE");
    assert!(
        at_gateway
            .request_uri_str()
            .is_some_and(|u| u.starts_with("sip:0812345678@127.0.0.1")),
        "{at_gateway:?}"
    );
    // The call from before the reload still ends normally, through the proxy.
    bob.send(&bob.in_dialog("BYE", &invite, false, 1));
    let (bye, from) = alice.expect_request("BYE");
    assert_eq!(bye.call_id().unwrap(), call.call_id.as_str());
    alice.reply(&bye, from, 200, "unused");
    assert_eq!(bob.expect_response("BYE").status(), Some(200));
    // Both registrations are still there.
    let bindings = common::admin_json(&data, &["ul", "show"]);
    assert_eq!(bindings.as_array().unwrap().len(), 2, "{bindings:#}");
}

#[test]
fn sighup_starts_and_stops_hep_export_and_pcap_files() {
    let data = DataDir::with_users(&[("alice", "secret")]);
    let config = data.path().join("itsp.toml");
    std::fs::write(&config, "[log]\nfilter = \"info\"\n").unwrap();
    let mut args = data.args();
    args.extend(["--config".into(), config.display().to_string()]);
    let server = Itsp::start(&as_strs(&args));
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let pcap_dir = data.path().join("pcap");
    std::fs::write(
        &config,
        format!(
            "[log]\nfilter = \"info\"\n[capture]\nring_messages = 500\nhep = \"udp:{}\"\npcap_dir = \"{}\"\n",
            collector.local_addr().unwrap(),
            pcap_dir.display()
        ),
    )
    .unwrap();
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", Duration::from_secs(10));
    let what = reloaded["fields"]["reloaded"].as_str().unwrap().to_owned();
    assert!(what.contains("capture ring (500 messages"), "{what}");
    assert!(what.contains("pcap files in"), "{what}");
    assert!(what.contains("HEP export to 127.0.0.1:"), "{what}");
    assert_eq!(reloaded["fields"]["needs_restart"], "", "{reloaded}");
    // A registration now reaches the collector as HEP and the pcap directory.
    let mut phone = Phone::new(server.udp, "alice", "secret");
    let contact = format!("Contact: <{}>\r\n", phone.contact());
    assert_eq!(phone.register(&contact).status(), Some(200));
    let mut buf = [0u8; 65536];
    let n = collector
        .recv(&mut buf)
        .expect("a HEP packet after the reload");
    assert_eq!(&buf[..4], b"HEP3");
    assert!(
        buf[..n].windows(8).any(|w| w == b"REGISTER"),
        "the REGISTER in the HEP payload"
    );
    common::eventually("a pcap file is written", || {
        std::fs::read_dir(&pcap_dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "pcap"))
            })
            .unwrap_or(false)
    });
    // Export off again; turning the capture itself off needs a restart.
    std::fs::write(
        &config,
        "[log]\nfilter = \"info\"\n[capture]\nring_messages = 0\n",
    )
    .unwrap();
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", Duration::from_secs(10));
    assert!(
        reloaded["fields"]["not_reloaded"]
            .as_str()
            .unwrap()
            .contains("turning the capture off needs a restart"),
        "{reloaded}"
    );
    assert_eq!(
        reloaded["fields"]["needs_restart"], "[capture]",
        "{reloaded}"
    );
    std::fs::write(&config, "[log]\nfilter = \"info\"\n").unwrap();
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", Duration::from_secs(10));
    let what = reloaded["fields"]["reloaded"].as_str().unwrap();
    assert!(
        what.contains("HEP export off") && what.contains("pcap files off"),
        "{reloaded}"
    );
    while collector.recv(&mut buf).is_ok() {} // what was on its way
    collector
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert_eq!(phone.register(&contact).status(), Some(200));
    assert!(
        collector.recv(&mut buf).is_err(),
        "no HEP after export was turned off"
    );
}
