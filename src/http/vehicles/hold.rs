//! `POST|DELETE /api/v1/vehicles/{plate}/hold`: legal holds, for admins.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::dto::VehicleBody;
use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{
        auth::Admin,
        extract::{JsonBody, JsonText, PlatePath},
    },
};

/// A hold: why, and until when (at most a year from now). The reason is recorded in the
/// audit log, so it must not contain the plate, the contact name or the phone number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    #[schema(value_type = String, required = true, example = "police request 2026/114")]
    pub reason: Option<JsonText>,
    #[schema(value_type = DateTime<Utc>, required = true)]
    pub until: Option<JsonText>,
}

/// Keeps a parked vehicle past its retention period until `until`: the purge and the expiry
/// sweep skip it, and it stays in reads and searches with its `hold`. Replaces a hold it has.
/// Audited as `vehicle.held` with the reason and the end.
#[utoipa::path(
    post, path = "/api/v1/vehicles/{plate}/hold", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling")),
    request_body = HoldRequest,
    responses(
        (status = 200, description = "The vehicle with its hold", body = VehicleBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason, one that names the person, or an end not within a year", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn place_hold(
    State(state): State<AppState>,
    caller: Admin,
    PlatePath(plate): PlatePath,
    JsonBody(body): JsonBody<HoldRequest>,
) -> Result<VehicleBody, ApiError> {
    let vehicle = state
        .vehicles
        .hold(
            &plate,
            JsonText::field(&body.reason),
            JsonText::field(&body.until),
            &caller.audit(),
        )
        .await?;
    Ok(vehicle.into())
}

/// Lifts a vehicle's hold. One past its retention period expires at once (live searches get
/// `removed`). Audited as `vehicle.hold_lifted`.
#[utoipa::path(
    delete, path = "/api/v1/vehicles/{plate}/hold", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked, or not held", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn lift_hold(
    State(state): State<AppState>,
    caller: Admin,
    PlatePath(plate): PlatePath,
) -> Result<StatusCode, ApiError> {
    state.vehicles.lift_hold(&plate, &caller.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
