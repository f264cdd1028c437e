//! [`Locator`]: the DNS side of RFC 3263 §4, on hickory-resolver.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::future::join_all;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol as DnsProtocol;
use hickory_resolver::proto::{ProtoError, ProtoErrorKind};
use hickory_resolver::{ResolveError, TokioResolver};
use sip::uri::SipUri;
use transport::Protocol;

use crate::lookup_counts::{LookupCounts, LookupKind};
use crate::naptr::{select_naptr, NaptrChoice, NaptrRecord};
use crate::plan::{plan, Plan};
use crate::srv::{order_srv, SrvRecord};
use crate::{LocateError, Target};

/// Locates SIP servers (RFC 3263 §4) through a caching DNS resolver.
///
/// Cheap to clone: the clones share one resolver and so one cache. The cache is
/// hickory-resolver's: each answer is kept for its TTL (negative answers for the SOA minimum)
/// and then asked again.
#[derive(Clone)]
pub struct Locator {
    resolver: Arc<TokioResolver>,
    counts: Arc<LookupCounts>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self
            .resolver
            .config()
            .name_servers()
            .iter()
            .map(ToString::to_string)
            .collect();
        f.debug_struct("Locator")
            .field("name_servers", &servers)
            .finish()
    }
}

impl Locator {
    /// A locator using the system's DNS configuration (`/etc/resolv.conf`: name servers,
    /// search domains, options) and `/etc/hosts`.
    ///
    /// Fails with [`LocateError::Config`] when the configuration cannot be read.
    pub fn from_system() -> Result<Locator, LocateError> {
        let mut builder =
            TokioResolver::builder_tokio().map_err(|e| LocateError::Config(e.to_string()))?;
        set_options(builder.options_mut());
        Ok(Locator {
            resolver: Arc::new(builder.build()),
            counts: Arc::default(),
        })
    }

    /// A locator asking exactly `servers`, each over UDP and, for truncated answers, TCP: a
    /// configured name server, or a test server on `127.0.0.1:PORT`. No search domains.
    pub fn with_nameservers(servers: &[SocketAddr]) -> Locator {
        let mut group = NameServerConfigGroup::with_capacity(2 * servers.len());
        for &addr in servers {
            group.push(NameServerConfig::new(addr, DnsProtocol::Udp));
            group.push(NameServerConfig::new(addr, DnsProtocol::Tcp));
        }
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        set_options(builder.options_mut());
        Locator {
            resolver: Arc::new(builder.build()),
            counts: Arc::default(),
        }
    }

    /// The lookups made and failed so far, shared by every clone (metrics).
    pub fn lookup_counts(&self) -> Arc<LookupCounts> {
        self.counts.clone()
    }

    /// RFC 3263 §4.1 (transport) and §4.2 (port and IP): every target for `uri`, in the
    /// order to try them (§4.3: on no answer or a 503, the next one).
    ///
    /// The lookups follow [`plan()`]:
    ///
    /// - [`Plan::Address`]: that address, no DNS;
    /// - [`Plan::Host`]: the A/AAAA addresses of the name at the URI's port;
    /// - [`Plan::Srv`]: SRV `_sip._udp.NAME` or `_sip._tcp.NAME`; without records, the
    ///   A/AAAA addresses at 5060;
    /// - [`Plan::Naptr`]: NAPTR records of the name ([`select_naptr`]), the SRV records each
    ///   points to, in NAPTR order; when that yields no SRV record (no NAPTR, none usable, or
    ///   none leading to SRV records), SRV `_sip._udp.NAME` then `_sip._tcp.NAME`; when
    ///   there is no SRV record at all, the A/AAAA addresses at 5060 over UDP.
    ///
    /// SRV records are ordered by [`order_srv`] and each target is expanded to all of its
    /// addresses, IPv4 before IPv6, so failover reaches every address of every server. A
    /// target that appears twice (same transport and address) is kept at its first place
    /// only.
    ///
    /// A NAPTR or SRV lookup that fails (time-out, SERVFAIL) counts as "no records" so that
    /// the chain goes on; the error is returned ([`LocateError::Dns`]) only when no address
    /// was found at all. Without any address and without such failure the answer is
    /// [`LocateError::NotFound`].
    pub async fn locate(&self, uri: &SipUri<'_>) -> Result<Vec<Target>, LocateError> {
        let mut search = Search {
            resolver: &self.resolver,
            counts: &self.counts,
            targets: Vec::new(),
            failure: None,
            rng: fastrand::Rng::new(),
        };
        let name = match plan(uri)? {
            Plan::Address { protocol, addr } => {
                let host = addr.ip().to_string();
                return Ok(vec![Target {
                    protocol,
                    addr,
                    host,
                }]);
            }
            Plan::Host {
                name,
                protocol,
                port,
            } => {
                search.host(name, protocol, port).await;
                name
            }
            Plan::Srv { name, protocol } => {
                if !search.srv(&srv_name(protocol, name), protocol).await {
                    search.host(name, protocol, protocol.default_port()).await;
                }
                name
            }
            Plan::Naptr { name, secure } => {
                let mut found_srv = false;
                for choice in search.naptr(name, secure).await {
                    found_srv |= search.srv(&choice.srv_name, choice.protocol).await;
                }
                let fallbacks: &[Protocol] = if secure {
                    &[Protocol::Tls]
                } else {
                    &[Protocol::Udp, Protocol::Tcp]
                };
                if !found_srv {
                    for &protocol in fallbacks {
                        found_srv |= search.srv(&srv_name(protocol, name), protocol).await;
                    }
                }
                if !found_srv {
                    let protocol = fallbacks[0];
                    search.host(name, protocol, protocol.default_port()).await;
                }
                name
            }
        };
        let targets = search.finish(name)?;
        // The host only: a URI may carry a password.
        tracing::debug!(host = name, targets = targets.len(), "located");
        Ok(targets)
    }
}

/// The resolver options itsp uses on top of the configuration's: both A and AAAA for every
/// name (the default asks AAAA only when there is no A record), so failover can reach every
/// address.
fn set_options(options: &mut ResolverOpts) {
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
}

/// The SRV owner name for a transport (RFC 3263 §4.1, RFC 2782): `_sip._udp.NAME`,
/// `_sip._tcp.NAME`, and for TLS `_sips._tcp.NAME`.
fn srv_name(protocol: Protocol, name: &str) -> String {
    match protocol {
        Protocol::Tls => format!("_sips._tcp.{name}"),
        // WebSocket has no SRV names; `plan` refuses it before any lookup.
        Protocol::Udp | Protocol::Tcp | Protocol::Ws | Protocol::Wss => {
            format!("_sip._{protocol}.{name}")
        }
    }
}

/// Whether a lookup error only says that there is nothing: NXDOMAIN, or NOERROR without a
/// record of that type. hickory reports a SERVFAIL or REFUSED answer as "no records" too,
/// with that response code: those are failures.
fn is_absent(error: &ResolveError) -> bool {
    match error.proto().map(ProtoError::kind) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => {
            matches!(
                *response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            )
        }
        _ => false,
    }
}

/// A short explanation of a failed lookup: hickory's text for "no records" hides the
/// response code that says why.
fn reason(error: &ResolveError) -> String {
    match error.proto().map(ProtoError::kind) {
        Some(ProtoErrorKind::NoRecordsFound {
            query,
            response_code,
            ..
        }) => format!("{} query answered {response_code}", query.query_type()),
        _ => error.to_string(),
    }
}

/// The state of one [`Locator::locate`]: targets found so far, the first hard failure.
struct Search<'r> {
    resolver: &'r TokioResolver,
    counts: &'r LookupCounts,
    targets: Vec<Target>,
    failure: Option<LocateError>,
    rng: fastrand::Rng,
}

impl Search<'_> {
    /// Remembers a lookup failure that is more than an empty answer.
    fn note(&mut self, kind: LookupKind, name: &str, error: &ResolveError) {
        if is_absent(error) {
            tracing::trace!(name, %error, "no records");
        } else {
            self.counts.failed(kind);
            tracing::debug!(name, %error, "DNS lookup failed");
            self.failure.get_or_insert_with(|| LocateError::Dns {
                name: name.trim_end_matches('.').to_owned(),
                reason: reason(error),
            });
        }
    }

    /// RFC 3263 §4.1: the usable NAPTR records of `name`, in order.
    async fn naptr(&mut self, name: &str, secure: bool) -> Vec<NaptrChoice> {
        self.counts.made(LookupKind::Naptr);
        match self.resolver.lookup(name, RecordType::NAPTR).await {
            Ok(lookup) => {
                let records: Vec<NaptrRecord> = lookup
                    .iter()
                    .filter_map(|rdata| match rdata {
                        RData::NAPTR(n) => Some(NaptrRecord {
                            order: n.order(),
                            preference: n.preference(),
                            flags: String::from_utf8_lossy(n.flags()).into_owned(),
                            services: String::from_utf8_lossy(n.services()).into_owned(),
                            replacement: n.replacement().to_utf8(),
                        }),
                        _ => None,
                    })
                    .collect();
                select_naptr(&records, secure)
            }
            Err(error) => {
                self.note(LookupKind::Naptr, name, &error);
                Vec::new()
            }
        }
    }

    /// RFC 3263 §4.2: the SRV records of `srv_name` in RFC 2782 order, each expanded to its
    /// addresses over `protocol`. Whether there were SRV records (even if they led to no
    /// address: then the A/AAAA fallback does not apply).
    async fn srv(&mut self, srv_name: &str, protocol: Protocol) -> bool {
        self.counts.made(LookupKind::Srv);
        let records: Vec<SrvRecord> = match self.resolver.srv_lookup(srv_name).await {
            Ok(lookup) => lookup
                .iter()
                .map(|srv| SrvRecord {
                    priority: srv.priority(),
                    weight: srv.weight(),
                    port: srv.port(),
                    target: srv.target().to_utf8(),
                })
                .collect(),
            Err(error) => {
                self.note(LookupKind::Srv, srv_name, &error);
                return false;
            }
        };
        if records.is_empty() {
            return false;
        }
        // RFC 2782: a target of "." means the service is decidedly not available there.
        let ordered: Vec<SrvRecord> = order_srv(records, &mut self.rng)
            .into_iter()
            .filter(|r| r.target != ".")
            .collect();
        let resolver = self.resolver;
        let lookups = ordered.iter().map(|r| {
            self.counts.made(LookupKind::Address);
            addresses(resolver, &r.target)
        });
        for (record, result) in ordered.iter().zip(join_all(lookups).await) {
            match result {
                Ok(ips) => self.push(&ips, protocol, record.port, &record.target),
                Err(error) => self.note(LookupKind::Address, &record.target, &error),
            }
        }
        true
    }

    /// RFC 3263 §4.2: every A/AAAA address of `name` at `port` over `protocol`.
    async fn host(&mut self, name: &str, protocol: Protocol, port: u16) {
        self.counts.made(LookupKind::Address);
        match addresses(self.resolver, name).await {
            Ok(ips) => self.push(&ips, protocol, port, name),
            Err(error) => self.note(LookupKind::Address, name, &error),
        }
    }

    fn push(&mut self, ips: &[IpAddr], protocol: Protocol, port: u16, name: &str) {
        let host = name.trim_end_matches('.');
        self.targets.extend(ips.iter().map(|&ip| Target {
            protocol,
            addr: SocketAddr::new(ip, port),
            host: host.to_owned(),
        }));
    }

    /// The targets without repeats, or why there are none.
    fn finish(self, name: &str) -> Result<Vec<Target>, LocateError> {
        let mut seen = HashSet::new();
        let targets: Vec<Target> = self
            .targets
            .into_iter()
            .filter(|t| seen.insert((t.protocol, t.addr)))
            .collect();
        if !targets.is_empty() {
            return Ok(targets);
        }
        Err(self.failure.unwrap_or_else(|| LocateError::NotFound {
            name: name.trim_end_matches('.').to_owned(),
        }))
    }
}

/// All A and AAAA addresses of `name`, IPv4 first, each family in the DNS order.
async fn addresses(resolver: &TokioResolver, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let lookup = resolver.lookup_ip(name).await?;
    let mut ips: Vec<IpAddr> = lookup.iter().collect();
    ips.sort_by_key(IpAddr::is_ipv6);
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::uri::Uri;

    #[tokio::test]
    async fn locator_and_its_future_can_move_across_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let locator = Locator::with_nameservers(&[]);
        shareable(&locator);
        let Ok(Uri::Sip(uri)) = Uri::parse("sip:192.0.2.1") else {
            panic!("test URI");
        };
        let future = locator.locate(&uri);
        send(&future);
        // A numeric host is answered without a name server.
        assert_eq!(future.await.map(|t| t.len()), Ok(1));
    }

    #[test]
    fn srv_names() {
        assert_eq!(
            srv_name(Protocol::Udp, "example.com"),
            "_sip._udp.example.com"
        );
        assert_eq!(
            srv_name(Protocol::Tcp, "example.com."),
            "_sip._tcp.example.com."
        );
    }
}
