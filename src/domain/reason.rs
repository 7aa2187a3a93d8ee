//! Free-text reasons given for a privileged act (revealing a phone number, holding a record
//! past its retention). They go into the audit log, which holds no personal data, so a reason
//! that names the vehicle's plate, contact or number is refused.

use super::{Vehicle, normalise_plate_text};

const MAX_CHARS: usize = 500;
/// Name words shorter than this are too common to refuse ("Li", "Al").
const MIN_NAME_WORD: usize = 3;
/// A reason holding this many trailing digits of the number in a row names the number.
const PHONE_TAIL: usize = 6;

/// A reason that passed the rules: 1–500 characters, no control characters, nothing that
/// identifies the person it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// `about` is the vehicle the reason concerns.
    pub fn parse(raw: &str, about: &Vehicle) -> Result<Self, String> {
        let reason = raw.trim();
        if reason.is_empty() || reason.chars().count() > MAX_CHARS {
            return Err(format!("must be 1 to {MAX_CHARS} characters"));
        }
        if reason.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if names_the_person(reason, about) {
            return Err(
                "must not contain the vehicle's plate, contact name or phone number: the audit \
                 log holds no personal data"
                    .into(),
            );
        }
        Ok(Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn names_the_person(reason: &str, vehicle: &Vehicle) -> bool {
    // Plates are compared as stored (no spaces, hyphens or dots, upper case).
    let plate = normalise_plate_text(reason).contains(&vehicle.number_plate);
    let lower = reason.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let name = vehicle.contact_name.to_lowercase();
    let name = lower.contains(&name)
        || name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= MIN_NAME_WORD)
            .any(|part| words.contains(&part));
    let digits: String = reason.chars().filter(char::is_ascii_digit).collect();
    let number: Vec<char> = vehicle
        .phone_number
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let tail: String = number[number.len().saturating_sub(PHONE_TAIL)..]
        .iter()
        .collect();
    let phone = !tail.is_empty() && digits.contains(&tail);
    plate || name || phone
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The plate in any spelling, the full name or one of its words, or the number's
        /// last digits with any separators, anywhere in an otherwise plain reason, is refused;
        /// the plain reason alone is kept.
        #[test]
        fn a_reason_naming_the_person_is_refused_however_it_is_written(
            // Without an "a", the plain words cannot spell a word of the name by chance
            // ("ada" alone names her).
            before in "[b-z ]{0,20}",
            after in "[b-z ]{0,20}",
            which in 0usize..4,
            sep in prop_oneof![Just(""), Just(" "), Just("-"), Just(".")],
        ) {
            let plain = format!("{before} fire exit {after}");
            prop_assert!(Reason::parse(&plain, &vehicle()).is_ok(), "{:?}", plain);
            let naming = match which {
                0 => format!("ab{sep}12{sep}cde"),
                1 => "ADA LOVELACE".to_owned(),
                2 => "lovelace".to_owned(),
                _ => format!("946{sep}0958"),
            };
            let text = format!("{before} {naming} {after}");
            prop_assert!(Reason::parse(&text, &vehicle()).is_err(), "{:?}", text);
        }
    }

    fn vehicle() -> Vehicle {
        Vehicle::sample()
    }

    #[test]
    fn a_plain_reason_is_kept_trimmed() {
        let reason = Reason::parse("  police request 2026/114  ", &vehicle()).unwrap();
        assert_eq!(reason.as_str(), "police request 2026/114");
    }

    #[test]
    fn a_reason_naming_the_person_is_refused_in_any_spelling() {
        for raw in [
            "car ab-12 cde blocks the gate",
            "asked by ADA LOVELACE",
            "Mrs lovelace complained",
            "call 020 7946 0958",
            "+44 (20) 79460958",
        ] {
            assert!(Reason::parse(raw, &vehicle()).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn empty_long_and_control_reasons_are_refused() {
        assert!(Reason::parse("  ", &vehicle()).is_err());
        assert!(Reason::parse(&"x".repeat(501), &vehicle()).is_err());
        assert!(Reason::parse("two\nlines", &vehicle()).is_err());
        assert!(Reason::parse(&"x".repeat(500), &vehicle()).is_ok());
    }
}
