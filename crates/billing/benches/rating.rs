//! Ratings per second of the rating engine alone: a 10,000-prefix table (goal: at least
//! one million per second per core) and a 100,000-prefix one.
//!
//! `cargo bench -p billing --bench rating`

#![allow(missing_docs, unreachable_pub, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;

/// Monday 2026-11-02 10:00 UTC (peak) and Sunday 2026-11-01 10:00 (off-peak).
const MONDAY: i64 = 1_793_613_600;
const SUNDAY: i64 = MONDAY - 86_400;

fn bench(c: &mut Criterion) {
    for size in [10_000usize, 100_000] {
        let prefixes = common::prefixes(size, 7);
        let plan = common::plan(&prefixes);
        let numbers = common::numbers(&prefixes, 4096, 11);
        let mut g = c.benchmark_group(format!("rating_{size}"));
        g.throughput(Throughput::Elements(numbers.len() as u64));
        g.bench_function("lookup", |b| {
            b.iter(|| {
                for n in &numbers {
                    black_box(plan.find(black_box(n)).ok());
                }
            })
        });
        g.bench_function("rate_125s_explained", |b| {
            b.iter(|| {
                for (i, n) in numbers.iter().enumerate() {
                    let at = if i % 2 == 0 { MONDAY } else { SUNDAY };
                    black_box(plan.rate(black_box(n), at, 125).ok());
                }
            })
        });
        g.bench_function("cost_125s", |b| {
            b.iter(|| {
                for (i, n) in numbers.iter().enumerate() {
                    let at = if i % 2 == 0 { MONDAY } else { SUNDAY };
                    let cost = plan.find(n).and_then(|(_, t)| t.cost(at, black_box(125)));
                    black_box(cost.ok());
                }
            })
        });
        g.bench_function("max_duration_10_eur", |b| {
            let budget = billing::Decimal::TEN;
            b.iter(|| {
                for n in &numbers {
                    let m = plan
                        .find(n)
                        .and_then(|(_, t)| t.max_billed(MONDAY, budget, 10_800));
                    black_box(m.ok());
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
