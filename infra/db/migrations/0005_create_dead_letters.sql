-- Everything that was accepted somewhere but could not be used: never silently dropped.
CREATE TABLE dead_letters (
    id          bigserial,
    time        timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    reason      text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    payload     text        NOT NULL,
    dedup_key   text        NOT NULL,
    PRIMARY KEY (dedup_key)
);
CREATE INDEX dead_letters_time_idx ON dead_letters (time DESC);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason);
