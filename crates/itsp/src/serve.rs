//! `itsp serve`: assembles the settings (flags over the config file over defaults), opens
//! the store, starts the [`server::Server`] and runs it until SIGINT or SIGTERM. SIGHUP
//! reloads what can change without a restart ([`reload_on_hangup`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use server::{Server, ServerConfig};
use transport::Listen;

use crate::config::{Config, StunListen};
use crate::store_args::StoreArgs;

/// Options of `itsp serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Read settings from this TOML file (see itsp.example.toml); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to listen, as PROTO:ADDR:PORT (udp, tcp, tls, ws or wss: SIP over WebSocket,
    /// RFC 7118, for browser phones); repeat for several.
    /// Default: udp:0.0.0.0:5060, tcp:0.0.0.0:5060 and tls:0.0.0.0:5061. TLS uses the
    /// certificate of `[tls] cert` and `key`, or a self-signed one made in DATA_DIR/tls/.
    #[arg(long = "listen", value_name = "PROTO:ADDR:PORT")]
    listen: Vec<Listen>,
    /// A domain to serve (the part after @ of your users' addresses, also the digest
    /// realm); repeat for several. Default: the machine's host name.
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// A network whose requests are not challenged for a password (gateways, peer
    /// proxies, load generators), e.g. 192.0.2.0/24 or 10.1.2.3; repeat for several.
    #[arg(long = "trusted", value_name = "CIDR")]
    trusted: Vec<server::trusted::Network>,
    /// Directory of the embedded SQLite database, created on first run. Default: ./data
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use this database instead of SQLite in the data directory, e.g.
    /// postgres://itsp:secret@localhost/itsp
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Where the STUN server listens, as udp:ADDR:PORT (it also binds PORT + 1 for NAT
    /// behaviour tests); repeat for several. Default: udp:0.0.0.0:3478.
    #[arg(long = "stun-listen", value_name = "udp:ADDR:PORT")]
    stun_listen: Vec<StunListen>,
    /// Do not run the STUN server.
    #[arg(long, conflicts_with = "stun_listen")]
    no_stun: bool,
    /// Threads handling SIP messages (1 to 256). One is the cheapest per message and
    /// serves thousands of REGISTERs and calls per second; add threads when one core is
    /// not enough. Default: 1 (the RTP relay and the database writer have their own).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    threads: Option<usize>,
    /// Where the web portal and REST API listen, ADDR:PORT. Default: 127.0.0.1:8080
    /// (loopback only). Port 0 picks a free port (the log says which).
    #[arg(long, value_name = "ADDR:PORT")]
    http_listen: Option<std::net::SocketAddr>,
    /// Do not serve the web portal and REST API.
    #[arg(long, conflicts_with = "http_listen")]
    no_http: bool,
    /// Also serve the Prometheus metrics (GET /metrics, unauthenticated) alone on
    /// ADDR:PORT, e.g. 127.0.0.1:9494; `[metrics] listen`. They are on the portal's
    /// listener too unless `[http] metrics = false`.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Do not run the media services (echo, voicemail, announcements); `[media] enabled`.
    #[arg(long)]
    no_media: bool,
}

fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of threads"))?;
    crate::config::check_threads(n)
}

/// The settings of one run, with where each came from resolved.
struct Settings {
    listens: Vec<Listen>,
    /// SIP worker threads.
    threads: usize,
    /// STUN addresses; empty: no STUN server.
    stun: Vec<std::net::SocketAddr>,
    store: StoreArgs,
    server: ServerConfig,
    /// The portal's address; `None`: no portal.
    http: Option<std::net::SocketAddr>,
    portal: portal::PortalConfig,
    /// Where `/metrics` is served: on the portal's listener, and alone on an address.
    metrics: MetricsPlaces,
    /// The media services; `None`: off.
    media: Option<crate::config::MediaSettings>,
    /// E-mail (`[smtp]`); `None`: off.
    smtp: Option<crate::smtp_config::SmtpSettings>,
    /// Where the TLS certificate comes from; `None`: no TLS (no `tls:` listener and no
    /// `[tls] cert`).
    tls: Option<crate::tls_config::CertSource>,
    /// The config file (`--config`), read again on SIGHUP.
    config_file: Option<PathBuf>,
    /// The trusted networks of `--trusted` (they override the file's, on SIGHUP too).
    trusted_flags: Vec<server::trusted::Network>,
    /// What the config file said at start.
    config: Config,
}

/// Where `/metrics` is served ([`portal::metrics`]).
#[derive(Debug, Clone, Copy)]
struct MetricsPlaces {
    /// On the portal's listener (when the portal runs).
    on_portal: bool,
    /// Alone on this address.
    listen: Option<std::net::SocketAddr>,
}

fn settings(args: ServeArgs) -> anyhow::Result<Settings> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let listens = if !args.listen.is_empty() {
        args.listen
    } else if !config.sip.listen.is_empty() {
        config.sip.listen.iter().map(|l| l.0).collect()
    } else {
        vec![
            "udp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?,
            "tcp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?,
            "tls:0.0.0.0:5061".parse().map_err(anyhow::Error::msg)?,
        ]
    };
    let mut server = ServerConfig::try_from(&config).map_err(anyhow::Error::msg)?;
    if !args.domains.is_empty() {
        server.domains = args.domains;
    } else if server.domains.is_empty() {
        server.domains = vec![host_name()];
    }
    if !args.trusted.is_empty() {
        server.trusted = args.trusted.clone();
    }
    server.node = host_name();
    if let Some(hep) = &mut server.capture.hep {
        hep.node_name.get_or_insert_with(|| server.node.clone());
    }
    let store = StoreArgs {
        data_dir: args
            .data_dir
            .or(config.store.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data")),
        db: args.db.or(config.store.db.clone()),
    };
    server.control_socket = Some(config.control.path(&store.data_dir));
    let stun = if args.no_stun || (args.stun_listen.is_empty() && !config.stun.enabled) {
        Vec::new()
    } else if !args.stun_listen.is_empty() {
        args.stun_listen.iter().map(|l| l.0).collect()
    } else {
        config.stun.listen.iter().map(|l| l.0).collect()
    };
    let threads = args
        .threads
        .or(config.sip.threads)
        .unwrap_or(crate::config::DEFAULT_SIP_THREADS);
    let http = if args.no_http || (args.http_listen.is_none() && !config.http.enabled) {
        None
    } else {
        Some(args.http_listen.unwrap_or(config.http.listen))
    };
    if let Some(url) = &config.http.public_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            anyhow::bail!("http.public_url {url:?}: an http:// or https:// URL expected");
        }
    }
    let portal = portal::PortalConfig {
        secure_cookies: config.http.secure_cookies,
        voicemail_dir: Some(store.data_dir.join("voicemail")),
        public_url: config.http.public_url.clone(),
        login_guard: config.http.login_guard().map_err(anyhow::Error::msg)?,
        trusted_proxies: config.http.trusted_proxies.clone(),
        ..portal::PortalConfig::default()
    };
    let metrics = MetricsPlaces {
        on_portal: http.is_some() && config.http.metrics,
        listen: args.metrics_listen.or(config.metrics.listen),
    };
    // Nothing serves them: the tap does not count.
    server.metrics = metrics.on_portal || metrics.listen.is_some();
    let media = if args.no_media || !config.media.enabled {
        None
    } else {
        let mut m = config.media.settings().map_err(anyhow::Error::msg)?;
        m.ivr = std::sync::Arc::new(
            crate::ivr_config::menus(&config.ivr, &config.media).map_err(anyhow::Error::msg)?,
        );
        m.shell.voicemail_dir = Some(store.data_dir.join("voicemail"));
        Some(m)
    };
    let smtp = config.smtp.settings().map_err(anyhow::Error::msg)?;
    let tls = (listens.iter().any(|l| {
        matches!(
            l.protocol,
            transport::Protocol::Tls | transport::Protocol::Wss
        )
    }) || config.tls.cert.is_some())
    .then(|| config.tls.source(&store.data_dir, &server.domains))
    .transpose()
    .map_err(anyhow::Error::msg)?;
    Ok(Settings {
        listens,
        threads,
        stun,
        store,
        server,
        http,
        portal,
        metrics,
        media,
        smtp,
        tls,
        config_file: args.config,
        trusted_flags: args.trusted,
        config,
    })
}

/// The machine's host name, the default domain; `localhost` when it cannot be read.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Creates the data directory and checks that it is writable, so the operator learns it
/// now and in plain words, not from SQLite.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let probe = dir.join(".itsp-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(args)?;
    if let Some(filter) = &settings.config.log.filter {
        // Checked when the file was read; RUST_LOG or --log may override it.
        let _ = crate::logging::set_filter(Some(filter));
    }
    if settings.store.db.is_none() {
        prepare_data_dir(&settings.store.data_dir)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.threads)
        .thread_name("itsp-sip")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    // Taken first: from here on a SIGHUP reloads instead of ending the process.
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot handle SIGHUP")?;
    let store = settings.store.open().await?;
    let backend = store.backend_name();
    let portal_store = store.clone();
    let notices = crate::notices::Notices::start(settings.smtp.take(), &store)?;
    let portal_mail = notices.as_ref().map(crate::notices::Notices::portal_mail);
    let mut media_services = None;
    if let Some(media) = settings.media.take() {
        if let Some(services) = crate::media_service::start(media, store.clone(), notices).await? {
            settings.server.services.media = Some(services.addr);
            settings.server.registrations = Some(services.registrations.clone());
            settings.server.conferences = Some(services.conference_control());
            media_services = Some(services);
            crate::ivr_config::warn_shadowed(
                &settings.server.services.ivr,
                &settings.server.domains,
                &store,
            )
            .await;
        }
    }
    // Bound before the server starts: the portal's address is where its `/ws` hands SIP
    // over WebSocket connections to the server, which counts it among its addresses.
    let portal_listener = match settings.http {
        Some(addr) => bind_portal(addr).await,
        None => None,
    };
    settings.server.websocket_handed_over =
        portal_listener.as_ref().and_then(|l| l.local_addr().ok());
    let tls = match &settings.tls {
        Some(source) => {
            let tls = crate::tls_config::start(source, &settings.config.tls)?;
            settings.server.tls = Some(tls.clone());
            tokio::spawn(crate::tls_config::watch(tls.clone(), source.clone()));
            Some((tls, source.clone()))
        }
        None => None,
    };
    let (server, report) = Server::start(settings.server, store, &settings.listens)
        .await
        .map_err(|e| match e {
            server::StartError::Transport(t) => anyhow::Error::new(t).context(
                "is another SIP server (or another itsp) running? choose other ports with --listen",
            ),
            other => anyhow::Error::new(other),
        })?;
    let stun = server::stun_server::StunServer::bind(&settings.stun)
        .await
        .context("is another STUN server running? choose other addresses with --stun-listen, or turn it off with --no-stun")?;
    tracing::info!(
        domains = %report.domains.join(","),
        bindings_restored = report.bindings_restored,
        bindings_purged = report.bindings_purged,
        store = backend,
        "store ready"
    );
    // STUN before SIP: the SIP lines are the last of the start-up.
    for a in stun.local_addrs() {
        let alternate = a.alternate.map(|s| s.to_string()).unwrap_or_default();
        tracing::info!(stun = %a.primary, %alternate, "STUN listening");
    }
    if !settings.stun.is_empty() {
        tokio::spawn(stun.run());
    }
    let reloader = server.bindings_reloader();
    let portal_state = portal::AppState::with_server(
        portal_store,
        settings.portal.clone(),
        portal_mail,
        Some(std::sync::Arc::new(move |aor: &str| reloader.reload(aor))),
    );
    portal_state.set_call_control(std::sync::Arc::new(PortalCalls(server.live_calls())));
    let credentials = server.bindings_reloader();
    portal_state.set_subscriber_disabled(std::sync::Arc::new(move |aor: &str| {
        credentials.subscriber_disabled(aor);
    }));
    if let Some(services) = &media_services {
        portal_state.set_dialer(services.dialer());
    }
    let metrics: Option<portal::metrics::MetricsSource> = server
        .metrics()
        .map(|m| std::sync::Arc::new(move || m.render()) as portal::metrics::MetricsSource);
    if let Some(listener) = portal_listener {
        let on_portal = metrics.clone().filter(|_| settings.metrics.on_portal);
        start_portal(listener, portal_state, on_portal, server.websocket_entry());
    }
    if let (Some(addr), Some(source)) = (settings.metrics.listen, metrics) {
        start_metrics(addr, source).await;
    }
    for l in server.local_addrs() {
        tracing::info!(listen = %l, "listening");
    }
    if let Some(services) = &media_services {
        services.proxy_ready(&server.local_addrs());
    }
    tokio::spawn(reload_on_hangup(
        hangups,
        settings.config_file.take(),
        std::mem::take(&mut settings.config),
        std::mem::take(&mut settings.trusted_flags),
        server.reloader(),
        tls,
    ));
    // On a worker thread, not the runtime's main thread, like every task of the server.
    tokio::spawn(server.run(shutdown_signal()))
        .await
        .context("the server task failed")?;
    Ok(())
}

/// The web portal's listener on `addr`. A port in use is a warning, not a failure: the
/// SIP server is what matters, and the README's first command must run on a machine
/// where something else holds 8080.
async fn bind_portal(addr: std::net::SocketAddr) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(
                http_listen = %addr,
                error = %e,
                "the web portal is not served: cannot listen there (choose another address \
                 with --http-listen or [http] listen, or turn it off with --no-http)"
            );
            None
        }
    }
}

/// Serves the web portal on `listener`, with `/metrics` and SIP over WebSocket at `/ws`
/// when given.
/// What the portal's live calls learn from the server and do to them
/// (`/api/v1/calls/live`): the relay's counters, and the hang-up `itsp hangup` asks over
/// the control socket, through the server's own handle.
struct PortalCalls(server::LiveCalls);

impl portal::api::live_calls::CallControl for PortalCalls {
    fn hang_up(&self, call_id: &str) -> bool {
        self.0.hang_up(call_id)
    }

    fn media<'a>(&'a self, call_id: &'a str) -> portal::api::live_calls::MediaFuture<'a> {
        Box::pin(async move {
            let c = self.0.media(call_id).await?;
            Some(portal::api::live_calls::MediaView {
                rtp_packets: c.rtp.packets,
                rtp_bytes: c.rtp.bytes,
                rtcp_packets: c.rtcp.packets,
                lost: c.parties.iter().map(|p| p.lost).sum(),
            })
        })
    }
}

fn start_portal(
    listener: tokio::net::TcpListener,
    state: portal::AppState,
    metrics: Option<portal::metrics::MetricsSource>,
    websocket: Option<server::WebSocketEntry>,
) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    tracing::info!(http = %local, "web portal and REST API listening: http://{local}/");
    if metrics.is_some() {
        tracing::info!(metrics = %local, "Prometheus metrics: http://{local}/metrics");
    }
    if websocket.is_some() {
        tracing::info!(websocket = %local, "SIP over WebSocket: ws://{local}/ws");
    }
    tokio::spawn(async move {
        let serving =
            portal::serve_full(listener, state, metrics, websocket, std::future::pending());
        if let Err(e) = serving.await {
            tracing::error!(error = %e, "the web portal stopped");
        }
    });
}

/// Serves `/metrics` alone on `addr` (`--metrics-listen`). Like the portal, a port in use
/// is a warning: the SIP server runs on.
async fn start_metrics(addr: std::net::SocketAddr, source: portal::metrics::MetricsSource) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(
                metrics_listen = %addr,
                error = %e,
                "the metrics are not served there: cannot listen (choose another address \
                 with --metrics-listen or [metrics] listen)"
            );
            return;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    tracing::info!(metrics = %local, "Prometheus metrics: http://{local}/metrics");
    tokio::spawn(async move {
        if let Err(e) = portal::metrics::serve(listener, source, std::future::pending()).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
}

/// On each SIGHUP: reads the config file again and applies its `[log] filter`, its
/// trusted networks (`[auth] trusted`, unless `--trusted` set them), its PSTN routing
/// (`[pstn]`) and its `[capture]` settings (ring bounds, pcap files, HEP export; turning
/// the capture on or off needs a restart), reads the served domains and the bans from the store, and logs one line,
/// "configuration reloaded", saying what was reloaded (`reloaded`), what could not be
/// (`not_reloaded`) and which changed sections of the file need a restart
/// (`needs_restart`). A file with an error changes nothing but is named in `not_reloaded`.
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    config_file: Option<PathBuf>,
    mut running: Config,
    trusted_flags: Vec<server::trusted::Network>,
    reloader: server::Reloader,
    tls: Option<(
        std::sync::Arc<transport::tls::Tls>,
        crate::tls_config::CertSource,
    )>,
) {
    use crate::logging::FilterOutcome;
    while hangups.recv().await.is_some() {
        let mut reloaded = Vec::new();
        let mut not_reloaded = Vec::new();
        let mut needs_restart = Vec::new();
        if let Some(path) = &config_file {
            let loaded = Config::load(path)
                .map_err(|e| e.to_string())
                .and_then(|config| {
                    // Checked whole, as at start: a file with an error changes nothing.
                    let server = ServerConfig::try_from(&config)?;
                    Ok((config, server))
                });
            match loaded {
                Ok((config, server)) => {
                    let trusted = if trusted_flags.is_empty() {
                        reloaded.push(format!("{} trusted networks", server.trusted.len()));
                        server.trusted
                    } else {
                        if format!("{:?}", config.auth.trusted)
                            != format!("{:?}", running.auth.trusted)
                        {
                            not_reloaded.push("[auth] trusted (set by --trusted)".to_owned());
                        }
                        trusted_flags.clone()
                    };
                    let pstn = server.proxy.pstn;
                    reloaded.push(format!(
                        "PSTN routing ({} gateways, {} classes)",
                        pstn.gateways.len(),
                        pstn.classes.len()
                    ));
                    reloader.apply(trusted, pstn);
                    let mut capture = server.capture;
                    if let Some(hep) = &mut capture.hep {
                        hep.node_name.get_or_insert_with(host_name);
                    }
                    let capture_applied = match reloader.apply_capture(capture).await {
                        Ok(changed) => {
                            reloaded.extend(changed);
                            true
                        }
                        Err(why) => {
                            not_reloaded.push(why);
                            false
                        }
                    };
                    let filter = config.log.filter.as_deref();
                    match crate::logging::set_filter(filter) {
                        FilterOutcome::Applied => reloaded.push(format!(
                            "log filter {:?}",
                            filter.unwrap_or(crate::logging::DEFAULT_FILTER)
                        )),
                        FilterOutcome::Overridden(by) => {
                            not_reloaded.push(format!("log filter (set by {by})"));
                        }
                        FilterOutcome::Failed(why) => {
                            not_reloaded.push(format!("log filter ({why})"));
                        }
                    }
                    needs_restart = config
                        .changed_sections(&running)
                        .into_iter()
                        .filter(|section| !(capture_applied && *section == "capture"))
                        .map(|section| format!("[{section}]"))
                        .collect();
                    running.log = config.log;
                    running.auth.trusted = config.auth.trusted;
                    running.pstn = config.pstn;
                    if capture_applied {
                        running.capture = config.capture;
                    }
                }
                Err(e) => not_reloaded.push(format!("config file ({e})")),
            }
        }
        if let Some((tls, source)) = &tls {
            match crate::tls_config::reload(tls, source) {
                Ok(what) => reloaded.push(what),
                Err(why) => not_reloaded.push(why),
            }
        }
        let store = reloader.reload().await;
        for (what, read) in [("domains", store.domains), ("bans", store.bans)] {
            match read {
                Ok(count) => reloaded.push(format!("{count} {what}")),
                Err(why) => not_reloaded.push(format!("{what} ({why})")),
            }
        }
        tracing::info!(
            reloaded = %reloaded.join(", "),
            not_reloaded = %not_reloaded.join(", "),
            needs_restart = %needs_restart.join(" "),
            "configuration reloaded"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
