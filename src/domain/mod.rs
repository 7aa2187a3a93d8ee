//! Domain types: input is parsed into these once, so the rest of the service never sees an
//! invalid plate, phone number, name or time.

mod api_key;
mod audit;
mod contact_name;
mod entry_time;
mod field_error;
mod hold;
mod numbering_plan;
mod occupancy;
mod phone;
mod plate;
mod pseudonym;
mod purge_preview;
mod reason;
mod retention;
mod retention_report;
mod role;
mod subject;
mod vehicle;
mod watch;

pub use api_key::{ApiKeyHash, ApiKeySecret, KeyName, NewKeySpec};
pub use audit::{AuditAction, AuditContext, AuditRecord, NewAuditEntry};
pub use contact_name::ContactName;
pub use entry_time::{EntryTime, truncate_to_millis};
pub use field_error::{FieldError, FieldErrors, RawField};
pub use hold::{MAX_HOLD_DAYS, NewHold, VehicleHold, expiry};
pub use occupancy::{
    Capacity, HOUR_MS, HourCounts, MAX_SERIES_HOURS, OccupancyHour, SeriesHours, by_hour,
    departures, hour_of, series as occupancy_series,
};
pub use phone::{PhoneNumber, PhoneRegion, mask_phone};
pub use plate::{
    MAX_PLATE_BYTES, NumberPlate, fold_lookalikes, fold_lookalikes_into, normalise_plate_text,
    same_when_folded,
};
pub use pseudonym::Pseudonymizer;
pub use purge_preview::{PreviewHours, PurgePreview, preview_window, purge_preview};
pub use reason::Reason;
pub use retention::RetentionPeriod;
pub use retention_report::{
    DAY_MS, ReportDayError, ReportError, ReportKey, RetentionReport, day_of, parse_report_day,
};
pub use role::Role;
pub use subject::Subject;
pub use vehicle::{NewVehicle, ParseContext, RawNewVehicle, Registered, Vehicle, VehicleChanges};
pub use watch::{WatchEntry, WatchNote};

/// Writes `Type(<redacted>)`: personal data must not reach logs through a stray `{:?}`.
macro_rules! redacted_debug {
    ($ty:ty) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($ty), "(<redacted>)"))
            }
        }
    };
}
pub(crate) use redacted_debug;
