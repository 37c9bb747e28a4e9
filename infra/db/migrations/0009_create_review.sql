-- Police review of camera violations (issue #5): decisions, every transition, officer scopes
-- and the append-only, hash-chained audit log. The workflow itself is ioc/review/workflow.py.

-- The review states (workflow.Status); 'appealed' was already allowed by 0007.
ALTER TABLE violations DROP CONSTRAINT violations_status_check;
ALTER TABLE violations ADD CONSTRAINT violations_status_check CHECK (
    status IN ('pending', 'confirmed', 'rejected', 'notice_issued', 'appealed', 'reopened')
);
-- The current decision (the history is in violation_transitions).
ALTER TABLE violations
    ADD COLUMN plate              text,          -- personal data: never logged
    ADD COLUMN vehicle_type       text,
    ADD COLUMN reviewed_rule      text,          -- set when an officer reclassified the case
    ADD COLUMN reviewed_legal     jsonb,         -- legal basis of reviewed_rule
    ADD COLUMN reject_reason      text,
    ADD COLUMN review_note        text,
    ADD COLUMN review_version     integer     NOT NULL DEFAULT 0,  -- optimistic concurrency
    ADD COLUMN decided_at         timestamptz,
    ADD COLUMN evidence_purged_at timestamptz;
CREATE INDEX violations_status_time_idx ON violations (status, time DESC);

-- Every transition of the review workflow, in order, with who did it.
CREATE TABLE violation_transitions (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL REFERENCES violations (event_id) ON DELETE CASCADE,
    version      integer     NOT NULL,           -- review_version after the transition
    action       text        NOT NULL,
    from_status  text        NOT NULL,
    to_status    text        NOT NULL,
    actor        text        NOT NULL,
    role         text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, version)
);

-- Which cameras / areas an officer reviews. No row for a user: every camera.
CREATE TABLE review_scopes (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    camera_id  text,
    area_id    text,
    CHECK ((camera_id IS NULL) <> (area_id IS NULL)),
    UNIQUE NULLS NOT DISTINCT (user_id, camera_id, area_id)
);

-- Append-only audit log: each row carries the SHA-256 of the previous row (prev_hash) and its
-- own (hash, over the canonical JSON of its fields incl. prev_hash; ioc/review/audit.py).
-- Rows are appended under an advisory lock so seq has no gaps and the chain no forks.
CREATE TABLE audit_log (
    seq        bigint      PRIMARY KEY CHECK (seq >= 1),
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    role       text        NOT NULL,
    action     text        NOT NULL,
    event_id   uuid,                              -- no FK: denied / purged ids are logged too
    detail     jsonb       NOT NULL DEFAULT '{}',
    prev_hash  text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash       text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_event_idx ON audit_log (event_id, seq) WHERE event_id IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
