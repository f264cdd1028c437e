//! Postpaid invoices, the money part: a month's rated calls of one account grouped into
//! line items by destination, their exact subtotal, the tax and the total.
//!
//! Seed 000 §3.2 names post-paid billing, where calls are charged to an account and the
//! customer is sent an invoice for a period, as one of the two billing scenarios of a
//! provider (issue 18, point 5). The store keeps the issued invoice
//! (`store::Store::issue_invoice`) and `itsp invoice run` renders it; what is summed, and
//! how, is here, without I/O.
//!
//! ## The rules
//!
//! - **Which calls**: those that *started* in the [`Month`] at the given [`UtcOffset`]
//!   ([`Month::bounds`]), as the call detail records' `start_ms` says; a call is on the
//!   invoice of the month it started in, whatever its length.
//! - **Destinations**: a call detail record keeps the plan that priced it and the number
//!   dialled, not the destination's name. [`destination_of`] looks the number up in that
//!   plan again (the plans loaded now: a plan re-imported since the call names its
//!   destinations as it does today); a number the plan no longer prices, or a plan no
//!   longer loaded, falls back to the number's E.164 country code ([`country_code`]).
//!   Lines are grouped by destination name and prefix, in name order.
//! - **Amounts**: each call's cost is what rating put on its record (already rounded by
//!   its plan's rule); a line's amount and the subtotal are their exact sums, never
//!   rounded. The tax is `subtotal × tax rate` rounded once to the currency's minor unit
//!   ([`minor_units`]: 2 decimals for most currencies), half away from zero; the total
//!   is `subtotal + tax`, exactly. So the total is the sum of the rated calls plus the tax,
//!   to the last digit, and the rounding of the tax is the one rounding on the invoice.
//! - **Seconds** are each call's billable talk time (answer to end, a started second
//!   counts), not the seconds its increments billed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::assign::PlanSet;
use crate::clock::{days_from_civil, UnixTime, UtcOffset, DAY};
use crate::error::Error;
use crate::money::{Currency, Rounding, RoundingMode};
use crate::prefix::normalize_number;

/// A calendar month, the period of an invoice: `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: u16,
    month: u8,
}

impl Month {
    /// The month `month` (1–12) of `year` (1970–9999).
    pub fn new(year: u16, month: u8) -> Option<Month> {
        ((1970..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month of the year, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The month after this one (`None` after 9999-12).
    pub fn next(self) -> Option<Month> {
        if self.month == 12 {
            Month::new(self.year.checked_add(1)?, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    /// The month's first instant and the next month's first instant, read on a wall clock
    /// at `offset`, in Unix seconds: calls with `start <= t < end` belong to it.
    pub fn bounds(self, offset: UtcOffset) -> (UnixTime, UnixTime) {
        let first = |year: u16, month: u8| {
            days_from_civil(i64::from(year), month, 1) * DAY - i64::from(offset.seconds())
        };
        let (next_year, next_month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        (first(self.year, self.month), first(next_year, next_month))
    }
}

impl FromStr for Month {
    type Err = Error;

    /// `YYYY-MM`, exactly: `2026-11`.
    fn from_str(s: &str) -> Result<Month, Error> {
        let bad = || Error::Invalid(format!("`{s}` is not a month like 2026-11"));
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(bad());
        }
        let number = |t: Option<&str>| {
            t.filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|t| t.parse::<u16>().ok())
        };
        let year = number(s.get(..4));
        let month = number(s.get(5..)).and_then(|m| u8::try_from(m).ok());
        match (year, month) {
            (Some(y), Some(m)) => Month::new(y, m).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Where a call went, as an invoice line names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    /// The destination's name in the plan (`Stockholm`), or `+46` for a number the plan
    /// does not name.
    pub name: String,
    /// The prefix it was found by, digits without `+` (`468`); empty when not even a
    /// country code could be read from the number.
    pub prefix: String,
}

impl Destination {
    /// The line's text: `Stockholm (+468)`, `+46`, or the bare name.
    pub fn description(&self) -> String {
        if self.prefix.is_empty() || self.name == format!("+{}", self.prefix) {
            self.name.clone()
        } else {
            format!("{} (+{})", self.name, self.prefix)
        }
    }
}

/// The destination of a call to `number` priced by plan `plan`: the plan's destination of
/// the number's longest prefix, else the number's country code (see the module docs).
pub fn destination_of(plans: &PlanSet, plan: &str, number: &str) -> Destination {
    if let Some((prefix, tariff)) = plans.plan(plan).ok().and_then(|p| p.find(number).ok()) {
        return Destination {
            name: tariff.destination().to_owned(),
            prefix: prefix.to_owned(),
        };
    }
    match country_code(number) {
        Some(code) => Destination {
            name: format!("+{code}"),
            prefix: code.to_owned(),
        },
        None => Destination {
            name: "other numbers".to_owned(),
            prefix: String::new(),
        },
    }
}

/// The E.164 country calling code of an international number (`+46812345`, `46812345`,
/// `0046812345`): 1, 2 or 3 digits, which ITU-T E.164 assigns so that no code is a
/// prefix of another. The 1- and 2-digit codes are listed; every other code has 3 digits.
/// `None` for what is not a number of at least 4 digits.
pub fn country_code(number: &str) -> Option<&str> {
    let digits = normalize_number(number).ok()?;
    let digits = digits.strip_prefix("00").unwrap_or(digits);
    if digits.len() < 4 || digits.starts_with('0') {
        return None;
    }
    const TWO_DIGITS: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    let len = if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO_DIGITS.contains(&&digits[..2]) {
        2
    } else {
        3
    };
    digits.get(..len)
}

/// The decimals of a currency's minor unit (ISO 4217): 0 for the currencies without one
/// in use (JPY, KRW, ISK, ...), 3 for the dinars and rials that count thousandths, 2 for
/// every other.
pub fn minor_units(currency: Currency) -> u32 {
    match currency.as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// How the tax of an invoice in `currency` is rounded: to the minor unit, half away from
/// zero.
pub fn tax_rounding(currency: Currency) -> Rounding {
    Rounding {
        decimals: minor_units(currency),
        mode: RoundingMode::HalfUp,
    }
}

/// `amount` written with at least the currency's decimals (`1` → `1.00`, `0.8958` stays):
/// how an invoice prints money, never dropping a digit.
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    let mut shown = amount;
    let decimals = minor_units(currency);
    if shown.scale() < decimals {
        shown.rescale(decimals);
    }
    shown.to_string()
}

/// One rated call of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedCall {
    /// Where it went.
    pub destination: Destination,
    /// Its billable talk time, seconds.
    pub seconds: u64,
    /// What rating said it cost.
    pub cost: Decimal,
    /// In which currency.
    pub currency: Currency,
}

/// One line of an invoice: the calls to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The destination.
    pub destination: Destination,
    /// How many calls.
    pub calls: u64,
    /// Their billable seconds, summed.
    pub seconds: u64,
    /// Their costs, summed exactly.
    pub amount: Decimal,
}

/// What an invoice says, before it has a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The currency of every amount.
    pub currency: Currency,
    /// The lines, by destination name and prefix.
    pub lines: Vec<Line>,
    /// The exact sum of the lines.
    pub subtotal: Decimal,
    /// The tax rate, a fraction (`0.25` for 25 %).
    pub tax_rate: Decimal,
    /// `subtotal × tax_rate`, rounded by [`tax_rounding`].
    pub tax: Decimal,
    /// `subtotal + tax`, exactly.
    pub total: Decimal,
}

impl Statement {
    /// The statement of `calls` in `currency` at `tax_rate` (a fraction from 0 to 1).
    /// [`Error::CurrencyMismatch`] for a call priced in another currency (an invoice has
    /// one); [`Error::Invalid`] for a tax rate out of range or sums out of range.
    pub fn of_calls(
        currency: Currency,
        calls: impl IntoIterator<Item = RatedCall>,
        tax_rate: Decimal,
    ) -> Result<Statement, Error> {
        if tax_rate.is_sign_negative() && !tax_rate.is_zero() || tax_rate > Decimal::ONE {
            return Err(Error::Invalid(format!(
                "tax rate {tax_rate}: a fraction from 0 to 1 expected (0.25 for 25 %)"
            )));
        }
        let too_large = || Error::Invalid("the invoice's sums are out of range".to_owned());
        let mut lines: BTreeMap<Destination, Line> = BTreeMap::new();
        for call in calls {
            if call.currency != currency {
                return Err(Error::CurrencyMismatch {
                    account: currency.to_string(),
                    tariff: call.currency.to_string(),
                });
            }
            let line = lines
                .entry(call.destination.clone())
                .or_insert_with(|| Line {
                    destination: call.destination,
                    calls: 0,
                    seconds: 0,
                    amount: Decimal::ZERO,
                });
            line.calls += 1;
            line.seconds = line.seconds.saturating_add(call.seconds);
            line.amount = line.amount.checked_add(call.cost).ok_or_else(too_large)?;
        }
        let lines: Vec<Line> = lines.into_values().collect();
        let mut subtotal = Decimal::ZERO;
        for line in &lines {
            subtotal = subtotal.checked_add(line.amount).ok_or_else(too_large)?;
        }
        let tax =
            tax_rounding(currency).apply(subtotal.checked_mul(tax_rate).ok_or_else(too_large)?);
        let total = subtotal.checked_add(tax).ok_or_else(too_large)?;
        Ok(Statement {
            currency,
            lines,
            subtotal,
            tax_rate,
            tax,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::import::native;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn eur() -> Currency {
        Currency::new("EUR").unwrap()
    }

    fn call(name: &str, prefix: &str, seconds: u64, cost: &str) -> RatedCall {
        RatedCall {
            destination: Destination {
                name: name.into(),
                prefix: prefix.into(),
            },
            seconds,
            cost: d(cost),
            currency: eur(),
        }
    }

    #[test]
    fn months_parse_and_bound_their_calls() {
        let nov: Month = "2026-11".parse().unwrap();
        assert_eq!(
            (nov.year(), nov.month(), nov.to_string()),
            (2026, 11, "2026-11".into())
        );
        // 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z.
        assert_eq!(nov.bounds(UtcOffset::UTC), (1_793_491_200, 1_796_083_200));
        // At +01:00 the month starts an hour earlier in UTC.
        let cet: UtcOffset = "+01:00".parse().unwrap();
        assert_eq!(nov.bounds(cet), (1_793_487_600, 1_796_079_600));
        let dec: Month = "2026-12".parse().unwrap();
        assert_eq!(dec.bounds(UtcOffset::UTC).1, 1_798_761_600); // 2027-01-01
        assert_eq!(nov.next(), Some(dec));
        assert_eq!(dec.next().map(|m| m.to_string()), Some("2027-01".into()));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "1969-12",
            "",
            "２０２６-11",
        ] {
            let e = bad.parse::<Month>().unwrap_err().to_string();
            assert!(e.contains("is not a month like 2026-11"), "{bad}: {e}");
        }
    }

    #[test]
    fn calls_are_grouped_by_destination_with_exact_sums() {
        let s = Statement::of_calls(
            eur(),
            [
                call("Stockholm", "468", 125, "0.89"),
                call("Sweden", "46", 60, "0.10"),
                call("Stockholm", "468", 7, "0.0958"),
                call("Sweden", "46", 1, "0.10"),
            ],
            Decimal::ZERO,
        )
        .unwrap();
        let lines: Vec<(String, u64, u64, String)> = s
            .lines
            .iter()
            .map(|l| {
                (
                    l.destination.description(),
                    l.calls,
                    l.seconds,
                    l.amount.to_string(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("Stockholm (+468)".into(), 2, 132, "0.9858".into()),
                ("Sweden (+46)".into(), 2, 61, "0.20".into()),
            ]
        );
        // Never rounded: the subtotal keeps the fourth decimal of a call's cost.
        assert_eq!(s.subtotal, d("1.1858"));
        assert_eq!((s.tax, s.total), (d("0"), d("1.1858")));
    }

    #[test]
    fn the_tax_is_the_one_rounding_half_up_to_the_minor_unit() {
        // 0.10 × 0.25 = 0.025 → 0.03 (half away from zero).
        let s = Statement::of_calls(eur(), [call("Sweden", "46", 60, "0.10")], d("0.25")).unwrap();
        assert_eq!((s.tax, s.total), (d("0.03"), d("0.13")));
        // 0.0958 × 0.25 = 0.02395 → 0.02; the total keeps the subtotal's digits.
        let s = Statement::of_calls(eur(), [call("Sweden", "46", 7, "0.0958")], d("0.25")).unwrap();
        assert_eq!((s.tax, s.total), (d("0.02"), d("0.1158")));
        assert_eq!(s.total, s.subtotal + s.tax);
        // Yen have no minor unit: 1,001 × 0.1 = 100.1 → 100.
        let jpy = Currency::new("JPY").unwrap();
        let mut c = call("Japan", "81", 60, "1001");
        c.currency = jpy;
        let s = Statement::of_calls(jpy, [c], d("0.1")).unwrap();
        assert_eq!((s.tax, s.total), (d("100"), d("1101")));
        assert_eq!(format_amount(d("1101"), jpy), "1101");
        assert_eq!(format_amount(d("1"), eur()), "1.00");
        assert_eq!(format_amount(d("0.1158"), eur()), "0.1158");
        assert_eq!(minor_units(Currency::new("KWD").unwrap()), 3);
    }

    #[test]
    fn one_currency_and_a_sane_tax_rate() {
        let mut sek = call("Sweden", "46", 60, "1");
        sek.currency = Currency::new("SEK").unwrap();
        let e = Statement::of_calls(eur(), [sek], Decimal::ZERO).unwrap_err();
        assert!(matches!(e, Error::CurrencyMismatch { .. }), "{e}");
        for rate in ["-0.1", "1.5"] {
            let e = Statement::of_calls(eur(), [], d(rate))
                .unwrap_err()
                .to_string();
            assert!(e.contains("tax rate"), "{e}");
        }
        let empty = Statement::of_calls(eur(), [], d("0.25")).unwrap();
        assert!(empty.lines.is_empty());
        assert_eq!(empty.total, Decimal::ZERO);
    }

    #[test]
    fn destinations_come_from_the_plan_else_the_country_code() {
        let csv = "46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.40,30,6\n";
        let options = native::Options::new("default", eur(), UtcOffset::UTC);
        let mut plans = PlanSet::new();
        plans.insert(native::parse("rates.csv", csv, &options, &Default::default()).unwrap());
        let of = |plan: &str, number: &str| destination_of(&plans, plan, number).description();
        assert_eq!(of("default", "+46812345"), "Stockholm (+468)");
        assert_eq!(of("default", "4670123"), "Sweden (+46)");
        // Not priced by the plan now, or the plan is gone: the country code.
        assert_eq!(of("default", "+4915112345"), "+49");
        assert_eq!(of("gone", "+46812345"), "+46");
        assert_eq!(of("gone", "0035312345"), "+353");
        assert_eq!(of("gone", "+12125550100"), "+1");
        assert_eq!(of("gone", "bob"), "other numbers");
        assert_eq!(country_code("+79161234567"), Some("7"));
        assert_eq!(country_code("0812345"), None);
        assert_eq!(country_code("+46"), None);
    }
}
