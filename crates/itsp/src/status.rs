//! `itsp status`: what a running `itsp serve` is doing — version, uptime, sockets,
//! registrations, transactions, calls, relay, store — asked over its control socket
//! (`server::control`, the `status` request). A table for people, one JSON object with
//! `--json` (times in RFC 3339 UTC, durations in seconds).

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use server::control::protocol::{Answer, Request, Status};

use crate::admin::output::{duration, Report};

/// Examples shown by `itsp status --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  itsp status                                  # the server whose data is in ./data
  itsp status --data-dir /var/lib/itsp         # the server whose data is there
  itsp status --json | jq .registered_contacts # for scripts and monitoring";

/// Options of `itsp status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print one JSON object (times in RFC 3339 UTC); errors as {"error": ...}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    control: crate::control_client::ControlArgs,
}

/// Runs `itsp status`: exit status 0 with the status printed, 2 when no server answers.
pub(crate) fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match ask(&args) {
        Ok(status) => {
            report(&status).write(&mut stdout, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            if args.json {
                writeln!(stdout, "{}", json!({ "error": message }))?;
            } else {
                eprintln!("itsp: {message}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// Asks the server for its status.
fn ask(args: &StatusArgs) -> Result<Status, String> {
    match crate::control_client::ask(&args.control, &Request::Status)? {
        Answer::Status(status) => Ok(status),
        Answer::Error { error } => Err(error),
        other => Err(format!(
            "itsp serve answered something unexpected: {other:?}"
        )),
    }
}

/// The status for people (name and value lines) and scripts (the object as sent).
fn report(status: &Status) -> Report {
    let relay = match status.relay_sessions {
        Some(sessions) => format!("{} ({sessions} sessions)", status.relay),
        None => status.relay.clone(),
    };
    let uptime = i64::try_from(status.uptime_secs).unwrap_or(i64::MAX);
    let lines = [
        ("version", status.version.clone()),
        ("node", status.node.clone()),
        ("started", status.started.clone()),
        ("uptime", duration(uptime)),
        ("listening", status.listeners.join(", ")),
        ("domains", status.domains.to_string()),
        ("registered users", status.registered_aors.to_string()),
        (
            "registered contacts",
            status.registered_contacts.to_string(),
        ),
        ("live calls", status.live_calls.to_string()),
        ("transactions", status.transactions.to_string()),
        ("requests proxied", status.proxied.to_string()),
        ("waiting for I/O", status.waiting_for_io.to_string()),
        ("RTP relay", relay),
        ("store", status.store.clone()),
        (
            "waiting for the store",
            format!(
                "{} bindings, {} call records",
                status.queued_bindings, status.queued_call_records
            ),
        ),
        (
            "SIP capture",
            if status.capture { "on" } else { "off" }.into(),
        ),
    ];
    Report::Record {
        lines: lines
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        json: serde_json::to_value(status).unwrap_or_default(),
    }
}
