//! Real-time search: an in-memory index kept in step with the database, queries ranked as the
//! contract states, and a bus that tells live searches what changed.

mod entry;
mod entry_order;
mod events;
mod index;
mod postings;
mod query;
#[cfg(test)]
mod test_support;

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicI64, Ordering},
    },
    time::Instant,
};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use events::{EventBus, VehicleEvent};
pub use index::{Hits, Live, Window};
pub use query::{Query, Searchable};

use crate::{
    domain::{Capacity, RetentionPeriod, Vehicle, WatchEntry, fold_lookalikes},
    store::{Store, StoreResult},
};

/// A search's answer, with the time the index took.
pub struct SearchResult {
    pub hits: Hits,
    pub took_us: u64,
}

/// The index, the bus and the retention period they apply. Cheap to clone.
#[derive(Clone)]
pub struct LiveSearch {
    inner: Arc<Inner>,
}

struct Inner {
    index: RwLock<index::Index>,
    retention_ms: AtomicI64,
    bus: EventBus,
    /// Wakes the expiry sweeper when the next expiry may have moved closer.
    changed: Notify,
    /// Whether this copy may answer point reads: only when no other server writes to the
    /// database, so that every change reaches it before its writer answers.
    authoritative: bool,
    /// The car park's capacity; 0 while none is set.
    capacity: AtomicI64,
    /// The occupancy last told to live searches, so that only changes are sent.
    told: std::sync::Mutex<Option<(i64, Option<i64>)>>,
    /// Watched plates by look-alike form: a copy of the database's watchlist.
    watchlist: RwLock<HashMap<String, Vec<WatchEntry>>>,
}

/// Vehicles swept out of the index per write lock.
const SWEEP_SLICE: usize = 1_000;

/// Rows loaded per query when the index is rebuilt at start-up.
const LOAD_PAGE: u32 = 10_000;

impl LiveSearch {
    pub fn new(retention: RetentionPeriod, bus: EventBus, authoritative: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                index: RwLock::new(index::Index::default()),
                retention_ms: AtomicI64::new(retention.duration().num_milliseconds()),
                bus,
                changed: Notify::new(),
                authoritative,
                capacity: AtomicI64::new(0),
                told: std::sync::Mutex::new(None),
                watchlist: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Builds the index from every live vehicle in the store.
    pub async fn load(store: Arc<dyn Store>, bus: EventBus) -> StoreResult<Self> {
        let live = Self::new(store.retention().await?.period, bus, !store.shared());
        live.set_capacity(store.capacity().await?);
        live.set_watchlist(store.list_watch(Utc::now()).await?);
        let index = Self::read_all(store).await?;
        *live.write() = index;
        live.tell_occupancy();
        Ok(live)
    }

    /// Whether this copy answers point reads (see `Inner::authoritative`).
    pub fn authoritative(&self) -> bool {
        self.inner.authoritative
    }

    /// Replaces the index with one read afresh from the store, and tells live searches to
    /// search again.
    pub async fn reload(&self, store: Arc<dyn Store>) -> StoreResult<()> {
        self.set_retention(store.retention().await?.period);
        self.set_capacity(store.capacity().await?);
        self.set_watchlist(store.list_watch(Utc::now()).await?);
        let index = Self::read_all(store).await?;
        *self.write() = index;
        self.inner.changed.notify_one();
        self.inner.bus.publish(VehicleEvent::Reset);
        self.tell_occupancy();
        Ok(())
    }

    /// Every live vehicle in the store, indexed. Pages are read from the database while the
    /// previous page is being indexed, so both cores are busy.
    async fn read_all(store: Arc<dyn Store>) -> StoreResult<index::Index> {
        let started = Instant::now();
        let now = Utc::now();
        let (pages, mut arriving) = tokio::sync::mpsc::channel::<Vec<Vehicle>>(2);
        // The index is built, then shrunk, on one thread from start to end, off the async
        // workers (it is CPU work). The allocator keeps a heap per thread: built a page at a
        // time on whichever of the blocking pool's threads was free, the index was spread
        // over several heaps, each left with the holes of the blocks its lists grew out of
        // (at a million vehicles, 206–210 bytes a vehicle settled against 190–192 so, two
        // rounds each).
        let building = tokio::task::spawn_blocking(move || {
            let mut index = index::Index::default();
            while let Some(page) = arriving.blocking_recv() {
                for vehicle in &page {
                    index.upsert(vehicle);
                }
            }
            index.shrink();
            index
        });
        let mut after = None;
        loop {
            let page = store.load_page(after, LOAD_PAGE, now).await?;
            let next = (page.len() == LOAD_PAGE as usize)
                .then(|| page.last())
                .flatten()
                .map(|last| crate::store::VehicleCursor {
                    entry_ms: last.entry_time.timestamp_millis(),
                    id: last.id,
                });
            if pages.send(page).await.is_err() {
                break;
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        drop(pages);
        let index = building
            .await
            .map_err(|e| crate::store::StoreError::Io(std::io::Error::other(e)))?;
        tracing::info!(
            vehicles = index.len(),
            millis = started.elapsed().as_millis() as u64,
            "search index loaded"
        );
        Ok(index)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, index::Index> {
        // A panic while holding the lock cannot leave the index half-updated in a way that
        // matters more than stopping search altogether, so a poisoned lock is still used.
        self.inner
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, index::Index> {
        self.inner
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn retention_ms(&self) -> i64 {
        self.inner.retention_ms.load(Ordering::Relaxed)
    }

    /// What is live now, and the retention period it used: every read of the index goes
    /// through here, so none can return an expired vehicle.
    fn live_now(&self) -> Live {
        let retention_ms = self.retention_ms();
        let now_ms = Utc::now().timestamp_millis();
        Live {
            cutoff_ms: now_ms - retention_ms,
            now_ms,
            retention_ms,
        }
    }

    /// Ranked matches, `offset`/`limit` paged, optionally only those that entered within
    /// `window`; expired vehicles never appear.
    pub fn search(
        &self,
        query: Option<&Query>,
        window: Window,
        offset: usize,
        limit: usize,
    ) -> SearchResult {
        let started = Instant::now();
        let live = self.live_now();
        let hits = self.read().search(query, window, live, offset, limit);
        SearchResult {
            hits,
            took_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// The parked plates that differ from `plate` only by look-alike characters, from memory.
    pub fn similar_plates(&self, plate: &str) -> Vec<String> {
        self.read()
            .similar_plates(plate, Window::default(), self.live_now())
    }

    /// The live vehicle with this plate, from memory (the index holds every plate).
    pub fn find_plate(&self, plate: &str) -> Option<Vehicle> {
        self.read()
            .find_plate(plate, Window::default(), self.live_now())
    }

    /// Keyset listing over the index (see `Index::list`), live vehicles only.
    pub fn list(&self, filter: &crate::store::VehicleFilter) -> Vec<Vehicle> {
        let window = Window {
            after_ms: filter.entered_after.map(|a| a.timestamp_millis()),
            before_ms: filter.entered_before.map(|b| b.timestamp_millis()),
        };
        let descending = filter.order == crate::store::ListOrder::EntryDesc;
        let after = filter.after.map(|c| (c.entry_ms, c.id));
        self.read().list(
            window,
            descending,
            after,
            filter.limit as usize,
            self.live_now(),
        )
    }

    /// The retention period in force.
    pub fn retention(&self) -> RetentionPeriod {
        RetentionPeriod::from_hours(self.retention_ms() / 3_600_000).unwrap_or_default()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<VehicleEvent> {
        self.inner.bus.subscribe()
    }

    /// Brings the vehicles `ids` in line with `rows`, their live rows as the database holds
    /// them now (an id without a row was deleted or has expired), and tells live searches what
    /// changed. Only the change feed calls this.
    pub fn apply(&self, ids: &[i64], rows: Vec<Vehicle>) {
        let mut events = Vec::new();
        let mut alerts = Vec::new();
        let mut sooner = false;
        {
            let mut index = self.write();
            let present: std::collections::HashSet<i64> = rows.iter().map(|v| v.id).collect();
            for id in ids.iter().filter(|id| !present.contains(id)) {
                if let Some(gone) = index.remove(*id) {
                    events.push(VehicleEvent::Removed {
                        vehicle: Arc::new(gone),
                    });
                }
            }
            for vehicle in rows {
                let entry_ms = vehicle.entry_time.timestamp_millis();
                // Only an entry older than all others, or a hold (placed, changed or lifted),
                // moves the next expiry closer.
                sooner |= vehicle.hold.is_some()
                    || index
                        .oldest_entry_ms()
                        .is_none_or(|oldest| entry_ms < oldest);
                let previous = index.upsert(&vehicle);
                sooner |= previous.as_ref().is_some_and(|p| p.hold.is_some());
                // A change read twice (a reader catching up from an earlier position) is no
                // news.
                if previous.as_ref() == Some(&vehicle) {
                    continue;
                }
                let vehicle = Arc::new(vehicle);
                if previous.is_none() {
                    alerts.extend(self.watch_alerts(&vehicle));
                }
                events.push(VehicleEvent::Upserted {
                    vehicle,
                    previous: previous.map(Arc::new),
                });
            }
        }
        if sooner {
            self.inner.changed.notify_one();
        }
        for event in events.into_iter().chain(alerts) {
            self.inner.bus.publish(event);
        }
        self.tell_occupancy();
    }

    /// Alerts for a newly registered vehicle: one per live watchlist entry of its look-alike
    /// form.
    fn watch_alerts(&self, vehicle: &Arc<Vehicle>) -> Vec<VehicleEvent> {
        let watchlist = self
            .inner
            .watchlist
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if watchlist.is_empty() {
            return Vec::new();
        }
        let now = Utc::now();
        watchlist
            .get(&fold_lookalikes(&vehicle.number_plate))
            .into_iter()
            .flatten()
            .filter(|entry| entry.expires_at > now)
            .map(|entry| VehicleEvent::Alert {
                vehicle: vehicle.clone(),
                note: Arc::from(entry.note.as_str()),
            })
            .collect()
    }

    /// Replaces the copy of the watchlist.
    pub fn set_watchlist(&self, entries: Vec<WatchEntry>) {
        let mut by_form: HashMap<String, Vec<WatchEntry>> = HashMap::new();
        for entry in entries {
            by_form
                .entry(entry.plate_folded.clone())
                .or_default()
                .push(entry);
        }
        *self
            .inner
            .watchlist
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = by_form;
    }

    /// Vehicles parked now (expired ones never count).
    pub fn parked(&self) -> i64 {
        let total = self
            .read()
            .search(None, Window::default(), self.live_now(), 0, 0)
            .total;
        i64::try_from(total).unwrap_or(i64::MAX)
    }

    pub fn capacity(&self) -> Option<i64> {
        Some(self.inner.capacity.load(Ordering::Relaxed)).filter(|&c| c > 0)
    }

    /// The capacity changed (or is read at start-up); live searches hear of a change.
    pub fn set_capacity(&self, capacity: Option<Capacity>) {
        self.inner
            .capacity
            .store(capacity.map_or(0, Capacity::places), Ordering::Relaxed);
        self.tell_occupancy();
    }

    /// Tells live searches the occupancy if it differs from what they were last told.
    fn tell_occupancy(&self) {
        let now = (self.parked(), self.capacity());
        let mut told = self
            .inner
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *told != Some(now) {
            // The first value is what searches start from, not news.
            if told.is_some() {
                self.inner.bus.publish(VehicleEvent::Occupancy {
                    parked: now.0,
                    capacity: now.1,
                });
            }
            *told = Some(now);
        }
    }

    fn publish_removed(&self, gone: Vec<Vehicle>) {
        for vehicle in gone {
            self.inner.bus.publish(VehicleEvent::Removed {
                vehicle: Arc::new(vehicle),
            });
        }
    }

    /// The retention period changed: expiry moves, possibly to now.
    pub fn set_retention(&self, retention: RetentionPeriod) {
        self.inner
            .retention_ms
            .store(retention.duration().num_milliseconds(), Ordering::Relaxed);
        self.inner.changed.notify_one();
    }

    /// Removes vehicles at the moment they expire and tells live searches, until `stop`.
    pub async fn sweep_expired(&self, stop: CancellationToken) {
        loop {
            let Live {
                now_ms, cutoff_ms, ..
            } = self.live_now();
            // In slices, so that a retention cut that expires a million vehicles at once never
            // holds searches and reads up for long.
            let mut swept = false;
            loop {
                let gone = self.write().remove_expired(cutoff_ms, now_ms, SWEEP_SLICE);
                let done = gone.len() < SWEEP_SLICE;
                swept |= !gone.is_empty();
                self.publish_removed(gone);
                if done {
                    break;
                }
                tokio::task::yield_now().await;
            }
            // Once per sweep, not per slice: counting what is parked counts the expired
            // vehicles not swept out yet, all of them after a retention cut.
            if swept {
                self.tell_occupancy();
            }
            let next = self
                .read()
                .next_expiry_ms(self.retention_ms(), now_ms)
                .map(|at| at - now_ms);
            // Wake at the next expiry (at most every 50 ms, at least every minute), or sooner
            // if a change may have brought it closer.
            let wait = next.unwrap_or(60_000).clamp(50, 60_000);
            let wait = std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(50));
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.inner.changed.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Vehicles in the index (expired ones are swept out within ~50 ms).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}
