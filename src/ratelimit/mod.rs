//! Rate limiting per API key (per client IP before authentication): a GCRA bucket of
//! `PARKING_RATE_LIMIT_PER_SEC` with bursts of `PARKING_RATE_LIMIT_BURST`.
//!
//! The backend is chosen once at start-up: in memory (one budget per instance), or Redis (one
//! budget shared by every instance, one script call per request). When Redis cannot be asked,
//! the instance falls back to its in-memory limiter, counts the failure in
//! `rate_limit_backend_errors_total`, and reports Redis unavailable in `/health/ready`, so
//! requests keep being limited — per instance — rather than refused or let through unchecked.

mod memory;
mod redis;

use std::sync::Arc;

pub use self::memory::MemoryLimiter;
pub use self::redis::{RedisConnection, RedisLimiter};
use crate::{config::RateLimit, telemetry::metrics::Metrics};

/// The outcome for one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The burst size.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until one more request is allowed (when refused).
    pub retry_after_secs: u64,
}

#[derive(Clone)]
pub enum RateLimiter {
    Off,
    Memory(Arc<MemoryLimiter>),
    Redis(Arc<RedisLimiter>),
}

impl RateLimiter {
    pub fn new(
        limit: Option<RateLimit>,
        redis: Option<RedisConnection>,
        metrics: Arc<Metrics>,
    ) -> Self {
        match (limit, redis) {
            (None, _) => RateLimiter::Off,
            (Some(limit), None) => RateLimiter::Memory(Arc::new(MemoryLimiter::new(limit))),
            (Some(limit), Some(redis)) => {
                RateLimiter::Redis(Arc::new(RedisLimiter::new(limit, redis, metrics)))
            }
        }
    }

    /// Takes one request from `bucket`'s budget; `None` when rate limiting is off.
    pub async fn check(&self, bucket: &str) -> Option<Decision> {
        match self {
            RateLimiter::Off => None,
            RateLimiter::Memory(limiter) => Some(limiter.check(bucket)),
            RateLimiter::Redis(limiter) => Some(limiter.check(bucket).await),
        }
    }

    /// Forgets idle buckets (memory); called from the purge job.
    pub fn forget_idle(&self) {
        match self {
            RateLimiter::Off => {}
            RateLimiter::Memory(limiter) => limiter.forget_idle(),
            RateLimiter::Redis(limiter) => limiter.fallback().forget_idle(),
        }
    }
}

/// Whole seconds, rounded up: a client that waits this long is never refused for waiting
/// too little.
fn ceil_secs(millis: u64) -> u64 {
    millis.div_ceil(1000)
}
