//! What this process keeps in memory — the search index (with the live searches it feeds) and
//! the API key cache — is a copy of the database, kept in step by following the database's
//! change feed in commit order. Every change, whichever process or instance made it, reaches
//! the copies the same way; nothing in memory is the truth.
//!
//! A write waits until its own change has been applied here before it answers, so a client
//! that registers a vehicle and then searches for it finds it.

mod freshness;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use freshness::Asked;
pub use freshness::Freshness;

use crate::{
    domain::Vehicle,
    search::LiveSearch,
    service::KeyService,
    store::{Change, ChangeKind, FeedPosition, Store, StoreError, StoreResult},
    telemetry::{
        errors::{ErrorKind, report},
        metrics::Metrics,
        traces::SPANS,
    },
};

/// How often the feed is read when nothing wakes the reader: the bound on how late a change
/// made by another process shows here (another instance's changes usually wake it at once).
const POLL: Duration = Duration::from_millis(250);
/// Changes read at a time.
const BATCH: u32 = 1_000;
/// Vehicle rows read at a time when applying changes.
const ROWS: usize = 2_000;
/// How often this reader records its position, so changes it has read can be trimmed.
const HEARTBEAT: Duration = Duration::from_secs(5);

pub struct Projector {
    store: Arc<dyn Store>,
    live: LiveSearch,
    keys: KeyService,
    metrics: Arc<Metrics>,
    instance: String,
    position: FeedPosition,
    applied: Arc<watch::Sender<FeedPosition>>,
    /// Writes of this process waiting for their change.
    asked: Arc<Asked>,
    /// Changes made elsewhere (another instance), when the store can tell.
    nudge: Arc<Notify>,
}

impl Projector {
    /// A reader that starts at `start`: every change before it is already in `live` and in
    /// what `keys` will read.
    pub fn new(
        store: Arc<dyn Store>,
        live: LiveSearch,
        keys: KeyService,
        metrics: Arc<Metrics>,
        instance: String,
        start: FeedPosition,
        freshness: &Freshness,
    ) -> Self {
        let (applied, asked) = freshness.writer();
        applied.send_replace(start);
        Self {
            store,
            live,
            keys,
            metrics,
            instance,
            position: start,
            applied,
            asked,
            nudge: Arc::new(Notify::new()),
        }
    }

    /// Follows the feed until `stop`. A failure (the database unreachable) is retried: the
    /// position is kept, so nothing is lost or applied twice once the database is back.
    pub async fn run(mut self, stop: CancellationToken) {
        let listening = tokio::spawn({
            let store = self.store.clone();
            let nudge = self.nudge.clone();
            let stop = stop.clone();
            async move { store.listen_for_changes(nudge, stop).await }
        });
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut due = true;
        loop {
            let before = self.position;
            let read = if due { self.catch_up().await } else { Ok(()) };
            match read {
                Ok(()) => {
                    if failing_since.take().is_some() {
                        tracing::info!("the change feed is readable again");
                    }
                }
                Err(error) => {
                    // Reported once per outage, not at every retry.
                    if failing_since.is_none() {
                        report(
                            &self.metrics,
                            ErrorKind::Feed,
                            "cannot read the change feed; retrying",
                            &error,
                        );
                        failing_since = Some(tokio::time::Instant::now());
                    }
                }
            }
            // A write still waits on a change past what was applied (committed during the
            // read, or handed over after it): read again now, as its wake-up may be spent
            // already. Only after progress, so a failing read waits to be woken or to poll.
            if self.position > before && self.asked.waiting(self.position) {
                due = true;
                continue;
            }
            due = tokio::select! {
                () = stop.cancelled() => break,
                asked = self.asked.asked_for(self.position) => asked,
                () = self.nudge.notified() => true,
                () = tokio::time::sleep(POLL) => true,
                _ = heartbeat.tick() => {
                    let recorded = self.store.record_reader(&self.instance, self.position, Utc::now()).await;
                    if let Err(error) = recorded {
                        tracing::debug!(%error, "cannot record the feed position");
                    }
                    true
                }
            };
        }
        listening.abort();
    }

    /// Reads and applies every change committed so far.
    pub async fn catch_up(&mut self) -> StoreResult<()> {
        loop {
            let batch = match self.store.read_changes(self.position, BATCH).await {
                Err(StoreError::FeedTrimmed) => {
                    self.rebuild().await?;
                    continue;
                }
                other => other?,
            };
            let full = batch.changes.len() >= BATCH as usize;
            if !batch.changes.is_empty() {
                let span = tracing::info_span!(
                    target: SPANS,
                    "feed.apply",
                    changes = batch.changes.len()
                );
                self.apply(&batch.changes, batch.committed)
                    .instrument(span)
                    .await?;
            }
            self.position = batch.frontier;
            self.applied.send_replace(self.position);
            if !full {
                return Ok(());
            }
        }
    }

    /// `committed`: the rows of `changes`' vehicles as committed, when the store handed them
    /// over (see `FeedBatch::committed`).
    async fn apply(&self, changes: &[Change], committed: Option<Vec<Vehicle>>) -> StoreResult<()> {
        let mut vehicles = BTreeSet::new();
        let (mut retention, mut keys, mut capacity, mut watchlist) = (false, false, false, false);
        for change in changes {
            match &change.kind {
                ChangeKind::Vehicles(ids) => vehicles.extend(ids.iter().copied()),
                ChangeKind::Retention => retention = true,
                ChangeKind::Keys => keys = true,
                ChangeKind::Capacity => capacity = true,
                ChangeKind::Watchlist => watchlist = true,
            }
        }
        if retention {
            self.live
                .set_retention(self.store.retention().await?.period);
        }
        if capacity {
            self.live.set_capacity(self.store.capacity().await?);
        }
        // Before the vehicles: a registration committed after a watchlist change is matched
        // against the changed list.
        // (Entries expire with the retention period, so a retention change moves them too.)
        if watchlist || retention {
            self.live
                .set_watchlist(self.store.list_watch(Utc::now()).await?);
        }
        let ids: Vec<i64> = vehicles.into_iter().collect();
        match committed {
            Some(rows) => {
                // As `live_vehicles` would read them: the rows live now (`expires_at` is the
                // later of retention's end and a hold's).
                let now = Utc::now();
                let live = rows.into_iter().filter(|v| v.expires_at > now).collect();
                self.live.apply(&ids, live);
            }
            None => {
                for chunk in ids.chunks(ROWS) {
                    // The rows as they are now: whatever order changes to one vehicle came in,
                    // the copy ends up as the database is.
                    let rows = self.store.live_vehicles(chunk, Utc::now()).await?;
                    self.live.apply(chunk, rows);
                }
            }
        }
        if keys {
            self.keys.refresh().await?;
        }
        if let Some(last) = changes.last() {
            let lag = (Utc::now() - last.at).num_microseconds().unwrap_or(0);
            self.metrics.feed_applied(lag as f64 / 1e6);
        }
        Ok(())
    }

    /// Changes this reader had not read were trimmed (it was away too long): the copies are
    /// rebuilt from the tables, and live searches are told to search again.
    async fn rebuild(&mut self) -> StoreResult<()> {
        tracing::warn!("the change feed moved on without this instance; rebuilding its copies");
        let start = self.store.feed_frontier().await?;
        self.store
            .record_reader(&self.instance, start, Utc::now())
            .await?;
        self.live.reload(self.store.clone()).await?;
        self.keys.refresh().await?;
        self.position = start;
        self.applied.send_replace(start);
        Ok(())
    }
}
