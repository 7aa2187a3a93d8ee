//! Deleted personal data must not stay readable in the database's files. The writer runs with
//! `secure_delete`, so SQLite zeroes a row's bytes in its page (and zeroes pages it frees) as
//! the row is deleted or rewritten; but until a checkpoint copies the pages back, the database
//! file holds their old images and the WAL holds every earlier version. A `TRUNCATE`
//! checkpoint does both: the file gets the zeroed pages and the WAL is emptied.

use std::{sync::Arc, time::Duration};

use sqlx::SqlitePool;
use tokio::sync::Notify;

use crate::store::StoreResult;

/// Attempts before a checkpoint is left to the next deletion: a reader still on an older
/// snapshot holds it back, and readers here are short.
const ATTEMPTS: u32 = 20;
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// Deletions this close together share one checkpoint.
const GATHER: Duration = Duration::from_millis(50);

/// Checkpoints into the database file and truncates the WAL; `true` when nothing was left
/// behind (no reader held an older snapshot).
pub(crate) async fn checkpoint(writer: &SqlitePool) -> StoreResult<bool> {
    for attempt in 0..ATTEMPTS {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(writer)
            .await?;
        if busy == 0 {
            return Ok(true);
        }
        if attempt + 1 < ATTEMPTS {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
    Ok(false)
}

/// Asks the background task for a checkpoint: single deletions and updates do not wait for it.
#[derive(Clone)]
pub(crate) struct Scrubber(Arc<Notify>);

impl Scrubber {
    pub(crate) fn request(&self) {
        self.0.notify_one();
    }
}

/// Starts the task that checkpoints after deletions; it ends when the pool closes.
pub(crate) fn start(writer: SqlitePool) -> Scrubber {
    let wake = Arc::new(Notify::new());
    let waiting = wake.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = waiting.notified() => {}
                () = writer.close_event() => return,
            }
            tokio::time::sleep(GATHER).await;
            match checkpoint(&writer).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "a checkpoint after a deletion was held back by a reader; the next one retries"
                ),
                Err(_) if writer.is_closed() => return,
                Err(error) => tracing::warn!(%error, "checkpoint after a deletion failed"),
            }
        }
    });
    Scrubber(wake)
}
