//! `/api/v1/occupancy` and `/api/v1/config/capacity`: how full the car park is.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::{FieldErrors, OccupancyHour, SeriesHours},
    error::{ApiError, Problem},
    http::{
        auth::{Admin, Viewer},
        extract::{JsonBody, RawQuery},
        query_params::QueryErrors,
    },
    service::Occupancy,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_occupancy))
        .routes(routes!(set_capacity))
}

/// Vehicles parked now, the capacity, and an hourly series. Counts only: no personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct OccupancyBody {
    #[schema(example = 137)]
    pub parked: i64,
    /// `null` until an admin sets it.
    #[schema(example = 200)]
    pub capacity: Option<i64>,
    /// Oldest hour first; the last is the current hour.
    pub series: Vec<OccupancyHourBody>,
}

/// One hour: vehicles that entered in it (by entry time), that left in it (a `DELETE`, or a
/// clear; an expiry is not an exit), and parked at its end (for the current hour: now).
#[derive(Debug, Serialize, ToSchema)]
pub struct OccupancyHourBody {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    pub entries: i64,
    pub exits: i64,
    pub parked: i64,
}

impl From<OccupancyHour> for OccupancyHourBody {
    fn from(hour: OccupancyHour) -> Self {
        Self {
            hour: hour.hour,
            entries: hour.entries,
            exits: hour.exits,
            parked: hour.parked,
        }
    }
}

impl From<Occupancy> for OccupancyBody {
    fn from(occupancy: Occupancy) -> Self {
        Self {
            parked: occupancy.parked,
            capacity: occupancy.capacity,
            series: occupancy.series.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OccupancyParams {
    /// Length of the series in hours, 1–720.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 720, default = 24)]
    pub hours: Option<String>,
}

/// The car park's occupancy now and over the last `hours` hours.
#[utoipa::path(get, path = "/api/v1/occupancy", tag = "occupancy",
    params(OccupancyParams),
    responses(
        (status = 200, description = "Occupancy", body = OccupancyBody),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Parameter out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn get_occupancy(
    State(state): State<AppState>,
    _caller: Viewer,
    RawQuery(params): RawQuery<OccupancyParams>,
) -> Result<Json<OccupancyBody>, ApiError> {
    let mut errors = QueryErrors::default();
    let hours = errors.whole_number(
        "hours",
        params.hours.as_deref(),
        SeriesHours::default(),
        SeriesHours::new,
    );
    errors.finish()?;
    Ok(Json(state.occupancy.occupancy(hours).await?.into()))
}

/// A new capacity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCapacity {
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 1000000, example = 200)]
    pub capacity: Option<serde_json::Value>,
}

/// The capacity now in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapacityBody {
    #[schema(example = 200)]
    pub capacity: i64,
}

/// Sets the car park's capacity. Live searches receive an `occupancy` frame. Audited.
#[utoipa::path(put, path = "/api/v1/config/capacity", tag = "occupancy",
    request_body = SetCapacity,
    responses(
        (status = 200, description = "The new capacity", body = CapacityBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a whole number from 1 to 1,000,000", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn set_capacity(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<SetCapacity>,
) -> Result<Json<CapacityBody>, ApiError> {
    let places = match &body.capacity {
        None => Err("is required"),
        Some(value) => value.as_i64().ok_or("must be a whole number"),
    }
    .map_err(|message| FieldErrors::single("capacity", message))
    .map_err(crate::service::ServiceError::from)?;
    let capacity = state
        .occupancy
        .set_capacity(places, &caller.audit())
        .await?;
    Ok(Json(CapacityBody {
        capacity: capacity.places(),
    }))
}
