-- Threshold alerts: one row per alert (active until cleared) and its event history.
CREATE TABLE alerts (
    id          uuid PRIMARY KEY,
    sensor_id   text             NOT NULL,
    quantity    text             NOT NULL,
    level       text             NOT NULL,
    severity    smallint         NOT NULL,
    state       text             NOT NULL CHECK (state IN ('active', 'cleared')),
    raised_at   timestamptz      NOT NULL,
    updated_at  timestamptz      NOT NULL,
    cleared_at  timestamptz,
    value       double precision NOT NULL,
    peak_value  double precision NOT NULL,
    message     text             NOT NULL
);
-- At most one active alert per sensor and quantity: the de-duplication rule, enforced.
CREATE UNIQUE INDEX alerts_one_active_idx ON alerts (sensor_id, quantity) WHERE state = 'active';

CREATE TABLE alert_events (
    time        timestamptz      NOT NULL,
    alert_id    uuid             NOT NULL,
    event_id    uuid             NOT NULL,
    kind        text             NOT NULL CHECK (kind IN ('raised', 'level_changed', 'cleared')),
    level       text             NOT NULL,
    value       double precision NOT NULL,
    UNIQUE (event_id, time)
);
SELECT create_hypertable('alert_events', 'time', chunk_time_interval => interval '30 days');
