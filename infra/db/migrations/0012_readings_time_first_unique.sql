-- Readings: the idempotence key leads with time, and the separate time index goes.
--
-- 0002 made (event_id, time) unique. Event ids are UUIDv5 (content hashes, random order),
-- so every insert landed on a random leaf of that index; (time, event_id) is the same
-- uniqueness (ON CONFLICT DO NOTHING infers it from the columns, not their order) but new
-- readings arrive in roughly increasing time and now append near the right edge. With time
-- leading, the index also serves every time-range scan, so the default (time DESC) index
-- that create_hypertable added is redundant: one index less to maintain per row.
-- Measured with bench/ingest.py --db-only (see docs/INGEST_PERFORMANCE.md).
ALTER TABLE readings ADD CONSTRAINT readings_time_event_id_key UNIQUE (time, event_id);
ALTER TABLE readings DROP CONSTRAINT readings_event_id_time_key;
DROP INDEX IF EXISTS readings_time_idx;
