//! The NAT lab: real NATs built from Linux network namespaces, veth pairs, bridges and
//! iptables, for end-to-end tests of NAT traversal (issue 6). Everything lives in
//! namespaces the lab creates; the machine's own network is never touched.
//!
//! ```text
//!            internet namespace: bridge br0, 203.0.113.0/24 (TEST-NET-3)
//!   ┌──────────────┬───────────────┬──────────────────────────┐
//!  server host    public hosts    home router (WAN 203.0.113.100+)
//!  203.0.113.1    203.0.113.10+     │ MASQUERADE (--random-fully when symmetric)
//!                                   │ LAN bridge br0, 192.168.N.1/24
//!                                  home hosts 192.168.N.2, .3, ...
//! ```
//!
//! Every namespace is named `itsp<pid>x<lab>` plus a role, so labs of parallel tests (and
//! of parallel test processes) never meet. Interface names inside a namespace are short
//! and fixed (`eth0`, `wan`, `br0`, `pN`, `hN`). [`Lab`]'s `Drop` ends the processes still
//! running in its namespaces and deletes the namespaces (which removes their interfaces),
//! also when a test panics. Namespaces left by a test process that was killed are deleted
//! by the next [`Lab::new`].
//!
//! Programs run inside a namespace through [`Host::command`] (`ip netns exec NS ...`).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// The kind of NAT a home router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// Linux MASQUERADE: endpoint-independent mapping (the source port is kept when it is
    /// free, and the same mapping serves every destination), address-and-port-dependent
    /// filtering (only answers from where a packet was sent come in): a "port-restricted
    /// cone".
    Cone,
    /// MASQUERADE `--random-fully`: a new random port for every destination
    /// (address-and-port-dependent mapping), the "symmetric" NAT of RFC 3489.
    Symmetric,
}

/// A machine of the lab: a namespace with one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The namespace (`ip netns exec NS ...`).
    pub ns: String,
    /// Its address: public (203.0.113.x) or private on a home LAN (192.168.N.x).
    pub ip: Ipv4Addr,
}

impl Host {
    /// `ip netns exec NS program`: add arguments, then spawn or run it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).arg(program);
        cmd
    }

    /// Runs `program args` in this host's namespace and returns its stdout; panics with
    /// its stderr when it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} in {}: {e}", self.ns);
            });
        assert!(
            out.status.success(),
            "{program} {args:?} in {} failed: {}",
            self.ns,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Labs made by this process, for unique names.
static LABS: AtomicU32 = AtomicU32::new(0);

/// The internet namespace of one lab and everything attached to it.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    internet: String,
    server: Host,
    state: Mutex<LabState>,
}

#[derive(Debug, Default)]
struct LabState {
    /// Every namespace created, the internet one first.
    namespaces: Vec<String>,
    /// Ports of the internet bridge attached so far (`p1`, `p2`, ...).
    bridge_ports: u32,
    /// Next public host address: 203.0.113.10 and up.
    next_public: u8,
    /// Next router WAN address: 203.0.113.100 and up.
    next_wan: u8,
    /// Homes made so far.
    homes: u32,
    /// Namespaces named so far (the number in each name).
    names: u32,
}

/// The public network of the lab.
pub const INTERNET: [u8; 3] = [203, 0, 113];

impl Lab {
    /// A new lab with its internet and the server host (203.0.113.1). `None`, after a
    /// "skipping: ..." line on stderr, when the kernel or the permissions refuse network
    /// namespaces; panics when `ip`, `iptables` or `conntrack` is missing (install them
    /// with scripts/install-test-deps.sh).
    pub fn new() -> Option<Lab> {
        for tool in ["ip", "iptables", "conntrack"] {
            let found = Command::new(tool)
                .arg(if tool == "ip" { "-V" } else { "--version" })
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
            assert!(
                found,
                "the NAT lab needs `{tool}`: scripts/install-test-deps.sh iproute2 iptables conntrack"
            );
        }
        remove_stale_namespaces();
        let prefix = format!(
            "itsp{}x{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let internet = format!("{prefix}i");
        let out = Command::new("ip")
            .args(["netns", "add", &internet])
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipping: cannot create a network namespace (needs root or CAP_SYS_ADMIN): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        let lab = Lab {
            server: Host {
                ns: format!("{prefix}s"),
                ip: Ipv4Addr::new(203, 0, 113, 1),
            },
            prefix,
            internet: internet.clone(),
            state: Mutex::new(LabState {
                namespaces: vec![internet.clone()],
                next_public: 10,
                next_wan: 100,
                ..LabState::default()
            }),
        };
        ip(&internet, &["link", "set", "lo", "up"]);
        ip(&internet, &["link", "add", "br0", "type", "bridge"]);
        ip(&internet, &["link", "set", "br0", "up"]);
        let server = lab.server.clone();
        lab.add_namespace(&server.ns);
        lab.attach_to_internet(&server.ns, "eth0", server.ip);
        Some(lab)
    }

    /// The server host, 203.0.113.1.
    pub fn server_host(&self) -> Host {
        self.server.clone()
    }

    /// A new host on the internet without NAT (203.0.113.10, .11, ...).
    pub fn public_host(&self) -> Host {
        let last = {
            let mut s = self.lock();
            let last = s.next_public;
            assert!(last < 100, "at most 90 public hosts per lab");
            s.next_public += 1;
            last
        };
        let host = Host {
            ns: self.name("p"),
            ip: Ipv4Addr::new(INTERNET[0], INTERNET[1], INTERNET[2], last),
        };
        self.add_namespace(&host.ns);
        self.attach_to_internet(&host.ns, "eth0", host.ip);
        host
    }

    /// A new home behind a NAT of `kind`, its LAN on the next free 192.168.N.0/24
    /// (N = 1, 2, ...). Add machines with [`Home::host`].
    pub fn home(&self, kind: NatKind) -> Home<'_> {
        let lan = {
            let mut s = self.lock();
            s.homes += 1;
            u8::try_from(s.homes).expect("at most 255 homes per lab")
        };
        self.home_on(kind, lan)
    }

    /// A home whose LAN is 192.168.`lan`.0/24; two homes may share a LAN number (two
    /// customers with the same private addresses behind different NATs).
    pub fn home_on(&self, kind: NatKind, lan: u8) -> Home<'_> {
        let wan_ip = {
            let mut s = self.lock();
            self.next_wan_ip(&mut s)
        };
        let router = Host {
            ns: self.name("r"),
            ip: wan_ip,
        };
        self.add_namespace(&router.ns);
        self.attach_to_internet(&router.ns, "wan", wan_ip);
        let r = &router.ns;
        ip(r, &["link", "add", "br0", "type", "bridge"]);
        ip(
            r,
            &["addr", "add", &format!("192.168.{lan}.1/24"), "dev", "br0"],
        );
        ip(r, &["link", "set", "br0", "up"]);
        run_in(r, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        let mut rule = vec![
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "wan",
            "-j",
            "MASQUERADE",
        ];
        if kind == NatKind::Symmetric {
            rule.push("--random-fully");
        }
        run_in(r, "iptables", &rule);
        // A home router's firewall: unsolicited packets from outside are dropped. Without
        // it Linux would keep a conntrack entry for such a packet (to the router's own
        // address), and the mapping of the LAN host's later packets to that same peer would
        // have to take another port: media sent to a phone before it sent any would spoil
        // the port its STUN answer announced.
        run_in(
            r,
            "iptables",
            &[
                "-A",
                "INPUT",
                "-i",
                "wan",
                "-m",
                "conntrack",
                "--ctstate",
                "NEW,INVALID",
                "-j",
                "DROP",
            ],
        );
        Home {
            lab: self,
            kind,
            lan,
            router,
            hosts: Mutex::new(0),
        }
    }

    /// A new namespace name: the lab's prefix, `role` and a number.
    fn name(&self, role: &str) -> String {
        let mut s = self.lock();
        s.names += 1;
        format!("{}{role}{}", self.prefix, s.names)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LabState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_wan_ip(&self, s: &mut LabState) -> Ipv4Addr {
        let last = s.next_wan;
        assert!(last < 255, "at most 155 router addresses per lab");
        s.next_wan += 1;
        Ipv4Addr::new(INTERNET[0], INTERNET[1], INTERNET[2], last)
    }

    /// Creates namespace `ns` (recorded for the teardown) with `lo` up.
    fn add_namespace(&self, ns: &str) {
        run("ip", &["netns", "add", ns]);
        self.lock().namespaces.push(ns.to_owned());
        ip(ns, &["link", "set", "lo", "up"]);
    }

    /// A veth pair from `ns` (named `ifname` there, address `addr`/24) to a new port of the
    /// internet bridge.
    fn attach_to_internet(&self, ns: &str, ifname: &str, addr: Ipv4Addr) {
        let port = {
            let mut s = self.lock();
            s.bridge_ports += 1;
            format!("p{}", s.bridge_ports)
        };
        veth(ns, ifname, &self.internet, &port);
        ip(&self.internet, &["link", "set", &port, "master", "br0"]);
        ip(&self.internet, &["link", "set", &port, "up"]);
        ip(ns, &["addr", "add", &format!("{addr}/24"), "dev", ifname]);
        ip(ns, &["link", "set", ifname, "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let namespaces = std::mem::take(&mut self.lock().namespaces);
        for ns in namespaces.iter().rev() {
            end_processes_in(ns);
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A home network: a NAT router and the machines on its LAN.
#[derive(Debug)]
pub struct Home<'lab> {
    lab: &'lab Lab,
    /// The kind of NAT.
    pub kind: NatKind,
    /// The LAN is 192.168.`lan`.0/24.
    pub lan: u8,
    router: Host,
    /// Hosts made so far.
    hosts: Mutex<u8>,
}

impl Home<'_> {
    /// A new machine on the LAN (192.168.N.2, .3, ...), default route through the router.
    pub fn host(&self) -> Host {
        let n = {
            let mut h = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            *h += 1;
            assert!(*h < 250, "at most 249 hosts per home");
            *h + 1
        };
        let host = Host {
            ns: format!("{}h{n}", self.router.ns),
            ip: Ipv4Addr::new(192, 168, self.lan, n),
        };
        self.lab.add_namespace(&host.ns);
        let port = format!("h{n}");
        veth(&host.ns, "eth0", &self.router.ns, &port);
        ip(&self.router.ns, &["link", "set", &port, "master", "br0"]);
        ip(&self.router.ns, &["link", "set", &port, "up"]);
        ip(
            &host.ns,
            &["addr", "add", &format!("{}/24", host.ip), "dev", "eth0"],
        );
        ip(&host.ns, &["link", "set", "eth0", "up"]);
        let gateway = format!("192.168.{}.1", self.lan);
        ip(&host.ns, &["route", "add", "default", "via", &gateway]);
        host
    }

    /// The router; its `ip` is the current public (WAN) address of the home.
    pub fn router(&self) -> Host {
        self.router.clone()
    }

    /// The public address the home's traffic comes from now.
    pub fn public_ip(&self) -> Ipv4Addr {
        self.router.ip
    }

    /// Forgets every NAT mapping (`conntrack -F` in the router): the next packet of each
    /// flow gets a new mapping. A cone NAT keeps source ports when free, so its new
    /// mappings usually look the same; a symmetric one picks new random ports. Use
    /// [`Home::remap`] for a change that is always visible.
    pub fn flush_mappings(&self) {
        run_in(&self.router.ns, "conntrack", &["-F"]);
    }

    /// The home gets a new public address (as after a DSL reconnect) and every mapping is
    /// forgotten: all flows continue from the new address. Returns it.
    pub fn remap(&mut self) -> Ipv4Addr {
        let new_ip = {
            let mut s = self.lab.lock();
            self.lab.next_wan_ip(&mut s)
        };
        let r = &self.router.ns;
        ip(r, &["addr", "flush", "dev", "wan"]);
        ip(r, &["addr", "add", &format!("{new_ip}/24"), "dev", "wan"]);
        // Deleting the address drops MASQUERADE's entries already; flush the rest too.
        run_in(r, "conntrack", &["-F"]);
        self.router.ip = new_ip;
        new_ip
    }

    /// The router's NAT table as `conntrack -L` prints it (for assertions and failure
    /// messages).
    pub fn mappings(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.router.ns, "conntrack", "-L"])
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out
    }
}

/// A veth pair: `a_name` in namespace `a`, `b_name` in namespace `b`, created there
/// directly (never in the machine's own namespace).
fn veth(a: &str, a_name: &str, b: &str, b_name: &str) {
    run(
        "ip",
        &[
            "link", "add", a_name, "netns", a, "type", "veth", "peer", "name", b_name, "netns", b,
        ],
    );
}

/// `ip -n NS args`.
fn ip(ns: &str, args: &[&str]) {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all);
}

/// `ip netns exec NS program args`.
fn run_in(ns: &str, program: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all);
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "NAT lab: `{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Ends (SIGKILL) what still runs in namespace `ns`: processes the test started there.
fn end_processes_in(ns: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if pid.parse::<u32>().is_ok() {
            let _ = Command::new("sh")
                .args(["-c", &format!("kill -KILL {pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Deletes `itsp<pid>x...` namespaces whose test process is gone (killed before its
/// `Drop` ran).
fn remove_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("itsp") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('x') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            end_processes_in(name);
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stderr(Stdio::null())
                .status();
        }
    }
}
