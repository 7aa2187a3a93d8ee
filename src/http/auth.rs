//! Who is calling: the API key from `X-API-Key` or `Authorization: Bearer`.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};

use crate::{
    app::AppState,
    domain::{AuditContext, Role},
    error::ApiError,
    http::api_guard::Authenticated,
    service::Caller,
    telemetry::request_scope::current_request_id,
};

/// Any valid key: viewers (who see phone numbers masked), operators and admins.
pub struct Viewer(pub Caller);

/// A key that may change vehicles: operators and admins.
pub struct Operator(pub Caller);

/// A valid key with the admin role.
pub struct Admin(pub Caller);

impl Operator {
    /// The audit actor and request id for changes made by this caller.
    pub fn audit(&self) -> AuditContext {
        audit_context(&self.0)
    }
}

impl Viewer {
    pub fn audit(&self) -> AuditContext {
        audit_context(&self.0)
    }

    /// The role the answer is shaped for (phone numbers masked for viewers).
    pub fn role(&self) -> Role {
        self.0.role
    }
}

impl Admin {
    pub fn audit(&self) -> AuditContext {
        audit_context(&self.0)
    }
}

fn audit_context(caller: &Caller) -> AuditContext {
    AuditContext::for_key(&caller.name, caller.key_id, current_request_id())
}

/// The key a request presents, if any. The WebSocket may also pass it as `?api_key=`.
pub fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let authorization = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn authenticate(state: &AppState, key: Option<&str>) -> Result<Caller, ApiError> {
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    state
        .keys
        .authenticate(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::Unauthorized)
}

async fn caller_with_role<S>(parts: &Parts, state: &S, role: Role) -> Result<Caller, ApiError>
where
    AppState: FromRef<S>,
{
    let caller = match parts.extensions.get::<Authenticated>() {
        // The guard already checked the key (and `?api_key=` on the WebSocket).
        Some(Authenticated(caller)) => caller.clone().ok_or(ApiError::Unauthorized)?,
        None => authenticate(&AppState::from_ref(state), presented_key(parts)).await?,
    };
    if caller.role.allows(role) {
        Ok(caller)
    } else {
        Err(ApiError::Forbidden)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        caller_with_role(parts, state, Role::Viewer)
            .await
            .map(Viewer)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Operator
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        caller_with_role(parts, state, Role::Operator)
            .await
            .map(Operator)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        caller_with_role(parts, state, Role::Admin).await.map(Admin)
    }
}
