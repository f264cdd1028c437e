//! Real NATs (network namespaces, veth, iptables MASQUERADE; `common::netns`): the lab
//! itself, and `itsp nat check` against the STUN server of `itsp serve` from a public host,
//! a cone NAT and a symmetric NAT. Skipped, with a line saying so, where the kernel refuses
//! network namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::netns::{Host, Lab, NatKind};

/// Sends one UDP datagram from `host` (source port `sport`) to `to`:`dport` with bash's
/// `/dev/udp`, nothing else needed.
fn send_udp(host: &Host, to: std::net::Ipv4Addr, dport: u16) {
    host.run(
        "bash",
        &["-c", &format!("echo ping > /dev/udp/{to}/{dport}")],
    );
}

/// The translated source ports `conntrack -L` shows for UDP flows of `private` to `to`.
fn mapped_ports(
    table: &str,
    private: std::net::Ipv4Addr,
    to: std::net::Ipv4Addr,
    dport: u16,
) -> Vec<(String, String)> {
    // Line: udp 17 29 src=P dst=S sport=A dport=D [UNREPLIED] src=S dst=W sport=D dport=M ...
    table
        .lines()
        .filter(|l| {
            l.starts_with("udp")
                && l.contains(&format!("src={private} dst={to} "))
                && l.contains(&format!(" dport={dport} "))
        })
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let get = |key: &str, nth: usize| {
                fields
                    .iter()
                    .filter_map(|f| f.strip_prefix(key))
                    .nth(nth)
                    .unwrap_or_default()
                    .to_owned()
            };
            (get("dst=", 1), get("dport=", 1))
        })
        .collect()
}

#[test]
fn the_lab_translates_home_traffic_and_tears_down() {
    let Some(lab) = Lab::new() else { return };
    let server = lab.server_host();
    let public = lab.public_host();
    let home = lab.home(NatKind::Cone);
    let a = home.host();
    let b = home.host();
    assert_eq!(server.ip.to_string(), "203.0.113.1");
    assert_eq!(public.ip.to_string(), "203.0.113.10");
    assert_eq!(a.ip.to_string(), "192.168.1.2");
    assert_eq!(b.ip.to_string(), "192.168.1.3");
    // Home hosts route through their router; the route to the server leaves by eth0.
    let route = a.run("ip", &["route", "get", "203.0.113.1"]);
    assert!(route.contains("via 192.168.1.1"), "{route}");
    send_udp(&a, server.ip, 9);
    send_udp(&b, server.ip, 9);
    let table = home.mappings();
    for host in [&a, &b] {
        let seen = mapped_ports(&table, host.ip, server.ip, 9);
        assert_eq!(seen.len(), 1, "{table}");
        // The reply direction goes to the router's public address: translated.
        assert_eq!(seen[0].0, home.public_ip().to_string(), "{table}");
    }
    // A public host is not translated: no router on its way, nothing to look at but the
    // route.
    let route = public.run("ip", &["route", "get", "203.0.113.1"]);
    assert!(!route.contains("via"), "{route}");
    let names: Vec<String> = vec![server.ns.clone(), a.ns.clone(), home.router().ns];
    drop(home);
    drop(lab);
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    for ns in names {
        assert!(
            !left
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns.as_str())),
            "{ns} left: {left}"
        );
    }
}

#[test]
fn a_remapped_home_comes_from_a_new_address() {
    let Some(lab) = Lab::new() else { return };
    let server = lab.server_host();
    let mut home = lab.home(NatKind::Symmetric);
    let a = home.host();
    send_udp(&a, server.ip, 9);
    let before = home.public_ip();
    let after = home.remap();
    assert_ne!(before, after);
    send_udp(&a, server.ip, 9);
    let table = home.mappings();
    let seen = mapped_ports(&table, a.ip, server.ip, 9);
    assert_eq!(seen.len(), 1, "{table}");
    assert_eq!(seen[0].0, after.to_string(), "{table}");
}

/// `itsp serve` in the lab's server namespace, SIP on 203.0.113.1:5060 and STUN on its
/// default, every address port 3478 (and 3479).
fn serve_in_lab(lab: &Lab) -> (common::DataDir, common::Itsp) {
    let data = common::DataDir::with_users(&[]);
    let mut args = data.args();
    args.extend(["--stun-listen".into(), "udp:0.0.0.0:3478".into()]);
    let server = common::Itsp::start_with(
        lab.server_host().command(env!("CARGO_BIN_EXE_itsp")),
        &common::as_strs(&args),
        &["udp:203.0.113.1:5060", "tcp:203.0.113.1:5060"],
    );
    let (stun, alternate) = server.stun.expect("the STUN server runs");
    assert_eq!(stun.to_string(), "0.0.0.0:3478");
    assert_eq!(alternate.map(|a| a.port()), Some(3479));
    (data, server)
}

/// `itsp nat check --json` from `host` against the lab's server.
fn nat_check(host: &Host) -> serde_json::Value {
    let out = host
        .command(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "nat",
            "check",
            "--stun",
            "203.0.113.1",
            "--json",
            "--timeout-ms",
            "1500",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn nat_check_from_a_public_host_finds_no_nat() {
    let Some(lab) = Lab::new() else { return };
    let (_data, _server) = serve_in_lab(&lab);
    let public = lab.public_host();
    let r = nat_check(&public);
    assert_eq!(r["behind_nat"], false, "{r}");
    assert_eq!(r["mapping"], "none", "{r}");
    assert!(
        r["mapped"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", public.ip)),
        "{r}"
    );
    assert_eq!(r["other_address"], "203.0.113.1:3479", "{r}");
    // Nothing filters a public host: the answer from the other port came in.
    assert_eq!(
        r["filtering"], "endpoint-independent or address-dependent",
        "{r}"
    );
}

#[test]
fn nat_check_behind_a_cone_nat_finds_endpoint_independent_mapping() {
    let Some(lab) = Lab::new() else { return };
    let (_data, _server) = serve_in_lab(&lab);
    let home = lab.home(NatKind::Cone);
    let host = home.host();
    let r = nat_check(&host);
    assert_eq!(r["behind_nat"], true, "{r}");
    assert!(
        r["local"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", host.ip)),
        "{r}"
    );
    assert!(
        r["mapped"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", home.public_ip())),
        "{r}"
    );
    assert_eq!(
        r["mapping"],
        "endpoint-independent",
        "{r}\n{}",
        home.mappings()
    );
    // conntrack lets in only answers from where the host sent to.
    assert_eq!(r["filtering"], "address-and-port-dependent", "{r}");
    assert!(r["verdict"].as_str().unwrap().contains("cone"), "{r}");
}

#[test]
fn nat_check_behind_a_symmetric_nat_finds_port_dependent_mapping() {
    let Some(lab) = Lab::new() else { return };
    let (_data, _server) = serve_in_lab(&lab);
    let home = lab.home(NatKind::Symmetric);
    let host = home.host();
    let r = nat_check(&host);
    assert_eq!(r["behind_nat"], true, "{r}");
    assert!(
        r["mapped"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", home.public_ip())),
        "{r}"
    );
    assert_eq!(
        r["mapping"],
        "address-and-port-dependent",
        "{r}\n{}",
        home.mappings()
    );
    assert!(r["verdict"].as_str().unwrap().contains("relay"), "{r}");
}

#[test]
fn nat_check_without_a_stun_server_fails_clearly() {
    let Some(lab) = Lab::new() else { return };
    let public = lab.public_host();
    let out = public
        .command(env!("CARGO_BIN_EXE_itsp"))
        .args([
            "nat",
            "check",
            "--stun",
            "203.0.113.1",
            "--timeout-ms",
            "300",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no answer from the STUN server 203.0.113.1:3478"),
        "{err}"
    );
}
