-- Rollups with their mean, read by the dashboard and the API. Re-applied on every migrate.
-- With the Timescale License edition, infra/db/tsl/ replaces these with continuous aggregates.
CREATE OR REPLACE VIEW rollup_sensor_1m_v AS
    SELECT bucket, sensor_id, quantity, count, sum / count AS mean, min, max FROM rollup_sensor_1m;
CREATE OR REPLACE VIEW rollup_sensor_1h_v AS
    SELECT bucket, sensor_id, quantity, count, sum / count AS mean, min, max FROM rollup_sensor_1h;
CREATE OR REPLACE VIEW rollup_area_1m_v AS
    SELECT bucket, area_id, quantity, count, sum / count AS mean, min, max FROM rollup_area_1m;
CREATE OR REPLACE VIEW rollup_area_1h_v AS
    SELECT bucket, area_id, quantity, count, sum / count AS mean, min, max FROM rollup_area_1h;
