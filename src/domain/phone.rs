//! Phone numbers, stored as E.164 so that every spelling of a number is one value.

use std::str::FromStr;

use phonenumber::country;

use super::{numbering_plan, redacted_debug};

/// The region a number written without `+` is read in (`PARKING_DEFAULT_PHONE_REGION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(country::Id);

impl FromStr for PhoneRegion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Self)
            .map_err(|_| format!("`{s}` is not a two-letter region code such as GB or US"))
    }
}

/// A valid phone number in E.164 form, e.g. `+442079460958`.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);
redacted_debug!(PhoneNumber);

const INVALID: &str = "is not a valid phone number";
const LETTERS: &str = "must contain only digits, spaces and + - . ( ) /";
/// What people write between the digits of a phone number.
const PUNCTUATION: &[char] = &[' ', '+', '-', '.', '(', ')', '/', '\u{a0}'];

impl PhoneNumber {
    pub fn parse(raw: &str, region: PhoneRegion) -> Result<Self, String> {
        let raw = raw.trim();
        // The parser is not meant for arbitrarily long input; no real number is this long.
        if raw.is_empty() || raw.len() > 40 {
            return Err(INVALID.into());
        }
        // The parser reads letters as keypad digits (`0800 FLOWERS`); staff call the number
        // that is stored, so only what was actually given as digits is accepted.
        if !raw
            .chars()
            .all(|c| c.is_ascii_digit() || PUNCTUATION.contains(&c))
        {
            return Err(LETTERS.into());
        }
        // A `+` starts an international number; anywhere else it is a typing error.
        if raw.chars().skip(1).any(|c| c == '+') {
            return Err(INVALID.into());
        }
        // The parser refuses some spellings people write (`+4420-7946-0958`): what it cannot
        // read as written is read again as bare digits (a leading `+` kept).
        let valid = |text: &str| {
            phonenumber::parse(Some(region.0), text)
                .ok()
                .filter(numbering_plan::is_valid)
        };
        let number = valid(raw)
            .or_else(|| {
                let plus = raw.starts_with('+').then_some('+');
                let digits = raw.chars().filter(char::is_ascii_digit);
                valid(&plus.into_iter().chain(digits).collect::<String>())
            })
            .ok_or_else(|| INVALID.to_owned())?;
        Ok(Self(numbering_plan::e164(&number)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Loads the numbering-plan metadata now (about 300 ms) instead of on the first request.
    pub fn warm_up() {
        let _ = phonenumber::parse(None, "+442079460958");
    }
}

/// Digits a masked number keeps at its end.
const SHOWN_DIGITS: usize = 3;

/// A stored (E.164) number as a viewer sees it: the country calling code and the last three
/// digits, every other digit a bullet (`+44•••••••958`), so the number can be told apart from
/// others and recognised by someone who knows it, but not called.
pub fn mask_phone(e164: &str) -> String {
    let digits = e164.trim_start_matches('+');
    let code_len = numbering_plan::calling_code_len(e164).min(digits.len());
    let (code, rest) = digits.split_at(code_len);
    let hidden = rest.chars().count().saturating_sub(SHOWN_DIGITS);
    let shown: String = rest.chars().skip(hidden).collect();
    format!("+{code}{}{shown}", "\u{2022}".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gb() -> PhoneRegion {
        "GB".parse().unwrap()
    }

    #[test]
    fn international_and_national_forms_give_the_same_e164() {
        let international = PhoneNumber::parse("+44 20 7946 0958", gb()).unwrap();
        let national = PhoneNumber::parse("020 7946 0958", gb()).unwrap();
        assert_eq!(international.as_str(), "+442079460958");
        assert_eq!(national, international);
    }

    #[test]
    fn the_default_region_decides_numbers_without_plus() {
        let us: PhoneRegion = "us".parse().unwrap();
        let number = PhoneNumber::parse("(201) 555-0123", us).unwrap();
        assert_eq!(number.as_str(), "+12015550123");
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        for raw in [
            "",
            "12",
            "hello",
            "+44 20",
            "+999 1234 5678",
            &"9".repeat(60),
        ] {
            assert!(PhoneNumber::parse(raw, gb()).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn letters_are_refused_rather_than_read_as_keypad_digits() {
        for raw in [
            "+44 20 79AB 0958",
            "0800 FLOWERS",
            "020 7946 O958",
            "+44 20 7946 0958 ext 2",
        ] {
            assert_eq!(PhoneNumber::parse(raw, gb()).unwrap_err(), LETTERS, "{raw}");
        }
        assert!(PhoneNumber::parse("+44 (20) 7946-0958", gb()).is_ok());
        assert!(PhoneNumber::parse("020/7946.0958", gb()).is_ok());
    }

    #[test]
    fn a_masked_number_keeps_its_country_code_and_last_three_digits() {
        assert_eq!(
            mask_phone("+442079460958"),
            "+44\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}958"
        );
        assert_eq!(
            mask_phone("+12015550123"),
            "+1\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}123"
        );
        assert_eq!(
            mask_phone("+35312345678"),
            "+353\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}678"
        );
    }

    #[test]
    fn a_plus_only_starts_a_number_and_forty_characters_are_the_most() {
        assert!(PhoneNumber::parse("020 7946+0958", gb()).is_err());
        assert!(PhoneNumber::parse("+44 20 7946+0958", gb()).is_err());
        // The same number spelled in 40 characters is read; in 41 it is refused before the
        // parser sees it.
        let spelled = |len: usize| format!("+44{}2079460958", " ".repeat(len - 13));
        assert_eq!(
            PhoneNumber::parse(&spelled(40), gb()).unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(PhoneNumber::parse(&spelled(41), gb()).unwrap_err(), INVALID);
    }

    #[test]
    fn unknown_regions_are_rejected() {
        assert!("XX".parse::<PhoneRegion>().is_err());
    }

    /// A real GB number's national digits, spelled as people write them: with `0` or `+44`,
    /// and no separator, a space, a hyphen or a dot after the prefix and between the groups
    /// (`cuts`: where the groups end).
    fn spelled(nsn: &'static str, cuts: &'static [usize]) -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            proptest::collection::vec(
                prop_oneof![Just(""), Just(" "), Just("-"), Just(".")],
                cuts.len() + 1,
            ),
        )
            .prop_map(move |(international, seps)| {
                let mut out = String::from(if international { "+44" } else { "0" });
                let mut from = 0;
                for (&cut, sep) in cuts.iter().chain([&nsn.len()]).zip(&seps) {
                    out.push_str(sep);
                    out.push_str(&nsn[from..cut]);
                    from = cut;
                }
                out
            })
    }

    proptest! {
        #[test]
        fn every_spelling_of_a_number_is_stored_as_its_one_e164_form(
            (nsn, raw) in prop_oneof![
                Just(("2079460958", &[2usize, 6][..])),
                Just(("2071838750", &[2, 6][..])),
                Just(("7911123456", &[4][..])),
            ]
            .prop_flat_map(|(nsn, cuts)| (Just(nsn), spelled(nsn, cuts)))
        ) {
            let number = PhoneNumber::parse(&raw, gb())
                .map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
            prop_assert_eq!(number.as_str(), format!("+44{nsn}"));
        }

        #[test]
        fn a_letter_anywhere_is_refused(raw in "[0-9 ]{4,12}[a-zA-Z][0-9 ]{0,8}") {
            prop_assert_eq!(PhoneNumber::parse(&raw, gb()).unwrap_err(), LETTERS);
        }

        #[test]
        fn parsing_never_panics_and_e164_round_trips(raw in "\\PC{0,30}") {
            if let Ok(number) = PhoneNumber::parse(&raw, gb()) {
                let again = PhoneNumber::parse(number.as_str(), gb()).unwrap();
                prop_assert_eq!(again.as_str(), number.as_str());
            }
        }
    }
}
