-- What retention did each UTC day, for the signed retention report: rows purged and erased
-- (vehicles and watchlist entries), backup files deleted by rotation, and the state the last
-- purge of the day left (vehicles held past their retention, the oldest entry time held).
-- Counts only: no personal data.
CREATE TABLE retention_days (
    day_ms          INTEGER PRIMARY KEY,
    purged          INTEGER NOT NULL DEFAULT 0,
    erased          INTEGER NOT NULL DEFAULT 0,
    backups_deleted INTEGER NOT NULL DEFAULT 0,
    held            INTEGER,
    oldest_entry_ms INTEGER
);
