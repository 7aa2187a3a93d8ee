//! A vehicle as the index keeps it: what is needed to match, rank and return it, in as few
//! bytes as a million of them allow.

use super::{
    postings::{unzigzag, zigzag},
    query::Searchable,
};
use crate::domain::Vehicle;

/// Plate, name and phone share one allocation (a million vehicles would otherwise cost three
/// each). The creation and change instants, which only answers need, open that allocation as
/// differences of a byte or a few (see `push_instant`): as two `i64`s in the entry they made
/// it 56 bytes instead of 40, measured.
pub(super) struct Entry {
    pub(super) id: i64,
    pub(super) entry_ms: i64,
    /// The creation instant's difference from the entry time and the change instant's from
    /// the creation (`head_len` bytes), then the plate, the name and the phone.
    pub(super) text: Box<str>,
    pub(super) head_len: u8,
    pub(super) plate_len: u8,
    pub(super) name_len: u16,
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
        head.push_instant(created_ms.wrapping_sub(entry_ms));
        head.push_instant(updated_ms.wrapping_sub(created_ms));
        // Sized exactly, once: a string that outgrows its capacity doubles it, and the
        // allocator then keeps the boxed text in the doubled block whenever it shrinks by less
        // than half (at a million vehicles, texts of 39 bytes on average held 59 bytes of
        // blocks; sized exactly, 48).
        let mut text = String::with_capacity(head.len + plate.len() + name.len() + phone.len());
        text.push_str(head.as_str());
        let head_len = text.len();
        text.push_str(plate);
        text.push_str(name);
        text.push_str(phone);
        debug_assert_eq!(text.len(), text.capacity());
        Self {
            id: vehicle.id,
            entry_ms,
            text: text.into_boxed_str(),
            // At most 22 bytes; plates are at most 12 characters (48 bytes) and names 100
            // (400 bytes).
            head_len: u8::try_from(head_len).unwrap_or(u8::MAX),
            plate_len: u8::try_from(plate.len()).unwrap_or(u8::MAX),
            name_len: u16::try_from(name.len()).unwrap_or(u16::MAX),
        }
    }

    pub(super) fn plate(&self) -> &str {
        let start = usize::from(self.head_len);
        self.text
            .get(start..start + usize::from(self.plate_len))
            .unwrap_or_default()
    }

    pub(super) fn name(&self) -> &str {
        let start = usize::from(self.head_len) + usize::from(self.plate_len);
        self.text
            .get(start..start + usize::from(self.name_len))
            .unwrap_or_default()
    }

    pub(super) fn phone(&self) -> &str {
        let start =
            usize::from(self.head_len) + usize::from(self.plate_len) + usize::from(self.name_len);
        self.text.get(start..).unwrap_or_default()
    }

    pub(super) fn searchable(&self) -> Searchable<'_> {
        Searchable {
            plate: self.plate(),
            name: self.name(),
            phone: self.phone(),
        }
    }

    /// When the vehicle was created and last changed, in milliseconds.
    pub(super) fn created_updated_ms(&self) -> (i64, i64) {
        let mut head = self
            .text
            .as_bytes()
            .get(..usize::from(self.head_len))
            .unwrap_or_default()
            .iter();
        let created_ms = self.entry_ms.wrapping_add(read_instant(&mut head));
        let updated_ms = created_ms.wrapping_add(read_instant(&mut head));
        (created_ms, updated_ms)
    }
}

/// Low six bits of a byte carry the difference, this bit says another byte follows.
const MORE: u8 = 0x40;

/// The differences of the creation instant from the entry time and of the change instant
/// from the creation, encoded: at most eleven bytes each (64 bits, six a byte).
#[derive(Default)]
struct Head {
    bytes: [u8; 22],
    len: usize,
}

impl Head {
    /// Appends a difference between two instants, zig-zag encoded, six bits a byte: ASCII
    /// bytes, so that the text stays a `str`. A vehicle registered on entry and never changed
    /// has both differences zero, a byte each.
    fn push_instant(&mut self, delta: i64) {
        let mut rest = zigzag(delta);
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

fn read_instant(head: &mut std::slice::Iter<'_, u8>) -> i64 {
    let mut value = 0u64;
    let mut shift = 0u32;
    for &byte in head.by_ref() {
        value |= u64::from(byte & 0x3f).checked_shl(shift).unwrap_or(0);
        if byte & MORE == 0 {
            break;
        }
        shift += 6;
    }
    unzigzag(value)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use proptest::prelude::*;

    use super::*;

    fn instant(ms: i64) -> chrono::DateTime<chrono::Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
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
            plate in "[A-Z0-9]{1,12}",
            name in "\\PC{0,100}",
            phone in "\\+[0-9]{1,15}",
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
            prop_assert_eq!(kept.name(), name.as_str());
            prop_assert_eq!(kept.phone(), phone.as_str());
        }
    }

    #[test]
    fn equal_instants_take_a_byte_each() {
        for delta in [0, 1, -1, 31, -32, 1_000, -86_400_000, i64::MAX, i64::MIN] {
            let mut head = Head::default();
            head.push_instant(delta);
            head.push_instant(delta);
            assert!(head.as_str().is_ascii());
            assert_eq!(head.as_str().len(), head.len);
            let mut bytes = head.as_str().as_bytes().iter();
            assert_eq!(read_instant(&mut bytes), delta, "{delta}");
            assert_eq!(read_instant(&mut bytes), delta, "{delta}");
        }
        let mut head = Head::default();
        head.push_instant(0);
        assert_eq!(head.len, 1);
    }
}
