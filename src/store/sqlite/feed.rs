//! The change feed in SQLite: `changes` rows written in each change's transaction, read in
//! `seq` order (one writer at a time, so sequence order is commit order).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{SqliteStore, time::from_ms, time::to_ms};
use crate::{
    domain::Vehicle,
    store::{
        Change, ChangeKind, FeedBatch, FeedPosition, FeedStore, StoreError, StoreResult, pack_ids,
        rows::VehicleRow, unpack,
    },
};

/// The position the next change will take. From the sequence's counter, not the table, which
/// trimming may have emptied.
const NEXT_SEQ: &str =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) + 1";

/// `read_changes`' rows: the trim mark, then a change's `seq`, `kind`, `ids` and `at_ms`.
type ChangeRows = Vec<(
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
)>;

/// Writes the record of a change inside the caller's transaction; returns its position.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    change: &ChangeKind,
    now: DateTime<Utc>,
) -> StoreResult<FeedPosition> {
    let (kind, ids) = change.to_record();
    let written = sqlx::query("INSERT INTO changes (kind, ids, at_ms) VALUES (?1, ?2, ?3)")
        .bind(kind)
        .bind(ids)
        .bind(to_ms(now))
        .execute(conn)
        .await?;
    Ok(FeedPosition(written.last_insert_rowid()))
}

#[async_trait]
impl FeedStore for SqliteStore {
    async fn feed_frontier(&self) -> StoreResult<FeedPosition> {
        let next: i64 = sqlx::query_scalar(NEXT_SEQ).fetch_one(&self.reader).await?;
        Ok(FeedPosition(next))
    }

    async fn read_changes(&self, from: FeedPosition, limit: u32) -> StoreResult<FeedBatch> {
        if let Some(handed) = self.handoff.take(from, limit) {
            return Ok(handed);
        }
        // The trim mark and the changes in one statement: one trip to a reader's thread, and
        // both from the same snapshot. A batch with no change is one row of NULLs.
        let mut rows: ChangeRows = sqlx::query_as(concat!(
            "SELECT f.trimmed_below, c.seq, c.kind, c.ids, c.at_ms FROM feed_state AS f \
             LEFT JOIN (SELECT seq, kind, ids, at_ms FROM changes WHERE seq >= ?1 ORDER BY seq",
            limit!("?2"),
            ") AS c WHERE f.id = 1"
        ))
        .bind(from.0)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        let trimmed_below = rows.first().ok_or(sqlx::Error::RowNotFound)?.0;
        if from.0 < trimmed_below {
            return Err(StoreError::FeedTrimmed);
        }
        // In order without asking SQLite to sort (it would build a temporary b-tree): the rows
        // come in `seq` order already, and sorting sorted rows is one pass.
        rows.sort_unstable_by_key(|row| row.1);
        // Past every change read, those of kinds this version does not know included.
        let frontier = rows
            .last()
            .and_then(|row| row.1)
            .map_or(from, |seq| FeedPosition(seq + 1));
        let changes: Vec<Change> = rows
            .into_iter()
            .filter_map(|(_, seq, kind, ids, at_ms)| {
                Some(Change {
                    position: FeedPosition(seq?),
                    kind: unpack(&kind?, ids.as_deref())?,
                    at: from_ms(at_ms?),
                })
            })
            .collect();
        Ok(FeedBatch {
            changes,
            frontier,
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
            " AS retention_ms FROM vehicles WHERE id IN (SELECT value FROM json_each('[' || ?2 || ']')) ",
            "AND ",
            live_at!("?1")
        ))
        .bind(to_ms(now))
        .bind(pack_ids(ids))
        .fetch_all(&self.reader)
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
            "INSERT INTO feed_readers (instance, position, seen_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (instance) DO UPDATE SET position = excluded.position, seen_ms = excluded.seen_ms",
        )
        .bind(instance)
        .bind(position.0)
        .bind(to_ms(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn trim_changes(
        &self,
        readers_since: DateTime<Utc>,
        older_than: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM feed_readers WHERE seen_ms < ?1")
            .bind(to_ms(readers_since))
            .execute(&mut *tx)
            .await?;
        // Read by every reader still around (none around: nothing is needed any more), or
        // older than any copy may lag.
        let below: i64 = sqlx::query_scalar(
            "SELECT max(coalesce((SELECT min(position) FROM feed_readers), \
                                 (SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) + 1)), \
                        coalesce((SELECT max(seq) + 1 FROM changes WHERE at_ms < ?1), 0))",
        )
        .bind(to_ms(older_than))
        .fetch_one(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM changes WHERE seq < ?1")
            .bind(below)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE feed_state SET trimmed_below = max(trimmed_below, ?1) WHERE id = 1")
            .bind(below)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn listen_for_changes(&self, _wake: Arc<Notify>, _stop: CancellationToken) {
        // Writes by this process wake its reader directly; those of other processes on the
        // same file (the command line) are found by the reader's polling.
    }
}
