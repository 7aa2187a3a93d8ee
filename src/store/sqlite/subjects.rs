//! Subject access and erasure in SQLite: every row about a plate or a phone number, expired
//! or not, read and deleted together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, audit, feed, ledger, occupancy, time::to_ms};
use crate::{
    domain::{NewAuditEntry, Subject, departures},
    store::{
        ChangeKind, Committed, Erased, StoreResult, SubjectRecords, SubjectStore,
        rows::{VehicleRow, WatchRow, watch_entry},
    },
};

#[async_trait]
impl SubjectStore for SqliteStore {
    async fn subject_records(&self, subject: &Subject) -> StoreResult<SubjectRecords> {
        let mut conn = self.reader.begin().await?;
        let vehicles: Vec<VehicleRow> = sqlx::query_as(concat!(
            "SELECT ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms ",
            subject_vehicles!("?1", "?2"),
            " ORDER BY entry_ms, id"
        ))
        .bind(subject.plate_str())
        .bind(subject.phone_str())
        .fetch_all(&mut *conn)
        .await?;
        let watchlist: Vec<WatchRow> = sqlx::query_as(concat!(
            "SELECT number_plate, plate_folded, note, created_ms, updated_ms, ",
            retention_ms!(),
            " ",
            subject_watch!("?1", "?2"),
            " ORDER BY number_plate"
        ))
        .bind(subject.plate_str())
        .bind(subject.phone_str())
        .fetch_all(&mut *conn)
        .await?;
        conn.commit().await?;
        Ok(SubjectRecords {
            vehicles: vehicles.into_iter().map(Into::into).collect(),
            watchlist: watchlist.into_iter().map(watch_entry).collect(),
        })
    }

    async fn erase_subject(
        &self,
        subject: &Subject,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<Erased>> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let chosen: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(concat!(
            "SELECT id, entry_ms, hold_until_ms ",
            subject_vehicles!("?1", "?2")
        ))
        .bind(subject.plate_str())
        .bind(subject.phone_str())
        .fetch_all(&mut *tx)
        .await?;
        let watchlist = sqlx::query(concat!("DELETE ", subject_watch!("?1", "?2")))
            .bind(subject.plate_str())
            .bind(subject.phone_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let (ids, entries): (Vec<i64>, Vec<(i64, Option<i64>)>) = chosen
            .into_iter()
            .map(|(id, entry_ms, hold_until)| (id, (entry_ms, hold_until)))
            .unzip();
        if !ids.is_empty() {
            let retention_ms: i64 = sqlx::query_scalar(concat!("SELECT ", retention_ms!()))
                .fetch_one(&mut *tx)
                .await?;
            occupancy::add_counts(&mut tx, &departures(&entries, retention_ms, now_ms)).await?;
            sqlx::query(concat!("DELETE ", subject_vehicles!("?1", "?2")))
                .bind(subject.plate_str())
                .bind(subject.phone_str())
                .execute(&mut *tx)
                .await?;
        }
        let erased = Erased {
            vehicles: ids.len() as u64,
            watchlist,
        };
        let rows = i64::try_from(erased.vehicles + erased.watchlist).unwrap_or(i64::MAX);
        ledger::count(&mut tx, now_ms, 0, rows, 0).await?;
        let mut entry = audit.clone();
        entry.details["vehicles"] = erased.vehicles.into();
        entry.details["watchlist"] = erased.watchlist.into();
        audit::insert(&mut tx, &entry).await?;
        let mut position = crate::store::FeedPosition::default();
        if !ids.is_empty() {
            position = feed::record(&mut tx, &ChangeKind::Vehicles(ids), now).await?;
        }
        if watchlist > 0 {
            position = feed::record(&mut tx, &ChangeKind::Watchlist, now).await?;
        }
        tx.commit().await?;
        Ok(Committed {
            value: erased,
            position,
        })
    }
}

/// How many vehicles and watchlist entries about `subject` the backup `file` holds, read
/// without changing it (a backup is an SQLite file whichever backend wrote it).
pub async fn count_subject_in(
    file: &std::path::Path,
    subject: &Subject,
) -> StoreResult<(i64, i64)> {
    use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await?;
    let counted = async {
        let vehicles: i64 =
            sqlx::query_scalar(concat!("SELECT count(*) ", subject_vehicles!("?1", "?2")))
                .bind(subject.plate_str())
                .bind(subject.phone_str())
                .fetch_one(&mut conn)
                .await?;
        let watchlist: i64 =
            sqlx::query_scalar(concat!("SELECT count(*) ", subject_watch!("?1", "?2")))
                .bind(subject.plate_str())
                .bind(subject.phone_str())
                .fetch_one(&mut conn)
                .await?;
        Ok::<_, sqlx::Error>((vehicles, watchlist))
    }
    .await;
    conn.close().await?;
    Ok(counted?)
}
