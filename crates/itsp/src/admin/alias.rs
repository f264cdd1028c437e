//! `itsp alias add|rm|list`: more addresses for one subscriber.

use clap::Subcommand;
use serde_json::json;

use super::output::{Report, Table};
use super::{address, serve_domain_first, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp alias --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp alias add +4684567890@example.com alice@example.com
  itsp alias add 4567@example.com alice@example.com
  itsp alias list --domain example.com
  itsp ul show +4684567890@example.com     # alice's registrations
  itsp alias rm 4567@example.com";

/// What `itsp alias` does.
#[derive(Debug, Subcommand)]
pub(crate) enum AliasCommand {
    /// Make ALIAS another address of the subscriber TARGET.
    ///
    /// ALIAS must be in a served domain and not be a subscriber itself.
    /// Example: itsp alias add +4684567890@example.com alice@example.com
    Add {
        /// The new address, user@domain.
        #[arg(value_name = "ALIAS")]
        alias: String,
        /// The subscriber it stands for, user@domain.
        #[arg(value_name = "TARGET")]
        target: String,
    },
    /// Remove an alias (the subscriber stays).
    ///
    /// Example: itsp alias rm +4684567890@example.com
    Rm {
        /// The alias, user@domain.
        #[arg(value_name = "ALIAS")]
        alias: String,
    },
    /// List the aliases and whom they stand for.
    ///
    /// Example: itsp alias list --domain example.com
    List {
        /// Only the aliases in this domain.
        #[arg(long, value_name = "D")]
        domain: Option<String>,
    },
}

/// Runs one `itsp alias` command.
pub(super) async fn run(command: AliasCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        AliasCommand::Add { alias, target } => {
            let (alias, target) = (address(&alias)?, address(&target)?);
            with_store(store, async |s| {
                s.add_alias(&alias.user, &alias.domain, &target.user, &target.domain)
                    .await
                    .map_err(serve_domain_first)?;
                Ok(Report::done(
                    format!("{alias} is now an alias of {target}"),
                    json!({ "alias": alias.to_string(), "target": target.to_string() }),
                ))
            })
            .await
        }
        AliasCommand::Rm { alias } => {
            let alias = address(&alias)?;
            with_store(store, async |s| {
                s.remove_alias(&alias.user, &alias.domain).await?;
                Ok(Report::done(
                    format!("removed alias {alias}"),
                    json!({ "alias": alias.to_string() }),
                ))
            })
            .await
        }
        AliasCommand::List { domain } => {
            with_store(store, async |s| {
                let mut table = Table::new(&["ALIAS", "TARGET"]);
                let mut rows = Vec::new();
                for a in s.list_aliases(domain.as_deref()).await? {
                    let (alias, target) = (a.alias.to_string(), a.target.to_string());
                    table.row(vec![alias.clone(), target.clone()]);
                    rows.push(json!({ "alias": alias, "target": target }));
                }
                let empty = match &domain {
                    Some(d) => format!("no aliases in {d}"),
                    None => "no aliases".to_owned(),
                };
                Ok(Report::List {
                    table,
                    json: rows,
                    empty,
                })
            })
            .await
        }
    }
}
