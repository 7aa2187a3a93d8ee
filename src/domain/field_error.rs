//! Validation failures, collected per field so a client learns everything wrong at once.

use serde::Serialize;

/// A field as the client sent it: absent (or null), text, or something that is not text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RawField<'a> {
    #[default]
    Absent,
    Text(&'a str),
    NotText,
}

impl<'a> RawField<'a> {
    pub fn required(self) -> Result<&'a str, String> {
        match self {
            RawField::Absent => Err("is required".into()),
            RawField::Text(text) => Ok(text),
            RawField::NotText => Err("must be a string".into()),
        }
    }

    pub fn optional(self) -> Result<Option<&'a str>, String> {
        match self {
            RawField::Absent => Ok(None),
            RawField::Text(text) => Ok(Some(text)),
            RawField::NotText => Err("must be a string".into()),
        }
    }
}

/// One failing field. The message describes the rule, never the rejected value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every failing field of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.push(field, message);
        errors
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records the error of a failed parse and returns its value, if any, so that parsing
    /// can go on and report every field.
    pub fn take<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.push(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(value)` when nothing failed.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }

    /// A one-line summary for the problem's `detail`.
    pub fn summary(&self) -> String {
        match self.0.as_slice() {
            [only] => format!("{} {}", only.field, only.message),
            many => format!("{} fields are invalid", many.len()),
        }
    }
}
