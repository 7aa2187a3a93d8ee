//! Liveness and readiness for load balancers and orchestrators.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{app::AppState, error::problem_response};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Per dependency: `ok` or `unavailable`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

/// The service can serve requests: its database answers.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is unreachable", content_type = "application/problem+json"),
    ))]
async fn ready(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => "ok",
        Err(error) => {
            tracing::warn!(%error, "readiness: database unreachable");
            "unavailable"
        }
    };
    let mut checks = BTreeMap::from([("database", database)]);
    if let Some(redis) = &state.redis {
        checks.insert(
            "redis",
            if redis.ping().await {
                "ok"
            } else {
                "unavailable"
            },
        );
    }
    if checks.values().all(|&check| check == "ok") {
        return Json(Health {
            status: "ok",
            checks,
        })
        .into_response();
    }
    #[derive(Serialize)]
    struct NotReady {
        #[serde(flatten)]
        problem: crate::error::Problem,
        checks: BTreeMap<&'static str, &'static str>,
    }
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, c)| **c != "ok")
        .map(|(name, _)| *name)
        .collect();
    let detail = format!("not ready: unreachable {}", down.join(" and "));
    let problem = crate::error::ApiError::Unavailable(detail).problem();
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &NotReady { problem, checks },
    )
}
