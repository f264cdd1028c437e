//! `itsp ul show [USER]`: the user location, as the registrar stored it (Kamailio's
//! `kamctl ul show`). Bindings that have expired but are not purged yet are not shown.

use clap::Subcommand;
use serde_json::json;
use store::{flags, Binding};

use super::output::{utc, Report, Table};
use super::{address, unix_now, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp ul --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp ul show                              # every registered contact
  itsp ul show alice@example.com
  itsp ul show +4684567890@example.com      # an alias: alice's contacts
  itsp ul show --json";

/// What `itsp ul` does.
#[derive(Debug, Subcommand)]
pub(crate) enum UlCommand {
    /// Show the registered contacts: of everyone, or of one subscriber or alias.
    ///
    /// Columns: address of record, Contact URI, seconds until it expires, the source
    /// address the REGISTER came from, its transport, the User-Agent, and whether the
    /// phone is behind NAT. Example: itsp ul show +4684567890@example.com
    Show {
        /// A subscriber or alias, user@domain (an alias shows its subscriber's contacts).
        #[arg(value_name = "USER")]
        user: Option<String>,
    },
}

/// Runs one `itsp ul` command.
pub(super) async fn run(command: UlCommand, store: &StoreArgs) -> Result<Report, Failure> {
    let UlCommand::Show { user } = command;
    let wanted = user.as_deref().map(address).transpose()?;
    with_store(store, async |s| {
        let (bindings, empty) = match &wanted {
            Some(a) => {
                let aor = s
                    .resolve(&a.user, &a.domain)
                    .await?
                    .ok_or_else(|| Failure::user(format!("no such user or alias: {a}")))?;
                let empty = format!("{aor} is not registered");
                (s.bindings(&aor.aor()).await?, empty)
            }
            None => (s.all_bindings().await?, "nobody is registered".to_owned()),
        };
        Ok(report(bindings, unix_now(), empty))
    })
    .await
}

/// The bindings still valid at `now`, as a table and as JSON.
fn report(bindings: Vec<Binding>, now: i64, empty: String) -> Report {
    let mut table = Table::new(&[
        "AOR",
        "CONTACT",
        "EXPIRES",
        "RECEIVED",
        "TRANSPORT",
        "USER AGENT",
        "NAT",
    ]);
    let mut rows = Vec::new();
    for b in bindings.into_iter().filter(|b| b.expires_at > now) {
        let expires_in = b.expires_at - now;
        let nat = b.flags & flags::NAT != 0;
        table.row(vec![
            b.aor.clone(),
            b.contact.clone(),
            format!("{expires_in}s"),
            b.received.clone(),
            b.transport.clone(),
            b.user_agent.clone(),
            if nat { "yes" } else { "no" }.to_owned(),
        ]);
        rows.push(json!({
            "aor": b.aor,
            "contact": b.contact,
            "q": f64::from(b.q) / 1000.0,
            "expires_in": expires_in,
            "expires_at": b.expires_at,
            "expires": utc(b.expires_at),
            "received": b.received,
            "transport": b.transport,
            "local_socket": b.local_socket,
            "user_agent": b.user_agent,
            "nat": nat,
            "instance": b.instance,
            "reg_id": b.reg_id,
            "path": b.path,
        }));
    }
    Report::List {
        table,
        json: rows,
        empty,
    }
}
