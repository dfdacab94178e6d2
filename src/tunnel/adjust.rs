//! The client stock's dynamic adjustment rules (the NodePass pool's), as pure
//! functions so that they are tested without sockets.

use std::time::Duration;

/// How much one round moves the interval.
pub(crate) const INTERVAL_STEP: Duration = Duration::from_millis(100);

/// The interval for the next round, from the idle stock at the start of this
/// one: below 20 % of the capacity → one step shorter (not below `min`),
/// above 80 % → one step longer (not above `max`).
pub(crate) fn next_interval(
    idle: usize,
    capacity: usize,
    interval: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let idle5 = idle.saturating_mul(5);
    if idle5 < capacity {
        interval.saturating_sub(INTERVAL_STEP).max(min)
    } else if idle5 > capacity.saturating_mul(4) {
        interval.saturating_add(INTERVAL_STEP).min(max)
    } else {
        interval
    }
}

/// The capacity for the next round, from the connections added in this one:
/// fewer than 20 % of the capacity → one less (not below `min`), more than
/// 80 % → one more (not above `max`).
pub(crate) fn next_capacity(created: usize, capacity: usize, min: usize, max: usize) -> usize {
    let created5 = created.saturating_mul(5);
    if created5 < capacity && capacity > min {
        capacity - 1
    } else if created5 > capacity.saturating_mul(4) && capacity < max {
        capacity + 1
    } else {
        capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn interval_follows_the_idle_stock() {
        let (min, max) = (100 * MS, 1000 * MS);
        // (idle, capacity, interval) -> next interval
        let table = [
            ((0, 10, 500 * MS), 400 * MS),   // 0 % idle: shorter
            ((1, 10, 500 * MS), 400 * MS),   // 10 %: shorter
            ((2, 10, 500 * MS), 500 * MS),   // exactly 20 %: unchanged
            ((8, 10, 500 * MS), 500 * MS),   // exactly 80 %: unchanged
            ((9, 10, 500 * MS), 600 * MS),   // 90 %: longer
            ((10, 10, 500 * MS), 600 * MS),  // full: longer
            ((0, 10, 150 * MS), 100 * MS),   // not below min
            ((0, 10, 100 * MS), 100 * MS),   // already at min
            ((10, 10, 950 * MS), 1000 * MS), // not above max
            ((10, 10, 1000 * MS), 1000 * MS),
            ((0, 1, 500 * MS), 400 * MS), // capacity 1: empty is below 20 %
            ((1, 1, 500 * MS), 600 * MS), // and full is above 80 %
        ];
        for ((idle, cap, ivl), want) in table {
            assert_eq!(
                next_interval(idle, cap, ivl, min, max),
                want,
                "idle {idle} cap {cap} ivl {ivl:?}"
            );
        }
    }

    #[test]
    fn capacity_follows_the_share_created_per_round() {
        // (created, capacity) -> next capacity, with min 2 and max 12
        let table = [
            ((0, 10), 9),   // nothing needed or every dial failed: smaller
            ((1, 10), 9),   // 10 %
            ((2, 10), 10),  // exactly 20 %: unchanged
            ((8, 10), 10),  // exactly 80 %: unchanged
            ((9, 10), 11),  // 90 %: larger
            ((10, 10), 11), // the whole stock was used: larger
            ((0, 2), 2),    // not below min
            ((12, 12), 12), // not above max
        ];
        for ((created, cap), want) in table {
            assert_eq!(
                next_capacity(created, cap, 2, 12),
                want,
                "created {created} cap {cap}"
            );
        }
    }

    #[test]
    fn an_idle_stock_shrinks_to_min_and_a_drained_one_grows_to_max() {
        let mut cap = 8;
        for _ in 0..20 {
            cap = next_capacity(0, cap, 2, 16);
        }
        assert_eq!(cap, 2);
        for _ in 0..20 {
            cap = next_capacity(cap, cap, 2, 16);
        }
        assert_eq!(cap, 16);
    }
}
