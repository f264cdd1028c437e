//! The TOML configuration file of `itsp serve` (`--config FILE`; every setting documented in
//! `itsp.example.toml` at the top of the repository). Unknown keys are errors, every key has
//! a default, and command-line flags override the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use server::registrar::RegistrarConfig;
use server::trusted::Network;
use server::ServerConfig;
use sip::auth::Algorithm;
use sip::transaction::TimerConfig;
use transport::Listen;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// `[sip]`: sockets and domains.
    pub(crate) sip: SipSection,
    /// `[store]`: where the data lives.
    pub(crate) store: StoreSection,
    /// `[registrar]`: expiry limits.
    pub(crate) registrar: RegistrarSection,
    /// `[auth]`: digest authentication.
    pub(crate) auth: AuthSection,
    /// `[timers]`: SIP timers.
    pub(crate) timers: TimersSection,
    /// `[proxy]`: routing.
    pub(crate) proxy: ProxySection,
    /// `[pstn]`: gateways and permissions.
    pub(crate) pstn: PstnSection,
    /// `[nat]`: NAT detection, fixes and keepalives.
    pub(crate) nat: NatSection,
    /// `[relay]`: the RTP relay.
    pub(crate) relay: RelaySection,
    /// `[stun]`: the STUN server.
    pub(crate) stun: StunSection,
    /// `[guard]`: bans for failed authentications, flood limits.
    pub(crate) guard: GuardSection,
    /// `[tcp]`: connection limits and timeouts of SIP over TCP.
    pub(crate) tcp: TcpSection,
    /// `[tls]`: the certificate of SIP over TLS and the trust for connections to others.
    pub(crate) tls: crate::tls_config::TlsSection,
    /// `[overload]`: when new requests get 503.
    pub(crate) overload: OverloadSection,
    /// `[capture]`: the SIP capture (ring, pcap files, HEP export).
    pub(crate) capture: crate::capture_config::CaptureSection,
    /// `[control]`: the control socket (`itsp trace`).
    pub(crate) control: crate::capture_config::ControlSection,
    /// `[http]`: the web portal and REST API.
    pub(crate) http: HttpSection,
    /// `[metrics]`: a listener of its own for `/metrics`.
    pub(crate) metrics: MetricsSection,
    /// `[media]`: the media services (echo, voicemail, announcements).
    pub(crate) media: MediaSection,
    /// `[[ivr]]`: the IVR menus of the media services and the names bound to them.
    pub(crate) ivr: Vec<crate::ivr_config::IvrSection>,
    /// `[billing]`: prepaid credit control.
    pub(crate) billing: BillingSection,
    /// `[smtp]`: e-mail (low-balance notices, voicemail).
    pub(crate) smtp: crate::smtp_config::SmtpSection,
    /// `[log]`: the log filter, reloaded on SIGHUP.
    pub(crate) log: LogSection,
}

/// `[billing]`: prepaid credit control (`server::billing`), in seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BillingSection {
    /// Call time debited from a prepaid balance at a time (CGRateS `debit_interval`).
    pub(crate) debit_interval: u32,
    /// The longest prepaid call, whatever the balance.
    pub(crate) max_call_duration: u32,
    /// `"rated"` or `"free"`: what calls that stay on this network cost.
    pub(crate) on_net: String,
}

impl Default for BillingSection {
    fn default() -> Self {
        let d = billing::CreditConfig::default();
        BillingSection {
            debit_interval: d.debit_interval,
            max_call_duration: d.max_call_secs,
            on_net: "rated".into(),
        }
    }
}

impl BillingSection {
    /// The credit control's settings, checked.
    pub(crate) fn credit(&self) -> Result<billing::CreditConfig, String> {
        if self.debit_interval == 0 || self.max_call_duration == 0 {
            return Err(
                "billing.debit_interval and billing.max_call_duration must be at least 1 second"
                    .into(),
            );
        }
        Ok(billing::CreditConfig {
            debit_interval: self.debit_interval,
            max_call_secs: self.max_call_duration,
        })
    }

    /// What calls that stay on this network cost, checked.
    pub(crate) fn on_net(&self) -> Result<server::OnNet, String> {
        match self.on_net.as_str() {
            "rated" => Ok(server::OnNet::Rated),
            "free" => Ok(server::OnNet::Free),
            other => Err(format!(
                "billing.on_net ({other:?}) must be \"rated\" or \"free\""
            )),
        }
    }
}

/// `[log]`: what the server logs. `--log` and `RUST_LOG` override it; without them, a
/// SIGHUP applies a changed filter without a restart.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LogSection {
    /// The log filter (`info`, `debug`, `info,server::guard=warn`); `None`: `info`.
    pub(crate) filter: Option<String>,
}

impl Config {
    /// The sections of `self` that differ from `running` and need a restart to take effect
    /// (every one but `[log]`, which a SIGHUP applies). Sections are compared by their
    /// `Debug` text: every section derives it, and a new section needs no code here.
    pub(crate) fn changed_sections(&self, running: &Config) -> Vec<&'static str> {
        let differ =
            |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
        // The certificate files are read again on SIGHUP; the rest of [tls] needs a restart.
        let (tls, running_tls) = (self.tls.restart_only(), running.tls.restart_only());
        let sections: [(&'static str, &dyn std::fmt::Debug, &dyn std::fmt::Debug); 21] = [
            ("sip", &self.sip, &running.sip),
            ("store", &self.store, &running.store),
            ("registrar", &self.registrar, &running.registrar),
            (
                "auth",
                &self.auth.restart_only(),
                &running.auth.restart_only(),
            ),
            ("timers", &self.timers, &running.timers),
            ("proxy", &self.proxy, &running.proxy),
            ("nat", &self.nat, &running.nat),
            ("relay", &self.relay, &running.relay),
            ("stun", &self.stun, &running.stun),
            ("guard", &self.guard, &running.guard),
            ("tcp", &self.tcp, &running.tcp),
            ("tls", &tls, &running_tls),
            ("overload", &self.overload, &running.overload),
            ("capture", &self.capture, &running.capture),
            ("control", &self.control, &running.control),
            ("http", &self.http, &running.http),
            ("metrics", &self.metrics, &running.metrics),
            ("media", &self.media, &running.media),
            ("ivr", &self.ivr, &running.ivr),
            ("billing", &self.billing, &running.billing),
            ("smtp", &self.smtp, &running.smtp),
        ];
        sections
            .into_iter()
            .filter(|(_, new, old)| differ(*new, *old))
            .map(|(name, _, _)| name)
            .collect()
    }
}

/// `[http]`: the web portal and REST API (the `portal` crate).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HttpSection {
    /// Serve the portal at all.
    pub(crate) enabled: bool,
    /// The TCP address it listens on (`ADDR:PORT`).
    pub(crate) listen: std::net::SocketAddr,
    /// Mark the session cookie `Secure` (the portal is reached over HTTPS through a
    /// reverse proxy).
    pub(crate) secure_cookies: bool,
    /// Answer `GET /metrics` (Prometheus, unauthenticated) on the portal's listener.
    pub(crate) metrics: bool,
    /// The portal's address as people reach it (`https://portal.example.com`), for links
    /// in e-mails (password reset); `None`: the request's Host header.
    pub(crate) public_url: Option<String>,
    /// Failed portal logins (or password reset requests) of one address within
    /// `login_window` seconds that ban it; 0 turns the guard off.
    pub(crate) login_max_failures: u32,
    /// Seconds failed logins are counted over.
    pub(crate) login_window: u64,
    /// Seconds of a first ban; repeats double it up to `login_max_ban_time`.
    pub(crate) login_ban_time: u64,
    /// Seconds of the longest ban.
    pub(crate) login_max_ban_time: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
}

impl HttpSection {
    /// The portal's login guard; an error names the key.
    pub(crate) fn login_guard(&self) -> Result<portal::login_guard::LoginGuardConfig, String> {
        let seconds = |key: &str, n: u64| {
            if n == 0 {
                Err(format!("http.{key}: a number of seconds above 0"))
            } else {
                Ok(std::time::Duration::from_secs(n))
            }
        };
        let ban_time = seconds("login_ban_time", self.login_ban_time)?;
        let max_ban_time = seconds("login_max_ban_time", self.login_max_ban_time)?;
        if max_ban_time < ban_time {
            return Err("http.login_max_ban_time: shorter than login_ban_time".into());
        }
        Ok(portal::login_guard::LoginGuardConfig {
            max_failures: self.login_max_failures,
            window: seconds("login_window", self.login_window)?,
            ban_time,
            max_ban_time,
            ..portal::login_guard::LoginGuardConfig::default()
        })
    }
}

/// `[metrics]`: where `/metrics` is served besides the portal (`--metrics-listen`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MetricsSection {
    /// A TCP address (`ADDR:PORT`) that serves `/metrics` alone; `None`: none.
    pub(crate) listen: Option<std::net::SocketAddr>,
}

/// Where the portal listens by default: loopback only, so a fresh install shows nothing
/// to the network until the operator says so.
pub(crate) const DEFAULT_HTTP_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            enabled: true,
            listen: std::net::SocketAddr::from(DEFAULT_HTTP_LISTEN),
            secure_cookies: false,
            metrics: true,
            public_url: None,
            login_max_failures: portal::login_guard::DEFAULT_MAX_FAILURES,
            login_window: portal::login_guard::DEFAULT_WINDOW.as_secs(),
            login_ban_time: portal::login_guard::DEFAULT_BAN_TIME.as_secs(),
            login_max_ban_time: portal::login_guard::DEFAULT_MAX_BAN_TIME.as_secs(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[media]`: the media service user agent inside `itsp serve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MediaSection {
    /// Run the media services.
    pub(crate) enabled: bool,
    /// The service UA's SIP socket, `ADDR:PORT` (port 0: any free one).
    pub(crate) listen: String,
    /// RTP ports of the service calls, `"MIN-MAX"`.
    pub(crate) rtp_ports: String,
    /// A directory of WAV prompts replacing or adding to the built-in ones; empty: none.
    pub(crate) prompts: Option<PathBuf>,
    /// User parts that reach the echo test.
    pub(crate) echo: Vec<String>,
    /// User parts that reach the caller's own mailbox.
    pub(crate) voicemail: Vec<String>,
    /// User parts that reach any mailbox by number and PIN.
    pub(crate) voicemail_login: Vec<String>,
    /// `PREFIXuser` leaves a message for `user`; empty: off.
    pub(crate) deposit_prefix: String,
    /// User parts that reach the conference room `default`.
    pub(crate) conference: Vec<String>,
    /// `PREFIXroom` reaches conference room `room`; empty: off.
    pub(crate) conference_prefix: String,
    /// Seconds a subscriber with voicemail is rung before voicemail answers (their own
    /// `no-answer-after` wins).
    pub(crate) voicemail_after: u64,
    /// Announcements for our callers instead of 404 / 480.
    pub(crate) announcements: bool,
    /// The longest message, in seconds.
    pub(crate) max_message: u64,
    /// Seconds of silence that end a message; 0: silence does not.
    pub(crate) silence_timeout: u64,
    /// The echo's delay in milliseconds.
    pub(crate) echo_delay_ms: u64,
    /// Seconds between readings of the message counts of mailboxes with message-waiting
    /// subscriptions (changes made outside the service: the portal, the API).
    pub(crate) mwi_recount: u64,
    /// Tell the phones of a mailbox nobody subscribed to of its messages without a
    /// subscription (an out-of-dialog NOTIFY to the owner's address).
    pub(crate) unsolicited_mwi: bool,
    /// The subscribers' local time, `+HH:MM` or `-HH:MM` from UTC: when a message was
    /// left is announced in it.
    pub(crate) utc_offset: String,
}

impl Default for MediaSection {
    fn default() -> Self {
        let d = server::ServicesConfig::default();
        let (min, max) = media::service::shell::DEFAULT_RTP_PORTS;
        MediaSection {
            enabled: true,
            listen: "127.0.0.1:0".into(),
            rtp_ports: format!("{min}-{max}"),
            prompts: None,
            echo: d.echo,
            voicemail: d.voicemail,
            voicemail_login: d.voicemail_login,
            deposit_prefix: d.deposit_prefix,
            conference: d.conference,
            conference_prefix: d.conference_prefix,
            voicemail_after: d.voicemail_after.as_secs(),
            announcements: d.announcements,
            max_message: 180,
            silence_timeout: 5,
            echo_delay_ms: 200,
            mwi_recount: media::service::mwi::DEFAULT_RECOUNT.as_secs(),
            unsolicited_mwi: true,
            utc_offset: "+00:00".into(),
        }
    }
}

/// The checked `[media]` settings.
#[derive(Debug, Clone)]
pub(crate) struct MediaSettings {
    pub(crate) shell: media::service::shell::ShellConfig,
    pub(crate) prompts: Option<PathBuf>,
    pub(crate) recorder: media::RecorderConfig,
    pub(crate) echo_delay: Duration,
    pub(crate) mwi_recount: Duration,
    pub(crate) unsolicited_mwi: bool,
    /// Seconds east of UTC of the subscribers' local time.
    pub(crate) utc_offset_secs: i32,
    /// The IVR menus (`[[ivr]]`, set by `itsp serve`); their prompts are checked at start.
    pub(crate) ivr: std::sync::Arc<media::service::ivr::Menus>,
}

/// `+HH:MM` / `-HH:MM` (or `Z`) as seconds east of UTC, at most 18 hours.
fn parse_utc_offset(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    (hours <= 18 && minutes < 60 && hours * 60 + minutes <= 18 * 60)
        .then_some(sign * (hours * 3600 + minutes * 60))
}

impl MediaSection {
    /// The routing side (the media UA's address is filled in at start).
    pub(crate) fn services(&self) -> Result<server::ServicesConfig, String> {
        if self.voicemail_after == 0 || self.voicemail_after > 600 {
            return Err("media.voicemail_after must be 1 to 600 seconds".into());
        }
        for (key, names) in [
            ("media.echo", &self.echo),
            ("media.voicemail", &self.voicemail),
            ("media.voicemail_login", &self.voicemail_login),
            ("media.conference", &self.conference),
        ] {
            if let Some(bad) = names
                .iter()
                .find(|n| n.is_empty() || n.contains(['@', ' ', ';', ':']))
            {
                return Err(format!("{key}: {bad:?} is not a user part"));
            }
        }
        for (key, prefix) in [
            ("media.deposit_prefix", &self.deposit_prefix),
            ("media.conference_prefix", &self.conference_prefix),
        ] {
            if prefix.contains(['@', ' ', ';', ':']) {
                return Err(format!("{key}: {prefix:?} is not the start of a user part"));
            }
        }
        Ok(server::ServicesConfig {
            media: None,
            echo: self.echo.clone(),
            voicemail: self.voicemail.clone(),
            voicemail_login: self.voicemail_login.clone(),
            deposit_prefix: self.deposit_prefix.clone(),
            conference: self.conference.clone(),
            conference_prefix: self.conference_prefix.clone(),
            voicemail_after: Duration::from_secs(self.voicemail_after),
            announcements: self.announcements,
            ivr: Vec::new(),
        })
    }

    /// The media UA's side, or what is wrong (named by key).
    pub(crate) fn settings(&self) -> Result<MediaSettings, String> {
        let listen = self.listen.parse().map_err(|_| {
            format!(
                "media.listen: {:?} is not ADDR:PORT, e.g. 127.0.0.1:5090",
                self.listen
            )
        })?;
        let rtp_ports = self
            .rtp_ports
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
            .filter(|(a, b)| a % 2 == 0 && a < b && *a >= 1024)
            .ok_or_else(|| {
                format!(
                    "media.rtp_ports: {:?} is not a port range: write \"MIN-MAX\" with an even MIN of at least 1024 below MAX",
                    self.rtp_ports
                )
            })?;
        if !(1..=3600).contains(&self.max_message) {
            return Err("media.max_message must be 1 to 3600 seconds".into());
        }
        if self.echo_delay_ms > 10_000 {
            return Err("media.echo_delay_ms must be at most 10000".into());
        }
        if !(1..=3600).contains(&self.mwi_recount) {
            return Err("media.mwi_recount must be 1 to 3600 seconds".into());
        }
        let utc_offset_secs = parse_utc_offset(self.utc_offset.trim()).ok_or_else(|| {
            format!(
                "media.utc_offset: {:?} is not an offset from UTC: write \"+01:00\" or \"-05:00\" (at most 18 hours)",
                self.utc_offset
            )
        })?;
        let recorder = media::RecorderConfig {
            max_length: Duration::from_secs(self.max_message),
            silence_timeout: (self.silence_timeout > 0)
                .then(|| Duration::from_secs(self.silence_timeout)),
            ..media::RecorderConfig::default()
        };
        Ok(MediaSettings {
            shell: media::service::shell::ShellConfig {
                listen,
                rtp_ports,
                voicemail_dir: None,
            },
            prompts: self.prompts.clone().filter(|p| !p.as_os_str().is_empty()),
            recorder,
            echo_delay: Duration::from_millis(self.echo_delay_ms),
            mwi_recount: Duration::from_secs(self.mwi_recount),
            unsolicited_mwi: self.unsolicited_mwi,
            utc_offset_secs,
            ivr: std::sync::Arc::new(media::service::ivr::Menus::none()),
        })
    }
}

/// `[stun]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StunSection {
    /// Serve STUN at all.
    pub(crate) enabled: bool,
    /// UDP addresses, `udp:ADDR:PORT`; each also binds PORT + 1 (RFC 5780).
    pub(crate) listen: Vec<StunListen>,
}

impl Default for StunSection {
    fn default() -> Self {
        StunSection {
            enabled: true,
            listen: vec![StunListen(std::net::SocketAddr::from((
                [0, 0, 0, 0],
                server::stun_server::DEFAULT_STUN_PORT,
            )))],
        }
    }
}

/// A STUN listen address, `udp:ADDR:PORT` (or `ADDR:PORT`): STUN is served over UDP only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StunListen(pub(crate) std::net::SocketAddr);

impl std::str::FromStr for StunListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let addr = match s.split_once(':') {
            Some(("udp", rest)) => rest,
            Some(("tcp" | "tls" | "ws" | "wss", _)) => {
                return Err(format!(
                    "{s:?}: STUN is served over UDP only (udp:ADDR:PORT)"
                ))
            }
            _ => s,
        };
        addr.parse().map(StunListen).map_err(|_| {
            format!("{s:?} is not a STUN address: write udp:ADDR:PORT, e.g. udp:0.0.0.0:3478")
        })
    }
}

impl<'de> Deserialize<'de> for StunListen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[relay]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RelaySection {
    /// `"nat"`, `"always"` or `"never"`.
    pub(crate) policy: String,
    /// `"MIN-MAX"`.
    pub(crate) ports: String,
    /// Address written in SDP; empty: the server's toward each party.
    pub(crate) public_ip: String,
    /// Address media sockets bind to; empty: all.
    pub(crate) listen_ip: String,
    /// Seconds without media or signalling before a session is removed.
    pub(crate) idle_timeout: u64,
    /// `"keep"`, `"offer"` or `"off"`: SRTP bridging per leg (`relay::SrtpPolicy`).
    pub(crate) srtp: String,
    /// NG relay nodes, `IP:PORT` or `IP:PORT=WEIGHT`; empty: the relay runs in-process.
    pub(crate) nodes: Vec<String>,
}

impl Default for RelaySection {
    fn default() -> Self {
        let (min, max) = relay::ports::DEFAULT_PORTS;
        RelaySection {
            policy: "nat".into(),
            ports: format!("{min}-{max}"),
            public_ip: String::new(),
            listen_ip: String::new(),
            idle_timeout: 60,
            srtp: "keep".into(),
            nodes: Vec::new(),
        }
    }
}

impl RelaySection {
    /// The checked settings, or what is wrong (named by key).
    pub(crate) fn settings(&self) -> Result<server::RelaySettings, String> {
        use server::media_relay::RelayPolicy;
        let policy = match self.policy.as_str() {
            "nat" => RelayPolicy::Nat,
            "always" => RelayPolicy::Always,
            "never" => RelayPolicy::Never,
            other => {
                return Err(format!(
                "relay.policy: {other:?} is not a policy: write \"nat\", \"always\" or \"never\""
            ))
            }
        };
        let ports = self
            .ports
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
            .filter(|(a, b)| a % 2 == 0 && a < b && *a >= 1024)
            .ok_or_else(|| {
                format!(
                    "relay.ports: {:?} is not a port range: write \"MIN-MAX\" with an even MIN of at least 1024 below MAX",
                    self.ports
                )
            })?;
        let ip = |key: &str, text: &str| -> Result<Option<std::net::IpAddr>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            text.parse()
                .map(Some)
                .map_err(|_| format!("relay.{key}: {text:?} is not an IP address"))
        };
        if self.idle_timeout == 0 {
            return Err("relay.idle_timeout must be at least 1 second".into());
        }
        let srtp: relay::SrtpPolicy = self
            .srtp
            .parse()
            .map_err(|e: relay::srtp::UnknownSrtpPolicy| format!("relay.srtp: {e}"))?;
        let backend = if self.nodes.is_empty() {
            server::RelayBackend::Local {
                ports,
                public_ip: ip("public_ip", &self.public_ip)?,
                listen_ip: ip("listen_ip", &self.listen_ip)?,
                idle_timeout: Duration::from_secs(self.idle_timeout),
            }
        } else {
            let mut nodes = Vec::new();
            for node in &self.nodes {
                let (addr, weight) = node.split_once('=').unwrap_or((node, "1"));
                let address = addr.trim().parse().map_err(|_| {
                    format!("relay.nodes: {node:?} is not IP:PORT or IP:PORT=WEIGHT")
                })?;
                let weight = weight
                    .trim()
                    .parse()
                    .map_err(|_| format!("relay.nodes: the weight of {node:?} is not a number"))?;
                nodes.push(relay::NodeConfig { address, weight });
            }
            server::RelayBackend::Nodes(nodes)
        };
        Ok(server::RelaySettings {
            policy,
            backend,
            srtp,
        })
    }
}

/// `[nat]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct NatSection {
    /// `nat_uac_test` flags (1, 2, 4, 8, 16).
    pub(crate) tests: u32,
    /// Rewrite Contacts from behind NAT to the source address.
    pub(crate) fix_contact: bool,
    /// Answer at the source port without `rport`.
    pub(crate) force_rport: bool,
    /// Which bindings get keepalives.
    pub(crate) ping: PingTargetsText,
    /// What a keepalive is.
    pub(crate) ping_method: PingMethodText,
    /// Seconds between keepalives.
    pub(crate) ping_interval: u64,
    /// Unanswered OPTIONS pings before a binding is unreachable.
    pub(crate) ping_failures: u32,
}

impl Default for NatSection {
    fn default() -> Self {
        let n = server::nat::NatConfig::default();
        NatSection {
            tests: u32::from(n.tests.bits()),
            fix_contact: n.fix_contact,
            force_rport: n.force_rport,
            ping: PingTargetsText(n.ping.targets),
            ping_method: PingMethodText(n.ping.method),
            ping_interval: n.ping.interval.as_secs(),
            ping_failures: n.ping.max_failures,
        }
    }
}

/// `nat.ping`: `"nated"`, `"all"` or `"none"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PingTargetsText(pub(crate) server::nat::PingTargets);

impl<'de> Deserialize<'de> for PingTargetsText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use server::nat::PingTargets;
        let s = String::deserialize(d)?;
        match s.as_str() {
            "nated" => Ok(PingTargetsText(PingTargets::Nated)),
            "all" => Ok(PingTargetsText(PingTargets::All)),
            "none" => Ok(PingTargetsText(PingTargets::None)),
            _ => Err(serde::de::Error::custom(format!(
                "{s:?} is not a keepalive choice: write \"nated\", \"all\" or \"none\""
            ))),
        }
    }
}

/// `nat.ping_method`: `"options"`, `"crlf"` or `"udp"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PingMethodText(pub(crate) server::nat::PingMethod);

impl<'de> Deserialize<'de> for PingMethodText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use server::nat::PingMethod;
        let s = String::deserialize(d)?;
        match s.as_str() {
            "options" => Ok(PingMethodText(PingMethod::Options)),
            "crlf" => Ok(PingMethodText(PingMethod::Crlf)),
            "udp" => Ok(PingMethodText(PingMethod::Udp)),
            _ => Err(serde::de::Error::custom(format!(
                "{s:?} is not a keepalive method: write \"options\", \"crlf\" or \"udp\""
            ))),
        }
    }
}

/// `[pstn]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PstnSection {
    /// Which Request-URI users are numbers.
    pub(crate) number: RegexText,
    /// Gateway URIs in order.
    pub(crate) gateways: Vec<String>,
    /// Destination classes.
    pub(crate) classes: Vec<PstnClassSection>,
}

/// `[[pstn.classes]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PstnClassSection {
    pub(crate) pattern: RegexText,
    pub(crate) group: String,
    pub(crate) refusal: String,
}

/// A regular expression read from the file, checked when read.
#[derive(Debug, Clone)]
pub(crate) struct RegexText(pub(crate) regex::Regex);

impl<'de> Deserialize<'de> for RegexText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex::Regex::new(&s).map(RegexText).map_err(|e| {
            serde::de::Error::custom(format!("{s:?} is not a regular expression: {e}"))
        })
    }
}

impl Default for PstnSection {
    fn default() -> Self {
        let p = server::pstn::PstnConfig::default();
        PstnSection {
            number: RegexText(p.number),
            gateways: p.gateways,
            classes: p
                .classes
                .into_iter()
                .map(|c| PstnClassSection {
                    pattern: RegexText(c.pattern),
                    group: c.group,
                    refusal: c.refusal,
                })
                .collect(),
        }
    }
}

/// `[proxy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ProxySection {
    /// Timer C, seconds.
    pub(crate) timer_c: u64,
    /// The longest answered call, seconds; 0: no limit.
    pub(crate) max_call_duration: u64,
    /// Largest request forwarded, bytes (513 above).
    pub(crate) max_message_size: usize,
    /// Stay in the path of dialogs.
    pub(crate) record_route: bool,
    /// Forward to domains not served here.
    pub(crate) foreign_domains: bool,
    /// Refuse private-address targets from outside (479).
    pub(crate) refuse_private_targets: bool,
    /// DNS servers; empty: the system's.
    pub(crate) nameservers: Vec<NameserverText>,
    /// Redirect (302) instead of proxying, for every domain.
    pub(crate) redirect: bool,
    /// Redirect for these domains only.
    pub(crate) redirect_domains: Vec<String>,
    /// Forward without transaction state.
    pub(crate) stateless: bool,
    /// 480 or 404: what callers from outside hear of absent users.
    pub(crate) unknown_user_answer: u16,
}

/// A DNS server address read from the file: `IP` or `IP:PORT` (`[IPv6]:PORT`), port 53 by
/// default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameserverText(pub(crate) std::net::SocketAddr);

impl<'de> Deserialize<'de> for NameserverText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(addr) = s.parse::<std::net::SocketAddr>() {
            return Ok(NameserverText(addr));
        }
        s.parse::<std::net::IpAddr>()
            .map(|ip| NameserverText(std::net::SocketAddr::new(ip, 53)))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a name server address: write an IP, or IP:PORT"
                ))
            })
    }
}

impl Default for ProxySection {
    fn default() -> Self {
        let p = server::ProxyConfig::default();
        ProxySection {
            timer_c: p.timer_c.as_secs(),
            max_call_duration: p.max_call_duration.map_or(0, |d| d.as_secs()),
            max_message_size: p.max_message_size,
            record_route: p.record_route,
            foreign_domains: p.foreign_domains,
            refuse_private_targets: p.refuse_private_targets,
            nameservers: Vec::new(),
            redirect: p.redirect,
            redirect_domains: p.redirect_domains,
            stateless: p.stateless,
            unknown_user_answer: p.unknown_user_answer.status().0,
        }
    }
}

/// `[sip]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SipSection {
    /// Sockets as `PROTO:ADDR:PORT`; empty: UDP and TCP on 0.0.0.0:5060.
    pub(crate) listen: Vec<ListenText>,
    /// Domains served; empty: the machine's host name.
    pub(crate) domains: Vec<String>,
    /// Threads handling SIP messages; `None`: [`DEFAULT_SIP_THREADS`].
    pub(crate) threads: Option<usize>,
    /// The `Server` / `User-Agent` value; `None`: [`server::DEFAULT_SERVER_HEADER`].
    pub(crate) server_header: Option<String>,
}

/// SIP worker threads by default: one thread is the cheapest per message (a message
/// never wakes a second thread), and the relay and the location writer have threads of
/// their own.
pub(crate) const DEFAULT_SIP_THREADS: usize = 1;

/// The most SIP worker threads accepted.
pub(crate) const MAX_SIP_THREADS: usize = 256;

/// `threads` checked: 1 to [`MAX_SIP_THREADS`].
pub(crate) fn check_threads(n: usize) -> Result<usize, String> {
    if (1..=MAX_SIP_THREADS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} threads: must be 1 to {MAX_SIP_THREADS}"))
    }
}

/// A listen address read from the file, checked like `--listen`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListenText(pub(crate) Listen);

impl<'de> Deserialize<'de> for ListenText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(ListenText).map_err(serde::de::Error::custom)
    }
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StoreSection {
    /// Directory of the SQLite database.
    pub(crate) data_dir: Option<PathBuf>,
    /// Database URL (`postgres://...`); overrides `data_dir`.
    pub(crate) db: Option<String>,
}

/// `[registrar]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RegistrarSection {
    pub(crate) min_expires: u32,
    pub(crate) max_expires: u32,
    pub(crate) default_expires: u32,
    pub(crate) max_contacts: usize,
    /// Seconds between purges of expired bindings.
    pub(crate) purge_interval: u64,
    /// Shortest time between two commits of the location writer, milliseconds.
    pub(crate) commit_window_ms: u64,
    /// Each binding commit waits for the disk (fsync), not only for the kernel.
    pub(crate) sync_to_disk: bool,
    /// Trusted networks may register addresses that are no subscriber's.
    pub(crate) trusted_may_register_anyone: bool,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        let r = RegistrarConfig::default();
        RegistrarSection {
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_contacts: r.max_contacts,
            purge_interval: server::ServerConfig::default().purge_interval.as_secs(),
            commit_window_ms: server::config::DEFAULT_COMMIT_WINDOW_MS,
            sync_to_disk: false,
            trusted_may_register_anyone: r.trusted_may_register_anyone,
        }
    }
}

/// `[auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AuthSection {
    /// Seconds a nonce is accepted.
    pub(crate) nonce_lifetime: u64,
    /// Networks whose requests are not challenged.
    pub(crate) trusted: Vec<NetworkText>,
    /// Digest algorithms offered, in order.
    pub(crate) algorithms: Vec<AlgorithmText>,
}

impl AuthSection {
    /// What of the section needs a restart to change (the trusted networks are taken
    /// again on SIGHUP).
    pub(crate) fn restart_only(&self) -> impl std::fmt::Debug + '_ {
        (self.nonce_lifetime, &self.algorithms)
    }
}

/// A digest algorithm name read from the file: `MD5` or `SHA-256`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AlgorithmText(pub(crate) Algorithm);

impl<'de> Deserialize<'de> for AlgorithmText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match Algorithm::from_name(&s) {
            Some(a @ (Algorithm::Md5 | Algorithm::Sha256)) => Ok(AlgorithmText(a)),
            _ => Err(serde::de::Error::custom(format!(
                "{s:?}: the algorithms offered can be \"MD5\" and \"SHA-256\" (the store keeps an HA1 for each)"
            ))),
        }
    }
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            nonce_lifetime: server::config::DEFAULT_NONCE_LIFETIME,
            trusted: Vec::new(),
            algorithms: server::auth::DEFAULT_ALGORITHMS.map(AlgorithmText).to_vec(),
        }
    }
}

/// A trusted network read from the file, checked like `--trusted`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetworkText(pub(crate) Network);

impl<'de> Deserialize<'de> for NetworkText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(NetworkText).map_err(serde::de::Error::custom)
    }
}

/// `[timers]`, in milliseconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TimersSection {
    pub(crate) t1_ms: u64,
    pub(crate) t2_ms: u64,
    pub(crate) t4_ms: u64,
}

impl Default for TimersSection {
    fn default() -> Self {
        let t = TimerConfig::default();
        TimersSection {
            t1_ms: millis(t.t1),
            t2_ms: millis(t.t2),
            t4_ms: millis(t.t4),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why a config file was refused: the file and what is wrong, with line and key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The largest config file read: far above any real one (the example with every key is
/// under 10 KB), so a wrong path (a log, a disk image) is refused at once instead of
/// being read into memory.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Config {
    /// Reads and checks a config file (at most [`MAX_CONFIG_BYTES`]).
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
            &mut bytes,
        )
        .map_err(read)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(invalid(format!(
                "larger than {MAX_CONFIG_BYTES} bytes: not a config file"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            invalid(format!(
                "not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Config::parse(&text).map_err(invalid)
    }

    /// Parses config text; the error names the line, the key and why. The file is checked
    /// by converting it ([`ServerConfig::try_from`]), so a parsed file always converts.
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        if let Some(n) = config.sip.threads {
            check_threads(n).map_err(|e| format!("sip.threads: {e}"))?;
        }
        if let Some(filter) = &config.log.filter {
            tracing_subscriber::EnvFilter::try_new(filter)
                .map_err(|e| format!("log.filter {filter:?}: {e}"))?;
        }
        config.tls.source(Path::new("."), &[])?;
        config.http.login_guard()?;
        crate::ivr_config::menus(&config.ivr, &config.media)?;
        ServerConfig::try_from(&config)?;
        Ok(config)
    }

    /// How durable a binding's commit is before its 200 (`[registrar] sync_to_disk`).
    pub(crate) fn location_durability(&self) -> store::Durability {
        if self.registrar.sync_to_disk {
            store::Durability::Disk
        } else {
            store::Durability::Process
        }
    }

    /// The registrar limits.
    pub(crate) fn registrar(&self) -> Result<RegistrarConfig, String> {
        let r = &self.registrar;
        if r.min_expires > r.max_expires {
            return Err(format!(
                "registrar.min_expires ({}) is above registrar.max_expires ({})",
                r.min_expires, r.max_expires
            ));
        }
        if r.default_expires < r.min_expires || r.default_expires > r.max_expires {
            return Err(format!(
                "registrar.default_expires ({}) is outside min_expires..max_expires ({}..{})",
                r.default_expires, r.min_expires, r.max_expires
            ));
        }
        if r.commit_window_ms > 1000 {
            return Err(format!(
                "registrar.commit_window_ms ({}) must be at most 1000: REGISTERs under load wait for it",
                r.commit_window_ms
            ));
        }
        if r.purge_interval == 0 {
            return Err("registrar.purge_interval must be at least 1 second".into());
        }
        Ok(RegistrarConfig {
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_contacts: r.max_contacts,
            trusted_may_register_anyone: r.trusted_may_register_anyone,
        })
    }

    /// The proxy settings, with the PSTN routing of `[pstn]`.
    pub(crate) fn proxy(&self) -> Result<server::ProxyConfig, String> {
        let p = &self.proxy;
        if p.timer_c == 0 {
            return Err("proxy.timer_c must be at least 1 second".into());
        }
        if p.max_message_size < 1024 {
            return Err(format!(
                "proxy.max_message_size ({}) must be at least 1024 bytes",
                p.max_message_size
            ));
        }
        let unknown_user_answer = match p.unknown_user_answer {
            480 => server::UnknownUserAnswer::Unavailable,
            404 => server::UnknownUserAnswer::NotFound,
            other => {
                return Err(format!(
                    "proxy.unknown_user_answer ({other}) must be 480 or 404"
                ))
            }
        };
        for gw in &self.pstn.gateways {
            match sip::Uri::parse(gw) {
                Ok(sip::Uri::Sip(u)) if !u.secure => {}
                _ => {
                    return Err(format!(
                        "pstn.gateways: {gw:?} is not a sip: URI (e.g. \"sip:192.0.2.10:5060\")"
                    ))
                }
            }
        }
        Ok(server::ProxyConfig {
            timer_c: Duration::from_secs(p.timer_c),
            max_call_duration: (p.max_call_duration > 0)
                .then(|| Duration::from_secs(p.max_call_duration)),
            max_message_size: p.max_message_size,
            record_route: p.record_route,
            foreign_domains: p.foreign_domains,
            refuse_private_targets: p.refuse_private_targets,
            nameservers: p.nameservers.iter().map(|n| n.0).collect(),
            redirect: p.redirect,
            redirect_domains: p.redirect_domains.clone(),
            stateless: p.stateless,
            unknown_user_answer,
            pstn: server::pstn::PstnConfig {
                number: self.pstn.number.0.clone(),
                gateways: self.pstn.gateways.clone(),
                classes: self
                    .pstn
                    .classes
                    .iter()
                    .map(|c| server::pstn::PstnClass {
                        pattern: c.pattern.0.clone(),
                        group: c.group.clone(),
                        refusal: c.refusal.clone(),
                    })
                    .collect(),
            },
        })
    }

    /// The NAT settings.
    pub(crate) fn nat(&self) -> Result<server::nat::NatConfig, String> {
        let n = &self.nat;
        let tests =
            server::nat::NatTests::from_bits(n.tests).map_err(|e| format!("nat.tests: {e}"))?;
        if n.ping_interval == 0 {
            return Err("nat.ping_interval must be at least 1 second (nat.ping = \"none\" turns keepalives off)".into());
        }
        if n.ping_failures == 0 {
            return Err("nat.ping_failures must be at least 1".into());
        }
        Ok(server::nat::NatConfig {
            tests,
            fix_contact: n.fix_contact,
            force_rport: n.force_rport,
            ping: server::nat::PingConfig {
                targets: n.ping.0,
                method: n.ping_method.0,
                interval: Duration::from_secs(n.ping_interval),
                max_failures: n.ping_failures,
            },
        })
    }

    /// The SIP timers.
    pub(crate) fn timers(&self) -> Result<TimerConfig, String> {
        let t = &self.timers;
        if t.t1_ms == 0 || t.t2_ms < t.t1_ms || t.t4_ms == 0 {
            return Err("timers: t1_ms and t4_ms must be above 0 and t2_ms at least t1_ms".into());
        }
        Ok(TimerConfig {
            t1: Duration::from_millis(t.t1_ms),
            t2: Duration::from_millis(t.t2_ms),
            t4: Duration::from_millis(t.t4_ms),
            ..TimerConfig::default()
        })
    }
}

/// The one conversion of the file into the server's settings: every server setting is
/// checked here, and an error names its key. `itsp serve` overrides the result with its
/// flags (`--domain`, `--trusted`) and sets the node name.
impl TryFrom<&Config> for ServerConfig {
    type Error = String;

    fn try_from(c: &Config) -> Result<ServerConfig, String> {
        if c.auth.algorithms.is_empty() {
            return Err("auth.algorithms must name at least one of \"MD5\", \"SHA-256\"".into());
        }
        if c.auth.nonce_lifetime == 0 {
            return Err("auth.nonce_lifetime must be at least 1 second".into());
        }
        let server_header = match &c.sip.server_header {
            None => server::DEFAULT_SERVER_HEADER.to_owned(),
            Some(text) if text.len() <= 256 && !text.chars().any(char::is_control) => {
                text.trim().to_owned()
            }
            Some(text) => {
                return Err(format!(
                    "sip.server_header: {text:?} must be one line of at most 256 bytes"
                ))
            }
        };
        Ok(ServerConfig {
            domains: c.sip.domains.clone(),
            registrar: c.registrar()?,
            trusted: c.auth.trusted.iter().map(|n| n.0).collect(),
            digest_algorithms: c.auth.algorithms.iter().map(|a| a.0).collect(),
            nonce_lifetime: c.auth.nonce_lifetime,
            commit_window: Duration::from_millis(c.registrar.commit_window_ms),
            location_durability: c.location_durability(),
            purge_interval: Duration::from_secs(c.registrar.purge_interval),
            timers: c.timers()?,
            proxy: c.proxy()?,
            nat: c.nat()?,
            relay: c.relay.settings()?,
            server_header,
            guard: c.guard.settings()?,
            tcp: c.tcp.limits()?,
            overload: c.overload.limits()?,
            capture: c.capture.settings()?,
            services: {
                let mut services = c.media.services()?;
                services.ivr = crate::ivr_config::bindings(&c.ivr, &services)?;
                services
            },
            credit: c.billing.credit()?,
            on_net: c.billing.on_net()?,
            ..ServerConfig::default()
        })
    }
}

/// `[tcp]` (`transport::TcpLimits`): counts, and timeouts in seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TcpSection {
    pub(crate) max_connections: usize,
    pub(crate) max_per_source: usize,
    pub(crate) idle_timeout: u64,
    pub(crate) header_timeout: u64,
    pub(crate) body_timeout: u64,
}

impl Default for TcpSection {
    fn default() -> Self {
        let d = transport::TcpLimits::default();
        TcpSection {
            max_connections: d.max_connections,
            max_per_source: d.max_per_ip,
            idle_timeout: d.idle_timeout.as_secs(),
            header_timeout: d.header_timeout.as_secs(),
            body_timeout: d.body_timeout.as_secs(),
        }
    }
}

impl TcpSection {
    /// The transports' limits, checked.
    pub(crate) fn limits(&self) -> Result<transport::TcpLimits, String> {
        let secs = |name: &str, v: u64| match v {
            0 => Err(format!("tcp.{name} must be at least 1 second")),
            v => Ok(Duration::from_secs(v)),
        };
        if self.max_connections == 0 || self.max_per_source == 0 {
            return Err("tcp.max_connections and tcp.max_per_source must be at least 1".into());
        }
        let mut limits = transport::TcpLimits::default();
        limits.max_connections = self.max_connections;
        limits.max_per_ip = self.max_per_source;
        limits.idle_timeout = secs("idle_timeout", self.idle_timeout)?;
        limits.header_timeout = secs("header_timeout", self.header_timeout)?;
        limits.body_timeout = secs("body_timeout", self.body_timeout)?;
        Ok(limits)
    }
}

/// `[overload]` (`server::OverloadLimits`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OverloadSection {
    pub(crate) max_waiting: usize,
    pub(crate) max_transactions: usize,
    pub(crate) retry_after: u32,
}

impl Default for OverloadSection {
    fn default() -> Self {
        let d = server::OverloadLimits::default();
        OverloadSection {
            max_waiting: d.max_waiting,
            max_transactions: d.max_transactions,
            retry_after: d.retry_after,
        }
    }
}

impl OverloadSection {
    /// The engine's bounds, checked.
    pub(crate) fn limits(&self) -> Result<server::OverloadLimits, String> {
        if self.max_waiting == 0 || self.max_transactions == 0 {
            return Err(
                "overload.max_waiting and overload.max_transactions must be at least 1".into(),
            );
        }
        Ok(server::OverloadLimits {
            max_waiting: self.max_waiting,
            max_transactions: self.max_transactions,
            retry_after: self.retry_after,
        })
    }
}

/// `[guard]` (`server::guard`): seconds, but `pike_window_ms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GuardSection {
    pub(crate) max_auth_failures: u32,
    pub(crate) auth_window: u64,
    pub(crate) ban_time: u64,
    pub(crate) max_ban_time: u64,
    pub(crate) ban_answer: String,
    pub(crate) nonce_failures: u32,
    pub(crate) pike_requests: u32,
    pub(crate) pike_window_ms: u64,
    pub(crate) pike_ban_time: u64,
    pub(crate) max_sources: usize,
}

impl Default for GuardSection {
    fn default() -> Self {
        let d = server::guard::GuardConfig::default();
        GuardSection {
            max_auth_failures: d.max_auth_failures,
            auth_window: d.auth_window.as_secs(),
            ban_time: d.ban_time.as_secs(),
            max_ban_time: d.max_ban_time.as_secs(),
            ban_answer: "drop".into(),
            nonce_failures: d.nonce_failures,
            pike_requests: d.pike_requests,
            pike_window_ms: millis(d.pike_window),
            pike_ban_time: d.pike_ban_time.as_secs(),
            max_sources: d.max_sources,
        }
    }
}

impl GuardSection {
    /// The server's settings, checked.
    pub(crate) fn settings(&self) -> Result<server::guard::GuardConfig, String> {
        let secs = |name: &str, v: u64| match v {
            0 => Err(format!("guard.{name} must be at least 1 second")),
            v => Ok(Duration::from_secs(v)),
        };
        let config = server::guard::GuardConfig {
            max_auth_failures: self.max_auth_failures,
            auth_window: secs("auth_window", self.auth_window)?,
            ban_time: secs("ban_time", self.ban_time)?,
            max_ban_time: secs("max_ban_time", self.max_ban_time)?,
            ban_answer: self
                .ban_answer
                .parse()
                .map_err(|e| format!("guard.ban_answer: {e}"))?,
            nonce_failures: self.nonce_failures,
            pike_requests: self.pike_requests,
            pike_window: match self.pike_window_ms {
                0 => return Err("guard.pike_window_ms must be at least 1".into()),
                ms => Duration::from_millis(ms),
            },
            pike_ban_time: secs("pike_ban_time", self.pike_ban_time)?,
            max_sources: self.max_sources.max(1),
        };
        if config.max_ban_time < config.ban_time {
            return Err("guard.max_ban_time must be at least guard.ban_time".into());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let text = include_str!("../../../itsp.example.toml");
        let c = Config::parse(text).unwrap();
        let d = Config::default();
        assert_eq!(c.registrar(), d.registrar());
        assert_eq!(c.timers(), d.timers());
        assert_eq!(c.nat(), d.nat());
        assert_eq!(c.relay.settings(), d.relay.settings());
        assert_eq!(c.auth.nonce_lifetime, d.auth.nonce_lifetime);
        let names = |c: &Config| {
            c.auth
                .algorithms
                .iter()
                .map(|a| a.0.name())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&c), names(&d));
        assert_eq!(c.registrar.purge_interval, d.registrar.purge_interval);
        assert_eq!(c.media.mwi_recount, d.media.mwi_recount);
        assert_eq!(c.http.enabled, d.http.enabled);
        assert_eq!(c.http.listen, d.http.listen);
        assert_eq!(c.http.secure_cookies, d.http.secure_cookies);
        assert_eq!(c.http.metrics, d.http.metrics);
        assert_eq!(c.http.public_url, d.http.public_url);
        assert_eq!(c.http.login_guard(), d.http.login_guard());
        assert_eq!(
            d.http.login_guard(),
            Ok(portal::login_guard::LoginGuardConfig::default())
        );
        assert_eq!(c.http.trusted_proxies, d.http.trusted_proxies);
        let e = Config::parse("[http]\nlogin_window = 0\n").unwrap_err();
        assert!(e.contains("http.login_window"), "{e}");
        assert_eq!(c.metrics.listen, d.metrics.listen);
        let m = Config::parse("[http]\nmetrics = false\n[metrics]\nlisten = \"127.0.0.1:9494\"\n")
            .unwrap();
        assert_eq!(
            (m.http.metrics, m.metrics.listen),
            (false, Some(([127, 0, 0, 1], 9494).into()))
        );
        assert_eq!(c.registrar.commit_window_ms, d.registrar.commit_window_ms);
        assert_eq!(c.location_durability(), d.location_durability());
        assert_eq!(format!("{:?}", c.proxy()), format!("{:?}", d.proxy()));
        assert_eq!(c.stun.enabled, d.stun.enabled);
        assert_eq!(c.billing.credit(), d.billing.credit());
        assert_eq!(c.billing.on_net(), d.billing.on_net());
        assert_eq!(format!("{:?}", c.smtp), format!("{:?}", d.smtp));
        assert_eq!(format!("{:?}", c.tls), format!("{:?}", d.tls));
        assert_eq!(c.stun.listen, d.stun.listen);
        assert_eq!(
            c.guard.settings(),
            Ok(server::guard::GuardConfig::default())
        );
        let e = Config::parse("[guard]\nban_answer = \"reject\"\n").unwrap_err();
        assert!(e.contains("guard.ban_answer"), "{e}");
        assert_eq!(c.tcp.limits(), Ok(transport::TcpLimits::default()));
        assert_eq!(c.overload.limits(), Ok(server::OverloadLimits::default()));
        let e = Config::parse("[tcp]\nidle_timeout = 0\n").unwrap_err();
        assert!(e.contains("tcp.idle_timeout"), "{e}");
        let e = Config::parse("[overload]\nmax_waiting = 0\n").unwrap_err();
        assert!(e.contains("overload.max_waiting"), "{e}");
        let s = ServerConfig::try_from(
            &Config::parse("[tcp]\nmax_per_source = 7\n[overload]\nretry_after = 9\n").unwrap(),
        )
        .unwrap();
        assert_eq!(s.tcp.max_per_ip, 7);
        assert_eq!(s.overload.retry_after, 9);
        let (cs, ds) = (
            ServerConfig::try_from(&c).unwrap(),
            ServerConfig::try_from(&d).unwrap(),
        );
        assert_eq!(cs.server_header, ds.server_header);
        assert_eq!(cs.capture, ds.capture);
        assert_eq!(c.control.socket, d.control.socket);
        assert_eq!(ds.server_header, "itsp");
        assert_eq!(ds.digest_algorithms, [Algorithm::Md5]);
        assert_eq!(cs.services, ds.services);
        assert!(c.media.enabled);
        assert_eq!(
            format!("{:?}", c.media.settings()),
            format!("{:?}", d.media.settings())
        );
        for (text, key) in [
            ("[media]\nlisten = \"here\"\n", "media.listen"),
            ("[media]\nrtp_ports = \"5-4\"\n", "media.rtp_ports"),
            ("[media]\nmax_message = 0\n", "media.max_message"),
            ("[media]\nutc_offset = \"CET\"\n", "media.utc_offset"),
            ("[media]\nutc_offset = \"+19:00\"\n", "media.utc_offset"),
            ("[media]\nutc_offset = \"+1:00\"\n", "media.utc_offset"),
        ] {
            let e = Config::parse(text).unwrap().media.settings().unwrap_err();
            assert!(e.contains(key), "{e}");
        }
        let e = Config::parse("[media]\necho = [\"a b\"]\n").unwrap_err();
        assert!(e.contains("media.echo"), "{e}");
        for (text, secs) in [
            ("+01:00", 3600),
            ("-05:30", -19_800),
            ("Z", 0),
            ("+18:00", 64_800),
        ] {
            assert_eq!(parse_utc_offset(text), Some(secs), "{text}");
        }
    }

    #[test]
    fn the_file_converts_to_the_server_settings() {
        let c = Config::parse(
            "[sip]\ndomains = [\"example.com\"]\n[auth]\ntrusted = [\"192.0.2.0/24\"]\n[proxy]\ntimer_c = 30\n",
        )
        .unwrap();
        let s = ServerConfig::try_from(&c).unwrap();
        assert_eq!(s.domains, ["example.com"]);
        assert_eq!(s.trusted.len(), 1);
        assert_eq!(s.proxy.timer_c, Duration::from_secs(30));
        let mut bad = Config::default();
        bad.nat.ping_failures = 0;
        let e = ServerConfig::try_from(&bad).unwrap_err();
        assert!(e.contains("nat.ping_failures"), "{e}");
    }

    #[test]
    fn a_file_too_large_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.toml");
        let line = "# a comment line of a file far too large to be a config file\n";
        let text = line.repeat(usize::try_from(MAX_CONFIG_BYTES).unwrap() / line.len() + 1);
        std::fs::write(&path, text).unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("huge.toml") && e.contains("larger than 1048576 bytes"),
            "{e}"
        );
        std::fs::write(&path, "[sip]\nthreads = 2\n").unwrap();
        assert_eq!(Config::load(&path).unwrap().sip.threads, Some(2));
    }

    #[test]
    fn sync_to_disk_selects_fsynced_binding_commits() {
        let d = Config::default();
        assert_eq!(d.location_durability(), store::Durability::Process);
        let c = Config::parse("[registrar]\nsync_to_disk = true\n").unwrap();
        assert_eq!(c.location_durability(), store::Durability::Disk);
        let e = Config::parse("[registrar]\nsync_to_disk = \"yes\"\n").unwrap_err();
        assert!(e.contains("sync_to_disk"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[registrar]\nmin_expire = 5\n").unwrap_err();
        assert!(e.contains("min_expire") && e.contains("line 2"), "{e}");
        let e = Config::parse("[sip]\nthreads = 0\n").unwrap_err();
        assert!(e.contains("sip.threads") && e.contains("1 to 256"), "{e}");
        assert_eq!(
            Config::parse("[sip]\nthreads = 4\n").unwrap().sip.threads,
            Some(4)
        );
        let e = Config::parse("[sip]\nlisten = [\"sctp:1.2.3.4:5\"]\n").unwrap_err();
        assert!(e.contains("unknown protocol"), "{e}");
        let e = Config::parse("[registrar]\nmin_expires = 9000\n").unwrap_err();
        assert!(e.contains("registrar.min_expires"), "{e}");
        let e = Config::parse("[auth]\ntrusted = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert!(e.contains("prefix length"), "{e}");
        let e = Config::parse("[auth]\nalgorithms = [\"SHA-512-256\"]\n").unwrap_err();
        assert!(e.contains("SHA-512-256") && e.contains("MD5"), "{e}");
        let e = Config::parse("[proxy]\nnameservers = [\"dns.example\"]\n").unwrap_err();
        assert!(e.contains("name server"), "{e}");
        let c = Config::parse("[proxy]\nnameservers = [\"192.0.2.53\", \"[::1]:5353\"]\n").unwrap();
        assert_eq!(
            c.proxy().unwrap().nameservers,
            [
                "192.0.2.53:53".parse().unwrap(),
                "[::1]:5353".parse().unwrap()
            ]
        );
        let e = Config::parse("[pstn]\nnumber = \"[0-9\"\n").unwrap_err();
        assert!(
            e.contains("regular expression") && e.contains("number"),
            "{e}"
        );
        let e = Config::parse("[pstn]\ngateways = [\"192.0.2.1\"]\n").unwrap_err();
        assert!(e.contains("pstn.gateways"), "{e}");
        let e = Config::parse("[registrar]\nmax_contacts = -1\n").unwrap_err();
        assert!(e.contains("max_contacts"), "{e}");
        let e = Config::parse("[proxy]\nunknown_user_answer = 403\n").unwrap_err();
        assert!(
            e.contains("proxy.unknown_user_answer") && e.contains("480 or 404"),
            "{e}"
        );
        let c = Config::parse("[proxy]\nunknown_user_answer = 404\n").unwrap();
        assert_eq!(
            c.proxy().unwrap().unknown_user_answer,
            server::UnknownUserAnswer::NotFound
        );
        let e = Config::parse("[sip]\nserver_header = \"itsp\\r\\nX: y\"\n").unwrap_err();
        assert!(e.contains("sip.server_header"), "{e}");
        let c = Config::parse("[sip]\nserver_header = \"\"\n").unwrap();
        assert_eq!(ServerConfig::try_from(&c).unwrap().server_header, "");
        let c = Config::parse("[registrar]\ntrusted_may_register_anyone = true\n").unwrap();
        assert!(c.registrar().unwrap().trusted_may_register_anyone);
    }

    #[test]
    fn nat_settings_are_read_and_checked() {
        let c = Config::parse(
            "[nat]\ntests = 31\nping = \"all\"\nping_method = \"crlf\"\nping_interval = 5\n",
        )
        .unwrap();
        let n = c.nat().unwrap();
        assert_eq!(n.tests.bits(), 31);
        assert_eq!(n.ping.targets, server::nat::PingTargets::All);
        assert_eq!(n.ping.method, server::nat::PingMethod::Crlf);
        assert_eq!(n.ping.interval, Duration::from_secs(5));
        let e = Config::parse("[nat]\ntests = 40\n").unwrap_err();
        assert!(
            e.contains("nat.tests") && e.contains("1, 2, 4, 8 and 16"),
            "{e}"
        );
        let e = Config::parse("[nat]\nping = \"sometimes\"\n").unwrap_err();
        assert!(e.contains("nated"), "{e}");
        let e = Config::parse("[nat]\nping_interval = 0\n").unwrap_err();
        assert!(e.contains("ping_interval"), "{e}");
    }

    #[test]
    fn relay_settings_are_read_and_checked() {
        let c = Config::parse(
            "[relay]\npolicy = \"always\"\nnodes = [\"127.0.0.1:2223\", \"127.0.0.2:2223=3\"]\n",
        )
        .unwrap();
        let s = c.relay.settings().unwrap();
        assert_eq!(s.policy, server::media_relay::RelayPolicy::Always);
        assert_eq!(s.srtp, relay::SrtpPolicy::Keep, "the default");
        let c = Config::parse("[relay]\nsrtp = \"offer\"\n").unwrap();
        assert_eq!(c.relay.settings().unwrap().srtp, relay::SrtpPolicy::Offer);
        let server::RelayBackend::Nodes(nodes) = s.backend else {
            panic!("nodes expected")
        };
        assert_eq!(nodes[1].weight, 3);
        for (text, key) in [
            ("policy = \"sometimes\"", "relay.policy"),
            ("ports = \"30001-40000\"", "relay.ports"),
            ("ports = \"40000-30000\"", "relay.ports"),
            ("public_ip = \"relay.example\"", "relay.public_ip"),
            ("nodes = [\"nowhere\"]", "relay.nodes"),
            ("idle_timeout = 0", "relay.idle_timeout"),
            ("srtp = \"on\"", "relay.srtp"),
        ] {
            let e = Config::parse(&format!("[relay]\n{text}\n")).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn stun_addresses_are_udp() {
        let c =
            Config::parse("[stun]\nlisten = [\"udp:127.0.0.1:3478\", \"[::1]:3479\"]\n").unwrap();
        assert_eq!(
            c.stun.listen,
            [
                StunListen("127.0.0.1:3478".parse().unwrap()),
                StunListen("[::1]:3479".parse().unwrap())
            ]
        );
        let e = Config::parse("[stun]\nlisten = [\"tcp:0.0.0.0:3478\"]\n").unwrap_err();
        assert!(e.contains("UDP only"), "{e}");
        let e = Config::parse("[stun]\nlisten = [\"stun.example\"]\n").unwrap_err();
        assert!(e.contains("not a STUN address"), "{e}");
        let c = Config::parse("[stun]\nenabled = false\n").unwrap();
        assert!(!c.stun.enabled);
    }
}
