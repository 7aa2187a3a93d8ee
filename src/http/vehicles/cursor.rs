//! Opaque page cursors. Without `q` a listing is keyset-paginated on (entry time, id) in its
//! order; with `q` it follows the search ranking and the cursor is an offset. Each cursor
//! names its kind, so one cannot continue a different listing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::store::{ListOrder, VehicleCursor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCursor {
    Keyset(ListOrder, VehicleCursor),
    Ranked { offset: usize },
}

pub fn encode(cursor: PageCursor) -> String {
    let text = match cursor {
        PageCursor::Keyset(order, c) => format!("{}:{}:{}", tag(order), c.entry_ms, c.id),
        PageCursor::Ranked { offset } => format!("r:{offset}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

const MALFORMED: &str = "is not a cursor returned by this listing";

/// Decodes a cursor for a listing of the given kind (`None`: ranked by `q`).
pub fn decode(order: Option<ListOrder>, raw: &str) -> Result<PageCursor, &'static str> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| MALFORMED)?;
    let text = String::from_utf8(bytes).map_err(|_| MALFORMED)?;
    let parts: Vec<&str> = text.split(':').collect();
    let number = |s: &str| s.parse::<i64>().map_err(|_| MALFORMED);
    match (order, parts.as_slice()) {
        (None, ["r", offset]) => Ok(PageCursor::Ranked {
            offset: offset.parse().map_err(|_| MALFORMED)?,
        }),
        (Some(order), [t, entry_ms, id]) if *t == tag(order) => Ok(PageCursor::Keyset(
            order,
            VehicleCursor {
                entry_ms: number(entry_ms)?,
                id: number(id)?,
            },
        )),
        (_, ["r", _] | ["a" | "d", _, _]) => Err("belongs to a different listing (order or q)"),
        _ => Err(MALFORMED),
    }
}

fn tag(order: ListOrder) -> &'static str {
    match order {
        ListOrder::EntryDesc => "d",
        ListOrder::EntryAsc => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_order() -> impl Strategy<Value = ListOrder> {
        prop_oneof![Just(ListOrder::EntryDesc), Just(ListOrder::EntryAsc)]
    }

    proptest! {
        #[test]
        fn every_cursor_a_listing_hands_out_comes_back_as_it_was(
            order in any_order(), entry_ms in any::<i64>(), id in any::<i64>(), offset in any::<usize>()
        ) {
            let keyset = PageCursor::Keyset(order, VehicleCursor { entry_ms, id });
            prop_assert_eq!(decode(Some(order), &encode(keyset)), Ok(keyset));
            let ranked = PageCursor::Ranked { offset };
            prop_assert_eq!(decode(None, &encode(ranked)), Ok(ranked));
            // And never for another kind of listing.
            prop_assert!(decode(None, &encode(keyset)).is_err());
            prop_assert!(decode(Some(order), &encode(ranked)).is_err());
        }

        #[test]
        fn any_other_text_is_refused_without_a_panic(raw in "\\PC{0,40}", order in any_order()) {
            for listing in [Some(order), None] {
                if let Ok(cursor) = decode(listing, &raw) {
                    // Only text that is the encoding of that very cursor is accepted.
                    prop_assert_eq!(encode(cursor), raw.trim());
                }
            }
        }

        #[test]
        fn tampered_cursors_are_refused(entry_ms in any::<i64>(), id in any::<i64>(), junk in "[a-z:]{1,4}") {
            let text = format!("d:{entry_ms}:{id}{junk}");
            prop_assert!(decode(Some(ListOrder::EntryDesc), &URL_SAFE_NO_PAD.encode(text)).is_err());
        }
    }

    #[test]
    fn cursors_round_trip_and_stay_with_their_listing() {
        let c = PageCursor::Keyset(
            ListOrder::EntryDesc,
            VehicleCursor {
                entry_ms: 1_764_057_600_000,
                id: 7,
            },
        );
        assert_eq!(decode(Some(ListOrder::EntryDesc), &encode(c)), Ok(c));
        assert!(decode(Some(ListOrder::EntryAsc), &encode(c)).is_err());
        assert!(decode(None, &encode(c)).is_err());
        let r = PageCursor::Ranked { offset: 40 };
        assert_eq!(decode(None, &encode(r)), Ok(r));
        assert!(decode(Some(ListOrder::EntryDesc), &encode(r)).is_err());
        assert!(decode(None, "not a cursor!").is_err());
        assert!(decode(Some(ListOrder::EntryAsc), &URL_SAFE_NO_PAD.encode("a:1")).is_err());
    }
}
