-- Running the car park: capacity, hourly occupancy, look-alike plates at the gate, a watchlist.

-- A registration looks up parked plates with the same look-alike form (a misread plate).
CREATE INDEX vehicles_plate_folded ON vehicles (plate_folded);

-- How many vehicles the car park holds; NULL until an admin sets it.
ALTER TABLE system_config ADD COLUMN capacity INTEGER CHECK (capacity BETWEEN 1 AND 1000000);

-- Occupancy per hour, as counts only (no personal data, so they may outlive retention; kept
-- 31 days). `hour_ms` is the hour's start. All three are written when a vehicle's row is
-- deleted, so a registration writes nothing here: `departed_entries` counts it in the hour of
-- its entry time (entries still parked are counted from `vehicles`), `exits` in the hour of a
-- DELETE or a clear, `expiries` in the hour its retention ended. The parked series is walked
-- back from the vehicles parked now.
CREATE TABLE occupancy_hours (
    hour_ms           INTEGER PRIMARY KEY,
    departed_entries  INTEGER NOT NULL DEFAULT 0,
    exits             INTEGER NOT NULL DEFAULT 0,
    expiries          INTEGER NOT NULL DEFAULT 0
);

-- Plates staff want to hear about when they arrive. The note is free text and personal data
-- like the plate: an entry is kept as long as the retention period allows after its last
-- change, as vehicles are.
CREATE TABLE watchlist (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    number_plate  TEXT    NOT NULL,
    plate_folded  TEXT    NOT NULL,
    note          TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE UNIQUE INDEX watchlist_number_plate ON watchlist (number_plate);
CREATE INDEX watchlist_updated ON watchlist (updated_ms);

-- The change feed learns two kinds. SQLite cannot change a CHECK constraint in place: the
-- table is rebuilt, keeping its rows and its sequence counter (readers' positions go on).
CREATE TABLE changes_new (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT    NOT NULL CHECK (kind IN ('vehicles', 'retention', 'keys', 'capacity', 'watchlist')),
    ids    TEXT,
    at_ms  INTEGER NOT NULL
);
INSERT INTO changes_new (seq, kind, ids, at_ms) SELECT seq, kind, ids, at_ms FROM changes;
DELETE FROM sqlite_sequence WHERE name = 'changes_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_new', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
