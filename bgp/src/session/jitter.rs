//! Timer jitter (RFC 4271 section 10): ConnectRetryTimer and KeepaliveTimer intervals are
//! multiplied by a random factor between 0.75 and 1.0 so that peers do not synchronise.

use std::time::Duration;

/// A small deterministic generator (xorshift64*): the instance seeds it, so that a test can
/// replay a run exactly. It needs no cryptographic quality.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// Builds a generator; a zero seed is replaced, since xorshift never leaves zero.
    pub fn new(seed: u64) -> Jitter {
        Jitter {
            state: if seed == 0 {
                0x9e37_79b9_7f4a_7c15
            } else {
                seed
            },
        }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Returns a duration drawn uniformly from [0, `max`], in 1024 steps.
    pub fn spread(&mut self, max: Duration) -> Duration {
        let step = self.next_u64() % 1025;
        max.mul_f64(step as f64 / 1024.0)
    }

    /// Returns `interval` scaled by a factor drawn uniformly from [0.75, 1.0].
    pub fn apply(&mut self, interval: Duration) -> Duration {
        // 1024 steps are fine-grained enough for intervals of seconds.
        let step = self.next_u64() % 1025;
        interval.mul_f64(0.75 + 0.25 * step as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_three_quarters_and_whole() {
        let mut jitter = Jitter::new(7);
        let interval = Duration::from_secs(30);
        for _ in 0..10_000 {
            let value = jitter.apply(interval);
            assert!(
                value >= Duration::from_millis(22_500),
                "{value:?} below 0.75"
            );
            assert!(value <= interval, "{value:?} above 1.0");
        }
    }

    #[test]
    fn spread_stays_between_zero_and_max() {
        let mut jitter = Jitter::new(3);
        let max = Duration::from_millis(100);
        let draws: Vec<Duration> = (0..10_000).map(|_| jitter.spread(max)).collect();
        assert!(draws.iter().all(|draw| *draw <= max));
        assert!(draws.iter().any(|draw| *draw < Duration::from_millis(10)));
        assert!(draws.iter().any(|draw| *draw > Duration::from_millis(90)));
    }

    #[test]
    fn jitter_varies_between_draws() {
        let mut jitter = Jitter::new(1);
        let interval = Duration::from_secs(60);
        let first = jitter.apply(interval);
        assert!((0..100).any(|_| jitter.apply(interval) != first));
    }
}
