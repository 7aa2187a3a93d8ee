//! Use-cases: what the service does, with no HTTP and no SQL.

mod audit;
mod backups;
mod error;
mod keys;
mod maintenance;
mod occupancy;
mod retention;
mod retention_report;
mod subjects;
mod vehicles;
mod watchlist;

pub use audit::{AuditPage, AuditService};
pub use backups::{BackupInfo, BackupService, BackupTrigger};
pub use error::ServiceError;
pub use keys::{Caller, KeyService};
pub use maintenance::{BATCH_SIZE, ClearReport, MaintenanceService, PurgeReport};
pub use occupancy::{Occupancy, OccupancyService};
pub use retention::RetentionService;
pub use retention_report::RetentionReportService;
pub use subjects::{BackupHolding, Erasure, SubjectAccess, SubjectService};
pub use vehicles::{VehiclePage, VehicleService};
pub use watchlist::WatchlistService;
