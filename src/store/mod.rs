//! Storage: traits the services use, with one implementation per database backend.
//!
//! The backend is chosen from the database URL at start-up; nothing above this module knows
//! which one it talks to.

/// The retention period in force, in milliseconds, as SQL that both backends run: the one
/// definition of the cut-off (`now − retention`) that every read and delete of vehicles
/// compares `entry_ms` against, so that expiry is exact whether or not the purge has run.
macro_rules! retention_ms {
    () => {
        "(SELECT retention_hours * 3600000 FROM system_config WHERE id = 1)"
    };
}

/// The columns a `VehicleRow` reads, but for `retention_ms`.
macro_rules! vehicle_columns {
    () => {
        "id, number_plate, contact_name, phone_number, entry_ms, created_ms, updated_ms, \
         hold_until_ms, hold_reason"
    };
}

/// A vehicle row is live at `$now` (a placeholder of now, in ms): within its retention, or
/// held past it. The one definition of liveness every read and deletion of vehicles uses.
macro_rules! live_at {
    ($now:literal) => {
        concat!(
            "(entry_ms > ",
            $now,
            " - ",
            retention_ms!(),
            " OR hold_until_ms > ",
            $now,
            ")"
        )
    };
}

/// The negation of `live_at!`: the row has expired and no hold keeps it.
macro_rules! expired_at {
    ($now:literal) => {
        concat!(
            "(entry_ms <= ",
            $now,
            " - ",
            retention_ms!(),
            " AND coalesce(hold_until_ms, 0) <= ",
            $now,
            ")"
        )
    };
}

/// When a vehicle row expires, in ms: the end of its retention, or of its hold if later
/// (portable SQL: SQLite's `max` and PostgreSQL's `GREATEST` differ).
macro_rules! expiry_ms {
    () => {
        concat!(
            "(CASE WHEN hold_until_ms > entry_ms + ",
            retention_ms!(),
            " THEN hold_until_ms ELSE entry_ms + ",
            retention_ms!(),
            " END)"
        )
    };
}

/// The SET clause that lifts a hold at `$now`: a vehicle past its retention keeps a hold
/// ending now, so that it expires (and is counted as expiring) at this moment, not back when
/// its retention ended; any other loses its hold.
macro_rules! lift_hold_columns {
    ($now:literal) => {
        concat!(
            "hold_until_ms = CASE WHEN entry_ms <= ",
            $now,
            " - ",
            retention_ms!(),
            " THEN ",
            $now,
            " ELSE NULL END, ",
            "hold_reason = CASE WHEN entry_ms <= ",
            $now,
            " - ",
            retention_ms!(),
            " THEN hold_reason ELSE NULL END"
        )
    };
}

/// The purge preview's counts: vehicles expired by `$until`, by the hour they expire, those
/// already expired counted in `$from` (the current hour's start). Placeholders both.
macro_rules! expiring_by_hour {
    ($until:literal, $from:literal) => {
        concat!(
            "SELECT CASE WHEN ",
            expiry_ms!(),
            " / 3600000 * 3600000 > ",
            $from,
            " THEN ",
            expiry_ms!(),
            " / 3600000 * 3600000 ELSE ",
            $from,
            " END AS hour_ms, count(*) FROM vehicles ",
            // A vehicle expired by `until` entered a retention period before it at the latest.
            "WHERE entry_ms <= ",
            $until,
            " - ",
            retention_ms!(),
            " AND ",
            expiry_ms!(),
            " <= ",
            $until,
            " GROUP BY hour_ms ORDER BY hour_ms"
        )
    };
}

/// Adds to one day's retention counts; the placeholders are the day's start (ms) and the
/// rows purged, rows erased and backups deleted to add.
macro_rules! count_retention {
    ($day:literal, $purged:literal, $erased:literal, $backups:literal) => {
        concat!(
            "INSERT INTO retention_days (day_ms, purged, erased, backups_deleted) VALUES (",
            $day,
            ", ",
            $purged,
            ", ",
            $erased,
            ", ",
            $backups,
            ") ",
            "ON CONFLICT (day_ms) DO UPDATE SET ",
            "purged = retention_days.purged + excluded.purged, ",
            "erased = retention_days.erased + excluded.erased, ",
            "backups_deleted = retention_days.backups_deleted + excluded.backups_deleted"
        )
    };
}

/// Two columns: the vehicles a hold keeps past their retention at `$now`, and the entry
/// time of the oldest vehicle row.
macro_rules! retention_state {
    ($now:literal) => {
        concat!(
            "(SELECT count(*) FROM vehicles WHERE hold_until_ms > ",
            $now,
            " AND entry_ms <= ",
            $now,
            " - ",
            retention_ms!(),
            "), (SELECT min(entry_ms) FROM vehicles)"
        )
    };
}

/// The vehicles of a subject: `$plate` and `$phone` are the placeholders of the plate and the
/// phone number (either may be NULL, which matches nothing).
macro_rules! subject_vehicles {
    ($plate:literal, $phone:literal) => {
        concat!(
            "FROM vehicles WHERE number_plate = ",
            $plate,
            " OR phone_number = ",
            $phone
        )
    };
}

/// The watchlist entries of a subject: its plate's, and those of its vehicles' plates.
macro_rules! subject_watch {
    ($plate:literal, $phone:literal) => {
        concat!(
            "FROM watchlist WHERE number_plate = ",
            $plate,
            " OR number_plate IN (SELECT number_plate ",
            subject_vehicles!($plate, $phone),
            ")"
        )
    };
}

/// Counts the vehicles a deletion is about to remove in the hourly occupancy, in the deletion's
/// transaction: one whose retention has ended as an expiry in the hour it ended, any other as
/// an exit now. `$now` is the placeholder of now (ms), `$scope` the deletion's condition
/// (literals and macros that expand to them).
/// Both backends run it (PostgreSQL and SQLite share the upsert syntax).
macro_rules! count_departures {
    ($now:literal, $($scope:expr),+) => {
        concat!(
            "INSERT INTO occupancy_hours (hour_ms, exits, expiries) ",
            "SELECT hour_ms, sum(1 - expired), sum(expired) FROM (SELECT ",
            "CASE WHEN ", expired_at!($now), " THEN 1 ELSE 0 END AS expired, ",
            "CASE WHEN ", expired_at!($now),
            " THEN ", expiry_ms!(), " / 3600000 * 3600000 ",
            "ELSE ", $now, " / 3600000 * 3600000 END AS hour_ms ",
            "FROM vehicles WHERE ", $($scope),+, ") AS departing WHERE true GROUP BY hour_ms ",
            "ON CONFLICT (hour_ms) DO UPDATE SET exits = occupancy_hours.exits + excluded.exits, ",
            "expiries = occupancy_hours.expiries + excluded.expiries"
        )
    };
}

/// Counts the arrivals of the vehicles a deletion is about to remove in the hours of their
/// entry times (arrivals still parked are counted from the vehicles table itself). `$scope`
/// as for `count_departures`.
macro_rules! count_departed_entries {
    ($($scope:expr),+) => {
        concat!(
            "INSERT INTO occupancy_hours (hour_ms, departed_entries) ",
            "SELECT entry_ms / 3600000 * 3600000 AS hour_ms, count(*) FROM vehicles WHERE ",
            $($scope),+,
            " GROUP BY hour_ms ON CONFLICT (hour_ms) DO UPDATE SET ",
            "departed_entries = occupancy_hours.departed_entries + excluded.departed_entries"
        )
    };
}

/// Adds the `HourCounts` of `$counts` (not empty) to `occupancy_hours` on the `$database`
/// connection `$tx`, in one statement; an hour already there is added to.
macro_rules! add_counts {
    ($database:ty, $tx:expr, $counts:expr) => {{
        let mut statement = sqlx::QueryBuilder::<$database>::new(
            "INSERT INTO occupancy_hours (hour_ms, departed_entries, exits, expiries) ",
        );
        statement.push_values($counts, |mut row, hour| {
            row.push_bind(hour.hour_ms)
                .push_bind(hour.entries)
                .push_bind(hour.exits)
                .push_bind(hour.expiries);
        });
        statement.push(
            " ON CONFLICT (hour_ms) DO UPDATE SET \
             departed_entries = occupancy_hours.departed_entries + excluded.departed_entries, \
             exits = occupancy_hours.exits + excluded.exits, \
             expiries = occupancy_hours.expiries + excluded.expiries",
        );
        statement.build().execute($tx).await
    }};
}

mod feed;
pub mod postgres;
pub mod private_files;
mod records;
pub(crate) mod rows;
pub mod sqlite;
mod traced;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::{path::Path, sync::Arc};

use crate::domain::{
    AuditRecord, Capacity, HourCounts, NewAuditEntry, NewHold, NewVehicle, NumberPlate, Registered,
    RetentionPeriod, Subject, Vehicle, VehicleChanges, WatchEntry, WatchNote,
};
pub use feed::{Change, ChangeKind, Committed, FeedBatch, FeedPosition, pack_ids, unpack};
pub use records::{
    ApiKeyRecord, AuditFilter, BatchAudit, DeleteScope, Erased, InsertAudit, ListOrder, NewApiKey,
    RetentionDay, RetentionSetting, Revocation, SubjectRecords, VehicleCursor, VehicleFilter,
    WatchAudit,
};
pub use traced::traced;

/// Failures of the storage layer. Messages carry no stored values (plates, names, phones).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A vehicle with this plate is already parked (and has not expired).
    #[error("a vehicle with this number plate is already parked")]
    PlateTaken,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A backup file failed its integrity check.
    #[error("backup verification failed: {0}")]
    Corrupt(String),
    /// Changes after the reader's position were trimmed: its copy must be rebuilt.
    #[error("the change feed was trimmed past this reader's position")]
    FeedTrimmed,
    /// Another process holds the database in a way that excludes this use; says which.
    #[error("{0}")]
    Busy(String),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the service persists.
#[async_trait]
pub trait Store:
    VehicleStore
    + KeyStore
    + SettingsStore
    + AuditStore
    + MaintenanceStore
    + FeedStore
    + OccupancyStore
    + WatchlistStore
    + SubjectStore
    + RetentionLedger
{
    /// Whether other servers write to this database too. When they do, what this process
    /// keeps in memory is a copy that may lag: point reads and key checks ask the database.
    fn shared(&self) -> bool;
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Checks that the database takes a write (readiness): a full disk or read-only storage
    /// fails it. PostgreSQL reports such faults to `ping` already.
    async fn writable(&self) -> StoreResult<()>;
    /// Closes connections once in-flight work is done (shutdown).
    async fn close(&self);
    /// Connection pool usage, for metrics.
    fn pool_usage(&self) -> Vec<crate::telemetry::metrics::PoolUsage>;
}

/// Parked vehicles. Every read applies the retention cut-off for `now` itself, so an expired
/// vehicle is never returned, whether or not the purge has deleted it yet.
#[async_trait]
pub trait VehicleStore: Send + Sync + 'static {
    /// Inserts a vehicle and returns it. A backend that other servers share also returns the
    /// parked plates of the same look-alike form, read in the same transaction; a server whose
    /// index holds every vehicle (`!shared()`) reads them from there, and its backend returns
    /// none (it keeps no index on folded plates, which every deletion would pay for). An
    /// expired row with the same plate is removed first, so a plate can be registered again as
    /// soon as its previous record expires.
    async fn insert_vehicle(
        &self,
        vehicle: &NewVehicle,
        now: DateTime<Utc>,
        audit: &InsertAudit,
    ) -> StoreResult<Committed<Registered>>;
    async fn find_vehicle(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vehicle>>;
    /// Live vehicles in entry order after `after`, at most `limit`: the bulk read that
    /// rebuilds the search index at start-up, which a backend may encode for speed.
    async fn load_page(
        &self,
        after: Option<VehicleCursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Vehicle>>;
    async fn update_vehicle(
        &self,
        plate: &NumberPlate,
        changes: &VehicleChanges,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<Vehicle>>>;
    /// Places (or replaces) a legal hold on a parked vehicle; `None` when there is none.
    async fn hold_vehicle(
        &self,
        plate: &NumberPlate,
        hold: &NewHold,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<Vehicle>>>;
    /// Lifts the hold of a parked vehicle and returns its id; `None` when no parked vehicle
    /// with this plate has one. A vehicle past its retention expires at once (counted as an
    /// expiry now).
    async fn lift_hold(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<i64>>>;
    /// Removes a parked vehicle and returns its id; `None` when there was none (or it had
    /// expired).
    async fn delete_vehicle(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<i64>>>;
}

/// API keys, kept only as hashes.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<ApiKeyRecord>>;
    /// The key with this hash if it is active (neither revoked nor expired) at `now`.
    async fn find_active_api_key(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, revoked and expired ones included, by id.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Every key active at `now`: what open connections are checked against.
    async fn active_api_keys(&self, now: DateTime<Utc>) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes an active key, unless it is the last active admin key; the check and the
    /// change are one transaction.
    async fn revoke_api_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Revocation>;
    async fn has_active_admin_key(&self, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Records when keys were last used (`(id, minute)` pairs); never moves a time back.
    async fn record_key_use(&self, uses: &[(i64, DateTime<Utc>)]) -> StoreResult<()>;
    /// Makes `key` the one key managed through `PARKING_ADMIN_KEY`, revoking any previous one.
    /// `audit` is written only when the key is new. The feed position when anything changed.
    async fn ensure_env_admin_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<FeedPosition>>;
}

/// Service-wide settings.
#[async_trait]
pub trait SettingsStore: Send + Sync + 'static {
    async fn retention(&self) -> StoreResult<RetentionSetting>;
    async fn set_retention(
        &self,
        period: RetentionPeriod,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<RetentionSetting>>;
}

/// How full the car park is: its capacity and hourly counts (no personal data).
#[async_trait]
pub trait OccupancyStore: Send + Sync + 'static {
    async fn capacity(&self) -> StoreResult<Option<Capacity>>;
    async fn set_capacity(
        &self,
        capacity: Capacity,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<Capacity>>;
    /// The counts of the hours from `since_ms` (an hour's start) on, oldest first. Vehicles
    /// whose retention ended in those hours but whose rows are not purged yet are counted as
    /// expiries, as the purge will count them.
    async fn occupancy_counts(
        &self,
        since_ms: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<HourCounts>>;
    /// Deletes the counts of hours that started before `before_ms`; returns how many.
    async fn purge_occupancy_before(&self, before_ms: i64) -> StoreResult<u64>;
}

/// The watchlist. Entries are personal data: every read applies the retention cut-off to
/// their last change, as vehicle reads do to entry times.
#[async_trait]
pub trait WatchlistStore: Send + Sync + 'static {
    /// Adds the entry of `plate`, or replaces its note; says which (audited as `added` or
    /// `updated`).
    async fn put_watch(
        &self,
        plate: &NumberPlate,
        note: &WatchNote,
        now: DateTime<Utc>,
        audit: &WatchAudit,
    ) -> StoreResult<Committed<(WatchEntry, bool)>>;
    async fn find_watch(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WatchEntry>>;
    /// Every live entry, by plate.
    async fn list_watch(&self, now: DateTime<Utc>) -> StoreResult<Vec<WatchEntry>>;
    /// `None` when no live entry has this plate.
    async fn delete_watch(
        &self,
        plate: &NumberPlate,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<Committed<()>>>;
    /// Deletes the entries whose retention has ended; `audit` (with `"deleted": 0` in its
    /// details) is written with the count when there were any.
    async fn purge_watch(
        &self,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<u64>>;
}

/// A person's records, for subject access and erasure. Unlike every other read, these see rows
/// past their retention that the purge has not reached yet: they are still held.
#[async_trait]
pub trait SubjectStore: Send + Sync + 'static {
    /// Every vehicle row with the subject's plate or phone number, and every watchlist entry
    /// of the subject's plate or of those vehicles' plates.
    async fn subject_records(&self, subject: &Subject) -> StoreResult<SubjectRecords>;
    /// Deletes what `subject_records` finds, in one transaction that also writes `audit` (its
    /// details get `vehicles` and `watchlist`, the counts), adds the count to the day's
    /// erasures and counts the vehicles' departures in the occupancy.
    async fn erase_subject(
        &self,
        subject: &Subject,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<Erased>>;
}

/// What retention did each UTC day, for the signed retention report. Purged and erased rows
/// are counted in the transactions that delete them.
#[async_trait]
pub trait RetentionLedger: Send + Sync + 'static {
    /// Adds backup files deleted by rotation to the day starting at `day_ms`.
    async fn count_backups_deleted(&self, day_ms: i64, deleted: i64) -> StoreResult<()>;
    /// Records in the day of `now` what the database holds now: vehicles kept past their
    /// retention by a hold, and the oldest entry time of any vehicle row.
    async fn record_retention_state(&self, now: DateTime<Utc>) -> StoreResult<()>;
    /// The counts of the day starting at `day_ms` (zeros and no state for a day without any).
    async fn retention_day(&self, day_ms: i64) -> StoreResult<RetentionDay>;
    /// What the database holds now (`held`, `oldest_entry_ms` of `RetentionDay`).
    async fn retention_state(&self, now: DateTime<Utc>) -> StoreResult<(i64, Option<i64>)>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// The key of the HMAC that pseudonymises plates. Created with the database.
    async fn audit_secret(&self) -> StoreResult<Vec<u8>>;
    /// Records an operation that has no transaction of its own (a backup file).
    async fn record_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// Newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes up to `limit` entries older than `before`; returns how many.
    async fn purge_audit_before(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

/// A hold on a database, released when dropped (or when the process ends, however it ends).
pub struct Claim(#[allow(dead_code)] Box<dyn std::any::Any + Send + Sync>);

impl Claim {
    pub fn new(guard: impl std::any::Any + Send + Sync) -> Self {
        Self(Box::new(guard))
    }
}

/// What a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A server: refused while maintenance holds the database; on SQLite also while another
    /// server does (one server per file).
    Serve,
    /// Maintenance that must not run beside any server (restore).
    Maintain,
}

/// The scheduled jobs' lease: at most one server on a database holds it at a time.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Whether it is still held (a lost connection loses it, and another server takes it).
    async fn held(&mut self) -> bool;
}

/// Bulk deletion and backups.
#[async_trait]
pub trait MaintenanceStore: Send + Sync + 'static {
    /// Takes the jobs' lease if no other server holds it.
    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>>;
    /// Claims the database; fails at once, saying why, when the claim cannot be had.
    async fn claim(&self, kind: ClaimKind) -> StoreResult<Claim>;
    /// Replaces everything the database holds with what the verified backup `file` holds
    /// (migrated to this version first, in a private copy), in one transaction. The caller
    /// holds a `Maintain` claim.
    async fn load_backup(&self, file: &Path) -> StoreResult<()>;
    /// Deletes up to `limit` vehicles in `scope`, in one short transaction that also records
    /// the deletion in the run's audit entry. Returns the ids deleted.
    async fn delete_vehicles_batch(
        &self,
        scope: DeleteScope,
        limit: u32,
        audit: &mut BatchAudit,
    ) -> StoreResult<Committed<Vec<i64>>>;
    /// Writes a consistent copy of the live database to `target` (an empty file the caller
    /// created, so it decides the permissions), without vehicles already expired at `now`,
    /// and verifies it.
    async fn backup_to(&self, target: &Path, now: DateTime<Utc>) -> StoreResult<()>;
    /// Makes what was deleted unreadable in the database's own files, as far as the backend
    /// can: SQLite copies its zeroed pages into the file and empties the WAL (`false` when a
    /// reader held it back). PostgreSQL has no equivalent: dead rows stay in its files until
    /// vacuumed space is reused, so it answers `false` (see the README).
    async fn scrub(&self) -> StoreResult<bool>;
    /// How many vehicles the purge will have deleted by `until` if the retention stays as it
    /// is, by the hour their retention ends (`hour_ms`, count), oldest first; vehicles already
    /// expired count in `from_hour_ms` (the current hour).
    async fn expiring_by_hour(
        &self,
        until: DateTime<Utc>,
        from_hour_ms: i64,
    ) -> StoreResult<Vec<(i64, i64)>>;
}

/// The change feed (see `feed`).
#[async_trait]
pub trait FeedStore: Send + Sync + 'static {
    /// Where a reader that starts now begins: every change before it is in the tables already.
    async fn feed_frontier(&self) -> StoreResult<FeedPosition>;
    /// Changes from `from` on (about `limit` at most) and the frontier they reach. Fails with
    /// `StoreError::FeedTrimmed` when changes after `from` have been trimmed away.
    async fn read_changes(&self, from: FeedPosition, limit: u32) -> StoreResult<FeedBatch>;
    /// The vehicles among `ids` that exist and have not expired at `now`.
    async fn live_vehicles(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<Vec<Vehicle>>;
    /// Records that `instance` has read up to `position`.
    async fn record_reader(
        &self,
        instance: &str,
        position: FeedPosition,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes the changes that every reader seen since `readers_since` has read, and every
    /// change written before `older_than` whoever has read it. Returns how many went.
    async fn trim_changes(
        &self,
        readers_since: DateTime<Utc>,
        older_than: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Wakes `wake` whenever another process may have committed a change, until `stop`
    /// (PostgreSQL's notifications). Returns at once where there is nothing to listen to.
    async fn listen_for_changes(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    );
}

/// The hourly counts `OccupancyStore::occupancy_counts` returns on both backends, oldest
/// first, from what the database holds: the counts kept for departed vehicles
/// (`hour_ms, departed_entries, exits, expiries`), the entries of vehicles still in the table
/// by hour, and the vehicles whose retention ended in an hour but whose rows wait for the
/// purge (counted as the purge will count them).
fn merge_counts(
    departed: Vec<(i64, i64, i64, i64)>,
    present: Vec<(i64, i64)>,
    expired: Vec<(i64, i64)>,
) -> Vec<HourCounts> {
    let departed = departed
        .into_iter()
        .map(|(hour_ms, entries, exits, expiries)| HourCounts {
            hour_ms,
            entries,
            exits,
            expiries,
        });
    let present = present.into_iter().map(|(hour_ms, entries)| HourCounts {
        hour_ms,
        entries,
        ..HourCounts::default()
    });
    let expired = expired.into_iter().map(|(hour_ms, expiries)| HourCounts {
        hour_ms,
        expiries,
        ..HourCounts::default()
    });
    crate::domain::by_hour(departed.chain(present).chain(expired))
}

/// Where the data lives, from `PARKING_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: the embedded database, created on first start.
    Sqlite(std::path::PathBuf),
    /// `postgres://…`: a PostgreSQL database that several servers may share.
    Postgres(String),
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// The URL without its password, which must not reach a log or an error message.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

pub use sqlite::Synchronous as SqliteSynchronous;

impl DatabaseUrl {
    /// The database's name in OpenTelemetry's conventions (`db.system.name`).
    pub fn system(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgresql",
        }
    }
}

/// How a database is opened, beyond its URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// When an SQLite commit is on disk (`PARKING_SQLITE_SYNCHRONOUS`).
    pub sqlite_synchronous: SqliteSynchronous,
}

/// Opens the database `url` names, bringing its schema up to date.
pub async fn open(url: &DatabaseUrl, options: OpenOptions) -> StoreResult<Arc<dyn Store>> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(
            sqlite::SqliteStore::open_with(path, options.sqlite_synchronous).await?,
        )),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(url).await?)),
    }
}

/// Checks that `file` is a backup this service can restore: an SQLite file that passes its
/// integrity check and holds exactly the service's schema. Backups of either backend are such
/// files.
pub async fn verify_backup(file: &Path) -> StoreResult<()> {
    sqlite::verify_file(file).await
}

/// Why storage refused a write of valid data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The disk is full.
    Full,
    /// The storage is read-only, or failing writes.
    NotWritable,
}

impl StorageFault {
    /// What a file operation's error says about its storage, if anything.
    pub fn of_io(error: &std::io::Error) -> Option<Self> {
        match error.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Some(Self::Full),
            std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
                Some(Self::NotWritable)
            }
            _ => None,
        }
    }
}

impl StoreError {
    /// Whether the write failed because of the storage rather than the data: the request is
    /// answered `507` (disk full) or `503` (read-only), and nothing was written.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                if error
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some()
                {
                    // SQLITE_FULL; SQLITE_READONLY and SQLITE_IOERR with their extended codes.
                    let code: i64 = error.code()?.parse().ok()?;
                    return match code & 0xff {
                        13 => Some(StorageFault::Full),
                        8 | 10 => Some(StorageFault::NotWritable),
                        _ => None,
                    };
                }
                match error.code()?.as_ref() {
                    "53100" => Some(StorageFault::Full),
                    "25006" => Some(StorageFault::NotWritable),
                    _ => None,
                }
            }
            StoreError::Io(error) => StorageFault::of_io(error),
            _ => None,
        }
    }

    /// The database could not be reached (as opposed to refusing or failing a statement):
    /// the request is answered `503` and may be retried.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // PostgreSQL going down or refusing connections: connection exceptions (08…),
            // operator intervention such as a shutdown (57P…), too many connections (53300).
            StoreError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| {
                    code.starts_with("08") || code.starts_with("57P") || code == "53300"
                })
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_url_is_shown_without_its_password() {
        let url = super::DatabaseUrl::Postgres("postgres://app:s3cret@db:5432/parking".into());
        assert_eq!(url.to_string(), "postgres://app@db:5432/parking");
        let plain = super::DatabaseUrl::Postgres("postgres://db/parking".into());
        assert_eq!(plain.to_string(), "postgres://db/parking");
    }
}
