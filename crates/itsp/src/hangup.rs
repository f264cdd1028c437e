//! `itsp hangup CALL-ID`: ends an answered call on a running `itsp serve` (over its
//! control socket, the `hang_up` request): the server sends a BYE to both phones, as if
//! each had hung up on the other, and the call's record says the proxy ended it
//! (`end_reason` `admin`). `itsp calls` lists the calls and their Call-IDs. The command
//! is recorded in the audit log like the other changes ([`crate::cli_audit`]).

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use server::control::protocol::{Answer, Request};

/// Examples shown by `itsp hangup --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  itsp calls                                   # the calls in progress, with their Call-IDs
  itsp hangup a84b4c76e66710@pc33.example.com  # ends that call: BYE to both phones
  itsp hangup --json a84b4c76e66710@pc33.example.com";

/// Options of `itsp hangup`.
#[derive(Debug, Args)]
pub(crate) struct HangUpArgs {
    /// The Call-ID of the call to end (from `itsp calls`).
    #[arg(value_name = "CALL-ID")]
    call_id: String,
    /// Print one JSON object; errors as {"error": ...}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    control: crate::control_client::ControlArgs,
}

/// Runs `itsp hangup`: 0 when the call was ended, 1 when the server has no such answered
/// call, 2 when no server answers; the outcome goes into the audit log (`change`).
pub(crate) fn run(
    args: HangUpArgs,
    change: Option<crate::cli_audit::Change>,
) -> anyhow::Result<ExitCode> {
    let outcome = hang_up(&args);
    if let Some(change) = change {
        let error = outcome.as_ref().err().map(|(m, c)| (*c, m.as_str()));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(change.record(error));
    }
    let mut stdout = std::io::stdout().lock();
    let (message, code) = match outcome {
        Ok(call_id) => {
            if args.json {
                writeln!(stdout, "{}", json!({ "hung_up": call_id }))?;
            } else {
                writeln!(stdout, "call {call_id} ended: BYE sent to both phones")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(failure) => failure,
    };
    if args.json {
        writeln!(stdout, "{}", json!({ "error": message }))?;
    } else {
        eprintln!("itsp: {message}");
    }
    Ok(ExitCode::from(code))
}

/// Asks the server to end the call: its Call-ID, or the message and exit status.
fn hang_up(args: &HangUpArgs) -> Result<String, (String, u8)> {
    let request = Request::HangUp {
        call_id: args.call_id.clone(),
    };
    match crate::control_client::ask(&args.control, &request) {
        Ok(Answer::HungUp { call_id }) => Ok(call_id),
        Ok(Answer::Error { error }) => Err((error, 1)),
        Ok(other) => Err((
            format!("itsp serve answered something unexpected: {other:?}"),
            2,
        )),
        Err(message) => Err((message, 2)),
    }
}
