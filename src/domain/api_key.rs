//! API keys: random secrets shown once, stored only as a hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::redacted_debug;

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
        ApiKeyHash(digest.iter().map(|b| format!("{b:02x}")).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
