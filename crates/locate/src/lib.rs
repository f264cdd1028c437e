//! # locate — finding the SIP server for a URI (RFC 3263 §4, client side)
//!
//! A proxy forwarding to `sip:bob@example.com` needs the places to send the request to:
//! a transport, an IP address and a port, and the next ones to fail over to when the first
//! does not answer or answers 503 (RFC 3263 §4.3). [`Locator::locate`] turns a `sip:` URI into
//! that ordered list of [`Target`]s:
//!
//! 1. the §4 decision table ([`plan()`]): `maddr` overrides the host; a numeric IP needs no
//!    DNS; an explicit port means A/AAAA only; a `transport` parameter means SRV for that
//!    transport; otherwise NAPTR;
//! 2. NAPTR (RFC 3403) records for `SIP+D2U` and `SIP+D2T` with flag `S`, in order then
//!    preference ([`select_naptr`]); without any, SRV `_sip._udp` then `_sip._tcp`;
//! 3. SRV records (RFC 2782) by ascending priority, weighted random within a priority
//!    ([`order_srv`]), each target expanded to all its IPv4 then IPv6 addresses;
//! 4. without SRV records, the A/AAAA addresses of the host at 5060 over UDP (or the
//!    transport asked for).
//!
//! The lookups go through [`hickory_resolver`]. Its cache honours each record's TTL (and
//! caches negative answers for the SOA minimum), so repeated locates of the same domain cost
//! no DNS traffic until the records expire: that is the DNS cache of DESIGN.md's capability
//! table. A [`Locator`] is cheap to clone and every clone shares one cache.
//!
//! ```no_run
//! # async fn forward() -> Result<(), Box<dyn std::error::Error>> {
//! use sip::uri::Uri;
//!
//! let locator = locate::Locator::from_system()?;
//! if let Uri::Sip(uri) = Uri::parse("sip:bob@example.com")? {
//!     for target in locator.locate(&uri).await? {
//!         // send over target.protocol to target.addr; on no answer or 503, the next
//!         println!("{target}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `sips:` URIs and `transport=tls` are located over TLS: NAPTR `SIPS+D2T`, SRV
//! `_sips._tcp`, port 5061 (RFC 3263 §4.1); a `sips:` URI considers nothing else.
//!
//! ## Layout
//!
//! | module | what it holds | spec |
//! |---|---|---|
//! | `lib.rs` | [`Target`], [`LocateError`] | |
//! | `plan.rs` | [`plan()`] and [`Plan`]: the decision table from URI to the lookups to make, pure | RFC 3263 §4.1, §4.2 |
//! | `naptr.rs` | [`NaptrRecord`], [`select_naptr`]: which NAPTR records apply, in which order, pure | RFC 3263 §4.1, RFC 3403 |
//! | `srv.rs` | [`SrvRecord`], [`order_srv`]: priority and weighted random order with a seedable random source, pure | RFC 2782 |
//! | `locator.rs` | [`Locator`]: the hickory resolver and the chain NAPTR → SRV → A/AAAA | RFC 3263 §4 |
//! | `lookup_counts.rs` | [`LookupCounts`]: lookups made and failed by record type, for metrics | |

mod locator;
mod lookup_counts;
mod naptr;
mod plan;
mod srv;

use std::fmt;
use std::net::SocketAddr;

pub use locator::Locator;
pub use lookup_counts::{LookupCounts, LookupKind, LookupSnapshot};
pub use naptr::{select_naptr, NaptrChoice, NaptrRecord};
pub use plan::{plan, Plan, DEFAULT_PORT};
pub use srv::{order_srv, SrvRecord};

/// One place to send a request to (RFC 3263 §4: a transport, an IP address and a port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport to send over.
    pub protocol: transport::Protocol,
    /// The IP address and port.
    pub addr: SocketAddr,
    /// The DNS name (an SRV target or the URI's host) or the IP literal the address came
    /// from, without a trailing dot: for logs.
    pub host: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({})", self.protocol, self.addr, self.host)
    }
}

/// Why a URI could not be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// DNS has no usable record for the name: NXDOMAIN, or no NAPTR, SRV, A nor AAAA record
    /// that leads to an address (RFC 3263 §4.2 last step).
    #[error("no DNS records for {name}")]
    NotFound {
        /// The host name of the URI (or its `maddr`).
        name: String,
    },
    /// A lookup failed for another reason (time-out, SERVFAIL, refused, bad name) and no
    /// other lookup found an address.
    #[error("DNS lookup of {name} failed: {reason}")]
    Dns {
        /// The name whose lookup failed.
        name: String,
        /// The resolver's explanation.
        reason: String,
    },
    /// The URI asks for a transport itsp does not have: `transport=sctp` or another one,
    /// or `sips:` over UDP (RFC 3263 §4.1).
    #[error("{0} not supported")]
    Unsupported(String),
    /// The system's DNS configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the DNS configuration: {0}")]
    Config(String),
    /// The `maddr` parameter is not a host (RFC 3261 §19.1.1).
    #[error("bad maddr {0:?}")]
    BadMaddr(String),
}
