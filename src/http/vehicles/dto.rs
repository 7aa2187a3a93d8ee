//! The JSON shapes of the vehicles API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{RawNewVehicle, Registered, Role, Vehicle, mask_phone},
    http::extract::JsonText,
};

/// A parked vehicle.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehicleBody {
    #[schema(example = 42)]
    pub id: i64,
    /// Normalised: upper case, no spaces, hyphens or dots.
    #[schema(example = "AB12CDE")]
    pub number_plate: String,
    #[schema(example = "Ada Lovelace")]
    pub contact_name: String,
    /// E.164; for `viewer` keys masked to the country code and last three digits
    /// (`+44•••••••958`).
    #[schema(example = "+442079460958")]
    pub phone_number: String,
    #[serde(serialize_with = "rfc3339")]
    pub entry_timestamp: DateTime<Utc>,
    /// `entry_timestamp` plus the retention period in force now, or the end of a hold that
    /// keeps it longer.
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Present only while an admin keeps the vehicle past its retention (a legal hold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldBody>,
}

/// A legal hold: the vehicle is kept until `until` whatever the retention period.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldBody {
    #[schema(example = "police request 2026/114")]
    pub reason: String,
    #[serde(serialize_with = "rfc3339")]
    pub until: DateTime<Utc>,
}

/// RFC 3339 in UTC with the precision stored (milliseconds, omitted when zero). Written as one
/// string: chrono's own `Serialize` writes through `collect_str`, which hands the JSON writer
/// one character at a time — a third of a listing's CPU time when measured.
pub fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    crate::http::rfc3339::with_text(at, |text| serializer.serialize_str(text))
}

/// An instant as the API writes it everywhere (see `rfc3339`).
pub fn timestamp(at: &DateTime<Utc>) -> String {
    crate::http::rfc3339::with_text(at, str::to_owned)
}

impl VehicleBody {
    /// The vehicle as `role` may see it: a viewer gets the phone number masked.
    pub fn shown_to(vehicle: Vehicle, role: Role) -> Self {
        let mut body = Self::from(vehicle);
        if role.sees_masked_phones() {
            body.phone_number = mask_phone(&body.phone_number);
        }
        body
    }
}

impl From<Vehicle> for VehicleBody {
    fn from(v: Vehicle) -> Self {
        Self {
            id: v.id,
            number_plate: v.number_plate,
            contact_name: v.contact_name,
            phone_number: v.phone_number,
            entry_timestamp: v.entry_time,
            expires_at: v.expires_at,
            created_at: v.created_at,
            updated_at: v.updated_at,
            hold: v.hold.map(|h| HoldBody {
                reason: h.reason,
                until: h.until,
            }),
        }
    }
}

/// A vehicle just registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredBody {
    #[serde(flatten)]
    pub vehicle: VehicleBody,
    /// Parked plates that differ from this one only by look-alike characters (`0`/`O`/`D`/`Q`,
    /// `1`/`I`/`L`, `2`/`Z`, `5`/`S`, `8`/`B`): a misread plate to check at the gate. Empty
    /// when none.
    #[schema(example = json!(["A812CDE"]))]
    pub similar_plates: Vec<String>,
}

impl From<Registered> for RegisteredBody {
    fn from(registered: Registered) -> Self {
        Self {
            vehicle: registered.vehicle.into(),
            similar_plates: registered.similar_plates,
        }
    }
}

/// A page of vehicles.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehicleList {
    pub items: Vec<VehicleBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Registers a vehicle as it enters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterVehicle {
    /// Any spelling: spaces, hyphens and dots are removed, letters upper-cased.
    #[schema(value_type = String, required = true, example = "ab-12 cde")]
    pub number_plate: Option<JsonText>,
    #[schema(value_type = String, required = true, example = "Ada Lovelace")]
    pub contact_name: Option<JsonText>,
    /// Read in the default region when written without `+`.
    #[schema(value_type = String, required = true, example = "+44 20 7946 0958")]
    pub phone_number: Option<JsonText>,
    /// RFC 3339; defaults to now. At most 5 minutes ahead, and not already expired.
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub entry_timestamp: Option<JsonText>,
}

impl RegisterVehicle {
    pub fn as_raw(&self) -> RawNewVehicle<'_> {
        RawNewVehicle {
            number_plate: JsonText::field(&self.number_plate),
            contact_name: JsonText::field(&self.contact_name),
            phone_number: JsonText::field(&self.phone_number),
            entry_timestamp: JsonText::field(&self.entry_timestamp),
        }
    }
}

/// Changes a vehicle's contact details; at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVehicle {
    #[schema(value_type = String)]
    pub contact_name: Option<JsonText>,
    #[schema(value_type = String)]
    pub phone_number: Option<JsonText>,
}

/// Listing parameters, read as text and parsed by the handler so that every bad one is
/// reported together.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–500.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Free text matched and ranked exactly like the live search (plate, look-alike tolerant;
    /// name; phone digits). With `q`, results come in search-rank order and `order` is not used.
    pub q: Option<String>,
    /// Only vehicles that entered after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub entered_after: Option<String>,
    /// Only vehicles that entered before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub entered_before: Option<String>,
    /// `entry_desc` (newest first, the default) or `entry_asc`.
    #[param(value_type = Option<String>, pattern = "^entry_(desc|asc)$")]
    pub order: Option<String>,
}
