//! Bulk deletion in short batches, and online backups with `VACUUM INTO`.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    ConnectOptions, Connection, SqliteConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};

use super::DatabaseLock;
use super::{SqliteStore, audit, feed, time::to_ms};
use crate::domain::departures;
use crate::store::{
    BatchAudit, ChangeKind, Claim, ClaimKind, Committed, DeleteScope, FeedPosition, Lease,
    MaintenanceStore, StoreError, StoreResult,
};

#[async_trait]
impl MaintenanceStore for SqliteStore {
    /// One server per file: it always leads.
    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>> {
        struct Sole;
        #[async_trait]
        impl Lease for Sole {
            async fn held(&mut self) -> bool {
                true
            }
        }
        Ok(Some(Box::new(Sole)))
    }

    /// One lock file per database, held exclusively by its server or by maintenance: a second
    /// server and a restore beside a server are both refused.
    async fn claim(&self, _kind: ClaimKind) -> StoreResult<Claim> {
        DatabaseLock::acquire(&self.path).map(Claim::new)
    }

    async fn load_backup(&self, file: &Path) -> StoreResult<()> {
        self.load_backup_file(file).await
    }

    async fn delete_vehicles_batch(
        &self,
        scope: DeleteScope,
        limit: u32,
        run: &mut BatchAudit,
    ) -> StoreResult<Committed<Vec<i64>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The batch's ids come back packed in one value and are deleted by that list: a
        // RETURNING clause would hand them over one row (one thread hop) at a time.
        // With each id its entry time, for the occupancy counts, and the retention in force.
        let chosen = match scope {
            // The entry-time index finds the oldest rows without scanning the table; held
            // ones are skipped.
            DeleteScope::Expired { cutoff, now } => sqlx::query_as(concat!(
                "SELECT group_concat(id || ':' || entry_ms || ':' || coalesce(hold_until_ms, '')), ",
                retention_ms!(),
                " FROM (SELECT id, entry_ms, hold_until_ms FROM vehicles WHERE entry_ms <= ?1 ",
                "AND coalesce(hold_until_ms, 0) <= ?3 ORDER BY entry_ms, id",
                limit!("?2"),
                ")"
            ))
            .bind(to_ms(cutoff))
            .bind(i64::from(limit))
            .bind(to_ms(now)),
            DeleteScope::All => sqlx::query_as(concat!(
                "SELECT group_concat(id || ':' || entry_ms || ':' || coalesce(hold_until_ms, '')), ",
                retention_ms!(),
                " FROM (SELECT id, entry_ms, hold_until_ms FROM vehicles ORDER BY id",
                limit!("?1"),
                ")"
            ))
            .bind(i64::from(limit)),
        };
        let (chosen, retention_ms): (Option<String>, i64) = chosen.fetch_one(&mut *tx).await?;
        let nothing = || Committed {
            value: Vec::new(),
            position: FeedPosition::default(),
        };
        let Some(chosen) = chosen else {
            return Ok(nothing());
        };
        let (ids, entries): (Vec<i64>, Vec<(i64, Option<i64>)>) = chosen
            .split(',')
            .filter_map(|record| {
                let mut fields = record.split(':');
                let id = fields.next()?.parse::<i64>().ok()?;
                let entry_ms = fields.next()?.parse::<i64>().ok()?;
                let hold_until = fields.next().and_then(|h| h.parse::<i64>().ok());
                Some((id, (entry_ms, hold_until)))
            })
            .unzip();
        let counts = departures(&entries, retention_ms, to_ms(Utc::now()));
        super::occupancy::add_counts(&mut tx, &counts).await?;
        let chosen = crate::store::pack_ids(&ids);
        sqlx::query(
            "DELETE FROM vehicles WHERE id IN (SELECT value FROM json_each('[' || ?1 || ']'))",
        )
        .bind(&chosen)
        .execute(&mut *tx)
        .await?;
        let deleted = ids.len() as u64;
        if deleted == 0 {
            return Ok(nothing());
        }
        if matches!(scope, DeleteScope::Expired { .. }) {
            super::ledger::count(&mut tx, to_ms(Utc::now()), deleted as i64, 0, 0).await?;
        }
        let new_id = match run.id {
            None => {
                let mut entry = run.entry.clone();
                entry.details["deleted"] = deleted.into();
                Some(audit::insert(&mut tx, &entry).await?)
            }
            Some(id) => {
                sqlx::query(
                    "UPDATE audit_logs SET details = \
                     json_set(details, '$.deleted', json_extract(details, '$.deleted') + ?2) \
                     WHERE id = ?1",
                )
                .bind(id)
                .bind(i64::try_from(deleted).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                None
            }
        };
        let position =
            feed::record(&mut tx, &ChangeKind::Vehicles(ids.clone()), Utc::now()).await?;
        tx.commit().await?;
        // Remembered only once committed, so a failed first batch cannot leave later batches
        // adding to an entry that does not exist.
        if new_id.is_some() {
            run.id = new_id;
        }
        Ok(Committed {
            value: ids,
            position,
        })
    }

    async fn scrub(&self) -> StoreResult<bool> {
        super::scrub::checkpoint(&self.writer).await
    }

    async fn expiring_by_hour(
        &self,
        until: DateTime<Utc>,
        from_hour_ms: i64,
    ) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(expiring_by_hour!("?1", "?2"))
            .bind(to_ms(until))
            .bind(from_hour_ms)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn backup_to(&self, target: &Path, now: DateTime<Utc>) -> StoreResult<()> {
        let target_name = target
            .to_str()
            .ok_or_else(|| StoreError::Corrupt("the backup path is not valid UTF-8".into()))?;
        // A connection of its own: VACUUM INTO reads one consistent snapshot while the writer
        // and readers carry on (WAL).
        let mut source = self.options.clone().connect().await?;
        sqlx::query("VACUUM INTO ?1")
            .bind(target_name)
            .execute(&mut source)
            .await?;
        source.close().await?;

        let mut copy = SqliteConnectOptions::new()
            .filename(target)
            .journal_mode(SqliteJournalMode::Delete)
            // Overwrites deleted rows instead of leaving them in free pages.
            .pragma("secure_delete", "ON")
            .connect()
            .await?;
        // Vehicles and watchlist entries that expired but were not purged yet must not outlive
        // their retention in the copy; the cut-off uses the retention stored in the same snapshot.
        sqlx::query(concat!("DELETE FROM vehicles WHERE ", expired_at!("?1")))
            .bind(to_ms(now))
            .execute(&mut copy)
            .await?;
        sqlx::query(concat!(
            "DELETE FROM watchlist WHERE updated_ms <= ?1 - ",
            retention_ms!()
        ))
        .bind(to_ms(now))
        .execute(&mut copy)
        .await?;
        // The feed is this database's working state, of no use to a copy.
        sqlx::raw_sql("DELETE FROM changes; DELETE FROM feed_readers;")
            .execute(&mut copy)
            .await?;
        sqlx::query("VACUUM").execute(&mut copy).await?;
        let checked = check_integrity(&mut copy).await;
        copy.close().await?;
        checked
    }
}

/// `PRAGMA integrity_check` must answer exactly `ok`, and the file must hold exactly our
/// schema.
pub(crate) async fn check_integrity(conn: &mut SqliteConnection) -> StoreResult<()> {
    let report: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await?;
    if report != ["ok"] {
        return Err(StoreError::Corrupt(format!(
            "integrity check reported {} problem(s)",
            report.len()
        )));
    }
    super::schema::check(conn).await
}

/// Verifies a backup file without changing it.
pub async fn verify_file(path: &Path) -> StoreResult<()> {
    if !path.is_file() {
        return Err(StoreError::Corrupt(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|_| StoreError::Corrupt("the file is not an SQLite database".into()))?;
    let checked = check_integrity(&mut conn).await.map_err(|e| match e {
        StoreError::Database(_) => StoreError::Corrupt("the file is not an SQLite database".into()),
        other => other,
    });
    conn.close().await?;
    checked
}
