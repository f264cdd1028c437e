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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::assign::{PlanSet, Scope};
use crate::clock::{parse_rfc3339, UtcOffset};
use crate::error::{Error, ImportErrors};
use crate::import::bad;
use crate::import::csv::{records, Record};
use crate::money::{parse_amount, Currency, Rounding, RoundingMode};
use crate::plan::PlanBuilder;
use crate::prefix::normalize_prefix;
use crate::rate::{max_price, Rate, RateSlot, MAX_SECONDS};
use crate::tariff::{Tariff, TimedRate};
use crate::timing::{parse_list, parse_time_of_day, Timing};

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

/// Destination id → [(normalised prefix, line)].
type Destinations = BTreeMap<String, Vec<(String, usize)>>;

fn destinations((file, recs): &(String, Vec<Record<'_>>), e: &mut ImportErrors) -> Destinations {
    let mut out = Destinations::new();
    for r in recs {
        if !width(file, r, 2, 2, "2 (#Id,Prefix)", e) {
            continue;
        }
        let Some(id) = id(file, r, 0, "Id", e) else {
            continue;
        };
        match normalize_prefix(r.text(1)) {
            Ok(p) => out.entry(id).or_default().push((p.to_owned(), r.line)),
            Err(p) => e.at(file, r.line, r.column(1), format!("Prefix: {p}")),
        }
    }
    out
}

/// Parses a Go duration of whole seconds (`60s`, `1m`, `1m30s`, `2h`) or bare seconds.
fn duration(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a duration in whole seconds (60s, 1m, 1m30s or 60)");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let factor = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(factor));
        number.clear();
        any = true;
    }
    if !any || !number.is_empty() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Rate id → (rate, first line).
type Rates = HashMap<String, (Arc<Rate>, usize)>;

fn rates((file, recs): &(String, Vec<Record<'_>>), e: &mut ImportErrors) -> Rates {
    const COLS: &str = "6 (#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart)";
    // Rows by id, in file order: (line, fee, slot).
    let mut rows: BTreeMap<String, Vec<(usize, rust_decimal::Decimal, RateSlot)>> = BTreeMap::new();
    for r in recs {
        if !width(file, r, 6, 6, COLS, e) {
            continue;
        }
        let Some(id) = id(file, r, 0, "Id", e) else {
            continue;
        };
        let money = |i: usize, what: &str, e: &mut ImportErrors| match parse_amount(r.text(i)) {
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
        };
        let secs = |i: usize, what: &str, min: u32, e: &mut ImportErrors| match duration(r.text(i))
        {
            Ok(v) if (min..=MAX_SECONDS).contains(&v) => Some(v),
            Ok(v) => bad(
                e,
                file,
                r.line,
                r.column(i),
                format!("{what} {v} s is out of range {min}..={MAX_SECONDS}"),
            ),
            Err(p) => bad(e, file, r.line, r.column(i), format!("{what}: {p}")),
        };
        let fee = money(1, "ConnectFee", e);
        let price = money(2, "Rate", e);
        let unit = secs(3, "RateUnit", 1, e);
        let increment = secs(4, "RateIncrement", 1, e);
        let from = match duration(r.text(5)) {
            Ok(v) => Some(v),
            Err(p) => bad(
                e,
                file,
                r.line,
                r.column(5),
                format!("GroupIntervalStart: {p}"),
            ),
        };
        if let (Some(fee), Some(price), Some(unit), Some(increment), Some(from)) =
            (fee, price, unit, increment, from)
        {
            let slot = RateSlot {
                from,
                price,
                unit,
                increment,
            };
            rows.entry(id).or_default().push((r.line, fee, slot));
        }
    }
    let mut out = Rates::new();
    for (id, list) in rows {
        let first_line = list.first().map_or(1, |x| x.0);
        let mut starts: HashMap<u32, usize> = HashMap::new();
        for (line, _, slot) in &list {
            if let Some(prev) = starts.insert(slot.from, *line) {
                e.at(
                    file,
                    *line,
                    1,
                    format!(
                        "rate {id} has a slot from {} s on line {prev} already",
                        slot.from
                    ),
                );
            }
        }
        let fee = list
            .iter()
            .find(|(_, _, s)| s.from == 0)
            .map_or(rust_decimal::Decimal::ZERO, |x| x.1);
        let slots = list.into_iter().map(|x| x.2).collect();
        match Rate::new(&id, fee, slots) {
            Ok(rate) => {
                out.insert(id, (Arc::new(rate), first_line));
            }
            Err(p) => e.at(file, first_line, 1, p),
        }
    }
    out
}

fn timings(
    (file, recs): &(String, Vec<Record<'_>>),
    e: &mut ImportErrors,
) -> HashMap<String, Arc<Timing>> {
    const COLS: &str = "6 (#Tag,Years,Months,MonthDays,WeekDays,Time)";
    let mut out: HashMap<String, Arc<Timing>> = HashMap::new();
    for name in ["*any", "ALWAYS"] {
        out.insert(name.to_owned(), Arc::new(Timing::always(name)));
    }
    let mut lines: HashMap<String, usize> = HashMap::new();
    for r in recs {
        if !width(file, r, 6, 6, COLS, e) {
            continue;
        }
        let Some(tag) = id(file, r, 0, "Tag", e) else {
            continue;
        };
        let list = |i: usize, what: &str, range, e: &mut ImportErrors| match parse_list(
            r.text(i),
            range,
        ) {
            Ok(v) => Some(v),
            Err(p) => bad(e, file, r.line, r.column(i), format!("{what}: {p}")),
        };
        let years = list(1, "Years", 1..=9999, e);
        let months = list(2, "Months", 1..=12, e);
        let month_days = list(3, "MonthDays", 1..=31, e);
        let week_days = list(4, "WeekDays", 0..=7, e);
        let start = match parse_time_of_day(r.text(5)) {
            Ok(v) => Some(v),
            Err(p) => bad(e, file, r.line, r.column(5), format!("Time: {p}")),
        };
        let (Some(years), Some(months), Some(month_days), Some(week_days), Some(start)) =
            (years, months, month_days, week_days, start)
        else {
            continue;
        };
        let small = |v: Vec<i64>| v.into_iter().map(|x| x as u8).collect::<Vec<u8>>();
        let mut t = Timing::always(&tag).starting_at(start);
        if let Some(y) = years {
            t = t.years(&y);
        }
        if let Some(m) = months {
            t = t.months(&small(m));
        }
        if let Some(d) = month_days {
            t = t.month_days(&small(d));
        }
        if let Some(w) = week_days {
            t = t.week_days(&small(w));
        }
        if let Some(prev) = lines.insert(tag.clone(), r.line) {
            e.at(
                file,
                r.line,
                r.column(0),
                format!("timing {tag} is defined on line {prev} already"),
            );
        }
        out.insert(tag, Arc::new(t));
    }
    out
}

/// One destination rate row: destination (None: `*any`), rate, rounding.
struct DestRate {
    destination: Option<String>,
    rate: Arc<Rate>,
    rounding: Rounding,
}

fn destination_rates(
    (file, recs): &(String, Vec<Record<'_>>),
    destinations: &Destinations,
    rates: &Rates,
    e: &mut ImportErrors,
) -> HashMap<String, Vec<DestRate>> {
    const COLS: &str = "5 to 7 (#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals[,MaxCost,MaxCostStrategy])";
    let mut out: HashMap<String, Vec<DestRate>> = HashMap::new();
    for r in recs {
        if !width(file, r, 5, 7, COLS, e) {
            continue;
        }
        let Some(id) = id(file, r, 0, "Id", e) else {
            continue;
        };
        let destination = match r.text(1) {
            "*any" => Some(None),
            d if destinations.contains_key(d) => Some(Some(d.to_owned())),
            "" => bad(
                e,
                file,
                r.line,
                r.column(1),
                "DestinationId is empty".into(),
            ),
            d => bad(
                e,
                file,
                r.line,
                r.column(1),
                format!("DestinationId {d:?} is not in Destinations.csv"),
            ),
        };
        let rate = match rates.get(r.text(2)) {
            Some((rate, _)) => Some(rate.clone()),
            None => bad(
                e,
                file,
                r.line,
                r.column(2),
                format!("RatesTag {:?} is not in Rates.csv", r.text(2)),
            ),
        };
        let mode = match RoundingMode::parse(r.text(3)) {
            Some(m) => Some(m),
            None => bad(
                e,
                file,
                r.line,
                r.column(3),
                format!(
                    "RoundingMethod {:?}: *up, *down or *middle expected",
                    r.text(3)
                ),
            ),
        };
        let decimals = match r.text(4).parse::<u32>() {
            Ok(d) if d <= Rounding::MAX_DECIMALS => Some(d),
            _ => bad(
                e,
                file,
                r.line,
                r.column(4),
                format!(
                    "RoundingDecimals {:?}: 0 to {} expected",
                    r.text(4),
                    Rounding::MAX_DECIMALS
                ),
            ),
        };
        let max_cost = r.text(5);
        if !max_cost.is_empty() && parse_amount(max_cost).is_none_or(|d| !d.is_zero()) {
            e.at(
                file,
                r.line,
                r.column(5),
                format!("MaxCost {max_cost:?}: only 0 (no cap) is supported"),
            );
            continue;
        }
        if let (Some(destination), Some(rate), Some(mode), Some(decimals)) =
            (destination, rate, mode, decimals)
        {
            out.entry(id).or_default().push(DestRate {
                destination,
                rate,
                rounding: Rounding { decimals, mode },
            });
        }
    }
    out
}

fn rating_plans(
    (file, recs): &(String, Vec<Record<'_>>),
    drs: &HashMap<String, Vec<DestRate>>,
    timings: &HashMap<String, Arc<Timing>>,
    (dest_file, destinations): (&str, &Destinations),
    options: &Options,
    e: &mut ImportErrors,
) -> PlanSet {
    const COLS: &str = "4 (#Id,DestinationRatesId,TimingTag,Weight)";
    // Plan → destination (None: *any) → timed rates, with the line of each.
    type PerDest = BTreeMap<Option<String>, Vec<(TimedRate, usize)>>;
    let mut plans: BTreeMap<String, PerDest> = BTreeMap::new();
    for r in recs {
        if !width(file, r, 4, 4, COLS, e) {
            continue;
        }
        let Some(id) = id(file, r, 0, "Id", e) else {
            continue;
        };
        let dr = match drs.get(r.text(1)) {
            Some(d) => Some(d),
            None => bad(
                e,
                file,
                r.line,
                r.column(1),
                format!(
                    "DestinationRatesId {:?} is not in DestinationRates.csv",
                    r.text(1)
                ),
            ),
        };
        let timing = match timings.get(r.text(2)) {
            Some(t) => Some(t.clone()),
            None => bad(
                e,
                file,
                r.line,
                r.column(2),
                format!(
                    "TimingTag {:?} is not in Timings.csv (nor *any or ALWAYS)",
                    r.text(2)
                ),
            ),
        };
        let weight = match r.text(3).parse::<f64>() {
            // CGRateS weights are floats; whole numbers are what plans use.
            Ok(w) if w.fract() == 0.0 && w.abs() <= 1e9 => Some(w as i32),
            _ => bad(
                e,
                file,
                r.line,
                r.column(3),
                format!("Weight {:?}: a whole number expected", r.text(3)),
            ),
        };
        let (Some(dr), Some(timing), Some(weight)) = (dr, timing, weight) else {
            continue;
        };
        let per_dest = plans.entry(id).or_default();
        for d in dr {
            per_dest.entry(d.destination.clone()).or_default().push((
                TimedRate {
                    timing: timing.clone(),
                    rate: d.rate.clone(),
                    weight,
                    rounding: d.rounding,
                },
                r.line,
            ));
        }
    }
    let mut set = PlanSet::new();
    for (name, per_dest) in plans {
        let mut builder = PlanBuilder::new(&name, options.currency);
        // For clash reports: per prefix call, (destination, line in Destinations.csv).
        let mut origin: Vec<(String, usize)> = Vec::new();
        for (dest, timed) in per_dest {
            let line = timed.first().map_or(1, |x| x.1);
            let label = dest.clone().unwrap_or_else(|| "*any".to_owned());
            let rates = timed.into_iter().map(|x| x.0).collect();
            let tariff = match Tariff::new(&label, options.currency, options.utc_offset, rates) {
                Ok(t) => t,
                Err(p) => {
                    e.at(file, line, 1, p);
                    continue;
                }
            };
            let i = builder.destination(tariff);
            match &dest {
                None => {
                    builder.prefix("", i);
                    origin.push((label, 0));
                }
                Some(d) => {
                    for (prefix, pline) in destinations.get(d).map_or(&[][..], Vec::as_slice) {
                        builder.prefix(prefix, i);
                        origin.push((label.clone(), *pline));
                    }
                }
            }
        }
        match builder.build() {
            Ok(plan) => set.insert(plan),
            Err(clash) => {
                let (a, a_line) = origin.get(clash.first).cloned().unwrap_or_default();
                let (b, b_line) = origin.get(clash.second).cloned().unwrap_or_default();
                e.at(
                    dest_file,
                    b_line.max(1),
                    1,
                    format!("rating plan {name}: a prefix of destination {b} is also one of {a} (line {a_line}); a prefix must lead to one destination per plan"),
                );
            }
        }
    }
    set
}

fn rating_profiles(
    (file, recs): &(String, Vec<Record<'_>>),
    named: &[&str],
    plans: &mut PlanSet,
    e: &mut ImportErrors,
) -> Vec<String> {
    const COLS: &str = "6 (#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject), or 7 with a leading Direction";
    let mut skipped = Vec::new();
    for r in recs {
        if !width(file, r, 5, 7, COLS, e) {
            continue;
        }
        // The older layout starts with Direction (*out / *in).
        let o = usize::from(r.text(0).starts_with('*') && r.fields.len() == 7);
        let Some(tenant) = id(file, r, o, "Tenant", e) else {
            continue;
        };
        let category = r.text(o + 1);
        if category != "call" && category != "*any" {
            skipped.push(format!(
                "{file}:{}: category {category:?} is not rated (only call)",
                r.line
            ));
            continue;
        }
        let subject = r.text(o + 2);
        let activation = match parse_rfc3339(r.text(o + 3)) {
            Some(t) => Some(t),
            None => bad(
                e,
                file,
                r.line,
                r.column(o + 3),
                format!(
                    "ActivationTime {:?}: RFC 3339 (2014-01-14T00:00:00Z) expected",
                    r.text(o + 3)
                ),
            ),
        };
        let plan = match plans.plan(r.text(o + 4)) {
            Ok(p) => Some(p.name().to_owned()),
            // Its own errors are reported where it is defined.
            Err(_) if named.contains(&r.text(o + 4)) => None,
            Err(_) => bad(
                e,
                file,
                r.line,
                r.column(o + 4),
                format!("RatingPlanId {:?} is not in RatingPlans.csv", r.text(o + 4)),
            ),
        };
        let fallbacks: Vec<&str> = r
            .text(o + 5)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let (Some(activation), Some(plan)) = (activation, plan) else {
            continue;
        };
        let scope = match subject {
            "" => {
                e.at(
                    file,
                    r.line,
                    r.column(o + 2),
                    "Subject is empty (a user or *any)",
                );
                continue;
            }
            "*any" => Scope::Domain(tenant),
            user => Scope::Subscriber {
                user: user.to_owned(),
                domain: tenant,
            },
        };
        plans
            .assignments
            .assign(scope, activation, &plan, &fallbacks);
    }
    skipped
}

#[cfg(test)]
mod tests;
