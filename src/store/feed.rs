//! The change feed as the storage layer offers it: every committed change leaves a record, in
//! the same transaction, that readers follow in commit order.

use chrono::{DateTime, Utc};

use crate::domain::Vehicle;

/// A place in the feed. Changes are read from a position up to a frontier; everything before
/// the frontier has been read. On SQLite it is a change's sequence number (one writer at a
/// time: sequence order is commit order); on PostgreSQL the id of the transaction that wrote
/// it, read only once every transaction below it has ended, so that a later commit of an
/// older transaction can never be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FeedPosition(pub i64);

/// What changed. Records carry kinds and ids, never personal data: a reader reads the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// These vehicles were registered, changed or deleted.
    Vehicles(Vec<i64>),
    Retention,
    Keys,
    Capacity,
    Watchlist,
}

impl ChangeKind {
    /// The record's `kind` and `ids` columns.
    pub fn to_record(&self) -> (&'static str, Option<String>) {
        match self {
            ChangeKind::Vehicles(ids) => ("vehicles", Some(pack_ids(ids))),
            ChangeKind::Retention => ("retention", None),
            ChangeKind::Keys => ("keys", None),
            ChangeKind::Capacity => ("capacity", None),
            ChangeKind::Watchlist => ("watchlist", None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub position: FeedPosition,
    pub kind: ChangeKind,
    /// When the change was written, for the lag metric.
    pub at: DateTime<Utc>,
}

/// Changes read from a position, and the frontier they reach.
#[derive(Debug, Clone, Default)]
pub struct FeedBatch {
    pub changes: Vec<Change>,
    /// Every change before this position has been returned now or earlier.
    pub frontier: FeedPosition,
    /// When every change is of vehicles this process has just written: their rows as those
    /// changes committed them, so the reader need not read them back. `None`: read them.
    pub committed: Option<Vec<Vehicle>>,
}

/// A write and the feed position of its change: once the feed has been applied past it, the
/// write shows in every copy of this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed<T> {
    pub value: T,
    pub position: FeedPosition,
}

impl<T> Committed<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Committed<U> {
        Committed {
            value: f(self.value),
            position: self.position,
        }
    }
}

/// Packs ids for a `vehicles` change record.
pub fn pack_ids(ids: &[i64]) -> String {
    let mut packed = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            packed.push(',');
        }
        packed.push_str(&id.to_string());
    }
    packed
}

/// Reads a change record back; `None` for a kind this version does not know.
pub fn unpack(kind: &str, ids: Option<&str>) -> Option<ChangeKind> {
    match kind {
        "vehicles" => Some(ChangeKind::Vehicles(
            ids.unwrap_or_default()
                .split(',')
                .filter_map(|id| id.parse().ok())
                .collect(),
        )),
        "retention" => Some(ChangeKind::Retention),
        "keys" => Some(ChangeKind::Keys),
        "capacity" => Some(ChangeKind::Capacity),
        "watchlist" => Some(ChangeKind::Watchlist),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicle_ids_round_trip_through_a_record() {
        let ids = [3, 1, 4_000_000_000, 5];
        assert_eq!(
            unpack("vehicles", Some(&pack_ids(&ids))),
            Some(ChangeKind::Vehicles(ids.to_vec()))
        );
        assert_eq!(unpack("keys", None), Some(ChangeKind::Keys));
        assert_eq!(unpack("capacity", None), Some(ChangeKind::Capacity));
        assert_eq!(unpack("holds", None), None);
    }
}
