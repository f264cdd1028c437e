//! `itsp group add|rm|list`: group membership of subscribers (permissions the routing
//! policy checks, such as `international`).

use clap::Subcommand;
use serde_json::json;

use super::output::{Report, Table};
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp group --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp group add alice@example.com international
  itsp group list alice@example.com
  itsp group rm alice@example.com international";

/// What `itsp group` does.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Put a subscriber in a group (nothing changes if it already is).
    ///
    /// GROUP is 1 to 64 letters, digits, `-`, `_` or `.`.
    /// Example: itsp group add alice@example.com international
    Add {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER")]
        user: String,
        /// The group name.
        #[arg(value_name = "GROUP")]
        group: String,
    },
    /// Take a subscriber out of a group (nothing changes if it was not in it).
    ///
    /// Example: itsp group rm alice@example.com international
    Rm {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER")]
        user: String,
        /// The group name.
        #[arg(value_name = "GROUP")]
        group: String,
    },
    /// List the groups of a subscriber.
    ///
    /// Example: itsp group list alice@example.com
    List {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER")]
        user: String,
    },
}

/// Runs one `itsp group` command.
pub(super) async fn run(command: GroupCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        GroupCommand::Add { user, group } => change(store, &user, group, true).await,
        GroupCommand::Rm { user, group } => change(store, &user, group, false).await,
        GroupCommand::List { user } => {
            let a = address(&user)?;
            with_store(store, async |s| {
                let mut table = Table::new(&["GROUP"]);
                let mut rows = Vec::new();
                for g in s.groups(&a.user, &a.domain).await? {
                    table.row(vec![g.clone()]);
                    rows.push(json!({ "user": a.to_string(), "group": g }));
                }
                Ok(Report::List {
                    table,
                    json: rows,
                    empty: format!("{a} is in no group"),
                })
            })
            .await
        }
    }
}

/// Puts `user` in `group` (`add`) or takes it out; an idempotent change.
async fn change(
    store: &StoreArgs,
    user: &str,
    group: String,
    add: bool,
) -> Result<Report, Failure> {
    let a = address(user)?;
    with_store(store, async |s| {
        let changed = if add {
            s.add_group(&a.user, &a.domain, &group).await?
        } else {
            s.remove_group(&a.user, &a.domain, &group).await?
        };
        let text = match (add, changed) {
            (true, true) => format!("{a} is now in group {group}"),
            (true, false) => format!("{a} was already in group {group}"),
            (false, true) => format!("{a} is no longer in group {group}"),
            (false, false) => format!("{a} was not in group {group}"),
        };
        Ok(Report::done(
            text,
            json!({ "user": a.to_string(), "group": group, "changed": changed }),
        ))
    })
    .await
}
