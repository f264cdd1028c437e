//! `itsp conf add|pin|rm|list`: the conference rooms the operator configured (the store's
//! `conference_rooms`): a room of a served domain and an optional PIN its callers type
//! before they join. Callers reach room NAME by dialling the conference prefix and the
//! name (`conf-NAME`, `[media] conference_prefix`); a room not configured here opens on
//! demand without a PIN.

use clap::Subcommand;
use serde_json::json;

use super::output::{utc_ms, Report, Table};
use super::{serve_domain_first, unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp conf --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp conf add sales@example.com --pin 1234    # callers dial conf-sales, then 1234#
  itsp conf add standup@example.com             # a listed room without a PIN
  itsp conf pin sales@example.com 987654        # a new PIN
  itsp conf pin sales@example.com --none        # no PIN any more
  itsp conf list
  itsp conf rm sales@example.com";

/// What `itsp conf` does.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfCommand {
    /// Configure a room, with a PIN its callers type (followed by #) before they join.
    ///
    /// Example: itsp conf add sales@example.com --pin 1234
    Add {
        /// The room and its domain: NAME@DOMAIN (letters, digits, - _ .).
        #[arg(value_name = "ROOM@DOMAIN")]
        room: String,
        /// The PIN: 4 to 10 digits. Without it the room has none.
        #[arg(long, value_name = "DIGITS")]
        pin: Option<String>,
    },
    /// Change or remove the PIN of a configured room (callers already in stay).
    ///
    /// Example: itsp conf pin sales@example.com 987654
    Pin {
        /// The room: NAME@DOMAIN.
        #[arg(value_name = "ROOM@DOMAIN")]
        room: String,
        /// The new PIN: 4 to 10 digits.
        #[arg(value_name = "DIGITS", required_unless_present = "none")]
        pin: Option<String>,
        /// Remove the PIN.
        #[arg(long, conflicts_with = "pin")]
        none: bool,
    },
    /// Remove a room from the configuration (it still opens on demand, without a PIN).
    ///
    /// Example: itsp conf rm sales@example.com
    Rm {
        /// The room: NAME@DOMAIN.
        #[arg(value_name = "ROOM@DOMAIN")]
        room: String,
    },
    /// List the configured rooms (PINs are not shown).
    List {
        /// Only this domain's rooms.
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
    },
}

/// Splits `NAME@DOMAIN`.
fn room_and_domain(text: &str) -> Result<(&str, &str), Failure> {
    match text.rsplit_once('@') {
        Some((name, domain)) if !name.is_empty() && !domain.is_empty() => Ok((name, domain)),
        _ => Err(Failure::user(format!(
            "{text:?} is not ROOM@DOMAIN, e.g. sales@example.com"
        ))),
    }
}

/// Runs one `itsp conf` command.
pub(super) async fn run(command: ConfCommand, store: &StoreArgs) -> Result<Report, Failure> {
    with_store(store, async |s| match command {
        ConfCommand::Add { room, pin } => {
            let (name, domain) = room_and_domain(&room)?;
            let added = s
                .add_conference_room(domain, name, pin.as_deref(), unix_now_ms())
                .await
                .map_err(serve_domain_first)?;
            let with = if added.pin.is_some() {
                "with a PIN"
            } else {
                "without a PIN"
            };
            Ok(Report::done(
                format!(
                    "added conference room {}@{} {with}",
                    added.name, added.domain
                ),
                json!({ "room": added.name, "domain": added.domain, "pin": added.pin.is_some() }),
            ))
        }
        ConfCommand::Pin { room, pin, none } => {
            let (name, domain) = room_and_domain(&room)?;
            let pin = if none { None } else { pin };
            s.set_conference_pin(domain, name, pin.as_deref()).await?;
            let text = match pin {
                Some(_) => format!("changed the PIN of conference room {room}"),
                None => format!("conference room {room} has no PIN now"),
            };
            Ok(Report::done(
                text,
                json!({ "room": name, "domain": domain, "pin": pin.is_some() }),
            ))
        }
        ConfCommand::Rm { room } => {
            let (name, domain) = room_and_domain(&room)?;
            s.remove_conference_room(domain, name).await?;
            Ok(Report::done(
                format!("removed conference room {room}"),
                json!({ "room": name, "domain": domain }),
            ))
        }
        ConfCommand::List { domain } => {
            let rooms = s.conference_rooms(domain.as_deref()).await?;
            let mut table = Table::new(&["ROOM", "DOMAIN", "PIN", "ADDED (UTC)"]);
            let mut rows = Vec::new();
            for r in rooms {
                table.row(vec![
                    r.name.clone(),
                    r.domain.clone(),
                    if r.pin.is_some() { "yes" } else { "no" }.into(),
                    utc_ms(r.created_ms),
                ]);
                rows.push(json!({
                    "room": r.name,
                    "domain": r.domain,
                    "pin": r.pin.is_some(),
                    "added": utc_ms(r.created_ms),
                }));
            }
            Ok(Report::List {
                table,
                json: rows,
                empty: "no conference rooms configured (rooms open on demand without a PIN)".into(),
            })
        }
    })
    .await
}
