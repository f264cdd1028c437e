//! Who "we" are on the network: the sockets the shell bound, the served domains known, and
//! the questions only the operating system can answer (is this IP ours, which source
//! address does the routing table pick toward a destination, which address does an
//! interface other than loopback have), asked through [`HostNetwork`] so the engine's
//! tests answer them with a fixed table.

use std::net::{IpAddr, SocketAddr};

use ahash::HashMap;
use sip::uri::Host;
use transport::{Listen, Protocol};

use crate::proxy::{Hop, LocalAddr, OwnAddresses};

/// What the engine asks the machine about its addresses (no packet is sent).
pub(crate) trait HostNetwork: Send {
    /// Whether `ip` is an address of one of this machine's interfaces.
    fn is_local_ip(&mut self, ip: IpAddr) -> bool;
    /// The source address the routing table uses toward `dest`.
    fn outbound_ip(&mut self, dest: IpAddr) -> Option<IpAddr>;
    /// An address of this machine on an interface that is up and not loopback, in the
    /// family of `like` (IPv4 or IPv6; IPv6 link-local addresses left out): where a
    /// browser on this machine can reach the relay, as browsers gather no loopback
    /// candidates (RFC 8445 §5.1.1.1 lets an agent leave them out, and they do).
    fn interface_ip(&mut self, like: IpAddr) -> Option<IpAddr>;
}

/// The operating system's answers, cached (a bind or connect per new address).
#[derive(Debug, Default)]
pub(crate) struct SystemNetwork {
    local_ips: HashMap<IpAddr, bool>,
    outbound_ips: HashMap<IpAddr, IpAddr>,
    /// The interface addresses and when they were read: read again after
    /// [`INTERFACES_FOR`], so a laptop that changed networks is followed.
    interfaces: Option<(std::time::Instant, Vec<IpAddr>)>,
}

/// How long the list of interface addresses is used before it is read again.
const INTERFACES_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The addresses of the interfaces that are up, loopback and IPv6 link-local left out,
/// in the order the system lists them.
fn interface_addresses() -> Vec<IpAddr> {
    use nix::net::if_::InterfaceFlags;
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addresses
        .filter(|a| {
            a.flags.contains(InterfaceFlags::IFF_UP)
                && !a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|a| {
            let address = a.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            let v6 = address.as_sockaddr_in6()?.ip();
            // fe80::/10: usable only with a scope, which an SDP address cannot carry.
            (!v6.is_unicast_link_local()).then_some(IpAddr::V6(v6))
        })
        .filter(|ip| !ip.is_unspecified())
        .collect()
}

impl HostNetwork for SystemNetwork {
    fn is_local_ip(&mut self, ip: IpAddr) -> bool {
        if ip.is_loopback() {
            return true;
        }
        if let Some(known) = self.local_ips.get(&ip) {
            return *known;
        }
        // Binding succeeds only for an address of one of our interfaces.
        let local = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok();
        if self.local_ips.len() < 1024 {
            self.local_ips.insert(ip, local);
        }
        local
    }

    fn outbound_ip(&mut self, dest: IpAddr) -> Option<IpAddr> {
        if let Some(ip) = self.outbound_ips.get(&dest) {
            return Some(*ip);
        }
        let ip = transport::local_ip_towards(dest).ok()?;
        if self.outbound_ips.len() < 4096 {
            self.outbound_ips.insert(dest, ip);
        }
        Some(ip)
    }

    fn interface_ip(&mut self, like: IpAddr) -> Option<IpAddr> {
        let now = std::time::Instant::now();
        let fresh = self
            .interfaces
            .as_ref()
            .is_some_and(|(read, _)| now.duration_since(*read) < INTERFACES_FOR);
        if !fresh {
            self.interfaces = Some((now, interface_addresses()));
        }
        let (_, addresses) = self.interfaces.as_ref()?;
        addresses
            .iter()
            .find(|ip| ip.is_ipv4() == like.is_ipv4())
            .copied()
    }
}

/// The engine's view of its own addresses.
pub(crate) struct Addresses {
    /// The sockets bound, with the ports the OS chose.
    pub(crate) listens: Vec<Listen>,
    pub(crate) host: Box<dyn HostNetwork>,
    /// The unique part of our branch IDs.
    pub(crate) branches: super::random::Random,
    /// Served domains known now (for the synchronous "is this us?" of Route matching).
    pub(crate) known_domains: ahash::HashSet<String>,
}

impl std::fmt::Debug for Addresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addresses")
            .field("listens", &self.listens)
            .finish_non_exhaustive()
    }
}

impl Addresses {
    /// Our address toward `hop` (Via sent-by, Record-Route) and the local socket to send
    /// from; `None` when no socket of that transport and family is open.
    pub(crate) fn local_for(&mut self, hop: &Hop) -> Option<(SocketAddr, LocalAddr)> {
        let listen = *self
            .listens
            .iter()
            .find(|l| l.protocol == hop.protocol && l.addr.is_ipv4() == hop.addr.is_ipv4())?;
        let ip = if listen.addr.ip().is_unspecified() {
            self.host.outbound_ip(hop.addr.ip())?
        } else {
            listen.addr.ip()
        };
        let host = match ip {
            IpAddr::V4(_) => sip::text::ip_text(ip),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        Some((
            listen.addr,
            LocalAddr {
                protocol: hop.protocol,
                host,
                port: listen.addr.port(),
            },
        ))
    }

    /// A number for a branch ID, unique within the run.
    pub(crate) fn next_unique(&mut self) -> u64 {
        self.branches.next()
    }

    /// Whether one of our sockets has this local address (a binding's flow).
    pub(crate) fn has_socket(&self, protocol: Protocol, addr: SocketAddr) -> bool {
        self.listens
            .iter()
            .any(|s| s.protocol == protocol && s.addr == addr)
    }
}

impl OwnAddresses for Addresses {
    fn is_own(&mut self, host: &Host<'_>, port: Option<u16>, domains: bool) -> bool {
        let port = port.unwrap_or(5060);
        let ip: IpAddr = match host {
            Host::V4(ip) => (*ip).into(),
            Host::V6(ip) => (*ip).into(),
            Host::Name(name) => {
                return domains
                    && self
                        .known_domains
                        .contains(&crate::domains::normalize(name))
                    && self.listens.iter().any(|l| l.addr.port() == port);
            }
        };
        let listens = &self.listens;
        let host = &mut self.host;
        listens.iter().any(|l| {
            l.addr.port() == port
                && (l.addr.ip() == ip
                    || l.addr.ip().is_unspecified()
                        && l.addr.is_ipv4() == ip.is_ipv4()
                        && host.is_local_ip(ip))
        })
    }
}
