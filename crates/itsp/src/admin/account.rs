//! `itsp account set|show|list|topup|adjust|history|remove`: the subscribers' prepaid and
//! postpaid accounts and their ledger (`store::Account`, `store::LedgerEntry`). Amounts are
//! exact decimals, read with billing's parser and never through a float; every change of
//! a balance is a ledger entry, and the history streams a page at a time.

use std::collections::VecDeque;
use std::io::Write;

use billing::{Currency, Decimal};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use server::rating::PlanInfo;
use store::{Account, AccountKind, Address, EntryKind, LedgerEntry, NewEntry, Store, StoreError};

use super::cdr::write_failure;
use super::output::{padded_line, printable, rfc3339_ms, utc_ms, Report, Table};
use super::{address, unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// Ledger entries read from the store at a time.
const PAGE: u32 = 1000;

/// The most decimals an amount may have.
const MAX_DECIMALS: u32 = 4;

/// The currency of an account whose plan names none.
const DEFAULT_CURRENCY: &str = "EUR";

/// The examples at the end of `itsp account --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp account set alice@example.com --prepaid                 # EUR, the default rating
  itsp account set bob@example.com --postpaid --plan mobile    # in the plan's currency
  itsp account set alice@example.com --prepaid --low-balance 2.50
  itsp account topup alice@example.com 20.00 --note 'paid at the desk'
  itsp account adjust alice@example.com -1.50 --note 'refund: call 2026-12-01 failed'
  itsp account show alice@example.com
  itsp account history alice@example.com --limit 20
  itsp account list --json
  itsp account remove alice@example.com                        # at a zero balance
  itsp account check                                           # after a crash or a restore

Amounts are exact decimals with a point and at most 4 decimals (12.50, -5, 0.0125). A
prepaid account pays its calls from the balance; a postpaid account's calls are charged
to it and invoiced. Every change of a balance is an entry of the account's ledger: top_up,
adjustment (with a note), and the server's debit, settlement and charge of calls.";

/// `itsp account` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Open an account for a subscriber, or change its kind, plan or currency.
    ///
    /// The balance and history stay when the kind or plan changes; the currency changes
    /// only at a zero balance. A new account is in the plan's currency (when the plan is
    /// imported: itsp rate list), else EUR; a change keeps what is not given.
    #[command(after_long_help = EXAMPLES)]
    Set(SetArgs),
    /// Show an account: kind, plan, currency, balance, low-balance threshold.
    #[command(after_long_help = EXAMPLES)]
    Show {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
    /// List the accounts with their balances.
    #[command(after_long_help = EXAMPLES)]
    List,
    /// Add money to an account (a positive AMOUNT in the account's currency).
    #[command(after_long_help = EXAMPLES, allow_negative_numbers = true)]
    Topup {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        /// How much: a decimal like 20.00.
        #[arg(value_name = "AMOUNT")]
        amount: String,
        /// Why, or a reference (a receipt number).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Correct a balance by AMOUNT (negative takes money away), saying why.
    #[command(after_long_help = EXAMPLES, allow_negative_numbers = true)]
    Adjust {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        /// How much: a decimal like 5.00 or -5.00, not zero.
        #[arg(value_name = "AMOUNT")]
        amount: String,
        /// Why (kept in the history).
        #[arg(long, value_name = "TEXT")]
        note: String,
    },
    /// Show the ledger of an account, oldest first: every top-up, adjustment, call debit,
    /// settlement and charge, with the balance after it.
    #[command(after_long_help = EXAMPLES)]
    History {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
        /// Only the newest N entries (still oldest first).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Check that the money agrees: each account's balance is the sum of its ledger, and
    /// each call moved what its record costs (no lost or double charge).
    ///
    /// Reads only. Exit status 0 when all agrees, 1 with a line per disagreement (what
    /// to look at after a crash, a power loss or a restore of the database). A call still
    /// running has taken its slices and has no record yet; it is counted, not reported.
    #[command(after_long_help = EXAMPLES)]
    Check,
    /// Close an account and delete its history; only at a zero balance.
    #[command(after_long_help = EXAMPLES)]
    Remove {
        /// The subscriber, user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        address: String,
    },
}

/// What `itsp account set` takes.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("kind").required(true).args(["prepaid", "postpaid"])))]
pub(crate) struct SetArgs {
    /// The subscriber, user@domain.
    #[arg(value_name = "USER@DOMAIN")]
    address: String,
    /// Calls are paid from the balance and end when it runs out.
    #[arg(long)]
    prepaid: bool,
    /// Calls are charged to the account and invoiced.
    #[arg(long)]
    postpaid: bool,
    /// The rating plan the subscriber's calls are priced with (itsp rate list).
    #[arg(long, value_name = "NAME")]
    plan: Option<String>,
    /// The account's currency (ISO 4217); by default the plan's, else EUR.
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// Tell the subscriber when the balance falls below this amount.
    #[arg(long, value_name = "AMOUNT")]
    low_balance: Option<String>,
}

/// Runs `itsp account` (`json`: the common `--json`, for the streamed history).
pub(super) async fn run(
    command: AccountCommand,
    json: bool,
    store: &StoreArgs,
) -> Result<Report, Failure> {
    match command {
        AccountCommand::Set(args) => set(args, store).await,
        AccountCommand::Show { address: a } => {
            let a = address(&a)?;
            with_store(store, async |s| Ok(show(&existing(s, &a).await?))).await
        }
        AccountCommand::List => {
            with_store(store, async |s| {
                let accounts = s.accounts().await?;
                Ok(list(&accounts))
            })
            .await
        }
        AccountCommand::Topup {
            address: a,
            amount,
            note,
        } => {
            let amount = parse_amount("AMOUNT", &amount)?;
            if amount <= Decimal::ZERO {
                return Err(Failure::user(format!(
                    "AMOUNT: a top-up must be more than zero, not {amount} \
                     (itsp account adjust takes money away)"
                )));
            }
            enter(store, &a, EntryKind::TopUp, amount, note).await
        }
        AccountCommand::Adjust {
            address: a,
            amount,
            note,
        } => {
            let amount = parse_amount("AMOUNT", &amount)?;
            if amount.is_zero() {
                return Err(Failure::user(
                    "AMOUNT: an adjustment of zero changes nothing",
                ));
            }
            if note.trim().is_empty() {
                return Err(Failure::user("--note: say why the balance is adjusted"));
            }
            enter(store, &a, EntryKind::Adjustment, amount, Some(note)).await
        }
        AccountCommand::History { address: a, limit } => {
            let a = address(&a)?;
            with_store(store, async |s| history(s, &a, limit, json).await).await
        }
        AccountCommand::Remove { address: a } => {
            let a = address(&a)?;
            with_store(store, async |s| remove(s, &a).await).await
        }
        AccountCommand::Check => {
            let audit = with_store(store, async |s| Ok(s.audit_ledger().await?)).await?;
            check_report(&audit, json)
        }
    }
}

/// Prints what `itsp account check` found; exit status 1 when something disagrees.
fn check_report(audit: &store::LedgerAudit, json: bool) -> Result<Report, Failure> {
    let count = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let summary = format!(
        "{}, {}, {} with money ({} running)",
        count(audit.accounts, "account", "accounts"),
        count(audit.entries, "ledger entry", "ledger entries"),
        count(audit.calls, "call", "calls"),
        audit.running
    );
    let mut out = std::io::stdout().lock();
    let written = if json {
        let findings: Vec<Value> = audit
            .findings
            .iter()
            .map(|f| {
                json!({
                    "user": f.address().to_string(),
                    "kind": f.kind(),
                    "call_id": f.call_id(),
                    "message": f.to_string(),
                })
            })
            .collect();
        let report = json!({
            "ok": audit.findings.is_empty(),
            "accounts": audit.accounts,
            "entries": audit.entries,
            "calls": audit.calls,
            "running": audit.running,
            "findings": findings,
        });
        writeln!(out, "{report}")
    } else if audit.findings.is_empty() {
        writeln!(out, "the money agrees: {summary}")
    } else {
        let mut table = Table::new(&["USER", "PROBLEM", "WHAT"]);
        for f in &audit.findings {
            table.row(vec![
                f.address().to_string(),
                f.kind().to_owned(),
                printable(&f.to_string()),
            ]);
        }
        out.write_all(table.render().as_bytes()).and_then(|()| {
            writeln!(
                out,
                "{} in {summary}",
                count(audit.findings.len() as u64, "disagreement", "disagreements")
            )
        })
    };
    written.map_err(|e| write_failure(&e))?;
    if audit.findings.is_empty() {
        Ok(Report::Written)
    } else {
        Err(Failure::reported(1))
    }
}

/// Parses an amount given as `what`: a plain decimal (no exponent, no thousands
/// separator, a point for the decimals), at most [`MAX_DECIMALS`] decimals; answered with
/// at least two (`20` is `20.00`).
fn parse_amount(what: &str, text: &str) -> Result<Decimal, Failure> {
    let amount = billing::money::parse_amount(text).ok_or_else(|| {
        Failure::user(format!(
            "{what}: `{text}` is not a decimal number like 12.50"
        ))
    })?;
    let exact = amount.normalize();
    if exact.scale() > MAX_DECIMALS {
        return Err(Failure::user(format!(
            "{what}: `{text}` has {} decimals; at most {MAX_DECIMALS} are kept (round it first)",
            exact.scale()
        )));
    }
    Ok(money(exact))
}

/// `amount` with at least two decimals (`5` as `5.00`), for storing and showing.
fn money(amount: Decimal) -> Decimal {
    billing::money::in_cents(amount)
}

/// The account of `a`; a clear failure for no subscriber or no account.
async fn existing(s: &Store, a: &Address) -> Result<Account, Failure> {
    match s.account(a).await? {
        Some(account) => Ok(account),
        None => Err(no_account(s, a).await),
    }
}

/// Why `a` has no account to work on: no such subscriber, or none opened yet.
async fn no_account(s: &Store, a: &Address) -> Failure {
    match s.subscriber(&a.user, &a.domain).await {
        Ok(Some(_)) => Failure::user(format!("no account for {a}"))
            .hint(&format!("open one: itsp account set {a} --prepaid")),
        Ok(None) => StoreError::NoSuchUser(a.to_string()).into(),
        Err(e) => e.into(),
    }
}

async fn set(args: SetArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let a = address(&args.address)?;
    let kind = if args.prepaid {
        AccountKind::Prepaid
    } else {
        AccountKind::Postpaid
    };
    let currency = args
        .currency
        .as_deref()
        .map(|c| {
            Currency::new(c)
                .map(|c| c.to_string())
                .map_err(|e| Failure::user(format!("--currency: {e}")))
        })
        .transpose()?;
    let low_balance = args
        .low_balance
        .as_deref()
        .map(|t| parse_amount("--low-balance", t))
        .transpose()?;
    if low_balance.is_some_and(|l| l < Decimal::ZERO) {
        return Err(Failure::user("--low-balance: a threshold of zero or more"));
    }
    with_store(store, async |s| {
        let before = s.account(&a).await?;
        let plan = args
            .plan
            .clone()
            .or_else(|| before.as_ref().and_then(|b| b.plan.clone()));
        let rated = match &plan {
            Some(name) => plan_info(s, name).await?,
            None => None,
        };
        let currency = match (&currency, &rated, &before) {
            (Some(c), Some(p), _) if *c != p.currency => {
                return Err(Failure::user(format!(
                    "--currency {c}: plan {} prices in {}",
                    p.name, p.currency
                )))
            }
            (Some(c), _, _) => c.clone(),
            (None, Some(p), _) => p.currency.clone(),
            (None, None, Some(b)) => b.currency.clone(),
            (None, None, None) => DEFAULT_CURRENCY.to_owned(),
        };
        let mut account = s
            .set_account(&a, kind, plan.as_deref(), &currency, unix_now_ms())
            .await
            .map_err(|e| match e {
                StoreError::AccountNotZero { .. } => {
                    Failure::from(e).hint("bring it to zero with itsp account adjust first")
                }
                e => e.into(),
            })?;
        if low_balance.is_some() {
            s.set_low_balance(&a, low_balance).await?;
            account.low_balance = low_balance;
        }
        let verb = if before.is_some() {
            "changed"
        } else {
            "opened"
        };
        let mut text = format!(
            "{verb} the {} account of {a} in {}{}",
            account.kind,
            account.currency,
            match &account.plan {
                Some(p) => format!(", plan {p}"),
                None => String::new(),
            }
        );
        if let (Some(p), None) = (&account.plan, &rated) {
            text.push_str(&format!(
                " (no rating plan {p} yet: import it with itsp rate import FILE --plan {p})"
            ));
        }
        let mut fields = account_json(&account);
        if let Value::Object(map) = &mut fields {
            map.insert("created_now".into(), Value::Bool(before.is_none()));
        }
        Ok(Report::done(text, fields))
    })
    .await
}

/// The stored rating plan `name`, if it is imported.
async fn plan_info(s: &Store, name: &str) -> Result<Option<PlanInfo>, Failure> {
    let loaded = server::rating::load(&s.tariff_files().await?)
        .map_err(|e| Failure::user(format!("the stored tariffs do not load: {e}")))?;
    Ok(loaded.rows.into_iter().find(|r| r.name == name))
}

/// A top-up or an adjustment of `amount` on the account of `who`, now.
async fn enter(
    store: &StoreArgs,
    who: &str,
    kind: EntryKind,
    amount: Decimal,
    note: Option<String>,
) -> Result<Report, Failure> {
    let a = address(who)?;
    with_store(store, async |s| {
        let account = existing(s, &a).await?;
        let entry = NewEntry {
            address: a.clone(),
            at_ms: unix_now_ms(),
            kind,
            amount,
            call_id: None,
            note,
        };
        let stored = s.append_ledger(&[entry]).await?;
        let Some(e) = stored.first() else {
            return Err(Failure::user("the ledger answered no entry"));
        };
        let what = match kind {
            EntryKind::TopUp => "topped up",
            _ => "adjusted",
        };
        let currency = &account.currency;
        Ok(Report::done(
            format!(
                "{what} {a} by {} {currency}: the balance is {} {currency}",
                money(e.amount),
                money(e.balance_after)
            ),
            json!({
                "user": a.to_string(),
                "entry": entry_json(e),
                "currency": currency,
                "balance": money(e.balance_after).to_string(),
            }),
        ))
    })
    .await
}

async fn remove(s: &Store, a: &Address) -> Result<Report, Failure> {
    match s.remove_account(a).await {
        Ok(true) => Ok(Report::done(
            format!("closed the account of {a}"),
            json!({ "user": a.to_string() }),
        )),
        Ok(false) => Err(no_account(s, a).await),
        Err(StoreError::AccountNotZero {
            action,
            address,
            balance,
            currency,
        }) => {
            let hint = format!(
                "bring it to zero first: itsp account adjust {address} {} --note 'closing'",
                money(-balance)
            );
            Err(Failure::from(StoreError::AccountNotZero {
                action,
                address,
                balance: money(balance),
                currency,
            })
            .hint(&hint))
        }
        Err(e) => Err(e.into()),
    }
}

/// An account as JSON (`show`, `list`, `set`).
fn account_json(a: &Account) -> Value {
    json!({
        "user": a.address.to_string(),
        "kind": a.kind.as_str(),
        "plan": a.plan,
        "currency": a.currency,
        "balance": money(a.balance).to_string(),
        "low_balance": a.low_balance.map(|l| money(l).to_string()),
        "last_entry": a.last_entry,
        "created": rfc3339_ms(a.created_ms),
    })
}

/// A ledger entry as JSON.
fn entry_json(e: &LedgerEntry) -> Value {
    json!({
        "id": e.id,
        "time": rfc3339_ms(e.at_ms),
        "kind": e.kind.as_str(),
        "amount": money(e.amount).to_string(),
        "balance_after": money(e.balance_after).to_string(),
        "call_id": e.call_id,
        "note": e.note,
    })
}

fn show(a: &Account) -> Report {
    let currency = &a.currency;
    let lines = vec![
        ("user".to_owned(), a.address.to_string()),
        ("kind".to_owned(), a.kind.to_string()),
        (
            "plan".to_owned(),
            a.plan
                .clone()
                .unwrap_or_else(|| "- (the default)".to_owned()),
        ),
        ("currency".to_owned(), currency.clone()),
        (
            "balance".to_owned(),
            format!("{} {currency}", money(a.balance)),
        ),
        (
            "low balance".to_owned(),
            a.low_balance
                .map_or_else(|| "-".to_owned(), |l| format!("{} {currency}", money(l))),
        ),
        ("opened".to_owned(), utc_ms(a.created_ms)),
    ];
    Report::Record {
        lines,
        json: account_json(a),
    }
}

fn list(accounts: &[Account]) -> Report {
    let mut table = Table::new(&["USER", "KIND", "PLAN", "BALANCE", "LOW BALANCE"]);
    for a in accounts {
        table.row(vec![
            a.address.to_string(),
            a.kind.to_string(),
            a.plan.clone().unwrap_or_else(|| "-".to_owned()),
            format!("{} {}", money(a.balance), a.currency),
            a.low_balance.map_or_else(
                || "-".to_owned(),
                |l| format!("{} {}", money(l), a.currency),
            ),
        ]);
    }
    Report::List {
        table,
        json: accounts.iter().map(account_json).collect(),
        empty: "no accounts: open one with itsp account set USER@DOMAIN --prepaid".to_owned(),
    }
}

/// Prints the ledger of `a` as it is read: every entry, or the newest `limit` (kept while
/// the pages go by, so memory stays at one page and `limit` entries).
async fn history(
    s: &Store,
    a: &Address,
    limit: Option<usize>,
    json: bool,
) -> Result<Report, Failure> {
    let account = existing(s, a).await?;
    let mut out = History::new(json, account.currency);
    let mut newest: VecDeque<LedgerEntry> = VecDeque::new();
    let mut after = None;
    loop {
        let page = s.ledger(a, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() == PAGE as usize;
        for e in page {
            match limit {
                Some(n) => {
                    newest.push_back(e);
                    if newest.len() > n {
                        newest.pop_front();
                    }
                }
                None => out.entry(&e)?,
            }
        }
        if !full {
            break;
        }
    }
    for e in &newest {
        out.entry(e)?;
    }
    out.finish()?;
    Ok(Report::Written)
}

/// Writes ledger entries to standard output as they come: a JSON array, or a table.
struct History {
    json: bool,
    currency: String,
    count: u64,
    out: std::io::BufWriter<std::io::Stdout>,
}

/// The table's columns and widths (0: the last, unpadded).
const HISTORY_COLUMNS: [(&str, usize); 7] = [
    ("ID", 8),
    ("TIME", 29),
    ("KIND", 12),
    ("AMOUNT", 14),
    ("BALANCE", 14),
    ("CALL-ID", 26),
    ("NOTE", 0),
];

impl History {
    fn new(json: bool, currency: String) -> History {
        History {
            json,
            currency,
            count: 0,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn entry(&mut self, e: &LedgerEntry) -> Result<(), Failure> {
        let first = self.count == 0;
        self.count += 1;
        if self.json {
            let lead = if first { "[" } else { "," };
            return writeln!(self.out, "{lead}{}", entry_json(e)).map_err(|e| write_failure(&e));
        }
        if first {
            let header: Vec<String> = HISTORY_COLUMNS
                .iter()
                .map(|(h, _)| (*h).to_owned())
                .collect();
            self.line(&header)?;
        }
        let cells = [
            e.id.to_string(),
            utc_ms(e.at_ms),
            e.kind.to_string(),
            format!("{} {}", money(e.amount), self.currency),
            format!("{} {}", money(e.balance_after), self.currency),
            e.call_id.clone().unwrap_or_else(|| "-".to_owned()),
            e.note.clone().unwrap_or_default(),
        ];
        self.line(&cells)
    }

    fn line(&mut self, cells: &[String]) -> Result<(), Failure> {
        let cells: Vec<String> = cells.iter().map(|c| printable(c)).collect();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        let line = padded_line(&HISTORY_COLUMNS, &cells);
        writeln!(self.out, "{line}").map_err(|e| write_failure(&e))
    }

    fn finish(mut self) -> Result<(), Failure> {
        let written = match (self.json, self.count) {
            (true, 0) => writeln!(self.out, "[]"),
            (true, _) => writeln!(self.out, "]"),
            (false, 0) => writeln!(self.out, "no entries yet"),
            _ => Ok(()),
        };
        written
            .and_then(|()| self.out.flush())
            .map_err(|e| write_failure(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(f: Failure) -> String {
        f.message
    }

    #[test]
    fn amounts_are_exact_with_a_clear_refusal() {
        assert_eq!(parse_amount("AMOUNT", "20").unwrap().to_string(), "20.00");
        assert_eq!(
            parse_amount("AMOUNT", "-5.00").unwrap().to_string(),
            "-5.00"
        );
        assert_eq!(
            parse_amount("AMOUNT", "0.0125").unwrap().to_string(),
            "0.0125"
        );
        assert_eq!(
            parse_amount("AMOUNT", "1.50000").unwrap().to_string(),
            "1.50"
        );
        let e = message(parse_amount("AMOUNT", "1,50").unwrap_err());
        assert!(
            e.contains("AMOUNT: `1,50` is not a decimal number like 12.50"),
            "{e}"
        );
        for bad in ["", "1e3", "ten", "1.2.3", "€5", "--5"] {
            assert!(parse_amount("AMOUNT", bad).is_err(), "{bad}");
        }
        let e = message(parse_amount("AMOUNT", "0.12345").unwrap_err());
        assert!(e.contains("5 decimals; at most 4"), "{e}");
    }
}
