//! Turns listing parameters into a store filter.

use super::{cursor, dto::ListParams};
use crate::{
    domain::SearchTerms,
    error::ApiError,
    http::query_params::QueryErrors,
    store::{ListOrder, VehicleFilter},
};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
const MAX_QUERY_CHARS: usize = 100;

pub fn parse(params: &ListParams) -> Result<VehicleFilter, ApiError> {
    let mut errors = QueryErrors::default();
    let limit = errors.limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT);
    let order = match params.order.as_deref() {
        None | Some("entry_desc") => ListOrder::EntryDesc,
        Some("entry_asc") => ListOrder::EntryAsc,
        Some(_) => {
            errors.invalid("order", "must be entry_desc or entry_asc");
            ListOrder::EntryDesc
        }
    };
    let after = params
        .cursor
        .as_deref()
        .and_then(|raw| match cursor::decode(order, raw) {
            Ok(cursor) => Some(cursor),
            Err(message) => {
                errors.malformed("cursor", message);
                None
            }
        });
    let entered_after = errors.timestamp("entered_after", params.entered_after.as_deref());
    let entered_before = errors.timestamp("entered_before", params.entered_before.as_deref());
    let q = params.q.as_deref().unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        errors.invalid("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
    }
    errors.finish()?;
    Ok(VehicleFilter {
        limit,
        order,
        after,
        entered_after,
        entered_before,
        text: SearchTerms::parse(q),
    })
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
