//! `itsp domain add|rm|list|set`: the domains the provider serves and their settings
//! (`self-registration=on|off`: visitors may create their own accounts in the portal).

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
  itsp domain set example.com self-registration=on   # visitors may sign up in the portal
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
    /// List the served domains and their settings.
    List,
    /// Change a domain's settings, NAME=VALUE: `self-registration=on|off` (off by
    /// default) lets visitors create their own accounts on the portal's "Create an
    /// account" page, confirmed by e-mail (needs `[smtp]`).
    ///
    /// Example: itsp domain set example.com self-registration=on
    Set {
        /// The domain.
        #[arg(value_name = "D")]
        domain: String,
        /// The settings, NAME=VALUE.
        #[arg(value_name = "NAME=VALUE", required = true)]
        settings: Vec<String>,
    },
}

/// `on`/`off` (and `true`/`false`, `yes`/`no`, `1`/`0`) of a setting.
fn switch(name: &str, value: &str) -> Result<bool, Failure> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(Failure::user(format!(
            "{name}: {value:?} is neither on nor off"
        ))),
    }
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
        DomainCommand::Set { domain, settings } => {
            let mut changes = Vec::new();
            for setting in &settings {
                let (name, value) = setting.split_once('=').ok_or_else(|| {
                    Failure::user(format!("{setting:?} is not NAME=VALUE"))
                        .hint("e.g. itsp domain set example.com self-registration=on")
                })?;
                match name {
                    "self-registration" => changes.push(switch(name, value)?),
                    other => {
                        return Err(Failure::user(format!("unknown domain setting {other:?}"))
                            .hint("the settings are: self-registration"))
                    }
                }
            }
            for on in &changes {
                s.set_self_registration(&domain, *on).await?;
            }
            let on = s.self_registration(&domain).await?;
            Ok(Report::done(
                format!(
                    "{domain}: self-registration {}",
                    if on { "on" } else { "off" }
                ),
                json!({ "domain": domain, "self_registration": on }),
            ))
        }
        DomainCommand::List => {
            let mut table = Table::new(&["DOMAIN", "SELF-REGISTRATION"]);
            let mut rows = Vec::new();
            let open = s.self_registration_domains().await?;
            for d in s.list_domains().await? {
                let on = open.contains(&d);
                table.row(vec![d.clone(), if on { "on" } else { "off" }.to_owned()]);
                rows.push(json!({ "domain": d, "self_registration": on }));
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
