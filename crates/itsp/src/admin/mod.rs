//! The admin commands: `itsp user`, `alias`, `group`, `domain`, `ul`, `calls`, `acc`,
//! `cdr`, `rate`, `account`, `invoice`, `ban`, `token`, `voicemail` and `conf`.
//! They work on the store directly (the SQLite file in `--data-dir`, or `--db URL`),
//! whether the server runs or not, and print tables for people or JSON with `--json`.
//!
//! One module per concept (`preferences.rs` holds `user set` and `user show`);
//! `output.rs` prints. Each invocation runs on its own
//! current-thread tokio runtime. Exit status: 0 done, 1 the request was wrong (bad input,
//! no such thing, already exists), 2 the database failed. Passwords and HA1 values are
//! never printed.

mod acc;
mod account;
mod alias;
mod audit;
mod ban;
mod calls;
mod cdr;
mod conf;
mod domain;
mod group;
mod invoice;
mod invoice_html;
mod invoice_pdf;
mod invoice_sheet;
pub(crate) mod output;
mod preferences;
mod rate;
mod time;
mod token;
mod ul;
mod user;
mod voicemail;

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};
use store::{Address, Store, StoreError};

use crate::store_args::StoreArgs;
use output::Report;

/// The admin subcommands of `itsp`, flattened into its command list.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage subscribers: add, change passwords, remove, list, set preferences, show.
    ///
    /// A subscriber is user@domain in a served domain (see `itsp domain`). Only digest
    /// hashes of the password are stored. Preferences (call forwarding) are set with
    /// `itsp user set`, see `itsp user set --help`.
    #[command(after_long_help = user::EXAMPLES)]
    User {
        #[command(subcommand)]
        command: user::UserCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage aliases: more addresses (numbers) that reach a subscriber.
    ///
    /// An alias stands for its subscriber: looking it up (`itsp ul show ALIAS`, and calls
    /// once the proxy lands) finds the subscriber. The alias must be in a served domain,
    /// any of them.
    #[command(after_long_help = alias::EXAMPLES)]
    Alias {
        #[command(subcommand)]
        command: alias::AliasCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage group membership (permissions such as `international`).
    #[command(after_long_help = group::EXAMPLES)]
    Group {
        #[command(subcommand)]
        command: group::GroupCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage the served domains: requests for user@D are local when D is served.
    #[command(after_long_help = domain::EXAMPLES)]
    Domain {
        #[command(subcommand)]
        command: domain::DomainCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Show the user location: who is registered, from where, until when.
    #[command(after_long_help = ul::EXAMPLES)]
    Ul {
        #[command(subcommand)]
        command: ul::UlCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Show the calls in progress on every proxy node.
    ///
    /// STATE is ringing (an early dialog) or answered (confirmed); DURATION is the talk
    /// time once answered, the ringing time before. The proxy writes these rows as calls
    /// change; a node that restarts drops its own.
    #[command(after_long_help = calls::EXAMPLES)]
    Calls {
        #[command(flatten)]
        common: Common,
    },
    /// Show the accounting records: each call's request, answer or failure, and end.
    ///
    /// Newest last; by default the newest 100. EVENT is request, answered, failed or
    /// "ended by caller|callee|proxy"; STATUS is the answer's code and reason. The filters
    /// combine: all must hold.
    #[command(after_long_help = acc::EXAMPLES)]
    Acc {
        #[command(flatten)]
        args: acc::AccArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Show the call detail records: one per call attempt, how it ended and for how long.
    ///
    /// Written by the proxy when a call ends: answered (with its talk time and who hung
    /// up), busy, not answered, cancelled, failed, or refused by the proxy itself. Oldest
    /// first; `--json` and `--csv` stream any number of records.
    #[command(after_long_help = cdr::EXAMPLES)]
    Cdr {
        #[command(subcommand)]
        command: cdr::CdrCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Tariffs: import rating plans (itsp's CSV or CGRateS's files), list them, price a call.
    ///
    /// Prices are exact decimals; a plan prices a number by its longest matching prefix,
    /// with a connect fee, a price per minute, billing increments and periods of the day
    /// or week.
    #[command(after_long_help = rate::EXAMPLES)]
    Rate {
        #[command(subcommand)]
        command: rate::RateCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Accounts: open a subscriber's prepaid or postpaid account, top it up, adjust it,
    /// show its balance and history.
    ///
    /// Balances are exact decimals kept as a ledger: every top-up, adjustment and call
    /// charge is an entry with the balance after it. `--json` prints errors as
    /// {"ok":false,"error":...} too.
    #[command(after_long_help = account::EXAMPLES)]
    Account {
        #[command(subcommand)]
        command: account::AccountCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Postpaid invoices: issue a month's, list them, show one and write its PDF or HTML.
    ///
    /// One invoice per postpaid account and month, for the rated calls its subscriber made
    /// that started in the month: lines by destination, the exact sum, the tax, the total.
    /// Numbered per month without gaps, and final once issued.
    #[command(after_long_help = invoice::EXAMPLES)]
    Invoice {
        #[command(subcommand)]
        command: invoice::InvoiceCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage banned sources: list the server's bans, add and lift bans.
    ///
    /// The server bans a source after too many failed authentications (`[guard]` in the
    /// config file) and stores the ban here; a running server reads changes within a
    /// second.
    #[command(after_long_help = ban::EXAMPLES)]
    Ban {
        #[command(subcommand)]
        command: ban::BanCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage the bearer tokens of the REST API: create (shown once), list, revoke.
    ///
    /// Scripts send `Authorization: Bearer TOKEN` to the portal's `/api/v1`. An admin token
    /// may do everything; a --user token only what that subscriber may do in the portal.
    #[command(after_long_help = token::EXAMPLES)]
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Show the audit log: every change an admin made through the portal's API or pages,
    /// or with these admin commands (as `cli:USER` from `local`), with who, from which
    /// address, what and when (secrets never kept).
    #[command(after_long_help = audit::EXAMPLES)]
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Show the voicemail messages of a subscriber.
    ///
    /// The media services of `itsp serve` record them when a call to a subscriber with
    /// voicemail on (`itsp user set USER voicemail=on`) is busy, not answered or finds no
    /// phone, or when someone dials *97USER.
    #[command(after_long_help = voicemail::EXAMPLES)]
    Voicemail {
        #[command(subcommand)]
        command: voicemail::VoicemailCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage conference rooms: add with a PIN, change the PIN, remove; list who is in
    /// them, mute or remove a participant (on a running server).
    ///
    /// Callers reach room NAME by dialling conf-NAME (`[media] conference_prefix`). A
    /// configured room with a PIN asks for it before the caller joins; any other room
    /// opens on demand without one.
    #[command(after_long_help = conf::EXAMPLES)]
    Conf {
        #[command(subcommand)]
        command: conf::ConfCommand,
        #[command(flatten)]
        common: Common,
    },
}

impl Command {
    fn common(&self) -> &Common {
        match self {
            Command::User { common, .. }
            | Command::Alias { common, .. }
            | Command::Group { common, .. }
            | Command::Domain { common, .. }
            | Command::Ul { common, .. }
            | Command::Calls { common }
            | Command::Acc { common, .. }
            | Command::Cdr { common, .. }
            | Command::Rate { common, .. }
            | Command::Account { common, .. }
            | Command::Invoice { common, .. }
            | Command::Ban { common, .. }
            | Command::Token { common, .. }
            | Command::Audit { common, .. }
            | Command::Voicemail { common, .. }
            | Command::Conf { common, .. } => common,
        }
    }

    async fn execute(self) -> Result<Report, Failure> {
        match self {
            Command::User { command, common } => user::run(command, &common.store).await,
            Command::Alias { command, common } => alias::run(command, &common.store).await,
            Command::Group { command, common } => group::run(command, &common.store).await,
            Command::Domain { command, common } => domain::run(command, &common.store).await,
            Command::Ul { command, common } => ul::run(command, &common.store).await,
            Command::Calls { common } => calls::run(&common.store).await,
            Command::Acc { args, common } => acc::run(args, &common.store).await,
            Command::Cdr { command, common } => cdr::run(command, common.json, &common.store).await,
            Command::Rate { command, common } => rate::run(command, &common.store).await,
            Command::Account { command, common } => {
                account::run(command, common.json, &common.store).await
            }
            Command::Invoice { command, common } => invoice::run(command, &common.store).await,
            Command::Ban { command, common } => ban::run(command, &common.store).await,
            Command::Token { command, common } => token::run(command, &common.store).await,
            Command::Audit { command, common } => audit::run(command, &common.store).await,
            Command::Voicemail { command, common } => voicemail::run(command, &common.store).await,
            Command::Conf { command, common } => conf::run(command, &common.store).await,
        }
    }
}

/// Options of every admin command: the store, and the output format.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Print JSON for scripts: an array of objects for lists, {"ok":true,...} for changes.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Why a command failed: the message for stderr and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// The request was wrong (exit status 1).
    pub(crate) fn user(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// The server or the machine failed (exit status 2).
    pub(crate) fn server(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Stop without a message and with success: the reader of standard output went away
    /// (`itsp cdr list | head`), it has what it wanted.
    pub(crate) fn quiet() -> Failure {
        Failure {
            code: 0,
            message: String::new(),
        }
    }

    /// Stop with exit status `code` and nothing more to say: the command printed its
    /// report already (`itsp account check` with findings).
    pub(crate) fn reported(code: u8) -> Failure {
        Failure {
            code,
            message: String::new(),
        }
    }

    /// Adds advice to the message.
    pub(crate) fn hint(mut self, hint: &str) -> Failure {
        self.message = format!("{} ({hint})", self.message);
        self
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure {
            code: exit_code(&e),
            message: e.to_string(),
        }
    }
}

/// 1 for errors of the request, 2 for failures of the database or the machine.
fn exit_code(e: &StoreError) -> u8 {
    use StoreError as E;
    match e {
        E::BadAddress(_)
        | E::BadPassword(_)
        | E::BadEmail(_)
        | E::BadGroup(_)
        | E::BadBinding(_)
        | E::BadAcc(_)
        | E::BadCall(_)
        | E::BadCdr(_)
        | E::BadTariff(_)
        | E::UnknownPreference(_)
        | E::BadPreference { .. }
        | E::UnsupportedUrl(_)
        | E::DomainExists(_)
        | E::NoSuchDomain(_)
        | E::SelfRegistrationOff(_)
        | E::BadSignupToken
        | E::DomainInUse(_)
        | E::UserExists(_)
        | E::NoSuchUser(_)
        | E::AliasExists(_)
        | E::NoSuchAlias(_)
        | E::BadBan(_)
        | E::NoSuchBan(_)
        | E::BadTokenName(_)
        | E::NoSuchToken(_)
        | E::BadAccount(_)
        | E::NoSuchAccount(_)
        | E::BadLedgerEntry { .. }
        | E::AccountNotZero { .. }
        | E::BadInvoice(_)
        | E::InvoiceExists { .. }
        | E::BadRoom(_)
        | E::RoomExists(_)
        | E::NoSuchRoom(_) => 1,
        _ => 2,
    }
}

/// The wall clock in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    unix_now_ms() / 1000
}

/// The wall clock in Unix milliseconds.
pub(crate) fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses a `user@domain` argument.
pub(crate) fn address(text: &str) -> Result<Address, Failure> {
    Ok(Address::parse(text)?)
}

/// Maps "no such domain" to advice on serving it: for commands that add to a domain.
pub(crate) fn serve_domain_first(e: StoreError) -> Failure {
    match e {
        StoreError::NoSuchDomain(d) => {
            let hint = format!("serve it first: itsp domain add {d}");
            Failure::user(format!("no such domain: {d}")).hint(&hint)
        }
        e => e.into(),
    }
}

/// Opens the store, runs `f` on it, closes it.
pub(crate) async fn with_store<T>(
    args: &StoreArgs,
    f: impl AsyncFnOnce(&Store) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let store = args
        .open()
        .await
        .map_err(|e| match e.downcast_ref::<StoreError>() {
            Some(cause) => Failure {
                code: exit_code(cause),
                message: format!("{e:#}"),
            },
            None => Failure {
                code: 2,
                message: format!("{e:#}"),
            },
        })?;
    let result = f(&store).await;
    store.close().await;
    result
}

/// Runs one admin command; prints its report, or `itsp: <message>` on stderr. A
/// `change` (the command changes something, [`crate::cli_audit`]) is recorded in the
/// audit log with its outcome.
pub(crate) fn run(
    command: Command,
    change: Option<crate::cli_audit::Change>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let json = command.common().json;
    // The commands that also answer their errors in JSON on standard output.
    let json_errors = json && matches!(command, Command::Account { .. });
    let result = runtime.block_on(async {
        let result = command.execute().await;
        if let Some(change) = &change {
            let error = result.as_ref().err().map(|f| (f.code, f.message.as_str()));
            change.record(error).await;
        }
        result
    });
    match result {
        Ok(report) => match report.write(&mut std::io::stdout().lock(), json) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            // `itsp user list | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            Err(e) => Err(e).context("cannot write to standard output"),
        },
        Err(f) => {
            if json_errors && !f.message.is_empty() {
                let error = serde_json::json!({ "ok": false, "error": f.message });
                let _ = writeln!(std::io::stdout(), "{error}");
            }
            if !f.message.is_empty() {
                let _ = writeln!(std::io::stderr(), "itsp: {}", f.message);
            }
            Ok(ExitCode::from(f.code))
        }
    }
}
