//! A free-text query turned into the keys it is matched against.

use super::{fold_lookalikes, normalise_plate_text};

/// Phone numbers are matched only for queries of this many digits or more, so that a short
/// query does not match almost every number.
const MIN_PHONE_DIGITS: usize = 3;

/// The query as each searchable field sees it. Absent parts match nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// Normalised, look-alike-folded plate text; `None` when nothing plate-like remains.
    pub plate_folded: Option<String>,
    /// Lower-cased, trimmed text for the contact name.
    pub name_lower: String,
    /// The digits, when the query is a phone fragment of 3+ digits.
    pub phone_digits: Option<String>,
}
super::redacted_debug!(SearchTerms);

impl SearchTerms {
    /// `None` for an empty query, which matches everything.
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return None;
        }
        let plate = normalise_plate_text(trimmed);
        let plate_folded = (!plate.is_empty() && plate.chars().all(char::is_alphanumeric))
            .then(|| fold_lookalikes(&plate));
        let digits: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '+' | '(' | ')' | '.'))
            .collect();
        let phone_digits = (digits.len() >= MIN_PHONE_DIGITS
            && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(digits);
        Some(Self {
            plate_folded,
            name_lower: trimmed.to_lowercase(),
            phone_digits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_matches_everything() {
        assert!(SearchTerms::parse("   ").is_none());
    }

    #[test]
    fn plate_text_is_normalised_and_folded() {
        let terms = SearchTerms::parse("a8-i2").unwrap();
        assert_eq!(terms.plate_folded.as_deref(), Some("A812"));
        assert_eq!(terms.name_lower, "a8-i2");
    }

    #[test]
    fn phone_fragments_need_three_digits() {
        assert_eq!(SearchTerms::parse("79").unwrap().phone_digits, None);
        assert_eq!(
            SearchTerms::parse("+44 79")
                .unwrap()
                .phone_digits
                .as_deref(),
            Some("4479")
        );
        assert_eq!(SearchTerms::parse("ab1").unwrap().phone_digits, None);
    }
}
