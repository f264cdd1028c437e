//! The audit log entries of the command line's admin changes: `itsp user add`, `itsp
//! domain set`, `itsp token create`, ... are written to the same audit log as the
//! portal's (`store::Store::record_audit`, `itsp audit list`), from one place: `main`
//! asks [`Change::of`] about the parsed command line before it runs the command, and the
//! admin commands' runner (and `itsp hangup`) records the outcome ([`Change::record`]).
//! Which commands change something is the tables [`CHANGES`] and [`SERVER_CHANGES`]; every other admin command is in the table
//! `READ_ONLY` of the tests, which make sure each admin subcommand is in exactly one.
//!
//! An entry names the actor `cli:USER` (the OS user from `$USER` or `$LOGNAME`, else
//! `cli:uid N`), the source `local`, the action `itsp PATH ARGS` with the arguments as
//! given (secrets — passwords, PINs, tokens, and `NAME=VALUE` settings whose name is
//! one — replaced by `***`; the store and output options left out), the exit status as
//! its status (0 done, 1 refused, 2 failed) and the detail `done` or `error: MESSAGE`.

use std::ffi::OsStr;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use crate::store_args::StoreArgs;

/// What stands in an entry for a secret's value.
pub(crate) const HIDDEN: &str = "***";

/// The source the entries name: the command ran on the machine itself.
pub(crate) const SOURCE: &str = "local";

/// The subcommands that change something (the store, or a running server's state):
/// each one's path under `itsp`.
pub(crate) const CHANGES: &[&[&str]] = &[
    &["user", "add"],
    &["user", "passwd"],
    &["user", "disable"],
    &["user", "enable"],
    &["user", "rm"],
    &["user", "set"],
    &["alias", "add"],
    &["alias", "rm"],
    &["group", "add"],
    &["group", "rm"],
    &["domain", "add"],
    &["domain", "rm"],
    &["domain", "set"],
    &["ul", "rm"],
    &["rate", "import"],
    &["account", "set"],
    &["account", "topup"],
    &["account", "adjust"],
    &["account", "remove"],
    &["invoice", "run"],
    &["ban", "add"],
    &["ban", "rm"],
    &["token", "create"],
    &["token", "revoke"],
    &["conf", "add"],
    &["conf", "pin"],
    &["conf", "rm"],
    &["conf", "kick"],
    &["conf", "mute"],
];

/// The commands outside the admin ones that change a running server's state (through
/// its control socket): recorded the same way.
pub(crate) const SERVER_CHANGES: &[&[&str]] = &[&["hangup"]];

/// The admin subcommands that only read (not recorded).
#[cfg(test)]
const READ_ONLY: &[&[&str]] = &[
    &["user", "list"],
    &["user", "show"],
    &["alias", "list"],
    &["group", "list"],
    &["domain", "list"],
    &["ul", "show"],
    &["calls"],
    &["acc"],
    &["cdr", "list"],
    &["rate", "list"],
    &["rate", "test"],
    &["account", "show"],
    &["account", "list"],
    &["account", "history"],
    &["account", "check"],
    &["invoice", "list"],
    &["invoice", "show"],
    &["ban", "list"],
    &["token", "list"],
    &["audit", "list"],
    &["voicemail", "list"],
    &["conf", "list"],
];

/// A change about to be made with the command line: what to record once it ran.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    action: String,
    store: StoreArgs,
}

impl Change {
    /// The change `matches` (the parsed command line of `itsp`) asks for, or `None` for a
    /// command that is not in [`CHANGES`].
    pub(crate) fn of(matches: &ArgMatches) -> Option<Change> {
        let mut command = crate::Cli::command();
        command.build();
        let mut path = Vec::new();
        let mut words = vec!["itsp".to_owned()];
        let mut level = matches;
        let mut store = StoreArgs {
            data_dir: "./data".into(),
            db: None,
        };
        while let Some((name, sub)) = level.subcommand() {
            let Some(def) = command.find_subcommand(name) else {
                break;
            };
            command = def.clone();
            path.push(name.to_owned());
            words.push(name.to_owned());
            words.extend(arguments(&command, sub));
            if let Ok(Some(dir)) = sub.try_get_one::<std::path::PathBuf>("data_dir") {
                store.data_dir = dir.clone();
            }
            if let Ok(Some(db)) = sub.try_get_one::<String>("db") {
                store.db = Some(db.clone());
            }
            level = sub;
        }
        let changes = CHANGES
            .iter()
            .chain(SERVER_CHANGES)
            .any(|p| p.iter().copied().eq(path.iter().map(String::as_str)));
        changes.then(|| Change {
            action: words.join(" "),
            store,
        })
    }

    /// What the entry's action reads: `itsp user add alice@example.com --password ***`.
    #[cfg(test)]
    fn action(&self) -> &str {
        &self.action
    }

    /// Writes the entry: `error` is `None` when the command did it, else its exit status
    /// and message. A store that cannot take it is a warning on stderr; the change stands.
    pub(crate) async fn record(&self, error: Option<(u8, &str)>) {
        let (status, detail) = match error {
            None | Some((0, _)) => (0, "done".to_owned()),
            Some((code, "")) => (i64::from(code), "error".to_owned()),
            Some((code, message)) => (i64::from(code), format!("error: {message}")),
        };
        let entry = store::NewAuditEntry {
            at_ms: crate::admin::unix_now_ms(),
            actor: actor(),
            source: SOURCE.to_owned(),
            action: self.action.clone(),
            status,
            detail: Some(detail),
        };
        let written = match self.store.open().await {
            Ok(s) => {
                let r = s.record_audit(&entry).await.map_err(anyhow::Error::from);
                s.close().await;
                r
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            eprintln!("itsp: warning: the audit log did not take this change: {e:#}");
        }
    }
}

/// `cli:USER`: the OS user from `$USER` (or `$LOGNAME`), else `cli:uid N`, else
/// `cli:unknown`.
pub(crate) fn actor() -> String {
    let named = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|n| !n.trim().is_empty());
    match named {
        Some(name) => format!("cli:{name}"),
        None => match uid() {
            Some(uid) => format!("cli:uid {uid}"),
            None => "cli:unknown".to_owned(),
        },
    }
}

/// This process's user id: the owner of `/proc/self` (Linux).
fn uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The arguments given to `command` on the command line, as words: positional values,
/// `--name VALUE` options and `--flag`s, in their definition order; global options (the
/// store, `--json`, the log) and values from defaults or the environment left out,
/// secrets hidden.
fn arguments(command: &clap::Command, matches: &ArgMatches) -> Vec<String> {
    let mut words = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        // The store, control socket and output options are where and how, not what.
        if arg.is_global_set()
            || matches!(
                id,
                "help" | "version" | "data_dir" | "db" | "socket" | "json"
            )
        {
            continue;
        }
        if matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let secret = portal::audit::is_secret(id);
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| value(v, secret))
            .collect();
        if arg.is_positional() {
            words.extend(values);
            continue;
        }
        let name = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => format!("--{id}"),
        };
        if arg.get_action().takes_values() {
            for v in values {
                words.push(name.clone());
                words.push(v);
            }
        } else if values.iter().all(|v| v != "false") {
            words.push(name);
        }
    }
    words
}

/// One value for the log: `***` for a secret; a `NAME=VALUE` setting with a secret name
/// as `NAME=***`; quoted when it holds spaces or is empty.
fn value(raw: &OsStr, secret: bool) -> String {
    if secret {
        return HIDDEN.to_owned();
    }
    let text = raw.to_string_lossy();
    let text = match text.split_once('=') {
        Some((name, _)) if portal::audit::is_secret(name) => format!("{name}={HIDDEN}"),
        _ => text.into_owned(),
    };
    if text.is_empty() || text.contains(char::is_whitespace) {
        format!("'{}'", text.replace('\'', "'\\''"))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Subcommand;

    /// Every leaf subcommand path of `command`.
    fn leaves(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let subs: Vec<_> = command
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push(prefix.to_vec());
        }
        for sub in subs {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            leaves(sub, &path, out);
        }
    }

    #[test]
    fn every_admin_subcommand_is_classified() {
        let mut command = crate::Cli::command();
        command.build();
        let admin = crate::admin::Command::augment_subcommands(clap::Command::new("admin"));
        let mut all = Vec::new();
        for top in admin.get_subcommands() {
            let name = top.get_name().to_owned();
            let def = command.find_subcommand(&name).expect("flattened into itsp");
            leaves(def, &[name], &mut all);
        }
        let known = |p: &Vec<String>, table: &[&[&str]]| {
            table
                .iter()
                .any(|t| t.iter().copied().eq(p.iter().map(String::as_str)))
        };
        for path in &all {
            let (c, r) = (known(path, CHANGES), known(path, READ_ONLY));
            assert!(c ^ r, "{path:?}: in CHANGES {c}, in READ_ONLY {r}");
        }
        for p in CHANGES.iter().chain(READ_ONLY) {
            assert!(
                all.iter()
                    .any(|a| p.iter().copied().eq(a.iter().map(String::as_str))),
                "{p:?} is not an admin subcommand"
            );
        }
    }

    fn change(args: &[&str]) -> Option<String> {
        let matches = crate::Cli::command()
            .try_get_matches_from(args)
            .expect("parses");
        Change::of(&matches).map(|c| c.action().to_owned())
    }

    #[test]
    fn secrets_are_hidden_and_reads_ignored() {
        assert_eq!(
            change(&[
                "itsp",
                "user",
                "add",
                "a@example.com",
                "--password",
                "s3cret",
                "--data-dir",
                "/tmp/x",
                "--json"
            ])
            .as_deref(),
            Some("itsp user add a@example.com --password ***")
        );
        assert_eq!(
            change(&["itsp", "conf", "pin", "r@example.com", "1234"]).as_deref(),
            Some("itsp conf pin r@example.com ***")
        );
        assert_eq!(
            change(&[
                "itsp",
                "user",
                "set",
                "a@example.com",
                "vm_pin=9876",
                "fwd_busy=x y"
            ])
            .as_deref(),
            Some("itsp user set a@example.com vm_pin=*** 'fwd_busy=x y'")
        );
        assert_eq!(change(&["itsp", "user", "list"]), None);
        assert_eq!(change(&["itsp", "audit", "list", "--json"]), None);
        assert_eq!(change(&["itsp", "lint", "x.sip"]), None);
        assert_eq!(
            change(&["itsp", "hangup", "a84b@pc33", "--data-dir", "/tmp/x"]).as_deref(),
            Some("itsp hangup a84b@pc33")
        );
        assert_eq!(change(&["itsp", "status"]), None);
        let db = change(&[
            "itsp",
            "domain",
            "add",
            "example.com",
            "--db",
            "postgres://u:pw@h/d",
        ])
        .expect("a change");
        assert_eq!(db, "itsp domain add example.com");
    }
}
