//! API keys: random secrets shown once, stored only as a hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{FieldErrors, RawField, Role, redacted_debug, truncate_to_millis};

const PREFIX: &str = "pk_";
const SECRET_BYTES: usize = 32;

/// The secret a client presents. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);
redacted_debug!(ApiKeySecret);

impl ApiKeySecret {
    /// 256 random bits from the operating system.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// Wraps a key an operator chose (`PARKING_ADMIN_KEY`) or a client presented.
    pub fn from_presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Keys carry 256 bits of entropy, so a fast hash is enough: there is nothing to brute-force.
    pub fn hash(&self) -> ApiKeyHash {
        let digest = Sha256::digest(self.0.as_bytes());
        ApiKeyHash(hex::encode(digest))
    }
}

/// The stored form of a key: hex SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A human label for a key, shown as the audit actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("key name must be 1 to 64 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("key name must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key about to be created: a name, a role and an optional expiry in the future.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeySpec {
    pub name: KeyName,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewKeySpec {
    /// Parses every field, reporting each one that fails.
    pub fn parse(
        name: RawField<'_>,
        role: RawField<'_>,
        expires_at: RawField<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.take("name", name.required().and_then(KeyName::parse));
        let role = errors.take("role", role.required().and_then(str::parse));
        let expires_at = errors.take(
            "expires_at",
            expires_at
                .optional()
                .and_then(|raw| raw.map(|raw| parse_expiry(raw, now)).transpose()),
        );
        match (name, role, expires_at) {
            (Some(name), Some(role), Some(expires_at)) if errors.is_empty() => Ok(Self {
                name,
                role,
                expires_at,
            }),
            _ => Err(errors),
        }
    }
}

/// An RFC 3339 time after `now`, kept to the millisecond like every stored time.
fn parse_expiry(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| "must be an RFC 3339 date-time such as 2027-01-01T00:00:00Z")?
        .with_timezone(&Utc);
    let at = truncate_to_millis(at);
    if at <= now {
        return Err("must be in the future".into());
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_key_name_is_accepted_exactly_when_the_rules_say(
            raw in "[ a-z0-9]{0,70}|[ a-z\u{0}-\u{1f}]{0,6}"
        ) {
            let trimmed = raw.trim();
            let valid = !trimmed.is_empty()
                && trimmed.chars().count() <= 64
                && !trimmed.chars().any(char::is_control);
            match KeyName::parse(&raw) {
                Ok(name) => prop_assert!(valid && name.as_str() == trimmed, "accepted {:?}", raw),
                Err(_) => prop_assert!(!valid, "refused {:?}", raw),
            }
        }

        #[test]
        fn a_role_is_exactly_one_of_three_names(raw in "[a-z]{0,9}") {
            let known = ["admin", "operator", "viewer"].contains(&raw.as_str());
            prop_assert_eq!(raw.parse::<Role>().is_ok(), known);
        }
    }

    #[test]
    fn generated_keys_are_distinct_and_long() {
        let a = ApiKeySecret::generate().unwrap();
        let b = ApiKeySecret::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().len() >= PREFIX.len() + 43);
    }

    #[test]
    fn hash_is_stable_and_hides_the_key() {
        let key = ApiKeySecret::from_presented("pk_example");
        assert_eq!(key.hash(), key.hash());
        assert_eq!(key.hash().as_str().len(), 64);
        assert!(!key.hash().as_str().contains("example"));
        assert!(!format!("{key:?}").contains("example"));
    }

    #[test]
    fn a_key_spec_reports_every_bad_field_and_refuses_past_expiry() {
        let now = Utc::now();
        let errors = NewKeySpec::parse(
            RawField::Text(" "),
            RawField::Text("root"),
            RawField::Text("2020-01-01T00:00:00Z"),
            now,
        )
        .unwrap_err();
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "role", "expires_at"]);
        let spec = NewKeySpec::parse(
            RawField::Text("desk"),
            RawField::Text("operator"),
            RawField::Absent,
            now,
        )
        .unwrap();
        assert_eq!(spec.role, Role::Operator);
        assert_eq!(spec.expires_at, None);
        assert!(
            NewKeySpec::parse(
                RawField::Text("d"),
                RawField::NotText,
                RawField::Absent,
                now
            )
            .is_err()
        );
    }
}
