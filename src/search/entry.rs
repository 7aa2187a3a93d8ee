//! A vehicle as the index keeps it: what is needed to match, rank and return it, in as few
//! bytes as a million of them allow.

use super::{
    postings::{unzigzag, zigzag},
    query::{Query, Rank},
};
use crate::domain::Vehicle;

/// Plate, name and phone share one allocation (a million vehicles would otherwise cost three
/// each), opened by a head of small numbers (see `Head`): the plate's and the name's lengths,
/// and the creation and change instants, which only answers need, as differences of a byte
/// or a few. As two `i64`s in the entry the instants made it 56 bytes instead of 40, and the
/// lengths as three integers beside the text 40 instead of 32 (measured).
pub(super) struct Entry {
    pub(super) id: i64,
    pub(super) entry_ms: i64,
    /// The head, then the plate, the name and the phone.
    text: Box<str>,
}

/// Byte offsets of an entry's parts within its text; the phone runs from `name_end` to the
/// end.
struct Layout {
    instants: std::ops::Range<usize>,
    plate: std::ops::Range<usize>,
    name_end: usize,
}

impl Layout {
    fn name(&self) -> std::ops::Range<usize> {
        self.plate.end..self.name_end
    }
}

/// An entry's text taken apart.
pub(super) struct Parts<'a> {
    pub(super) plate: &'a str,
    pub(super) name: &'a str,
    pub(super) phone: &'a str,
    /// The two instants' differences, encoded (see `Entry::created_updated_ms`).
    instants: &'a [u8],
}

impl Entry {
    pub(super) fn new(vehicle: &Vehicle) -> Self {
        let (plate, name, phone) = (
            &vehicle.number_plate,
            &vehicle.contact_name,
            &vehicle.phone_number,
        );
        let entry_ms = vehicle.entry_time.timestamp_millis();
        let created_ms = vehicle.created_at.timestamp_millis();
        let updated_ms = vehicle.updated_at.timestamp_millis();
        let mut head = Head::default();
        head.push_number(plate.len() as u64);
        head.push_number(name.len() as u64);
        head.push_number(zigzag(created_ms.wrapping_sub(entry_ms)));
        head.push_number(zigzag(updated_ms.wrapping_sub(created_ms)));
        // Sized exactly, once: a string that outgrows its capacity doubles it, and the
        // allocator then keeps the boxed text in the doubled block whenever it shrinks by less
        // than half (at a million vehicles, texts of 39 bytes on average held 59 bytes of
        // blocks; sized exactly, 48).
        let mut text = String::with_capacity(head.len + plate.len() + name.len() + phone.len());
        text.push_str(head.as_str());
        text.push_str(plate);
        text.push_str(name);
        text.push_str(phone);
        debug_assert_eq!(text.len(), text.capacity());
        Self {
            id: vehicle.id,
            entry_ms,
            text: text.into_boxed_str(),
        }
    }

    /// The text taken apart once, for a caller that reads several of its parts.
    pub(super) fn parts(&self) -> Parts<'_> {
        let layout = self.layout();
        // Every length was taken from the `str` that follows it, so each part starts and
        // ends on a character boundary; `get` only keeps a broken entry from panicking.
        Parts {
            plate: self.text.get(layout.plate.clone()).unwrap_or_default(),
            name: self.text.get(layout.name()).unwrap_or_default(),
            phone: self.text.get(layout.name_end..).unwrap_or_default(),
            instants: self
                .text
                .as_bytes()
                .get(layout.instants)
                .unwrap_or_default(),
        }
    }

    /// How this vehicle ranks for `query`. The name and the phone are read only when the
    /// plate does not match: nearly every candidate of a search matches by its plate, and
    /// the plate lies in the text's first bytes, while the rest of a text often continues
    /// in the next cache line, which a search would otherwise wait for (see
    /// `Index::gather`).
    pub(super) fn rank(&self, query: &Query) -> Option<Rank> {
        let layout = self.layout();
        let plate = self.text.get(layout.plate.clone()).unwrap_or_default();
        query.rank_plate(plate).or_else(|| {
            let name = self.text.get(layout.name()).unwrap_or_default();
            let phone = self.text.get(layout.name_end..).unwrap_or_default();
            query
                .matches_name_or_phone(name, phone)
                .then_some(Rank::NameOrPhone)
        })
    }

    /// Where the parts lie in the text, read from its head alone.
    fn layout(&self) -> Layout {
        let bytes = self.text.as_bytes();
        let mut at = 0;
        let plate_len = usize::try_from(read_number(bytes, &mut at)).unwrap_or(usize::MAX);
        let name_len = usize::try_from(read_number(bytes, &mut at)).unwrap_or(usize::MAX);
        let instants_start = at;
        read_number(bytes, &mut at);
        read_number(bytes, &mut at);
        let plate_end = at.saturating_add(plate_len);
        Layout {
            instants: instants_start..at,
            plate: at..plate_end,
            name_end: plate_end.saturating_add(name_len),
        }
    }

    pub(super) fn plate(&self) -> &str {
        self.parts().plate
    }

    #[cfg(test)]
    pub(super) fn searchable(&self) -> super::query::Searchable<'_> {
        let Parts {
            plate, name, phone, ..
        } = self.parts();
        super::query::Searchable { plate, name, phone }
    }

    /// The whole text, head included: what a search reads of the entry's allocation.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// When the vehicle was created and last changed, in milliseconds.
    #[cfg(test)]
    fn created_updated_ms(&self) -> (i64, i64) {
        self.parts().created_updated_ms(self.entry_ms)
    }
}

impl Parts<'_> {
    /// When the vehicle was created and last changed, in milliseconds, from its entry time.
    pub(super) fn created_updated_ms(&self, entry_ms: i64) -> (i64, i64) {
        let mut at = 0;
        let created_ms = entry_ms.wrapping_add(unzigzag(read_number(self.instants, &mut at)));
        let updated_ms = created_ms.wrapping_add(unzigzag(read_number(self.instants, &mut at)));
        (created_ms, updated_ms)
    }
}

/// Low six bits of a byte carry a number, this bit says another byte follows.
const MORE: u8 = 0x40;

/// The head of an entry's text: four numbers, six bits a byte, so that every byte is ASCII
/// and the text stays a `str`. The lengths come first, so that finding the plate skips the
/// instants without decoding them. A vehicle with a plate of 7 bytes and a name of 20,
/// registered on entry and never changed, has a head of four bytes: its instants' differences
/// are both zero (a byte each, zig-zag encoded).
struct Head {
    /// Four numbers of at most eleven bytes each (64 bits, six a byte).
    bytes: [u8; 44],
    len: usize,
}

impl Default for Head {
    fn default() -> Self {
        Self {
            bytes: [0; 44],
            len: 0,
        }
    }
}

impl Head {
    fn push_number(&mut self, mut rest: u64) {
        loop {
            let bits = (rest & 0x3f) as u8;
            rest >>= 6;
            let byte = if rest == 0 { bits } else { bits | MORE };
            if let Some(at) = self.bytes.get_mut(self.len) {
                *at = byte;
                self.len += 1;
            }
            if rest == 0 {
                return;
            }
        }
    }

    fn as_str(&self) -> &str {
        // Every byte is below 0x80, so this is always a `str`.
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// Reads the number `push_number` wrote at `*at`, and moves `*at` past it.
fn read_number(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0u32;
    while let Some(&byte) = bytes.get(*at) {
        *at += 1;
        value |= u64::from(byte & 0x3f).checked_shl(shift).unwrap_or(0);
        if byte & MORE == 0 {
            break;
        }
        shift += 6;
    }
    value
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use proptest::prelude::*;

    use super::*;

    fn instant(ms: i64) -> chrono::DateTime<chrono::Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    /// A vehicle registered as it entered and never changed: its instants are one.
    fn registered_on_entry(plate: &str, name: &str, phone: &str) -> Vehicle {
        crate::search::test_support::vehicle(1, plate, name, phone, 1_700_000_000_000)
    }

    /// Instants within chrono's range (about ±262,000 years), and equal ones.
    fn millis() -> impl Strategy<Value = i64> {
        prop_oneof![
            -8_000_000_000_000_000i64..8_000_000_000_000_000,
            0i64..4_000_000_000_000,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn an_entry_gives_back_what_it_was_made_from(
            entry in millis(),
            created in prop_oneof![millis(), Just(i64::MIN)],
            updated in prop_oneof![millis(), Just(i64::MIN)],
            plate in "\\PC{0,12}",
            name in "\\PC{0,100}",
            phone in "\\PC{0,20}",
        ) {
            // `i64::MIN` stands for "equal to the one before".
            let created = if created == i64::MIN { entry } else { created };
            let updated = if updated == i64::MIN { created } else { updated };
            let vehicle = Vehicle {
                id: 7,
                number_plate: plate.clone(),
                contact_name: name.clone(),
                phone_number: phone.clone(),
                entry_time: instant(entry),
                expires_at: instant(entry),
                created_at: instant(created),
                updated_at: instant(updated),
                hold: None,
            };
            let kept = Entry::new(&vehicle);
            prop_assert_eq!(kept.created_updated_ms(), (created, updated));
            prop_assert_eq!(kept.plate(), plate.as_str());
            prop_assert_eq!(kept.parts().name, name.as_str());
            prop_assert_eq!(kept.parts().phone, phone.as_str());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Ranking from the entry, which reads the name and phone only when the plate does
        /// not match, ranks as the query does on the whole vehicle. The alphabets are small,
        /// with look-alikes and digits, so that every rank, and no match, come up often.
        #[test]
        fn an_entry_ranks_as_the_query_does_on_the_whole_vehicle(
            query in "[AB8O0 9]{1,5}",
            plate in "[AB8O0DÄ9]{0,8}",
            name in "[ab o9É]{0,12}",
            phone in "[+0-9]{0,8}",
        ) {
            let Some(query) = Query::parse(&query) else { return Ok(()) };
            let vehicle = registered_on_entry(&plate, &name, &phone);
            let kept = Entry::new(&vehicle);
            let whole = super::super::query::Searchable {
                plate: &vehicle.number_plate,
                name: &vehicle.contact_name,
                phone: &vehicle.phone_number,
            };
            prop_assert_eq!(kept.rank(&query), query.rank(&whole));
        }
    }

    #[test]
    fn numbers_read_back_and_stay_ascii() {
        for delta in [0, 1, -1, 31, -32, 1_000, -86_400_000, i64::MAX, i64::MIN] {
            let mut head = Head::default();
            head.push_number(zigzag(delta));
            head.push_number(zigzag(delta));
            assert!(head.as_str().is_ascii());
            assert_eq!(head.as_str().len(), head.len);
            let bytes = head.as_str().as_bytes();
            let mut at = 0;
            assert_eq!(unzigzag(read_number(bytes, &mut at)), delta, "{delta}");
            assert_eq!(unzigzag(read_number(bytes, &mut at)), delta, "{delta}");
            assert_eq!(at, bytes.len());
        }
        let mut head = Head::default();
        head.push_number(u64::MAX);
        head.push_number(u64::MAX);
        head.push_number(u64::MAX);
        head.push_number(u64::MAX);
        assert_eq!(head.len, 44, "four numbers of eleven bytes fit");
    }

    #[test]
    fn a_vehicle_registered_on_entry_has_a_head_of_four_bytes() {
        let vehicle = registered_on_entry("AB12CDE", "Ada Lovelace", "+442079460958");
        let kept = Entry::new(&vehicle);
        assert_eq!(kept.text().len(), 4 + 7 + 12 + 13);
        assert_eq!(kept.plate(), "AB12CDE");
        assert_eq!(kept.parts().name, "Ada Lovelace");
        assert_eq!(kept.parts().phone, "+442079460958");
        assert_eq!(
            kept.created_updated_ms(),
            (1_700_000_000_000, 1_700_000_000_000)
        );
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 32);
    }
}
