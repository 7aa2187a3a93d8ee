//! `POST /api/v1/vehicles/{plate}/reveal`: one phone number in full for a caller who sees it
//! masked, audited with the reason given.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{
        auth::Viewer,
        extract::{JsonBody, JsonText, PlatePath},
    },
};

/// Why the number is needed. Recorded in the audit log, so it must not contain the plate,
/// the contact name or the number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    #[schema(value_type = String, required = true, example = "car blocks the fire exit")]
    pub reason: Option<JsonText>,
}

/// The number, unmasked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedBody {
    #[schema(example = "AB12CDE")]
    pub number_plate: String,
    /// E.164.
    #[schema(example = "+442079460958")]
    pub phone_number: String,
}

/// Reveals a parked vehicle's phone number (any key; meant for viewers, who see numbers
/// masked). Audited as `vehicle.phone_revealed` with the reason and the key.
#[utoipa::path(
    post, path = "/api/v1/vehicles/{plate}/reveal", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling")),
    request_body = RevealRequest,
    responses(
        (status = 200, description = "The phone number", body = RevealedBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason, or one that names the person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn reveal_phone(
    State(state): State<AppState>,
    caller: Viewer,
    PlatePath(plate): PlatePath,
    JsonBody(body): JsonBody<RevealRequest>,
) -> Result<Json<RevealedBody>, ApiError> {
    let vehicle = state
        .vehicles
        .reveal(&plate, JsonText::field(&body.reason), &caller.audit())
        .await?;
    Ok(Json(RevealedBody {
        number_plate: vehicle.number_plate,
        phone_number: vehicle.phone_number,
    }))
}
