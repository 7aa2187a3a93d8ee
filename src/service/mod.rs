//! Use-cases: what the service does, with no HTTP and no SQL.

mod audit;
mod backups;
mod error;
mod keys;
mod maintenance;
mod retention;
mod vehicles;

pub use audit::{AuditPage, AuditService};
pub use backups::{BackupInfo, BackupService, BackupTrigger};
pub use error::ServiceError;
pub use keys::{Caller, KeyService};
pub use maintenance::{BATCH_SIZE, ClearReport, MaintenanceService, PurgeReport};
pub use retention::RetentionService;
pub use vehicles::{VehiclePage, VehicleService};
