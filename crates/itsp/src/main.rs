//! `itsp`: the one binary of the Internet Telephony Service Provider.
//!
//! ## Layout
//!
//! - `main.rs`: the command line (clap).
//! - `cli_audit.rs`: the audit log entries of the admin changes made with the command
//!   line (`cli:USER`, source `local`), which commands change something in one table.
//! - `logging.rs`: the log (text or JSON) and its filter, which SIGHUP can change.
//! - `serve.rs`: `itsp serve`: settings from flags and the config file, then the
//!   `server` crate's [`server::Server`] until SIGINT/SIGTERM.
//! - `config.rs`: the TOML config file (`itsp.example.toml` documents it);
//!   `capture_config.rs` its `[capture]` and `[control]` sections.
//! - `trace/`: `itsp trace`, the captured SIP messages of a running server (over its
//!   control socket) as text, a ladder, JSON or a pcap file.
//! - `status.rs`: `itsp status`, what a running server is doing (over its control socket);
//!   `hangup.rs`: `itsp hangup`, ends a call on it; `control_client.rs` connects to that
//!   socket for these and `itsp trace`.
//! - `phone.rs`: `itsp phone`, the `phone` crate's softphone on a tokio runtime.
//! - `relay.rs`: `itsp relay`, an RTP relay node (the `relay` crate) driven over NG.
//! - `lint.rs`: `itsp lint`, checks SIP messages in files the way the server would.
//! - `nat_check.rs`: `itsp nat check`, behind a NAT or not and of what kind (STUN, RFC 5780).
//! - `store_args.rs`: `--data-dir` / `--db`, where the store is (shared by the commands
//!   that use it).
//! - `media_service.rs`: the media services inside `itsp serve` (the `media` crate's
//!   service UA), recorded voicemail stored as files and rows.
//! - `admin/`: the admin commands on the store, `itsp user|alias|group|domain|ul|calls|acc|
//!   cdr|rate|ban|token|voicemail`, one module per concept and `output.rs` (tables for
//!   people, `--json` for scripts).

mod admin;
mod capture_config;
mod cli_audit;
mod config;
mod control_client;
mod hangup;
mod ivr_config;
mod lint;
mod logging;
mod media_service;
mod nat_check;
mod notices;
mod phone;
mod relay;
mod serve;
mod smtp_config;
mod status;
mod store_args;
mod tls_config;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc. Each received SIP message is a task of about 5.6 KB
/// (the state of its handling), above glibc's per-thread cache (1 KB), so glibc served it
/// from its bins with consolidation: 10-14% of the server's CPU in the calls benchmark.
/// mimalloc serves that size from a per-thread free list (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// itsp — an Internet Telephony Service Provider in one binary.
///
/// Start a SIP server with `itsp serve`; check SIP messages with `itsp lint`; manage
/// domains, users (with call forwarding), aliases and groups and see who is registered
/// with `itsp domain`, `user`, `alias`, `group` and `ul`; see the calls in progress and
/// the accounting records with `itsp calls`, `itsp acc` and `itsp cdr`; tariffs with `itsp
/// rate`; a mailbox's messages with `itsp voicemail list`. `itsp serve` also serves the
/// web portal and REST API (http://127.0.0.1:8080/ by default); `itsp token` makes the
/// API's bearer tokens.
#[derive(Debug, Parser)]
#[command(name = "itsp", version, propagate_version = true)]
struct Cli {
    /// Log format for the operator: `text` for people, `json` for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter, e.g. `info`, `debug`, `transport=trace` (or set RUST_LOG). Default:
    /// `info`, or `itsp serve`'s `[log] filter`.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SIP server: registrar, location service and stateful proxy.
    ///
    /// Listens on UDP and TCP port 5060 of every address unless --listen says otherwise,
    /// serves the domains given with --domain (default: this machine's host name) and keeps
    /// its data in ./data (SQLite, created on first run) unless --data-dir or --db say
    /// otherwise. Phones register with the users created by `itsp user add`; their
    /// registrations survive a restart. Calls between users, to PSTN gateways (`[pstn]` in
    /// the config file) and to other domains (DNS) go through the proxy; `itsp calls`
    /// lists them and `itsp acc` shows their records. Media services run inside: `echo`
    /// (or *43) at any served domain is the echo test, and calls to a subscriber with
    /// voicemail on that are busy, unanswered or offline are recorded into the mailbox
    /// (`[media]`, --no-media). Malformed requests are answered 400
    /// with a reason phrase naming what is wrong; OPTIONS to the server is answered 200.
    /// The web portal and REST API listen on http://127.0.0.1:8080/ (--http-listen,
    /// --no-http); a port in use there is a warning, not a failure.
    ///
    /// Example:
    ///   itsp domain add example.com
    ///   itsp user add alice@example.com --password secret
    ///   itsp serve --domain example.com --listen udp:127.0.0.1:5070
    Serve(serve::ServeArgs),
    /// Check SIP messages in files the way the server would, and say what is wrong.
    ///
    /// Each FILE holds one message exactly as sent (CRLF line ends). Exit status 0 when all
    /// are valid, 1 otherwise. Example: itsp lint invite.sip --json
    Lint {
        /// Files holding one SIP message each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON object per file instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A portable SIP phone with real RTP audio: register, call, answer, DTMF, messages,
    /// hold and transfer, all settings on the command line or in one --profile file.
    ///
    /// Audio comes from a WAV file (--play), a tone (--tone) or silence, and goes to a WAV
    /// file (--record); codecs PCMU, PCMA and GSM 06.10. At hang-up it prints what the call
    /// was like: packets, loss, jitter, round-trip time, R-factor and MOS. --json prints
    /// every event and the report as JSON lines. The exit status is 0 when the command did
    /// what it was asked (registered, call answered, message delivered), 1 otherwise.
    Phone(Box<::phone::options::PhoneArgs>),
    /// Run an RTP relay node, driven over rtpengine's NG protocol (UDP).
    ///
    /// Phones behind NAT cannot receive media sent to the private address in their SDP.
    /// The relay sits in the media path: for each call, the SIP proxy (itsp's, or Kamailio
    /// with its rtpengine module) sends the offer and answer SDP here over NG; the relay gives
    /// every party a port pair (RTP even, RTCP odd) from --ports, rewrites c=/m=/a=rtcp to
    /// --public-ip and those ports, latches each side to the address its packets really
    /// come from, and relays RTP and RTCP both ways. Calls idle for --idle-timeout seconds are
    /// removed; `query` over NG gives per-call packet, byte, error and loss counters.
    ///
    /// Example (one machine, public address 203.0.113.5):
    ///   itsp relay --public-ip 203.0.113.5 --listen-ng 127.0.0.1:2223 --ports 30000-40000
    /// then in kamailio.cfg: modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")
    Relay(relay::RelayArgs),
    /// NAT self-check: `itsp nat check --stun HOST` says whether this machine is behind a
    /// NAT, what kind, and what that means for calls.
    Nat {
        #[command(subcommand)]
        command: nat_check::NatCommand,
    },
    /// Show the SIP messages a running server sent and received, and the call flow.
    ///
    /// Asks the running `itsp serve` (over its control socket, data/control.sock) for the
    /// messages it captured (the last 10,000 by default, `[capture]` in its config): the
    /// time, direction, addresses and full text of each, then a ladder of the call flow
    /// like sngrep's. The filters combine: all must hold. --follow keeps printing new
    /// messages until Ctrl-C; --pcap FILE writes them to a pcap file for Wireshark or
    /// tshark instead. Exit status 0 when the trace worked (even if nothing matched), 1
    /// when the server refused it, 2 when no server answered.
    #[command(after_long_help = trace::EXAMPLES)]
    Trace(trace::TraceArgs),
    /// Show what a running server is doing: version, uptime, sockets, registrations,
    /// calls, transactions, relay and store.
    ///
    /// Asks the running `itsp serve` over its control socket (data/control.sock). Exit
    /// status 0 with the status printed, 2 when no server answers.
    #[command(after_long_help = status::EXAMPLES)]
    Status(status::StatusArgs),
    /// End a call in progress: the running server sends a BYE to both phones.
    ///
    /// Asks the running `itsp serve` over its control socket (data/control.sock); the
    /// call's record says the proxy ended it (end reason `admin`). `itsp calls` lists the
    /// calls and their Call-IDs. Exit status 0 when the call was ended, 1 when the server
    /// has no such answered call, 2 when no server answers.
    #[command(name = "hangup", after_long_help = hangup::EXAMPLES)]
    HangUp(hangup::HangUpArgs),
    #[command(flatten)]
    Admin(admin::Command),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    // An admin change is recorded in the audit log once it ran (`cli_audit`).
    let change = cli_audit::Change::of(&matches);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The phone talks to a person on stdout; only problems go to the log.
    let fallback = match cli.command {
        Command::Phone(_) => "warn",
        _ => logging::DEFAULT_FILTER,
    };
    logging::init(
        cli.log_format == LogFormat::Json,
        cli.log.as_deref(),
        fallback,
    );
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Lint { files, json } => lint::run(&files, json),
        Command::Admin(command) => admin::run(command, change),
        Command::Phone(args) => phone::run(*args),
        Command::Relay(args) => relay::run(args),
        Command::Nat { command } => nat_check::run(command),
        Command::Trace(args) => trace::run(args),
        Command::Status(args) => status::run(args),
        Command::HangUp(args) => hangup::run(args, change),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("itsp: {e:#}");
            ExitCode::from(2)
        }
    }
}
