//! The one error type of the HTTP layer, and the one place where statuses are chosen.
//!
//! Every error leaves as `application/problem+json` (RFC 9457) with the request id. Details
//! describe the rule that failed and never echo the rejected value: a rejected value may be a
//! plate, a name or a phone number. Unexpected failures are logged once here and leave as an
//! opaque 500.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    domain::FieldError, service::ServiceError, store::StorageFault,
    telemetry::request_scope::current_request_id,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String, Vec<FieldError>),
    #[error("a valid API key is required (X-API-Key or Authorization: Bearer)")]
    Unauthorized,
    #[error("this API key's role may not do this")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the request headers are too large: at most 100 headers and 32 KiB in all")]
    HeadersTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("{0}")]
    Invalid(String, Vec<FieldError>),
    /// A dependency or a limit keeps the request from being served now; the text says which.
    #[error("{0}")]
    Unavailable(String),
    #[error("this endpoint speaks WebSocket: send an upgrade request")]
    UpgradeRequired,
    #[error("too many requests: retry in {0} s")]
    RateLimited(u64),
    /// A per-caller limit other than the request rate; the text says which.
    #[error("{0}")]
    TooMany(String),
    #[error("the request took too long")]
    Timeout,
    /// The backup an operation depends on failed; the operation did nothing.
    #[error("the backup could not be written or verified, so nothing was deleted")]
    BackupFailed(String),
    /// The disk the write needed is full; nothing was written.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Logged where it is turned into a response; the client sees no internals.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every failing field, for 400 and 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            ApiError::RateLimited(_) | ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) | ApiError::BackupFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            ApiError::Internal(_) => ("an unexpected error occurred".to_owned(), Vec::new()),
            ApiError::BadRequest(_, errors) | ApiError::Invalid(_, errors) => {
                (self.to_string(), errors.clone())
            }
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            kind: "about:blank",
            title: title(status).to_owned(),
            status: status.as_u16(),
            detail,
            request_id: current_request_id(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) | ApiError::BackupFailed(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let status = self.status();
        let mut response = problem_response(status, &self.problem());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// RFC 9110's names, which renamed two that older libraries still use.
fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable Content",
        StatusCode::PAYLOAD_TOO_LARGE => "Content Too Large",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

/// Serialises any problem body with the problem+json media type.
pub fn problem_response(status: StatusCode, problem: &impl Serialize) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body,
    )
        .into_response()
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(errors) => ApiError::Invalid(errors.summary(), errors.into_vec()),
            ServiceError::NotFound(what) => ApiError::NotFound(what.to_owned()),
            ServiceError::Conflict(what) => ApiError::Conflict(what.to_owned()),
            ServiceError::BackupFailed(cause) => match cause.storage_fault() {
                Some(fault) => storage(
                    fault,
                    "the backup folder",
                    "no backup was written, so nothing was deleted",
                    &cause,
                ),
                None => ApiError::BackupFailed(crate::telemetry::errors::chain(&cause)),
            },
            ServiceError::Backup(cause) => match cause.storage_fault() {
                Some(fault) => storage(fault, "the backup folder", "no backup was written", &cause),
                None => ApiError::Internal(crate::telemetry::errors::chain(&cause)),
            },
            ServiceError::Store(cause) if let Some(fault) = cause.storage_fault() => {
                storage(fault, "the database", "nothing was written", &cause)
            }
            ServiceError::Store(cause) if cause.is_unavailable() => {
                tracing::warn!(error = %cause, "the database is unreachable");
                ApiError::Unavailable("the database is unreachable; retry shortly".into())
            }
            other @ (ServiceError::Store(_) | ServiceError::Randomness(_)) => {
                ApiError::Internal(crate::telemetry::errors::chain(&other))
            }
        }
    }
}

/// A write refused by its storage: `507` for a full disk, `503` for read-only or failing
/// storage; `place` names the storage (never a path), `outcome` what the client can rely on.
fn storage(
    fault: StorageFault,
    place: &str,
    outcome: &str,
    cause: &crate::store::StoreError,
) -> ApiError {
    tracing::error!(error = %crate::telemetry::errors::chain(cause), "{place} refused a write");
    match fault {
        StorageFault::Full => ApiError::InsufficientStorage(format!(
            "{place}'s disk is full: {outcome}; retry once space has been freed"
        )),
        StorageFault::NotWritable => ApiError::Unavailable(format!(
            "{place} cannot be written (read-only or failing storage): {outcome}; retry later"
        )),
    }
}
