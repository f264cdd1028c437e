//! `itsp ul show [USER]`: the user location, as the registrar stored it (Kamailio's
//! `kamctl ul show`). Bindings that have expired but are not purged yet are not shown.
//! `itsp ul rm USER [CONTACT]` removes registrations (Kamailio's `kamctl ul rm`) from the
//! store and tells a running server on the same data directory (its control socket) to
//! read them again, so the phone stops receiving calls at once.

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
  itsp ul show --json
  itsp ul rm alice@example.com                             # every phone of alice
  itsp ul rm alice@example.com 'sip:alice@192.0.2.7:5060'  # one of them";

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
    /// Remove registrations: every contact of a subscriber, or one.
    ///
    /// The running server (the one whose control socket is in the same data directory)
    /// is told, and stops reaching the removed phones at once; a phone that registers
    /// again is reachable again. Example: itsp ul rm alice@example.com
    Rm {
        /// A subscriber or alias, user@domain.
        #[arg(value_name = "USER")]
        user: String,
        /// The Contact URI of one registration, as `itsp ul show` lists it (default: all).
        #[arg(value_name = "CONTACT")]
        contact: Option<String>,
    },
}

/// Runs one `itsp ul` command.
pub(super) async fn run(command: UlCommand, store: &StoreArgs) -> Result<Report, Failure> {
    let user = match command {
        UlCommand::Show { user } => user,
        UlCommand::Rm { user, contact } => return remove(store, &user, contact.as_deref()).await,
    };
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

/// `itsp ul rm`: removes the registrations, then tells a running server.
async fn remove(store: &StoreArgs, user: &str, contact: Option<&str>) -> Result<Report, Failure> {
    let a = address(user)?;
    let aor = with_store(store, async |s| {
        let aor = s
            .resolve(&a.user, &a.domain)
            .await?
            .ok_or_else(|| Failure::user(format!("no such user or alias: {a}")))?
            .aor();
        let removed = match contact {
            Some(c) => u64::from(s.remove_binding(&aor, c).await?),
            None => s.remove_bindings(&aor).await?,
        };
        if removed == 0 {
            return Err(Failure::user(match contact {
                Some(c) => format!("{aor} has no registration {c} (see itsp ul show {aor})"),
                None => format!("{aor} is not registered"),
            }));
        }
        Ok((aor, removed))
    })
    .await?;
    let (aor, removed) = aor;
    let control = crate::control_client::ControlArgs {
        data_dir: store.data_dir.clone(),
        socket: None,
    };
    let told = matches!(
        crate::control_client::ask(
            &control,
            &server::control::protocol::Request::BindingsChanged { aor: aor.clone() },
        ),
        Ok(server::control::protocol::Answer::Reloading { .. })
    );
    let server_note = if told {
        "; the running server no longer reaches them"
    } else {
        "; no server runs on this data directory"
    };
    Ok(Report::done(
        format!("removed {removed} registration(s) of {aor}{server_note}"),
        json!({ "aor": aor, "removed": removed, "server_told": told }),
    ))
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
