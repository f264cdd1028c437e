//! `itsp conf add|pin|rm|list|kick|mute`: the conference rooms the operator configured
//! (the store's `conference_rooms`: a room of a served domain and an optional PIN its
//! callers type before they join), and who is in them on a running `itsp serve` (its
//! control socket: `list` shows them, `kick` ends a participant's call, `mute` stops the
//! others hearing one). Callers reach room NAME by dialling the conference prefix and the
//! name (`conf-NAME`, `[media] conference_prefix`); a room not configured here opens on
//! demand without a PIN.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use server::control::protocol::{Answer, ConferenceAction, LiveRoom, Request};

use super::output::{utc_ms, Report, Table};
use super::{serve_domain_first, unix_now_ms, with_store, Failure};
use crate::control_client::ControlArgs;
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp conf --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp conf add sales@example.com --pin 1234    # callers dial conf-sales, then 1234#
  itsp conf add standup@example.com             # a listed room without a PIN
  itsp conf pin sales@example.com 987654        # a new PIN
  itsp conf pin sales@example.com --none        # no PIN any more
  itsp conf list                                # rooms, and who is in them now
  itsp conf mute sales@example.com 7            # participant 7 (from the list) is muted
  itsp conf mute sales@example.com 7 --off
  itsp conf kick sales@example.com 7            # ends participant 7's call
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
    /// List the rooms: the configured ones (PINs are not shown) and, from a running
    /// server, who is in each room now (ID, caller, muted, time in the room).
    List {
        /// Only this domain's rooms.
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// The server's control socket, when its config moves it (`[control] socket`).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// End a participant's call (the server sends it a BYE).
    ///
    /// Example: itsp conf kick sales@example.com 7
    Kick {
        /// The room: NAME@DOMAIN.
        #[arg(value_name = "ROOM@DOMAIN")]
        room: String,
        /// The participant's ID, from `itsp conf list`.
        #[arg(value_name = "ID")]
        participant: u64,
        /// The server's control socket, when its config moves it (`[control] socket`).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Mute a participant: the others stop hearing it (it still hears them); --off
    /// unmutes.
    ///
    /// Example: itsp conf mute sales@example.com 7
    Mute {
        /// The room: NAME@DOMAIN.
        #[arg(value_name = "ROOM@DOMAIN")]
        room: String,
        /// The participant's ID, from `itsp conf list`.
        #[arg(value_name = "ID")]
        participant: u64,
        /// Unmute instead.
        #[arg(long)]
        off: bool,
        /// The server's control socket, when its config moves it (`[control] socket`).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// Asks the running server about its rooms.
fn ask_rooms(
    store: &StoreArgs,
    socket: Option<PathBuf>,
    action: ConferenceAction,
) -> Result<Answer, String> {
    let control = ControlArgs {
        data_dir: store.data_dir.clone(),
        socket,
    };
    crate::control_client::ask(&control, &Request::Conference { action })
}

/// A participant action's answer as the command's report.
fn participant_report(
    answer: Result<Answer, String>,
    room: &str,
    participant: u64,
) -> Result<Report, Failure> {
    match answer {
        Ok(Answer::ConferenceDone { message }) => Ok(Report::done(
            message,
            json!({ "room": room, "participant": participant }),
        )),
        Ok(Answer::Error { error }) => Err(Failure::user(error)),
        Ok(other) => Err(Failure::server(format!(
            "itsp serve answered something unexpected: {other:?}"
        ))),
        Err(message) => Err(Failure::server(message)),
    }
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
        ConfCommand::List { domain, socket } => {
            let configured = s.conference_rooms(domain.as_deref()).await?;
            // Who is in the rooms: only a running server knows.
            let live: Option<Vec<LiveRoom>> = match ask_rooms(store, socket, ConferenceAction::List)
            {
                Ok(Answer::Rooms { rooms }) => Some(rooms),
                Ok(Answer::Error { error }) => {
                    eprintln!("itsp: {error}");
                    None
                }
                Ok(_) | Err(_) => None,
            };
            Ok(list_rooms(&configured, live, domain.as_deref()))
        }
        ConfCommand::Kick {
            room,
            participant,
            socket,
        } => {
            let (name, domain) = room_and_domain(&room)?;
            let action = ConferenceAction::Kick {
                room: name.to_ascii_lowercase(),
                domain: domain.to_owned(),
                participant,
            };
            participant_report(ask_rooms(store, socket, action), &room, participant)
        }
        ConfCommand::Mute {
            room,
            participant,
            off,
            socket,
        } => {
            let (name, domain) = room_and_domain(&room)?;
            let action = ConferenceAction::Mute {
                room: name.to_ascii_lowercase(),
                domain: domain.to_owned(),
                participant,
                muted: !off,
            };
            participant_report(ask_rooms(store, socket, action), &room, participant)
        }
    })
    .await
}

/// The rooms configured and in use (`live`: `None` when no server answered), one row per
/// participant (or per empty room), by domain and name.
fn list_rooms(
    configured: &[store::ConferenceRoom],
    live: Option<Vec<LiveRoom>>,
    domain: Option<&str>,
) -> Report {
    let wanted = |d: &str| domain.is_none_or(|w| w.eq_ignore_ascii_case(d));
    let live_rooms: Vec<LiveRoom> = live
        .iter()
        .flatten()
        .filter(|r| wanted(&r.domain))
        .cloned()
        .collect();
    let mut names: Vec<(String, String)> = configured
        .iter()
        .map(|r| (r.domain.clone(), r.name.clone()))
        .chain(
            live_rooms
                .iter()
                .map(|r| (r.domain.clone(), r.room.clone())),
        )
        .collect();
    names.sort();
    names.dedup();
    let mut table = Table::new(&[
        "ROOM",
        "DOMAIN",
        "PIN",
        "ID",
        "CALLER",
        "MUTED",
        "IN ROOM (S)",
    ]);
    let mut rows = Vec::new();
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    for (d, n) in names {
        let config = configured.iter().find(|r| r.domain == d && r.name == n);
        let pin = config.is_some_and(|r| r.pin.is_some());
        let people = live_rooms
            .iter()
            .find(|r| r.domain == d && r.room == n)
            .map(|r| r.participants.clone())
            .unwrap_or_default();
        if people.is_empty() {
            let dash = || "-".to_owned();
            table.row(vec![
                n.clone(),
                d.clone(),
                yes_no(pin),
                dash(),
                dash(),
                dash(),
                dash(),
            ]);
        }
        for p in &people {
            table.row(vec![
                n.clone(),
                d.clone(),
                yes_no(pin),
                p.participant.to_string(),
                p.caller.clone(),
                yes_no(p.muted),
                p.in_room_secs.to_string(),
            ]);
        }
        rows.push(json!({
            "room": n,
            "domain": d,
            "configured": config.is_some(),
            "pin": pin,
            "added": config.map(|r| utc_ms(r.created_ms)),
            "participants": people,
        }));
    }
    let empty = if live.is_some() {
        "no conference rooms configured and nobody in a room"
    } else {
        "no conference rooms configured (and no running server to say who is in a room)"
    };
    Report::List {
        table,
        json: rows,
        empty: empty.into(),
    }
}
