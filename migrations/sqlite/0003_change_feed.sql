-- The change feed: one row per committed change, written in the same transaction as the
-- change, so that whatever keeps a copy of the data (the server's search index and key cache)
-- follows every change in commit order, whichever process made it. Kinds and ids only: no
-- personal data. SQLite has one writer at a time, so `seq` order is commit order.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT    NOT NULL CHECK (kind IN ('vehicles', 'retention', 'keys')),
    -- for 'vehicles': the ids of the vehicles written or deleted, comma-separated
    ids    TEXT,
    at_ms  INTEGER NOT NULL
);

-- Where each reader of the feed is, so that changes every reader has are trimmed.
CREATE TABLE feed_readers (
    instance  TEXT    PRIMARY KEY,
    position  INTEGER NOT NULL,
    seen_ms   INTEGER NOT NULL
);

-- Changes below `trimmed_below` are gone: a reader behind it must rebuild its copy.
CREATE TABLE feed_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    trimmed_below  INTEGER NOT NULL
);
INSERT INTO feed_state (id, trimmed_below) VALUES (1, 0);
