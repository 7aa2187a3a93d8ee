//! Keyed pseudonyms of plates, so the audit trail can follow a car without naming it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::NumberPlate;

/// HMAC-SHA256 with a secret kept in the database: the same plate always gives the same
/// pseudonym, and without the secret a pseudonym cannot be traced back by guessing plates.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}
super::redacted_debug!(Pseudonymizer);

impl Pseudonymizer {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// 128 bits of the MAC, hex-encoded: short enough to read, long enough never to collide.
    pub fn plate(&self, plate: &NumberPlate) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(plate.as_str().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_plate() {
        let plate = NumberPlate::parse("AB12CDE").unwrap();
        let a = Pseudonymizer::new(vec![1; 32]);
        let b = Pseudonymizer::new(vec![2; 32]);
        assert_eq!(
            a.plate(&plate),
            a.plate(&NumberPlate::parse("ab-12 cde").unwrap())
        );
        assert_ne!(a.plate(&plate), b.plate(&plate));
        assert_eq!(a.plate(&plate).len(), 32);
        assert!(!a.plate(&plate).contains("AB12"));
    }
}
