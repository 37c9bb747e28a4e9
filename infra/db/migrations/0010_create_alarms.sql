-- Unified alarms (issue #6): one model for sensor thresholds, camera faults, violation surges
-- and overdue citizen feedback. State = active/cleared x unacknowledged/acknowledged; an alarm
-- is "open" until it is both cleared and acknowledged (then closed_at is set). The state
-- machine is ioc/domain/alarms.py; this table holds its current value, alarm_events its history.
CREATE TABLE alarms (
    id            uuid        PRIMARY KEY,
    source_kind   text        NOT NULL
                  CHECK (source_kind IN ('sensor_alert', 'camera_fault', 'violation_surge',
                                         'feedback_overdue')),
    source_ref    text        NOT NULL,
    severity      smallint    NOT NULL CHECK (severity BETWEEN 1 AND 5),
    active        boolean     NOT NULL,
    acknowledged  boolean     NOT NULL,
    title         text        NOT NULL,
    area_id       text,
    detail        jsonb       NOT NULL DEFAULT '{}',
    assignee      text,
    raised_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    cleared_at    timestamptz,
    acked_at      timestamptz,
    acked_by      text,
    closed_at     timestamptz,
    version       integer     NOT NULL CHECK (version >= 1),
    source_time   timestamptz NOT NULL DEFAULT now()  -- last source signal (orders signals)
);
-- At most one open alarm per source: the de-duplication rule, enforced by the database.
CREATE UNIQUE INDEX alarms_one_open_idx ON alarms (source_kind, source_ref) WHERE closed_at IS NULL;
CREATE INDEX alarms_open_idx ON alarms (severity DESC, raised_at DESC) WHERE closed_at IS NULL;
CREATE INDEX alarms_raised_idx ON alarms (raised_at DESC);

-- Every transition (source or operator) with who did it; event_id makes writes idempotent.
CREATE TABLE alarm_events (
    time        timestamptz NOT NULL,
    alarm_id    uuid        NOT NULL,
    event_id    uuid        NOT NULL,
    kind        text        NOT NULL
                CHECK (kind IN ('raised', 'updated', 'reactivated', 'cleared', 'acknowledged',
                                'assigned', 'commented', 'closed')),
    actor       text        NOT NULL,
    severity    smallint    NOT NULL,
    text        text,
    UNIQUE (event_id, time)
);
CREATE INDEX alarm_events_alarm_idx ON alarm_events (alarm_id, time DESC);
SELECT create_hypertable('alarm_events', 'time', chunk_time_interval => interval '30 days');
