//! The native tariff CSV: one rate a line,
//! `prefix,description,connect_fee,rate_per_min,initial,increment[,period]`.
//!
//! - `prefix`: digits, an optional leading `+` (dropped); at most 16 digits.
//! - `description`: the destination's name; every line of one prefix gives the same one.
//! - `connect_fee`, `rate_per_min`: plain decimals (`0.05`), not negative.
//! - `initial`, `increment`: seconds, 1–86,400 (60/60, 30/6, 1/1).
//! - `period`: empty or absent for "always", else the name of a [`Timing`] given to the
//!   import (CGRateS `Timings.csv` rows, or the caller's). A line with a period outranks
//!   the prefix's line without one while its timing is active (weight 10 against 0).
//!
//! A first line whose first field is `prefix` is a header and skipped; so are blank lines
//! and lines starting with `#`. One prefix with the same period twice is an error.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::UtcOffset;
use crate::error::{Error, ImportErrors};
use crate::import::csv::records;
use crate::import::{bad, parse_seconds};
use crate::money::{parse_amount, Currency, Decimal, Rounding};
use crate::plan::{PlanBuilder, RatingPlan};
use crate::prefix::normalize_prefix;
use crate::rate::{max_price, Rate};
use crate::tariff::{Tariff, TimedRate};
use crate::timing::Timing;

/// The plan an import makes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Its name (`default` unless the operator names one).
    pub plan: String,
    /// The currency of its prices.
    pub currency: Currency,
    /// Where its periods are read.
    pub utc_offset: UtcOffset,
    /// The rounding of its totals.
    pub rounding: Rounding,
}

impl Options {
    /// Named plan, default rounding ([`Rounding::default`]).
    pub fn new(plan: &str, currency: Currency, utc_offset: UtcOffset) -> Options {
        Options {
            plan: plan.to_owned(),
            currency,
            utc_offset,
            rounding: Rounding::default(),
        }
    }
}

const COLUMNS: &str = "prefix,description,connect_fee,rate_per_min,initial,increment[,period]";

/// One good line.
struct Row {
    line: usize,
    prefix: String,
    description: String,
    rate: Rate,
    period: Option<Arc<Timing>>,
}

/// Parses a native tariff file into a plan; `timings` are the periods its lines may name.
pub fn parse(
    file: &str,
    text: &str,
    options: &Options,
    timings: &HashMap<String, Arc<Timing>>,
) -> Result<RatingPlan, Error> {
    let mut errors = ImportErrors::default();
    let recs = records(file, text, &mut errors);
    let mut rows: Vec<Row> = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        if i == 0 && r.text(0).eq_ignore_ascii_case("prefix") {
            continue;
        }
        if !(6..=7).contains(&r.fields.len()) {
            let column = if r.fields.len() > 7 {
                r.column(7)
            } else {
                r.end_column
            };
            errors.at(
                file,
                r.line,
                column,
                format!("{} fields, 6 or 7 expected: {COLUMNS}", r.fields.len()),
            );
            continue;
        }
        let e = &mut errors;
        let prefix = normalize_prefix(r.text(0))
            .map_err(|p| bad::<()>(e, file, r.line, r.column(0), format!("prefix: {p}")))
            .ok();
        let description = r.text(1);
        if description.is_empty() {
            errors.at(file, r.line, r.column(1), "description is empty");
        }
        let money = |i: usize, what: &str, e: &mut ImportErrors| -> Option<Decimal> {
            match parse_amount(r.text(i)) {
                Some(d) if d.is_sign_negative() && !d.is_zero() => bad(
                    e,
                    file,
                    r.line,
                    r.column(i),
                    format!("{what} {d} is negative"),
                ),
                Some(d) if d > max_price() => bad(
                    e,
                    file,
                    r.line,
                    r.column(i),
                    format!("{what} {d} is over {}", max_price()),
                ),
                Some(d) => Some(d),
                None => bad(
                    e,
                    file,
                    r.line,
                    r.column(i),
                    format!("{what} {:?} is not a decimal number", r.text(i)),
                ),
            }
        };
        let fee = money(2, "connect_fee", &mut errors);
        let price = money(3, "rate_per_min", &mut errors);
        let secs = |i: usize, what: &str, e: &mut ImportErrors| {
            parse_seconds(r.text(i), false)
                .map_err(|p| bad::<()>(e, file, r.line, r.column(i), format!("{what}: {p}")))
                .ok()
        };
        let initial = secs(4, "initial", &mut errors);
        let increment = secs(5, "increment", &mut errors);
        let period = match r.text(6) {
            "" => Some(None),
            name => match timings.get(name) {
                Some(t) => Some(Some(t.clone())),
                None => {
                    let mut known: Vec<&str> = timings.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    bad(
                        &mut errors,
                        file,
                        r.line,
                        r.column(6),
                        format!(
                            "period {name:?} is not a known timing (known: {})",
                            known.join(", ")
                        ),
                    )
                }
            },
        };
        let (Some(prefix), Some(fee), Some(price), Some(initial), Some(increment), Some(period)) =
            (prefix, fee, price, initial, increment, period)
        else {
            continue;
        };
        let name = format!("{price}/min {initial}/{increment}");
        match Rate::per_minute(&name, fee, price, initial, increment) {
            Ok(rate) => rows.push(Row {
                line: r.line,
                prefix: prefix.to_owned(),
                description: description.to_owned(),
                rate,
                period,
            }),
            Err(p) => errors.at(file, r.line, 1, p),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.at(file, 1, 1, format!("no rate in the file ({COLUMNS})"));
    }
    let plan = build(file, rows, options, &mut errors);
    errors
        .into_result(plan)?
        .ok_or_else(|| Error::Import(ImportErrors::default()))
}

fn build(
    file: &str,
    rows: Vec<Row>,
    options: &Options,
    errors: &mut ImportErrors,
) -> Option<RatingPlan> {
    // Lines by prefix, in file order.
    let mut by_prefix: HashMap<&str, Vec<&Row>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for row in &rows {
        let list = by_prefix.entry(&row.prefix).or_insert_with(|| {
            order.push(&row.prefix);
            Vec::new()
        });
        list.push(row);
    }
    let always = Arc::new(Timing::always("*any"));
    // Real tables repeat a few rates over thousands of prefixes: one `Rate` each.
    let mut shared: HashMap<String, Arc<Rate>> = HashMap::new();
    let mut builder = PlanBuilder::new(&options.plan, options.currency);
    for prefix in order {
        let list = by_prefix.get(prefix).map_or(&[][..], Vec::as_slice);
        let Some(first) = list.first() else { continue };
        let mut rates: Vec<TimedRate> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for row in list {
            if row.description != first.description {
                errors.at(
                    file,
                    row.line,
                    1,
                    format!(
                        "prefix {prefix} is {:?} here but {:?} on line {}",
                        row.description, first.description, first.line
                    ),
                );
            }
            let period = row.period.as_ref().map_or("", |t| t.name());
            if let Some(line) = seen.insert(period, row.line) {
                errors.at(
                    file,
                    row.line,
                    1,
                    format!(
                        "prefix {prefix} has a rate for {} on line {line} already",
                        if period.is_empty() {
                            "every time"
                        } else {
                            period
                        }
                    ),
                );
            }
            rates.push(TimedRate {
                timing: row.period.clone().unwrap_or_else(|| always.clone()),
                rate: shared
                    .entry(format!("{}|{}", row.rate.name(), row.rate.connect_fee()))
                    .or_insert_with(|| Arc::new(row.rate.clone()))
                    .clone(),
                weight: if row.period.is_some() { 10 } else { 0 },
                rounding: options.rounding,
            });
        }
        match Tariff::new(
            &first.description,
            options.currency,
            options.utc_offset,
            rates,
        ) {
            Ok(t) => {
                let i = builder.destination(t);
                builder.prefix(prefix, i);
            }
            Err(p) => errors.at(file, first.line, 1, p),
        }
    }
    builder.build().ok()
}

#[cfg(test)]
mod tests;
