//! `itsp domain add|rm|list`: the domains the provider serves.

use clap::Subcommand;
use serde_json::json;
use store::StoreError;

use super::output::{Report, Table};
use super::{with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp domain --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp domain add example.com
  itsp domain list --json
  itsp domain rm example.com      # refused while it has users or aliases";

/// What `itsp domain` does.
#[derive(Debug, Subcommand)]
pub(crate) enum DomainCommand {
    /// Start serving a domain (a host name or IP address; stored lowercase).
    ///
    /// Example: itsp domain add example.com
    Add {
        /// The domain.
        #[arg(value_name = "D")]
        domain: String,
    },
    /// Stop serving a domain that has no subscribers or aliases left.
    ///
    /// Example: itsp domain rm example.com
    Rm {
        /// The domain.
        #[arg(value_name = "D")]
        domain: String,
    },
    /// List the served domains.
    List,
}

/// Runs one `itsp domain` command.
pub(super) async fn run(command: DomainCommand, store: &StoreArgs) -> Result<Report, Failure> {
    with_store(store, async |s| match command {
        DomainCommand::Add { domain } => {
            s.add_domain(&domain).await?;
            Ok(Report::done(
                format!("now serving {domain}"),
                json!({ "domain": domain }),
            ))
        }
        DomainCommand::Rm { domain } => {
            s.remove_domain(&domain).await.map_err(|e| match e {
                StoreError::DomainInUse(d) => {
                    let hint =
                        format!("see itsp user list --domain {d} and itsp alias list --domain {d}");
                    Failure::from(StoreError::DomainInUse(d)).hint(&hint)
                }
                e => e.into(),
            })?;
            Ok(Report::done(
                format!("no longer serving {domain}"),
                json!({ "domain": domain }),
            ))
        }
        DomainCommand::List => {
            let mut table = Table::new(&["DOMAIN"]);
            let mut rows = Vec::new();
            for d in s.list_domains().await? {
                table.row(vec![d.clone()]);
                rows.push(json!({ "domain": d }));
            }
            Ok(Report::List {
                table,
                json: rows,
                empty: "no domains: add one with itsp domain add example.com".to_owned(),
            })
        }
    })
    .await
}
