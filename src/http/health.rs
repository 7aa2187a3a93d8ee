//! Liveness and readiness for load balancers and orchestrators.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    error::problem_response,
    store::{StorageFault, StoreError},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when backups cannot be written.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Per dependency: `ok`, `unavailable`, `full` or `not writable` (the database, the
    /// backup folder).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
async fn live() -> impl IntoResponse {
    // Always the same answer, so it is not serialised anew for every probe: that was 1,100
    // of a check's 35,000 instructions (`bench/README.md`). A test holds it to `Health`'s JSON.
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        LIVE,
    )
}

/// `Health { status: "ok", checks: {} }` as JSON.
const LIVE: &str = r#"{"status":"ok"}"#;

/// The service can serve requests: its database answers and takes writes (and Redis answers,
/// when configured). A backup folder that cannot be written is reported as `degraded`, still
/// `200`: requests are served, backups are not.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready (`status` is `degraded` when backups cannot be written)", body = Health),
        (status = 503, description = "A dependency is unreachable, or the database cannot be written", content_type = "application/problem+json"),
    ))]
async fn ready(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => match state.store.writable().await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(%error, "readiness: the database takes no writes");
                unwritable(&error)
            }
        },
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
    let backups = match state.backups.writable() {
        Ok(()) => "ok",
        Err(error) => {
            tracing::warn!(%error, "readiness: the backup folder cannot be written");
            unwritable(&error)
        }
    };
    if checks.values().all(|&check| check == "ok") {
        checks.insert("backups", backups);
        return Json(Health {
            status: if backups == "ok" { "ok" } else { "degraded" },
            checks,
        })
        .into_response();
    }
    checks.insert("backups", backups);
    #[derive(Serialize)]
    struct NotReady {
        #[serde(flatten)]
        problem: crate::error::Problem,
        checks: BTreeMap<&'static str, &'static str>,
    }
    let down: Vec<String> = checks
        .iter()
        .filter(|(name, c)| **c != "ok" && **name != "backups")
        .map(|(name, c)| format!("{name} {c}"))
        .collect();
    let detail = format!("not ready: {}", down.join(", "));
    let problem = crate::error::ApiError::Unavailable(detail).problem();
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &NotReady { problem, checks },
    )
}

/// The check's value for storage that refused a write.
fn unwritable(error: &StoreError) -> &'static str {
    match error.storage_fault() {
        Some(StorageFault::Full) => "full",
        _ => "not writable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_answer_is_a_healthy_healths_json() {
        let healthy = Health {
            status: "ok",
            checks: BTreeMap::new(),
        };
        assert_eq!(LIVE, serde_json::to_string(&healthy).unwrap());
    }
}
