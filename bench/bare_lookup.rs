//! The hardware baseline for get-by-plate: one axum handler doing one indexed SQLite lookup,
//! with no middleware, no authentication and no cache. It shows what this machine gives for the
//! same work, so the service's figure can be read as a ratio.
//!
//!   cargo run --release --example bare_lookup -- DATABASE_FILE ADDRESS

use std::str::FromStr;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

#[derive(serde::Serialize, sqlx::FromRow)]
struct Row {
    id: i64,
    number_plate: String,
    contact_name: String,
    phone_number: String,
    entry_ms: i64,
}

async fn lookup(
    State(pool): State<SqlitePool>,
    Path(plate): Path<String>,
) -> Result<Json<Row>, StatusCode> {
    sqlx::query_as("SELECT id, number_plate, contact_name, phone_number, entry_ms FROM vehicles WHERE number_plate = ?1")
        .bind(plate)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, database, address] = args.as_slice() else {
        return Err("usage: bare_lookup DATABASE_FILE ADDRESS".into());
    };
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(database)
        .read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    let app = Router::new()
        .route("/plate/{plate}", get(lookup))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
