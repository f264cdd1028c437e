//! TCP resource limits: the settings ([`TcpLimits`]), their counters ([`TcpStats`]), and
//! the rate-limited log of every connection refused or closed because of a limit.
//!
//! Without limits a stream listener is an easy target: every idle connection holds a file
//! descriptor and a task forever, a sender that trickles a header byte now and then
//! ("slowloris") is never cut off, and once the process reaches its open-file limit
//! `accept` fails and every new peer hangs in the listen backlog. RFC 3261 §18.3 and
//! RFC 5626 leave the policy to the implementation; these are the knobs.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::Listen;

/// Limits on TCP connections, applied by every TCP listener of one [`crate::Transports`].
///
/// `#[non_exhaustive]` so that limits can be added later (a write timeout): start from
/// [`TcpLimits::default`] and set the fields to change.
///
/// The count limits apply to connections peers open to us: at a limit a new connection is
/// accepted and closed at once with a reset (`SO_LINGER` 0), so the peer sees the refusal
/// immediately instead of hanging in the listen backlog, and no `TIME_WAIT` is left behind
/// on our side. Connections the server opens itself (a request to a peer with no open
/// connection) are never refused, since refusing one would fail a call the server chose to
/// route; they count toward the totals all the same, so a burst of them makes room for
/// fewer inbound ones. The timeouts apply to every connection alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpLimits {
    /// Most connections open at once (accepted and opened); an inbound connection beyond
    /// it is refused. 0 refuses every inbound connection.
    pub max_connections: usize,
    /// Most connections open at once from one source: one IPv4 address, or one IPv6 /64
    /// (a host can pick any address of its /64, so a per-address limit would not bind;
    /// an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub max_per_ip: usize,
    /// How long a connection may go without a complete message or a CRLF keepalive
    /// (RFC 5626 §3.5.1, §4.4.1) before it is closed, unless
    /// [`crate::Transports::keep_flow_until`] holds it open longer.
    pub idle_timeout: Duration,
    /// How long a message's header section may take, from its first byte to the empty line
    /// that ends it (RFC 3261 §7); a slow sender is cut off here.
    pub header_timeout: Duration,
    /// How long a message's body may take, from the end of its header section until
    /// Content-Length bytes have arrived (RFC 3261 §18.3).
    pub body_timeout: Duration,
}

impl TcpLimits {
    /// Default [`TcpLimits::max_connections`]: 10,000. A SIP server is normally run with an
    /// open-file limit of 65,536 or more (systemd's default hard limit is 524,288), and the
    /// relay's media ports, UDP sockets and the store need descriptors too; 10,000 keeps
    /// well below that, while a registrar with 10,000 TCP phones is already a large one.
    /// With the common soft limit of 1,024 the process must raise its limit (at bind, the
    /// transports warn when the limit is too low for this setting).
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// Default [`TcpLimits::max_per_ip`]: 256. An office NAT with 100 to 200 phones must
    /// fit, each phone with one flow and at times a second (a phone that lost its NAT
    /// mapping connects again while its old flow is still open on our side until it times
    /// out or its registration ends); one source still gets at most 2.5% of the table.
    pub const DEFAULT_MAX_PER_IP: usize = 256;
    /// Default [`TcpLimits::idle_timeout`]: 120 s. A client that was given no Flow-Timer
    /// sends its CRLF keepalives on TCP every 95 to 120 s (RFC 5626 §4.4.1), so a flow in
    /// use pings within this; a connection that says nothing for that long is not a flow
    /// anybody relies on. Registered flows are held longer with
    /// [`crate::Transports::keep_flow_until`].
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
    /// Default [`TcpLimits::header_timeout`]: 10 s. A header section is at most 64 KB
    /// (`sip::framing::DEFAULT_MAX_MESSAGE`) and is normally sent in one segment; 10 s
    /// tolerates a very slow link and still frees a slowloris connection soon.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`TcpLimits::body_timeout`]: 10 s, for the same reasons as the header.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            max_connections: TcpLimits::DEFAULT_MAX_CONNECTIONS,
            max_per_ip: TcpLimits::DEFAULT_MAX_PER_IP,
            idle_timeout: TcpLimits::DEFAULT_IDLE_TIMEOUT,
            header_timeout: TcpLimits::DEFAULT_HEADER_TIMEOUT,
            body_timeout: TcpLimits::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// TCP connection counters since the transports were bound, for metrics
/// ([`crate::Transports::tcp_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpStats {
    /// Connections open now, accepted and opened.
    pub open: usize,
    /// Inbound connections refused at [`TcpLimits::max_connections`].
    pub refused_total_limit: u64,
    /// Inbound connections refused at [`TcpLimits::max_per_ip`].
    pub refused_per_ip_limit: u64,
    /// Connections closed at [`TcpLimits::idle_timeout`].
    pub closed_idle: u64,
    /// Connections closed at [`TcpLimits::header_timeout`].
    pub closed_header_timeout: u64,
    /// Connections closed at [`TcpLimits::body_timeout`].
    pub closed_body_timeout: u64,
}

/// Which limit refused or closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Refused: [`TcpLimits::max_connections`].
    Total,
    /// Refused: [`TcpLimits::max_per_ip`].
    PerIp,
    /// Closed: [`TcpLimits::idle_timeout`].
    Idle,
    /// Closed: [`TcpLimits::header_timeout`].
    Header,
    /// Closed: [`TcpLimits::body_timeout`].
    Body,
}

/// How many [`Limit`]s there are (the counter arrays' length).
const LIMITS: usize = 5;

impl Limit {
    fn index(self) -> usize {
        match self {
            Limit::Total => 0,
            Limit::PerIp => 1,
            Limit::Idle => 2,
            Limit::Header => 3,
            Limit::Body => 4,
        }
    }

    /// The setting's name, as logged.
    fn name(self) -> &'static str {
        match self {
            Limit::Total => "max_connections",
            Limit::PerIp => "max_per_ip",
            Limit::Idle => "idle_timeout",
            Limit::Header => "header_timeout",
            Limit::Body => "body_timeout",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Limit::Total | Limit::PerIp => "refused",
            Limit::Idle | Limit::Header | Limit::Body => "closed",
        }
    }
}

/// At most one log line per this interval for limit events; the others are counted and
/// summarised in the next line, so a flood of connections does not flood the log.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The limit event counters and their rate-limited log.
#[derive(Debug, Default)]
pub(crate) struct LimitEvents {
    counts: [AtomicU64; LIMITS],
    log: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    /// When the last line was written.
    last: Option<std::time::Instant>,
    /// Events since then that were not logged, by [`Limit::index`].
    suppressed: [u64; LIMITS],
}

impl LimitEvents {
    /// Counts a connection refused or closed by `limit`, and logs it at info unless a line
    /// was written less than [`LOG_INTERVAL`] ago (then the next line reports it).
    pub(crate) fn note(&self, limit: Limit, peer: SocketAddr, local: Listen) {
        self.counts[limit.index()].fetch_add(1, Ordering::Relaxed);
        let now = std::time::Instant::now();
        let suppressed = {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let due = log
                .last
                .is_none_or(|last| now.saturating_duration_since(last) >= LOG_INTERVAL);
            if !due {
                log.suppressed[limit.index()] += 1;
                return;
            }
            log.last = Some(now);
            std::mem::take(&mut log.suppressed)
        };
        tracing::info!(
            %peer,
            %local,
            limit = limit.name(),
            suppressed_max_connections = suppressed[Limit::Total.index()],
            suppressed_max_per_ip = suppressed[Limit::PerIp.index()],
            suppressed_idle_timeout = suppressed[Limit::Idle.index()],
            suppressed_header_timeout = suppressed[Limit::Header.index()],
            suppressed_body_timeout = suppressed[Limit::Body.index()],
            "tcp connection {} by a limit (suppressed: events not logged since the last line)",
            limit.action(),
        );
    }

    /// The counters, with `open` connections.
    pub(crate) fn stats(&self, open: usize) -> TcpStats {
        let count = |limit: Limit| self.counts[limit.index()].load(Ordering::Relaxed);
        TcpStats {
            open,
            refused_total_limit: count(Limit::Total),
            refused_per_ip_limit: count(Limit::PerIp),
            closed_idle: count(Limit::Idle),
            closed_header_timeout: count(Limit::Header),
            closed_body_timeout: count(Limit::Body),
        }
    }
}

/// What one source is, for limits and bans: the IPv4 address (IPv4-mapped IPv6
/// included), or the /64 of an IPv6 address (a host can use any address of its /64, so
/// counting single IPv6 addresses would hold nobody back). The connections of one source
/// count against [`TcpLimits::max_per_ip`]; a blocked source is one of these.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// The soft open-file limit of this process, where the system says (Linux:
/// `/proc/self/limits`); `None` when unknown or unlimited.
pub(crate) fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors kept for everything but TCP connections (listeners, UDP sockets, the store,
/// logs) when checking [`TcpLimits::max_connections`] against the open-file limit.
pub(crate) const FD_RESERVE: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_group_ipv6_by_64_and_unmap_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(source_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(source_key(v4), v4);
    }

    #[test]
    fn events_are_counted_even_when_not_logged() {
        let events = LimitEvents::default();
        let peer: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let local: Listen = "tcp:127.0.0.1:5060".parse().unwrap();
        for _ in 0..3 {
            events.note(Limit::PerIp, peer, local);
        }
        events.note(Limit::Body, peer, local);
        let stats = events.stats(7);
        assert_eq!(stats.open, 7);
        assert_eq!(stats.refused_per_ip_limit, 3);
        assert_eq!(stats.closed_body_timeout, 1);
        assert_eq!(stats.refused_total_limit, 0);
        let log = events.log.lock().unwrap();
        assert_eq!(log.suppressed[Limit::PerIp.index()], 2);
        assert_eq!(log.suppressed[Limit::Body.index()], 1);
    }
}
