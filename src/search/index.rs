//! The in-memory search index over parked vehicles.
//!
//! Trigram posting lists over the folded plate, the lower-cased name and the phone digits
//! answer queries of 3+ characters by verifying only the candidates of the query's rarest
//! trigram; shorter queries scan. Entries are also ordered by entry time, for "latest first"
//! and for expiry. The index holds what the database holds, minus vehicles already swept out
//! at expiry; every query still applies the retention cut-off itself. The few vehicles under
//! a legal hold are kept aside by id: one past its retention stays live until its hold ends.

use std::{
    collections::HashMap,
    hash::BuildHasher,
    ops::Bound::{Excluded, Included, Unbounded},
};

use chrono::{DateTime, Utc};

use super::{
    entry::Entry,
    entry_order::{EntryOrder, Key},
    postings::Postings,
    query::{Query, Rank, TRIGRAM},
};
use crate::domain::{
    MAX_PLATE_BYTES, Vehicle, VehicleHold, expiry, fold_lookalikes, fold_lookalikes_into,
    same_when_folded,
};

/// Candidates gathered from memory at a time before they are ranked: enough to keep the
/// processor's outstanding reads busy, few enough that they are still cached when ranked.
const GATHER: usize = 64;

/// The bytes of an entry's text that ranking by plate reads: a head of four bytes and a plate
/// of up to twelve (see `Entry`).
const RANKED_BYTES: usize = 16;

const FIELDS: [Field; 3] = [Field::Plate, Field::Name, Field::Phone];
/// Postings of compaction a removal pays for: ten times the 26 a vehicle holds on average, so
/// that a round of compaction, which starts once stale postings outnumber live ones and reads
/// every list, ends long before removals could make the next one due.
const COMPACTED_PER_CALL: usize = 256;

/// Which field a trigram came from; each has its own posting lists.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Plate = 0,
    Name = 1,
    Phone = 2,
}

/// Entry times a search is limited to, both exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub after_ms: Option<i64>,
    pub before_ms: Option<i64>,
}

impl Window {
    fn contains(&self, entry_ms: i64) -> bool {
        self.after_ms.is_none_or(|a| entry_ms > a) && self.before_ms.is_none_or(|b| entry_ms < b)
    }
}

/// What is live at the moment a read is made: vehicles that entered after `cutoff_ms`, and
/// held ones whose hold ends after `now_ms`; `retention_ms` gives their `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    pub cutoff_ms: i64,
    pub now_ms: i64,
    pub retention_ms: i64,
}

/// A hold as the index keeps it, beside the entry.
struct Held {
    until_ms: i64,
    reason: Box<str>,
}

/// One page of ranked matches and how many match in all.
pub struct Hits {
    pub items: Vec<Vehicle>,
    pub total: usize,
}

#[derive(Default)]
pub struct Index {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Id → slot. Only the slot is stored; the id is its entry's (a map holding both cost 16
    /// bytes an entry, at twice the slots for its load factor).
    by_id: hashbrown::HashTable<u32>,
    /// Folded plate → slots (one per vehicle; look-alike plates share a key): the parked
    /// plates a registration may have been misread from, and the one with exactly a plate,
    /// for point reads in constant time. Only the slot is stored; the plate is its entry's.
    /// (A second table for exact plates cost 10.5 bytes a vehicle; look-alikes are few, so
    /// finding the exact plate among its folded key's slots costs next to nothing.)
    by_folded: hashbrown::HashTable<u32>,
    /// For the tables above that keep slots alone.
    hasher: hashbrown::DefaultHashBuilder,
    /// Slots in (entry time, id) order: "latest first", keyset pages and expiry. A page reads
    /// its rows' entries straight from their slots, with no id lookup per vehicle.
    by_entry: EntryOrder,
    /// Per field: three characters packed into one integer → slots holding them. Removal
    /// leaves postings behind (taking a slot out of a list of a hundred thousand would cost
    /// far more than the request); every candidate is verified anyway, and the lists are
    /// rebuilt once stale postings outnumber live ones.
    trigrams: [HashMap<u64, Postings>; 3],
    live_postings: usize,
    stale_postings: usize,
    /// Lists still to be compacted, each in turn once removals have paid for it, so that no
    /// single write holds readers up for long.
    to_compact: Vec<(Field, u64)>,
    /// Postings of compaction the removals since it started have paid for and not used.
    compaction_earned: usize,
    /// Vehicles under a legal hold, by id: a handful, so a map beside the entries costs the
    /// million others nothing.
    holds: HashMap<i64, Held>,
}

impl Index {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds or replaces a vehicle (by id); returns the version it replaced.
    pub fn upsert(&mut self, vehicle: &Vehicle) -> Option<Vehicle> {
        let previous = self.remove(vehicle.id);
        let entry = Entry::new(vehicle);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let keys = keys(&entry);
        self.live_postings += keys.len();
        for (field, key) in keys {
            self.trigrams[field as usize]
                .entry(key)
                .or_default()
                .push(slot);
        }
        let key = (entry.entry_ms, entry.id);
        let slots = &self.slots;
        self.by_entry.insert(key, slot, |s| order_key(slots, s));
        if let Some(hold) = &vehicle.hold {
            self.holds.insert(
                entry.id,
                Held {
                    until_ms: hold.until.timestamp_millis(),
                    reason: hold.reason.as_str().into(),
                },
            );
        }
        let folded_hash = folded_hash_of(&self.hasher, entry.plate());
        let id_hash = self.hasher.hash_one(entry.id);
        self.slots[slot as usize] = Some(entry);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_id
            .insert_unique(id_hash, slot, |&s| hasher.hash_one(id_of(slots, s)));
        let plate_of = |s: u32| {
            slots
                .get(s as usize)
                .and_then(Option::as_ref)
                .map(Entry::plate)
        };
        self.by_folded.insert_unique(folded_hash, slot, |&s| {
            folded_hash_of(hasher, plate_of(s).unwrap_or_default())
        });
        previous
    }

    /// Removes a vehicle; returns its plate, name and phone if it was there.
    pub fn remove(&mut self, id: i64) -> Option<Vehicle> {
        let slots = &self.slots;
        let (slot, _) = self
            .by_id
            .find_entry(self.hasher.hash_one(id), |&s| id_of(slots, s) == id)
            .ok()?
            .remove();
        let folded_hash = folded_hash_of(
            &self.hasher,
            self.slots.get(slot as usize)?.as_ref()?.plate(),
        );
        if let Ok(mapped) = self.by_folded.find_entry(folded_hash, |&s| s == slot) {
            mapped.remove();
        }
        // While the entry is in its slot: the order finds it by its key.
        let slots = &self.slots;
        let ordered = self
            .by_entry
            .remove(order_key(slots, slot), slot, |s| order_key(slots, s));
        debug_assert!(ordered, "every held slot is in the entry order");
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        let vehicle = self.vehicle(&entry, 0);
        self.holds.remove(&id);
        let postings = keys(&entry).len();
        self.live_postings -= postings.min(self.live_postings);
        self.stale_postings += postings;
        self.free.push(slot);
        self.compact_some();
        Some(vehicle)
    }

    /// Whether a vehicle held at `now_ms` (its hold has not ended).
    fn held_at(&self, id: i64, now_ms: i64) -> bool {
        !self.holds.is_empty() && self.holds.get(&id).is_some_and(|h| h.until_ms > now_ms)
    }

    /// Whether `entry` is live and within `window`.
    fn visible(&self, entry: &Entry, window: &Window, live: &Live) -> bool {
        window.contains(entry.entry_ms)
            && (entry.entry_ms > live.cutoff_ms || self.held_at(entry.id, live.now_ms))
    }

    /// The exclusive lower bound of entry times a range scan over `window` must start from:
    /// the cut-off, or just before the oldest vehicle a hold keeps past it.
    fn floor(&self, window: &Window, live: &Live) -> i64 {
        let held = self
            .holds
            .iter()
            .filter(|(_, h)| h.until_ms > live.now_ms)
            .filter_map(|(id, _)| self.entry_of(*id))
            .map(|entry| entry.entry_ms)
            .min();
        let live_floor = match held {
            Some(oldest) if oldest <= live.cutoff_ms => oldest - 1,
            _ => live.cutoff_ms,
        };
        window.after_ms.map_or(live_floor, |a| a.max(live_floor))
    }

    fn entry_at(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize)?.as_ref()
    }

    fn entry_of(&self, id: i64) -> Option<&Entry> {
        let slot = self
            .by_id
            .find(self.hasher.hash_one(id), |&s| id_of(&self.slots, s) == id)?;
        self.slots.get(*slot as usize)?.as_ref()
    }

    /// Removes and returns at most `max` of the vehicles expired at `now_ms`: entered at or
    /// before `cutoff_ms`, and not held.
    pub fn remove_expired(&mut self, cutoff_ms: i64, now_ms: i64, max: usize) -> Vec<Vehicle> {
        let expired: Vec<i64> = self
            .by_entry
            .range(Unbounded, Included((cutoff_ms, i64::MAX)), |s| {
                order_key(&self.slots, s)
            })
            .filter_map(|slot| self.entry_at(slot).map(|entry| entry.id))
            .filter(|&id| !self.held_at(id, now_ms))
            .take(max)
            .collect();
        expired
            .into_iter()
            .filter_map(|id| self.remove(id))
            .collect()
    }

    /// When the next vehicle expires (ms), if any: the oldest one not held, at the end of its
    /// retention, or a held one, at the end of its hold or retention, whichever is later.
    pub fn next_expiry_ms(&self, retention_ms: i64, now_ms: i64) -> Option<i64> {
        let unheld = self
            .by_entry
            .iter()
            .filter_map(|slot| self.entry_at(slot))
            .find(|entry| !self.held_at(entry.id, now_ms))
            .map(|entry| entry.entry_ms + retention_ms);
        let held = self
            .holds
            .iter()
            .filter(|(_, h)| h.until_ms > now_ms)
            .filter_map(|(id, h)| {
                Some((self.entry_of(*id)?.entry_ms + retention_ms).max(h.until_ms))
            })
            .min();
        unheld.into_iter().chain(held).min()
    }

    /// The vehicle with exactly this (normalised) plate, if it is live and within `window`.
    /// One plate, one vehicle: should the copy briefly hold an older vehicle with the same
    /// plate (its removal not applied yet), the newer registration (the higher id) is the
    /// one found.
    pub fn find_plate(&self, plate: &str, window: Window, live: Live) -> Option<Vehicle> {
        let slots = &self.slots;
        self.by_folded
            .iter_hash(folded_hash_of(&self.hasher, plate))
            .filter_map(|&s| slots.get(s as usize).and_then(Option::as_ref))
            .filter(|entry| entry.plate() == plate)
            .max_by_key(|entry| entry.id)
            .filter(|entry| self.visible(entry, &window, &live))
            .map(|entry| self.vehicle(entry, live.retention_ms))
    }

    /// The other live plates within `window` that differ from `plate` only by look-alike
    /// characters, sorted.
    pub fn similar_plates(&self, plate: &str, window: Window, live: Live) -> Vec<String> {
        let slots = &self.slots;
        let mut similar: Vec<String> = self
            .by_folded
            .iter_hash(folded_hash_of(&self.hasher, plate))
            .filter_map(|&s| slots.get(s as usize).and_then(Option::as_ref))
            .filter(|entry| {
                entry.plate() != plate
                    && self.visible(entry, &window, &live)
                    && same_when_folded(entry.plate(), plate)
            })
            .map(|entry| entry.plate().to_owned())
            .collect();
        similar.sort_unstable();
        similar.dedup();
        similar
    }

    /// Drops postings of emptied slots once they outnumber live ones, a bounded amount per
    /// call: each removal earns `COMPACTED_PER_CALL` postings of compaction, and a list is
    /// compacted once what has been earned covers its length, so compaction costs as much as
    /// the removals that made it necessary, spread over them. Postings of slots reused since
    /// stay until verified away.
    ///
    /// Counted in postings, not lists: a list of a trigram most vehicles share holds hundreds
    /// of thousands, and sixteen lists a removal, whatever their length, held readers up for
    /// over a second while a million expired vehicles were swept out (`bench/README.md`).
    fn compact_some(&mut self) {
        if self.to_compact.is_empty() {
            if self.stale_postings <= self.live_postings.max(1024) {
                return;
            }
            self.to_compact = (0..3)
                .flat_map(|f| self.trigrams[f].keys().map(move |&key| (FIELDS[f], key)))
                .collect();
            self.stale_postings = 0;
            self.compaction_earned = 0;
        }
        self.compaction_earned += COMPACTED_PER_CALL;
        while let Some(&(field, key)) = self.to_compact.last() {
            let lists = &mut self.trigrams[field as usize];
            let list = lists.get_mut(&key);
            let cost = list.as_ref().map_or(1, |list| list.len().max(1));
            if cost > self.compaction_earned {
                return;
            }
            self.compaction_earned -= cost;
            self.to_compact.pop();
            if let Some(list) = list {
                let slots = &self.slots;
                list.retain(|slot| slots.get(slot as usize).is_some_and(Option::is_some));
                if list.is_empty() {
                    lists.remove(&key);
                } else {
                    list.shrink();
                }
            }
        }
    }

    /// Returns spare capacity after a bulk load: posting lists grow by doubling, and the
    /// entry order, built one insertion at a time, leaves runs half full where it split them.
    pub fn shrink(&mut self) {
        for lists in &mut self.trigrams {
            for list in lists.values_mut() {
                list.shrink();
            }
            lists.shrink_to_fit();
        }
        self.slots.shrink_to_fit();
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_id
            .shrink_to_fit(|&s| hasher.hash_one(id_of(slots, s)));
        let plate_of = |s: u32| {
            slots
                .get(s as usize)
                .and_then(Option::as_ref)
                .map(Entry::plate)
                .unwrap_or_default()
        };
        self.by_folded
            .shrink_to_fit(|&s| folded_hash_of(hasher, plate_of(s)));
        self.by_entry.shrink(|s| order_key(slots, s));
    }

    /// The earliest entry time held, if any: when the next expiry happens.
    pub fn oldest_entry_ms(&self) -> Option<i64> {
        self.by_entry
            .first()
            .and_then(|slot| self.entry_at(slot))
            .map(|entry| entry.entry_ms)
    }

    /// Ranked matches for `query` (`None`: every vehicle, latest first) among the live ones
    /// that entered within `window`, skipping `offset`, at most `limit`.
    pub fn search(
        &self,
        query: Option<&Query>,
        window: Window,
        live: Live,
        offset: usize,
        limit: usize,
    ) -> Hits {
        let Some(query) = query else {
            return self.latest(window, live, offset, limit);
        };
        let visible = |entry: &Entry| self.visible(entry, &window, &live);
        let candidates = query.indexable().then(|| self.candidates(query));
        // Sized once for the candidates: growing it by doubling copied it several times a
        // search. A scan's hits are not known in advance.
        let mut hits: Vec<(Rank, i64, i64, u32)> =
            Vec::with_capacity(candidates.as_ref().map_or(0, Vec::len));
        let mut consider = |slot: u32| {
            if let Some(entry) = self.slots.get(slot as usize).and_then(Option::as_ref)
                && visible(entry)
                && let Some(rank) = entry.rank(query)
            {
                hits.push((rank, -entry.entry_ms, -entry.id, slot));
            }
        };
        if let Some(candidates) = candidates {
            for chunk in candidates.chunks(GATHER) {
                self.gather(chunk);
                for &slot in chunk {
                    consider(slot);
                }
            }
        } else {
            for slot in 0..self.slots.len() {
                consider(u32::try_from(slot).unwrap_or(u32::MAX));
            }
        }
        let total = hits.len();
        let wanted = offset.saturating_add(limit).min(total);
        if wanted < total && wanted > 0 {
            hits.select_nth_unstable(wanted - 1);
        }
        hits.truncate(wanted);
        hits.sort_unstable();
        let items = hits
            .iter()
            .skip(offset)
            .filter_map(|&(_, _, _, slot)| self.slots[slot as usize].as_ref())
            .map(|entry| self.vehicle(entry, live.retention_ms))
            .collect();
        Hits { items, total }
    }

    /// Reads the entries in `slots` and then the start of their text, each in a loop of reads
    /// that do not depend on one another, so that the processor has many of them in flight
    /// at once and ranking finds them in its cache. Ranking a candidate depends on two reads
    /// from memory (the entry, then its text) that would otherwise be waited for one after
    /// the other: a `perf` profile at 1,000,000 vehicles found most of the ranking loop's time
    /// waiting on them. Only the text's first `RANKED_BYTES` are read, which hold the head
    /// and the plate of nearly every vehicle: ranking reads no further unless the plate does
    /// not match (`Entry::rank`), and a text's end often lies in the next cache line, a
    /// second wait per candidate.
    fn gather(&self, slots: &[u32]) {
        let entries = || {
            slots
                .iter()
                .filter_map(|&slot| self.slots.get(slot as usize).and_then(Option::as_ref))
        };
        // An entry or a text may straddle two cache lines: each byte ranking reads is read.
        let mut sink = 0u64;
        for entry in entries() {
            sink ^= entry.id as u64 ^ entry.entry_ms as u64 ^ entry.text().len() as u64;
        }
        for entry in entries() {
            let text = entry.text().as_bytes();
            let reach = text.len().min(RANKED_BYTES).saturating_sub(1);
            let (first, last) = (text.first(), text.get(reach));
            sink ^=
                u64::from(first.copied().unwrap_or_default() ^ last.copied().unwrap_or_default());
        }
        std::hint::black_box(sink);
    }

    /// Candidate slots: for each searched field, the posting list of its rarest trigram,
    /// merged without duplicates. Every candidate is verified by the caller.
    fn candidates(&self, query: &Query) -> Vec<u32> {
        let mut fields: Vec<(Field, &str)> = vec![(Field::Name, &query.name)];
        if let Some(plate) = &query.plate_folded {
            fields.push((Field::Plate, plate));
        }
        if let Some(digits) = &query.digits {
            fields.push((Field::Phone, digits));
        }
        let mut slots: Vec<u32> = Vec::new();
        for (field, text) in fields {
            let lists = &self.trigrams[field as usize];
            let rarest = trigram_keys(text)
                .map(|key| lists.get(&key))
                .min_by_key(|list| list.map_or(0, Postings::len));
            if let Some(Some(list)) = rarest {
                list.decode_into(&mut slots);
            }
        }
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// Live vehicles within `window` in entry order (newest first when `descending`), after
    /// the (entry time, id) position `after`, at most `limit`: keyset pagination over the
    /// index.
    pub fn list(
        &self,
        window: Window,
        descending: bool,
        after: Option<(i64, i64)>,
        limit: usize,
        live: Live,
    ) -> Vec<Vehicle> {
        // Both bounds exclusive, as (entry time, id) positions.
        let mut lower = Some((self.floor(&window, &live), i64::MAX));
        let mut upper = window.before_ms.map(|b| (b, i64::MIN));
        match (after, descending) {
            (Some(cursor), true) => upper = Some(upper.map_or(cursor, |u| u.min(cursor))),
            (Some(cursor), false) => lower = Some(lower.map_or(cursor, |l| l.max(cursor))),
            (None, _) => {}
        }
        if let (Some(l), Some(u)) = (lower, upper)
            && l >= u
        {
            return Vec::new();
        }
        let range = self.by_entry.range(
            lower.map_or(Unbounded, Excluded),
            upper.map_or(Unbounded, Excluded),
            |s| order_key(&self.slots, s),
        );
        let slots: Box<dyn Iterator<Item = u32>> = if descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        slots
            .filter_map(|slot| self.entry_at(slot))
            .filter(|entry| self.visible(entry, &window, &live))
            .take(limit)
            .map(|entry| self.vehicle(entry, live.retention_ms))
            .collect()
    }

    fn latest(&self, window: Window, live: Live, offset: usize, limit: usize) -> Hits {
        let key_of = |s: u32| order_key(&self.slots, s);
        let floor = self.floor(&window, &live);
        let lower = Excluded((floor, i64::MAX));
        let upper = window
            .before_ms
            .map_or(Unbounded, |b| Excluded((b, i64::MIN)));
        let in_window = || {
            self.by_entry
                .range(lower, upper, key_of)
                .filter_map(|slot| self.entry_at(slot))
                .filter(|entry| self.visible(entry, &window, &live))
        };
        let total = match window.before_ms {
            // The common case stays cheap: every entry above the floor is counted but the few
            // expired ones not swept out yet (between the floor and the cut-off, not held).
            None => {
                let below = self
                    .by_entry
                    .count(Unbounded, Included((floor, i64::MAX)), key_of);
                let expired = if floor < live.cutoff_ms {
                    self.by_entry
                        .range(
                            Excluded((floor, i64::MAX)),
                            Excluded((live.cutoff_ms, i64::MAX)),
                            key_of,
                        )
                        .filter_map(|slot| self.entry_at(slot))
                        .filter(|entry| !self.held_at(entry.id, live.now_ms))
                        .count()
                } else {
                    0
                };
                self.len() - below - expired
            }
            Some(_) => in_window().count(),
        };
        let items = in_window()
            .rev()
            .skip(offset)
            .take(limit)
            .map(|entry| self.vehicle(entry, live.retention_ms))
            .collect();
        Hits { items, total }
    }

    /// The vehicle an entry holds, with its hold if it has one.
    fn vehicle(&self, entry: &Entry, retention_ms: i64) -> Vehicle {
        let held = if self.holds.is_empty() {
            None
        } else {
            self.holds.get(&entry.id)
        };
        to_vehicle(entry, retention_ms, held)
    }
}

fn to_vehicle(entry: &Entry, retention_ms: i64, held: Option<&Held>) -> Vehicle {
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let parts = entry.parts();
    let (created_ms, updated_ms) = parts.created_updated_ms(entry.entry_ms);
    let hold = held.map(|h| VehicleHold {
        reason: h.reason.to_string(),
        until: at(h.until_ms),
    });
    Vehicle {
        id: entry.id,
        number_plate: parts.plate.to_owned(),
        contact_name: parts.name.to_owned(),
        phone_number: parts.phone.to_owned(),
        entry_time: at(entry.entry_ms),
        expires_at: expiry(at(entry.entry_ms), retention_ms, hold.as_ref()),
        created_at: at(created_ms),
        updated_at: at(updated_ms),
        hold,
    }
}

/// The (entry time, id) of the vehicle in `slot`, its place in `Index::by_entry`. Only slots
/// that hold an entry are in that order (`i64::MIN`s for an empty one, never asked for).
fn order_key(slots: &[Option<Entry>], slot: u32) -> Key {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map_or((i64::MIN, i64::MIN), |entry| (entry.entry_ms, entry.id))
}

/// The id of the vehicle in `slot` (`i64::MIN`, which no vehicle has, for an empty slot).
fn id_of(slots: &[Option<Entry>], slot: u32) -> i64 {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map_or(i64::MIN, |entry| entry.id)
}

/// Every trigram of an entry, by field, de-duplicated.
fn keys(entry: &Entry) -> Vec<(Field, u64)> {
    let mut keys: Vec<(Field, u64)> = Vec::with_capacity(48);
    let mut push = |field: Field, codes: &[u32]| {
        keys.extend(
            codes
                .windows(TRIGRAM)
                .map(|w| (field, pack(w[0], w[1], w[2]))),
        );
    };
    let mut codes: Vec<u32> = Vec::with_capacity(64);
    let parts = entry.parts();
    // Plain ASCII (nearly every plate, phone and many names) needs no intermediate strings.
    codes.extend(fold_lookalikes(parts.plate).chars().map(u32::from));
    push(Field::Plate, &codes);
    codes.clear();
    let name = parts.name;
    if name.is_ascii() {
        codes.extend(name.bytes().map(|b| u32::from(b.to_ascii_lowercase())));
    } else {
        codes.extend(name.to_lowercase().chars().map(u32::from));
    }
    push(Field::Name, &codes);
    codes.clear();
    codes.extend(
        parts
            .phone
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(u32::from),
    );
    push(Field::Phone, &codes);
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The hash `by_folded` keeps a plate under: that of its folded text, folded on the stack.
fn folded_hash_of(hasher: &hashbrown::DefaultHashBuilder, plate: &str) -> u64 {
    let mut buffer = [0u8; MAX_PLATE_BYTES];
    // Folding keeps the text UTF-8 (see `fold_lookalikes_into`); the checks cannot fail for
    // a normalised plate, and anything else is folded the slow way to the same text.
    match fold_lookalikes_into(plate, &mut buffer).map(std::str::from_utf8) {
        Some(Ok(folded)) => hasher.hash_one(folded),
        _ => hasher.hash_one(fold_lookalikes(plate)),
    }
}

/// Three characters in one integer (a char is at most 21 bits).
fn pack(a: u32, b: u32, c: u32) -> u64 {
    u64::from(a) << 42 | u64::from(b) << 21 | u64::from(c)
}

/// Each run of three characters of a query, packed.
fn trigram_keys(text: &str) -> impl Iterator<Item = u64> + use<> {
    let codes: Vec<u32> = text.chars().map(u32::from).collect();
    let count = codes.len().saturating_sub(TRIGRAM - 1);
    (0..count).map(move |i| pack(codes[i], codes[i + 1], codes[i + 2]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::test_support::vehicle;

    fn all() -> Window {
        Window::default()
    }

    /// Everything is live.
    fn always() -> Live {
        cut_at(i64::MIN)
    }

    /// Vehicles that entered at or before `cutoff_ms` have expired (now is just after it).
    fn cut_at(cutoff_ms: i64) -> Live {
        Live {
            cutoff_ms,
            now_ms: cutoff_ms.saturating_add(1),
            retention_ms: 0,
        }
    }

    fn plates(hits: &Hits) -> Vec<&str> {
        hits.items.iter().map(|v| v.number_plate.as_str()).collect()
    }

    fn sample() -> Index {
        let mut index = Index::default();
        index.upsert(&vehicle(1, "XAB12", "Zed", "+441111111111", 100));
        index.upsert(&vehicle(2, "AB12CDE", "Ada", "+442222222222", 200));
        index.upsert(&vehicle(3, "A8I2XYZ", "Bob", "+443333333333", 300));
        index.upsert(&vehicle(4, "QQ99", "Mab Ab12", "+444444444444", 400));
        index.upsert(&vehicle(5, "AB12", "Eve", "+445555555555", 500));
        index
    }

    #[test]
    fn ranking_follows_the_contract() {
        let index = sample();
        let query = Query::parse("ab12").unwrap();
        let hits = index.search(Some(&query), all(), always(), 0, 10);
        assert_eq!(
            plates(&hits),
            ["AB12", "AB12CDE", "A8I2XYZ", "XAB12", "QQ99"]
        );
        assert_eq!(hits.total, 5);
    }

    #[test]
    fn scans_and_the_index_agree() {
        let index = sample();
        for q in [
            "ab1", "b12", "a8i", "mab", "4444", "zed", "a", "12", "ab", "e",
        ] {
            let query = Query::parse(q).unwrap();
            let got = index.search(Some(&query), all(), always(), 0, 100);
            let mut expected: Vec<_> = index
                .slots
                .iter()
                .flatten()
                .filter_map(|e| {
                    query
                        .rank(&e.searchable())
                        .map(|r| (r, -e.entry_ms, e.plate().to_string()))
                })
                .collect();
            expected.sort();
            let expected: Vec<_> = expected.into_iter().map(|(_, _, p)| p).collect();
            assert_eq!(plates(&got), expected, "query {q}");
            assert_eq!(got.total, expected.len());
        }
    }

    #[test]
    fn removal_updates_and_expiry_keep_postings_exact() {
        let mut index = sample();
        index.remove(2);
        let query = Query::parse("ab12").unwrap();
        assert_eq!(index.search(Some(&query), all(), always(), 0, 10).total, 4);
        index.upsert(&vehicle(5, "ZZ77", "Eve", "+445555555555", 500));
        assert_eq!(index.search(Some(&query), all(), always(), 0, 10).total, 3);
        assert_eq!(
            index.search(Some(&query), all(), cut_at(250), 0, 10).total,
            2,
            "cut-off applies"
        );
        let expired = index.remove_expired(300, 301, 100);
        assert_eq!(expired.len(), 2);
        assert_eq!(index.oldest_entry_ms(), Some(400));
        assert_eq!(index.len(), 2);
    }

    /// Postings held in every list, stale ones included.
    fn postings_held(index: &Index) -> usize {
        index
            .trigrams
            .iter()
            .flat_map(HashMap::values)
            .map(Postings::len)
            .sum()
    }

    #[test]
    fn removals_pay_for_compaction_as_they_go_and_it_keeps_up() {
        // Every phone shares its first digits: lists as long as the index, as at a million.
        let vehicles = 6_000;
        let mut index = Index::default();
        for id in 0..vehicles {
            let phone = format!("+4477009{id:05}");
            index.upsert(&vehicle(id, &format!("P{id}"), "Driver", &phone, id));
        }
        let (mut rounds, mut removed_in_round, mut dropped_in_round) = (0, 0, 0);
        for id in 0..vehicles - 500 {
            let before = postings_held(&index);
            let was_compacting = !index.to_compact.is_empty();
            assert!(index.remove(id).is_some());
            if !was_compacting && !index.to_compact.is_empty() {
                (rounds, removed_in_round, dropped_in_round) = (rounds + 1, 0, 0);
            }
            removed_in_round += 1;
            dropped_in_round += before - postings_held(&index);
            // A list is compacted whole, so what a round has dropped is at most what its
            // removals paid for.
            assert!(
                dropped_in_round <= removed_in_round * COMPACTED_PER_CALL,
                "{dropped_in_round} postings dropped by {removed_in_round} removals"
            );
        }
        assert!(rounds >= 2, "{rounds} rounds of compaction");
        // Stale postings never stay far beyond the live ones.
        let live = index.live_postings;
        assert!(
            postings_held(&index) <= 3 * live.max(1024),
            "{} postings held for {live} live",
            postings_held(&index)
        );
        let query = Query::parse("7700").unwrap();
        assert_eq!(
            index.search(Some(&query), all(), always(), 0, 10).total,
            500
        );
    }

    #[test]
    fn an_empty_query_lists_the_latest_with_paging() {
        let index = sample();
        let page = index.search(None, all(), cut_at(150), 1, 2);
        assert_eq!(plates(&page), ["QQ99", "A8I2XYZ"]);
        assert_eq!(page.total, 4);
    }

    #[test]
    fn plates_are_found_exactly_through_updates_removals_and_reused_slots() {
        let mut index = sample();
        let found = |index: &Index, plate: &str| {
            index
                .find_plate(plate, all(), always())
                .map(|v| (v.id, v.contact_name))
        };
        assert_eq!(found(&index, "AB12"), Some((5, "Eve".into())));
        assert_eq!(found(&index, "A812XYZ"), None, "exact, not look-alike");
        // A changed name keeps its plate; a removal frees the plate; a reused slot gets its own.
        index.upsert(&vehicle(5, "AB12", "Eve Changed", "+445555555555", 500));
        assert_eq!(found(&index, "AB12"), Some((5, "Eve Changed".into())));
        index.remove(2);
        assert_eq!(found(&index, "AB12CDE"), None);
        index.upsert(&vehicle(6, "NEW1", "New", "+446666666666", 600));
        assert_eq!(found(&index, "NEW1"), Some((6, "New".into())));
        assert_eq!(found(&index, "XAB12"), Some((1, "Zed".into())));
        // A newer vehicle with an older one's plate (its removal not applied yet) is the one
        // found; removing the older one later leaves it in place.
        index.upsert(&vehicle(7, "XAB12", "Newer", "+447777777777", 700));
        assert_eq!(found(&index, "XAB12"), Some((7, "Newer".into())));
        // A change to the older one applied after it does not take the plate back.
        index.upsert(&vehicle(1, "XAB12", "Zed Changed", "+441111111111", 100));
        assert_eq!(found(&index, "XAB12"), Some((7, "Newer".into())));
        index.remove(1);
        assert_eq!(found(&index, "XAB12"), Some((7, "Newer".into())));
        assert_eq!(
            index.find_plate("XAB12", all(), cut_at(700)),
            None,
            "the cut-off applies"
        );
    }

    #[test]
    fn a_held_vehicle_stays_live_past_its_retention_until_its_hold_ends() {
        let mut index = sample();
        let mut held = vehicle(1, "XAB12", "Zed", "+441111111111", 100);
        held.hold = Some(VehicleHold {
            reason: "police request".into(),
            until: DateTime::from_timestamp_millis(1_000).unwrap(),
        });
        index.upsert(&held);
        // Cut-off 350: vehicles 1–3 entered before it; only the held one is live.
        let live = cut_at(350);
        let latest = index.search(None, all(), live, 0, 10);
        assert_eq!(plates(&latest), ["AB12", "QQ99", "XAB12"]);
        assert_eq!(latest.total, 3);
        let listed = index.list(all(), false, None, 10, live);
        let listed: Vec<_> = listed.iter().map(|v| v.number_plate.as_str()).collect();
        assert_eq!(listed, ["XAB12", "QQ99", "AB12"]);
        let found = index.find_plate("XAB12", all(), live).unwrap();
        assert_eq!(found.hold.unwrap().reason, "police request");
        let query = Query::parse("zed").unwrap();
        assert_eq!(index.search(Some(&query), all(), live, 0, 10).total, 1);

        // The sweep leaves it, and the next expiry is the oldest unheld one's.
        let swept = index.remove_expired(350, 351, 100);
        assert_eq!(swept.len(), 2);
        assert_eq!(index.next_expiry_ms(0, 351), Some(400));
        assert!(index.find_plate("XAB12", all(), live).is_some());
        // Once its hold has ended it is expired like any other.
        let after_hold = Live {
            cutoff_ms: 350,
            now_ms: 1_000,
            retention_ms: 0,
        };
        assert!(index.find_plate("XAB12", all(), after_hold).is_none());
        assert_eq!(index.remove_expired(350, 1_000, 100).len(), 1);
        assert_eq!(index.search(None, all(), after_hold, 0, 10).total, 2);
    }
}
