-- Timescale License edition only: rollups as continuous aggregates, compression and
-- retention as policies. Applied by `ioc db migrate` when `timescaledb.license` is 'timescale';
-- the streams then stop merging rollups themselves. Every statement is re-appliable.
CREATE MATERIALIZED VIEW IF NOT EXISTS cagg_sensor_1m WITH (timescaledb.continuous) AS
    SELECT time_bucket('1 minute', time) AS bucket, sensor_id, quantity,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max
    FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
CREATE MATERIALIZED VIEW IF NOT EXISTS cagg_sensor_1h WITH (timescaledb.continuous) AS
    SELECT time_bucket('1 hour', time) AS bucket, sensor_id, quantity,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max
    FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
SELECT add_continuous_aggregate_policy('cagg_sensor_1m', start_offset => interval '3 days',
    end_offset => NULL, schedule_interval => interval '1 minute', if_not_exists => true);
SELECT add_continuous_aggregate_policy('cagg_sensor_1h', start_offset => interval '30 days',
    end_offset => NULL, schedule_interval => interval '15 minutes', if_not_exists => true);
ALTER MATERIALIZED VIEW cagg_sensor_1m SET (timescaledb.materialized_only = false);
ALTER MATERIALIZED VIEW cagg_sensor_1h SET (timescaledb.materialized_only = false);

CREATE OR REPLACE VIEW rollup_sensor_1m_v AS
    SELECT bucket, sensor_id, quantity, count, sum / count AS mean, min, max FROM cagg_sensor_1m;
CREATE OR REPLACE VIEW rollup_sensor_1h_v AS
    SELECT bucket, sensor_id, quantity, count, sum / count AS mean, min, max FROM cagg_sensor_1h;
CREATE OR REPLACE VIEW rollup_area_1m_v AS
    SELECT c.bucket, s.area_id, c.quantity, sum(c.count)::bigint AS count,
           sum(c.sum) / sum(c.count) AS mean, min(c.min) AS min, max(c.max) AS max
    FROM cagg_sensor_1m c JOIN sensors s ON s.id = c.sensor_id GROUP BY 1, 2, 3;
CREATE OR REPLACE VIEW rollup_area_1h_v AS
    SELECT c.bucket, s.area_id, c.quantity, sum(c.count)::bigint AS count,
           sum(c.sum) / sum(c.count) AS mean, min(c.min) AS min, max(c.max) AS max
    FROM cagg_sensor_1h c JOIN sensors s ON s.id = c.sensor_id GROUP BY 1, 2, 3;

ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id, quantity');
SELECT add_compression_policy('readings', interval '14 days', if_not_exists => true);
