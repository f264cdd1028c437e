//! The joins of a CGRateS tariff plan: `DestinationRates.csv` (destination × rate ×
//! rounding), `RatingPlans.csv` (destination rates under timings → one tariff per
//! destination of a plan) and `RatingProfiles.csv` (who uses which plan from when).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::assign::{PlanSet, Scope};
use crate::clock::parse_rfc3339;
use crate::error::ImportErrors;
use crate::import::bad;
use crate::import::csv::Record;
use crate::money::{parse_amount, Rounding, RoundingMode};
use crate::plan::PlanBuilder;
use crate::rate::Rate;
use crate::tariff::{Tariff, TimedRate};
use crate::timing::Timing;

use super::tables::{Destinations, Rates};
use super::{id, width, Options};

/// One destination rate row: destination (None: `*any`), rate, rounding.
pub(super) struct DestRate {
    destination: Option<String>,
    rate: Arc<Rate>,
    rounding: Rounding,
}

pub(super) fn destination_rates(
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

pub(super) fn rating_plans(
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

pub(super) fn rating_profiles(
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
