//! Fuzzes the billing crate's tariff imports on arbitrary text: the native CSV, and the six
//! CGRateS files (the input split at NUL bytes, one piece per file). An import either fails
//! with problems that each name a line and column inside the file, or yields plans that
//! rate a few numbers at a few times without panicking and never at a negative cost.
#![no_main]

use std::collections::HashMap;
use std::sync::Arc;

use billing::import::{cgrates, native};
use billing::{Currency, Error, RatingPlan, Timing, UtcOffset};
use libfuzzer_sys::fuzz_target;

const NUMBERS: [&str; 5] = ["+46812345", "1", "4915112345678", "0", "99999999999999999999"];
const TIMES: [i64; 3] = [0, 1_793_613_600, 1_793_685_599];

fn exercise(plan: &RatingPlan) {
    for n in NUMBERS {
        for t in TIMES {
            if let Ok(r) = plan.rate(n, t, 125) {
                assert!(!r.cost.total.is_sign_negative() || r.cost.total.is_zero());
                assert!(r.cost.billed >= 125);
                let _ = r.to_string();
            }
            if let Ok((_, tariff)) = plan.find(n) {
                let _ = tariff.max_billed(t, billing::Decimal::ONE_HUNDRED, 10_800);
            }
        }
    }
}

fn check_lines(e: &Error, texts: &[&str]) {
    if let Error::Import(errors) = e {
        assert!(!errors.is_empty());
        for p in errors.errors() {
            assert!(p.line >= 1 && p.column >= 1);
            let lines = texts.iter().map(|t| t.split('\n').count()).max().unwrap_or(1);
            assert!(p.line <= lines.max(1), "{p}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let eur = Currency::new("EUR").expect("EUR");
    if mode % 2 == 0 {
        let peak = Timing::always("peak").week_days(&[1, 2, 3, 4, 5]).starting_at(8 * 3600);
        let timings = HashMap::from([("peak".to_owned(), Arc::new(peak))]);
        let options = native::Options::new("default", eur, UtcOffset::UTC);
        match native::parse("rates.csv", text, &options, &timings) {
            Ok(plan) => exercise(&plan),
            Err(e) => check_lines(&e, &[text]),
        }
    } else {
        let pieces: Vec<&str> = text.split('\0').collect();
        let files: Vec<(&str, &str)> = cgrates::FILES
            .iter()
            .zip(pieces.iter().chain(std::iter::repeat(&"")))
            .map(|(name, text)| (*name, *text))
            .collect();
        let options = cgrates::Options {
            currency: eur,
            utc_offset: UtcOffset::UTC,
        };
        match cgrates::parse(&files, &options) {
            Ok(imported) => {
                for plan in imported.plans.plans() {
                    exercise(plan);
                }
            }
            Err(e) => check_lines(&e, &pieces),
        }
    }
});
