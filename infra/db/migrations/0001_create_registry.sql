-- Areas and sensors: data the city can replace (loaded by `ioc db seed`).
CREATE TABLE areas (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    name_vi     text,
    kind        text NOT NULL DEFAULT 'district',
    lat         double precision,
    lon         double precision,
    geometry    jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sensors (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    name        text NOT NULL,
    area_id     text REFERENCES areas (id),
    lat         double precision,
    lon         double precision,
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensors_area_idx ON sensors (area_id);
