//! Vehicles in SQLite. Every query that returns or touches a parked vehicle carries the
//! retention cut-off, computed in SQL from the setting in force, so expiry is exact.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{
    SqliteStore, audit, feed,
    time::{from_ms, to_ms},
    unique_violation,
};
use crate::{
    domain::{
        NewAuditEntry, NewHold, NewVehicle, NumberPlate, Registered, Vehicle, VehicleChanges,
    },
    store::{
        ChangeKind, Committed, InsertAudit, StoreError, StoreResult, VehicleCursor, VehicleStore,
        rows::VehicleRow,
    },
};

/// Expands to a SELECT of live vehicles whose cut-off compares `entry_ms` with the bound
/// parameter `?1` (now, in ms); the caller's literal continues the WHERE clause.
macro_rules! select_live {
    ($rest:literal) => {
        concat!(
            "SELECT ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms FROM vehicles WHERE ",
            live_at!("?1"),
            " ",
            $rest
        )
    };
}

/// Registers one vehicle in its own transaction: the path for a lone registration and for
/// batches that hit a taken or expired plate.
pub(super) async fn insert_one(
    writer: &sqlx::SqlitePool,
    vehicle: &NewVehicle,
    now: DateTime<Utc>,
    audit: &InsertAudit,
) -> StoreResult<Committed<Registered>> {
    let now_ms = to_ms(now);
    let entry_ms = to_ms(vehicle.entry.at());
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut inserted = insert_row(&mut tx, vehicle, entry_ms, now_ms).await;
    let mut changed = Vec::with_capacity(2);
    if matches!(&inserted, Err(e) if unique_violation(e)) {
        // The plate's previous record may have expired without being purged yet: it goes,
        // audited as a purge, and the plate is registered again.
        count_departures(
            &mut tx,
            [
                count_departed_entries!("number_plate = ?2 AND ", expired_at!("?1")),
                count_departures!("?1", "number_plate = ?2 AND ", expired_at!("?1")),
            ],
            now_ms,
            vehicle.plate.as_str(),
        )
        .await?;
        let replaced: Vec<i64> = sqlx::query_scalar(concat!(
            "DELETE FROM vehicles WHERE number_plate = ?1 AND ",
            expired_at!("?2"),
            " RETURNING id"
        ))
        .bind(vehicle.plate.as_str())
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await?;
        if replaced.is_empty() {
            return Err(StoreError::PlateTaken);
        }
        super::ledger::count(&mut tx, now_ms, replaced.len() as i64, 0, 0).await?;
        changed.extend(replaced);
        audit::insert(&mut tx, &audit.replaced_expired).await?;
        inserted = insert_row(&mut tx, vehicle, entry_ms, now_ms).await;
    }
    let (id, retention_ms) = inserted?;
    changed.push(id);
    audit::insert(&mut tx, &audit.created).await?;
    let position = feed::record(&mut tx, &ChangeKind::Vehicles(changed), now).await?;
    tx.commit().await?;
    Ok(Committed {
        // The server's own index answers look-alikes (see `VehicleStore::insert_vehicle`).
        value: Registered {
            vehicle: stored_vehicle(vehicle, id, retention_ms, now),
            similar_plates: Vec::new(),
        },
        position,
    })
}

/// Runs the two occupancy statements of a deletion (`count_departed_entries!` and
/// `count_departures!`), each with `?1` now and `?2` the deletion's own parameter.
pub(super) async fn count_departures(
    tx: &mut sqlx::SqliteConnection,
    statements: [&'static str; 2],
    now_ms: i64,
    scope: &str,
) -> Result<(), sqlx::Error> {
    for statement in statements {
        sqlx::query(statement)
            .bind(now_ms)
            .bind(scope)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The vehicle a registration stored, as both registration paths return it.
pub(super) fn stored_vehicle(
    vehicle: &NewVehicle,
    id: i64,
    retention_ms: i64,
    now: DateTime<Utc>,
) -> Vehicle {
    let entry = from_ms(to_ms(vehicle.entry.at()));
    let now = from_ms(to_ms(now));
    Vehicle {
        id,
        number_plate: vehicle.plate.as_str().to_owned(),
        contact_name: vehicle.contact_name.as_str().to_owned(),
        phone_number: vehicle.phone.as_str().to_owned(),
        entry_time: entry,
        expires_at: entry + TimeDelta::milliseconds(retention_ms),
        created_at: now,
        updated_at: now,
        hold: None,
    }
}

/// Inserts the row; returns its id and the retention period in force (for `expires_at`), in
/// one round trip. `fetch_all`, not `fetch_one`: an unfinished RETURNING statement would keep
/// the WAL from being checkpointed.
async fn insert_row(
    tx: &mut sqlx::SqliteConnection,
    vehicle: &NewVehicle,
    entry_ms: i64,
    now_ms: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(concat!(
        "INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, ",
        "phone_number, entry_ms, created_ms, updated_ms) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING id, ",
        retention_ms!()
    ))
    .bind(vehicle.plate.as_str())
    .bind(vehicle.plate.folded())
    .bind(vehicle.contact_name.as_str())
    .bind(vehicle.contact_name.as_str().to_lowercase())
    .bind(vehicle.phone.as_str())
    .bind(entry_ms)
    .bind(now_ms)
    .fetch_all(tx)
    .await?;
    rows.first().copied().ok_or(sqlx::Error::RowNotFound)
}

/// One record of `load_page`'s packed page.
fn unpack(record: &str, retention_ms: i64) -> Option<Vehicle> {
    let mut fields = record.split('\u{1f}');
    let mut next = || fields.next();
    let id = next()?.parse().ok()?;
    let (plate, name, phone) = (next()?, next()?, next()?);
    let (entry_ms, created_ms, updated_ms): (i64, i64, i64) = (
        next()?.parse().ok()?,
        next()?.parse().ok()?,
        next()?.parse().ok()?,
    );
    // Empty when there is no hold.
    let hold_until_ms = next()?.parse().ok();
    let hold_reason = hold_until_ms.map(|_| next().unwrap_or_default().to_owned());
    Some(Vehicle::from(VehicleRow {
        id,
        number_plate: plate.to_owned(),
        contact_name: name.to_owned(),
        phone_number: phone.to_owned(),
        entry_ms,
        created_ms,
        updated_ms,
        hold_until_ms,
        hold_reason,
        retention_ms,
    }))
}

#[async_trait]
impl VehicleStore for SqliteStore {
    async fn insert_vehicle(
        &self,
        vehicle: &NewVehicle,
        now: DateTime<Utc>,
        audit: &InsertAudit,
    ) -> StoreResult<Committed<Registered>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let registration = super::batch::Registration {
            vehicle: vehicle.clone(),
            now,
            audit: audit.clone(),
            reply,
        };
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.registrations
            .send(registration)
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn find_vehicle(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vehicle>> {
        let row: Option<VehicleRow> = sqlx::query_as(select_live!("AND number_plate = ?2"))
            .bind(to_ms(now))
            .bind(plate.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(Vehicle::from))
    }

    async fn load_page(
        &self,
        after: Option<VehicleCursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Vehicle>> {
        // sqlx hands SQLite rows over one at a time from its worker thread, which costs more
        // than the read itself at a million rows; SQLite packs each page into one string
        // instead. The separators (ASCII unit and record separators) cannot occur in stored
        // values: names reject control characters, plates and phones are alphanumeric.
        let (after_entry, after_id) = after.map_or((i64::MIN, i64::MIN), |c| (c.entry_ms, c.id));
        let packed: Option<String> = sqlx::query_scalar(concat!(
            "SELECT group_concat(id || char(31) || number_plate || char(31) || contact_name || ",
            "char(31) || phone_number || char(31) || entry_ms || char(31) || created_ms || ",
            "char(31) || updated_ms || char(31) || coalesce(hold_until_ms, '') || char(31) || ",
            "coalesce(hold_reason, ''), char(30)) FROM (SELECT * FROM vehicles ",
            "WHERE entry_ms >= ?2 AND (entry_ms > ?2 OR id > ?3) AND ",
            live_at!("?1"),
            " ORDER BY entry_ms, id",
            limit!("?4"),
            ")"
        ))
        .bind(to_ms(now))
        .bind(after_entry)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_one(&self.reader)
        .await?;
        let retention_ms: i64 = sqlx::query_scalar(concat!("SELECT ", retention_ms!()))
            .fetch_one(&self.reader)
            .await?;
        let Some(packed) = packed else {
            return Ok(Vec::new());
        };
        packed
            .split('\u{1e}')
            .map(|record| unpack(record, retention_ms))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StoreError::Corrupt("an unreadable vehicle row".into()))
    }

    async fn update_vehicle(
        &self,
        plate: &NumberPlate,
        changes: &VehicleChanges,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<Vehicle>>> {
        let now_ms = to_ms(now);
        let name = changes.contact_name.as_ref().map(|n| n.as_str());
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(concat!(
            "UPDATE vehicles SET contact_name = COALESCE(?3, contact_name), ",
            "name_folded = COALESCE(?4, name_folded), phone_number = COALESCE(?5, phone_number), ",
            "updated_ms = ?1 WHERE number_plate = ?2 AND ",
            live_at!("?1")
        ))
        .bind(now_ms)
        .bind(plate.as_str())
        .bind(name)
        .bind(name.map(str::to_lowercase))
        .bind(changes.phone.as_ref().map(|p| p.as_str()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let row: VehicleRow = sqlx::query_as(select_live!("AND number_plate = ?2"))
            .bind(now_ms)
            .bind(plate.as_str())
            .fetch_one(&mut *tx)
            .await?;
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![row.id]), now).await?;
        tx.commit().await?;
        // The old name or number is overwritten in its page, but stays in the WAL until then.
        self.scrubber.request();
        Ok(Some(Committed {
            value: row.into(),
            position,
        }))
    }

    async fn hold_vehicle(
        &self,
        plate: &NumberPlate,
        hold: &NewHold,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<Vehicle>>> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(concat!(
            "UPDATE vehicles SET hold_until_ms = ?3, hold_reason = ?4 WHERE number_plate = ?2 AND ",
            live_at!("?1")
        ))
        .bind(now_ms)
        .bind(plate.as_str())
        .bind(to_ms(hold.until))
        .bind(hold.reason.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let row: VehicleRow = sqlx::query_as(select_live!("AND number_plate = ?2"))
            .bind(now_ms)
            .bind(plate.as_str())
            .fetch_one(&mut *tx)
            .await?;
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![row.id]), now).await?;
        tx.commit().await?;
        Ok(Some(Committed {
            value: row.into(),
            position,
        }))
    }

    async fn lift_hold(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<i64>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // `fetch_all`: an unfinished RETURNING statement would hold the WAL back.
        let lifted: Vec<i64> = sqlx::query_scalar(concat!(
            "UPDATE vehicles SET ",
            lift_hold_columns!("?1"),
            " WHERE number_plate = ?2 AND hold_until_ms IS NOT NULL AND ",
            live_at!("?1"),
            " RETURNING id"
        ))
        .bind(to_ms(now))
        .bind(plate.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let Some(&id) = lifted.first() else {
            return Ok(None);
        };
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![id]), now).await?;
        tx.commit().await?;
        Ok(Some(Committed {
            value: id,
            position,
        }))
    }

    async fn delete_vehicle(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<i64>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        count_departures(
            &mut tx,
            [
                count_departed_entries!("number_plate = ?2 AND ", live_at!("?1")),
                count_departures!("?1", "number_plate = ?2 AND ", live_at!("?1")),
            ],
            to_ms(now),
            plate.as_str(),
        )
        .await?;
        // `fetch_all`, not `fetch_one`: a RETURNING statement left unfinished would keep the
        // WAL from being checkpointed.
        let deleted: Vec<i64> = sqlx::query_scalar(concat!(
            "DELETE FROM vehicles WHERE number_plate = ?2 AND ",
            live_at!("?1"),
            " RETURNING id"
        ))
        .bind(to_ms(now))
        .bind(plate.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let Some(&id) = deleted.first() else {
            return Ok(None);
        };
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![id]), now).await?;
        tx.commit().await?;
        self.scrubber.request();
        Ok(Some(Committed {
            value: id,
            position,
        }))
    }
}
