use super::*;
use crate::clock::parse_rfc3339;
use crate::money::{parse_amount, RoundingMode};

fn d(s: &str) -> Decimal {
    parse_amount(s).unwrap()
}

fn at(s: &str) -> UnixTime {
    parse_rfc3339(s).unwrap()
}

fn eur() -> Currency {
    Currency::new("EUR").unwrap()
}

fn timed(timing: Timing, rate: Rate, weight: i32) -> TimedRate {
    TimedRate {
        timing: Arc::new(timing),
        rate: Arc::new(rate),
        weight,
        rounding: Rounding::default(),
    }
}

fn flat(fee: &str, per_min: &str, initial: u32, inc: u32) -> Tariff {
    let rate = Rate::per_minute("R", d(fee), d(per_min), initial, inc).unwrap();
    Tariff::new(
        "Dest",
        eur(),
        UtcOffset::UTC,
        vec![timed(Timing::always("*any"), rate, 0)],
    )
    .unwrap()
}

/// Day 0.60/min 08:00–20:00, night 0.12/min (20:00–08:00), per second.
fn day_night() -> Tariff {
    let day = Rate::per_minute("DAY", Decimal::ZERO, d("0.60"), 1, 1).unwrap();
    let night = Rate::per_minute("NIGHT", Decimal::ZERO, d("0.12"), 1, 1).unwrap();
    Tariff::new(
        "Dest",
        eur(),
        UtcOffset::UTC,
        vec![
            timed(Timing::always("NIGHT_EARLY"), night.clone(), 10),
            timed(Timing::always("DAY").starting_at(8 * 3600), day, 10),
            timed(
                Timing::always("NIGHT_LATE").starting_at(20 * 3600),
                night,
                10,
            ),
        ],
    )
    .unwrap()
}

const T0: &str = "2026-11-02T10:00:00Z"; // a Monday

#[test]
fn increments() {
    let t0 = at(T0);
    // 60/60 at 1.00/min: 61 s bills two minutes.
    let c = flat("0", "1.00", 60, 60).cost(t0, 61).unwrap();
    assert_eq!((c.total, c.billed), (d("2"), 120));
    // 30/6 at 0.40/min: 125 s = 30 s + 16 × 6 s = 126 s = 0.84.
    let c = flat("0", "0.40", 30, 6).cost(t0, 125).unwrap();
    assert_eq!((c.total, c.billed), (d("0.84"), 126));
    // Shorter than the initial increment: the whole first increment.
    let c = flat("0", "0.40", 30, 6).cost(t0, 1).unwrap();
    assert_eq!((c.total, c.billed), (d("0.2"), 30));
    // 1/1: exactly the seconds.
    let c = flat("0", "0.60", 1, 1).cost(t0, 125).unwrap();
    assert_eq!((c.total, c.billed), (d("1.25"), 125));
    // 0 s: the connect fee alone.
    let c = flat("0.10", "0.60", 1, 1).cost(t0, 0).unwrap();
    assert_eq!((c.total, c.billed), (d("0.10"), 0));
}

#[test]
fn connect_fee_and_exact_decimals() {
    let t0 = at(T0);
    let c = flat("0.05", "0.07", 1, 1).cost(t0, 7).unwrap();
    // 0.05 + 0.07 × 7 / 60 = 0.0581666…
    assert_eq!(c.connect_fee, d("0.05"));
    assert_eq!(c.exact.round_dp(10), d("0.0581666667"));
    assert_eq!(c.total, d("0.0582"));
    // Ten thousand calls of 1 s at 0.01/min add up exactly where floats would drift.
    let t = flat("0", "0.01", 1, 1);
    let sum: Decimal = (0..10_000).map(|_| t.cost(t0, 6).unwrap().total).sum();
    assert_eq!(sum, d("10"));
}

#[test]
fn rounding_of_the_total_only() {
    let t0 = at(T0);
    let mut t = flat("0", "0.125", 60, 60);
    for r in &mut t.rates {
        r.rounding = Rounding {
            decimals: 2,
            mode: RoundingMode::HalfUp,
        };
    }
    assert_eq!(t.cost(t0, 60).unwrap().total, d("0.13"));
    assert_eq!(t.cost(t0, 120).unwrap().total, d("0.25"));
    for r in &mut t.rates {
        r.rounding.mode = RoundingMode::Up;
    }
    assert_eq!(t.cost(t0, 1).unwrap().total, d("0.13"));
    for r in &mut t.rates {
        r.rounding.mode = RoundingMode::Down;
    }
    assert_eq!(t.cost(t0, 180).unwrap().total, d("0.37"));
}

#[test]
fn call_across_midnight_is_rated_per_part() {
    // 19:59:00 + 3 min: 60 s of day, 120 s of night.
    let t = day_night();
    let mut parts = Vec::new();
    let c = t
        .walk(at("2026-11-02T19:59:00Z"), 180, |p| parts.push(p))
        .unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        (parts[0].timing, parts[0].count, parts[0].cost),
        ("DAY", 60, d("0.6"))
    );
    assert_eq!((parts[1].timing, parts[1].count), ("NIGHT_LATE", 120));
    assert_eq!(parts[1].start, at("2026-11-02T20:00:00Z"));
    assert_eq!(c.total, d("0.84"));
    // Across midnight the night rate goes on (two runs, one per day).
    let mut parts = Vec::new();
    let c = t
        .walk(at("2026-11-02T23:59:30Z"), 60, |p| parts.push(p))
        .unwrap();
    assert_eq!(
        parts.iter().map(|p| p.timing).collect::<Vec<_>>(),
        ["NIGHT_LATE", "NIGHT_EARLY"]
    );
    assert_eq!(c.total, d("0.12"));
}

#[test]
fn increment_is_rated_by_the_period_it_starts_in() {
    // 60/60 increments: the one starting 19:59:30 is a day minute although it ends at night.
    let day = Rate::per_minute("DAY", Decimal::ZERO, d("1"), 60, 60).unwrap();
    let night = Rate::per_minute("NIGHT", Decimal::ZERO, d("0.10"), 60, 60).unwrap();
    let t = Tariff::new(
        "Dest",
        eur(),
        UtcOffset::UTC,
        vec![
            timed(Timing::always("NIGHT"), night, 10),
            timed(Timing::always("DAY").starting_at(8 * 3600), day.clone(), 10),
            timed(
                Timing::always("NIGHT2").starting_at(20 * 3600),
                Rate::per_minute("NIGHT", Decimal::ZERO, d("0.10"), 60, 60).unwrap(),
                10,
            ),
        ],
    )
    .unwrap();
    let c = t.cost(at("2026-11-02T19:59:30Z"), 90).unwrap();
    // 19:59:30 day minute (1.00), 20:00:30 night minute (0.10).
    assert_eq!((c.total, c.billed), (d("1.1"), 120));
}

#[test]
fn weight_then_latest_start_wins() {
    // CGRateS tutorial shape: OFFPEAK_MORNING 00:00, PEAK 08:00, OFFPEAK_EVENING 19:00 on
    // weekdays, OFFPEAK_WEEKEND, all weight 10.
    let peak = Rate::per_minute("RT_40CNT", Decimal::ZERO, d("0.4"), 60, 60).unwrap();
    let off = Rate::per_minute("RT_10CNT", Decimal::ZERO, d("0.1"), 60, 60).unwrap();
    let wd = [1, 2, 3, 4, 5];
    let t = Tariff::new(
        "DST_FS",
        eur(),
        UtcOffset::UTC,
        vec![
            timed(
                Timing::always("PEAK").week_days(&wd).starting_at(8 * 3600),
                peak,
                10,
            ),
            timed(
                Timing::always("OFFPEAK_MORNING").week_days(&wd),
                off.clone(),
                10,
            ),
            timed(
                Timing::always("OFFPEAK_EVENING")
                    .week_days(&wd)
                    .starting_at(19 * 3600),
                off.clone(),
                10,
            ),
            timed(
                Timing::always("OFFPEAK_WEEKEND").week_days(&[6, 7]),
                off.clone(),
                10,
            ),
            // A heavier promotion on one day beats everything.
            timed(
                Timing::always("PROMO").months(&[11]).month_days(&[3]),
                Rate::per_minute("FREE", Decimal::ZERO, Decimal::ZERO, 60, 60).unwrap(),
                20,
            ),
        ],
    )
    .unwrap();
    let name = |s: &str| t.rate_at(at(s)).unwrap().timing.name().to_owned();
    assert_eq!(name("2026-11-02T07:59:59Z"), "OFFPEAK_MORNING");
    assert_eq!(name("2026-11-02T08:00:00Z"), "PEAK");
    assert_eq!(name("2026-11-02T18:59:59Z"), "PEAK");
    assert_eq!(name("2026-11-02T19:00:00Z"), "OFFPEAK_EVENING");
    assert_eq!(name("2026-11-01T12:00:00Z"), "OFFPEAK_WEEKEND");
    assert_eq!(name("2026-11-03T12:00:00Z"), "PROMO");
}

#[test]
fn holes_and_offsets() {
    let rate = Rate::per_minute("R", Decimal::ZERO, d("1"), 60, 60).unwrap();
    let weekdays = Timing::always("WD").week_days(&[1, 2, 3, 4, 5]);
    let t = Tariff::new(
        "Dest",
        eur(),
        UtcOffset::UTC,
        vec![timed(weekdays.clone(), rate.clone(), 0)],
    )
    .unwrap();
    assert!(matches!(
        t.cost(at("2026-11-01T12:00:00Z"), 60),
        Err(Error::NoRateAt { .. })
    ));
    // Friday 23:30 UTC is Saturday 00:30 at +01:00.
    let plus1 = "+01:00".parse().unwrap();
    let t = Tariff::new("Dest", eur(), plus1, vec![timed(weekdays, rate, 0)]).unwrap();
    assert!(t.cost(at("2026-11-06T22:30:00Z"), 60).is_ok());
    assert!(t.cost(at("2026-11-06T23:30:00Z"), 60).is_err());
}

#[test]
fn max_billed_for_a_budget() {
    let t0 = at(T0);
    // 0.60/min per second, 0.10 connect fee: 1.00 pays 0.10 + 90 s.
    let t = flat("0.10", "0.60", 1, 1);
    assert_eq!(t.max_billed(t0, d("1.00"), 10_800).unwrap(), Some(90));
    assert_eq!(t.max_billed(t0, d("0.10"), 10_800).unwrap(), Some(0));
    assert_eq!(t.max_billed(t0, d("0.09"), 10_800).unwrap(), None);
    assert_eq!(t.max_billed(t0, d("1000"), 600).unwrap(), Some(600));
    // 30/6 at 0.40/min: 0.50 pays the first 30 s (0.20) and 7 increments of 6 s (0.04 each).
    let t = flat("0", "0.40", 30, 6);
    assert_eq!(
        t.max_billed(t0, d("0.50"), 10_800).unwrap(),
        Some(30 + 7 * 6)
    );
    assert_eq!(t.max_billed(t0, d("0.19"), 10_800).unwrap(), Some(0));
    // Half-up rounding lets the exact cost pass the budget by less than half a step.
    let t = flat("0", "0.0001", 1, 1); // 1/600000 per second
    let m = t.max_billed(t0, d("0.0001"), 100_000).unwrap().unwrap();
    assert!(t.cost(t0, m).unwrap().total <= d("0.0001"));
    assert!(t.cost(t0, m + 1).unwrap().total > d("0.0001"));
    // Across day and night.
    let t = day_night();
    let m = t
        .max_billed(at("2026-11-02T19:59:00Z"), d("0.84"), 10_800)
        .unwrap();
    assert_eq!(m, Some(180));
    // Huge budgets do not overflow.
    assert_eq!(
        flat("0", "0.000001", 1, 1)
            .max_billed(t0, Decimal::MAX, 10_800)
            .unwrap(),
        Some(10_800)
    );
    assert_eq!(
        flat("0", "0", 1, 1)
            .max_billed(t0, Decimal::ZERO, 500)
            .unwrap(),
        Some(500)
    );
}

#[test]
fn max_billed_agrees_with_cost() {
    // Pseudo-random tariffs, start times and budgets: the answer is paid, one increment
    // more is not (unless the cap stopped it).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let shapes = [(60, 60), (30, 6), (1, 1), (60, 1), (10, 10)];
    let modes = [RoundingMode::HalfUp, RoundingMode::Up, RoundingMode::Down];
    for _ in 0..300 {
        let (a, b) = shapes[next(5) as usize];
        let day = Rate::new(
            "DAY",
            Decimal::new(next(50) as i64, 2),
            vec![
                RateSlot {
                    from: 0,
                    price: Decimal::new(next(200) as i64, 3),
                    unit: 60,
                    increment: a,
                },
                RateSlot {
                    from: a,
                    price: Decimal::new(next(200) as i64, 3),
                    unit: 60,
                    increment: b,
                },
            ],
        )
        .unwrap();
        let night = Rate::per_minute(
            "NIGHT",
            Decimal::ZERO,
            Decimal::new(next(100) as i64, 3),
            b,
            b,
        )
        .unwrap();
        let rounding = Rounding {
            decimals: next(5) as u32,
            mode: modes[next(3) as usize],
        };
        let t = Tariff::new(
            "Dest",
            eur(),
            UtcOffset::UTC,
            vec![
                TimedRate {
                    timing: Arc::new(Timing::always("NIGHT")),
                    rate: Arc::new(night),
                    weight: 0,
                    rounding,
                },
                TimedRate {
                    timing: Arc::new(Timing::always("DAY").starting_at(8 * 3600)),
                    rate: Arc::new(day),
                    weight: 0,
                    rounding,
                },
            ],
        )
        .unwrap();
        let start = at("2026-11-02T07:50:00Z") + next(1200) as i64;
        let budget = Decimal::new(next(500) as i64, 2);
        let cap = 3600;
        match t.max_billed(start, budget, cap).unwrap() {
            None => assert!(t.cost(start, 0).unwrap().total > budget),
            Some(m) => {
                let paid = t.cost(start, m).unwrap();
                assert!(paid.total <= budget, "{m} s cost {} > {budget}", paid.total);
                assert_eq!(paid.billed, m, "whole increments");
                if m < cap {
                    let more = t.cost(start, m + 1).unwrap();
                    assert!(more.total > budget, "{} s also fits {budget}", more.billed);
                }
            }
        }
    }
}

#[test]
fn explanation_reads_well() {
    let t = day_night();
    let mut builder = crate::plan::PlanBuilder::new("retail", eur());
    let i = builder.destination(t);
    builder.prefix("4681", i);
    let plan = builder.build().unwrap();
    let r = plan
        .rate("+46812345", at("2026-11-02T19:59:00Z"), 125)
        .unwrap();
    let shown = r.to_string();
    let want = "\
plan retail: 46812345 matches prefix 4681 (Dest)
answered 2026-11-02 19:59:00 +00:00, 125 s, billed 125 s
  connect fee 0 EUR
  from 0 s (2026-11-02 19:59:00) DAY / DAY: 60 x 1 s at 0.60 per 60 s = 0.6 EUR
  from 60 s (2026-11-02 20:00:00) NIGHT_LATE / NIGHT: 65 x 1 s at 0.12 per 60 s = 0.13 EUR
total 0.73 EUR (exact 0.73, rounded to 4 decimals, half up)";
    assert_eq!(shown, want);
}
