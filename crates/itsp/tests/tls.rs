//! SIP over TLS end to end: `itsp serve` with a `tls:` listener makes a self-signed
//! certificate for its domain on the first run; `itsp phone --transport tls` trusting it
//! registers and calls a phone on UDP (tones both ways, the record-routed BYE over the
//! TLS connection); a phone that does not trust it is refused at the handshake; the
//! operator's own certificate replaces it on SIGHUP; a wrong key or an expired
//! certificate stops the start with a message naming the file; SRTP (its keys in the SDP)
//! between a TLS phone that requires it and a UDP phone that offers it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::softphone::{tone_share, Softphone};
use common::{admin_json, as_strs, DataDir, Itsp, DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

/// The server with alice and bob on UDP, TLS and TCP (TLS before TCP: see
/// [`Itsp::tls`]), with `extra` arguments.
fn tls_server(data: &DataDir, extra: &[&str]) -> Itsp {
    let mut args = data.args();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let server = Itsp::start_on(
        &as_strs(&args),
        &["udp:127.0.0.1:0", "tls:127.0.0.1:0", "tcp:127.0.0.1:0"],
    );
    assert!(server.tls.is_some(), "no TLS listener reported");
    server
}

/// `itsp phone` arguments for TLS to `server` trusting the certificate in `ca`.
fn over_tls(ca: &Path) -> Vec<String> {
    vec![
        "--transport".into(),
        "tls".into(),
        "--tls-ca".into(),
        ca.display().to_string(),
    ]
}

/// Alice answers on TLS (trusting the server's certificate) with `alice_extra` arguments,
/// Bob calls her from UDP with `bob_extra`; tones both ways. `registered` runs once Alice
/// waits for the call. Both phones, after the call.
fn call_a_tls_phone(
    data: &DataDir,
    server: &Itsp,
    alice_extra: &[&str],
    bob_extra: &[&str],
    registered: impl FnOnce(),
) -> (Softphone, Softphone) {
    let cert = data.path().join("tls/cert.pem");
    let dir = tempfile::tempdir().unwrap();
    let (alice_heard, bob_heard) = (dir.path().join("alice.wav"), dir.path().join("bob.wav"));
    let mut alice_args = over_tls(&cert);
    alice_args.extend(alice_extra.iter().map(|a| (*a).to_owned()));
    alice_args
        .extend(["--tone", "440", "--record", alice_heard.to_str().unwrap()].map(String::from));
    alice_args.extend(["--calls", "1", "answer"].map(String::from));
    let mut alice = Softphone::start(
        server.tls.unwrap(),
        "alice",
        "a-secret",
        &as_strs(&alice_args),
    );
    alice.wait_event("waiting", WAIT);
    registered();
    let mut bob_args: Vec<&str> = bob_extra.to_vec();
    bob_args.extend(["--tone", "660", "--record", bob_heard.to_str().unwrap()]);
    bob_args.extend(["--duration", "3", "call", "alice"]);
    let mut bob = Softphone::start(server.udp, "bob", "b-secret", &bob_args);
    bob.wait_event("answered", WAIT);
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    assert!(alice.wait_exit(WAIT).success(), "alice's call succeeded");
    let heard = tone_share(&bob_heard, 440.0);
    assert!(heard > 0.8, "bob: 440 Hz is {heard:.2} of what he heard");
    let heard = tone_share(&alice_heard, 660.0);
    assert!(heard > 0.8, "alice: 660 Hz is {heard:.2} of what she heard");
    (alice, bob)
}

#[test]
fn a_tls_phone_calls_a_udp_phone_and_both_hear_each_other() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = tls_server(&data, &[]);
    assert!(
        data.path().join("tls/cert.pem").exists(),
        "no self-signed certificate in the data dir"
    );
    let made = server.startup_log("self-signed TLS certificate");
    assert!(
        made["fields"]["names"].as_str().unwrap().contains(DOMAIN),
        "{made}"
    );
    let (alice, _bob) = call_a_tls_phone(&data, &server, &[], &[], || {
        let bindings = admin_json(&data, &["ul", "show", "alice@example.com"]);
        let binding = &bindings.as_array().unwrap()[0];
        assert_eq!(binding["transport"], "TLS", "{bindings}");
        assert!(
            binding["contact"]
                .as_str()
                .unwrap()
                .ends_with(";transport=tls"),
            "{binding}"
        );
    });
    // Bob hung up: his BYE reached alice over her TLS connection.
    assert_eq!(alice.all("ended")[0]["cause"], "remote-hangup");
}

#[test]
fn a_phone_that_does_not_trust_the_certificate_is_refused_at_the_handshake() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let server = tls_server(&data, &[]);
    // The system's CAs alone: the self-signed certificate is not trusted.
    let mut alice = Softphone::start(
        server.tls.unwrap(),
        "alice",
        "a-secret",
        &["--transport", "tls", "register"],
    );
    let status = alice.wait_exit(WAIT);
    assert!(!status.success());
    let failed = alice.all("failed");
    let text = failed[0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("TLS handshake") && text.contains("certificate"),
        "{failed:?}"
    );
    // The server logs it and goes on serving.
    server.wait_log("TLS handshake failed", WAIT);
    let cert = data.path().join("tls/cert.pem");
    let mut args = over_tls(&cert);
    args.push("register".into());
    let mut trusting = Softphone::start(server.tls.unwrap(), "alice", "a-secret", &as_strs(&args));
    trusting.wait_event("registered", WAIT);
}

/// A self-signed certificate for [`DOMAIN`] made in `dir` (as the server makes its own).
fn certificate_in(dir: &Path) {
    let names = vec![DOMAIN.to_owned()];
    transport::tls::Identity::self_signed(dir, &names, SystemTime::now()).unwrap();
}

#[test]
fn the_operators_certificate_is_used_and_replaced_on_sighup() {
    let data = DataDir::with_users(&[("alice", "a-secret")]);
    let files = tempfile::tempdir().unwrap();
    let (first, second) = (files.path().join("first"), files.path().join("second"));
    certificate_in(&first);
    certificate_in(&second);
    let live = files.path().join("live");
    std::fs::create_dir(&live).unwrap();
    for name in ["cert.pem", "key.pem"] {
        std::fs::copy(first.join(name), live.join(name)).unwrap();
    }
    let config = files.path().join("itsp.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            live.join("cert.pem").display(),
            live.join("key.pem").display()
        ),
    )
    .unwrap();
    let server = tls_server(&data, &["--config", config.to_str().unwrap()]);
    server.startup_log("TLS certificate loaded");
    assert!(
        !data.path().join("tls").exists(),
        "a self-signed certificate was made although one was configured"
    );
    // Whether a phone trusting only the certificate in `ca` registers.
    let register = |ca: &Path| {
        let mut args = over_tls(ca);
        args.push("register".into());
        let mut phone = Softphone::start(server.tls.unwrap(), "alice", "a-secret", &as_strs(&args));
        phone.wait_any(&["registered", "failed"], WAIT)["event"] == "registered"
    };
    assert!(register(&first.join("cert.pem")));
    assert!(!register(&second.join("cert.pem")));

    // A renewed certificate: the files replaced, then SIGHUP.
    for name in ["cert.pem", "key.pem"] {
        std::fs::copy(second.join(name), live.join(name)).unwrap();
    }
    server.signal("HUP");
    let reloaded = server.wait_log("configuration reloaded", WAIT);
    assert!(
        reloaded["fields"]["reloaded"]
            .as_str()
            .unwrap()
            .contains("TLS certificate"),
        "{reloaded}"
    );
    assert!(register(&second.join("cert.pem")));
    assert!(!register(&first.join("cert.pem")));
}

/// Runs `itsp serve` with `config` and a TLS listener, expecting it to refuse to start;
/// its error output.
fn refused_start(data: &DataDir, config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(as_strs(&data.args()))
        .args(["--listen", "tls:127.0.0.1:0", "--no-http", "--no-stun"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_wrong_key_or_a_missing_file_stops_the_start_naming_the_file() {
    let data = DataDir::with_users(&[]);
    let files = tempfile::tempdir().unwrap();
    let (a, b) = (files.path().join("a"), files.path().join("b"));
    certificate_in(&a);
    certificate_in(&b);
    let config = files.path().join("itsp.toml");
    let write = |cert: &Path, key: &Path| {
        std::fs::write(
            &config,
            format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
    };

    write(&a.join("cert.pem"), &b.join("key.pem"));
    let error = refused_start(&data, &config);
    assert!(
        error.contains("does not belong to the certificate")
            && error.contains(&b.join("key.pem").display().to_string()),
        "{error}"
    );

    write(&files.path().join("missing.pem"), &a.join("key.pem"));
    let error = refused_start(&data, &config);
    assert!(
        error.contains("cannot read") && error.contains("missing.pem"),
        "{error}"
    );

    std::fs::write(&config, "[tls]\ncert = \"/etc/itsp/cert.pem\"\n").unwrap();
    let error = refused_start(&data, &config);
    assert!(error.contains("tls.key"), "{error}");
}

/// The SDES keys travel in the SDP, so SRTP belongs over TLS: a phone on TLS that requires
/// SRTP is called by one on UDP that offers it; tones both ways, every packet authenticated.
#[test]
fn a_tls_phone_requiring_srtp_takes_an_srtp_call() {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let server = tls_server(&data, &[]);
    let (alice, bob) = call_a_tls_phone(
        &data,
        &server,
        &["--srtp", "require"],
        &["--srtp", "offer"],
        || {},
    );
    for phone in [&alice, &bob] {
        let report = &phone.all("report")[0];
        assert!(
            report["srtp"]
                .as_str()
                .is_some_and(|s| s.starts_with("AES_CM_128_HMAC_SHA1")),
            "{}: {report}",
            phone.name
        );
        assert_eq!(report["srtp_auth_failures"], 0, "{}: {report}", phone.name);
    }
}
