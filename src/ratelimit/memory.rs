//! The in-memory limiter: `governor`'s keyed GCRA.

use std::num::NonZeroU32;

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use super::{Decision, ceil_secs};
use crate::config::RateLimit;

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct MemoryLimiter {
    limiter: Keyed,
    limit: RateLimit,
}

impl MemoryLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let per_sec = NonZeroU32::new(limit.per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst))
            .with_middleware::<StateInformationMiddleware>();
        Self { limiter, limit }
    }

    pub fn check(&self, bucket: &str) -> Decision {
        let key = bucket.to_owned();
        let per_token_ms = 1000.0 / f64::from(self.limit.per_sec);
        match self.limiter.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let missing = f64::from(self.limit.burst.saturating_sub(remaining));
                Decision {
                    allowed: true,
                    limit: self.limit.burst,
                    remaining,
                    reset_secs: ceil_secs((missing * per_token_ms).ceil() as u64),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Decision {
                    allowed: false,
                    limit: self.limit.burst,
                    remaining: 0,
                    reset_secs: ceil_secs(
                        (f64::from(self.limit.burst) * per_token_ms).ceil() as u64
                    ),
                    retry_after_secs: ceil_secs(
                        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    )
                    .max(1),
                }
            }
        }
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}
