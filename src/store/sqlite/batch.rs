//! Group commit for registrations. Every SQLite statement through sqlx is a round trip to the
//! connection's worker thread, and on a busy core those hops, not SQLite, are what a
//! registration costs. One task takes whatever registrations are waiting (never waiting for
//! more, so a lone request gets no extra latency) and writes them in one transaction sent as
//! one SQL text: a multi-row INSERT for the vehicles, the change feed's record, and a
//! multi-row INSERT for their audit entries. Each caller hears back only after that
//! transaction has committed.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, sqlite::SqliteRow};
use tokio::sync::{mpsc, oneshot};

use super::{checkpoints::Checkpoints, handoff::Handoff, time::to_ms, vehicles::stored_vehicle};
use crate::{
    domain::{NewVehicle, Registered},
    store::{Committed, FeedPosition, InsertAudit, StoreError, StoreResult},
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

/// Starts the writer task; it ends when every sender is dropped. Each committed batch is also
/// handed to this process's feed reader (`handoff`) and counted towards the next checkpoint.
pub fn start(
    writer: SqlitePool,
    handoff: Arc<Handoff>,
    checkpoints: Arc<Checkpoints>,
) -> Registrations {
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
            let written = batch.len();
            write(&writer, &handoff, std::mem::take(&mut batch)).await;
            checkpoints.wrote(written);
        }
    });
    sender
}

async fn write(writer: &SqlitePool, handoff: &Handoff, batch: Vec<Registration>) {
    // A plate already taken (or expired and waiting for the purge) fails the whole batch's
    // statement; each registration is then written on its own, which sorts them out.
    if let Ok(rows) = insert_all(writer, &batch).await {
        match read_back(&batch, &rows) {
            Ok(vehicles) => {
                // Handed over before anyone hears back, so a caller waiting for its change
                // finds it there.
                if let Some(first) = vehicles.first() {
                    let rows = vehicles.iter().map(|c| c.value.vehicle.clone()).collect();
                    handoff.hand(first.position, first.value.vehicle.created_at, rows);
                }
                for (registration, vehicle) in batch.into_iter().zip(vehicles) {
                    let _ = registration.reply.send(Ok(vehicle));
                }
            }
            // Committed, but not as the statement promises: not written again (each plate
            // would be "taken"), and the feed's reader reads the batch from the database.
            Err(_) => {
                for registration in batch {
                    let unreadable = StoreError::Database(sqlx::Error::RowNotFound);
                    let _ = registration.reply.send(Err(unreadable));
                }
            }
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

/// Writes the batch as one SQL text — the transaction, the vehicles, the feed's record and the
/// audit entries — sent to the connection's worker thread at once, and returns the rows its
/// statements returned once it has committed. Each statement sent on its own was a round trip
/// to that thread, and those switches cost a registration more than SQLite's work
/// (bench/README.md).
///
/// `OR ROLLBACK`: a broken constraint ends the whole transaction instead of undoing only its
/// statement, so SQLite keeps no statement journal, which copied every page the multi-row
/// statements touched (15% of the writer thread's time in the profile).
async fn insert_all(writer: &SqlitePool, batch: &[Registration]) -> StoreResult<Vec<SqliteRow>> {
    let now = batch.first().map_or_else(Utc::now, |r| r.now);
    let mut sql = QueryBuilder::<Sqlite>::new(
        "BEGIN IMMEDIATE; INSERT OR ROLLBACK INTO vehicles (number_plate, plate_folded, contact_name, \
         name_folded, phone_number, entry_ms, created_ms, updated_ms) ",
    );
    sql.push_values(batch, |mut row, r| {
        row.push_bind(r.vehicle.plate.as_str().to_owned())
            .push_bind(r.vehicle.plate.folded())
            .push_bind(r.vehicle.contact_name.as_str().to_owned())
            .push_bind(r.vehicle.contact_name.as_str().to_lowercase())
            .push_bind(r.vehicle.phone.as_str().to_owned())
            .push_bind(to_ms(r.vehicle.entry.at()))
            .push_bind(to_ms(r.now))
            .push_bind(to_ms(r.now));
    });
    sql.push(concat!(
        " RETURNING number_plate, id, ",
        retention_ms!(),
        "; "
    ));
    // The feed's record names the rows just written, found by their plates (unique).
    sql.push("INSERT OR ROLLBACK INTO changes (kind, ids, at_ms) SELECT 'vehicles', group_concat(id, ',' ORDER BY id), ");
    sql.push_bind(to_ms(now));
    sql.push(" FROM vehicles WHERE number_plate IN (");
    let mut plates = sql.separated(", ");
    for r in batch {
        plates.push_bind(r.vehicle.plate.as_str().to_owned());
    }
    sql.push(
        ") RETURNING seq; INSERT OR ROLLBACK INTO audit_logs (ts_ms, action, entity, entity_id, actor, \
         request_id, details) ",
    );
    sql.push_values(batch, |mut row, r| {
        let entry = &r.audit.created;
        row.push_bind(to_ms(entry.at))
            .push_bind(entry.action.as_str())
            .push_bind(entry.action.entity())
            .push_bind(entry.entity_id.clone())
            .push_bind(entry.actor.clone())
            .push_bind(entry.request_id.clone())
            .push_bind(entry.details.to_string());
    });
    sql.push("; COMMIT");

    let mut conn = writer.acquire().await?;
    match sql.build().fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows),
        Err(error) => {
            // A broken constraint rolled the transaction back already (`OR ROLLBACK`), as
            // SQLite may have after a failed write or commit; other failures leave it open.
            // A connection that cannot roll back is closed rather than lent again in a state
            // nobody knows.
            match sqlx::query("ROLLBACK").execute(&mut *conn).await {
                Err(sqlx::Error::Database(e))
                    if e.message().contains("no transaction is active") => {}
                Err(_) => conn.close_on_drop(),
                Ok(_) => {}
            }
            Err(error.into())
        }
    }
}

/// The committed batch's registrations from the rows its statements returned: the vehicles'
/// ids and retention, and the feed position of their change.
fn read_back(
    batch: &[Registration],
    rows: &[SqliteRow],
) -> StoreResult<Vec<Committed<Registered>>> {
    // SQLite does not promise RETURNING rows in insertion order, so each vehicle is matched to
    // its registration by plate (unique within a committed batch).
    let mut stored: HashMap<String, (i64, i64)> = HashMap::with_capacity(batch.len());
    let mut position = None;
    for row in rows {
        if row.len() == 1 {
            position = Some(FeedPosition(row.try_get(0)?));
        } else {
            stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
    }
    let matched: Option<Vec<(i64, i64)>> = batch
        .iter()
        .map(|r| stored.remove(r.vehicle.plate.as_str()))
        .collect();
    let (Some(ids), Some(position)) = (matched.filter(|_| stored.is_empty()), position) else {
        return Err(StoreError::Database(sqlx::Error::RowNotFound));
    };
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
