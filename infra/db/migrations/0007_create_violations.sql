-- Traffic cameras and the violations their pipeline reports (issue #3).
-- Camera registry: upserted from each violation message (configs live in vision/cameras).
CREATE TABLE cameras (
    id          text PRIMARY KEY,
    name        text             NOT NULL,
    area_id     text,
    lat         double precision,
    lon         double precision,
    active      boolean          NOT NULL DEFAULT true,
    updated_at  timestamptz      NOT NULL DEFAULT now()
);

-- One row per violation; event_id is a UUID5 of camera, track, rule and stream time, so a
-- replayed or re-processed message is a no-op (ON CONFLICT DO NOTHING).
CREATE TABLE violations (
    event_id        uuid             PRIMARY KEY,
    camera_id       text             NOT NULL REFERENCES cameras (id),
    rule            text             NOT NULL,
    vehicle_class   text             NOT NULL,
    track_id        bigint           NOT NULL,
    time            timestamptz      NOT NULL,
    stream_time_s   double precision NOT NULL,
    location        text             NOT NULL,  -- stop line, lane or zone id in the camera
    legal           jsonb            NOT NULL,  -- decree, article, clause, point, fine range
    measured        jsonb            NOT NULL DEFAULT '{}',
    status          text             NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'rejected', 'appealed')),
    evidence_complete boolean        NOT NULL DEFAULT false,
    received_at     timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX violations_time_idx ON violations (time DESC);
CREATE INDEX violations_camera_time_idx ON violations (camera_id, time DESC);
CREATE INDEX violations_pending_idx ON violations (time DESC) WHERE status = 'pending';

-- Evidence files of a violation, paths relative to the evidence store, with their SHA-256.
CREATE TABLE violation_evidence (
    event_id    uuid   NOT NULL REFERENCES violations (event_id) ON DELETE CASCADE,
    path        text   NOT NULL,
    kind        text   NOT NULL,
    sha256      text   NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (event_id, path)
);
