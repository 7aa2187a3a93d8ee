-- The viewer role: reads and searches with phone numbers masked. SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt with the same columns and rows (ids kept, so
-- the audit trail's `key N` actors still name the same keys).
CREATE TABLE api_keys_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    key_hash     TEXT    NOT NULL UNIQUE,
    -- 1 for the key managed through PARKING_ADMIN_KEY: replaced when that setting changes
    from_env     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER,
    expires_ms   INTEGER,
    last_used_ms INTEGER
);
INSERT INTO api_keys_new
    (id, name, role, key_hash, from_env, created_ms, revoked_ms, expires_ms, last_used_ms)
SELECT id, name, role, key_hash, from_env, created_ms, revoked_ms, expires_ms, last_used_ms
FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
