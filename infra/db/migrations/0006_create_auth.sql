-- People (session cookies) and machines (API keys). Secrets are stored only as hashes.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'operator', 'police', 'department')),
    department    text,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'department') = (department IS NOT NULL))
);

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    key_prefix  text        NOT NULL UNIQUE,
    key_hash    text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('admin', 'operator', 'police', 'department', 'ingest')),
    department  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE sessions (
    token_hash  text PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
