//! `itsp rate`: tariffs. `import` checks tariff files (itsp's CSV, or CGRateS's six
//! tariff-plan files) and stores them, all or nothing; `list` shows the plans; `test` prices
//! a call and says how. The rating itself is the `billing` crate's, the loading of the
//! stored files `server::rating`'s (the same the running server rates calls with); the
//! store keeps the files' text, parsed again on every load.

use std::path::PathBuf;

use billing::import::cgrates;
use billing::{Currency, UtcOffset};
use clap::{Args, Subcommand};
use serde_json::json;
use server::rating::{PlanInfo, Plans, CGRATES_SET, DEFAULT_PLAN};
use store::{TariffFile, TariffFormat};

use super::output::{utc_ms, Report, Table};
use super::time::parse_time;
use super::{address, unix_now_ms, with_store, Failure};
use crate::store_args::StoreArgs;

/// The examples at the end of `itsp rate --help`.
pub(super) const EXAMPLES: &str = "\
Examples:
  itsp rate import rates.csv                       # plan `default`, prices in EUR
  itsp rate import mobile.csv --plan mobile --currency SEK --utc-offset +01:00
  itsp rate import tp/Destinations.csv tp/Rates.csv tp/DestinationRates.csv \\
      tp/Timings.csv tp/RatingPlans.csv tp/RatingProfiles.csv   # a CGRateS tariff plan
  itsp rate list
  itsp rate test --from alice@example.com --to +46812345 --duration 125
  itsp rate test --from alice@example.com --to 0046812345 --at 2026-12-24T23:59:00+01:00 --duration 600

A native file has the columns prefix,description,connect_fee,rate_per_min,initial,increment
and an optional period (the name of a CGRateS timing); a header line is optional. Prices
are exact decimals. 60/60 bills whole minutes, 30/6 the first 30 s then 6 s steps, 1/1
by the second.";

/// `itsp rate` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RateCommand {
    /// Check tariff files and store them, replacing the plan's (or the CGRateS set's) files.
    ///
    /// Files named as CGRateS names them (Destinations.csv, Rates.csv, DestinationRates.csv,
    /// Timings.csv, RatingPlans.csv, RatingProfiles.csv; the case counts) are imported together as one
    /// CGRateS tariff plan (its plans and who uses them); any other file is itsp's CSV for
    /// one plan. Nothing is stored unless every line of every file is right; each error
    /// names the file, line and column.
    #[command(after_long_help = EXAMPLES)]
    Import(ImportArgs),
    /// List the rating plans: currency, prefixes, where they came from.
    List,
    /// Price a call and show how: the prefix matched, the rate of each period, the
    /// increments billed, the connect fee, the total.
    #[command(after_long_help = EXAMPLES)]
    Test(TestArgs),
}

/// What `itsp rate import` takes.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The plan a native file defines (not for CGRateS files, whose plans are named in
    /// them).
    #[arg(long, value_name = "NAME")]
    plan: Option<String>,
    /// The currency of the prices (ISO 4217).
    #[arg(long, value_name = "CODE", default_value = "EUR")]
    currency: String,
    /// Where the periods' days and hours are read: the offset from UTC (+01:00, -05:00,
    /// Z).
    #[arg(long, value_name = "OFFSET", default_value = "Z")]
    utc_offset: String,
}

/// What `itsp rate test` prices.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The caller, user@domain (whose plan applies).
    #[arg(long, value_name = "USER@DOMAIN")]
    from: String,
    /// The number called (+46812345, 0046812345, 46812345).
    #[arg(long, value_name = "NUMBER")]
    to: String,
    /// When the call is answered: RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// How long it lasts, in seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: u32,
    /// Rate with this plan rather than the caller's.
    #[arg(long, value_name = "NAME")]
    plan: Option<String>,
}

/// Runs `itsp rate`.
pub(super) async fn run(command: RateCommand, store: &StoreArgs) -> Result<Report, Failure> {
    match command {
        RateCommand::Import(args) => import(args, store).await,
        RateCommand::List => {
            with_store(store, async |s| {
                let loaded = load(&s.tariff_files().await?)?;
                Ok(list(&loaded))
            })
            .await
        }
        RateCommand::Test(args) => test(args, store).await,
    }
}

async fn import(args: ImportArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let currency = Currency::new(&args.currency)
        .map_err(|e| Failure::user(format!("--currency {:?}: {e}", args.currency)))?;
    let utc_offset: UtcOffset = args
        .utc_offset
        .parse()
        .map_err(|e| Failure::user(format!("--utc-offset {:?}: {e}", args.utc_offset)))?;
    let mut texts = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::user(format!("cannot read {}: {e}", path.display())))?;
        texts.push((path.display().to_string(), text));
    }
    // CGRateS's own names, spelt as its loader spells them (a native `rates.csv` is not
    // CGRateS's `Rates.csv`).
    let is_cgrates = |name: &str| {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        cgrates::FILES.contains(&base)
    };
    let cgrates_files = texts.iter().filter(|(n, _)| is_cgrates(n)).count();
    let (set_key, format) = match (cgrates_files, texts.len()) {
        (0, _) => (
            args.plan.clone().unwrap_or_else(|| DEFAULT_PLAN.to_owned()),
            TariffFormat::Native,
        ),
        (c, n) if c == n => {
            if args.plan.is_some() {
                return Err(Failure::user(
                    "--plan is for a native file: a CGRateS tariff plan names its plans itself",
                ));
            }
            (CGRATES_SET.to_owned(), TariffFormat::Cgrates)
        }
        _ => {
            return Err(Failure::user(
                "either CGRateS files (Destinations.csv, Rates.csv, ...) or native files, not both in one import",
            ))
        }
    };
    if format == TariffFormat::Native && texts.len() > 1 {
        return Err(Failure::user(
            "one native file per plan: import each with its --plan",
        ));
    }
    if set_key == CGRATES_SET && format == TariffFormat::Native {
        return Err(Failure::user(format!(
            "--plan {CGRATES_SET} is reserved for CGRateS imports: choose another name"
        )));
    }
    let imported_ms = unix_now_ms();
    let files: Vec<TariffFile> = texts
        .into_iter()
        .map(|(name, content)| TariffFile {
            set_key: set_key.clone(),
            format,
            name,
            content,
            currency: currency.to_string(),
            utc_offset: utc_offset.seconds(),
            imported_ms,
        })
        .collect();
    with_store(store, async |s| {
        // Checked with what is stored already (a native file may name a CGRateS timing),
        // the new set in place of the old one.
        let mut all: Vec<TariffFile> = s
            .tariff_files()
            .await?
            .into_iter()
            .filter(|f| f.set_key != set_key)
            .collect();
        all.extend(files.iter().cloned());
        let loaded = load(&all)?;
        s.replace_tariff_set(&set_key, &files).await?;
        let plans: Vec<&PlanInfo> = loaded
            .rows
            .iter()
            .filter(|r| r.set_key == set_key)
            .collect();
        let names: Vec<&str> = plans.iter().map(|r| r.name.as_str()).collect();
        let prefixes: usize = plans.iter().map(|r| r.prefixes).sum();
        Ok(Report::done(
            format!(
                "imported {} ({}): {prefixes} prefixes in {currency}",
                if names.len() == 1 {
                    format!("plan {}", names[0])
                } else {
                    format!("plans {}", names.join(", "))
                },
                format.as_str()
            ),
            json!({ "set": set_key, "format": format.as_str(), "plans": names,
                    "prefixes": prefixes, "currency": currency.to_string() }),
        ))
    })
    .await
}

async fn test(args: TestArgs, store: &StoreArgs) -> Result<Report, Failure> {
    let caller = address(&args.from)?;
    let at_ms = match &args.at {
        Some(t) => parse_time("--at", t)?,
        None => unix_now_ms(),
    };
    let at = at_ms.div_euclid(1000);
    with_store(store, async |s| {
        let loaded = load(&s.tariff_files().await?)?;
        let plans = &loaded.plans;
        let rating = match &args.plan {
            Some(name) => plans
                .plan(name)
                .and_then(|p| p.rate(&args.to, at, args.duration)),
            None if plans
                .assignments
                .lookup(&caller.user, &caller.domain, at)
                .is_some() =>
            {
                plans.rate(&caller.user, &caller.domain, &args.to, at, args.duration)
            }
            None => plans
                .plan(DEFAULT_PLAN)
                .and_then(|p| p.rate(&args.to, at, args.duration)),
        }
        .map_err(|e| Failure::user(e.to_string()))?;
        let text = rating.to_string();
        Ok(Report::done(
            text.trim_end().to_owned(),
            json!({
                "plan": rating.plan,
                "number": rating.number,
                "prefix": rating.prefix,
                "destination": rating.destination,
                "duration_secs": rating.duration,
                "billed_secs": rating.cost.billed,
                "connect_fee": rating.cost.connect_fee.to_string(),
                "total": rating.cost.total.to_string(),
                "currency": rating.currency.to_string(),
                "explanation": text,
            }),
        ))
    })
    .await
}

fn list(loaded: &Plans) -> Report {
    let mut table = Table::new(&["PLAN", "FORMAT", "CURRENCY", "PREFIXES", "IMPORTED"]);
    let mut json_rows = Vec::new();
    for r in &loaded.rows {
        table.row(vec![
            r.name.clone(),
            r.format.as_str().to_owned(),
            r.currency.clone(),
            r.prefixes.to_string(),
            utc_ms(r.imported_ms),
        ]);
        json_rows.push(json!({
            "plan": r.name,
            "format": r.format.as_str(),
            "currency": r.currency,
            "prefixes": r.prefixes,
            "imported": super::output::rfc3339_ms(r.imported_ms),
        }));
    }
    Report::List {
        table,
        json: json_rows,
        empty: "no rating plans: import one with itsp rate import FILE".to_owned(),
    }
}

/// The plans of the stored files; a file that does not load is named with its line.
fn load(files: &[TariffFile]) -> Result<Plans, Failure> {
    server::rating::load(files).map_err(|e| Failure::user(e.to_string()))
}
