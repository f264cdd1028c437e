//! [`ServerConfig`]: the settings of a running server. `itsp serve` assembles them from its
//! flags, the TOML config file and these defaults.

use std::time::Duration;

use sip::transaction::TimerConfig;

use crate::registrar::RegistrarConfig;
use crate::trusted::Network;

/// Settings of [`crate::Server`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Domains served (added to the store at start if missing; more can be added with
    /// `itsp domain add` while the server runs). The realm of digest challenges is the
    /// domain (RFC 3261 §22.1).
    pub domains: Vec<String>,
    /// Expiry limits of the registrar.
    pub registrar: RegistrarConfig,
    /// Source networks whose requests are not challenged (gateways, peers, load tests).
    pub trusted: Vec<Network>,
    /// Digest algorithms offered, most preferred first; empty: [`crate::auth::DEFAULT_ALGORITHMS`].
    pub digest_algorithms: Vec<sip::auth::Algorithm>,
    /// How long a digest nonce is accepted before `stale=true` (seconds).
    pub nonce_lifetime: u64,
    /// The shortest time between two commits of the location writer (group commit): a
    /// change after a quiet spell is committed at once, under load changes wait for the
    /// next commit and share it. The 200 to a REGISTER waits for its commit. Zero: each
    /// batch as soon as the previous one is done.
    pub commit_window: Duration,
    /// How durable a binding's commit is before its 200: [`store::Durability::Process`]
    /// (the default: survives `kill -9`, phones register again after a power loss) or
    /// [`store::Durability::Disk`] (fsynced). Call records are always fsynced.
    pub location_durability: store::Durability,
    /// How often expired bindings are purged from memory and the store.
    pub purge_interval: Duration,
    /// SIP timers T1, T2, T4 (RFC 3261 §17, table 4).
    pub timers: TimerConfig,
    /// On shutdown, how long requests in progress may take to finish.
    pub shutdown_grace: Duration,
    /// The proxy's routing settings.
    pub proxy: ProxyConfig,
    /// NAT detection, fixes and keepalives.
    pub nat: crate::nat::NatConfig,
    /// The RTP relay: when calls use it and which.
    pub relay: RelaySettings,
    /// This server's name in the live-call list shared by the nodes of one store (the
    /// `calls` table); `itsp serve` uses the host name.
    pub node: String,
    /// When new requests are refused with 503 for overload.
    pub overload: crate::engine::overload::OverloadLimits,
    /// Limits of SIP over TCP: connections in all and per source, idle, header and body
    /// timeouts.
    pub tcp: transport::TcpLimits,
    /// Told the address of record (`user@domain`) of every REGISTER that brings a new
    /// device or contact, or a phone back from a reboot, once committed: `itsp serve`
    /// hands it to the media services, which tell that phone of its owner's voicemail.
    pub registrations: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Where the control socket's `itsp conf list|kick|mute` go: the media services'
    /// rooms (`None`: no media services).
    pub conferences: Option<crate::control::ConferenceControl>,
    /// The certificate and trust of SIP over TLS (`tls:` listeners, connections to `sips:`
    /// and `transport=tls` destinations); `None`: no TLS.
    pub tls: Option<std::sync::Arc<transport::tls::Tls>>,
    /// The address of a web server that answers SIP-over-WebSocket upgrades (the portal's
    /// `/ws`) and hands the connections over ([`crate::Server::websocket_entry`]): counted
    /// as a `ws:` listen address of the server. `None`: none.
    pub websocket_handed_over: Option<std::net::SocketAddr>,
    /// Bans for failed authentications, the flood limits (`[guard]`).
    pub guard: crate::guard::GuardConfig,
    /// The `Server` header of our responses and the `User-Agent` of our keepalive OPTIONS
    /// (RFC 3261 §20.35, §20.41); empty: none. Default [`crate::DEFAULT_SERVER_HEADER`].
    pub server_header: String,
    /// The SIP capture: the in-memory ring, pcap files, HEP export (`[capture]`).
    pub capture: crate::capture::CaptureConfig,
    /// The control socket (`itsp trace`); `None`: none. `itsp serve` puts it in the data
    /// directory (`control.sock`) unless `[control] socket` says otherwise.
    pub control_socket: Option<std::path::PathBuf>,
    /// Count for the Prometheus metrics ([`crate::metrics`]): the tap on every message
    /// and the dialog counts. Off when nothing serves `/metrics` (`itsp serve` decides).
    pub metrics: bool,
    /// The media services: where their user agent is, the names that reach them,
    /// voicemail and announcements (`[media]`).
    pub services: crate::services::names::ServicesConfig,
    /// Prepaid credit control: the slice of call time debited at a time, the longest call
    /// (`billing.rs`).
    pub credit: billing::CreditConfig,
    /// Whether calls that stay on this network (to a subscriber or a media service, not
    /// through a gateway or to another domain) are charged.
    pub on_net: OnNet,
}

/// What calls between the provider's own subscribers cost (seed 000 §3.2.2.3: "the
/// provider might decide not to charge IP to IP calls and instead charge only calls to
/// other networks such as PSTN").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnNet {
    /// Priced like any call to a number (a subscriber reached by a numeric name or alias
    /// costs what its number's rate says).
    #[default]
    Rated,
    /// Free: not authorised against prepaid credit, not priced on the record.
    Free,
}

/// Settings of the proxy (RFC 3261 §16) and its routing policy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Timer C (§16.6 step 11): how long a forwarded INVITE may ring without a final
    /// answer before its branch is cancelled and the caller gets 408 (Kamailio
    /// `fr_inv_timer`; the RFC asks for more than 3 minutes, Kamailio uses 120 s).
    pub timer_c: Duration,
    /// The longest an answered call may last: then the proxy ends it with a BYE to both
    /// parties (Kamailio dialog's `default_timeout`, 12 h), so a call whose parties
    /// vanished without a BYE does not stay open forever. `None`: no limit.
    pub max_call_duration: Option<Duration>,
    /// Requests larger than this are refused with 513 (the seed's `max_len` check).
    pub max_message_size: usize,
    /// Stay in the signalling path of dialogs with Record-Route (§16.6 step 4).
    pub record_route: bool,
    /// Forward requests whose Request-URI is a domain we do not serve (RFC 3263 DNS
    /// lookups); `false` refuses them with 403, for a provider that only serves its own
    /// users and gateways.
    pub foreign_domains: bool,
    /// Refuse requests from outside trusted networks whose target is a private address
    /// (RFC 1918, RFC 6598) with 479, as the seed does.
    pub refuse_private_targets: bool,
    /// DNS servers for RFC 3263 lookups; empty: the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<std::net::SocketAddr>,
    /// Telephone numbers to gateways, with group permissions.
    pub pstn: crate::pstn::PstnConfig,
    /// Answer INVITEs for our users with 302 and their bindings instead of proxying, for
    /// every domain.
    pub redirect: bool,
    /// Redirect only for these domains.
    pub redirect_domains: Vec<String>,
    /// Stateless mode for an edge proxy (RFC 3261 §16.11): requests are forwarded to
    /// their first target without transaction state, responses follow the Vias. No
    /// forking, failover, Timer C or accounting.
    pub stateless: bool,
    /// The answer callers from outside (neither our authenticated users nor trusted
    /// peers) get for a request to one of our addresses that reaches no phone: the same
    /// for an unknown user and for a subscriber with no phone registered, so that
    /// nobody can list our users by trying names (RFC 3261 §26.1.3 warns of it).
    pub unknown_user_answer: UnknownUserAnswer,
}

/// What callers from outside are told of a user who cannot be reached
/// ([`ProxyConfig::unknown_user_answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownUserAnswer {
    /// 480 Temporarily Unavailable (RFC 3261 §21.4.18), as to an offline subscriber.
    #[default]
    Unavailable,
    /// 404 Not Found (RFC 3261 §21.4.5), as to an unknown user.
    NotFound,
}

impl UnknownUserAnswer {
    /// The status code and reason phrase.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            UnknownUserAnswer::Unavailable => (480, "Temporarily Unavailable"),
            UnknownUserAnswer::NotFound => (404, "Not Found"),
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            timer_c: Duration::from_secs(DEFAULT_TIMER_C_SECS),
            max_call_duration: Some(Duration::from_secs(DEFAULT_MAX_CALL_DURATION_SECS)),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            record_route: true,
            foreign_domains: true,
            refuse_private_targets: true,
            nameservers: Vec::new(),
            pstn: crate::pstn::PstnConfig::default(),
            redirect: false,
            redirect_domains: Vec::new(),
            stateless: false,
            unknown_user_answer: UnknownUserAnswer::default(),
        }
    }
}

/// Default Timer C: 120 s, Kamailio's `fr_inv_timer`.
pub const DEFAULT_TIMER_C_SECS: u64 = 120;

/// The default longest answered call: 12 hours (Kamailio dialog's `default_timeout`).
pub const DEFAULT_MAX_CALL_DURATION_SECS: u64 = 12 * 3600;

/// Default size limit: 16 KiB, well above any call set-up (an INVITE with SDP is 1–3 KB)
/// and the seed's 4096-byte `max_len`, which large SDP offers exceed today.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            domains: Vec::new(),
            registrar: RegistrarConfig::default(),
            trusted: Vec::new(),
            digest_algorithms: Vec::new(),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            commit_window: Duration::from_millis(DEFAULT_COMMIT_WINDOW_MS),
            location_durability: store::Durability::Process,
            purge_interval: Duration::from_secs(30),
            timers: TimerConfig::default(),
            shutdown_grace: Duration::from_secs(5),
            proxy: ProxyConfig::default(),
            nat: crate::nat::NatConfig::default(),
            relay: RelaySettings::default(),
            node: "itsp".into(),
            overload: crate::engine::overload::OverloadLimits::default(),
            tcp: transport::TcpLimits::default(),
            registrations: None,
            conferences: None,
            tls: None,
            websocket_handed_over: None,
            guard: crate::guard::GuardConfig::default(),
            server_header: crate::sip_text::DEFAULT_SERVER_HEADER.into(),
            capture: crate::capture::CaptureConfig::default(),
            control_socket: None,
            metrics: true,
            services: crate::services::names::ServicesConfig::default(),
            credit: billing::CreditConfig::default(),
            on_net: OnNet::default(),
        }
    }
}

/// Default nonce lifetime: five minutes, Kamailio's `nonce_expire` is 30 s but phones that
/// reuse a nonce for their next REGISTER then get a needless `stale` round trip.
pub const DEFAULT_NONCE_LIFETIME: u64 = 300;

/// Default commit window: 30 ms. A REGISTER after a quiet spell is committed at once; under
/// load the 200s wait up to this long (unnoticeable to a phone, whose first retransmission
/// comes after 500 ms) and one transaction carries everything of those 30 ms: at 2,000
/// REGISTERs a second, 60 per commit, which halves the writer's CPU against 10 ms
/// (`bench/RESULTS.md`).
pub const DEFAULT_COMMIT_WINDOW_MS: u64 = 30;

/// The RTP relay of the proxy (`[relay]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelaySettings {
    /// Which calls are relayed.
    pub policy: crate::media_relay::RelayPolicy,
    /// Where the relay runs.
    pub backend: RelayBackend,
    /// SRTP bridging per leg (`[relay] srtp`).
    pub srtp: relay::SrtpPolicy,
}

/// Where the relay runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayBackend {
    /// In this process (the default).
    Local {
        /// RTP/RTCP port range (even first port).
        ports: (u16, u16),
        /// The address written in SDP; `None`: the server's address toward each party.
        public_ip: Option<std::net::IpAddr>,
        /// The address media sockets bind to; `None`: every interface.
        listen_ip: Option<std::net::IpAddr>,
        /// Sessions without signalling or media for this long are removed.
        idle_timeout: Duration,
    },
    /// Relay nodes driven over rtpengine's NG protocol (`itsp relay` or rtpengine), new
    /// calls shared by weight, failover when one does not answer.
    Nodes(Vec<relay::NodeConfig>),
}

impl Default for RelayBackend {
    fn default() -> Self {
        RelayBackend::Local {
            ports: relay::ports::DEFAULT_PORTS,
            public_ip: None,
            listen_ip: None,
            idle_timeout: Duration::from_secs(60),
        }
    }
}
