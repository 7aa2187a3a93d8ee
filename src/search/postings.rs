//! One trigram's posting list: the slots holding it, each stored as its difference from the
//! one before in a variable number of bytes.
//!
//! At a million vehicles the lists held 26 postings a vehicle; as `u32`s they were the largest
//! part of the index (104 bytes a vehicle, measured). Slots are handed out in the order
//! vehicles arrive, so a list is nearly always ascending and the differences small: a common
//! trigram's neighbours are a few slots apart (one byte), a rare one's a few thousand (two).
//! A slot reused after a removal may come before the last one, so differences are signed
//! (zig-zag encoded). Lists are only ever read from the start, which is all a delta encoding
//! allows.

/// Seven bits of a difference per byte, the high bit set on every byte but the last
/// (LEB128).
const MORE: u8 = 0x80;

/// Zig-zag: small differences of either sign become small unsigned numbers (0, -1, 1, -2, …
/// become 0, 1, 2, 3, …), so that they take few bytes.
pub(super) fn zigzag(delta: i64) -> u64 {
    ((delta << 1) ^ (delta >> 63)) as u64
}

pub(super) fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

#[derive(Default, Clone)]
pub struct Postings {
    bytes: Vec<u8>,
    len: u32,
    /// The last slot pushed, which the next difference is taken from.
    last: u32,
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
        let mut rest = zigzag(delta);
        while rest >= u64::from(MORE) {
            self.bytes.push((rest as u8) | MORE);
            rest >>= 7;
        }
        self.bytes.push(rest as u8);
        self.last = slot;
        self.len += 1;
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            at: 0,
            last: 0,
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

pub struct Iter<'a> {
    bytes: &'a [u8],
    at: usize,
    last: u32,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & !MORE) << shift;
            if byte & MORE == 0 {
                break;
            }
            shift += 7;
        }
        let delta = unzigzag(value);
        // Every list was written by `push`, so the sum is a slot it was given.
        self.last = (i64::from(self.last) + delta) as u32;
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
        for slot in 1_000..1_100 {
            list.push(slot);
        }
        // The first difference (1,000 from zero) takes two bytes, the 99 after it one each.
        assert_eq!(list.bytes.len(), 2 + 99);
        list.push(0);
        assert_eq!(list.iter().last(), Some(0));
    }
}
