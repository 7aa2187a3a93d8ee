//! Registrations this process has just committed, handed to its own change-feed reader. The
//! reader would otherwise read each batch's change record and then its rows back from the
//! database — two trips to a reader connection's thread per batch, on the core that serves
//! the requests — to learn what the writer already holds. It takes them from here when they
//! are exactly the next changes it has to apply; anything else (a change made by another
//! path or process in between, a reader that fell behind) it reads from the database as
//! before, so the hand-off can only save work, never reorder or skip it.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Utc};

use crate::{
    domain::Vehicle,
    store::{Change, ChangeKind, FeedBatch, FeedPosition},
};

/// Batches kept for the reader at most: when it falls this far behind it reads the database,
/// and the oldest are dropped.
const KEPT: usize = 256;

#[derive(Default)]
pub struct Handoff {
    committed: Mutex<VecDeque<Handed>>,
}

struct Handed {
    position: FeedPosition,
    at: DateTime<Utc>,
    vehicles: Vec<Vehicle>,
}

impl Handoff {
    /// Hands over a committed batch: its change's position and the rows it wrote.
    pub fn hand(&self, position: FeedPosition, at: DateTime<Utc>, vehicles: Vec<Vehicle>) {
        let mut committed = self.lock();
        committed.push_back(Handed {
            position,
            at,
            vehicles,
        });
        if committed.len() > KEPT {
            committed.pop_front();
        }
    }

    /// The changes from `from` on, while they follow each other here (at most `limit`), with
    /// their rows; `None` when the change at `from` was not handed over.
    pub fn take(&self, from: FeedPosition, limit: u32) -> Option<FeedBatch> {
        let mut committed = self.lock();
        // Read from the database already.
        while committed.front().is_some_and(|h| h.position < from) {
            committed.pop_front();
        }
        let mut next = from;
        let mut changes = Vec::new();
        let mut rows = Vec::new();
        while changes.len() < limit as usize {
            let Some(handed) = committed.pop_front_if(|h| h.position == next) else {
                break;
            };
            changes.push(Change {
                position: handed.position,
                kind: ChangeKind::Vehicles(handed.vehicles.iter().map(|v| v.id).collect()),
                at: handed.at,
            });
            rows.extend(handed.vehicles);
            next = FeedPosition(next.0 + 1);
        }
        (!changes.is_empty()).then_some(FeedBatch {
            changes,
            frontier: next,
            committed: Some(rows),
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Handed>> {
        // Nothing here can be left half-done by a panic: a poisoned lock is still consistent.
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vehicle(id: i64) -> Vehicle {
        Vehicle {
            id,
            ..Vehicle::sample()
        }
    }

    fn ids(batch: &FeedBatch) -> Vec<i64> {
        batch
            .changes
            .iter()
            .flat_map(|c| match &c.kind {
                ChangeKind::Vehicles(ids) => ids.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn handed(positions: &[(i64, &[i64])]) -> Handoff {
        let handoff = Handoff::default();
        for (position, vehicles) in positions {
            let rows = vehicles.iter().map(|&id| vehicle(id)).collect();
            handoff.hand(FeedPosition(*position), Utc::now(), rows);
        }
        handoff
    }

    #[test]
    fn batches_that_follow_the_reader_are_taken_with_their_rows() {
        let handoff = handed(&[(5, &[1, 2]), (6, &[3])]);
        let batch = handoff.take(FeedPosition(5), 100).expect("handed over");
        assert_eq!(ids(&batch), [1, 2, 3]);
        assert_eq!(
            batch
                .changes
                .iter()
                .map(|c| c.position.0)
                .collect::<Vec<_>>(),
            [5, 6]
        );
        assert_eq!(batch.frontier, FeedPosition(7));
        let rows: Vec<i64> = batch.committed.unwrap().iter().map(|v| v.id).collect();
        assert_eq!(rows, [1, 2, 3]);
        assert!(handoff.take(FeedPosition(7), 100).is_none(), "taken once");
    }

    #[test]
    fn a_change_not_handed_over_stops_the_taking() {
        // Position 6 was written by another path or process: it is read from the database.
        let handoff = handed(&[(5, &[1]), (7, &[2])]);
        let first = handoff.take(FeedPosition(5), 100).expect("handed over");
        assert_eq!(first.frontier, FeedPosition(6));
        assert!(handoff.take(FeedPosition(6), 100).is_none());
        // Once the reader has read past it, what it read already is dropped.
        assert!(handoff.take(FeedPosition(8), 100).is_none());
        assert!(handoff.lock().is_empty());
    }

    #[test]
    fn a_reader_ahead_of_the_handoff_drops_what_it_read_and_takes_the_rest() {
        let handoff = handed(&[(5, &[1]), (6, &[2]), (7, &[3])]);
        let batch = handoff.take(FeedPosition(6), 100).expect("handed over");
        assert_eq!(ids(&batch), [2, 3]);
    }

    #[test]
    fn at_most_the_limit_is_taken_and_the_rest_waits() {
        let handoff = handed(&[(5, &[1]), (6, &[2]), (7, &[3])]);
        let batch = handoff.take(FeedPosition(5), 2).expect("handed over");
        assert_eq!(ids(&batch), [1, 2]);
        assert_eq!(batch.frontier, FeedPosition(7));
        assert_eq!(ids(&handoff.take(FeedPosition(7), 2).unwrap()), [3]);
    }

    #[test]
    fn a_reader_that_stops_taking_leaves_a_bounded_handoff() {
        let handoff = Handoff::default();
        for position in 0..(KEPT as i64 + 10) {
            handoff.hand(FeedPosition(position), Utc::now(), vec![vehicle(position)]);
        }
        assert_eq!(handoff.lock().len(), KEPT);
        assert!(
            handoff.take(FeedPosition(0), 10).is_none(),
            "the oldest were dropped: read from the database"
        );
    }
}
