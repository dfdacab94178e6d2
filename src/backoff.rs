//! Exponential backoff with jitter, shared by everything that redials.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Exponential backoff: the n-th consecutive failure waits a random time in
/// `[d/2, d]` where `d = min(min × 2ⁿ, max)`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub(crate) fn failure(&mut self) -> Duration {
        let ceiling = ceiling(self.min, self.max, self.failures);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + random_up_to(ceiling.saturating_sub(half))
    }

    /// Records a success: the next failure starts from `min` again.
    pub(crate) fn success(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

/// `min × 2ⁿ`, capped at `max` (and at least `min`).
pub(crate) fn ceiling(min: Duration, max: Duration, n: u32) -> Duration {
    let max = max.max(min);
    min.checked_mul(1u32 << n.min(30)).unwrap_or(max).min(max)
}

/// "Full jitter" (AWS architecture blog, "Exponential Backoff and Jitter"):
/// the delay before retry `n` (0 for the first) is uniform in
/// `[0, min(max, min × 2ⁿ)]`, so callers that failed together spread out.
pub(crate) fn full_jitter(min: Duration, max: Duration, n: u32) -> Duration {
    random_up_to(ceiling(min, max, n))
}

/// A random duration in `[0, limit]`, to the nanosecond.
fn random_up_to(limit: Duration) -> Duration {
    let span = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    if span == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random_u64() % span.saturating_add(1))
}

/// A random number from the standard library's per-process random hasher keys;
/// good enough for jitter, not for secrets.
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        let mut ceilings = vec![];
        for n in 0..12u32 {
            let d = b.failure();
            let ceiling = (Duration::from_millis(100) * (1u32 << n)).min(Duration::from_secs(30));
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{n}: {d:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling);
        }
        assert_eq!(b.failures(), 12);
        assert_eq!(*ceilings.last().unwrap(), Duration::from_secs(30));
        b.success();
        assert!(b.failure() <= Duration::from_millis(100));
    }

    #[test]
    fn full_jitter_stays_under_the_growing_ceiling() {
        let (min, max) = (Duration::from_millis(10), Duration::from_secs(1));
        for n in 0..40u32 {
            let ceiling = (min * (1u32 << n.min(20))).min(max);
            assert_eq!(super::ceiling(min, max, n), ceiling, "{n}");
            for _ in 0..20 {
                assert!(full_jitter(min, max, n) <= ceiling, "{n}");
            }
        }
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| full_jitter(min, max, 3)).collect();
        assert!(spread.len() > 10, "{spread:?}");
        assert_eq!(full_jitter(Duration::ZERO, max, 5), Duration::ZERO);
        // max below min: min wins, as in Backoff::new.
        assert_eq!(super::ceiling(min, Duration::ZERO, 4), min);
    }

    #[test]
    fn jitter_varies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
            seen.insert(b.failure());
        }
        assert!(seen.len() > 1);
    }
}
