//! NAT traversal in the signalling, the nathelper part of the seed's `ser.cfg` (the KTH
//! provider's SER configuration tests every message for a NAT and fixes what would
//! otherwise point into a private network): is a message from behind a NAT
//! ([`NatTests::detect`], Kamailio's `nat_uac_test`), and the fixes that make the answers
//! and later requests reach it: the Contact rewritten to the address the packet came from
//! ([`fix_contact`], `fix_nated_contact`) and responses sent to the source port even
//! without `rport` (`force_rport`, RFC 3581 §4). The registrar stores the verdict with each
//! binding (the NAT flag of `itsp ul show`); keepalives (`natping`) and the RTP
//! relay read it.
//!
//! In the message path this is `NatHook` (`on_forward`: the sender's Contact fixed, the
//! verdict put on the forward for the relay) and `fix_reply`, which the engine applies
//! to every response as it arrives.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip::headers::NameAddr;
use sip::{HeaderName, Message, Uri};

/// Which NAT tests run, as the bit flags of Kamailio's `nat_uac_test` (the same flags the
/// portable-phone thesis, seed 003, lists for its server in its appendix C):
///
/// | flag | test |
/// |---|---|
/// | 1 | a Contact holds a private address (RFC 1918, RFC 6598 shared space, IPv6 ULA) |
/// | 2 | the top Via's address is not the packet's source address |
/// | 4 | the top Via holds a private address |
/// | 8 | the SDP holds a private address (`c=` of the session or of a stream) |
/// | 16 | the top Via's port is not the packet's source port (datagrams only) |
///
/// The private-address tests (1, 4, 8) do not fire when the packet itself comes from a
/// private address: phones and server on one LAN are not behind a NAT between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatTests(u8);

impl NatTests {
    /// Flag 1: private address in a Contact.
    pub const PRIVATE_CONTACT: NatTests = NatTests(1);
    /// Flag 2: top Via address ≠ source address.
    pub const VIA_ADDRESS: NatTests = NatTests(2);
    /// Flag 4: private address in the top Via.
    pub const PRIVATE_VIA: NatTests = NatTests(4);
    /// Flag 8: private address in the SDP.
    pub const PRIVATE_SDP: NatTests = NatTests(8);
    /// Flag 16: top Via port ≠ source port (datagrams only).
    pub const VIA_PORT: NatTests = NatTests(16);
    /// No test: nothing is ever behind a NAT.
    pub const NONE: NatTests = NatTests(0);
    /// The seed's `nat_uac_test("19")`: private Contact, Via address, Via port.
    pub const DEFAULT: NatTests = NatTests(19);
    /// The tests that mean something for a response (whose top Via is ours).
    const FOR_REPLIES: NatTests = NatTests(1 | 8);

    /// The tests of a `nat_uac_test` number (0–31).
    pub fn from_bits(bits: u32) -> Result<NatTests, InvalidNatTests> {
        u8::try_from(bits)
            .ok()
            .filter(|b| *b < 32)
            .map(NatTests)
            .ok_or(InvalidNatTests(bits))
    }

    /// The `nat_uac_test` number.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether every test of `other` is in `self`.
    pub fn contains(self, other: NatTests) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Whether no test is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The tests of `self` that fired on `request`, received from `source` (`datagram`:
    /// over UDP); empty when it does not look sent from behind a NAT.
    pub fn detect(self, request: &Message, source: SocketAddr, datagram: bool) -> NatTests {
        let mut fired = 0;
        let source_private = is_private(source.ip());
        if let Ok(via) = request.top_via() {
            let via_ip = via.host.ip();
            if self.contains(Self::VIA_ADDRESS) && via_ip.is_some_and(|ip| ip != source.ip()) {
                fired |= Self::VIA_ADDRESS.0;
            }
            if self.contains(Self::PRIVATE_VIA) && !source_private && via_ip.is_some_and(is_private)
            {
                fired |= Self::PRIVATE_VIA.0;
            }
            if self.contains(Self::VIA_PORT)
                && datagram
                && via.port.unwrap_or(5060) != source.port()
            {
                fired |= Self::VIA_PORT.0;
            }
        }
        NatTests(fired | self.private_tests(request, source_private))
    }

    /// The tests of `self` that apply to a response (1 and 8: its top Via is ours) and fired
    /// on `response`, received from `source`.
    pub fn detect_reply(self, response: &Message, source: SocketAddr) -> NatTests {
        NatTests(
            NatTests(self.0 & Self::FOR_REPLIES.0).private_tests(response, is_private(source.ip())),
        )
    }

    fn private_tests(self, message: &Message, source_private: bool) -> u8 {
        if source_private {
            return 0;
        }
        let mut fired = 0;
        if self.contains(Self::PRIVATE_CONTACT)
            && message.contacts().flatten().any(|c| {
                c.addr()
                    .and_then(|a| a.parsed_uri().ok())
                    .and_then(|u| match u {
                        Uri::Sip(s) => s.host.ip(),
                        _ => None,
                    })
                    .is_some_and(is_private)
            })
        {
            fired |= Self::PRIVATE_CONTACT.0;
        }
        if self.contains(Self::PRIVATE_SDP) && sdp_has_private_address(message) {
            fired |= Self::PRIVATE_SDP.0;
        }
        fired
    }
}

impl Default for NatTests {
    fn default() -> Self {
        NatTests::DEFAULT
    }
}

impl fmt::Display for NatTests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A `nat_uac_test` number outside 0–31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("NAT tests {0} are not a sum of the flags 1, 2, 4, 8 and 16")]
pub struct InvalidNatTests(pub u32);

/// Settings of NAT traversal (`[nat]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// Which tests decide that a message is from behind a NAT (default 19, the seed's).
    pub tests: NatTests,
    /// Rewrite the Contact of requests (other than REGISTER) and of responses from behind
    /// a NAT to the address they came from (`fix_nated_contact`), so in-dialog requests
    /// reach the phone through its NAT mapping. REGISTER keeps its Contact; the binding
    /// stores the source instead and requests to it go there.
    pub fix_contact: bool,
    /// Answer requests from behind a NAT at their source port even without `rport` in
    /// their Via (`force_rport`, RFC 3581 §4).
    pub force_rport: bool,
    /// Keepalives to registered phones.
    pub ping: PingConfig,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            tests: NatTests::DEFAULT,
            fix_contact: true,
            force_rport: true,
            ping: PingConfig::default(),
        }
    }
}

/// Keepalives that hold NAT mappings open (Kamailio nathelper's `natping_interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingConfig {
    /// Which bindings are pinged.
    pub targets: PingTargets,
    /// What is sent.
    pub method: PingMethod,
    /// How often (default 30 s, shorter than the UDP timeout of most NATs).
    pub interval: Duration,
    /// After this many OPTIONS pings in a row without an answer the binding is marked
    /// unreachable: calls skip it until the phone registers again.
    pub max_failures: u32,
}

/// Default keepalive interval: 30 s.
pub const DEFAULT_PING_INTERVAL_SECS: u64 = 30;
/// Default number of unanswered OPTIONS pings before a binding is unreachable.
pub const DEFAULT_PING_FAILURES: u32 = 3;

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            targets: PingTargets::Nated,
            method: PingMethod::Options,
            interval: Duration::from_secs(DEFAULT_PING_INTERVAL_SECS),
            max_failures: DEFAULT_PING_FAILURES,
        }
    }
}

/// Which bindings get keepalives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingTargets {
    /// Bindings registered from behind a NAT (the default).
    Nated,
    /// Every binding.
    All,
    /// None.
    None,
}

/// What a keepalive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingMethod {
    /// A SIP OPTIONS request; the answer (any status) proves the phone is reachable, so
    /// unanswered pings mark it unreachable (Kamailio's `sipping`).
    Options,
    /// A CRLF pair (RFC 5626 §4.4.1 style); no answer is expected.
    Crlf,
    /// Four zero bytes over UDP (Kamailio's default NAT ping); CRLF on TCP. No answer.
    Udp,
}

/// The Contact value with its URI's host and port replaced by the packet's source
/// (`fix_nated_contact`), and `transport=tcp` added when the packet came on a TCP
/// connection and the URI names no transport, so requests to it reuse that flow. `None`
/// when there is nothing to change or the value is not one `sip:` address.
pub fn fix_contact(value: &str, source: SocketAddr, reliable: bool) -> Option<String> {
    let addr = NameAddr::parse(value).ok()?;
    let uri_text = addr.uri;
    let Ok(Uri::Sip(uri)) = Uri::parse(uri_text) else {
        return None;
    };
    let host_port = uri.host_port();
    let add_transport = reliable && uri.transport().is_none();
    let new_host_port = match source.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", source.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", source.port()),
    };
    if host_port == new_host_port && !add_transport {
        return None;
    }
    let uri_start = offset_in(value, uri_text)?;
    let host_start = uri_start + offset_in(uri_text, host_port)?;
    let host_end = host_start + host_port.len();
    let uri_end = uri_start + uri_text.len();
    let params_end = uri_end.min(value.len());
    let mut fixed = String::with_capacity(value.len() + 24);
    let needs_brackets = add_transport && !addr.angle_brackets;
    let before_uri = value.get(..uri_start)?;
    fixed.push_str(before_uri);
    if needs_brackets {
        fixed.push('<');
    }
    fixed.push_str(value.get(uri_start..host_start)?);
    fixed.push_str(&new_host_port);
    // The URI after host:port, before any `?headers` part.
    let rest = value.get(host_end..uri_end)?;
    let (uri_params, uri_headers) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    fixed.push_str(uri_params);
    if add_transport {
        fixed.push_str(";transport=tcp");
    }
    fixed.push_str(uri_headers);
    if needs_brackets {
        fixed.push('>');
    }
    fixed.push_str(value.get(params_end..)?);
    Some(fixed)
}

/// Applies [`fix_contact`] to the Contact of `message` (one value; several Contacts are
/// left as they are, they belong to REGISTER or 3xx). `None` when nothing changed.
pub fn fix_message_contact(
    message: &Message,
    source: SocketAddr,
    reliable: bool,
) -> Option<Message> {
    let fixed = fixed_message_contact(message, source, reliable)?;
    let mut edit = message.edit();
    edit.set(HeaderName::Contact, &fixed).ok()?;
    edit.finish().ok()
}

/// The new value of the one Contact of `message` by [`fix_contact`]; `None` when there is
/// nothing to change or not exactly one Contact.
pub fn fixed_message_contact(
    message: &Message,
    source: SocketAddr,
    reliable: bool,
) -> Option<String> {
    let mut values = message.header_values(HeaderName::Contact);
    let value = values.next()?;
    if values.next().is_some() || sip::text::split_top_level(value).count() != 1 {
        return None;
    }
    fix_contact(value, source, reliable)
}

/// Where `part` (a sub-slice of `whole`) starts in it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// Whether the SDP body of `message` puts any media at a private address.
fn sdp_has_private_address(message: &Message) -> bool {
    if !message.has_sdp() {
        return false;
    }
    let Ok(sdp) = sdp::SessionDescription::from_bytes(message.body()) else {
        return false;
    };
    let private = |c: Option<sdp::Connection>| c.is_some_and(|c| is_private(c.address));
    private(sdp.connection()) || sdp.media().iter().any(|m| private(m.connection()))
}

/// The NAT step of the main route for a request being forwarded: when `nat_uac_test`
/// finds the sender behind a NAT, its Contact is rewritten to the address the request
/// came from (`fix_nated_contact`), so the other side's in-dialog requests go back through
/// the NAT mapping, and the forward is marked for the relay. REGISTER never gets here: its
/// binding keeps the source.
#[derive(Debug, Clone)]
pub(crate) struct NatHook {
    config: NatConfig,
}

impl NatHook {
    /// The hook with the `[nat]` settings.
    pub(crate) fn new(config: NatConfig) -> NatHook {
        NatHook { config }
    }
}

impl crate::policy::hook::Hook for NatHook {
    fn on_forward(
        &mut self,
        _cx: &mut crate::policy::hook::HookCx<'_>,
        request: &Message,
        source: crate::engine::io::Source,
        forward: &mut crate::proxy::Forward,
    ) -> crate::policy::hook::Flow {
        // An ACK without SDP has nothing to fix (no Contact that matters, no media).
        if request.method() == Some(&sip::Method::Ack) && !request.has_sdp() {
            return crate::policy::hook::Flow::Continue;
        }
        let nat = &self.config;
        let fired = nat.tests.detect(request, source.addr, !source.reliable());
        if !fired.is_empty() {
            tracing::debug!(source = %source.addr, tests = %fired, "request from behind a NAT");
            if nat.fix_contact {
                forward.rewrites.contact =
                    fixed_message_contact(request, source.addr, source.reliable());
            }
            forward.sender_natted = true;
        }
        crate::policy::hook::Flow::Continue
    }
}

/// The NAT fix of a response (the seed's `onreply_route`): a response whose Contact (or
/// SDP) holds a private address while it came from a public one has its Contact rewritten
/// to where it came from, so the caller's in-dialog requests reach the callee through its
/// NAT (`fix_nated_contact`). Also answers whether the response looked sent from behind a
/// NAT. Pure: retransmissions get the same fix.
pub(crate) fn fix_reply(
    config: &NatConfig,
    response: Message,
    source: crate::engine::io::Source,
) -> (Message, bool) {
    if response.header(HeaderName::Contact).is_none() {
        return (response, false);
    }
    let fired = config.tests.detect_reply(&response, source.addr);
    if fired.is_empty() {
        return (response, false);
    }
    tracing::debug!(source = %source.addr, tests = %fired, "response from behind a NAT");
    if !config.fix_contact {
        return (response, true);
    }
    let fixed = fix_message_contact(&response, source.addr, source.reliable()).unwrap_or(response);
    (fixed, true)
}

/// Private address space: RFC 1918, RFC 6598 (carrier-grade NAT), RFC 4193 (IPv6 ULA).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn register(via: &str, contact: &str) -> Message {
        Message::parse(format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\n\
CSeq: 1 REGISTER\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn behind_nat(m: &Message, source: SocketAddr, datagram: bool) -> bool {
        !NatTests::DEFAULT.detect(m, source, datagram).is_empty()
    }

    #[test]
    fn nat_is_seen_in_via_port_and_contact() {
        let src: SocketAddr = "203.0.113.5:5060".parse().unwrap();
        let direct = register("203.0.113.5:5060", "sip:a@203.0.113.5:5060");
        assert!(!behind_nat(&direct, src, true));
        // Via written with the private address the phone knows.
        let natted = register("192.168.1.20:5060", "sip:a@192.168.1.20:5060");
        assert_eq!(
            NatTests::DEFAULT.detect(&natted, src, true).bits(),
            1 | 2,
            "private contact, Via address; same port"
        );
        // The NAT kept the IP but changed the port: only datagrams tell.
        let port = register("203.0.113.5:5062", "sip:a@203.0.113.5:5062");
        assert!(behind_nat(&port, src, true));
        // Over TCP the source port is the connection's: not a sign of NAT.
        assert!(!behind_nat(
            &port,
            "203.0.113.5:40000".parse().unwrap(),
            false
        ));
        // A private Contact from a public source.
        let contact = register("203.0.113.5:5060", "sip:a@10.1.2.3:5060");
        assert!(behind_nat(&contact, src, true));
        // All on one private LAN: no NAT.
        let lan = register("10.1.2.3:5060", "sip:a@10.1.2.3:5060");
        assert!(!behind_nat(&lan, "10.1.2.3:5060".parse().unwrap(), true));
    }

    #[test]
    fn only_the_configured_tests_run() {
        let src: SocketAddr = "203.0.113.5:40000".parse().unwrap();
        let natted = register("192.168.1.20:5060", "sip:a@192.168.1.20:5060");
        let only = |bits| {
            NatTests::from_bits(bits)
                .unwrap()
                .detect(&natted, src, true)
                .bits()
        };
        assert_eq!(only(1), 1);
        assert_eq!(only(2), 2);
        assert_eq!(only(4), 4);
        assert_eq!(only(16), 16);
        assert_eq!(only(8), 0, "no SDP");
        assert_eq!(only(31), 1 | 2 | 4 | 16);
        assert_eq!(only(0), 0);
        assert_eq!(NatTests::from_bits(32), Err(InvalidNatTests(32)));
    }

    /// The NATed X-Lite INVITE the KTH thesis shows (seed 000, figure 7): private addresses in Via, Contact
    /// and SDP, sent from the NAT's public address.
    #[test]
    fn the_seeds_natted_xlite_invite_fails_every_test() {
        let body = "v=0\r\no=alice 1 1 IN IP4 192.168.0.2\r\ns=X-Lite\r\nc=IN IP4 192.168.0.2\r\n\
t=0 0\r\nm=audio 8000 RTP/AVP 0 3\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:3 GSM/8000\r\n";
        let invite = Message::parse(format!(
            "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.0.2:5060;rport;branch=z9hG4bK-x\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=f\r\nTo: <sip:bob@example.com>\r\n\
Contact: <sip:alice@192.168.0.2:5060>\r\nCall-ID: xl@192.168.0.2\r\nCSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .unwrap();
        let from_nat: SocketAddr = "130.237.15.4:1024".parse().unwrap();
        assert_eq!(
            NatTests::from_bits(31)
                .unwrap()
                .detect(&invite, from_nat, true)
                .bits(),
            31
        );
        assert_eq!(
            NatTests::from_bits(31)
                .unwrap()
                .detect_reply(&invite, from_nat)
                .bits(),
            1 | 8
        );
    }

    #[test]
    fn contacts_are_fixed_to_the_source() {
        let src: SocketAddr = "203.0.113.5:40000".parse().unwrap();
        let fix = |v: &str, tcp| fix_contact(v, src, tcp);
        assert_eq!(
            fix(
                "<sip:alice@192.168.1.2:5060;transport=udp>;expires=60",
                false
            )
            .as_deref(),
            Some("<sip:alice@203.0.113.5:40000;transport=udp>;expires=60")
        );
        assert_eq!(
            fix("\"A, B\" <sip:alice@192.168.1.2>", false).as_deref(),
            Some("\"A, B\" <sip:alice@203.0.113.5:40000>")
        );
        assert_eq!(
            fix("sip:alice@10.0.0.1;+sip.instance=x", false).as_deref(),
            Some("sip:alice@203.0.113.5:40000;+sip.instance=x")
        );
        // TCP: the flow is the connection; the transport is named so it is reused.
        assert_eq!(
            fix("sip:alice@10.0.0.1;expires=5", true).as_deref(),
            Some("<sip:alice@203.0.113.5:40000;transport=tcp>;expires=5")
        );
        assert_eq!(
            fix("<sip:alice@10.0.0.1?Subject=x>", true).as_deref(),
            Some("<sip:alice@203.0.113.5:40000;transport=tcp?Subject=x>")
        );
        assert_eq!(
            fix("<sip:[fd00::1]:5060>", false).as_deref(),
            Some("<sip:203.0.113.5:40000>")
        );
        // Already right, or nothing we can rewrite.
        assert_eq!(fix("<sip:alice@203.0.113.5:40000>", false), None);
        assert_eq!(fix("<tel:+123>", false), None);
        assert_eq!(fix("*", false), None);
        assert_eq!(fix("<sip:", false), None);
        let v6: SocketAddr = "[2001:db8::5]:5062".parse().unwrap();
        assert_eq!(
            fix_contact("<sip:a@10.0.0.1>", v6, false).as_deref(),
            Some("<sip:a@[2001:db8::5]:5062>")
        );
    }

    #[test]
    fn the_message_contact_is_rewritten_and_the_rest_kept() {
        let m = register("192.168.1.20:5060", "sip:a@192.168.1.20:5060");
        let fixed = fix_message_contact(&m, "203.0.113.5:1024".parse().unwrap(), false).unwrap();
        assert_eq!(
            fixed.header(HeaderName::Contact),
            Some("<sip:a@203.0.113.5:1024>")
        );
        assert_eq!(fixed.top_via().unwrap().host.to_string(), "192.168.1.20");
        assert!(fix_message_contact(&fixed, "203.0.113.5:1024".parse().unwrap(), false).is_none());
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "100.128.0.1", "2001:db8::1", "127.0.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
