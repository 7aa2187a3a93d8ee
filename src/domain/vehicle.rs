//! A parked vehicle, and the commands that create or change one.

use chrono::{DateTime, Utc};

use super::{
    ContactName, EntryTime, FieldErrors, NumberPlate, PhoneNumber, PhoneRegion, RawField,
    RetentionPeriod, VehicleHold,
};

/// A vehicle as stored and returned. Its fields were validated on the way in.
#[derive(Clone, PartialEq, Eq)]
pub struct Vehicle {
    pub id: i64,
    pub number_plate: String,
    pub contact_name: String,
    pub phone_number: String,
    pub entry_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A legal hold keeping it past its retention (`expires_at` is then the later of the two).
    pub hold: Option<VehicleHold>,
}

#[cfg(test)]
impl Vehicle {
    /// A parked vehicle for unit tests: AB12CDE, Ada Lovelace, +442079460958, entered now.
    pub(crate) fn sample() -> Self {
        let now = Utc::now();
        Vehicle {
            id: 1,
            number_plate: "AB12CDE".into(),
            contact_name: "Ada Lovelace".into(),
            phone_number: "+442079460958".into(),
            entry_time: now,
            expires_at: now,
            created_at: now,
            updated_at: now,
            hold: None,
        }
    }
}

impl std::fmt::Debug for Vehicle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vehicle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A registration as committed, and the parked plates that differ from its plate only by
/// look-alike characters (a misread plate at the gate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub vehicle: Vehicle,
    pub similar_plates: Vec<String>,
}

/// What parsing a write needs besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    pub region: PhoneRegion,
    pub now: DateTime<Utc>,
    pub retention: RetentionPeriod,
}

/// The raw fields of a registration, as the client sent them.
#[derive(Debug, Default)]
pub struct RawNewVehicle<'a> {
    pub number_plate: RawField<'a>,
    pub contact_name: RawField<'a>,
    pub phone_number: RawField<'a>,
    pub entry_timestamp: RawField<'a>,
}

/// A registration that passed every rule.
#[derive(Debug, Clone)]
pub struct NewVehicle {
    pub plate: NumberPlate,
    pub contact_name: ContactName,
    pub phone: PhoneNumber,
    pub entry: EntryTime,
}

impl NewVehicle {
    pub fn parse(raw: RawNewVehicle<'_>, ctx: ParseContext) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let plate = errors.take(
            "number_plate",
            raw.number_plate.required().and_then(NumberPlate::parse),
        );
        let contact_name = errors.take(
            "contact_name",
            raw.contact_name.required().and_then(ContactName::parse),
        );
        let phone = errors.take(
            "phone_number",
            raw.phone_number
                .required()
                .and_then(|p| PhoneNumber::parse(p, ctx.region)),
        );
        let entry = errors.take(
            "entry_timestamp",
            raw.entry_timestamp
                .optional()
                .and_then(|t| EntryTime::parse(t, ctx.now, ctx.retention)),
        );
        match (plate, contact_name, phone, entry) {
            (Some(plate), Some(contact_name), Some(phone), Some(entry)) if errors.is_empty() => {
                Ok(Self {
                    plate,
                    contact_name,
                    phone,
                    entry,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A partial update: at least one of the two fields is present.
#[derive(Debug, Clone)]
pub struct VehicleChanges {
    pub contact_name: Option<ContactName>,
    pub phone: Option<PhoneNumber>,
}

impl VehicleChanges {
    pub fn parse(
        contact_name: RawField<'_>,
        phone_number: RawField<'_>,
        region: PhoneRegion,
    ) -> Result<Self, FieldErrors> {
        if contact_name == RawField::Absent && phone_number == RawField::Absent {
            return Err(FieldErrors::single(
                "body",
                "must contain contact_name and/or phone_number",
            ));
        }
        let mut errors = FieldErrors::default();
        let contact_name = errors
            .take("contact_name", contact_name.optional())
            .flatten()
            .and_then(|n| errors.take("contact_name", ContactName::parse(n)));
        let phone = errors
            .take("phone_number", phone_number.optional())
            .flatten()
            .and_then(|p| errors.take("phone_number", PhoneNumber::parse(p, region)));
        errors.finish(|| Self {
            contact_name,
            phone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext {
            region: "GB".parse().unwrap(),
            now: Utc::now(),
            retention: RetentionPeriod::default(),
        }
    }

    #[test]
    fn a_valid_registration_is_read_into_its_normal_forms() {
        let raw = RawNewVehicle {
            number_plate: RawField::Text("ab-12 cde"),
            contact_name: RawField::Text("  Ada Lovelace "),
            phone_number: RawField::Text("020 7946 0958"),
            entry_timestamp: RawField::Absent,
        };
        let vehicle = NewVehicle::parse(raw, ctx()).unwrap();
        assert_eq!(vehicle.plate.as_str(), "AB12CDE");
        assert_eq!(vehicle.contact_name.as_str(), "Ada Lovelace");
        assert_eq!(vehicle.phone.as_str(), "+442079460958");
    }

    #[test]
    fn debug_shows_the_id_and_nothing_personal() {
        assert_eq!(format!("{:?}", Vehicle::sample()), "Vehicle { id: 1, .. }");
    }

    #[test]
    fn every_failing_field_is_reported() {
        let raw = RawNewVehicle {
            number_plate: RawField::Text("!"),
            contact_name: RawField::Absent,
            phone_number: RawField::NotText,
            entry_timestamp: RawField::Text("soon"),
        };
        let errors = NewVehicle::parse(raw, ctx()).unwrap_err().into_vec();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "number_plate",
                "contact_name",
                "phone_number",
                "entry_timestamp"
            ]
        );
    }

    #[test]
    fn an_empty_update_is_rejected() {
        let region = ctx().region;
        assert!(VehicleChanges::parse(RawField::Absent, RawField::Absent, region).is_err());
        assert!(VehicleChanges::parse(RawField::Text("Ada"), RawField::Absent, region).is_ok());
        assert!(VehicleChanges::parse(RawField::NotText, RawField::Absent, region).is_err());
    }
}
