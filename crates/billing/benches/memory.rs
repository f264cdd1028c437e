//! Memory of a 100,000-prefix rating plan (and a 10,000 one): the heap bytes the plan
//! holds once imported (counted by `alloc-counter`: requested minus given back, so the
//! import's temporaries do not count), the resident set growth, and the prefix table's own
//! arrays.
//!
//! `cargo bench -p billing --bench memory` prints the figures; nothing is timed.

#![allow(missing_docs, unreachable_pub, clippy::expect_used)]

#[allow(dead_code)]
mod common;

#[global_allocator]
static ALLOC: alloc_counter::CountingAlloc = alloc_counter::CountingAlloc;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // Criterion's harness arguments (`--bench`) are ignored.
    for size in [10_000usize, 100_000] {
        let prefixes = common::prefixes(size, 7);
        let csv = common::native_csv(&prefixes);
        let timings = common::timings();
        let options = billing::import::native::Options::new(
            "bench",
            billing::Currency::new("EUR").expect("EUR"),
            billing::UtcOffset::UTC,
        );
        let before = rss_kb();
        let (plan, counts) = alloc_counter::measure(|| {
            billing::import::native::parse("bench.csv", &csv, &options, &timings)
                .expect("bench plan")
        });
        let after = rss_kb();
        let live = counts.live_bytes().max(0) as f64;
        let table: usize = plan.table_heap_bytes();
        println!(
            "{size} prefixes ({} CSV lines, {} KiB of CSV): plan holds {:.0} KiB ({:.0} B/prefix), {} allocations during import; RSS +{} KiB ({:.0} B/prefix); prefix table arrays {} KiB ({:.1} B/prefix)",
            csv.lines().count() - 1,
            csv.len() / 1024,
            live / 1024.0,
            live / size as f64,
            counts.total(),
            after.saturating_sub(before),
            (after.saturating_sub(before) * 1024) as f64 / size as f64,
            table / 1024,
            table as f64 / size as f64,
        );
        drop(plan);
    }
}
