//! The shared limiter: GCRA in one Lua script, so each request costs one round trip and
//! concurrent requests from many instances cannot race.

use std::{sync::Arc, time::Duration};

use redis::{Client, Script, aio::ConnectionManager};
use tokio::{sync::Mutex, time::Instant};

use super::{Decision, MemoryLimiter, ceil_secs};
use crate::{config::RateLimit, telemetry::metrics::Metrics};

/// The GCRA step. Uses Redis's clock, so all instances agree on time. Returns
/// `{allowed, remaining, retry_after_ms, reset_ms}`.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, math.floor((now + tolerance - new_tat) / interval), 0, new_tat - now}
";

/// How long to wait before trying to reach an unreachable Redis again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(500);

/// A lazily (re)connected Redis connection, shared by the rate limiter and readiness.
#[derive(Clone)]
pub struct RedisConnection {
    client: Client,
    prefix: String,
    state: Arc<Mutex<(Option<ConnectionManager>, Option<Instant>)>>,
}

impl RedisConnection {
    pub fn new(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: Client::open(url)?,
            prefix: prefix.to_owned(),
            state: Arc::new(Mutex::new((None, None))),
        })
    }

    /// The connection, connecting if needed; `None` while Redis cannot be reached (one
    /// attempt per second at most, so an outage does not slow every request).
    pub async fn get(&self) -> Option<ConnectionManager> {
        let mut state = self.state.lock().await;
        if let Some(manager) = &state.0 {
            return Some(manager.clone());
        }
        if state.1.is_some_and(|last| last.elapsed() < RETRY_AFTER) {
            return None;
        }
        state.1 = Some(Instant::now());
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);

        match tokio::time::timeout(
            TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(manager)) => {
                state.0 = Some(manager.clone());
                Some(manager)
            }
            _ => None,
        }
    }

    /// Readiness: does Redis answer a PING now?
    pub async fn ping(&self) -> bool {
        let Some(mut connection) = self.get().await else {
            return false;
        };
        let pong: redis::RedisResult<String> =
            redis::cmd("PING").query_async(&mut connection).await;
        pong.is_ok()
    }

    fn key(&self, bucket: &str) -> String {
        format!("{}:ratelimit:{bucket}", self.prefix)
    }
}

pub struct RedisLimiter {
    redis: RedisConnection,
    script: Script,
    limit: RateLimit,
    fallback: MemoryLimiter,
    metrics: Arc<Metrics>,
}

impl RedisLimiter {
    pub fn new(limit: RateLimit, redis: RedisConnection, metrics: Arc<Metrics>) -> Self {
        Self {
            redis,
            script: Script::new(GCRA),
            limit,
            fallback: MemoryLimiter::new(limit),
            metrics,
        }
    }

    pub fn fallback(&self) -> &MemoryLimiter {
        &self.fallback
    }

    pub async fn check(&self, bucket: &str) -> Decision {
        match self.ask_redis(bucket).await {
            Some(decision) => decision,
            None => {
                self.metrics.rate_limit_backend_error();
                self.fallback.check(bucket)
            }
        }
    }

    async fn ask_redis(&self, bucket: &str) -> Option<Decision> {
        let mut connection = self.redis.get().await?;
        let interval_ms = (1000 / u64::from(self.limit.per_sec)).max(1);
        let mut invocation = self.script.key(self.redis.key(bucket));
        invocation.arg(interval_ms).arg(self.limit.burst);
        let reply: redis::RedisResult<(u8, u32, u64, u64)> =
            tokio::time::timeout(TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .ok()?;
        let (allowed, remaining, retry_after_ms, reset_ms) = reply.ok()?;
        Some(Decision {
            allowed: allowed == 1,
            limit: self.limit.burst,
            remaining,
            reset_secs: ceil_secs(reset_ms),
            retry_after_secs: if allowed == 1 {
                0
            } else {
                ceil_secs(retry_after_ms).max(1)
            },
        })
    }
}
