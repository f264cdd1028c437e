//! `itsp voicemail list`: the messages in a subscriber's mailbox, as the media service
//! stored them (caller, time, length, new or saved, the WAV file under the data
//! directory's `voicemail/`).

use clap::Subcommand;
use serde_json::json;

use super::output::{utc_ms, Report, Table};
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp voicemail --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp user set bob@example.com voicemail=on     # busy, offline, unanswered calls go there
  itsp voicemail list bob@example.com
  itsp voicemail list bob@example.com --json | jq '.[] | select(.status == \"new\")'";

/// What `itsp voicemail` does.
#[derive(Debug, Subcommand)]
pub(crate) enum VoicemailCommand {
    /// List the messages of a subscriber, oldest first.
    ///
    /// FILE is relative to the voicemail folder of the data directory
    /// (DATA_DIR/voicemail/DOMAIN/USER/...wav).
    /// Example: itsp voicemail list bob@example.com
    List {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER")]
        user: String,
    },
}

/// Runs one `itsp voicemail` command.
pub(super) async fn run(command: VoicemailCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        VoicemailCommand::List { user } => {
            let a = address(&user)?;
            with_store(store, async |s| {
                let messages = s.voicemail_messages(&a.user, &a.domain).await?;
                let mut table = Table::new(&[
                    "ID",
                    "STATUS",
                    "RECEIVED (UTC)",
                    "SECONDS",
                    "CALLER",
                    "FILE",
                ]);
                let mut rows = Vec::new();
                for m in messages {
                    table.row(vec![
                        m.id.to_string(),
                        m.status.clone(),
                        utc_ms(m.created_ms),
                        format!("{:.1}", m.duration_ms as f64 / 1000.0),
                        m.caller.clone(),
                        m.file.clone(),
                    ]);
                    rows.push(json!({
                        "id": m.id,
                        "status": m.status,
                        "caller": m.caller,
                        "created_ms": m.created_ms,
                        "received": utc_ms(m.created_ms),
                        "duration_ms": m.duration_ms,
                        "file": m.file,
                    }));
                }
                Ok(Report::List {
                    table,
                    json: rows,
                    empty: format!("no messages for {a}"),
                })
            })
            .await
        }
    }
}
