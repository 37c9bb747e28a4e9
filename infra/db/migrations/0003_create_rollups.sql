-- Rollups computed by the streams (Apache edition): merged in the same transaction as the
-- raw rows they come from, from newly inserted rows only, so replays change nothing.
CREATE TABLE rollup_sensor_1m (
    bucket      timestamptz      NOT NULL,
    sensor_id   text             NOT NULL,
    quantity    text             NOT NULL,
    count       bigint           NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    PRIMARY KEY (sensor_id, quantity, bucket)
);
CREATE TABLE rollup_sensor_1h (LIKE rollup_sensor_1m INCLUDING ALL);
CREATE TABLE rollup_area_1m (
    bucket      timestamptz      NOT NULL,
    area_id     text             NOT NULL,
    quantity    text             NOT NULL,
    count       bigint           NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    PRIMARY KEY (area_id, quantity, bucket)
);
CREATE TABLE rollup_area_1h (LIKE rollup_area_1m INCLUDING ALL);
SELECT create_hypertable('rollup_sensor_1m', 'bucket', chunk_time_interval => interval '30 days');
SELECT create_hypertable('rollup_sensor_1h', 'bucket', chunk_time_interval => interval '365 days');
SELECT create_hypertable('rollup_area_1m', 'bucket', chunk_time_interval => interval '30 days');
SELECT create_hypertable('rollup_area_1h', 'bucket', chunk_time_interval => interval '365 days');
