//! Claims and the jobs' lease, as PostgreSQL advisory locks held on connections of their own:
//! they last as long as the connection, so a server that dies (even by `SIGKILL`) releases
//! them at once.

use async_trait::async_trait;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::PostgresStore;
use crate::store::{Claim, ClaimKind, Lease, StoreError, StoreResult};

/// Lock keys, arbitrary but fixed: every server of every version must agree on them.
const SERVERS: i64 = 0x7061_726b_0001;
const JOBS: i64 = 0x7061_726b_0002;

/// A held lock: dropping the connection ends the session and releases it.
struct Held(#[allow(dead_code)] PgConnection);

impl PostgresStore {
    /// Servers share one lock; maintenance takes it alone. Neither waits.
    pub(super) async fn claim_lock(&self, kind: ClaimKind) -> StoreResult<Claim> {
        let mut conn = self.options.connect().await?;
        let (sql, refusal) = match kind {
            ClaimKind::Serve => (
                "SELECT pg_try_advisory_lock_shared($1)",
                "a restore is replacing the data",
            ),
            ClaimKind::Maintain => (
                "SELECT pg_try_advisory_lock($1)",
                "a server is using the database",
            ),
        };
        let got: bool = sqlx::query_scalar(sql)
            .bind(SERVERS)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Claim::new(Held(conn)))
        } else {
            Err(StoreError::Busy(refusal.into()))
        }
    }

    pub(super) async fn try_lease(&self) -> StoreResult<Option<Box<dyn Lease>>> {
        let mut conn = self.options.connect().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(JOBS)
            .fetch_one(&mut conn)
            .await?;
        Ok(got.then(|| Box::new(JobsLease(Some(conn))) as Box<dyn Lease>))
    }
}

struct JobsLease(Option<PgConnection>);

#[async_trait]
impl Lease for JobsLease {
    /// Held while its session lives; a session that cannot answer has lost it.
    async fn held(&mut self) -> bool {
        let Some(conn) = self.0.as_mut() else {
            return false;
        };
        if conn.ping().await.is_ok() {
            return true;
        }
        self.0 = None;
        false
    }
}
