//! `itsp ban add|rm|list`: banned source networks (the store's `bans` table). The server
//! bans sources itself after too many failed authentications (`[guard]`) and writes those
//! bans here; an operator adds and lifts any. A running server reads the table again
//! within a second of a change.

use clap::Subcommand;
use serde_json::json;
use store::Ban;

use super::output::{utc_ms, Report, Table};
use super::{unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp ban --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp ban add 192.0.2.7 --for 1h --reason \"scanner\"
  itsp ban add 198.51.100.0/24                # until removed
  itsp ban list
  itsp ban rm 192.0.2.7                       # also lifts a ban the server made";

/// What `itsp ban` does.
#[derive(Debug, Subcommand)]
pub(crate) enum BanCommand {
    /// Ban an address or network: its requests are dropped (or answered 403, `[guard]
    /// ban_answer`). Trusted networks are never banned.
    ///
    /// Example: itsp ban add 192.0.2.0/24 --for 30m --reason "scanner"
    Add {
        /// An address (192.0.2.7, 2001:db8::1) or a network (192.0.2.0/24).
        #[arg(value_name = "ADDRESS|NETWORK")]
        network: String,
        /// How long: seconds, or with a unit: 90s, 30m, 12h, 7d. Default: until removed.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why, for `itsp ban list`.
        #[arg(long, default_value = "banned by an operator")]
        reason: String,
    },
    /// Lift the ban of an address or network (written as it was banned).
    ///
    /// Example: itsp ban rm 192.0.2.7
    Rm {
        /// The address or network.
        #[arg(value_name = "ADDRESS|NETWORK")]
        network: String,
    },
    /// List the bans in force, the server's (AUTO yes) and the operators'.
    List,
}

/// Runs one `itsp ban` command.
pub(super) async fn run(command: BanCommand, store: &StoreArgs) -> Result<Report, Failure> {
    with_store(store, async |s| match command {
        BanCommand::Add {
            network,
            duration,
            reason,
        } => {
            let now = unix_now_ms();
            let until = duration
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .map(|secs| now.saturating_add(secs.saturating_mul(1000)));
            let network = s.add_ban(&network, until, &reason, false, now).await?;
            let text = match until {
                Some(u) => format!("banned {network} until {}", utc_ms(u)),
                None => format!("banned {network} until removed"),
            };
            Ok(Report::done(
                text,
                json!({ "network": network, "until_ms": until }),
            ))
        }
        BanCommand::Rm { network } => {
            s.remove_ban(&network).await?;
            Ok(Report::done(
                format!("lifted the ban of {network}"),
                json!({ "network": network }),
            ))
        }
        BanCommand::List => Ok(report(s.bans(unix_now_ms()).await?)),
    })
    .await
}

/// The bans as a table and as JSON.
fn report(bans: Vec<Ban>) -> Report {
    let mut table = Table::new(&["NETWORK", "UNTIL", "AUTO", "REASON"]);
    let mut rows = Vec::new();
    for b in bans {
        table.row(vec![
            b.network.clone(),
            b.until_ms.map_or("removed".to_owned(), utc_ms),
            if b.automatic { "yes" } else { "no" }.to_owned(),
            b.reason.clone(),
        ]);
        rows.push(json!({
            "network": b.network,
            "until_ms": b.until_ms,
            "until": b.until_ms.map(utc_ms),
            "automatic": b.automatic,
            "reason": b.reason,
            "created_ms": b.created_ms,
        }));
    }
    Report::List {
        table,
        json: rows,
        empty: "no bans".to_owned(),
    }
}

/// Parses `--for`: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_duration(text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::user(format!(
            "--for {text:?} is not a duration: give seconds or 90s, 30m, 12h, 7d"
        ))
    };
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(factor) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        for bad in ["", "h", "0", "-5m", "5w", "1.5h", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
