//! Group commit for registrations. Every SQLite statement through sqlx is a round trip to the
//! connection's worker thread, and on a busy core those hops, not SQLite, are what a
//! registration costs. One task takes whatever registrations are waiting (never waiting for
//! more, so a lone request gets no extra latency) and writes them with one multi-row INSERT
//! for the vehicles and one for their audit entries, in one transaction; each caller hears
//! back only after that transaction has committed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{feed, time::to_ms, vehicles::stored_vehicle};
use crate::{
    domain::{NewVehicle, Registered},
    store::{ChangeKind, Committed, InsertAudit, StoreError, StoreResult},
};

/// Registrations per transaction at most (8 parameters each, far below SQLite's limit).
const MAX_BATCH: usize = 64;
/// Registrations waiting for the writer before callers wait for room.
const QUEUE: usize = 1024;

pub struct Registration {
    pub vehicle: NewVehicle,
    pub now: DateTime<Utc>,
    pub audit: InsertAudit,
    pub reply: oneshot::Sender<StoreResult<Committed<Registered>>>,
}

pub type Registrations = mpsc::Sender<Registration>;

/// Starts the writer task; it ends when every sender is dropped.
pub fn start(writer: SqlitePool) -> Registrations {
    let (sender, mut waiting) = mpsc::channel::<Registration>(QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = waiting.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match waiting.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            write(&writer, std::mem::take(&mut batch)).await;
        }
    });
    sender
}

async fn write(writer: &SqlitePool, batch: Vec<Registration>) {
    // A plate already taken (or expired and waiting for the purge) fails the whole batch's
    // statement; each registration is then written on its own, which sorts them out.
    if batch.len() > 1
        && let Ok(vehicles) = insert_all(writer, &batch).await
    {
        for (registration, vehicle) in batch.into_iter().zip(vehicles) {
            let _ = registration.reply.send(Ok(vehicle));
        }
        return;
    }
    for registration in batch {
        let result = super::vehicles::insert_one(
            writer,
            &registration.vehicle,
            registration.now,
            &registration.audit,
        )
        .await;
        let _ = registration.reply.send(result);
    }
}

async fn insert_all(
    writer: &SqlitePool,
    batch: &[Registration],
) -> StoreResult<Vec<Committed<Registered>>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut vehicles = QueryBuilder::<Sqlite>::new(
        "INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number, \
         entry_ms, created_ms, updated_ms) ",
    );
    vehicles.push_values(batch, |mut row, r| {
        row.push_bind(r.vehicle.plate.as_str().to_owned())
            .push_bind(r.vehicle.plate.folded())
            .push_bind(r.vehicle.contact_name.as_str().to_owned())
            .push_bind(r.vehicle.contact_name.as_str().to_lowercase())
            .push_bind(r.vehicle.phone.as_str().to_owned())
            .push_bind(to_ms(r.vehicle.entry.at()))
            .push_bind(to_ms(r.now))
            .push_bind(to_ms(r.now));
    });
    vehicles.push(concat!(" RETURNING number_plate, id, ", retention_ms!()));
    // `fetch_all`: every row of a RETURNING statement is read, so the statement finishes.
    // SQLite does not promise RETURNING rows in insertion order, so each row is matched to
    // its registration by plate (unique within a committed batch).
    let rows: Vec<(String, i64, i64)> = vehicles.build_query_as().fetch_all(&mut *tx).await?;
    let mut stored: HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|(plate, id, retention_ms)| (plate, (id, retention_ms)))
        .collect();
    let matched: Option<Vec<(i64, i64)>> = batch
        .iter()
        .map(|r| stored.remove(r.vehicle.plate.as_str()))
        .collect();
    let Some(ids) = matched.filter(|_| stored.is_empty()) else {
        return Err(StoreError::Database(sqlx::Error::RowNotFound));
    };
    let mut audit = QueryBuilder::<Sqlite>::new(
        "INSERT INTO audit_logs (ts_ms, action, entity, entity_id, actor, request_id, details) ",
    );
    audit.push_values(batch, |mut row, r| {
        let entry = &r.audit.created;
        row.push_bind(to_ms(entry.at))
            .push_bind(entry.action.as_str())
            .push_bind(entry.action.entity())
            .push_bind(entry.entity_id.clone())
            .push_bind(entry.actor.clone())
            .push_bind(entry.request_id.clone())
            .push_bind(entry.details.to_string());
    });
    audit.build().execute(&mut *tx).await?;
    let now = batch.first().map_or_else(Utc::now, |r| r.now);
    let written: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
    let position = feed::record(&mut tx, &ChangeKind::Vehicles(written), now).await?;
    tx.commit().await?;
    Ok(batch
        .iter()
        .zip(ids)
        .map(|(r, (id, retention_ms))| Committed {
            value: Registered {
                vehicle: stored_vehicle(&r.vehicle, id, retention_ms, r.now),
                similar_plates: Vec::new(),
            },
            position,
        })
        .collect())
}
