//! The watchlist in SQLite. An entry lives for the retention period after its last change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, audit, feed, time::to_ms};
use crate::{
    domain::{NewAuditEntry, NumberPlate, WatchEntry, WatchNote},
    store::{
        ChangeKind, Committed, StoreResult, WatchAudit, WatchlistStore,
        rows::{WatchRow, watch_entry},
    },
};

/// A SELECT of live entries, the cut-off against `?1` (now, in ms); the caller's literal
/// continues the WHERE clause.
macro_rules! select_watch {
    ($rest:literal) => {
        concat!(
            "SELECT number_plate, plate_folded, note, created_ms, updated_ms, ",
            retention_ms!(),
            " AS retention_ms FROM watchlist WHERE updated_ms > ?1 - ",
            retention_ms!(),
            " ",
            $rest
        )
    };
}

#[async_trait]
impl WatchlistStore for SqliteStore {
    async fn put_watch(
        &self,
        plate: &NumberPlate,
        note: &WatchNote,
        now: DateTime<Utc>,
        audit: &WatchAudit,
    ) -> StoreResult<Committed<(WatchEntry, bool)>> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // An expired entry of the same plate is gone already as far as anyone can tell: it is
        // replaced, and the plate counts as newly watched.
        let live: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT id FROM watchlist WHERE number_plate = ?2 AND updated_ms > ?1 - ",
            retention_ms!()
        ))
        .bind(now_ms)
        .bind(plate.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO watchlist (number_plate, plate_folded, note, created_ms, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (number_plate) DO UPDATE SET \
             note = excluded.note, updated_ms = excluded.updated_ms, \
             created_ms = CASE WHEN ?5 THEN watchlist.created_ms ELSE excluded.created_ms END",
        )
        .bind(plate.as_str())
        .bind(plate.folded())
        .bind(note.as_str())
        .bind(now_ms)
        .bind(live.is_some())
        .execute(&mut *tx)
        .await?;
        let row: WatchRow = sqlx::query_as(select_watch!("AND number_plate = ?2"))
            .bind(now_ms)
            .bind(plate.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let added = live.is_none();
        audit::insert(&mut tx, if added { &audit.added } else { &audit.updated }).await?;
        let position = feed::record(&mut tx, &ChangeKind::Watchlist, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: (watch_entry(row), added),
            position,
        })
    }

    async fn find_watch(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WatchEntry>> {
        let row: Option<WatchRow> = sqlx::query_as(select_watch!("AND number_plate = ?2"))
            .bind(to_ms(now))
            .bind(plate.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(watch_entry))
    }

    async fn list_watch(&self, now: DateTime<Utc>) -> StoreResult<Vec<WatchEntry>> {
        let rows: Vec<WatchRow> = sqlx::query_as(select_watch!("ORDER BY number_plate"))
            .bind(to_ms(now))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(watch_entry).collect())
    }

    async fn delete_watch(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<()>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query(concat!(
            "DELETE FROM watchlist WHERE number_plate = ?2 AND updated_ms > ?1 - ",
            retention_ms!()
        ))
        .bind(to_ms(now))
        .bind(plate.as_str())
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Ok(None);
        }
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Watchlist, now).await?;
        tx.commit().await?;
        Ok(Some(Committed {
            value: (),
            position,
        }))
    }

    async fn purge_watch(
        &self,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<u64>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query(concat!(
            "DELETE FROM watchlist WHERE updated_ms <= ?1 - ",
            retention_ms!()
        ))
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Ok(Committed {
                value: 0,
                position: crate::store::FeedPosition::default(),
            });
        }
        let mut entry = audit.clone();
        entry.details["deleted"] = deleted.into();
        audit::insert(&mut tx, &entry).await?;
        super::ledger::count(&mut tx, to_ms(now), deleted as i64, 0, 0).await?;
        let position = feed::record(&mut tx, &ChangeKind::Watchlist, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: deleted,
            position,
        })
    }
}
