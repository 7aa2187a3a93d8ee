//! How many live-search connections are open, in all and per API key, so that neither the
//! server nor one key can be swamped.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server's limit (`PARKING_WS_MAX_CONNECTIONS`).
    ServerFull,
    /// This key's limit (`PARKING_WS_MAX_CONNECTIONS_PER_KEY`).
    KeyFull,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_key: HashMap<i64, usize>,
}

#[derive(Clone)]
pub struct ConnectionSlots {
    counts: Arc<Mutex<Counts>>,
    max: usize,
    max_per_key: usize,
}

impl ConnectionSlots {
    pub fn new(max: usize, max_per_key: usize) -> Self {
        Self {
            counts: Arc::default(),
            max,
            max_per_key,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Takes a slot for a connection of `key_id`, held until the returned guard drops.
    pub fn take(&self, key_id: i64) -> Result<Slot, Refusal> {
        let mut counts = self.lock();
        if counts.total >= self.max {
            return Err(Refusal::ServerFull);
        }
        let mine = counts.per_key.entry(key_id).or_default();
        if *mine >= self.max_per_key {
            return Err(Refusal::KeyFull);
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot {
            slots: self.clone(),
            key_id,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open connection; gives its slot back when dropped.
pub struct Slot {
    slots: ConnectionSlots,
    key_id: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_key.get_mut(&self.key_id) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.per_key.remove(&self.key_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_in_all_and_per_key_and_slots_come_back() {
        let slots = ConnectionSlots::new(3, 2);
        let a1 = slots.take(1).unwrap();
        let _a2 = slots.take(1).unwrap();
        assert_eq!(slots.take(1).err(), Some(Refusal::KeyFull));
        let _b1 = slots.take(2).unwrap();
        assert_eq!(slots.take(3).err(), Some(Refusal::ServerFull));
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.take(1).unwrap();
        assert_eq!(slots.open(), 3);
    }
}
