//! Turns listing parameters into a store filter, reporting every bad parameter at once:
//! 400 for a value of the wrong form, 422 for a well-formed value outside what is allowed.

use chrono::{DateTime, Utc};

use super::{cursor, dto::ListParams};
use crate::{
    domain::{FieldError, FieldErrors, SearchTerms},
    error::ApiError,
    store::{ListOrder, VehicleFilter},
};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
const MAX_QUERY_CHARS: usize = 100;

pub fn parse(params: &ListParams) -> Result<VehicleFilter, ApiError> {
    let mut malformed = FieldErrors::default();
    let mut invalid = FieldErrors::default();

    let limit = match params.limit.as_deref().map(|l| l.trim().parse::<u32>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
        Some(Ok(_)) => {
            invalid.push("limit", format!("must be between 1 and {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
        Some(Err(_)) => {
            malformed.push("limit", "must be a whole number");
            DEFAULT_LIMIT
        }
    };
    let order = match params.order.as_deref() {
        None | Some("entry_desc") => ListOrder::EntryDesc,
        Some("entry_asc") => ListOrder::EntryAsc,
        Some(_) => {
            invalid.push("order", "must be entry_desc or entry_asc");
            ListOrder::EntryDesc
        }
    };
    let after = params.cursor.as_deref().and_then(|raw| {
        malformed.take("cursor", cursor::decode(order, raw).map_err(str::to_owned))
    });
    let entered_after = params
        .entered_after
        .as_deref()
        .and_then(|raw| malformed.take("entered_after", timestamp(raw)));
    let entered_before = params
        .entered_before
        .as_deref()
        .and_then(|raw| malformed.take("entered_before", timestamp(raw)));
    let q = params.q.as_deref().unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        invalid.push("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
    }

    if !malformed.is_empty() {
        let mut all: Vec<FieldError> = malformed.into_vec();
        all.extend(invalid.into_vec());
        let detail = format!(
            "invalid query parameter: {}",
            all.iter()
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(ApiError::BadRequest(detail, all));
    }
    if !invalid.is_empty() {
        return Err(ApiError::Invalid(invalid.summary(), invalid.into_vec()));
    }
    Ok(VehicleFilter {
        limit,
        order,
        after,
        entered_after,
        entered_before,
        text: SearchTerms::parse(q),
    })
}

fn timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 date-time such as 2026-11-25T08:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut ListParams)) -> ListParams {
        let mut p = ListParams::default();
        f(&mut p);
        p
    }

    #[test]
    fn defaults_apply() {
        let filter = parse(&ListParams::default()).unwrap();
        assert_eq!(filter.limit, 50);
        assert_eq!(filter.order, ListOrder::EntryDesc);
        assert!(filter.text.is_none());
    }

    #[test]
    fn malformed_values_are_400_and_out_of_range_values_422() {
        let bad_form = parse(&params(|p| p.limit = Some("ten".into()))).unwrap_err();
        assert_eq!(bad_form.status(), 400);
        let bad_range = parse(&params(|p| p.limit = Some("501".into()))).unwrap_err();
        assert_eq!(bad_range.status(), 422);
        let bad_order = parse(&params(|p| p.order = Some("plate".into()))).unwrap_err();
        assert_eq!(bad_order.status(), 422);
    }
}
