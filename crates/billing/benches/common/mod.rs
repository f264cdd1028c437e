//! Synthetic tariff tables shared by the benches: deterministic, shaped like a retail
//! table (prefixes of 2–9 digits, a few distinct rates, a peak period on weekdays).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use billing::import::native;
use billing::{Currency, RatingPlan, Timing, UtcOffset};

/// xorshift64: deterministic tables and numbers.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` random digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

/// `n` distinct prefixes.
pub fn prefixes(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut set = BTreeSet::new();
    while set.len() < n {
        let len = 2 + (rng.next() % 8) as usize;
        set.insert(rng.digits(len));
    }
    set.into_iter().collect()
}

/// A native CSV of `n` prefixes: every prefix has an always-rate, one in four a peak rate.
pub fn native_csv(prefixes: &[String]) -> String {
    let mut csv =
        String::from("prefix,description,connect_fee,rate_per_min,initial,increment,period\n");
    let shapes = [(60, 60), (30, 6), (1, 1), (60, 1)];
    for (i, p) in prefixes.iter().enumerate() {
        let (a, b) = shapes[i % 4];
        let price = format!("0.{:02}", 1 + i % 40);
        let _ = writeln!(csv, "{p},Destination {p},0.{:02},{price},{a},{b}", i % 3);
        if i % 4 == 0 {
            let _ = writeln!(
                csv,
                "{p},Destination {p},0.{:02},0.{:02},{a},{b},peak",
                i % 3,
                41 + i % 40
            );
        }
    }
    csv
}

/// The `peak` period the CSV names: weekdays from 08:00.
pub fn timings() -> HashMap<String, Arc<Timing>> {
    let peak = Timing::always("peak")
        .week_days(&[1, 2, 3, 4, 5])
        .starting_at(8 * 3600);
    HashMap::from([("peak".to_owned(), Arc::new(peak))])
}

/// The plan of `native_csv(prefixes)`.
pub fn plan(prefixes: &[String]) -> RatingPlan {
    let options = native::Options::new("bench", Currency::new("EUR").expect("EUR"), UtcOffset::UTC);
    native::parse("bench.csv", &native_csv(prefixes), &options, &timings()).expect("bench plan")
}

/// Dialled numbers: a known prefix extended to 11 digits (one in eight is random, mostly
/// matching a shorter prefix or none).
pub fn numbers(prefixes: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            if i % 8 == 7 {
                rng.digits(11)
            } else {
                let p = &prefixes[(rng.next() % prefixes.len() as u64) as usize];
                let rest = 11usize.saturating_sub(p.len());
                format!("+{p}{}", rng.digits(rest))
            }
        })
        .collect()
}
