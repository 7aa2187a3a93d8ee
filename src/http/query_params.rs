//! Query parameters, checked together so every bad one is reported at once: 400 for a value of
//! the wrong form, 422 for a well-formed value outside what is allowed.

use chrono::{DateTime, Utc};

use crate::{
    domain::{FieldError, FieldErrors},
    error::ApiError,
};

#[derive(Default)]
pub struct QueryErrors {
    malformed: FieldErrors,
    invalid: FieldErrors,
}

impl QueryErrors {
    /// The value has the wrong form (400).
    pub fn malformed(&mut self, field: &str, message: impl Into<String>) {
        self.malformed.push(field, message);
    }

    /// The value is well-formed but not allowed (422).
    pub fn invalid(&mut self, field: &str, message: impl Into<String>) {
        self.invalid.push(field, message);
    }

    /// `limit`: a whole number in `1..=max`, `default` when absent.
    pub fn limit(&mut self, raw: Option<&str>, default: u32, max: u32) -> u32 {
        match raw.map(|l| l.trim().parse::<u32>()) {
            None => default,
            Some(Ok(limit)) if (1..=max).contains(&limit) => limit,
            Some(Ok(_)) => {
                self.invalid("limit", format!("must be between 1 and {max}"));
                default
            }
            Some(Err(_)) => {
                self.malformed("limit", "must be a whole number");
                default
            }
        }
    }

    /// An RFC 3339 instant.
    pub fn timestamp(&mut self, field: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
        let raw = raw?;
        match DateTime::parse_from_rfc3339(raw.trim()) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                self.malformed(
                    field,
                    "must be an RFC 3339 date-time such as 2026-11-25T08:00:00Z",
                );
                None
            }
        }
    }

    /// A whole number read into a domain type by `parse`; `default` when absent, or when bad
    /// (the problem is recorded: not a number is `400`, out of range `422`).
    pub fn whole_number<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        default: T,
        parse: impl FnOnce(i64) -> Result<T, String>,
    ) -> T {
        match raw.map(|r| r.trim().parse::<i64>()) {
            None => default,
            Some(Ok(number)) => parse(number).unwrap_or_else(|message| {
                self.invalid(field, message);
                default
            }),
            Some(Err(_)) => {
                self.malformed(field, "must be a whole number");
                default
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if !self.malformed.is_empty() {
            let mut all: Vec<FieldError> = self.malformed.into_vec();
            all.extend(self.invalid.into_vec());
            let names: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
            let detail = format!("invalid query parameter: {}", names.join(", "));
            return Err(ApiError::BadRequest(detail, all));
        }
        if !self.invalid.is_empty() {
            return Err(ApiError::Invalid(
                self.invalid.summary(),
                self.invalid.into_vec(),
            ));
        }
        Ok(())
    }
}
