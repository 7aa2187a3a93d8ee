//! The hardware baselines: one axum handler per operation, with no middleware, no
//! authentication and no cache, reading and writing SQLite inline on the worker thread through
//! rusqlite (a connection per worker thread, statements cached), so the service's figures can
//! be read as ratios against what this machine gives.
//!
//! - `GET /hello`: a bare axum hello world (the floor under `/health/live`).
//! - `GET /plate/{plate}`: one indexed SQLite lookup.
//! - `POST /vehicles`: one registration — the vehicle row and its audit row — in a transaction
//!   of its own, committed before the answer, with the given `synchronous` level (`full` is
//!   durable across power loss, as the service's default).
//!
//!   cargo run --release --example bare_lookup -- DATABASE_FILE ADDRESS [full|normal]

use std::{cell::RefCell, sync::OnceLock};

use axum::{
    Json, Router,
    extract::Path,
    http::StatusCode,
    routing::{get, post},
};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(serde::Serialize)]
struct Row {
    id: i64,
    number_plate: String,
    contact_name: String,
    phone_number: String,
    entry_ms: i64,
}

#[derive(serde::Deserialize)]
struct Registration {
    number_plate: String,
    contact_name: String,
    phone_number: String,
}

struct Database {
    file: String,
    synchronous: &'static str,
}

static DATABASE: OnceLock<Database> = OnceLock::new();

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Runs `work` on this worker thread's own connection, opened on first use.
fn with_connection<T>(
    work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    CONNECTION.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let database = DATABASE.get().ok_or(rusqlite::Error::InvalidQuery)?;
            let connection = Connection::open(&database.file)?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", database.synchronous)?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            *slot = Some(connection);
        }
        match slot.as_mut() {
            Some(connection) => work(connection),
            None => Err(rusqlite::Error::InvalidQuery),
        }
    })
}

#[derive(serde::Serialize)]
struct Hello {
    status: &'static str,
}

async fn hello() -> Json<Hello> {
    Json(Hello { status: "ok" })
}

async fn lookup(Path(plate): Path<String>) -> Result<Json<Row>, StatusCode> {
    with_connection(|connection| {
        connection
            .prepare_cached(
                "SELECT id, number_plate, contact_name, phone_number, entry_ms FROM vehicles \
                 WHERE number_plate = ?1",
            )?
            .query_row(params![plate], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    number_plate: row.get(1)?,
                    contact_name: row.get(2)?,
                    phone_number: row.get(3)?,
                    entry_ms: row.get(4)?,
                })
            })
            .optional()
    })
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
    .map(Json)
    .ok_or(StatusCode::NOT_FOUND)
}

async fn register(Json(vehicle): Json<Registration>) -> Result<(StatusCode, String), StatusCode> {
    let now = chrono::Utc::now().timestamp_millis();
    let id = with_connection(|connection| {
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, \
             phone_number, entry_ms, created_ms, updated_ms) \
             VALUES (?1, ?1, ?2, lower(?2), ?3, ?4, ?4, ?4)",
        )?
        .execute(params![
            vehicle.number_plate,
            vehicle.contact_name,
            vehicle.phone_number,
            now
        ])?;
        let id = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO audit_logs (ts_ms, action, entity, entity_id, actor, details) \
             VALUES (?1, 'vehicle.created', 'vehicle', ?2, 'bench', '{}')",
        )?
        .execute(params![now, id.to_string()])?;
        tx.commit()?;
        Ok(id)
    })
    .map_err(|_| StatusCode::CONFLICT)?;
    Ok((StatusCode::CREATED, format!("{{\"id\":{id}}}")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (file, address, synchronous) = match args.as_slice() {
        [_, file, address] => (file, address, "full"),
        [_, file, address, synchronous] => (file, address, synchronous.as_str()),
        _ => return Err("usage: bare_lookup DATABASE_FILE ADDRESS [full|normal]".into()),
    };
    let synchronous = if synchronous == "normal" {
        "NORMAL"
    } else {
        "FULL"
    };
    let _ = DATABASE.set(Database {
        file: file.clone(),
        synchronous,
    });
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/plate/{plate}", get(lookup))
        .route("/vehicles", post(register));
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
