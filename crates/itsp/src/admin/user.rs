//! `itsp user add|passwd|rm|list|set|show`: subscribers, their passwords and preferences
//! (`set` and `show` live in `preferences.rs`).

use std::collections::BTreeMap;
use std::io::BufRead;

use clap::{Args, Subcommand};
use serde_json::json;
use store::{Address, Store};

use super::output::{utc, Report, Table};
use super::{address, preferences, serve_domain_first, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp user --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp domain add example.com
  echo 's3cret' | itsp user add alice@example.com --password-stdin --email alice@mail.example
  itsp user passwd alice@example.com --password-stdin < new-password.txt
  itsp user passwd alice@example.com --web-only --password-stdin   # the portal's only
  itsp user add admin@example.com --password-stdin --admin         # administers the portal
  itsp user list --domain example.com
  itsp user list --json
  itsp user set alice@example.com forward-busy=sip:bob@example.com no-answer-after=20
  itsp user show alice@example.com
  itsp user disable alice@example.com                             # enable: again
  itsp user rm alice@example.com
  itsp user list --data-dir /var/lib/itsp
  ITSP_DB=postgres://itsp:PASSWORD@db.example/itsp itsp user list";

/// What `itsp user` does.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a subscriber user@domain in a served domain.
    ///
    /// The password is turned into digest hashes (MD5 and SHA-256, for `user` and for
    /// `user@domain` as the login name) and not kept; it is also the web password of the
    /// portal (kept as an argon2id hash). Example:
    /// echo 's3cret' | itsp user add alice@example.com --password-stdin
    Add {
        /// The address, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Contact e-mail (voicemail, password resets).
        #[arg(long, value_name = "E")]
        email: Option<String>,
        /// Make the subscriber an administrator of the web portal and REST API.
        #[arg(long)]
        admin: bool,
    },
    /// Set a subscriber's password: the SIP password and the web password of the portal,
    /// or one of them.
    ///
    /// Example: itsp user passwd alice@example.com --password-stdin < new-password.txt
    Passwd {
        /// The address, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Change only the SIP (digest) password.
        #[arg(long, conflicts_with = "web_only")]
        sip_only: bool,
        /// Change only the web password of the portal.
        #[arg(long)]
        web_only: bool,
    },
    /// Disable a subscriber: everything is kept, but their phones cannot register or
    /// call (SIP authentication fails as for an unknown user; their registrations are
    /// removed, and a running server told) and they cannot log in to the portal (their
    /// sessions end, their API tokens are refused).
    ///
    /// Example: itsp user disable alice@example.com
    Disable {
        /// The address, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
    /// Enable a disabled subscriber again.
    ///
    /// Example: itsp user enable alice@example.com
    Enable {
        /// The address, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
    /// Remove a subscriber with its aliases, groups, preferences and registrations.
    ///
    /// Example: itsp user rm alice@example.com
    Rm {
        /// The address, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
    /// List the subscribers with their e-mail, creation time (UTC) and aliases.
    ///
    /// Example: itsp user list --domain example.com --json
    List {
        /// Only the subscribers of this domain.
        #[arg(long, value_name = "D")]
        domain: Option<String>,
    },
    /// Set or clear a subscriber's preferences: call forwarding.
    ///
    /// Give any number of NAME=VALUE; NAME= (nothing after =) clears that one. All are
    /// checked before anything changes. Forwarding targets are sip:, sips: or tel: URIs.
    /// The proxy reads them on every call, so a change applies to the next call.
    #[command(after_long_help = set_help())]
    Set {
        /// The subscriber, user@domain (not an alias).
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        /// NAME=VALUE to set, NAME= to clear.
        #[arg(value_name = "NAME=VALUE", required = true)]
        settings: Vec<String>,
    },
    /// Show one subscriber: e-mail, creation time, aliases, groups and preferences.
    ///
    /// Password hashes are never shown. Example: itsp user show alice@example.com --json
    Show {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
}

/// The end of `itsp user set --help`: the preferences and examples.
fn set_help() -> String {
    format!(
        "{}\n\
         Examples:\n  \
         itsp user set alice@example.com forward-busy=sip:bob@example.com \\\n      \
         forward-no-answer=sip:vm@example.com no-answer-after=20\n  \
         itsp user set alice@example.com forward-always=tel:+4684567890\n  \
         itsp user set alice@example.com forward-always=     # stop forwarding every call\n  \
         itsp user show alice@example.com",
        preferences::names_help()
    )
}

/// How the password is given: one of the two is required.
#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// The password. It shows in `ps` and in the shell history: prefer --password-stdin.
    #[arg(long, value_name = "P", conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input (the newline is dropped).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    /// The password from the command line or standard input.
    fn read(self) -> Result<String, Failure> {
        if let Some(p) = self.password {
            return Ok(p);
        }
        if !self.password_stdin {
            return Err(Failure::user(
                "no password given: use --password-stdin (e.g. `echo 's3cret' | itsp user \
                 add alice@example.com --password-stdin`) or --password P",
            ));
        }
        // At most a longest password and its line end are read: a file sent by mistake is
        // refused, not read whole.
        let limit = store::MAX_PASSWORD_BYTES + 2;
        let mut line = Vec::new();
        let n = std::io::Read::take(std::io::stdin().lock(), limit as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::user(format!("cannot read the password from stdin: {e}")))?;
        if n == 0 {
            return Err(Failure::user(
                "--password-stdin: standard input is empty; send the password as one line",
            ));
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let password = line.strip_suffix(b"\r").unwrap_or(line);
        if password.len() > store::MAX_PASSWORD_BYTES {
            return Err(Failure::user(format!(
                "--password-stdin: the password is longer than {} bytes",
                store::MAX_PASSWORD_BYTES
            )));
        }
        String::from_utf8(password.to_vec())
            .map_err(|_| Failure::user("--password-stdin: the password is not UTF-8 text"))
    }
}

/// Runs one `itsp user` command.
pub(super) async fn run(command: UserCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        UserCommand::Add {
            address: a,
            password,
            email,
            admin,
        } => {
            let a = address(&a)?;
            let password = password.read()?;
            with_store(store, async |s| {
                let sub = s
                    .add_subscriber(&a.user, &a.domain, &password, email.as_deref())
                    .await
                    .map_err(serve_domain_first)?;
                s.set_web_password(&a.user, &a.domain, &password).await?;
                if admin {
                    s.set_admin(&a.user, &a.domain, true).await?;
                }
                let role = if admin { " (portal administrator)" } else { "" };
                Ok(Report::done(
                    format!("added user {}{role}", sub.address),
                    json!({
                        "user": sub.address.to_string(),
                        "email": sub.email,
                        "created_at": sub.created_at,
                        "admin": admin,
                    }),
                ))
            })
            .await
        }
        UserCommand::Passwd {
            address: a,
            password,
            sip_only,
            web_only,
        } => {
            let a = address(&a)?;
            let password = password.read()?;
            with_store(store, async |s| {
                if !web_only {
                    s.set_password(&a.user, &a.domain, &password).await?;
                }
                if !sip_only {
                    s.set_web_password(&a.user, &a.domain, &password).await?;
                }
                Ok(())
            })
            .await?;
            // The old SIP password stops working at once on a running server.
            let told = !web_only && forget_cached_credentials(store, &a);
            Ok(Report::done(
                format!("changed the password of {a}"),
                json!({ "user": a.to_string(), "server_told": told }),
            ))
        }
        UserCommand::Disable { address: a } => disable(store, &a, true).await,
        UserCommand::Enable { address: a } => disable(store, &a, false).await,
        UserCommand::Rm { address: a } => {
            let a = address(&a)?;
            let report = with_store(store, async |s| {
                s.remove_subscriber(&a.user, &a.domain).await?;
                // Their personal greeting goes too (DATA_DIR/voicemail, as `itsp serve`
                // keeps it), so a later subscriber of the name is not greeted with it.
                let mailbox = media::service::Mailbox {
                    user: a.user.clone(),
                    domain: a.domain.clone(),
                };
                let voicemail = store.data_dir.join("voicemail");
                if let Err(e) = media::service::greeting::remove_greeting(&voicemail, &mailbox) {
                    tracing::warn!(user = %a, error = %e, "greeting not removed");
                }
                Ok(Report::done(
                    format!(
                        "removed user {a} with its aliases, groups, preferences and registrations"
                    ),
                    json!({ "user": a.to_string() }),
                ))
            })
            .await?;
            // A running server refuses their credentials at once and forgets their
            // registrations.
            forget_cached_credentials(store, &a);
            tell_bindings_changed(store, &a);
            Ok(report)
        }
        UserCommand::List { domain } => with_store(store, async |s| list(s, domain).await).await,
        UserCommand::Set { address, settings } => {
            preferences::set(store, &address, &settings).await
        }
        UserCommand::Show { address } => preferences::show(store, &address).await,
    }
}

/// The control socket of a server running on `store`'s data directory.
fn server_control(store: &StoreArgs) -> crate::control_client::ControlArgs {
    crate::control_client::ControlArgs {
        data_dir: store.data_dir.clone(),
        socket: None,
    }
}

/// Tells a running server that `a`'s credentials changed (disabled, removed, a new SIP
/// password): it forgets its cached ones at once instead of at its next check of the
/// subscribers' version, up to a second later. Whether a server was told.
fn forget_cached_credentials(store: &StoreArgs, a: &Address) -> bool {
    use server::control::protocol::{Answer, Request};
    matches!(
        crate::control_client::ask(
            &server_control(store),
            &Request::SubscriberDisabled { aor: a.aor() }
        ),
        Ok(Answer::CredentialsForgotten { .. })
    )
}

/// Tells a running server to read `a`'s registrations again (they were removed).
fn tell_bindings_changed(store: &StoreArgs, a: &Address) -> bool {
    use server::control::protocol::{Answer, Request};
    matches!(
        crate::control_client::ask(
            &server_control(store),
            &Request::BindingsChanged { aor: a.aor() }
        ),
        Ok(Answer::Reloading { .. })
    )
}

/// `itsp user disable` (`yes`) and `itsp user enable`. Disabling also removes the
/// subscriber's registrations and tells a running server on the same data directory (its
/// control socket): it forgets the subscriber's cached credentials at once and reads the
/// registrations again, as for `itsp ul rm`. A server whose `[control] socket` is
/// elsewhere, or that has none, forgets them at its next check of the subscribers'
/// version, within about a second.
async fn disable(store: &StoreArgs, text: &str, yes: bool) -> Result<Report, Failure> {
    let a = address(text)?;
    let removed = with_store(store, async |s| {
        s.set_subscriber_disabled(&a.user, &a.domain, yes).await?;
        Ok(if yes {
            s.remove_bindings(&a.aor()).await?
        } else {
            0
        })
    })
    .await?;
    // A running server on the same data directory forgets the subscriber's cached
    // credentials at once (else within a second) and reads the bindings again.
    let told = yes
        && forget_cached_credentials(store, &a)
        && (removed == 0 || tell_bindings_changed(store, &a));
    let text = match (yes, removed, told) {
        (false, _, _) => format!("enabled user {a}"),
        (true, 0, true) => format!("disabled user {a}; the running server refuses them at once"),
        (true, 0, false) => format!("disabled user {a}"),
        (true, n, true) => format!(
            "disabled user {a}; removed {n} registration(s), the running server no longer reaches them"
        ),
        (true, n, false) => format!("disabled user {a}; removed {n} registration(s)"),
    };
    Ok(Report::done(
        text,
        json!({ "user": a.to_string(), "disabled": yes, "removed": removed, "server_told": told }),
    ))
}

async fn list(s: &Store, domain: Option<String>) -> Result<Report, Failure> {
    let subscribers = s.list_subscribers(domain.as_deref()).await?;
    // One query for every alias; an alias may be in another domain than its subscriber.
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in s.list_aliases(None).await? {
        aliases
            .entry(a.target.to_string())
            .or_default()
            .push(a.alias.to_string());
    }
    let mut table = Table::new(&["USER", "EMAIL", "CREATED", "ALIASES", "STATUS"]);
    let mut rows = Vec::new();
    for sub in subscribers {
        let user = sub.address.to_string();
        let its_aliases = aliases.remove(&user).unwrap_or_default();
        table.row(vec![
            user.clone(),
            sub.email.clone().unwrap_or_else(|| "-".into()),
            utc(sub.created_at),
            its_aliases.join(", "),
            if sub.disabled { "disabled" } else { "active" }.to_owned(),
        ]);
        rows.push(json!({
            "user": user,
            "email": sub.email,
            "created": utc(sub.created_at),
            "created_at": sub.created_at,
            "aliases": its_aliases,
            "disabled": sub.disabled,
        }));
    }
    let empty = match domain {
        Some(d) => format!("no users in {d}"),
        None => "no users".to_owned(),
    };
    Ok(Report::List {
        table,
        json: rows,
        empty,
    })
}
