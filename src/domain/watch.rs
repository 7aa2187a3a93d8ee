//! The watchlist: plates staff want to hear about when they arrive, each with a note.

use chrono::{DateTime, Utc};

use super::redacted_debug;

const MAX_NOTE_CHARS: usize = 500;

/// Why a plate is watched: trimmed, 1–500 characters, no control characters. Free text that
/// may name a person, so it is treated as personal data (never logged or audited).
#[derive(Clone, PartialEq, Eq)]
pub struct WatchNote(String);
redacted_debug!(WatchNote);

impl WatchNote {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let note = raw.trim();
        if note.is_empty() {
            return Err("must not be empty".into());
        }
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(format!("must be at most {MAX_NOTE_CHARS} characters"));
        }
        if note.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(note.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A watched plate as stored. It is kept, like a vehicle, for the retention period after its
/// last change.
#[derive(Clone, PartialEq, Eq)]
pub struct WatchEntry {
    pub number_plate: String,
    /// The plate with look-alike characters folded: registrations match on it.
    pub plate_folded: String,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
redacted_debug!(WatchEntry);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_note_is_accepted_exactly_when_the_rules_say(
            raw in "[ a-z\u{e9}]{0,20}|[ a-z\u{0}-\u{1f}]{0,8}|[ ]{0,2}[a-z]{495,505}[ ]{0,2}"
        ) {
            let trimmed = raw.trim();
            let valid = !trimmed.is_empty()
                && trimmed.chars().count() <= 500
                && !trimmed.chars().any(char::is_control);
            match WatchNote::parse(&raw) {
                Ok(note) => prop_assert!(valid && note.as_str() == trimmed, "accepted {:?}", raw),
                Err(_) => prop_assert!(!valid, "refused {:?}", raw),
            }
        }
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(WatchNote::parse("  stolen ").unwrap().as_str(), "stolen");
        assert!(WatchNote::parse("   ").is_err());
        assert!(WatchNote::parse("a\u{7}b").is_err());
        assert!(WatchNote::parse(&"x".repeat(501)).is_err());
        assert!(WatchNote::parse(&"x".repeat(500)).is_ok());
    }
}
