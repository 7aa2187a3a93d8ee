//! The PostgreSQL backend: any number of servers share one database. The database is the one
//! truth; each server follows its change feed (`feed.rs`) to keep its copies in step, holds a
//! shared claim while it serves, and takes the jobs' lease in turn.

mod audit;
mod backup;
mod claims;
mod feed;
mod keys;
mod ledger;
mod load;
mod maintenance;
mod occupancy;
mod settings;
mod subjects;
mod vehicles;
mod watchlist;

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    ConnectOptions,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};

use super::{Store, StoreError, StoreResult};
use crate::telemetry::metrics::PoolUsage;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per server: requests, the feed reader and jobs share them.
const MAX_CONNECTIONS: u32 = 10;
/// A request waits this long for a connection before it is answered `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// For connections outside the pool: claims, the jobs' lease, notifications.
    options: PgConnectOptions,
}

impl PostgresStore {
    /// Connects to `url` and brings the schema up to date (servers starting together
    /// migrate one at a time: the migrator holds an advisory lock).
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("parking")
            .log_statements(tracing::log::LevelFilter::Off)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, options })
    }
}

#[async_trait]
impl Store for PostgresStore {
    /// Other servers write to the same database: copies in memory may lag.
    fn shared(&self) -> bool {
        true
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The server refuses every write of a read-only or full cluster; whether this one takes
    /// writes is whether it is not a standby.
    async fn writable(&self) -> StoreResult<()> {
        let read_only: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&self.pool)
            .await?;
        if read_only {
            return Err(StoreError::Busy(
                "the PostgreSQL server is a read-only standby".into(),
            ));
        }
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn pool_usage(&self) -> Vec<PoolUsage> {
        vec![PoolUsage {
            pool: "postgres",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }]
    }
}

/// Writes a row of the audit log inside the caller's transaction; returns its id.
async fn insert_audit(
    conn: &mut sqlx::PgConnection,
    entry: &crate::domain::NewAuditEntry,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_logs (ts_ms, action, entity, entity_id, actor, request_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(entry.at.timestamp_millis())
    .bind(entry.action.as_str())
    .bind(entry.action.entity())
    .bind(entry.entity_id.as_deref())
    .bind(&entry.actor)
    .bind(entry.request_id.as_deref())
    .bind(entry.details.to_string())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Stored milliseconds back to a time; stored values were written from times, so in range.
fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
