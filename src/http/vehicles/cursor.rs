//! Opaque page cursors: the position after a page's last vehicle, tied to the listing order.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::store::{ListOrder, VehicleCursor};

pub fn encode(order: ListOrder, cursor: VehicleCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", tag(order), cursor.entry_ms, cursor.id))
}

/// `Err` explains what is wrong without echoing the value.
pub fn decode(order: ListOrder, raw: &str) -> Result<VehicleCursor, &'static str> {
    const MALFORMED: &str = "is not a cursor returned by this listing";
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| MALFORMED)?;
    let text = String::from_utf8(bytes).map_err(|_| MALFORMED)?;
    let mut parts = text.split(':');
    let (Some(t), Some(entry_ms), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    if t != tag(order) {
        return Err("belongs to a listing in the other order");
    }
    Ok(VehicleCursor {
        entry_ms: entry_ms.parse().map_err(|_| MALFORMED)?,
        id: id.parse().map_err(|_| MALFORMED)?,
    })
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

    #[test]
    fn cursors_round_trip_and_keep_their_order() {
        let c = VehicleCursor {
            entry_ms: 1_764_057_600_000,
            id: 7,
        };
        assert_eq!(
            decode(ListOrder::EntryDesc, &encode(ListOrder::EntryDesc, c)),
            Ok(c)
        );
        assert!(decode(ListOrder::EntryAsc, &encode(ListOrder::EntryDesc, c)).is_err());
        assert!(decode(ListOrder::EntryAsc, "not a cursor!").is_err());
        assert!(decode(ListOrder::EntryAsc, &URL_SAFE_NO_PAD.encode("a:1")).is_err());
    }
}
