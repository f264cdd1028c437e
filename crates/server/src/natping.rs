//! Keepalives to registered phones (Kamailio nathelper's `natping_interval` and
//! `sipping`): a NAT forgets an idle UDP mapping after a minute or two, and then calls to
//! the phone behind it are lost. Every [`PingConfig::interval`] the server sends each
//! pinged binding (NATed ones by default) an OPTIONS request, a CRLF pair or four zero bytes
//! along the binding's flow (its source address, from the socket it arrived on). With
//! OPTIONS, any answer proves the phone is there; a binding that leaves
//! [`PingConfig::max_failures`] pings in a row unanswered is marked unreachable, and calls
//! skip it until it answers or registers again.
//!
//! [`Pinger`] is the bookkeeping, free of I/O: it builds a round of pings from the
//! bindings, matches answers by their Via branch and counts failures; the engine queues
//! the pings as transmits (`Engine::keepalive_round`), which the shell's keepalive task
//! calls on its timer.

use ahash::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use sip::Message;
use transport::Protocol;

use crate::location::Binding;
use crate::nat::{PingConfig, PingMethod, PingTargets};
use crate::proxy::LocalAddr;

/// The start of the Via branch of every OPTIONS ping (RFC 3261 §8.1.1.7 magic cookie, then
/// our mark), how answers are told from proxied responses.
pub(crate) const BRANCH_PREFIX: &str = "z9hG4bK-natping-";

/// A binding, as the pinger knows it: address-of-record and contact.
pub(crate) type BindingKey = (String, String);

/// One keepalive to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ping {
    /// Whose.
    pub binding: BindingKey,
    /// Transport of the binding's flow.
    pub protocol: Protocol,
    /// The local socket the binding's REGISTER arrived on, if known.
    pub local: Option<SocketAddr>,
    /// The binding's source address (the NAT mapping).
    pub dest: SocketAddr,
    /// The bytes.
    pub bytes: Bytes,
}

/// What a round decided.
#[derive(Debug, Default)]
pub(crate) struct Round {
    /// Keepalives to send now.
    pub pings: Vec<Ping>,
    /// Bindings whose pings went unanswered `max_failures` times in a row: to be marked
    /// unreachable.
    pub unreachable: Vec<BindingKey>,
}

/// Counters of keepalives since start, for the operator (logged each round).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PingStats {
    /// Rounds run.
    pub rounds: u64,
    /// Endpoints pinged in the last round.
    pub pinged: usize,
    /// Keepalives sent in all.
    pub sent: u64,
    /// OPTIONS pings answered.
    pub answered: u64,
    /// OPTIONS pings left unanswered until the next round.
    pub unanswered: u64,
    /// Bindings marked unreachable now.
    pub unreachable: usize,
}

/// The keepalive bookkeeping (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Pinger {
    /// OPTIONS pings of the current round awaiting an answer, by Via branch.
    outstanding: HashMap<String, BindingKey>,
    /// Unanswered pings in a row, per binding.
    failures: HashMap<BindingKey, Failures>,
    stats: PingStats,
    counter: u64,
    /// The `User-Agent` of OPTIONS pings (`[sip] server_header`); empty: none.
    user_agent: String,
}

/// Unanswered pings in a row of one binding, as registered at `updated_at`: a new
/// REGISTER (a new `updated_at`) starts the count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failures {
    count: u32,
    updated_at: u64,
}

/// What an answer to a ping means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answered {
    /// Not an answer to one of our pings: the response goes on through the proxy.
    NotOurs,
    /// An answer; the binding is reachable (`true` when it had been marked unreachable).
    Binding(BindingKey, bool),
    /// An answer to a ping whose round is over, or a retransmission: nothing to do.
    Late,
}

impl Pinger {
    /// An empty pinger.
    pub(crate) fn new() -> Pinger {
        Pinger::default().with_user_agent(crate::sip_text::DEFAULT_SERVER_HEADER)
    }

    /// Sends OPTIONS pings with this `User-Agent` (RFC 3261 §20.41); empty: without one.
    pub(crate) fn with_user_agent(mut self, user_agent: &str) -> Pinger {
        self.user_agent = user_agent.to_owned();
        self
    }

    /// The counters.
    pub(crate) fn stats(&self) -> PingStats {
        self.stats
    }

    /// Starts a round over `bindings` (address-of-record, binding), those not expired at
    /// `now` (Unix seconds): pings still unanswered from the last round count as failures,
    /// then a keepalive is built for every binding the configuration pings. `local_for`
    /// gives our address toward a destination (what the Via says); `random` makes Call-IDs
    /// and tags unique.
    pub(crate) fn round<'a>(
        &mut self,
        bindings: impl IntoIterator<Item = (&'a str, &'a Binding)>,
        now: u64,
        config: &PingConfig,
        mut local_for: impl FnMut(Protocol, SocketAddr) -> Option<LocalAddr>,
        mut random: impl FnMut() -> u64,
    ) -> Round {
        let mut round = Round::default();
        let unanswered: HashMap<BindingKey, ()> =
            self.outstanding.drain().map(|(_, key)| (key, ())).collect();
        let mut pinged = 0;
        let mut seen = HashMap::default();
        for (aor, binding) in bindings {
            if binding.expires_at <= now || !wanted(config.targets, binding) {
                continue;
            }
            let key = (aor.to_owned(), binding.contact.clone());
            seen.insert(key.clone(), ());
            if unanswered.contains_key(&key) {
                self.stats.unanswered += 1;
                let failures = self.failures.entry(key.clone()).or_insert(Failures {
                    count: 0,
                    updated_at: binding.updated_at,
                });
                if failures.updated_at != binding.updated_at {
                    // Registered again since: a fresh start.
                    *failures = Failures {
                        count: 0,
                        updated_at: binding.updated_at,
                    };
                } else {
                    failures.count += 1;
                    if failures.count == config.max_failures {
                        round.unreachable.push(key.clone());
                    }
                }
            }
            let protocol = binding.transport;
            let bytes = match (config.method, protocol) {
                (PingMethod::Options, _) => {
                    let Some(local) = local_for(protocol, binding.source) else {
                        continue;
                    };
                    self.counter += 1;
                    let branch = format!("{BRANCH_PREFIX}{:x}.{:x}", self.counter, random());
                    let request =
                        options_request(aor, binding, &local, &branch, random(), &self.user_agent);
                    self.outstanding.insert(branch, key.clone());
                    request
                }
                // A WebSocket client keeps its own connection alive; a CRLF there would be
                // a message it cannot parse (RFC 7118 defines no keepalive).
                (PingMethod::Crlf | PingMethod::Udp, Protocol::Ws | Protocol::Wss) => continue,
                (PingMethod::Crlf, _) | (PingMethod::Udp, Protocol::Tcp | Protocol::Tls) => {
                    Bytes::from_static(b"\r\n\r\n")
                }
                (PingMethod::Udp, Protocol::Udp) => Bytes::from_static(&[0, 0, 0, 0]),
            };
            pinged += 1;
            round.pings.push(Ping {
                binding: key,
                protocol,
                local: binding.local,
                dest: binding.source,
                bytes,
            });
        }
        // Bindings that are gone (expired, removed) are forgotten.
        self.failures.retain(|k, _| seen.contains_key(k));
        self.stats.rounds += 1;
        self.stats.pinged = pinged;
        self.stats.sent += pinged as u64;
        self.stats.unreachable = self
            .failures
            .values()
            .filter(|f| f.count >= config.max_failures)
            .count();
        round
    }

    /// Takes a response: if it answers one of our OPTIONS pings (any status: the phone
    /// is there), the binding's failures are cleared.
    pub(crate) fn answered(&mut self, response: &Message, config: &PingConfig) -> Answered {
        let Some(branch) = response
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .filter(|b| b.starts_with(BRANCH_PREFIX))
        else {
            return Answered::NotOurs;
        };
        let Some(key) = self.outstanding.remove(branch) else {
            return Answered::Late;
        };
        self.stats.answered += 1;
        let was_unreachable = self
            .failures
            .remove(&key)
            .is_some_and(|f| f.count >= config.max_failures);
        if was_unreachable {
            self.stats.unreachable = self.stats.unreachable.saturating_sub(1);
        }
        Answered::Binding(key, was_unreachable)
    }

    /// Whether any binding is unreachable now (lookups skip the per-binding check when
    /// none is).
    pub(crate) fn has_unreachable(&self) -> bool {
        self.stats.unreachable > 0
    }

    /// Whether the binding of `aor` has failed `max_failures` pings in a row since it
    /// was last registered.
    pub(crate) fn is_unreachable(&self, aor: &str, binding: &Binding, config: &PingConfig) -> bool {
        self.failures
            .get(&(aor.to_owned(), binding.contact.clone()))
            .is_some_and(|f| f.count >= config.max_failures && f.updated_at == binding.updated_at)
    }
}

fn wanted(targets: PingTargets, binding: &Binding) -> bool {
    match targets {
        PingTargets::Nated => binding.nat,
        PingTargets::All => true,
        PingTargets::None => false,
    }
}

/// An OPTIONS request to the binding's contact, out of dialog (RFC 3261 §11), from the
/// server of its domain; Max-Forwards 1 keeps anyone from forwarding it further.
fn options_request(
    aor: &str,
    binding: &Binding,
    local: &LocalAddr,
    branch: &str,
    random: u64,
    user_agent: &str,
) -> Bytes {
    let domain = aor.rsplit_once('@').map_or(aor, |(_, d)| d);
    let mut text = String::with_capacity(400);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "OPTIONS {contact} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 1\r\n\
         From: <sip:keepalive@{domain}>;tag={random:x}\r\n\
         To: <{contact}>\r\n\
         Call-ID: natping-{random:x}-{branch}\r\n\
         CSeq: 1 OPTIONS\r\n\
         {agent}\
         Content-Length: 0\r\n\r\n",
        contact = binding.contact,
        via = local.via(branch),
        agent = if user_agent.is_empty() {
            String::new()
        } else {
            format!("User-Agent: {user_agent}\r\n")
        },
    );
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn binding(contact: &str, nat: bool) -> Binding {
        let mut b = crate::location::tests::binding(contact, 1000, 1000);
        b.nat = nat;
        b.source = "203.0.113.9:40000".parse().unwrap();
        b.local = Some("192.0.2.1:5060".parse().unwrap());
        b
    }

    fn local(protocol: Protocol, _: SocketAddr) -> Option<LocalAddr> {
        Some(LocalAddr {
            protocol,
            host: "192.0.2.1".into(),
            port: 5060,
        })
    }

    fn config() -> PingConfig {
        PingConfig {
            interval: Duration::from_secs(1),
            ..PingConfig::default()
        }
    }

    fn answer_to(ping: &Ping, status: u16) -> Message {
        let request = Message::parse(ping.bytes.clone()).unwrap();
        sip::MessageBuilder::response_to(&request, status, None, Some("t"))
            .build()
            .unwrap()
    }

    #[test]
    fn natted_bindings_are_pinged_with_options() {
        let natted = binding("sip:a@192.168.1.2:5060", true);
        let public = binding("sip:b@198.51.100.2:5060", false);
        let mut pinger = Pinger::new();
        let bindings = [("a@example.com", &natted), ("b@example.com", &public)];
        let round = pinger.round(bindings, 10, &config(), local, || 7);
        assert_eq!(round.pings.len(), 1, "only the NATed one");
        let ping = &round.pings[0];
        assert_eq!(ping.dest, natted.source);
        assert_eq!(ping.local, natted.local);
        let options = Message::parse(ping.bytes.clone()).unwrap();
        assert!(options.validate().is_ok());
        assert_eq!(options.method(), Some(&sip::Method::Options));
        assert_eq!(options.request_uri_str(), Some("sip:a@192.168.1.2:5060"));
        assert_eq!(options.header(sip::HeaderName::UserAgent), Some("itsp"));
        // The configured User-Agent, or none.
        for (agent, expected) in [("Example SBC", Some("Example SBC")), ("", None)] {
            let mut pinger = Pinger::new().with_user_agent(agent);
            let round = pinger.round(bindings, 10, &config(), local, || 7);
            let options = Message::parse(round.pings[0].bytes.clone()).unwrap();
            assert!(options.validate().is_ok());
            assert_eq!(options.header(sip::HeaderName::UserAgent), expected);
        }
        assert!(options
            .top_via()
            .unwrap()
            .branch()
            .unwrap()
            .starts_with(BRANCH_PREFIX));
        assert_eq!(options.max_forwards().unwrap(), Some(1));

        let all = PingConfig {
            targets: PingTargets::All,
            ..config()
        };
        assert_eq!(pinger.round(bindings, 10, &all, local, || 8).pings.len(), 2);
        let none = PingConfig {
            targets: PingTargets::None,
            ..config()
        };
        assert!(pinger
            .round(bindings, 10, &none, local, || 9)
            .pings
            .is_empty());
        // Expired bindings are not pinged.
        assert!(pinger
            .round(bindings, 5000, &all, local, || 9)
            .pings
            .is_empty());
    }

    #[test]
    fn unanswered_pings_make_a_binding_unreachable_and_an_answer_clears_it() {
        let natted = binding("sip:a@192.168.1.2:5060", true);
        let key = ("a@example.com".to_owned(), natted.contact.clone());
        let bindings = [("a@example.com", &natted)];
        let cfg = config();
        let mut pinger = Pinger::new();
        let first = pinger.round(bindings, 10, &cfg, local, || 1);
        // Answered (even 404 proves reachability): no failure.
        let reply = answer_to(&first.pings[0], 404);
        assert_eq!(
            pinger.answered(&reply, &cfg),
            Answered::Binding(key.clone(), false)
        );
        assert_eq!(
            pinger.answered(&reply, &cfg),
            Answered::Late,
            "retransmission"
        );
        // Three silent rounds: unreachable at the third failure, reported once.
        let mut last = None;
        for n in 0..4 {
            let round = pinger.round(bindings, 10, &cfg, local, || 2 + n);
            if n == 3 {
                assert_eq!(round.unreachable, vec![key.clone()]);
            } else {
                assert!(round.unreachable.is_empty(), "round {n}");
            }
            last = Some(round);
        }
        assert!(pinger.is_unreachable("a@example.com", &natted, &cfg));
        // A new REGISTER makes it reachable at once.
        let mut again = natted.clone();
        again.updated_at += 1;
        assert!(!pinger.is_unreachable("a@example.com", &again, &cfg));
        assert_eq!(pinger.stats().unreachable, 1);
        assert_eq!(pinger.stats().unanswered, 3);
        // Back again.
        let reply = answer_to(&last.unwrap().pings[0], 200);
        assert_eq!(
            pinger.answered(&reply, &cfg),
            Answered::Binding(key.clone(), true)
        );
        assert!(!pinger.is_unreachable("a@example.com", &natted, &cfg));
        assert_eq!(pinger.stats().unreachable, 0);
        assert_eq!(pinger.stats().answered, 2);
        // Someone else's response.
        let other = Message::parse(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-proxy\r\n\
From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(pinger.answered(&other, &cfg), Answered::NotOurs);
    }

    #[test]
    fn crlf_and_udp_pings_expect_no_answer() {
        let natted = binding("sip:a@192.168.1.2:5060", true);
        let mut tcp = binding("sip:c@192.168.1.3:5060;transport=tcp", true);
        tcp.transport = Protocol::Tcp;
        let bindings = [("a@example.com", &natted), ("c@example.com", &tcp)];
        let udp = PingConfig {
            method: PingMethod::Udp,
            ..config()
        };
        let mut pinger = Pinger::new();
        let round = pinger.round(bindings, 10, &udp, local, || 1);
        assert_eq!(&round.pings[0].bytes[..], &[0, 0, 0, 0]);
        assert_eq!(&round.pings[1].bytes[..], b"\r\n\r\n", "CRLF on TCP");
        assert_eq!(round.pings[1].protocol, Protocol::Tcp);
        for _ in 0..5 {
            assert!(pinger
                .round(bindings, 10, &udp, local, || 1)
                .unreachable
                .is_empty());
        }
    }
}
