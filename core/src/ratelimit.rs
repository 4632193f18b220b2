//! Rate limiting as a pure state machine: a token bucket per client key, with "now" passed in.
//!
//! A bucket holds up to `burst` tokens and gains one every `interval`; each request takes one, or
//! is refused with the time until a token is back ([`Decision::Limited::retry_after`]). It is
//! kept in the GCRA form (one timestamp per bucket: the instant it would be full again), so the
//! arithmetic is exact integer [`Duration`] math with no floating-point drift, and a full bucket
//! needs no state at all — which is what lets [`KeyedLimiter`] forget idle clients.
//!
//! Time is any monotonic [`Duration`] since an origin the caller picks (the edge uses the
//! server's start). This module does no IO, reads no clock and does not decide what a key is
//! (token subject, client IP): callers do.

use std::collections::BTreeMap;
use std::time::Duration;

/// How fast a bucket refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    burst: u32,
    interval: Duration,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Go ahead; `remaining` more requests would be allowed right now.
    Allowed {
        /// Tokens left after this request.
        remaining: u32,
    },
    /// Refused; a token is back after `retry_after`.
    Limited {
        /// Time until the next request would be allowed (never zero).
        retry_after: Duration,
    },
}

/// One client's bucket. Starts full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenBucket {
    /// When the bucket is (or was) full again: each taken token pushes it one interval later.
    full_at: Duration,
}

/// Token buckets by client key, with a bound on how many are kept.
#[derive(Debug, Clone)]
pub struct KeyedLimiter<K> {
    rate: Rate,
    max_keys: usize,
    buckets: BTreeMap<K, TokenBucket>,
}

impl Rate {
    /// `burst` requests at once (at least 1), then one more every `interval` (at least 1 ns).
    pub fn new(burst: u32, interval: Duration) -> Self {
        Self {
            burst: burst.max(1),
            interval: interval.max(Duration::from_nanos(1)),
        }
    }

    /// `per_second` requests a second on average (at least 1), bursts of `burst`.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        Self::new(burst, Duration::from_secs(1) / per_second.max(1))
    }

    /// Bucket capacity.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Time to regain one token.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Time for an empty bucket to become full.
    fn capacity(&self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }
}

impl TokenBucket {
    /// A full bucket.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one token at `now` if there is one.
    pub fn try_take(&mut self, rate: &Rate, now: Duration) -> Decision {
        let start = self.full_at.max(now);
        let next = start.saturating_add(rate.interval);
        let debt = next - now; // `next > now`: start >= now and interval > 0.
        let capacity = rate.capacity();
        if debt > capacity {
            return Decision::Limited {
                retry_after: debt - capacity,
            };
        }
        self.full_at = next;
        let spare = capacity - debt;
        // spare / interval <= burst, which fits in u32.
        let remaining = u32::try_from(spare.as_nanos() / rate.interval.as_nanos()).unwrap_or(0);
        Decision::Allowed { remaining }
    }

    /// Whether the bucket is full at `now` (it then carries no state worth keeping).
    pub fn is_full(&self, now: Duration) -> bool {
        self.full_at <= now
    }
}

impl<K: Ord + Clone> KeyedLimiter<K> {
    /// Buckets of `rate`, keeping at most `max_keys` (at least 1) partly used buckets.
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            max_keys: max_keys.max(1),
            buckets: BTreeMap::new(),
        }
    }

    /// The rate every bucket follows.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes a token from `key`'s bucket at `now`.
    ///
    /// A key seen for the first time starts with a full bucket. When `max_keys` buckets are
    /// already kept, full ones are dropped first; if none is full, the bucket closest to full is
    /// dropped (its client gets a fresh bucket later: a bounded leak, never unbounded memory).
    pub fn check(&mut self, key: &K, now: Duration) -> Decision {
        if let Some(bucket) = self.buckets.get_mut(key) {
            return bucket.try_take(&self.rate, now);
        }
        if self.buckets.len() >= self.max_keys {
            self.sweep(now);
        }
        if self.buckets.len() >= self.max_keys {
            let fullest = self
                .buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.full_at)
                .map(|(key, _)| key.clone());
            if let Some(fullest) = fullest {
                self.buckets.remove(&fullest);
            }
        }
        let mut bucket = TokenBucket::new();
        let decision = bucket.try_take(&self.rate, now);
        self.buckets.insert(key.clone(), bucket);
        decision
    }

    /// Forgets every bucket that is full at `now`.
    pub fn sweep(&mut self, now: Duration) {
        self.buckets.retain(|_, bucket| !bucket.is_full(now));
    }

    /// Number of buckets kept.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is kept.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn allowed(decision: Decision) -> bool {
        matches!(decision, Decision::Allowed { .. })
    }

    #[test]
    fn burst_is_allowed_at_once_then_refused_until_a_token_returns() {
        let rate = Rate::per_second(10, 3); // a token every 100 ms
        let mut bucket = TokenBucket::new();
        let now = Duration::from_secs(5);
        let remaining: Vec<_> = (0..3).map(|_| bucket.try_take(&rate, now)).collect();
        assert_eq!(
            remaining,
            [2, 1, 0].map(|remaining| Decision::Allowed { remaining })
        );
        assert_eq!(
            bucket.try_take(&rate, now),
            Decision::Limited {
                retry_after: 100 * MS
            }
        );
        assert_eq!(
            bucket.try_take(&rate, now + 40 * MS),
            Decision::Limited {
                retry_after: 60 * MS
            }
        );
        assert!(allowed(bucket.try_take(&rate, now + 100 * MS)));
        assert!(!allowed(bucket.try_take(&rate, now + 100 * MS)));
    }

    #[test]
    fn refused_requests_do_not_use_up_tokens() {
        let rate = Rate::per_second(10, 1);
        let mut bucket = TokenBucket::new();
        assert!(allowed(bucket.try_take(&rate, Duration::ZERO)));
        for i in 0..50 {
            assert!(!allowed(bucket.try_take(&rate, i * MS)));
        }
        assert!(allowed(bucket.try_take(&rate, 100 * MS)));
    }

    #[test]
    fn steady_traffic_at_the_rate_is_never_refused_and_idle_time_refills_to_burst_only() {
        let rate = Rate::per_second(20, 4); // 50 ms
        let mut bucket = TokenBucket::new();
        for i in 0..1000u32 {
            assert!(allowed(bucket.try_take(&rate, i * 50 * MS)), "request {i}");
        }
        let later = Duration::from_secs(3600);
        assert!(bucket.is_full(later));
        let burst = (0..10)
            .take_while(|_| allowed(bucket.try_take(&rate, later)))
            .count();
        assert_eq!(burst, 4);
    }

    #[test]
    fn keys_have_separate_buckets() {
        let mut limiter = KeyedLimiter::new(Rate::per_second(1, 2), 100);
        let now = Duration::from_secs(1);
        for _ in 0..2 {
            assert!(allowed(limiter.check(&"alice", now)));
        }
        assert!(!allowed(limiter.check(&"alice", now)));
        assert!(allowed(limiter.check(&"bob", now)));
    }

    #[test]
    fn kept_buckets_are_bounded_and_full_ones_are_forgotten_first() {
        let mut limiter = KeyedLimiter::new(Rate::per_second(1, 1), 3);
        let now = Duration::from_secs(10);
        for key in 0..3 {
            assert!(allowed(limiter.check(&key, now + key * MS)));
        }
        assert_eq!(limiter.len(), 3);
        // Key 3 pushes out key 0, the bucket closest to full.
        assert!(allowed(limiter.check(&3, now + 3 * MS)));
        assert_eq!(limiter.len(), 3);
        assert!(
            allowed(limiter.check(&0, now + 4 * MS)),
            "evicted key starts full"
        );
        assert!(
            !allowed(limiter.check(&2, now + 5 * MS)),
            "kept key is still limited"
        );
        // A second later every bucket is full again and a sweep drops them all.
        limiter.sweep(now + Duration::from_secs(2));
        assert!(limiter.is_empty());
        for key in 0..1000 {
            limiter.check(&key, now + Duration::from_secs(3));
        }
        assert_eq!(limiter.len(), 3);
    }

    #[test]
    fn degenerate_rates_are_clamped_not_divided_by_zero() {
        let rate = Rate::per_second(0, 0);
        assert_eq!(rate.burst(), 1);
        assert_eq!(rate.interval(), Duration::from_secs(1));
        let tiny = Rate::new(u32::MAX, Duration::ZERO);
        let mut bucket = TokenBucket::new();
        assert!(allowed(bucket.try_take(&tiny, Duration::MAX)));
    }
}
