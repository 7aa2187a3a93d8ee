//! The index's slots in (entry time, id) order: "latest first", keyset pages and expiry.
//!
//! Only the slots are kept, four bytes a vehicle; a slot's key is read from its entry, which
//! holds both numbers already. A `BTreeMap<(i64, i64), u32>` kept the key beside every slot:
//! 21 bytes a vehicle with its nodes full, a seventh of the index at a million vehicles
//! (`bench/README.md`). The slots sit in sorted runs of at most `RUN`, with each run's first key
//! kept beside it, so that finding a run reads no entry; within a run a binary search reads
//! about nine.

use std::ops::Bound;

/// A key: entry time (ms) and id, unique since ids are.
pub type Key = (i64, i64);

/// Slots a run holds at most: an insertion moves at most this many, and a run's search reads
/// about log2 of it entries.
const RUN: usize = 512;

pub struct EntryOrder {
    /// Sorted runs of slots, none empty, each after the one before.
    runs: Vec<Vec<u32>>,
    /// The key of each run's first slot.
    firsts: Vec<Key>,
    /// `RUN`, smaller in tests so that runs split and empty with few vehicles.
    run: usize,
}

impl Default for EntryOrder {
    fn default() -> Self {
        Self::with_run(RUN)
    }
}

/// A place between slots: run and index within it.
type Position = (usize, usize);

impl EntryOrder {
    fn with_run(run: usize) -> Self {
        Self {
            runs: Vec::new(),
            firsts: Vec::new(),
            run,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Adds `slot`, whose key is `key`; `key_of` gives the key of any slot already held.
    pub fn insert(&mut self, key: Key, slot: u32, key_of: impl Fn(u32) -> Key) {
        if self.runs.is_empty() {
            self.runs.push(self.new_run(slot));
            self.firsts.push(key);
            return;
        }
        let mut r = self.firsts.partition_point(|first| *first <= key).max(1) - 1;
        let mut at = self.runs[r].partition_point(|&s| key_of(s) < key);
        if self.runs[r].len() == self.run {
            if r + 1 == self.runs.len() && at == self.run {
                // Appended after the newest vehicle, the usual case: a new run, leaving the
                // full one full.
                self.runs.push(self.new_run(slot));
                self.firsts.push(key);
                return;
            }
            let tail = self.runs[r].split_off(self.run / 2);
            self.firsts.insert(r + 1, key_of(tail[0]));
            self.runs.insert(r + 1, tail);
            if at > self.run / 2 {
                r += 1;
                at -= self.run / 2;
            }
        }
        self.runs[r].insert(at, slot);
        if at == 0 {
            self.firsts[r] = key;
        }
    }

    /// Takes out `slot`, whose key is `key`, while its entry is still there; false if it was
    /// not held.
    pub fn remove(&mut self, key: Key, slot: u32, key_of: impl Fn(u32) -> Key) -> bool {
        let (r, at) = self.position(|k| k < key, &key_of);
        if self.runs.get(r).and_then(|run| run.get(at)) != Some(&slot) {
            return false;
        }
        let run = &mut self.runs[r];
        run.remove(at);
        if run.is_empty() {
            self.runs.remove(r);
            self.firsts.remove(r);
        } else if at == 0 {
            self.firsts[r] = key_of(run[0]);
        }
        true
    }

    /// The slot with the earliest key.
    pub fn first(&self) -> Option<u32> {
        self.runs.first().and_then(|run| run.first()).copied()
    }

    /// Every slot, earliest key first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.runs.iter().flatten().copied()
    }

    /// The slots with keys within the bounds, earliest first (reversible).
    pub fn range(
        &self,
        lower: Bound<Key>,
        upper: Bound<Key>,
        key_of: impl Fn(u32) -> Key,
    ) -> impl DoubleEndedIterator<Item = u32> + '_ {
        let (start, end) = self.positions(lower, upper, &key_of);
        let (r0, i0) = start;
        let (r1, i1) = end;
        let last = if i1 == 0 { r1 } else { r1 + 1 };
        self.runs
            .get(r0..last.max(r0))
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(k, run)| {
                let from = if k == 0 { i0 } else { 0 };
                let to = if r0 + k == r1 { i1 } else { run.len() };
                run.get(from..to.max(from))
                    .unwrap_or_default()
                    .iter()
                    .copied()
            })
    }

    /// How many slots have keys within the bounds, without visiting them.
    pub fn count(
        &self,
        lower: Bound<Key>,
        upper: Bound<Key>,
        key_of: impl Fn(u32) -> Key,
    ) -> usize {
        let ((r0, i0), (r1, i1)) = self.positions(lower, upper, &key_of);
        if (r0, i0) >= (r1, i1) {
            return 0;
        }
        // Runs r0 to r1 (short of it), less the start of r0, plus the start of r1.
        self.runs[r0..r1].iter().map(Vec::len).sum::<usize>() + i1 - i0
    }

    /// Repacks the runs full, each in an allocation of its exact size: after a bulk load.
    pub fn shrink(&mut self, key_of: impl Fn(u32) -> Key) {
        let all: Vec<u32> = self.iter().collect();
        self.runs = all.chunks(self.run).map(<[u32]>::to_vec).collect();
        self.runs.shrink_to_fit();
        self.firsts = self.runs.iter().map(|run| key_of(run[0])).collect();
    }

    fn new_run(&self, slot: u32) -> Vec<u32> {
        let mut run = Vec::with_capacity(self.run);
        run.push(slot);
        run
    }

    /// Where the bounds fall: the first slot within them, and the place after the last.
    fn positions(
        &self,
        lower: Bound<Key>,
        upper: Bound<Key>,
        key_of: &impl Fn(u32) -> Key,
    ) -> (Position, Position) {
        let start = match lower {
            Bound::Unbounded => (0, 0),
            Bound::Included(l) => self.position(|k| k < l, key_of),
            Bound::Excluded(l) => self.position(|k| k <= l, key_of),
        };
        let end = match upper {
            Bound::Unbounded => (self.runs.len(), 0),
            Bound::Included(u) => self.position(|k| k <= u, key_of),
            Bound::Excluded(u) => self.position(|k| k < u, key_of),
        };
        (start, end)
    }

    /// The first place whose slot's key is not `before` (`before` holds for a prefix of the
    /// keys), as a run and an index within it short of the run's end.
    fn position(&self, before: impl Fn(Key) -> bool, key_of: &impl Fn(u32) -> Key) -> Position {
        let r = self.firsts.partition_point(|&first| before(first));
        if r == 0 {
            return (0, 0);
        }
        let at = self.runs[r - 1].partition_point(|&s| before(key_of(s)));
        if at == self.runs[r - 1].len() {
            (r, 0)
        } else {
            (r - 1, at)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Insert(i64, i64),
        Remove(usize),
    }

    /// Keys from a small space, so that bounds often fall on held keys.
    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0i64..10, 0i64..30).prop_map(|(at, id)| Step::Insert(at, id)),
            1 => any::<usize>().prop_map(Step::Remove),
        ]
    }

    fn bound() -> impl Strategy<Value = Bound<Key>> {
        prop_oneof![
            Just(Bound::Unbounded),
            (-1i64..11, -1i64..31).prop_map(Bound::Included),
            (-1i64..11, -1i64..31).prop_map(Bound::Excluded),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any inserts and removals, with runs of four, read back in the order, ranges and
        /// counts a `BTreeMap` of the keys gives.
        #[test]
        fn it_orders_as_a_map_of_the_keys_does(
            steps in proptest::collection::vec(step(), 0..300),
            shrink_at in 0usize..300,
            ranges in proptest::collection::vec((bound(), bound()), 1..8),
        ) {
            // Slot n holds key keys[n]; removed slots are not reused here.
            let mut keys: Vec<Key> = Vec::new();
            let mut model: BTreeMap<Key, u32> = BTreeMap::new();
            let mut order = EntryOrder::with_run(4);
            for (n, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Insert(at, id) => {
                        let key = (at, id);
                        if model.contains_key(&key) {
                            continue;
                        }
                        let slot = u32::try_from(keys.len()).unwrap();
                        keys.push(key);
                        let keys = &keys;
                        order.insert(key, slot, |s| keys[s as usize]);
                        model.insert(key, slot);
                    }
                    Step::Remove(i) => {
                        if model.is_empty() {
                            continue;
                        }
                        let (&key, &slot) = model.iter().nth(i % model.len()).unwrap();
                        let keys = &keys;
                        prop_assert!(order.remove(key, slot, |s| keys[s as usize]));
                        prop_assert!(!order.remove(key, slot, |s| keys[s as usize]));
                        model.remove(&key);
                    }
                }
                if n == shrink_at {
                    let keys = &keys;
                    order.shrink(|s| keys[s as usize]);
                }
            }
            let keys = &keys;
            let key_of = |s: u32| keys[s as usize];
            prop_assert_eq!(order.len(), model.len());
            prop_assert_eq!(order.iter().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
            prop_assert_eq!(order.first(), model.values().next().copied());
            for (lower, upper) in ranges {
                let valid = match (lower, upper) {
                    (Bound::Excluded(l), Bound::Excluded(u)) => l < u,
                    (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => l <= u,
                    _ => true,
                };
                // A `BTreeMap` panics on a range whose bounds cross; the order gives nothing.
                let expected: Vec<u32> = if valid {
                    model.range((lower, upper)).map(|(_, &s)| s).collect()
                } else {
                    Vec::new()
                };
                prop_assert_eq!(order.range(lower, upper, key_of).collect::<Vec<_>>(), expected.clone());
                prop_assert_eq!(
                    order.range(lower, upper, key_of).rev().collect::<Vec<_>>(),
                    expected.iter().rev().copied().collect::<Vec<_>>()
                );
                prop_assert_eq!(order.count(lower, upper, key_of), expected.len());
            }
        }
    }

    #[test]
    fn appending_in_order_leaves_every_run_but_the_last_full() {
        let mut order = EntryOrder::with_run(4);
        let keys: Vec<Key> = (0..10).map(|n| (n, n)).collect();
        for (slot, &key) in keys.iter().enumerate() {
            order.insert(key, slot as u32, |s| keys[s as usize]);
        }
        let lengths: Vec<usize> = order.runs.iter().map(Vec::len).collect();
        assert_eq!(lengths, [4, 4, 2]);
        assert_eq!(order.firsts, [(0, 0), (4, 4), (8, 8)]);
    }
}
