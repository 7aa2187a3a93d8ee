//! The change feed in PostgreSQL. A change record carries the id of the transaction that
//! wrote it. Transaction ids are handed out when a transaction first writes, not when it
//! commits, so a reader that remembered "the highest id seen" would skip a transaction that
//! started early and committed late. Readers therefore read only below the oldest of the
//! service's own transactions still running: every transaction below that bound has ended, so
//! no change can appear there later. The position is that bound.
//!
//! The bound counts only this service's transactions on this database (its connections are
//! named `parking`), not `pg_snapshot_xmin`, which is the oldest transaction of the whole
//! server: a long transaction in another database, or an operator's session left open, would
//! otherwise hold every instance's live searches back.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, postgres::PgListener};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{PostgresStore, from_ms};
use crate::{
    domain::Vehicle,
    store::{
        Change, ChangeKind, FeedBatch, FeedPosition, FeedStore, StoreError, StoreResult,
        rows::VehicleRow, unpack,
    },
};

/// The channel the `changes` table's trigger notifies.
const CHANNEL: &str = "parking_changes";

/// Every change below the returned position has been committed or rolled back for good.
///
/// Two statements, in this order: the snapshot first (the next transaction id, and the ids
/// running then), then which of those belong to the service on this database. A transaction
/// of ours running at the snapshot and still running at the second read is found by it; one
/// that ended between the two has ended (its changes are readable, or were rolled back); one
/// that starts after the snapshot gets an id at or above its end.
async fn frontier(conn: &mut PgConnection) -> StoreResult<i64> {
    let (next, running): (i64, Vec<i64>) = sqlx::query_as(
        "SELECT pg_snapshot_xmax(s)::text::bigint, \
                array(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) \
         FROM (SELECT pg_current_snapshot() AS s) AS snapshot",
    )
    .fetch_one(&mut *conn)
    .await?;
    if running.is_empty() {
        return Ok(next);
    }
    // `backend_xid` is a 32-bit id: compared on the low 32 bits of the 64-bit ones.
    let ours: Vec<i64> = sqlx::query_scalar(
        "SELECT backend_xid::text::bigint FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'parking' \
         AND backend_xid IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(running
        .into_iter()
        .filter(|xid| ours.contains(&(xid & 0xFFFF_FFFF)))
        .min()
        .unwrap_or(next))
}

/// Writes the record of a change inside the caller's transaction; returns its position (the
/// transaction's id).
pub(super) async fn record(
    conn: &mut PgConnection,
    change: &ChangeKind,
    now: DateTime<Utc>,
) -> StoreResult<FeedPosition> {
    let (kind, ids) = change.to_record();
    let xid: i64 = sqlx::query_scalar(
        "INSERT INTO changes (kind, ids, at_ms) VALUES ($1, $2, $3) RETURNING xid",
    )
    .bind(kind)
    .bind(ids)
    .bind(now.timestamp_millis())
    .fetch_one(conn)
    .await?;
    Ok(FeedPosition(xid))
}

type ChangeRow = (i64, String, Option<String>, i64);

#[async_trait]
impl FeedStore for PostgresStore {
    async fn feed_frontier(&self) -> StoreResult<FeedPosition> {
        let mut conn = self.pool.acquire().await?;
        Ok(FeedPosition(frontier(&mut conn).await?))
    }

    async fn read_changes(&self, from: FeedPosition, limit: u32) -> StoreResult<FeedBatch> {
        let mut conn = self.pool.acquire().await?;
        let frontier = frontier(&mut conn).await?;
        let trimmed_below: i64 =
            sqlx::query_scalar("SELECT trimmed_below FROM feed_state WHERE id = 1")
                .fetch_one(&mut *conn)
                .await?;
        if from.0 < trimmed_below {
            return Err(StoreError::FeedTrimmed);
        }
        let mut rows: Vec<ChangeRow> = sqlx::query_as(
            "SELECT xid, kind, ids, at_ms FROM changes WHERE xid >= $1 AND xid < $2 \
             ORDER BY xid, seq LIMIT $3",
        )
        .bind(from.0)
        .bind(frontier)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut frontier = frontier.max(from.0);
        if rows.len() >= limit as usize {
            // Cut between transactions, never inside one: the last transaction's changes are
            // read whole next time, unless it is the only one here, which is then read whole.
            let last = rows.last().map_or(from.0, |(xid, ..)| *xid);
            rows.retain(|(xid, ..)| *xid < last);
            if rows.is_empty() {
                rows = sqlx::query_as(
                    "SELECT xid, kind, ids, at_ms FROM changes WHERE xid = $1 ORDER BY seq",
                )
                .bind(last)
                .fetch_all(&mut *conn)
                .await?;
                frontier = last + 1;
            } else {
                frontier = last;
            }
        }
        let changes = rows
            .into_iter()
            .filter_map(|(xid, kind, ids, at_ms)| {
                Some(Change {
                    position: FeedPosition(xid),
                    kind: unpack(&kind, ids.as_deref())?,
                    at: from_ms(at_ms),
                })
            })
            .collect();
        Ok(FeedBatch {
            changes,
            frontier: FeedPosition(frontier),
            committed: None,
        })
    }

    async fn live_vehicles(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<Vec<Vehicle>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<VehicleRow> = sqlx::query_as(concat!(
            "SELECT ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms FROM vehicles WHERE id = ANY($2) AND ",
            live_at!("$1")
        ))
        .bind(now.timestamp_millis())
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Vehicle::from).collect())
    }

    async fn record_reader(
        &self,
        instance: &str,
        position: FeedPosition,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO feed_readers (instance, position, seen_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (instance) DO UPDATE SET position = excluded.position, seen_ms = excluded.seen_ms",
        )
        .bind(instance)
        .bind(position.0)
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trim_changes(
        &self,
        readers_since: DateTime<Utc>,
        older_than: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ended = {
            let mut conn = self.pool.acquire().await?;
            frontier(&mut conn).await?
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM feed_readers WHERE seen_ms < $1")
            .bind(readers_since.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        // Read by every reader still around (with none around, everything that has ended),
        // or older than any copy may lag.
        let below: i64 = sqlx::query_scalar(
            "SELECT greatest( \
               least(coalesce((SELECT min(position) FROM feed_readers), $2), $2), \
               coalesce((SELECT max(xid) + 1 FROM changes WHERE at_ms < $1 AND xid < $2), 0))",
        )
        .bind(older_than.timestamp_millis())
        .bind(ended)
        .fetch_one(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM changes WHERE xid < $1")
            .bind(below)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE feed_state SET trimmed_below = greatest(trimmed_below, $1) WHERE id = 1",
        )
        .bind(below)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Listens on the changes channel and wakes the reader at every notification. A lost
    /// connection is re-established (waking the reader, which may have missed some).
    async fn listen_for_changes(&self, wake: Arc<Notify>, stop: CancellationToken) {
        loop {
            let listening = async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener.listen(CHANNEL).await?;
                wake.notify_one();
                loop {
                    listener.recv().await?;
                    wake.notify_one();
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                () = stop.cancelled() => return,
                ended = listening => {
                    if let Err(error) = ended {
                        tracing::debug!(%error, "change notifications interrupted; listening again");
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
