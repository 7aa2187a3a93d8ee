//! The hardware baselines: one axum handler per operation, with no middleware, no
//! authentication and no cache, so the service's figures can be read as ratios.
//!
//! - `GET /plate/{plate}`: one indexed SQLite lookup.
//! - `POST /vehicles`: one registration — the vehicle row and its audit row — in a transaction
//!   of its own, committed before the answer, with the given `synchronous` level (`full` is
//!   durable across power loss, as the service's default).
//!
//!   cargo run --release --example bare_lookup -- DATABASE_FILE ADDRESS [full|normal]

use std::str::FromStr;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(serde::Serialize, sqlx::FromRow)]
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

#[derive(Clone)]
struct Pools {
    read: SqlitePool,
    write: SqlitePool,
}

async fn lookup(
    State(pools): State<Pools>,
    Path(plate): Path<String>,
) -> Result<Json<Row>, StatusCode> {
    sqlx::query_as("SELECT id, number_plate, contact_name, phone_number, entry_ms FROM vehicles WHERE number_plate = ?1")
        .bind(plate)
        .fetch_optional(&pools.read)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

async fn register(
    State(pools): State<Pools>,
    Json(vehicle): Json<Registration>,
) -> Result<(StatusCode, String), StatusCode> {
    let failed = |_| StatusCode::INTERNAL_SERVER_ERROR;
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = pools
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(failed)?;
    let id = sqlx::query(
        "INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, \
         phone_number, entry_ms, created_ms, updated_ms) VALUES (?1, ?1, ?2, lower(?2), ?3, ?4, ?4, ?4)",
    )
    .bind(&vehicle.number_plate)
    .bind(&vehicle.contact_name)
    .bind(&vehicle.phone_number)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|_| StatusCode::CONFLICT)?
    .last_insert_rowid();
    sqlx::query(
        "INSERT INTO audit_logs (ts_ms, action, entity, entity_id, actor, details) \
         VALUES (?1, 'vehicle.created', 'vehicle', ?2, 'bench', '{}')",
    )
    .bind(now)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok((StatusCode::CREATED, format!("{{\"id\":{id}}}")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (database, address, synchronous) = match args.as_slice() {
        [_, database, address] => (database, address, "full"),
        [_, database, address, synchronous] => (database, address, synchronous.as_str()),
        _ => return Err("usage: bare_lookup DATABASE_FILE ADDRESS [full|normal]".into()),
    };
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(database)
        .journal_mode(SqliteJournalMode::Wal);
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone().read_only(true))
        .await?;
    let synchronous = match synchronous {
        "normal" => SqliteSynchronous::Normal,
        _ => SqliteSynchronous::Full,
    };
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.synchronous(synchronous))
        .await?;
    let app = Router::new()
        .route("/plate/{plate}", get(lookup))
        .route("/vehicles", post(register))
        .with_state(Pools { read, write });
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
