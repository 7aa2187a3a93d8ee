-- Legal holds: an admin keeps one vehicle past its retention, until `hold_until_ms` at the
-- latest, for a reason (free text without personal data, also in the audit log). A vehicle
-- is live while `entry_ms > now - retention OR hold_until_ms > now`.
ALTER TABLE vehicles ADD COLUMN hold_until_ms INTEGER;
ALTER TABLE vehicles ADD COLUMN hold_reason TEXT;
-- The few held vehicles, found without scanning the table.
CREATE INDEX vehicles_hold ON vehicles (hold_until_ms) WHERE hold_until_ms IS NOT NULL;
