-- Citizen feedback ("phản ánh kiến nghị", issue #4). Written by the `feedback` agent (intake)
-- and by the department work queue (transitions); every write is idempotent by report id.
-- Personal data (contact) lives in its own table, joined only where staff need it.
CREATE TABLE feedback_reports (
    report_id        text             PRIMARY KEY,          -- tracking code = Open311 service_request_id
    token            text             NOT NULL UNIQUE,      -- Open311 token of the submission
    source           text             NOT NULL DEFAULT 'web', -- web | open311
    client           text,                                  -- API key name of an Open311 app
    service_code     text,                                  -- current category (NULL: none yet)
    requested_code   text,                                  -- category the citizen chose, if any
    department       text,
    status           text             NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'triage', 'routed', 'in_progress',
                                       'resolved', 'rejected')),
    description      text             NOT NULL,
    lang             text             NOT NULL DEFAULT 'vi',
    lat              double precision CHECK (lat BETWEEN -90 AND 90),
    lon              double precision CHECK (lon BETWEEN -180 AND 180),
    location_source  text,                                  -- given | exif | address
    address          text             NOT NULL DEFAULT '',
    predicted_code   text,                                  -- classifier's best guess
    confidence       double precision CHECK (confidence BETWEEN 0 AND 1),
    model_version    text,
    triage_reason    text,
    received_at      timestamptz      NOT NULL,
    cycle_start      timestamptz      NOT NULL,
    ack_due          timestamptz,
    resolve_due      timestamptz,
    acknowledged_at  timestamptz,
    closed_at        timestamptz,
    reopen_count     integer          NOT NULL DEFAULT 0,
    case_id          text             REFERENCES feedback_reports (report_id),  -- duplicate of
    overdue_ack      boolean          NOT NULL DEFAULT false,
    overdue_resolve  boolean          NOT NULL DEFAULT false,
    context          jsonb            NOT NULL DEFAULT '{}',  -- nearest cameras, sensor readings
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    stored_at        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX feedback_reports_queue_idx ON feedback_reports (department, status, received_at DESC);
CREATE INDEX feedback_reports_status_idx ON feedback_reports (status, received_at DESC);
CREATE INDEX feedback_reports_code_idx ON feedback_reports (service_code, received_at DESC);
CREATE INDEX feedback_reports_case_idx ON feedback_reports (case_id) WHERE case_id IS NOT NULL;

-- Contact details: personal data, never logged, never in public answers.
CREATE TABLE feedback_contacts (
    report_id   text PRIMARY KEY REFERENCES feedback_reports (report_id) ON DELETE CASCADE,
    first_name  text NOT NULL DEFAULT '',
    last_name   text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    device_id   text NOT NULL DEFAULT ''
);

-- The audited timeline: every transition and answer, visible to the citizen when public.
CREATE TABLE feedback_events (
    report_id   text        NOT NULL REFERENCES feedback_reports (report_id) ON DELETE CASCADE,
    seq         integer     NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,   -- received, classified, assigned, acknowledged, ...
    old_status  text,
    new_status  text,
    actor       text        NOT NULL DEFAULT 'system',
    note        text        NOT NULL DEFAULT '',
    public      boolean     NOT NULL DEFAULT true,
    detail      jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (report_id, seq)
);

-- Photos: content-addressed files (EXIF stripped before storage) with their SHA-256.
CREATE TABLE feedback_media (
    report_id     text    NOT NULL REFERENCES feedback_reports (report_id) ON DELETE CASCADE,
    sha256        text    NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text    NOT NULL,
    bytes         bigint  NOT NULL CHECK (bytes >= 0),
    role          text    NOT NULL DEFAULT 'report',  -- report | resolution
    PRIMARY KEY (report_id, role, sha256)
);

-- Operators' and departments' manual (re)assignments: new training labels for the classifier.
CREATE TABLE feedback_labels (
    report_id   text        NOT NULL REFERENCES feedback_reports (report_id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    text        text        NOT NULL,
    category    text        NOT NULL,
    previous    text,
    actor       text        NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    PRIMARY KEY (report_id, at)
);
