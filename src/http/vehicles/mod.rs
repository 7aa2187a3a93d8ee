//! `/api/v1/vehicles`: register, list, read, change and remove parked vehicles.

mod cursor;
pub mod dto;
mod export;
mod hold;
pub mod json;
mod params;
mod reveal;

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use self::{
    cursor::PageCursor,
    dto::{ListParams, RegisterVehicle, RegisteredBody, UpdateVehicle, VehicleBody, VehicleList},
    params::Listing,
};
use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{
        auth::{Operator, Viewer},
        extract::{JsonBody, JsonText, PlatePath, RawQuery},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_vehicle, list_vehicles))
        .routes(routes!(export::export_vehicles))
        .routes(routes!(get_vehicle, update_vehicle, delete_vehicle))
        .routes(routes!(reveal::reveal_phone))
        .routes(routes!(hold::place_hold, hold::lift_hold))
}

/// Registers a vehicle as it enters the car park.
#[utoipa::path(
    post, path = "/api/v1/vehicles", tag = "vehicles",
    request_body = RegisterVehicle,
    responses(
        (status = 201, description = "Registered", body = RegisteredBody,
            headers(("location" = String, description = "URL of the new vehicle"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plate is already parked", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
async fn register_vehicle(
    State(state): State<AppState>,
    caller: Operator,
    JsonBody(body): JsonBody<RegisterVehicle>,
) -> Result<impl IntoResponse, ApiError> {
    let registered = state
        .vehicles
        .register(body.as_raw(), &caller.audit())
        .await?;
    // Plates may hold non-ASCII letters, which a header cannot carry unencoded.
    let plate = percent_encoding::utf8_percent_encode(
        &registered.vehicle.number_plate,
        percent_encoding::NON_ALPHANUMERIC,
    );
    let location = format!("/api/v1/vehicles/{plate}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(RegisteredBody::from(registered)),
    ))
}

/// Lists parked vehicles, newest entry first by default, with keyset pagination.
#[utoipa::path(
    get, path = "/api/v1/vehicles", tag = "vehicles",
    params(ListParams),
    responses(
        (status = 200, description = "A page of vehicles", body = VehicleList),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Parameter out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
async fn list_vehicles(
    State(state): State<AppState>,
    caller: Viewer,
    RawQuery(query): RawQuery<ListParams>,
) -> Result<VehicleList, ApiError> {
    let role = caller.role();
    let (items, next) = match params::parse(&query)? {
        Listing::Keyset(filter) => {
            let order = filter.order;
            let page = state.vehicles.list(filter).await?;
            (page.items, page.next.map(|c| PageCursor::Keyset(order, c)))
        }
        Listing::Ranked {
            mut query,
            window,
            offset,
            limit,
        } => {
            if role.sees_masked_phones() {
                // Matching digits a viewer cannot see would reveal them, a search at a time.
                query.digits = None;
            }
            let found = state
                .live
                .search(Some(&query), window, offset, limit as usize)
                .hits;
            let end = offset + found.items.len();
            (
                found.items,
                (end < found.total).then_some(PageCursor::Ranked { offset: end }),
            )
        }
    };
    Ok(VehicleList {
        items: items
            .into_iter()
            .map(|v| VehicleBody::shown_to(v, role))
            .collect(),
        next_cursor: next.map(cursor::encode),
    })
}

/// Finds a parked vehicle by its plate, written in any spelling.
#[utoipa::path(
    get, path = "/api/v1/vehicles/{plate}", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling", example = "ab-12 cde")),
    responses(
        (status = 200, description = "The vehicle", body = VehicleBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
async fn get_vehicle(
    State(state): State<AppState>,
    caller: Viewer,
    PlatePath(plate): PlatePath,
) -> Result<VehicleBody, ApiError> {
    let vehicle = state.vehicles.find(&plate).await?;
    Ok(VehicleBody::shown_to(vehicle, caller.role()))
}

/// Changes the contact name and/or phone number of a parked vehicle.
#[utoipa::path(
    patch, path = "/api/v1/vehicles/{plate}", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling")),
    request_body = UpdateVehicle,
    responses(
        (status = 200, description = "The updated vehicle", body = VehicleBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
async fn update_vehicle(
    State(state): State<AppState>,
    caller: Operator,
    PlatePath(plate): PlatePath,
    JsonBody(body): JsonBody<UpdateVehicle>,
) -> Result<VehicleBody, ApiError> {
    let vehicle = state
        .vehicles
        .update(
            &plate,
            JsonText::field(&body.contact_name),
            JsonText::field(&body.phone_number),
            &caller.audit(),
        )
        .await?;
    Ok(vehicle.into())
}

/// Records that a vehicle has left; its personal data is deleted.
#[utoipa::path(
    delete, path = "/api/v1/vehicles/{plate}", tag = "vehicles",
    params(("plate" = String, Path, description = "Number plate in any spelling")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not parked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
async fn delete_vehicle(
    State(state): State<AppState>,
    caller: Operator,
    PlatePath(plate): PlatePath,
) -> Result<StatusCode, ApiError> {
    state.vehicles.remove(&plate, &caller.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
