//! RFC 3263 §4.1 NAPTR selection: which records itsp can use (UDP, TCP, TLS over TCP),
//! and in which order. Pure: the records come in as data.

use transport::Protocol;

/// One NAPTR record (RFC 3403 §4.1), as the selection needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NaptrRecord {
    /// Processed from lowest to highest.
    pub order: u16,
    /// Among records of equal order, lower is preferred.
    pub preference: u16,
    /// `S` means the replacement is an SRV name (RFC 3404 §4.3).
    pub flags: String,
    /// E.g. `SIP+D2U`, `SIP+D2T`, `SIPS+D2T` (RFC 3263 §4.1).
    pub services: String,
    /// The next name to look up; empty or `.` for none.
    pub replacement: String,
}

/// A usable NAPTR record: the transport its service names and the SRV name to query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NaptrChoice {
    /// `SIP+D2U` is UDP, `SIP+D2T` TCP, `SIPS+D2T` TLS.
    pub protocol: Protocol,
    /// The SRV owner name as the record gave it, e.g. `_sip._udp.example.com.`.
    pub srv_name: String,
}

/// RFC 3263 §4.1: the NAPTR records to follow, in the order to try them.
///
/// Kept: services `SIP+D2U` (UDP), `SIP+D2T` (TCP) and `SIPS+D2T` (TLS), compared
/// case-insensitively, with the flag `S` and a replacement name; for a `sips:` URI
/// (`secure`) only `SIPS+D2T` (§4.1: the client discards the others). Dropped: `SIP+D2S`
/// (no SCTP), other services, other flags (`A`, `U`, `P` or none: SIP uses only `S`), and
/// records whose replacement is empty or the root. Sorted by order, then preference (RFC
/// 3403 §4.1), stably. Every kept record is returned, not only those of the lowest order,
/// so that the caller can fail over to the next transport when the first gives no address.
pub fn select_naptr(records: &[NaptrRecord], secure: bool) -> Vec<NaptrChoice> {
    let mut kept: Vec<(u16, u16, NaptrChoice)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            let protocol = service_protocol(&r.services)?;
            if secure && protocol != Protocol::Tls {
                return None;
            }
            let root = r.replacement.trim_end_matches('.').is_empty();
            (!root).then(|| {
                let choice = NaptrChoice {
                    protocol,
                    srv_name: r.replacement.clone(),
                };
                (r.order, r.preference, choice)
            })
        })
        .collect();
    kept.sort_by_key(|(order, preference, _)| (*order, *preference));
    kept.into_iter().map(|(_, _, choice)| choice).collect()
}

/// The transport of a NAPTR `services` field that itsp supports (RFC 3263 §4.1).
fn service_protocol(services: &str) -> Option<Protocol> {
    if services.eq_ignore_ascii_case("SIP+D2U") {
        Some(Protocol::Udp)
    } else if services.eq_ignore_ascii_case("SIP+D2T") {
        Some(Protocol::Tcp)
    } else if services.eq_ignore_ascii_case("SIPS+D2T") {
        Some(Protocol::Tls)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(order: u16, preference: u16, flags: &str, services: &str, to: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference,
            flags: flags.into(),
            services: services.into(),
            replacement: to.into(),
        }
    }

    fn choice(protocol: Protocol, srv_name: &str) -> NaptrChoice {
        NaptrChoice {
            protocol,
            srv_name: srv_name.into(),
        }
    }

    #[test]
    fn rfc3263_example() {
        // RFC 3263 §4.1's example zone: TLS preferred, then TCP, then UDP.
        let records = [
            rec(50, 50, "s", "SIPS+D2T", "_sips._tcp.example.com."),
            rec(90, 50, "s", "SIP+D2T", "_sip._tcp.example.com."),
            rec(100, 50, "s", "SIP+D2U", "_sip._udp.example.com."),
        ];
        assert_eq!(
            select_naptr(&records, false),
            [
                choice(Protocol::Tls, "_sips._tcp.example.com."),
                choice(Protocol::Tcp, "_sip._tcp.example.com."),
                choice(Protocol::Udp, "_sip._udp.example.com."),
            ]
        );
        // A sips: URI keeps TLS only.
        assert_eq!(
            select_naptr(&records, true),
            [choice(Protocol::Tls, "_sips._tcp.example.com.")]
        );
    }

    #[test]
    fn order_then_preference() {
        let records = [
            rec(20, 10, "S", "SIP+D2U", "c.example.com"),
            rec(10, 90, "S", "SIP+D2T", "b.example.com"),
            rec(10, 5, "S", "SIP+D2U", "a.example.com"),
            rec(20, 10, "S", "SIP+D2T", "d.example.com"),
        ];
        let names: Vec<_> = select_naptr(&records, false)
            .into_iter()
            .map(|c| c.srv_name)
            .collect();
        // equal (order, preference) keeps the DNS order
        assert_eq!(
            names,
            [
                "a.example.com",
                "b.example.com",
                "c.example.com",
                "d.example.com"
            ]
        );
    }

    #[test]
    fn filters() {
        let records = [
            rec(1, 1, "S", "SIP+D2S", "sctp.example.com"),
            rec(1, 1, "S", "SIPS+D2S", "sctps.example.com"),
            rec(1, 1, "U", "E2U+sip", "enum.example.com"),
            rec(1, 1, "A", "SIP+D2U", "a-flag.example.com"),
            rec(1, 1, "", "SIP+D2U", "no-flag.example.com"),
            rec(1, 1, "S", "SIP+D2U", "."),
            rec(1, 1, "S", "SIP+D2U", ""),
            rec(1, 1, "S", "http+D2T", "web.example.com"),
            rec(2, 1, "s", "sip+d2u", "ok.example.com."),
        ];
        assert_eq!(
            select_naptr(&records, false),
            [choice(Protocol::Udp, "ok.example.com.")]
        );
        assert!(select_naptr(&records[..8], false).is_empty());
        assert!(select_naptr(&records, true).is_empty());
        assert!(select_naptr(&[], false).is_empty());
    }
}
