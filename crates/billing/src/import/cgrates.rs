//! CGRateS tariff plans: the CSV files of a `data/tariffplans/<name>/` folder, with their
//! column order (CGRateS docs, "Tariff Plans"; the tutorial plan):
//!
//! | file | columns |
//! |---|---|
//! | `Destinations.csv` | `#Id,Prefix` |
//! | `Rates.csv` | `#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart` |
//! | `DestinationRates.csv` | `#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy` |
//! | `Timings.csv` | `#Tag,Years,Months,MonthDays,WeekDays,Time` |
//! | `RatingPlans.csv` | `#Id,DestinationRatesId,TimingTag,Weight` |
//! | `RatingProfiles.csv` | `#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject` |
//!
//! How they map: a rate's rows (one per `GroupIntervalStart`) are one [`Rate`], its connect
//! fee that of the row starting at 0 s; durations are Go's (`60s`, `1m30s`, `1h`) or bare
//! seconds. A destination rate binds a destination (or `*any`: every number) to a rate with
//! a rounding (`*up`, `*down`, `*middle`). A rating plan's rows put destination rates under
//! timings with weights; each destination of a plan becomes one [`Tariff`]. `*any` and
//! `ALWAYS` are built-in timings unless `Timings.csv` defines them. A rating profile assigns
//! a plan: Tenant is the domain, Subject the user (`*any`: the domain's default), from
//! ActivationTime (RFC 3339) on; only the `call` category is rated, rows of other categories
//! (`sms`, `data`) are left out and listed in [`Imported::skipped`]. The older layout with a
//! leading Direction column (`*out`) is accepted too. `MaxCost` other than 0 is refused
//! rather than ignored: a cap on the cost is not implemented yet.
//!
//! | module | files |
//! |---|---|
//! | `tables` | the leaf tables: Destinations, Rates (with Go durations), Timings |
//! | `plans` | the joins: DestinationRates, RatingPlans (one [`Tariff`] per destination of a plan), RatingProfiles |
//!
//! [`Tariff`]: crate::Tariff
//! [`Rate`]: crate::Rate

mod plans;
mod tables;

use plans::{destination_rates, rating_plans, rating_profiles};
#[cfg(test)]
use tables::duration;
use tables::{destinations, rates, timings};

use std::collections::HashMap;
use std::sync::Arc;

use crate::assign::PlanSet;
use crate::clock::UtcOffset;
use crate::error::{Error, ImportErrors};
use crate::import::bad;
use crate::import::csv::{records, Record};
use crate::money::Currency;
use crate::timing::Timing;

/// What the imported plans are read as.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The currency of every price (CGRateS keeps it on the account, not the plan).
    pub currency: Currency,
    /// Where the timings' days and hours are read.
    pub utc_offset: UtcOffset,
}

/// A successful import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The plans and their assignments.
    pub plans: PlanSet,
    /// The timings defined (for native files that name periods).
    pub timings: HashMap<String, Arc<Timing>>,
    /// Rows deliberately left out, with where they are and why (other categories).
    pub skipped: Vec<String>,
}

/// The file names, as CGRateS's loader expects them.
pub const FILES: [&str; 6] = [
    "Destinations.csv",
    "Rates.csv",
    "DestinationRates.csv",
    "Timings.csv",
    "RatingPlans.csv",
    "RatingProfiles.csv",
];

/// Imports a tariff plan from `(file name, text)` pairs; a name's last path component says
/// which file it is. Destinations, Rates, DestinationRates and RatingPlans are required;
/// Timings and RatingProfiles optional.
pub fn parse(files: &[(&str, &str)], options: &Options) -> Result<Imported, Error> {
    let mut errors = ImportErrors::default();
    let mut by_kind: HashMap<&str, (&str, &str)> = HashMap::new();
    for &(name, text) in files {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        match FILES.iter().find(|f| f.eq_ignore_ascii_case(base)) {
            Some(kind) => {
                if by_kind.insert(kind, (name, text)).is_some() {
                    errors.at(name, 1, 1, format!("{kind} given twice"));
                }
            }
            None => errors.at(
                name,
                1,
                1,
                format!(
                    "not a CGRateS rating file (expected one of {})",
                    FILES.join(", ")
                ),
            ),
        }
    }
    for required in &FILES[..3] {
        if !by_kind.contains_key(required) {
            errors.at(required, 1, 1, "missing: this file is required");
        }
    }
    if !by_kind.contains_key("RatingPlans.csv") {
        errors.at("RatingPlans.csv", 1, 1, "missing: this file is required");
    }
    let dest_file = read(&by_kind, "Destinations.csv", &mut errors);
    let rate_file = read(&by_kind, "Rates.csv", &mut errors);
    let dr_file = read(&by_kind, "DestinationRates.csv", &mut errors);
    let timing_file = read(&by_kind, "Timings.csv", &mut errors);
    let rp_file = read(&by_kind, "RatingPlans.csv", &mut errors);
    let profile_file = read(&by_kind, "RatingProfiles.csv", &mut errors);

    let destinations = destinations(&dest_file, &mut errors);
    let rates = rates(&rate_file, &mut errors);
    let timings = timings(&timing_file, &mut errors);
    let drs = destination_rates(&dr_file, &destinations, &rates, &mut errors);
    let mut plans = rating_plans(
        &rp_file,
        &drs,
        &timings,
        (&dest_file.0, &destinations),
        options,
        &mut errors,
    );
    // Plans named in RatingPlans.csv, built or not: a profile naming one that failed is
    // not reported again.
    let named: Vec<&str> = rp_file.1.iter().map(|r| r.text(0)).collect();
    let skipped = rating_profiles(&profile_file, &named, &mut plans, &mut errors);
    errors.into_result(Imported {
        plans,
        timings,
        skipped,
    })
}

/// The records of one kind of file (none when it was not given), with the file's name.
fn read<'a>(
    by_kind: &HashMap<&str, (&str, &'a str)>,
    kind: &str,
    errors: &mut ImportErrors,
) -> (String, Vec<Record<'a>>) {
    match by_kind.get(kind) {
        Some(&(name, text)) => (name.to_owned(), records(name, text, errors)),
        None => (kind.to_owned(), Vec::new()),
    }
}

fn width(
    file: &str,
    r: &Record<'_>,
    min: usize,
    max: usize,
    columns: &str,
    e: &mut ImportErrors,
) -> bool {
    let n = r.fields.len();
    if (min..=max).contains(&n) {
        return true;
    }
    let column = if n > max { r.column(max) } else { r.end_column };
    e.at(
        file,
        r.line,
        column,
        format!("{n} fields, {columns} expected"),
    );
    false
}

fn id(file: &str, r: &Record<'_>, i: usize, what: &str, e: &mut ImportErrors) -> Option<String> {
    let t = r.text(i);
    if t.is_empty() {
        return bad(e, file, r.line, r.column(i), format!("{what} is empty"));
    }
    Some(t.to_owned())
}

#[cfg(test)]
mod tests;
