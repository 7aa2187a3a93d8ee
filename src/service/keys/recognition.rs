//! Recognising presented keys without a database round trip per request, and remembering
//! when each key was last used without a database write per request.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use super::Caller;
use crate::{
    domain::ApiKeyHash,
    store::{Store, StoreError},
};

/// How long a key lookup is reused. The key watch drops revoked keys from the cache within
/// its period, and expiry is checked on every use, so this only bounds how stale an answer
/// can be if the watch stops; it also decides how long a key stays "known" and exempt from
/// being charged to its address first (see the `/api/v1` guard).
const CACHE_FOR: Duration = Duration::from_secs(60);
/// Only valid keys are cached, so random keys cannot flush it; this bounds it anyway.
const CACHE_ENTRIES: usize = 10_000;

/// Last-use times not written yet: `(key id, minute)`.
type PendingUses = Vec<(i64, DateTime<Utc>)>;

struct CachedKey {
    caller: Caller,
    checked: Instant,
    /// The last minute (Unix minutes) this key's use was recorded for.
    used_minute: AtomicI64,
}

#[derive(Clone)]
pub(super) struct Recognition {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<HashMap<String, Arc<CachedKey>>>>,
    uses: Arc<Mutex<PendingUses>>,
}

impl Recognition {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
            uses: Arc::default(),
        }
    }

    pub fn cached(&self, hash: &ApiKeyHash) -> Option<Caller> {
        let entry = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash.as_str())
            .cloned()?;
        let now = Utc::now();
        let fresh = entry.checked.elapsed() < CACHE_FOR
            && entry.caller.expires_at.is_none_or(|at| at > now);
        if !fresh {
            return None;
        }
        self.note_use(&entry, now);
        Some(entry.caller.clone())
    }

    pub async fn lookup(&self, hash: &ApiKeyHash) -> Result<Option<Caller>, StoreError> {
        let now = Utc::now();
        let Some(record) = self.store.find_active_api_key(hash.as_str(), now).await? else {
            return Ok(None);
        };
        let entry = Arc::new(CachedKey {
            caller: Caller::from(&record),
            checked: Instant::now(),
            used_minute: AtomicI64::new(record.last_used_at.map_or(0, minute_of)),
        });
        self.note_use(&entry, now);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(hash.as_str().to_owned(), entry.clone());
        Ok(Some(entry.caller.clone()))
    }

    /// Keeps only the cached keys for which `keep` holds.
    pub fn retain(&self, keep: impl Fn(&Caller) -> bool) {
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, entry| keep(&entry.caller));
    }

    /// Queues a last-use write the first time a key is used in a minute.
    fn note_use(&self, entry: &CachedKey, now: DateTime<Utc>) {
        let minute = minute_of(now);
        if entry.used_minute.fetch_max(minute, Ordering::AcqRel) < minute {
            let at = DateTime::from_timestamp(minute * 60, 0).unwrap_or(now);
            self.uses
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((entry.caller.key_id, at));
        }
    }

    pub async fn flush_uses(&self) -> Result<(), StoreError> {
        let uses = std::mem::take(&mut *self.uses.lock().unwrap_or_else(PoisonError::into_inner));
        self.store.record_key_use(&uses).await
    }
}

fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}
