//! Turns listing parameters into either a keyset listing or a ranked search.

use super::{
    cursor::{self, PageCursor},
    dto::ListParams,
};
use crate::{
    error::ApiError,
    http::query_params::QueryErrors,
    search::{Query, Window},
    store::{ListOrder, VehicleFilter},
};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
pub const MAX_QUERY_CHARS: usize = 100;

/// What a listing request asks for.
#[derive(Debug)]
pub enum Listing {
    /// Every vehicle in entry order, keyset-paginated.
    Keyset(VehicleFilter),
    /// Vehicles matching `q`, in search-rank order (the live search's order).
    Ranked {
        query: Query,
        window: Window,
        offset: usize,
        limit: u32,
    },
}

pub fn parse(params: &ListParams) -> Result<Listing, ApiError> {
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
    let q = params.q.as_deref().unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        errors.invalid("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
    }
    let query = Query::parse(q);
    let kind = if query.is_some() { None } else { Some(order) };
    let cursor = params
        .cursor
        .as_deref()
        .and_then(|raw| match cursor::decode(kind, raw) {
            Ok(cursor) => Some(cursor),
            Err(message) => {
                errors.malformed("cursor", message);
                None
            }
        });
    let entered_after = errors.timestamp("entered_after", params.entered_after.as_deref());
    let entered_before = errors.timestamp("entered_before", params.entered_before.as_deref());
    errors.finish()?;
    Ok(match query {
        Some(query) => Listing::Ranked {
            query,
            window: Window {
                after_ms: entered_after.map(|t| t.timestamp_millis()),
                before_ms: entered_before.map(|t| t.timestamp_millis()),
            },
            offset: match cursor {
                Some(PageCursor::Ranked { offset }) => offset,
                _ => 0,
            },
            limit,
        },
        None => Listing::Keyset(VehicleFilter {
            limit,
            order,
            after: match cursor {
                Some(PageCursor::Keyset(_, after)) => Some(after),
                _ => None,
            },
            entered_after,
            entered_before,
        }),
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
        let Listing::Keyset(filter) = parse(&ListParams::default()).unwrap() else {
            panic!("an empty q lists in entry order");
        };
        assert_eq!(filter.limit, 50);
        assert_eq!(filter.order, ListOrder::EntryDesc);
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

    #[test]
    fn a_query_switches_to_ranked_listing() {
        assert!(matches!(
            parse(&params(|p| p.q = Some("ab1".into()))).unwrap(),
            Listing::Ranked { .. }
        ));
        assert!(matches!(
            parse(&params(|p| p.q = Some("  ".into()))).unwrap(),
            Listing::Keyset(_)
        ));
    }
}
