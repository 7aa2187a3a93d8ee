//! Keyed pseudonyms of plates, so the audit trail can follow a car without naming it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::NumberPlate;

/// HMAC-SHA256 with a secret kept in the database: the same plate always gives the same
/// pseudonym, and without the secret a pseudonym cannot be traced back by guessing plates.
#[derive(Clone)]
pub struct Pseudonymizer {
    /// The MAC with the key already absorbed: keying it hashes two blocks, half the work of
    /// each pseudonym, so it is done once and the keyed state copied.
    keyed: Hmac<Sha256>,
}
super::redacted_debug!(Pseudonymizer);

impl Pseudonymizer {
    pub fn new(key: Vec<u8>) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = Hmac::<Sha256>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self { keyed }
    }

    /// 128 bits of the MAC, hex-encoded: short enough to read, long enough never to collide.
    pub fn plate(&self, plate: &NumberPlate) -> String {
        let mut mac = self.keyed.clone();
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

    /// Pseudonyms already in audit trails must still match: the first 128 bits of the
    /// HMAC-SHA256 of the plate, keyed afresh, whatever the key's length.
    #[test]
    fn a_pseudonym_is_the_truncated_hmac_of_the_plate() {
        let plate = NumberPlate::parse("AB12CDE").unwrap();
        for key in [vec![], vec![7; 32], vec![9; 200]] {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(b"AB12CDE");
            let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
            let pseudonyms = Pseudonymizer::new(key);
            assert_eq!(pseudonyms.plate(&plate), expected);
            assert_eq!(
                pseudonyms.plate(&plate),
                expected,
                "a second use of the keyed state"
            );
        }
    }
}
