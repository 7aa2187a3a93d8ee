//! `/api/v1/watchlist`: plates staff want to hear about when they arrive (admins only).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::WatchEntry,
    error::{ApiError, Problem},
    http::{
        auth::Admin,
        extract::{JsonBody, JsonText, PlatePath},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_watchlist))
        .routes(routes!(get_watch, put_watch, delete_watch))
}

/// A watched plate. When a vehicle with this plate, or one differing only by look-alike
/// characters, registers, every live search receives an `alert` frame with the note. Kept for
/// the retention period after its last change, like a vehicle.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchBody {
    #[schema(example = "AB12CDE")]
    pub number_plate: String,
    #[schema(example = "Blocked the fire exit twice; call security")]
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<WatchEntry> for WatchBody {
    fn from(entry: WatchEntry) -> Self {
        Self {
            number_plate: entry.number_plate,
            note: entry.note,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
            expires_at: entry.expires_at,
        }
    }
}

/// Every watched plate.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchList {
    pub items: Vec<WatchBody>,
}

/// Why the plate is watched.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWatch {
    /// 1–500 characters.
    #[schema(value_type = String, required = true, example = "Blocked the fire exit twice; call security")]
    pub note: Option<JsonText>,
}

/// Lists the watched plates, by plate.
#[utoipa::path(get, path = "/api/v1/watchlist", tag = "watchlist",
    responses(
        (status = 200, description = "The watchlist", body = WatchList),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn list_watchlist(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<WatchList>, ApiError> {
    let items = state.watchlist.list().await?;
    Ok(Json(WatchList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Reads one watched plate (any spelling).
#[utoipa::path(get, path = "/api/v1/watchlist/{plate}", tag = "watchlist",
    params(("plate" = String, Path, description = "Number plate, any spelling")),
    responses(
        (status = 200, description = "The entry", body = WatchBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not watched", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn get_watch(
    State(state): State<AppState>,
    _caller: Admin,
    PlatePath(plate): PlatePath,
) -> Result<Json<WatchBody>, ApiError> {
    Ok(Json(state.watchlist.get(&plate).await?.into()))
}

/// Watches a plate, or replaces its note. Audited (without the note).
#[utoipa::path(put, path = "/api/v1/watchlist/{plate}", tag = "watchlist",
    params(("plate" = String, Path, description = "Number plate, any spelling")),
    request_body = PutWatch,
    responses(
        (status = 200, description = "The note was replaced", body = WatchBody),
        (status = 201, description = "The plate is now watched", body = WatchBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid plate or note", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn put_watch(
    State(state): State<AppState>,
    caller: Admin,
    PlatePath(plate): PlatePath,
    JsonBody(body): JsonBody<PutWatch>,
) -> Result<Response, ApiError> {
    let note = JsonText::field(&body.note);
    let (entry, added) = state.watchlist.put(&plate, note, &caller.audit()).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(WatchBody::from(entry))).into_response())
}

/// Stops watching a plate. Audited.
#[utoipa::path(delete, path = "/api/v1/watchlist/{plate}", tag = "watchlist",
    params(("plate" = String, Path, description = "Number plate, any spelling")),
    responses(
        (status = 204, description = "No longer watched"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not watched", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn delete_watch(
    State(state): State<AppState>,
    caller: Admin,
    PlatePath(plate): PlatePath,
) -> Result<StatusCode, ApiError> {
    state.watchlist.remove(&plate, &caller.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
