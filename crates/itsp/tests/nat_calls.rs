//! Calls through real NATs (the lab of `common::netns`: namespaces, veth, iptables
//! MASQUERADE; `--random-fully` for a symmetric NAT), the cases of seed 000 §5.3: two
//! homes behind two NATs, a home and a public user, two users behind the same NAT, a NAT
//! that changes its public address during a call, and a STUN-using phone with the relay
//! off. `itsp serve` runs on the lab's public server host with its default NAT handling
//! (detection, Contact fixing, keepalives, relay policy `nat`); each call carries tones
//! both ways between two `itsp phone`s, found in the recordings. Skipped, with a line
//! saying so, where the kernel refuses network namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::netns::{Host, Lab, NatKind};
use common::softphone::{
    assert_two_way_audio, tone_call, tone_share_in_windows, CallSide, Softphone,
};
use common::{as_strs, DataDir, Itsp};

const WAIT: Duration = Duration::from_secs(25);
const SERVER: &str = "203.0.113.1:5060";

/// `itsp serve` on the lab's server host with `config` (TOML) and users alice and bob.
fn serve(lab: &Lab, dir: &Path, config: &str) -> (DataDir, Itsp) {
    let data = DataDir::with_users(&[("alice", "a-secret"), ("bob", "b-secret")]);
    let file = dir.join("itsp.toml");
    std::fs::write(&file, config).unwrap();
    let mut args = data.args();
    args.extend([
        "--config".into(),
        file.display().to_string(),
        "--stun-listen".into(),
        "udp:0.0.0.0:3478".into(),
    ]);
    let server = Itsp::start_with(
        lab.server_host().command(env!("CARGO_BIN_EXE_itsp")),
        &as_strs(&args),
        &["udp:203.0.113.1:5060", "tcp:203.0.113.1:5060"],
    );
    (data, server)
}

/// `itsp phone` on `host` as `user` (password `<initial>-secret`).
fn phone(host: &Host, user: &str, args: &[&str]) -> Softphone {
    let password = format!("{}-secret", &user[..1]);
    let mut all = vec![
        "phone",
        "--json",
        "--user",
        user,
        "--password",
        &password,
        "--server",
        SERVER,
        "--domain",
        common::DOMAIN,
    ];
    all.extend_from_slice(args);
    Softphone::start_with(host.command(env!("CARGO_BIN_EXE_itsp")), user, &all)
}

/// Alice on `callee`, bob on `caller`: [`tone_call`] through the lab's server.
fn call(
    callee: &Host,
    caller: &Host,
    dir: &Path,
    extra: &[&str],
    seconds: u32,
    during: impl FnOnce(&mut Softphone, &mut Softphone),
) -> [CallSide; 2] {
    let start = |user: &str, args: &[&str]| {
        let host = if user == "alice" { callee } else { caller };
        phone(host, user, args)
    };
    tone_call(start, dir, extra, Some(seconds), during)
}

/// The relay carried the call: its session ended with packets counted.
fn assert_relayed(server: &Itsp) -> u64 {
    let ended = server.wait_log("relay session ended", WAIT);
    let packets = ended["fields"]["rtp_packets"].as_u64().unwrap();
    assert!(packets > 200, "the relay saw {packets} RTP packets");
    packets
}

#[test]
fn two_homes_behind_two_nats_talk_through_the_relay_also_after_hold() {
    let Some(lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = serve(&lab, dir.path(), "");
    let cone = lab.home(NatKind::Cone);
    let symmetric = lab.home(NatKind::Symmetric);
    let sides = call(
        &cone.host(),
        &symmetric.host(),
        dir.path(),
        &[],
        6,
        |alice, bob| {
            std::thread::sleep(Duration::from_millis(1500));
            bob.type_line("hold");
            bob.wait_event("on-hold", WAIT);
            alice.wait_event("held", WAIT);
            std::thread::sleep(Duration::from_millis(500));
            bob.type_line("resume");
            bob.wait_event("resumed", WAIT);
        },
    );
    assert_two_way_audio(&sides, 200);
    assert_relayed(&server);
}

#[test]
fn a_home_user_and_a_public_user_talk() {
    let Some(lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = serve(&lab, dir.path(), "");
    let home = lab.home(NatKind::Symmetric);
    let public = lab.public_host();
    // The public user calls into the home.
    let sides = call(&home.host(), &public, dir.path(), &[], 4, |_, _| {});
    assert_two_way_audio(&sides, 120);
    assert_relayed(&server);
}

#[test]
fn two_users_behind_the_same_nat_talk() {
    let Some(lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = serve(&lab, dir.path(), "");
    let home = lab.home(NatKind::Cone);
    let sides = call(&home.host(), &home.host(), dir.path(), &[], 4, |_, _| {});
    assert_two_way_audio(&sides, 120);
    assert_relayed(&server);
}

#[test]
fn a_nat_that_changes_its_address_during_a_call_keeps_the_audio() {
    let Some(lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = serve(&lab, dir.path(), "");
    let mut home = lab.home(NatKind::Cone);
    let caller = home.host();
    let public = lab.public_host();
    let sides = call(&public, &caller, dir.path(), &[], 9, |_, _| {
        std::thread::sleep(Duration::from_millis(2000));
        home.remap();
    });
    // The relay had latched onto the old address, which is gone: both directions pause
    // until it re-latches onto the new one (after a few seconds of silence from the old
    // one), then the call goes on. Of about 450 packets each way, most arrive, and what
    // arrives is the other side's tone (judged in half-second windows: the gap and the
    // tone's phase jump across it are the remap's, not noise).
    let [alice, bob] = &sides;
    let heard = |s: &CallSide| {
        s.phone.all("report")[0]["packets_received"]
            .as_u64()
            .unwrap()
    };
    for side in [alice, bob] {
        assert!(
            heard(side) > 200,
            "{} heard {} packets",
            side.phone.name,
            heard(side)
        );
        let share = tone_share_in_windows(&side.recording, side.hears);
        assert!(share > 0.8, "{}: tone share {share:.2}", side.phone.name);
    }
    assert_relayed(&server);
}

#[test]
fn a_stun_phone_talks_directly_with_the_relay_off() {
    let Some(lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_data, server) = serve(&lab, dir.path(), "[relay]\npolicy = \"never\"\n");
    let home = lab.home(NatKind::Cone);
    let public = lab.public_host();
    let stun = ["--stun", "203.0.113.1:3478"];
    // The phone behind the NAT is called. Its NAT is a port-restricted cone: the caller's
    // media gets in only once the phone has sent to the caller; what comes earlier is
    // dropped by the router's firewall.
    let sides = call(&home.host(), &public, dir.path(), &stun, 4, |_, _| {});
    // STUN gave the phone its public address for SIP and RTP: the server saw no NAT and
    // nothing was relayed, yet audio flows both ways.
    assert_two_way_audio(&sides, 120);
    let ended = server.log.try_iter().find(|v| {
        v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("relay session"))
    });
    assert!(ended.is_none(), "nothing relayed: {ended:?}");
}
