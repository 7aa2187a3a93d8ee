//! Use-cases: what the service does, with no HTTP and no SQL.

mod error;
mod keys;
mod vehicles;

pub use error::ServiceError;
pub use keys::{Caller, KeyService};
pub use vehicles::{VehiclePage, VehicleService};
