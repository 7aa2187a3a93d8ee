-- Keys may expire; the last use is kept to the minute (written at most once a minute per key,
-- not on every request).
ALTER TABLE api_keys ADD COLUMN expires_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_ms INTEGER;
