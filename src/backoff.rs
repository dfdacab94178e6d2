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
        let exp = self.failures.min(30);
        self.failures = self.failures.saturating_add(1);
        let ceiling = self
            .min
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let half = ceiling / 2;
        let span = ceiling.saturating_sub(half).as_nanos() as u64;
        let extra = if span == 0 {
            0
        } else {
            random_u64() % (span + 1)
        };
        half + Duration::from_nanos(extra)
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
    fn jitter_varies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
            seen.insert(b.failure());
        }
        assert!(seen.len() > 1);
    }
}
