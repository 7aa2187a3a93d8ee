//! The embedded SQLite backend: one file, WAL mode, one writer connection and a reader pool.
//!
//! Writes go through a single connection: SQLite serialises writers anyway, and funnelling
//! them avoids `SQLITE_BUSY` retries between our own connections and keeps the WAL small.

/// ` LIMIT <count>` for a bound count. SQLite's planner reads a bare parameter there, and a
/// statement whose plan read a parameter goes stale whenever that parameter is bound again:
/// every run of it was parsed and planned anew (the vehicle page reader's query for 50 rows
/// of 10,000 took 58–82 µs instead of 28–34). Behind a cast the planner does not read it, and
/// the plans are the same (`bench/README.md`).
macro_rules! limit {
    ($count:literal) => {
        concat!(" LIMIT CAST(", $count, " AS INTEGER)")
    };
}

mod audit;
mod batch;
mod checkpoints;
mod feed;
mod handoff;
mod keys;
mod ledger;
mod lock;
mod maintenance;
mod occupancy;
mod restore;
mod schema;
mod scrub;
mod settings;
mod subjects;
mod time;
mod vehicles;
mod watchlist;

pub use lock::DatabaseLock;
pub(crate) use maintenance::check_integrity;
pub use maintenance::verify_file;
pub(crate) use schema::MIGRATOR;
pub use subjects::count_subject_in;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    ConnectOptions,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use super::{Store, StoreResult, private_files};
use crate::telemetry::metrics::PoolUsage;

/// Readers beyond this add memory without adding throughput on small machines.
const MAX_READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    path: std::path::PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
    /// For connections outside the pools (backups).
    options: SqliteConnectOptions,
    /// Registrations, written in groups by one task.
    registrations: batch::Registrations,
    /// Registrations just committed, for this process's feed reader.
    handoff: Arc<handoff::Handoff>,
    /// Checkpoints after single deletions (see `scrub`).
    scrubber: scrub::Scrubber,
    /// The connection the background checkpoints run on (see `checkpoints`).
    checkpointer: SqlitePool,
}

/// When a commit is on disk. Both survive a crash of the process (even `SIGKILL`); only `Full`
/// survives a power cut or a kernel crash, at the price of an fsync per commit (per group of
/// registrations, with group commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// `PRAGMA synchronous = FULL`: the WAL is synced at every commit.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: the WAL is synced at checkpoints only.
    Normal,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, durable across power loss, and brings its
    /// schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, Synchronous::Full).await
    }

    /// Like `open`, with the durability of commits chosen (`PARKING_SQLITE_SYNCHRONOUS`).
    pub async fn open_with(path: &Path, synchronous: Synchronous) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            private_files::create_dir(dir)?;
        }
        // SQLite gives the WAL and shared-memory files the database file's permissions, so a
        // private database file keeps all three private.
        private_files::ensure_private(path)?;
        for part in ["-wal", "-shm"] {
            private_files::restrict(&with_suffix(path, part))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            // Deleted rows are zeroed in their pages instead of lingering in free space
            // (see `scrub`).
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(5))
            .log_statements(tracing::log::LevelFilter::Off)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));

        // Neither pool pings a connection before lending it: for SQLite the ping is only a
        // round trip to the connection's worker thread, which cannot fail while that thread
        // lives, and it doubled the thread switches of every statement run on a pool
        // (bench/README.md). A connection a failed commit left unusable is caught on release.
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .test_before_acquire(false)
            .after_release(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options.clone().pragma(
                "wal_autocheckpoint",
                checkpoints::WRITER_AUTOCHECKPOINT.to_string(),
            ))
            .await?;
        schema::MIGRATOR.run(&writer).await?;
        let checkpointer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;

        let readers = std::thread::available_parallelism()
            .map_or(4, |n| n.get() as u32 * 2)
            .clamp(2, MAX_READERS);
        let options_for_backup = options.clone();
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .test_before_acquire(false)
            .connect_with(options.pragma("query_only", "ON"))
            .await?;
        let handoff = Arc::new(handoff::Handoff::default());
        Ok(Self {
            path: path.to_owned(),
            registrations: batch::start(
                writer.clone(),
                handoff.clone(),
                checkpoints::start(checkpointer.clone()),
            ),
            handoff,
            checkpointer,
            scrubber: scrub::start(writer.clone()),
            writer,
            reader,
            options: options_for_backup,
        })
    }

    /// Runs the migrations only (the `migrate` subcommand): `open` already does it.
    pub async fn migrate(path: &Path) -> StoreResult<()> {
        let store = Self::open(path).await?;
        store.close().await;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// One server per file (it holds the file's lock): its copies are the whole truth.
    fn shared(&self) -> bool {
        false
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// A committed write that changes nothing: it needs room in the WAL and writable storage.
    async fn writable(&self) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE system_config SET id = id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.checkpointer.close().await;
        self.writer.close().await;
    }

    fn pool_usage(&self) -> Vec<PoolUsage> {
        let usage = |pool: &'static str, p: &SqlitePool| PoolUsage {
            pool,
            size: p.size(),
            idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
        };
        vec![usage("writer", &self.writer), usage("reader", &self.reader)]
    }
}

/// Whether the writer connection can go back to the pool. When a commit fails for lack of
/// disk space (or a failing disk), SQLite rolls the transaction back itself; the driver's own
/// rollback then fails and it keeps counting the connection as inside a transaction, so every
/// later write on it would be refused. Such a connection is closed and a fresh one opened.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction's rollback is queued on the connection: let it run first.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing the writer connection: a failed commit left it unusable");
        return Ok(false);
    }
    Ok(true)
}

/// `path` with `suffix` appended to its file name (`parking.db` → `parking.db-wal`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod limit_tests {
    use rusqlite::{Connection, StatementStatus};

    /// How often SQLite re-prepared `sql` (with one parameter, the count) over runs binding
    /// the same count again.
    fn reprepares(sql: &str) -> i32 {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        let mut statement = db.prepare(sql).unwrap();
        for _ in 0..5 {
            statement.raw_bind_parameter(1, 50).unwrap();
            let mut rows = statement.raw_query();
            while rows.next().unwrap().is_some() {}
        }
        statement.get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn a_bound_limit_written_by_limit_does_not_make_its_statement_stale() {
        let bare = concat!("SELECT id FROM t ORDER BY id LIMIT", " ?1");
        assert_eq!(reprepares(bare), 5);
        assert_eq!(
            reprepares(concat!("SELECT id FROM t ORDER BY id", limit!("?1"))),
            0
        );
    }

    /// Every bound count in this backend's SQL goes through `limit!` (or is written as it
    /// writes it).
    #[test]
    fn no_statement_binds_a_bare_limit() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite");
        for file in std::fs::read_dir(folder).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // Spelled in two pieces, so that this file does not match itself.
            for bare in [concat!("LIMIT", " ?"), concat!("LIMIT", " \")")] {
                assert!(!text.contains(bare), "{}: `{bare}`", path.display());
            }
        }
    }
}
