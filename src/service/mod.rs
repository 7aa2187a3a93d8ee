//! Use-cases: what the service does, with no HTTP and no SQL.

mod audit;
mod backups;
mod error;
mod keys;
mod maintenance;
mod occupancy;
mod retention;
mod vehicles;
mod watchlist;

pub use audit::{AuditPage, AuditService};
pub use backups::{BackupInfo, BackupService, BackupTrigger};
pub use error::ServiceError;
pub use keys::{Caller, KeyService};
pub use maintenance::{BATCH_SIZE, ClearReport, MaintenanceService, PurgeReport};
pub use occupancy::{Occupancy, OccupancyService};
pub use retention::RetentionService;
pub use vehicles::{VehiclePage, VehicleService};
pub use watchlist::WatchlistService;
