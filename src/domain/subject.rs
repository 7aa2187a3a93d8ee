//! The person a subject-access or erasure request is about, named by a plate, a phone number
//! or both (records matching either are theirs).

use super::{FieldErrors, NumberPlate, PhoneNumber, PhoneRegion, RawField};

/// A plate in any spelling (exactly that plate: look-alikes are other people's) and/or a
/// phone number in any format.
#[derive(Debug, Clone)]
pub struct Subject {
    pub plate: Option<NumberPlate>,
    pub phone: Option<PhoneNumber>,
}

impl Subject {
    pub fn parse(
        plate: RawField<'_>,
        phone: RawField<'_>,
        region: PhoneRegion,
    ) -> Result<Self, FieldErrors> {
        if plate == RawField::Absent && phone == RawField::Absent {
            return Err(FieldErrors::single(
                "body",
                "must contain number_plate and/or phone_number",
            ));
        }
        let mut errors = FieldErrors::default();
        let plate = errors
            .take("number_plate", plate.optional())
            .flatten()
            .and_then(|p| errors.take("number_plate", NumberPlate::parse(p)));
        let phone = errors
            .take("phone_number", phone.optional())
            .flatten()
            .and_then(|p| errors.take("phone_number", PhoneNumber::parse(p, region)));
        if errors.is_empty() && plate.is_none() && phone.is_none() {
            return Err(FieldErrors::single(
                "body",
                "must contain number_plate and/or phone_number",
            ));
        }
        errors.finish(|| Self { plate, phone })
    }

    pub fn plate_str(&self) -> Option<&str> {
        self.plate.as_ref().map(NumberPlate::as_str)
    }

    pub fn phone_str(&self) -> Option<&str> {
        self.phone.as_ref().map(PhoneNumber::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb() -> PhoneRegion {
        "GB".parse().unwrap()
    }

    #[test]
    fn either_field_names_a_subject_in_any_spelling() {
        let by_plate = Subject::parse(RawField::Text("ab-12 cde"), RawField::Absent, gb()).unwrap();
        assert_eq!(by_plate.plate_str(), Some("AB12CDE"));
        let by_phone =
            Subject::parse(RawField::Absent, RawField::Text("020 7946 0958"), gb()).unwrap();
        assert_eq!(by_phone.phone_str(), Some("+442079460958"));
    }

    #[test]
    fn nothing_or_bad_fields_are_refused() {
        assert!(Subject::parse(RawField::Absent, RawField::Absent, gb()).is_err());
        let errors = Subject::parse(RawField::Text("!"), RawField::Text("12"), gb())
            .unwrap_err()
            .into_vec();
        assert_eq!(errors.len(), 2);
    }
}
