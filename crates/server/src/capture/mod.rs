//! SIP capture: every message in and out of the engine (the hooks' tap), as it crossed
//! the wire, kept in a bounded in-memory ring and read from there by the shell's
//! exporters — rotated pcap files on disk, HEP v3 to a HOMER collector — and by `itsp
//! trace` over the control socket ([`crate::control`]). What sngrep, ngrep and a HOMER
//! capture agent give a Kamailio operator, built in.
//!
//! The engine only appends to the ring (a lock and a reference count per message, no
//! copy); everything that formats or writes runs in the shell, off the engine's lock.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `hook` | the capture hook: the tap that appends to the ring |
//! | [`ring`] | [`Ring`]: the last messages, bounded by count and bytes; "records after sequence N" |
//! | [`filter`] | [`Filter`]: which messages a trace asks for (Call-ID, user, method) |
//! | [`pcap`] | pcap files (LINKTYPE_RAW): synthetic IPv4/IPv6 + UDP/TCP headers around each message |
//! | `pcap_files` | the rotated pcap files of `[capture] pcap_dir`, written by a thread of their own |
//! | `hep` | HEP v3 encoding (the HOMER encapsulation protocol), one packet per message |
//! | `hep_sender` | the task that sends the ring's messages, and the RTCP reports, to a HEP collector over UDP |
//! | `rtcp_report` | HEP RTCP reports (type 5): the JSON HOMER reads, per party of a relayed call, at its end |
//! | [`time`] | RFC 3339 times of messages, file name stamps |

pub mod filter;
pub(crate) mod hep;
pub(crate) mod hep_sender;
pub(crate) mod hook;
pub mod pcap;
pub(crate) mod pcap_files;
pub mod ring;
pub(crate) mod rtcp_report;
pub mod time;

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;

pub use crate::policy::hook::Direction;
pub use filter::Filter;
pub use ring::Ring;

/// One message as it crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// When (Unix milliseconds).
    pub unix_ms: u64,
    /// Received or sent.
    pub direction: Direction,
    /// The transport.
    pub protocol: transport::Protocol,
    /// Our socket (`None`: some socket of the transport; an unspecified address when the
    /// socket listens on every address).
    pub local: Option<SocketAddr>,
    /// The peer.
    pub remote: SocketAddr,
    /// The message, byte for byte.
    pub bytes: Bytes,
}

impl Captured {
    /// (source, destination) of the message: the peer and us for a message in, the
    /// other way round for one out. An unknown local socket is the unspecified address of
    /// the peer's family, port 0.
    pub fn endpoints(&self) -> (SocketAddr, SocketAddr) {
        let local = self.local.unwrap_or_else(|| unspecified_like(self.remote));
        match self.direction {
            Direction::In => (self.remote, local),
            Direction::Out => (local, self.remote),
        }
    }
}

impl Captured {
    /// Fills in our address when the tap knew only the socket (one that listens on every
    /// address) or not even that: the address the routing table uses toward the peer,
    /// as the peer saw it. For the exports, off the engine's lock.
    pub(crate) fn resolve_local(
        &mut self,
        network: &mut dyn crate::engine::addresses::HostNetwork,
    ) {
        let port = self.local.map_or(0, |l| l.port());
        if self.local.is_some_and(|l| !l.ip().is_unspecified()) {
            return;
        }
        if let Some(ip) = network.outbound_ip(self.remote.ip()) {
            self.local = Some(SocketAddr::new(ip, port));
        }
    }
}

/// The unspecified address of `addr`'s family, port 0.
fn unspecified_like(addr: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = match addr {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(ip, 0)
}

/// Settings of the capture (`[capture]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Messages the ring keeps; 0 turns the capture off (no tap, no trace, no export).
    pub ring_messages: usize,
    /// Bytes the ring keeps (messages plus about 100 bytes each).
    pub ring_bytes: usize,
    /// Rotated pcap files on disk.
    pub pcap: Option<PcapConfig>,
    /// HEP v3 export to a HOMER collector.
    pub hep: Option<HepConfig>,
}

/// Default ring: the last 10,000 messages (a few minutes of a busy server's calls).
pub const DEFAULT_RING_MESSAGES: usize = 10_000;
/// Default ring memory bound: 32 MiB.
pub const DEFAULT_RING_BYTES: usize = 32 * 1024 * 1024;

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            ring_messages: DEFAULT_RING_MESSAGES,
            ring_bytes: DEFAULT_RING_BYTES,
            pcap: None,
            hep: None,
        }
    }
}

impl CaptureConfig {
    /// Whether messages are captured at all.
    pub fn enabled(&self) -> bool {
        self.ring_messages > 0 && self.ring_bytes > 0
    }
}

/// Rotated pcap files (`[capture] pcap_dir`, `pcap_file_size`, `pcap_files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapConfig {
    /// The directory of the files (created if missing).
    pub dir: PathBuf,
    /// A file is closed and a new one started past this many bytes.
    pub file_size: u64,
    /// Files kept; the oldest is deleted when a new one would exceed this.
    pub files: usize,
}

/// Default size of one pcap file: 64 MiB.
pub const DEFAULT_PCAP_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Default number of pcap files kept: 10.
pub const DEFAULT_PCAP_FILES: usize = 10;

/// HEP v3 export (`[capture] hep`, `hep_capture_id`, `hep_auth_key`, `hep_node_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HepConfig {
    /// The collector, `HOST:PORT` (sent over UDP; resolved when the server starts).
    pub collector: String,
    /// The capture agent ID (chunk 0x000c), which tells HOMER which node captured.
    pub capture_id: u32,
    /// The authentication key (chunk 0x000e), when the collector asks for one.
    pub auth_key: Option<String>,
    /// The capture node's name (chunk 0x0013).
    pub node_name: Option<String>,
}

/// Default HEP capture agent ID.
pub const DEFAULT_HEP_CAPTURE_ID: u32 = 2001;
