//! Vehicles in PostgreSQL. As on SQLite, every statement that returns or touches a parked
//! vehicle carries the retention cut-off, so expiry is exact on every instance.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{PostgresStore, feed, from_ms, insert_audit};
use crate::{
    domain::{
        NewAuditEntry, NewHold, NewVehicle, NumberPlate, Registered, Vehicle, VehicleChanges,
    },
    store::{
        ChangeKind, Committed, InsertAudit, StoreError, StoreResult, VehicleCursor, VehicleStore,
        rows::VehicleRow,
    },
};

/// A SELECT of live vehicles, the cut-off against `$1` (now, in ms); the caller's literal
/// continues the WHERE clause.
macro_rules! select_live {
    ($rest:literal) => {
        concat!(
            "SELECT ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms FROM vehicles WHERE ",
            live_at!("$1"),
            " ",
            $rest
        )
    };
}

#[async_trait]
impl VehicleStore for PostgresStore {
    async fn insert_vehicle(
        &self,
        vehicle: &NewVehicle,
        now: DateTime<Utc>,
        audit: &InsertAudit,
    ) -> StoreResult<Committed<Registered>> {
        let now_ms = now.timestamp_millis();
        let entry_ms = vehicle.entry.at().timestamp_millis();
        let mut tx = self.pool.begin().await?;
        // The plate's previous record may have expired without being purged yet: it goes,
        // audited as a purge, and the plate is registered again.
        count_departures(
            &mut tx,
            [
                count_departed_entries!("number_plate = $2 AND ", expired_at!("$1")),
                count_departures!("$1", "number_plate = $2 AND ", expired_at!("$1")),
            ],
            now_ms,
            vehicle.plate.as_str(),
        )
        .await?;
        let mut changed: Vec<i64> = sqlx::query_scalar(concat!(
            "DELETE FROM vehicles WHERE number_plate = $1 AND ",
            expired_at!("$2"),
            " RETURNING id"
        ))
        .bind(vehicle.plate.as_str())
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await?;
        if !changed.is_empty() {
            insert_audit(&mut tx, &audit.replaced_expired).await?;
            super::ledger::count(&mut tx, now_ms, changed.len() as i64, 0, 0).await?;
        }
        // A registration of the same plate by another instance waits here for that one to
        // commit, then finds the plate taken.
        let inserted: Option<(i64, i64)> = sqlx::query_as(concat!(
            "INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, ",
            "phone_number, entry_ms, created_ms, updated_ms) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (number_plate) DO NOTHING ",
            "RETURNING id, ",
            retention_ms!()
        ))
        .bind(vehicle.plate.as_str())
        .bind(vehicle.plate.folded())
        .bind(vehicle.contact_name.as_str())
        .bind(vehicle.contact_name.as_str().to_lowercase())
        .bind(vehicle.phone.as_str())
        .bind(entry_ms)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, retention_ms)) = inserted else {
            return Err(StoreError::PlateTaken);
        };
        changed.push(id);
        let similar_plates: Vec<String> = sqlx::query_scalar(concat!(
            "SELECT number_plate FROM vehicles WHERE plate_folded = $2 AND number_plate <> $3 ",
            "AND ",
            live_at!("$1"),
            " ORDER BY number_plate"
        ))
        .bind(now_ms)
        .bind(vehicle.plate.folded())
        .bind(vehicle.plate.as_str())
        .fetch_all(&mut *tx)
        .await?;
        insert_audit(&mut tx, &audit.created).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(changed), now).await?;
        tx.commit().await?;
        let entry = from_ms(entry_ms);
        let at = from_ms(now_ms);
        Ok(Committed {
            value: Registered {
                vehicle: Vehicle {
                    id,
                    number_plate: vehicle.plate.as_str().to_owned(),
                    contact_name: vehicle.contact_name.as_str().to_owned(),
                    phone_number: vehicle.phone.as_str().to_owned(),
                    entry_time: entry,
                    expires_at: entry + TimeDelta::milliseconds(retention_ms),
                    created_at: at,
                    updated_at: at,
                    hold: None,
                },
                similar_plates,
            },
            position,
        })
    }

    async fn find_vehicle(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vehicle>> {
        let row: Option<VehicleRow> = sqlx::query_as(select_live!("AND number_plate = $2"))
            .bind(now.timestamp_millis())
            .bind(plate.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Vehicle::from))
    }

    async fn load_page(
        &self,
        after: Option<VehicleCursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Vehicle>> {
        let (after_entry, after_id) = after.map_or((i64::MIN, i64::MIN), |c| (c.entry_ms, c.id));
        let rows: Vec<VehicleRow> = sqlx::query_as(concat!(
            "SELECT ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms FROM vehicles WHERE (entry_ms, id) > ($2, $3) AND ",
            live_at!("$1"),
            " ORDER BY entry_ms, id LIMIT $4"
        ))
        .bind(now.timestamp_millis())
        .bind(after_entry)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Vehicle::from).collect())
    }

    async fn update_vehicle(
        &self,
        plate: &NumberPlate,
        changes: &VehicleChanges,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<Vehicle>>> {
        let name = changes.contact_name.as_ref().map(|n| n.as_str());
        let mut tx = self.pool.begin().await?;
        let row: Option<VehicleRow> = sqlx::query_as(concat!(
            "UPDATE vehicles SET contact_name = COALESCE($3, contact_name), ",
            "name_folded = COALESCE($4, name_folded), phone_number = COALESCE($5, phone_number), ",
            "updated_ms = $1 WHERE number_plate = $2 AND ",
            live_at!("$1"),
            " RETURNING ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms"
        ))
        .bind(now.timestamp_millis())
        .bind(plate.as_str())
        .bind(name)
        .bind(name.map(str::to_lowercase))
        .bind(changes.phone.as_ref().map(|p| p.as_str()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        insert_audit(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![row.id]), now).await?;
        tx.commit().await?;
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
        let mut tx = self.pool.begin().await?;
        let row: Option<VehicleRow> = sqlx::query_as(concat!(
            "UPDATE vehicles SET hold_until_ms = $3, hold_reason = $4 WHERE number_plate = $2 AND ",
            live_at!("$1"),
            " RETURNING ",
            vehicle_columns!(),
            ", ",
            retention_ms!(),
            " AS retention_ms"
        ))
        .bind(now.timestamp_millis())
        .bind(plate.as_str())
        .bind(hold.until.timestamp_millis())
        .bind(hold.reason.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        insert_audit(&mut tx, audit).await?;
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
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(concat!(
            "UPDATE vehicles SET ",
            lift_hold_columns!("$1"),
            " WHERE number_plate = $2 AND hold_until_ms IS NOT NULL AND ",
            live_at!("$1"),
            " RETURNING id"
        ))
        .bind(now.timestamp_millis())
        .bind(plate.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        insert_audit(&mut tx, audit).await?;
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
        let mut tx = self.pool.begin().await?;
        count_departures(
            &mut tx,
            [
                count_departed_entries!("number_plate = $2 AND ", live_at!("$1")),
                count_departures!("$1", "number_plate = $2 AND ", live_at!("$1")),
            ],
            now.timestamp_millis(),
            plate.as_str(),
        )
        .await?;
        let id: Option<i64> = sqlx::query_scalar(concat!(
            "DELETE FROM vehicles WHERE number_plate = $2 AND ",
            live_at!("$1"),
            " RETURNING id"
        ))
        .bind(now.timestamp_millis())
        .bind(plate.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        insert_audit(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Vehicles(vec![id]), now).await?;
        tx.commit().await?;
        Ok(Some(Committed {
            value: id,
            position,
        }))
    }
}

/// Runs the two occupancy statements of a deletion (`count_departed_entries!` and
/// `count_departures!`), each with `$1` now and `$2` the deletion's own parameter.
pub(super) async fn count_departures<T>(
    tx: &mut sqlx::PgConnection,
    statements: [&'static str; 2],
    now_ms: i64,
    scope: T,
) -> Result<(), sqlx::Error>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Clone + Send,
{
    for statement in statements {
        sqlx::query(statement)
            .bind(now_ms)
            .bind(scope.clone())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
