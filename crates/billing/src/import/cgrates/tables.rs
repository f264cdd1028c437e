//! The leaf tables of a CGRateS tariff plan: `Destinations.csv`, `Rates.csv`,
//! `Timings.csv`, each read into a map by id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::ImportErrors;
use crate::import::bad;
use crate::import::csv::Record;
use crate::money::parse_amount;
use crate::prefix::normalize_prefix;
use crate::rate::{max_price, Rate, RateSlot, MAX_SECONDS};
use crate::timing::{parse_list, parse_time_of_day, Timing};

use super::{id, width};

/// Destination id → [(normalised prefix, line)].
pub(super) type Destinations = BTreeMap<String, Vec<(String, usize)>>;

pub(super) fn destinations(
    (file, recs): &(String, Vec<Record<'_>>),
    e: &mut ImportErrors,
) -> Destinations {
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
pub(super) fn duration(s: &str) -> Result<u32, String> {
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
pub(super) type Rates = HashMap<String, (Arc<Rate>, usize)>;

pub(super) fn rates((file, recs): &(String, Vec<Record<'_>>), e: &mut ImportErrors) -> Rates {
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

pub(super) fn timings(
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
