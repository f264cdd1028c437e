//! RFC 2782 SRV ordering: ascending priority, weighted random within a priority. Pure: the
//! random source is an argument, so tests seed it.

/// One SRV record (RFC 2782), as the ordering needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among the records of the same priority; 0 gets a small chance only.
    pub weight: u16,
    /// The port to contact the target on.
    pub port: u16,
    /// The target host name.
    pub target: String,
}

/// RFC 2782 "Usage rules": the order in which to try `records`.
///
/// Records are grouped by ascending priority. Within a priority, the RFC's selection is
/// repeated until the group is used up: weight-0 records are placed first, a running sum of
/// the weights is kept, a number is drawn uniformly from `0..=sum`, and the first record whose
/// running sum is at least that number comes next. A record of weight `w` is thus picked with
/// probability `w / (sum + 1)`, or `1 / (sum + 1)` for the first weight-0 record: the "very
/// small chance" the RFC asks for. When every remaining weight is 0, each is equally likely
/// (the RFC's draw would always pick the first; a uniform pick spreads the load instead).
///
/// `rng` is the random source: `fastrand::Rng::new()` in production, a seeded
/// `fastrand::Rng::with_seed` in tests.
pub fn order_srv(mut records: Vec<SrvRecord>, rng: &mut fastrand::Rng) -> Vec<SrvRecord> {
    // Stable: weight-0 records first inside each priority, as RFC 2782 asks.
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut rest = records.as_mut_slice();
    while let Some(first) = rest.first() {
        let priority = first.priority;
        let len = rest.iter().take_while(|r| r.priority == priority).count();
        let (group, tail) = rest.split_at_mut(len);
        order_group(group, rng);
        rest = tail;
    }
    records
}

/// Reorders one priority group in place: position `i` gets the `i`-th weighted draw among
/// the records not placed yet.
fn order_group(group: &mut [SrvRecord], rng: &mut fastrand::Rng) {
    for placed in 0..group.len() {
        let remaining = &group[placed..];
        let sum: u64 = remaining.iter().map(|r| u64::from(r.weight)).sum();
        let pick = if sum == 0 {
            rng.usize(0..remaining.len())
        } else {
            let draw = rng.u64(0..=sum);
            let mut running = 0;
            remaining
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= draw
                })
                .unwrap_or(remaining.len() - 1)
        };
        // Keep the unplaced records in their order (weight 0 still first) for the next draw.
        group[placed..=placed + pick].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn empty_and_single() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert!(order_srv(vec![], &mut rng).is_empty());
        assert_eq!(
            order_srv(vec![rec(5, 0, "a")], &mut rng),
            vec![rec(5, 0, "a")]
        );
    }

    #[test]
    fn priorities_ascend_whatever_the_weights() {
        let records = vec![
            rec(20, 65535, "c1"),
            rec(10, 1, "b1"),
            rec(30, 0, "d"),
            rec(10, 100, "b2"),
            rec(0, 0, "a"),
            rec(20, 0, "c2"),
        ];
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let ordered = order_srv(records.clone(), &mut rng);
            let priorities: Vec<u16> = ordered.iter().map(|r| r.priority).collect();
            assert_eq!(priorities, [0, 10, 10, 20, 20, 30], "seed {seed}");
            let mut all = targets(&ordered);
            all.sort_unstable();
            assert_eq!(all, ["a", "b1", "b2", "c1", "c2", "d"], "seed {seed}");
        }
    }

    #[test]
    fn same_seed_same_order() {
        let records: Vec<_> = (0..8).map(|i| rec(1, 10, &format!("h{i}"))).collect();
        let a = order_srv(records.clone(), &mut fastrand::Rng::with_seed(42));
        let b = order_srv(records.clone(), &mut fastrand::Rng::with_seed(42));
        assert_eq!(a, b);
    }

    /// How often each target comes first over `draws` seeded orderings.
    fn first_counts(records: &[SrvRecord], draws: u64) -> HashMap<String, u64> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = HashMap::new();
        for _ in 0..draws {
            let ordered = order_srv(records.to_vec(), &mut rng);
            *counts.entry(ordered[0].target.clone()).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn weights_share_the_first_place() {
        // 60/30/10: first place with probability w / (100 + 1).
        let records = [rec(1, 10, "small"), rec(1, 60, "big"), rec(1, 30, "mid")];
        let draws = 20_000;
        let counts = first_counts(&records, draws);
        for (target, weight) in [("big", 60.0), ("mid", 30.0), ("small", 10.0)] {
            let share = counts[target] as f64 / draws as f64;
            let expected = weight / 101.0;
            assert!(
                (share - expected).abs() < 0.02,
                "{target}: {share} vs {expected}"
            );
        }
    }

    #[test]
    fn second_place_follows_the_remaining_weights() {
        // When "big" (60) went first, "mid" (30) is second with probability 30 / 41.
        let records = [rec(1, 10, "small"), rec(1, 60, "big"), rec(1, 30, "mid")];
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut big_first, mut then_mid) = (0u32, 0u32);
        for _ in 0..20_000 {
            let ordered = order_srv(records.to_vec(), &mut rng);
            if ordered[0].target == "big" {
                big_first += 1;
                if ordered[1].target == "mid" {
                    then_mid += 1;
                }
            }
        }
        let share = f64::from(then_mid) / f64::from(big_first);
        assert!((share - 30.0 / 41.0).abs() < 0.02, "{share}");
    }

    #[test]
    fn weight_zero_gets_a_small_chance() {
        let records = [rec(1, 0, "zero"), rec(1, 50, "a"), rec(1, 49, "b")];
        let draws = 20_000;
        let counts = first_counts(&records, draws);
        let zero = counts.get("zero").copied().unwrap_or(0);
        // 1 / (99 + 1) = 1 %: more than never, far less than its peers.
        assert!(zero > 0, "weight 0 never first");
        assert!(
            (zero as f64 / draws as f64) < 0.02,
            "weight 0 first {zero} times"
        );
        // And it always comes somewhere: nothing is dropped.
        let ordered = order_srv(records.to_vec(), &mut fastrand::Rng::with_seed(3));
        assert_eq!(ordered.len(), 3);
    }

    #[test]
    fn all_weights_zero_spread_evenly() {
        let records = [
            rec(1, 0, "a"),
            rec(1, 0, "b"),
            rec(1, 0, "c"),
            rec(1, 0, "d"),
        ];
        let draws = 20_000;
        let counts = first_counts(&records, draws);
        for t in ["a", "b", "c", "d"] {
            let share = counts[t] as f64 / draws as f64;
            assert!((share - 0.25).abs() < 0.02, "{t}: {share}");
        }
    }

    #[test]
    fn extreme_weights_do_not_overflow() {
        let records: Vec<_> = (0..100)
            .map(|i| rec(1, u16::MAX, &format!("h{i}")))
            .collect();
        let ordered = order_srv(records, &mut fastrand::Rng::with_seed(5));
        assert_eq!(ordered.len(), 100);
    }
}
