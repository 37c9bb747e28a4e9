-- Raw sensor readings: a hypertable, idempotent on (event_id, time).
CREATE TABLE readings (
    time        timestamptz      NOT NULL,
    sensor_id   text             NOT NULL,
    quantity    text             NOT NULL,
    value       double precision NOT NULL,
    unit        text             NOT NULL,
    quality     text             NOT NULL DEFAULT 'good',
    event_id    uuid             NOT NULL,
    received_at timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (event_id, time)
);
SELECT create_hypertable('readings', 'time', chunk_time_interval => interval '7 days');
CREATE INDEX readings_sensor_time_idx ON readings (sensor_id, quantity, time DESC);

-- Latest value per sensor and quantity: the live page's snapshot without scanning history.
CREATE TABLE latest_readings (
    sensor_id   text             NOT NULL,
    quantity    text             NOT NULL,
    time        timestamptz      NOT NULL,
    value       double precision NOT NULL,
    unit        text             NOT NULL,
    PRIMARY KEY (sensor_id, quantity)
);
