//! `itsp audit list`: the audit log of admin changes (who, from where, what, when), the
//! portal's and the command line's (`crate::cli_audit`), newest first, as `GET
//! /api/v1/audit` and `/admin/audit` show it.

use clap::Subcommand;
use serde_json::json;

use super::output::{utc_ms, Report, Table};
use super::time::parse_time;
use super::{with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp audit --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp audit list
  itsp audit list --since 2026-11-01 --actor admin@example.com
  itsp audit list --actor cli:alice        # what the OS user alice did with these commands
  itsp audit list --limit 500 --json";

/// What `itsp audit` does.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List the admin changes, newest first.
    ///
    /// Example: itsp audit list --since 2026-11-01 --actor admin@example.com
    List {
        /// Only changes at or after this time (RFC 3339, a date, or Unix seconds; UTC).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only changes before this time.
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Only this admin: user@domain, `token N` for an admin token, or `cli:USER`.
        #[arg(long, value_name = "WHO")]
        actor: Option<String>,
        /// At most this many changes.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
    },
}

/// Runs one `itsp audit` command.
pub(super) async fn run(command: AuditCommand, store: &StoreArgs) -> Result<Report, Failure> {
    let AuditCommand::List {
        since,
        until,
        actor,
        limit,
    } = command;
    let filter = store::AuditFilter {
        since_ms: since.map(|t| parse_time("--since", &t)).transpose()?,
        until_ms: until.map(|t| parse_time("--until", &t)).transpose()?,
        actor,
    };
    with_store(store, async |s| {
        let entries = s.audit_entries(&filter, None, limit).await?;
        let mut table = Table::new(&[
            "ID",
            "WHEN (UTC)",
            "WHO",
            "FROM",
            "WHAT",
            "STATUS",
            "DETAIL",
        ]);
        let mut rows = Vec::new();
        for e in entries {
            table.row(vec![
                e.id.to_string(),
                utc_ms(e.at_ms),
                e.actor.clone(),
                e.source.clone(),
                e.action.clone(),
                e.status.to_string(),
                e.detail.clone().unwrap_or_default(),
            ]);
            rows.push(json!({
                "id": e.id,
                "at_ms": e.at_ms,
                "actor": e.actor,
                "source": e.source,
                "action": e.action,
                "status": e.status,
                "detail": e.detail,
            }));
        }
        Ok(Report::List {
            table,
            json: rows,
            empty: "no admin changes recorded".to_owned(),
        })
    })
    .await
}
