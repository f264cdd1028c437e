//! `itsp phone`: the user agent core, the SIP socket, the media of each call and the
//! terminal, in one tokio loop.
//!
//! The loop waits on the SIP socket, the core's next timer, the phone's own deadlines
//! (answer after N seconds, hang up after --duration, keepalives), the media tasks' news
//! (DTMF heard, RTP stopped) and the terminal (commands typed during a call), and after
//! each wake-up sends what the core queued and acts on its events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::link::{host_port, SipLink, TlsClient};
use crate::media::{CallMedia, MediaError, MediaEvent, MediaSetup};
use crate::options::{DtmfMode, PhoneCommand, Settings, TransportChoice};
use crate::report::Reporter;
use crate::ua::{Account, CallId, EndCause, Event, Transport, UaConfig, UserAgent};

/// How often a registered phone refreshes its NAT binding with a CRLF keepalive.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(25);
/// How long a phone waits for the last answers (BYE, un-REGISTER) before it exits.
const LINGER: Duration = Duration::from_secs(3);

/// Why the phone stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// The server could not be found.
    #[error("cannot find the server {server}: {why}")]
    Server {
        /// As given.
        server: String,
        /// Why.
        why: String,
    },
    /// A socket could not be opened or used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// STUN failed.
    #[error("STUN: {0}")]
    Stun(String),
    /// The command failed (registration refused, call not answered, message refused).
    #[error("{0}")]
    Failed(String),
}

/// What a phone run ended with: success, or the failure to report (exit status 1).
pub type Outcome = Result<(), PhoneError>;

/// Things the phone waits for besides the SIP socket.
#[derive(Debug, Clone, PartialEq)]
enum Deadline {
    /// Answer this incoming call.
    Answer(CallId),
    /// Hang up this call (--duration).
    Hangup(CallId),
    /// Send the --dtmf digits in this call.
    Dtmf(CallId),
    /// Exit (after lingering).
    Exit,
}

/// One call's media and bookkeeping.
struct CallState {
    media: Option<CallMedia>,
    /// The call that asked us to transfer (REFER), whose NOTIFYs report this call.
    transfer_of: Option<CallId>,
    answered: bool,
    on_hold: bool,
}

/// The running phone.
struct Phone {
    settings: Settings,
    command: PhoneCommand,
    ua: UserAgent,
    link: SipLink,
    report: Reporter,
    media_setup: MediaSetup,
    calls: HashMap<CallId, CallState>,
    deadlines: Vec<(Instant, Deadline)>,
    media_events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    /// Calls finished (for --calls and the exit status).
    finished: u32,
    /// The failure to exit with, if the command failed.
    failure: Option<String>,
    /// The outgoing call of `call`.
    main_call: Option<CallId>,
    /// Whether that call has ended.
    main_call_done: bool,
    exiting: bool,
}

/// Runs `itsp phone` until the command is done (or Ctrl-C).
pub async fn run(command: PhoneCommand, settings: Settings) -> Outcome {
    let report = Reporter::new(settings.json);
    let server = resolve(&settings, &settings.server).await?;
    let next_hop = match &settings.outbound_proxy {
        Some(proxy) => resolve(&settings, proxy).await?,
        None => server,
    };
    let transport = match settings.transport {
        TransportChoice::Udp => Transport::Udp,
        TransportChoice::Tcp => Transport::Tcp,
        TransportChoice::Tls => Transport::Tls,
    };
    let tls = match transport {
        Transport::Tls => Some(tls_client(&settings)?),
        _ => None,
    };
    let (link, local) = SipLink::open(transport, tls.as_ref(), next_hop, settings.sip_port)
        .await
        .map_err(|source| PhoneError::Io {
            what: format!("cannot open the SIP socket towards {next_hop}"),
            source,
        })?;
    let mut link = link;
    let mut contact = local;
    let stun_server = match &settings.stun {
        Some(stun) => Some(resolve_plain(stun, 3478).await?),
        None => None,
    };
    if let (Some(stun), Some(server)) = (&settings.stun, stun_server) {
        contact = crate::stun::discover_on_link(&mut link, server)
            .await
            .map_err(|e| PhoneError::Stun(e.to_string()))?;
        report.event(
            "stun",
            &format!("public address {contact} (STUN {stun})"),
            json!({"public": contact.to_string(), "local": local.to_string()}),
        );
    }
    let media_setup = MediaSetup::new(&settings, local.ip(), stun_server)
        .await
        .map_err(|e| PhoneError::Failed(e.to_string()))?;
    let config = UaConfig {
        account: Account {
            user: settings.user.clone(),
            domain: settings.domain.clone(),
            password: settings.password.clone(),
            auth_user: settings.auth_user.clone(),
            display_name: settings.display_name.clone(),
        },
        server: next_hop,
        transport,
        contact_host: host_port(contact),
        user_agent: format!("itsp-phone/{}", env!("CARGO_PKG_VERSION")),
        register_expires: settings.expires,
        timers: sip::transaction::TimerConfig::default(),
    };
    let ua = UserAgent::new(config, fastrand::u64(..));
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let mut phone = Phone {
        settings,
        command,
        ua,
        link,
        report,
        media_setup,
        calls: HashMap::new(),
        deadlines: Vec::new(),
        media_events: media_tx,
        finished: 0,
        failure: None,
        main_call: None,
        main_call_done: false,
        exiting: false,
    };
    phone.start().await;
    phone.run_loop(media_rx).await;
    match phone.failure {
        Some(f) => Err(PhoneError::Failed(f)),
        None => Ok(()),
    }
}

/// The TLS client for `--transport tls`: the server's certificate must be for the SIP
/// domain, issued by a CA of the system's or `--tls-ca`; any with `--tls-insecure`.
fn tls_client(settings: &Settings) -> Result<TlsClient, PhoneError> {
    let trust = if settings.tls_insecure {
        transport::tls::Trust::Any
    } else {
        transport::tls::Trust::Verify {
            extra_ca: settings.tls_ca.iter().cloned().collect(),
        }
    };
    let config = transport::tls::client_config(&trust)
        .map_err(|e| PhoneError::Failed(format!("--tls-ca: {e}")))?;
    Ok(TlsClient {
        config: std::sync::Arc::new(config),
        server_name: settings.domain.clone(),
    })
}

/// Resolves the server (or outbound proxy) to one address: an IP literal as is, else
/// RFC 3263 (NAPTR, SRV, A/AAAA) through the system's resolver.
async fn resolve(settings: &Settings, server: &str) -> Result<SocketAddr, PhoneError> {
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = server.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        let port = match settings.transport {
            TransportChoice::Tls => 5061,
            TransportChoice::Udp | TransportChoice::Tcp => 5060,
        };
        return Ok((ip, port).into());
    }
    let transport = match settings.transport {
        TransportChoice::Udp => "",
        TransportChoice::Tcp => ";transport=tcp",
        TransportChoice::Tls => ";transport=tls",
    };
    let uri_text = format!("sip:{server}{transport}");
    let fail = |why: String| PhoneError::Server {
        server: server.to_owned(),
        why,
    };
    let uri = sip::Uri::parse(&uri_text).map_err(|e| fail(e.to_string()))?;
    let sip_uri = uri.as_sip().ok_or_else(|| fail("not a host name".into()))?;
    let locator = locate::Locator::from_system().map_err(|e| fail(e.to_string()))?;
    let targets = locator
        .locate(sip_uri)
        .await
        .map_err(|e| fail(e.to_string()))?;
    targets
        .first()
        .map(|t| t.addr)
        .ok_or_else(|| fail("no address".into()))
}

/// `host[:port]` to an address with a default port, through the system resolver.
async fn resolve_plain(text: &str, default_port: u16) -> Result<SocketAddr, PhoneError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let with_port = if text.contains(':') {
        text.to_owned()
    } else {
        format!("{text}:{default_port}")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| PhoneError::Server {
            server: text.to_owned(),
            why: "no address".into(),
        })
}

impl Phone {
    /// The first action of the command.
    async fn start(&mut self) {
        let now = std::time::Instant::now();
        let register = match &self.command {
            PhoneCommand::Register | PhoneCommand::Answer => true,
            PhoneCommand::Call { .. } => !self.settings.no_register,
            PhoneCommand::Message { .. } => false,
        };
        if register {
            self.ua.register(now);
        } else {
            self.begin_command().await;
        }
        self.flush().await;
    }

    /// The command's own work, once registered (or at once without registering).
    async fn begin_command(&mut self) {
        let now = std::time::Instant::now();
        match self.command.clone() {
            PhoneCommand::Call { target } => {
                let uri = self.settings.target_uri(&target);
                self.place_call(&uri, None).await;
            }
            PhoneCommand::Message { target, text } => {
                let uri = self.settings.target_uri(&target);
                match self.ua.message(now, &uri, &text) {
                    Ok(_) => self.report.event(
                        "message-sending",
                        &format!("sending message to {uri}…"),
                        json!({"to": uri}),
                    ),
                    Err(e) => self.fail(e.to_string()),
                }
            }
            PhoneCommand::Register | PhoneCommand::Answer => {}
        }
    }

    async fn place_call(&mut self, uri: &str, transfer_of: Option<CallId>) {
        let mut media = match self.media_setup.bind().await {
            Ok(m) => m,
            Err(e) => {
                self.fail(format!("cannot open the RTP socket: {e}"));
                return;
            }
        };
        let offer = media.offer(false);
        match self.ua.call(std::time::Instant::now(), uri, Some(offer)) {
            Ok(call) => {
                if transfer_of.is_none() && self.main_call.is_none() {
                    self.main_call = Some(call);
                }
                self.report.event(
                    "calling",
                    &format!("calling {uri}…"),
                    json!({"call": call.0, "to": uri}),
                );
                self.calls.insert(
                    call,
                    CallState {
                        media: Some(media),
                        transfer_of,
                        answered: false,
                        on_hold: false,
                    },
                );
            }
            Err(e) => self.fail(format!("cannot call {uri}: {e}")),
        }
    }

    fn fail(&mut self, why: String) {
        self.report
            .event("error", &format!("error: {why}"), json!({"error": why}));
        if self.failure.is_none() {
            self.failure = Some(why);
        }
        // Leave as on Ctrl-C: calls hung up, the registration removed.
        self.shutdown();
    }

    fn exit_soon(&mut self, after: Duration) {
        if !self.deadlines.iter().any(|(_, d)| *d == Deadline::Exit) {
            self.deadlines
                .push((Instant::now() + after, Deadline::Exit));
        }
    }

    /// Sends everything the core queued.
    async fn flush(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            if let Err(e) = self.link.send(t.dest, &t.payload).await {
                tracing::warn!(dest = %t.dest, error = %e, "SIP send failed");
            }
        }
    }

    async fn run_loop(&mut self, mut media_rx: mpsc::UnboundedReceiver<(CallId, MediaEvent)>) {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdin_open = true;
        let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
        keepalive.tick().await;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut interrupted = false;
        loop {
            let ua_deadline = self.ua.poll_timeout().map(Instant::from_std);
            let own_deadline = self.deadlines.iter().map(|(t, _)| *t).min();
            let wake = [ua_deadline, own_deadline].into_iter().flatten().min();
            let sleep = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.link.recv() => match received {
                    Ok((from, bytes)) => {
                        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                            continue;
                        }
                        if crate::stun::is_stun(&bytes) {
                            continue;
                        }
                        self.ua.handle(std::time::Instant::now(), from, bytes);
                    }
                    Err(e) => {
                        self.fail(format!("SIP connection lost: {e}"));
                        self.process_events().await;
                        return;
                    }
                },
                () = sleep => {
                    let now = Instant::now();
                    self.ua.handle_timeout(now.into_std());
                    let due: Vec<Deadline> = {
                        let (due, rest): (Vec<_>, Vec<_>) =
                            self.deadlines.drain(..).partition(|(t, _)| *t <= now);
                        self.deadlines = rest;
                        due.into_iter().map(|(_, d)| d).collect()
                    };
                    for d in due {
                        if d == Deadline::Exit {
                            self.flush().await;
                            return;
                        }
                        self.on_deadline(d).await;
                    }
                }
                Some((call, event)) = media_rx.recv() => self.on_media_event(call, event).await,
                line = stdin.next_line(), if stdin_open => match line {
                    Ok(Some(line)) => self.on_command_line(&line).await,
                    _ => stdin_open = false,
                },
                _ = keepalive.tick() => {
                    if self.ua.is_registered() {
                        let server = self.ua.config().server;
                        if let Err(e) = self.link.keepalive(server).await {
                            tracing::debug!(error = %e, "keepalive not sent");
                        }
                    }
                }
                _ = &mut ctrl_c, if !interrupted => {
                    interrupted = true;
                    self.report.event("interrupted", "interrupted: hanging up", json!({}));
                    self.shutdown();
                }
            }
            self.process_events().await;
            self.flush().await;
        }
    }

    /// Ends everything: hangs up live calls, unregisters, exits after the answers (or
    /// [`LINGER`]).
    fn shutdown(&mut self) {
        if self.exiting {
            return;
        }
        self.exiting = true;
        let now = std::time::Instant::now();
        let live: Vec<CallId> = self.ua.live_calls().collect();
        for call in live {
            let _ = self.ua.hangup(now, call);
        }
        if self.ua.is_registered() {
            self.ua.unregister(now);
        }
        self.exit_soon(LINGER);
        self.maybe_exit_now();
    }

    /// Exits at once when nothing is left to wait for.
    fn maybe_exit_now(&mut self) {
        if self.exiting && self.ua.live_calls().next().is_none() && !self.ua.is_registered() {
            self.deadlines.retain(|(_, d)| *d != Deadline::Exit);
            self.deadlines
                .push((Instant::now() + Duration::from_millis(50), Deadline::Exit));
        }
    }

    async fn on_deadline(&mut self, deadline: Deadline) {
        let now = std::time::Instant::now();
        match deadline {
            Deadline::Answer(call) => self.answer(call).await,
            Deadline::Hangup(call) => {
                if self.ua.hangup(now, call).is_ok() {
                    self.report
                        .event("hanging-up", "hanging up", json!({"call": call.0}));
                }
            }
            Deadline::Dtmf(call) => {
                if let Some(digits) = self.settings.dtmf.clone() {
                    self.send_dtmf(call, &digits);
                }
            }
            Deadline::Exit => {}
        }
    }

    async fn answer(&mut self, call: CallId) {
        let now = std::time::Instant::now();
        let Some(state) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(media) = state.media.as_mut() else {
            return;
        };
        let Some(sdp) = media.local_answer() else {
            let _ = self.ua.reject(now, call, 488);
            return;
        };
        if let Err(e) = self.ua.answer(now, call, Some(sdp)) {
            tracing::debug!(%call, error = %e, "answer failed");
            return;
        }
        state.answered = true;
        // A late offer: the media starts with the ACK's answer.
        if !media.awaits_answer() {
            if let Err(e) = media.start(call, self.media_events.clone()) {
                tracing::warn!(%call, error = %e, "media did not start");
            }
        }
        let codec = media.codec_name().unwrap_or_default();
        self.report.event(
            "answered",
            &format!("answered ({codec})"),
            json!({"call": call.0, "direction": "incoming", "codec": codec}),
        );
        self.after_answer(call);
    }

    /// Deadlines that start when a call is up.
    fn after_answer(&mut self, call: CallId) {
        let now = Instant::now();
        if self.settings.dtmf.is_some() {
            self.deadlines
                .push((now + Duration::from_millis(500), Deadline::Dtmf(call)));
        }
        if let Some(secs) = self.settings.duration {
            self.deadlines
                .push((now + Duration::from_secs_f64(secs), Deadline::Hangup(call)));
        }
    }

    fn send_dtmf(&mut self, call: CallId, digits: &str) {
        let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        match self.settings.dtmf_mode {
            DtmfMode::Rfc4733 => {
                let sent = self
                    .calls
                    .get_mut(&call)
                    .and_then(|s| s.media.as_mut())
                    .map(|m| m.send_dtmf(&digits));
                match sent {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        self.report.event(
                            "error",
                            &format!("DTMF not sent: {e}"),
                            json!({"call": call.0, "error": e.to_string()}),
                        );
                        return;
                    }
                    None => return,
                }
            }
            DtmfMode::Info => {
                let now = std::time::Instant::now();
                for digit in digits.chars() {
                    let body = format!("Signal={digit}\r\nDuration=160\r\n");
                    if let Err(e) =
                        self.ua
                            .info(now, call, "application/dtmf-relay", Bytes::from(body))
                    {
                        tracing::debug!(error = %e, "INFO not sent");
                    }
                }
            }
        }
        self.report.event(
            "dtmf-sent",
            &format!("DTMF sent: {digits}"),
            json!({"call": call.0, "digits": digits, "mode": match self.settings.dtmf_mode {
                DtmfMode::Rfc4733 => "rfc4733", DtmfMode::Info => "info" }}),
        );
    }

    async fn on_media_event(&mut self, call: CallId, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf(digit) => self.report.event(
                "dtmf-received",
                &format!("DTMF received: {digit}"),
                json!({"call": call.0, "digit": digit.to_string(), "mode": "rfc4733"}),
            ),
        }
    }

    /// A line typed during the run: hold, resume, dtmf, transfer, hangup, message, quit.
    async fn on_command_line(&mut self, line: &str) {
        let now = std::time::Instant::now();
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return;
        };
        let rest: Vec<&str> = words.collect();
        let call = self
            .ua
            .live_calls()
            .filter(|c| self.calls.get(c).is_some_and(|s| s.answered))
            .min();
        let result: Result<(), String> = match (verb, call) {
            ("help" | "?", _) => {
                self.report.event(
                    "help",
                    "commands: hold | resume | dtmf DIGITS | transfer TARGET | message TARGET TEXT | hangup | quit",
                    json!({}),
                );
                Ok(())
            }
            ("hold" | "h", Some(c)) => self.hold(c, true),
            ("resume" | "unhold" | "r", Some(c)) => self.hold(c, false),
            ("dtmf" | "d", Some(c)) => {
                let digits = rest.concat();
                if digits.is_empty()
                    || digits
                        .chars()
                        .any(|d| rtp::event::digit_to_event(d).is_err())
                {
                    Err("dtmf needs digits: 0-9 * # A-D".into())
                } else {
                    self.send_dtmf(c, &digits);
                    Ok(())
                }
            }
            ("transfer" | "t", Some(c)) => match rest.first() {
                Some(target) => {
                    let uri = self.settings.target_uri(target);
                    self.ua.transfer(now, c, &uri).map_err(|e| e.to_string())
                }
                None => Err("transfer needs a target".into()),
            },
            ("message" | "m", _) => match rest.split_first() {
                Some((target, text)) if !text.is_empty() => {
                    let uri = self.settings.target_uri(target);
                    self.ua
                        .message(now, &uri, &text.join(" "))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                _ => Err("message needs a target and text".into()),
            },
            ("hangup" | "bye" | "q", Some(c)) => self.ua.hangup(now, c).map_err(|e| e.to_string()),
            ("quit" | "exit", _) => {
                self.shutdown();
                Ok(())
            }
            (_, None)
                if [
                    "hold", "h", "resume", "r", "dtmf", "d", "transfer", "t", "hangup", "bye", "q",
                ]
                .contains(&verb) =>
            {
                Err("no call in progress".into())
            }
            _ => Err(format!("unknown command {verb:?} (try help)")),
        };
        if let Err(e) = result {
            self.report
                .event("error", &format!("error: {e}"), json!({"error": e}));
        }
    }

    fn hold(&mut self, call: CallId, hold: bool) -> Result<(), String> {
        let now = std::time::Instant::now();
        let state = self.calls.get_mut(&call).ok_or("no such call")?;
        let media = state.media.as_mut().ok_or("no media")?;
        let offer = media.offer(hold);
        state.on_hold = hold;
        self.ua
            .reoffer(now, call, offer)
            .map_err(|e| e.to_string())?;
        self.report.event(
            if hold { "holding" } else { "resuming" },
            if hold {
                "putting the call on hold…"
            } else {
                "resuming the call…"
            },
            json!({"call": call.0}),
        );
        Ok(())
    }

    /// Acts on what the core reported.
    async fn process_events(&mut self) {
        while let Some(event) = self.ua.poll_event() {
            self.on_event(event).await;
        }
        self.maybe_exit_now();
    }

    async fn on_event(&mut self, event: Event) {
        let now = std::time::Instant::now();
        match event {
            Event::Registering => {
                if !self.ua.is_registered() {
                    self.report.event("registering", "registering…", json!({}));
                }
            }
            Event::Registered { expires } => {
                let first = !self.calls.values().any(|_| true) && self.main_call.is_none();
                self.report.event(
                    "registered",
                    &format!(
                        "registered as {} for {expires} s",
                        self.ua.config().account.aor()
                    ),
                    json!({"aor": self.ua.config().account.aor(), "expires": expires}),
                );
                if first && !self.exiting {
                    if matches!(self.command, PhoneCommand::Answer) {
                        self.report
                            .event("waiting", "waiting for calls…", json!({}));
                    }
                    self.begin_command().await;
                }
            }
            Event::RegistrationFailed { code, reason } => {
                self.report.event(
                    "registration-failed",
                    &format!("registration failed: {code} {reason}"),
                    json!({"code": code, "reason": reason}),
                );
                if self.main_call.is_none() && !self.exiting {
                    self.fail(format!("registration failed: {code} {reason}"));
                }
            }
            Event::Unregistered => {
                self.report.event("unregistered", "unregistered", json!({}));
            }
            Event::Ringing { call, code, sdp } => {
                if let (Some(sdp), Some(media)) = (
                    sdp,
                    self.calls.get_mut(&call).and_then(|s| s.media.as_mut()),
                ) {
                    if media.apply_answer(&sdp).is_ok() {
                        let _ = media.start(call, self.media_events.clone());
                    }
                }
                let text = if code == 180 {
                    "ringing"
                } else {
                    "early media"
                };
                self.report.event(
                    "ringing",
                    &format!("{text} ({code})"),
                    json!({"call": call.0, "code": code}),
                );
            }
            Event::Answered { call, sdp } => self.on_answered(call, sdp).await,
            Event::Incoming {
                call, from, sdp, ..
            } => {
                self.report.event(
                    "incoming",
                    &format!("incoming call from {from}"),
                    json!({"call": call.0, "from": from}),
                );
                if matches!(self.command, PhoneCommand::Message { .. }) || self.exiting {
                    let _ = self.ua.reject(now, call, 486);
                    return;
                }
                if let Some(code) = self.settings.reject {
                    let _ = self.ua.reject(now, call, code);
                    self.report.event(
                        "rejected",
                        &format!("rejected with {code}"),
                        json!({"call": call.0, "code": code}),
                    );
                    return;
                }
                let answer_after = match (&self.command, self.settings.answer_after) {
                    (_, Some(secs)) => secs,
                    (PhoneCommand::Answer, None) => 0.0,
                    // `register` and `call` take no calls unless --answer-after says so.
                    _ => {
                        let _ = self.ua.reject(now, call, 486);
                        self.report.event(
                            "rejected",
                            "rejected with 486 (busy; use --answer-after to take calls)",
                            json!({"call": call.0, "code": 486}),
                        );
                        return;
                    }
                };
                let mut media = match self.media_setup.bind().await {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "no RTP socket for an incoming call");
                        let _ = self.ua.reject(now, call, 500);
                        return;
                    }
                };
                if let Err(e) = media.take_offer(sdp.as_deref()) {
                    self.report.event(
                        "rejected",
                        &format!("rejected with 488: {e}"),
                        json!({"call": call.0, "code": 488, "reason": e.to_string()}),
                    );
                    let _ = self.ua.reject(now, call, 488);
                    return;
                }
                self.calls.insert(
                    call,
                    CallState {
                        media: Some(media),
                        transfer_of: None,
                        answered: false,
                        on_hold: false,
                    },
                );
                let _ = self.ua.ringing(now, call);
                let after = Duration::from_secs_f64(answer_after);
                self.deadlines
                    .push((Instant::now() + after, Deadline::Answer(call)));
            }
            Event::Confirmed { call, sdp } => {
                tracing::debug!(%call, "ACK received");
                let media = self.calls.get_mut(&call).and_then(|s| s.media.as_mut());
                if let Some(media) = media.filter(|m| m.awaits_answer()) {
                    // The answer to the offer of our 200 (RFC 3264 §5, a late offer).
                    let started = match sdp {
                        Some(sdp) => media
                            .apply_answer(&sdp)
                            .and_then(|()| media.start(call, self.media_events.clone())),
                        None => Err(MediaError::NoPendingOffer),
                    };
                    if let Err(e) = started {
                        tracing::warn!(%call, error = %e, "no usable answer in the ACK: hanging up");
                        let _ = self.ua.hangup(now, call);
                    }
                }
            }
            Event::RemoteOffer { call, sdp } => {
                let answer = self
                    .calls
                    .get_mut(&call)
                    .and_then(|s| s.media.as_mut())
                    .map(|m| m.reoffer_answer(sdp.as_deref()));
                match answer {
                    Some(Ok((answer, held))) => {
                        let _ = self.ua.accept_offer(now, call, answer);
                        self.report.event(
                            if held { "held" } else { "resumed" },
                            if held {
                                "the other side put the call on hold"
                            } else {
                                "the other side resumed the call"
                            },
                            json!({"call": call.0}),
                        );
                    }
                    _ => tracing::debug!(%call, "re-INVITE not answered"),
                }
            }
            Event::OfferAnswered { call, sdp } => {
                let held = self.calls.get(&call).is_some_and(|s| s.on_hold);
                if let (Some(sdp), Some(media)) = (
                    sdp,
                    self.calls.get_mut(&call).and_then(|s| s.media.as_mut()),
                ) {
                    if let Err(e) = media.apply_answer(&sdp) {
                        tracing::warn!(%call, error = %e, "bad answer to our re-INVITE");
                    }
                }
                self.report.event(
                    if held { "on-hold" } else { "resumed" },
                    if held { "call on hold" } else { "call resumed" },
                    json!({"call": call.0}),
                );
            }
            Event::OfferFailed { call, code } => self.report.event(
                "error",
                &format!("re-INVITE failed with {code}"),
                json!({"call": call.0, "code": code}),
            ),
            Event::Info {
                call,
                content_type,
                body,
            } => {
                let text = String::from_utf8_lossy(&body);
                let digit = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Signal="))
                    .map(|d| d.trim().to_owned());
                match digit {
                    Some(d) if content_type.starts_with("application/dtmf") => self.report.event(
                        "dtmf-received",
                        &format!("DTMF received: {d}"),
                        json!({"call": call.0, "digit": d, "mode": "info"}),
                    ),
                    _ => self.report.event(
                        "info",
                        &format!("INFO ({content_type})"),
                        json!({"call": call.0, "content_type": content_type}),
                    ),
                }
            }
            Event::InfoAnswered { call, code } => {
                if code >= 300 {
                    self.report.event(
                        "error",
                        &format!("INFO answered {code}"),
                        json!({"call": call.0, "code": code}),
                    );
                }
            }
            Event::TransferRequested { call, target } => {
                self.report.event(
                    "transfer-requested",
                    &format!("transferred to {target}"),
                    json!({"call": call.0, "target": target}),
                );
                self.place_call(&target, Some(call)).await;
            }
            Event::TransferProgress { call, code, reason } => {
                self.report.event(
                    "transfer-progress",
                    &format!("transfer: {code} {reason}"),
                    json!({"call": call.0, "code": code, "reason": reason}),
                );
                if (200..300).contains(&code) && code != 202 {
                    // The transfer target answered: our part is done.
                    let _ = self.ua.hangup(now, call);
                }
            }
            Event::CallEnded { call, cause } => self.on_ended(call, cause).await,
            Event::MessageWaiting { summary } => {
                let (new, old) = summary.voice().map_or((0, 0), |v| (v.new, v.old));
                let text = if summary.waiting {
                    format!("voicemail: {new} new and {old} old messages waiting")
                } else {
                    format!("voicemail: no new messages ({old} old)")
                };
                self.report.event(
                    "voicemail",
                    &text,
                    json!({"waiting": summary.waiting, "new": new, "old": old, "account": summary.account}),
                );
            }
            Event::Message { from, body, .. } => {
                let text = String::from_utf8_lossy(&body).into_owned();
                self.report.event(
                    "message",
                    &format!("message from {from}: {text}"),
                    json!({"from": from, "text": text}),
                );
            }
            Event::MessageAnswered { code, reason, .. } => {
                let ok = (200..300).contains(&code);
                self.report.event(
                    "message-answered",
                    &format!(
                        "message {}: {code} {reason}",
                        if ok { "delivered" } else { "failed" }
                    ),
                    json!({"code": code, "reason": reason}),
                );
                if matches!(self.command, PhoneCommand::Message { .. }) {
                    if ok {
                        self.exit_soon(Duration::ZERO);
                    } else {
                        self.fail(format!("message refused: {code} {reason}"));
                    }
                }
            }
        }
    }

    async fn on_answered(&mut self, call: CallId, sdp: Option<Bytes>) {
        let Some(state) = self.calls.get_mut(&call) else {
            return;
        };
        state.answered = true;
        let transfer_of = state.transfer_of;
        let applied = match (sdp, state.media.as_mut()) {
            (Some(sdp), Some(media)) => media.apply_answer(&sdp).map_err(|e| e.to_string()),
            (None, _) => Err("the answer has no SDP".to_owned()),
            (_, None) => Err("no media".to_owned()),
        };
        match applied {
            Ok(()) => {
                if let Some(media) = state.media.as_mut() {
                    if let Err(e) = media.start(call, self.media_events.clone()) {
                        tracing::warn!(%call, error = %e, "media did not start");
                    }
                }
            }
            Err(e) => tracing::warn!(%call, error = %e, "call answered without usable media"),
        }
        let codec = state
            .media
            .as_ref()
            .and_then(|m| m.codec_name())
            .unwrap_or_default();
        self.report.event(
            "answered",
            &format!("answered ({codec})"),
            json!({"call": call.0, "direction": "outgoing", "codec": codec}),
        );
        if let Some(original) = transfer_of {
            let _ = self
                .ua
                .notify_transfer(std::time::Instant::now(), original, 200, "OK");
        }
        self.after_answer(call);
    }

    async fn on_ended(&mut self, call: CallId, cause: EndCause) {
        let state = self.calls.remove(&call);
        self.deadlines
            .retain(|(_, d)| !matches!(d, Deadline::Answer(c) | Deadline::Hangup(c) | Deadline::Dtmf(c) if *c == call));
        let (code, reason) = match &cause {
            EndCause::Failed { code, reason } => (Some(*code), Some(reason.clone())),
            EndCause::Refused { code } => (Some(*code), None),
            _ => (None, None),
        };
        self.report.event(
            "ended",
            &format!("call ended: {cause}"),
            json!({"call": call.0, "cause": cause_name(&cause), "code": code, "reason": reason}),
        );
        let mut answered = false;
        if let Some(mut state) = state {
            answered = state.answered;
            if let Some(original) = state.transfer_of {
                if !answered {
                    let code = code.unwrap_or(487);
                    let _ = self.ua.notify_transfer(
                        std::time::Instant::now(),
                        original,
                        code,
                        reason.as_deref().unwrap_or("Failed"),
                    );
                }
            }
            if let Some(media) = state.media.take() {
                if let Some(report) = media.stop().await {
                    self.report
                        .event("report", &report.summary(), report.to_json(call));
                }
            }
        }
        self.finished += 1;
        if matches!(self.command, PhoneCommand::Call { .. }) && Some(call) == self.main_call {
            self.main_call_done = true;
            if !answered {
                self.failure
                    .get_or_insert_with(|| format!("call failed: {cause}"));
            }
        }
        // Done when the command's calls are over and no call (a transferred one, say) is
        // still up.
        let done = match &self.command {
            PhoneCommand::Call { .. } => self.main_call_done,
            PhoneCommand::Answer | PhoneCommand::Register => {
                self.settings.calls.is_some_and(|n| self.finished >= n)
            }
            PhoneCommand::Message { .. } => false,
        };
        if done && self.ua.live_calls().next().is_none() {
            self.shutdown();
        }
    }
}

fn cause_name(cause: &EndCause) -> &'static str {
    match cause {
        EndCause::LocalHangup => "local-hangup",
        EndCause::RemoteHangup => "remote-hangup",
        EndCause::Cancelled => "cancelled",
        EndCause::CallerCancelled => "caller-cancelled",
        EndCause::Refused { .. } => "refused",
        EndCause::Failed { .. } => "failed",
        EndCause::NoAck => "no-ack",
    }
}
