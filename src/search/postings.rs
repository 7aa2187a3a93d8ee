//! One trigram's posting list: the slots holding it, each stored as its difference from the
//! one before in a variable number of bytes, and runs of consecutive slots as their length.
//!
//! At a million vehicles the lists held 26 postings a vehicle; as `u32`s they were the largest
//! part of the index (104 bytes a vehicle, measured). Slots are handed out in the order
//! vehicles arrive, so a list is nearly always ascending and the differences small: a common
//! trigram's neighbours are a few slots apart (one byte), a rare one's a few thousand (two).
//! A slot reused after a removal may come before the last one, so differences are signed
//! (zig-zag encoded). A trigram nearly every vehicle holds (a country code's digits, say) has
//! every slot in its list, a byte each; a run of them is kept as a marker and its length.
//! Lists are only ever read from the start, which is all a delta encoding allows.

/// Seven bits of a code per byte, the high bit set on every byte but the last (LEB128).
const MORE: u8 = 0x80;

/// The code that opens a run: the next code is how many slots follow, each one after the
/// one before. A difference `d` is written as `zigzag(d) + 1`, so no difference is this.
const RUN: u64 = 0;

/// The code of a difference of one: a slot right after the one before.
const STEP: u64 = 3;

/// Zig-zag: small differences of either sign become small unsigned numbers (0, -1, 1, -2, …
/// become 0, 1, 2, 3, …), so that they take few bytes.
pub(super) fn zigzag(delta: i64) -> u64 {
    ((delta << 1) ^ (delta >> 63)) as u64
}

pub(super) fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

/// What the list ends with, which the next slot may extend.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum Tail {
    #[default]
    Other,
    /// A single difference of one (`STEP`, its last byte).
    Step,
    /// A run, whose length is written from this byte on.
    Run { length_at: u32 },
}

#[derive(Default, Clone)]
pub struct Postings {
    bytes: Vec<u8>,
    len: u32,
    /// The last slot pushed, which the next difference is taken from.
    last: u32,
    tail: Tail,
}

impl Postings {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, slot: u32) {
        let delta = i64::from(slot) - i64::from(self.last);
        if delta == 1 {
            match self.tail {
                // Two in a row: the step becomes a run of two.
                Tail::Step => {
                    self.bytes.pop();
                    self.write(RUN);
                    let length_at = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
                    self.write(2);
                    self.tail = Tail::Run { length_at };
                }
                Tail::Run { length_at } => {
                    let mut at = length_at as usize;
                    let length = read(&self.bytes, &mut at).unwrap_or(0);
                    self.bytes.truncate(length_at as usize);
                    self.write(length + 1);
                }
                Tail::Other => {
                    self.write(STEP);
                    self.tail = Tail::Step;
                }
            }
        } else {
            self.write(zigzag(delta) + 1);
            self.tail = Tail::Other;
        }
        self.last = slot;
        self.len += 1;
    }

    fn write(&mut self, mut code: u64) {
        while code >= u64::from(MORE) {
            self.bytes.push((code as u8) | MORE);
            code >>= 7;
        }
        self.bytes.push(code as u8);
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            at: 0,
            last: 0,
            run_left: 0,
        }
    }

    /// Appends every slot to `out`.
    pub fn decode_into(&self, out: &mut Vec<u32>) {
        out.reserve(self.len());
        out.extend(self.iter());
    }

    /// Keeps only the slots `keep` accepts, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let mut kept = Self::default();
        for slot in self.iter().filter(|&slot| keep(slot)) {
            kept.push(slot);
        }
        *self = kept;
    }

    /// Gives back spare room. A copy into an allocation of the exact size rather than
    /// `shrink_to_fit`: the allocator leaves a block in place when it shrinks by less than
    /// half, so the room would stay taken.
    pub fn shrink(&mut self) {
        if self.bytes.capacity() > self.bytes.len() {
            self.bytes = self.bytes.as_slice().to_vec();
        }
    }
}

/// Reads the code at `*at` and moves past it; `None` at the end.
#[inline]
fn read(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut code = 0u64;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        code |= u64::from(byte & !MORE).checked_shl(shift).unwrap_or(0);
        if byte & MORE == 0 {
            return Some(code);
        }
        shift += 7;
    }
}

pub struct Iter<'a> {
    bytes: &'a [u8],
    at: usize,
    last: u32,
    /// Slots of the current run still to give.
    run_left: u64,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.run_left == 0 {
            let code = read(self.bytes, &mut self.at)?;
            if code == RUN {
                self.run_left = read(self.bytes, &mut self.at)?;
            } else {
                // Every list was written by `push`, so the sum is a slot it was given.
                self.last = (i64::from(self.last) + unzigzag(code - 1)) as u32;
                return Some(self.last);
            }
        }
        self.run_left = self.run_left.saturating_sub(1);
        self.last = self.last.wrapping_add(1);
        Some(self.last)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any slots, in any order (ascending runs with reused slots between them, the
        /// extremes of `u32`), read back as pushed.
        #[test]
        fn reads_back_what_was_pushed(slots in prop::collection::vec(
            prop_oneof![any::<u32>(), 0u32..1_000, Just(u32::MAX), Just(0)], 0..300)
        ) {
            let mut list = Postings::default();
            for &slot in &slots {
                list.push(slot);
            }
            prop_assert_eq!(list.len(), slots.len());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), slots.clone());
            list.shrink();
            let mut decoded = vec![7];
            list.decode_into(&mut decoded);
            prop_assert_eq!(&decoded[1..], &slots[..]);
        }

        /// Runs of consecutive slots of any length, between and after other slots, the
        /// last slot of `u32` included.
        #[test]
        fn reads_back_runs(runs in prop::collection::vec(
            (prop_oneof![any::<u32>(), 0u32..1_000, Just(u32::MAX - 5)], 1u32..200), 0..20)
        ) {
            let slots: Vec<u32> = runs
                .iter()
                .flat_map(|&(start, length)| (0..length).map_while(move |i| start.checked_add(i)))
                .collect();
            let mut list = Postings::default();
            for &slot in &slots {
                list.push(slot);
            }
            prop_assert_eq!(list.len(), slots.len());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), slots.clone());
            let mut kept = list.clone();
            kept.retain(|slot| slot % 5 != 0);
            let expected: Vec<u32> = slots.iter().copied().filter(|slot| slot % 5 != 0).collect();
            prop_assert_eq!(kept.iter().collect::<Vec<_>>(), expected);
        }

        #[test]
        fn retain_keeps_the_accepted_in_order(slots in prop::collection::vec(0u32..5_000, 0..300)) {
            let mut list = Postings::default();
            for &slot in &slots {
                list.push(slot);
            }
            list.retain(|slot| slot % 3 != 0);
            let expected: Vec<u32> = slots.iter().copied().filter(|slot| slot % 3 != 0).collect();
            prop_assert_eq!(list.len(), expected.len());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), expected.clone());
            // Pushing after a retain continues from the last slot kept.
            list.push(4_999);
            prop_assert_eq!(list.iter().last(), Some(4_999));
        }
    }

    #[test]
    fn ascending_neighbours_take_a_byte_each() {
        let mut list = Postings::default();
        for slot in (1_000..1_200).step_by(2) {
            list.push(slot);
        }
        // The first difference (1,000 from zero) takes two bytes, the 99 after it one each.
        assert_eq!(list.bytes.len(), 2 + 99);
        list.push(0);
        assert_eq!(list.iter().last(), Some(0));
    }

    #[test]
    fn consecutive_slots_take_a_run_of_a_few_bytes() {
        let mut list = Postings::default();
        for slot in 1_000..1_100 {
            list.push(slot);
        }
        // Two bytes for the first, a marker and the length of the 99 after it.
        assert_eq!(list.bytes.len(), 2 + 2);
        assert_eq!(list.len(), 100);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            (1_000..1_100).collect::<Vec<_>>()
        );
        // A single step stays a byte; a run grows its length in place.
        list.push(5);
        list.push(6);
        assert_eq!(list.bytes.len(), 4 + 2 + 1);
        list.push(7);
        assert_eq!(list.bytes.len(), 4 + 2 + 2);
        for slot in 8..1_000 {
            list.push(slot);
        }
        assert_eq!(
            list.bytes.len(),
            4 + 2 + 3,
            "a length of 994 takes two bytes"
        );
        let expected: Vec<u32> = (1_000..1_100).chain(5..1_000).collect();
        assert_eq!(list.iter().collect::<Vec<_>>(), expected);
        assert_eq!(list.len(), expected.len());
    }
}
