-- Times are Unix milliseconds, UTC: cheap to compare and index, rendered as RFC 3339 by the API.

-- Vehicles currently parked. A row is personal data: it is deleted when the vehicle leaves,
-- is cleared, or its retention period ends.
CREATE TABLE vehicles (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    number_plate  TEXT    NOT NULL,
    -- search keys: the plate with look-alike characters folded, the name lower-cased
    plate_folded  TEXT    NOT NULL,
    contact_name  TEXT    NOT NULL,
    name_folded   TEXT    NOT NULL,
    phone_number  TEXT    NOT NULL,
    entry_ms      INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE UNIQUE INDEX vehicles_number_plate ON vehicles (number_plate);
-- listing, keyset pagination and the retention cut-off all walk entry time
CREATE INDEX vehicles_entry ON vehicles (entry_ms, id);

-- One row of service-wide settings.
CREATE TABLE system_config (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    retention_hours       INTEGER NOT NULL CHECK (retention_hours BETWEEN 1 AND 8760),
    retention_updated_ms  INTEGER NOT NULL,
    -- key of the HMAC that turns plates into audit pseudonyms; never leaves the database
    audit_secret          BLOB    NOT NULL
);
INSERT INTO system_config (id, retention_hours, retention_updated_ms, audit_secret)
VALUES (1, 24, CAST(unixepoch('subsec') * 1000 AS INTEGER), randomblob(32));

-- Who did what. Holds no personal data: plates appear only as keyed pseudonyms.
CREATE TABLE audit_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms       INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    entity_id   TEXT,
    actor       TEXT    NOT NULL,
    request_id  TEXT,
    details     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_ts ON audit_logs (ts_ms, id);
CREATE INDEX audit_logs_action ON audit_logs (action, ts_ms);
CREATE INDEX audit_logs_entity_id ON audit_logs (entity_id, ts_ms);

-- API keys, stored only as SHA-256 hashes of the secret.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'operator')),
    key_hash     TEXT    NOT NULL UNIQUE,
    -- 1 for the key managed through PARKING_ADMIN_KEY: replaced when that setting changes
    from_env     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
);
