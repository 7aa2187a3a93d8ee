//! Extractors whose rejections are problem+json like every other error.
//!
//! Serde's own messages can quote the rejected value (`invalid type: string "Ada"`), and
//! values may be personal data, so these report the field and the kind of fault only.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::{
    domain::{FieldErrors, RawField},
    error::ApiError,
    http::BODY_LIMIT_BYTES,
};

/// A JSON request body: 415 without a JSON content type, 413 over the body limit, 400 when it
/// is not JSON, 422 when it is JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The limit is applied here, where bodies are read, rather than by a layer in front
        // of every route: no other route reads a body, and a layer costs every request.
        let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT_BYTES)
            .await
            .map_err(body_error)?;
        // Syntax first, over the whole body: garbage after a valid value is malformed JSON
        // (400), even when the value itself would also fail the shape check (422).
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            return Err(syntax_error(&error));
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(JsonBody(value)),
            Err(error) => Err(json_error(&error)),
        }
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_error(error: axum::Error) -> ApiError {
    let error = error.into_inner();
    if error.is::<http_body_util::LengthLimitError>() {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest("the request body could not be read".into(), Vec::new())
    }
}

fn json_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = error.inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => syntax_error(inner),
        Category::Data => {
            let message = inner.to_string();
            let path = error.path().to_string();
            let (field, rule) = if let Some(name) = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
            {
                (name.to_owned(), "is not a known field")
            } else if message.starts_with("invalid type") {
                (path, "has the wrong type")
            } else {
                (path, "has an invalid value")
            };
            let field = if field == "." {
                "body".to_owned()
            } else {
                field
            };
            let errors = FieldErrors::single(&field, rule);
            ApiError::Invalid(errors.summary(), errors.into_vec())
        }
    }
}

fn syntax_error(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(
        format!(
            "the request body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ),
        Vec::new(),
    )
}

/// A JSON value where text is expected. Anything else is kept as "not text" rather than
/// failing deserialisation, so that a wrong type is reported with every other bad field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonText {
    Text(String),
    NotText,
}

impl JsonText {
    pub fn field(value: &Option<JsonText>) -> RawField<'_> {
        match value {
            None => RawField::Absent,
            Some(JsonText::Text(text)) => RawField::Text(text),
            Some(JsonText::NotText) => RawField::NotText,
        }
    }
}

impl<'de> serde::Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => JsonText::Text(text),
            _ => JsonText::NotText,
        })
    }
}

/// Query parameters as plain strings: parsing and range checks are the handler's, so that
/// every failing parameter is reported at once.
pub struct RawQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for RawQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(RawQuery)
            .map_err(|_| ApiError::BadRequest("the query string is malformed".into(), Vec::new()))
    }
}

/// The `{plate}` path segment, as sent (the service normalises it).
pub struct PlatePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PlatePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(plate)| PlatePath(plate))
            .map_err(|_| ApiError::BadRequest("the path is malformed".into(), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let accepts = |v: &'static str| is_json(Some(&header::HeaderValue::from_static(v)));
        assert!(accepts("application/json"));
        assert!(accepts("Application/JSON; charset=utf-8"));
        assert!(accepts("application/merge-patch+json"));
        assert!(!accepts("text/plain"));
        assert!(!is_json(None));
    }
}
