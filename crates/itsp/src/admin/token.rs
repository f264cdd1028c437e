//! `itsp token create|list|revoke`: bearer tokens of the REST API (the portal, `/api/v1`).
//! A token is shown once, when it is made; the store keeps only its SHA-256. An admin token
//! may do everything; a subscriber's token acts as that subscriber.

use clap::Subcommand;
use serde_json::json;

use super::output::{utc, Report, Table};
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp token --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp token create --admin --name provisioning
  itsp token create --user alice@example.com --name alice-laptop
  curl -H \"Authorization: Bearer itsp_...\" http://127.0.0.1:8080/api/v1/subscribers
  itsp token list
  itsp token revoke 3";

/// What `itsp token` does.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it (once: only its hash is kept).
    ///
    /// Example: itsp token create --admin --name provisioning
    Create {
        /// An admin token: everything the API offers.
        #[arg(long, required_unless_present = "user", conflicts_with = "user")]
        admin: bool,
        /// A token acting as this subscriber, user@domain: only their own resources.
        #[arg(long, value_name = "USER@DOMAIN")]
        user: Option<String>,
        /// What the token is for, for `itsp token list`.
        #[arg(long, value_name = "N", default_value = "api")]
        name: String,
    },
    /// List the tokens: id, name, whose, when made and last used (never the secrets).
    List,
    /// Revoke a token by its id (see `itsp token list`); it stops working at once.
    ///
    /// Example: itsp token revoke 3
    Revoke {
        /// The token's id.
        #[arg(value_name = "ID")]
        id: i64,
    },
}

/// Runs one `itsp token` command.
pub(super) async fn run(command: TokenCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        TokenCommand::Create { admin, user, name } => {
            let owner = match (admin, user) {
                (_, Some(u)) => Some(address(&u)?),
                (true, None) => None,
                (false, None) => return Err(Failure::user("say --admin or --user USER@DOMAIN")),
            };
            with_store(store, async |s| {
                let (token, secret) = s.create_api_token(&name, owner.as_ref()).await?;
                let whose = owner
                    .as_ref()
                    .map_or_else(|| "admin".to_owned(), ToString::to_string);
                Ok(Report::done(
                    format!(
                        "{secret}\n(token {} \"{}\" for {whose}; shown only now: keep it)",
                        token.id, token.name
                    ),
                    json!({
                        "id": token.id,
                        "name": token.name,
                        "user": owner.as_ref().map(ToString::to_string),
                        "admin": owner.is_none(),
                        "token": secret,
                    }),
                ))
            })
            .await
        }
        TokenCommand::List => {
            with_store(store, async |s| {
                let tokens = s.api_tokens().await?;
                let mut table =
                    Table::new(&["ID", "NAME", "FOR", "CREATED (UTC)", "LAST USED (UTC)"]);
                let mut rows = Vec::new();
                for t in tokens {
                    let whose = t
                        .owner
                        .as_ref()
                        .map_or_else(|| "admin".to_owned(), ToString::to_string);
                    let last = t.last_used_at.map(utc).unwrap_or_else(|| "never".into());
                    table.row(vec![
                        t.id.to_string(),
                        t.name.clone(),
                        whose.clone(),
                        utc(t.created_at),
                        last,
                    ]);
                    rows.push(json!({
                        "id": t.id,
                        "name": t.name,
                        "user": t.owner.as_ref().map(ToString::to_string),
                        "admin": t.owner.is_none(),
                        "created_at": t.created_at,
                        "last_used_at": t.last_used_at,
                    }));
                }
                Ok(Report::List {
                    table,
                    json: rows,
                    empty: "no tokens: make one with itsp token create --admin".to_owned(),
                })
            })
            .await
        }
        TokenCommand::Revoke { id } => {
            with_store(store, async |s| {
                s.revoke_api_token(id).await?;
                Ok(Report::done(
                    format!("revoked token {id}"),
                    json!({ "id": id }),
                ))
            })
            .await
        }
    }
}
