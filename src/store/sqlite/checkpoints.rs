//! WAL checkpoints on a connection of their own.
//!
//! SQLite copies the WAL back into the database file on the connection that commits, once the
//! WAL passes a size (1,000 pages by default): on the writer, every registration queued behind
//! that copy and its two fsyncs (at `synchronous=normal` the writer's thread was blocked in
//! `fsync` in 18% of samples, bench/README.md). Here a task with a connection of its own runs
//! a `PASSIVE` checkpoint after every thousand or so registrations, while the writer carries on.
//!
//! The writer's own automatic checkpoint stays, at a larger size (`WRITER_AUTOCHECKPOINT`), as
//! the bound on the WAL: SQLite starts the WAL over only when a write begins with every frame
//! copied back, which a checkpoint running beside a busy writer never achieves. Under
//! sustained writes the writer's checkpoint does it, and finds most pages copied already.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use sqlx::SqlitePool;
use tokio::sync::Notify;

/// Registrations between two background checkpoints: about 1,200 WAL pages under load, near
/// SQLite's own 1,000. At 256 the checkpoints ran 37 times a second under durable load, each
/// syncing the database file and copying the same hot pages again, and durable registration
/// cost 82 µs of CPU against 78 at 1,024 (bench/README.md).
const EVERY: usize = 1024;

/// Pages of WAL after which the writer checkpoints on its own (`PRAGMA wal_autocheckpoint`):
/// only when the background checkpoints fall behind.
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 10_000;

/// Counts registrations and wakes the checkpoint task when enough have been written.
#[derive(Default)]
pub(crate) struct Checkpoints {
    pending: AtomicUsize,
    wake: Notify,
}

impl Checkpoints {
    /// `rows` registrations were committed.
    pub(crate) fn wrote(&self, rows: usize) {
        if self.pending.fetch_add(rows, Ordering::Relaxed) + rows >= EVERY {
            self.wake.notify_one();
        }
    }
}

/// Starts the checkpoint task on `connection` (a pool of one); it ends when that pool closes.
pub(crate) fn start(connection: SqlitePool) -> Arc<Checkpoints> {
    let checkpoints = Arc::new(Checkpoints::default());
    let task = checkpoints.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = task.wake.notified() => {}
                () = connection.close_event() => return,
            }
            // Registrations committed from here on count towards the next checkpoint.
            task.pending.store(0, Ordering::Relaxed);
            let result: Result<(i64, i64, i64), _> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&connection)
                    .await;
            match result {
                Ok((_, log, copied)) => tracing::debug!(log, copied, "checkpoint"),
                Err(_) if connection.is_closed() => return,
                // The writer's own checkpoint still bounds the WAL.
                Err(error) => tracing::warn!(%error, "background checkpoint failed"),
            }
        }
    });
    checkpoints
}
