//! The name staff call when a car must be moved.

use super::redacted_debug;

const MAX_CHARS: usize = 100;

/// A trimmed name of 1–100 characters with no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactName(String);
redacted_debug!(ContactName);

impl ContactName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().count() > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(
            ContactName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
    }

    #[test]
    fn empty_long_and_control_names_are_rejected() {
        assert!(ContactName::parse("   ").is_err());
        assert!(ContactName::parse(&"a".repeat(101)).is_err());
        assert!(ContactName::parse("Ada\u{0}Lovelace").is_err());
        assert!(ContactName::parse("Ada\nLovelace").is_err());
        assert!(ContactName::parse(&"é".repeat(100)).is_ok());
    }

    proptest! {
        /// Accepted exactly when the trimmed text is 1–100 characters without a control
        /// character, and then kept as trimmed; inputs near every bound are generated.
        #[test]
        fn a_name_is_accepted_exactly_when_the_rules_say(
            raw in "[ a-zA-Z\u{e9}'-]{0,110}|[ a-z\u{0}-\u{1f}\u{7f}]{0,8}|[ ]{0,3}[a-z]{95,105}[ ]{0,3}"
        ) {
            let trimmed = raw.trim();
            let valid = !trimmed.is_empty()
                && trimmed.chars().count() <= 100
                && !trimmed.chars().any(char::is_control);
            match ContactName::parse(&raw) {
                Ok(name) => {
                    prop_assert!(valid, "accepted {:?}", raw);
                    prop_assert_eq!(name.as_str(), trimmed);
                }
                Err(_) => prop_assert!(!valid, "refused {:?}", raw),
            }
        }

        #[test]
        fn parsing_is_idempotent(raw in "\\PC{0,120}") {
            if let Ok(name) = ContactName::parse(&raw) {
                prop_assert_eq!(ContactName::parse(name.as_str()).unwrap(), name);
            }
        }
    }
}
