//! A search query and how one vehicle matches it: the single definition of matching and
//! ranking, shared by the index, live subscriptions and the list endpoint's `q`.

use crate::domain::{MAX_PLATE_BYTES, fold_lookalikes, fold_lookalikes_into, normalise_plate_text};

/// Queries at least this long (in characters, per field) are answered from the trigram
/// index; shorter ones scan.
pub const TRIGRAM: usize = 3;

/// Phone numbers are searched only for 3+ digits, so a short query does not match almost
/// every number.
const MIN_PHONE_DIGITS: usize = 3;

/// The query as each field sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct Query {
    /// Normalised plate text (upper case, no separators); `None` if not plate-like.
    pub plate: Option<String>,
    /// `plate` with look-alike characters folded.
    pub plate_folded: Option<String>,
    /// Trimmed and lower-cased, for contact names.
    pub name: String,
    /// The digits of a 3+ digit query.
    pub digits: Option<String>,
}
crate::domain::redacted_debug!(Query);

/// Where a vehicle ranks for a query: lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    ExactPlate,
    ExactPlateLookalike,
    PlatePrefix,
    PlatePrefixLookalike,
    PlateSubstring,
    PlateSubstringLookalike,
    NameOrPhone,
}

/// The fields of a vehicle that queries look at.
pub struct Searchable<'a> {
    pub plate: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
}

impl Query {
    /// `None` for an empty query, which matches every vehicle.
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return None;
        }
        let plate = Some(normalise_plate_text(trimmed))
            .filter(|p| !p.is_empty() && p.chars().all(char::is_alphanumeric));
        let digits: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '+' | '(' | ')' | '.'))
            .collect();
        let digits = (digits.len() >= MIN_PHONE_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits);
        Some(Self {
            plate_folded: plate.as_deref().map(fold_lookalikes),
            plate,
            name: trimmed.to_lowercase(),
            digits,
        })
    }

    /// The query as echoed in results: the plate form when it is plate-like.
    pub fn display(&self) -> &str {
        self.plate.as_deref().unwrap_or(&self.name)
    }

    /// Whether every field this query searches is long enough for the trigram index.
    pub fn indexable(&self) -> bool {
        let long = |s: &str| s.chars().count() >= TRIGRAM;
        self.plate_folded.as_deref().is_none_or(long) && long(&self.name)
    }

    /// How `vehicle` ranks, or `None` when it does not match.
    pub fn rank(&self, vehicle: &Searchable<'_>) -> Option<Rank> {
        self.rank_plate(vehicle.plate).or_else(|| {
            self.matches_name_or_phone(vehicle.name, vehicle.phone)
                .then_some(Rank::NameOrPhone)
        })
    }

    /// How a vehicle with `vehicle_plate` ranks by its plate alone. Every plate rank is better
    /// than `NameOrPhone`, so a caller that has the plate first looks at the rest only when
    /// this is `None` (the index does: see `Entry::rank`).
    pub fn rank_plate(&self, vehicle_plate: &str) -> Option<Rank> {
        let (Some(plate), Some(folded)) = (&self.plate, &self.plate_folded) else {
            return None;
        };
        if vehicle_plate == plate {
            return Some(Rank::ExactPlate);
        }
        // Every candidate of a search is ranked: its plate is folded on the stack.
        let mut buffer = [0u8; MAX_PLATE_BYTES];
        let longer;
        let vehicle_folded = match fold_lookalikes_into(vehicle_plate, &mut buffer) {
            Some(folded) => folded,
            None => {
                longer = fold_lookalikes(vehicle_plate);
                longer.as_bytes()
            }
        };
        let (plate, folded) = (plate.as_bytes(), folded.as_bytes());
        if vehicle_folded == folded {
            return Some(Rank::ExactPlateLookalike);
        }
        if starts_with(vehicle_plate.as_bytes(), plate) {
            return Some(Rank::PlatePrefix);
        }
        if starts_with(vehicle_folded, folded) {
            return Some(Rank::PlatePrefixLookalike);
        }
        if contains(vehicle_plate.as_bytes(), plate) {
            return Some(Rank::PlateSubstring);
        }
        if contains(vehicle_folded, folded) {
            return Some(Rank::PlateSubstringLookalike);
        }
        None
    }

    /// Whether the contact name or the phone number matches (`Rank::NameOrPhone`).
    pub fn matches_name_or_phone(&self, name: &str, phone: &str) -> bool {
        let phone = self.digits.as_deref().is_some_and(|d| phone.contains(d));
        phone || contains_lowercase(name, &self.name)
    }
}

/// Whether `needle` occurs in `haystack`. On UTF-8 text, as here, a byte match is a character
/// match; for plates of a dozen bytes a plain scan beats setting up `str::contains`'s searcher.
/// Each position is compared byte by byte, its first byte first: a slice comparison is a call
/// to `memcmp`, and one per position whose first byte matched was 7% of a live search's time
/// at 1,000,000 vehicles.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((first, rest)) = needle.split_first() else {
        return true;
    };
    haystack.windows(needle.len()).any(|window| {
        window.first() == Some(first) && window.iter().skip(1).zip(rest).all(|(a, b)| a == b)
    })
}

/// `haystack.starts_with(needle)`, its first byte checked before the rest (see `contains`).
fn starts_with(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .get(..needle.len())
        .is_some_and(|start| contains(start, needle))
}

/// Case-insensitive (Unicode) substring test against an already lower-cased needle.
fn contains_lowercase(haystack: &str, needle_lower: &str) -> bool {
    if haystack.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
        return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(needle_lower)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plate ranks spelled out on folded `String`s and `str` searches.
    fn plate_rank_spelled_out(query: &Query, plate: &str) -> Option<Rank> {
        let (wanted, wanted_folded) = (query.plate.as_deref()?, query.plate_folded.as_deref()?);
        let folded = fold_lookalikes(plate);
        [
            (plate == wanted, Rank::ExactPlate),
            (folded == wanted_folded, Rank::ExactPlateLookalike),
            (plate.starts_with(wanted), Rank::PlatePrefix),
            (
                folded.starts_with(wanted_folded),
                Rank::PlatePrefixLookalike,
            ),
            (plate.contains(wanted), Rank::PlateSubstring),
            (
                folded.contains(wanted_folded),
                Rank::PlateSubstringLookalike,
            ),
        ]
        .into_iter()
        .find_map(|(matched, rank)| matched.then_some(rank))
    }

    proptest! {
        #[test]
        fn plates_rank_as_the_folded_strings_say(
            // A few letters and their look-alikes, so that every rank comes up often.
            query in "[AB8O0DÄ]{1,4}",
            plate in "[AB8O0DÄ]{2,12}",
        ) {
            let query = Query::parse(&query).unwrap();
            let ranked = query.rank(&Searchable { plate: &plate, name: "", phone: "" });
            prop_assert_eq!(ranked, plate_rank_spelled_out(&query, &plate));
        }
    }

    fn rank(query: &str, plate: &str, name: &str, phone: &str) -> Option<Rank> {
        Query::parse(query)
            .unwrap()
            .rank(&Searchable { plate, name, phone })
    }

    #[test]
    fn plates_rank_exact_prefix_substring_with_exact_characters_first() {
        assert_eq!(
            rank("ab12cde", "AB12CDE", "x", "+1"),
            Some(Rank::ExactPlate)
        );
        assert_eq!(
            rank("A8I2CDE", "AB12CDE", "x", "+1"),
            Some(Rank::ExactPlateLookalike)
        );
        assert_eq!(rank("ab1", "AB12CDE", "x", "+1"), Some(Rank::PlatePrefix));
        assert_eq!(
            rank("a81", "AB12CDE", "x", "+1"),
            Some(Rank::PlatePrefixLookalike)
        );
        assert_eq!(
            rank("12c", "AB12CDE", "x", "+1"),
            Some(Rank::PlateSubstring)
        );
        assert_eq!(
            rank("i2c", "AB12CDE", "x", "+1"),
            Some(Rank::PlateSubstringLookalike)
        );
        assert_eq!(rank("zzz", "AB12CDE", "x", "+1"), None);
    }

    #[test]
    fn names_and_phones_match_after_plates() {
        assert_eq!(
            rank("LOVE", "XY1", "Ada Lovelace", "+1"),
            Some(Rank::NameOrPhone)
        );
        assert_eq!(
            rank("ÉMI", "XY1", "Émile Zola", "+1"),
            Some(Rank::NameOrPhone)
        );
        assert_eq!(
            rank("946", "XY1", "Ada", "+442079460958"),
            Some(Rank::NameOrPhone)
        );
        assert_eq!(
            rank("94", "XY1", "Ada", "+442079460958"),
            None,
            "two digits do not search phones"
        );
    }

    #[test]
    fn short_or_mixed_queries_are_not_indexable() {
        assert!(Query::parse("ab1").unwrap().indexable());
        assert!(!Query::parse("ab").unwrap().indexable());
        assert!(
            !Query::parse("a-b").unwrap().indexable(),
            "the plate part is two characters"
        );
        assert!(Query::parse("   ").is_none());
        assert_eq!(Query::parse("ab-1").unwrap().display(), "AB1");
    }
}
