//! `/api/v1/keys`: API keys over HTTP (admin). A key's secret appears once, in the answer to
//! its creation; neither it nor its hash is ever shown again.

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::NewKeySpec,
    error::{ApiError, Problem},
    http::{
        auth::Admin,
        extract::{JsonBody, JsonText},
    },
    service::ServiceError,
    store::ApiKeyRecord,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    #[schema(example = 3)]
    pub id: i64,
    #[schema(example = "front desk")]
    pub name: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(value_type = String, example = "operator")]
    pub role: &'static str,
    pub created_at: DateTime<Utc>,
    /// The key is refused from this instant; `null`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for KeyBody {
    fn from(key: ApiKeyRecord) -> Self {
        Self {
            id: key.id,
            name: key.name,
            role: key.role.as_str(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, revoked and expired ones included, oldest first.
    pub items: Vec<KeyBody>,
}

/// A new key, with its secret: shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: KeyBody,
    /// The secret to present as `X-API-Key` or `Authorization: Bearer`. Store it now: only its
    /// hash is kept.
    #[schema(example = "pk_3q2-7wEvq5xXo0Zs9l1Yk8c4H6uQyJb2RrTnVfWmAeI")]
    #[serde(rename = "key")]
    pub secret: String,
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// 1–64 characters; shown as the audit actor.
    #[schema(value_type = String, required = true, example = "front desk")]
    pub name: Option<JsonText>,
    /// `admin`, `operator` or `viewer` (reads with phone numbers masked).
    #[schema(value_type = String, required = true, example = "operator")]
    pub role: Option<JsonText>,
    /// RFC 3339, in the future; absent: the key never expires.
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<JsonText>,
}

/// Lists every API key (never a secret or its hash).
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "Every key", body = KeyList),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<KeyList>, ApiError> {
    let items = state
        .keys
        .list()
        .await?
        .into_iter()
        .map(KeyBody::from)
        .collect();
    Ok(Json(KeyList { items }))
}

/// Creates a key and shows its secret once. Audited.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "The key, with its secret", body = CreatedKey),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn create_key(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let spec = NewKeySpec::parse(
        JsonText::field(&body.name),
        JsonText::field(&body.role),
        JsonText::field(&body.expires_at),
        Utc::now(),
    )
    .map_err(ServiceError::from)?;
    let (record, secret) = state.keys.create(spec, &caller.audit()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: record.into(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// The `{id}` path segment: a key id is a whole number, anything else names no key.
pub struct KeyId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for KeyId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::BadRequest("the path is malformed".into(), Vec::new()))?;
        raw.parse()
            .map(KeyId)
            .map_err(|_| ApiError::NotFound("no active API key has this id".into()))
    }
}

/// Revokes a key: requests with it get 401 at once, and live searches opened with it are
/// closed with 1008. The last active admin key cannot be revoked. Audited.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    params(("id" = i64, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active key has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last active admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Admin,
    KeyId(id): KeyId,
) -> Result<StatusCode, ApiError> {
    state.keys.revoke(id, &caller.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
