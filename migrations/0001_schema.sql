-- The whole schema: divisions, stations, users and sessions, units and positions,
-- reports with their audit trail and photos, live events, places, API keys.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Administrative divisions, province to community, plus functional zones (kind = 'zone').
CREATE TABLE divisions (
    code        char(12) PRIMARY KEY CHECK (code ~ '^[0-9]{12}$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'city', 'county', 'town', 'community')),
    parent_code char(12),
    kind        text NOT NULL DEFAULT 'admin' CHECK (kind IN ('admin', 'zone')),
    geom        geometry(MultiPolygon, 4326) CHECK (geom IS NULL OR ST_IsValid(geom)),
    synthetic   boolean NOT NULL DEFAULT false,   -- boundary made up for demo data, not official
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX divisions_geom_idx ON divisions USING gist (geom);
CREATE INDEX divisions_parent_idx ON divisions (parent_code);
CREATE INDEX divisions_level_idx ON divisions (level);

-- Rescue stations (city station, county stations, town work stations) and what they cover.
CREATE TABLE stations (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    tier          text NOT NULL CHECK (tier IN ('city', 'county', 'town', 'community')),
    division_code char(12) NOT NULL REFERENCES divisions (code),
    location      geometry(Point, 4326) NOT NULL,
    coverage      geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(coverage)),
    can_dispatch  boolean NOT NULL DEFAULT true,
    parent_id     bigint REFERENCES stations (id),
    phone         text
);
CREATE INDEX stations_coverage_idx ON stations USING gist (coverage);
CREATE INDEX stations_division_idx ON stations (division_code);

CREATE TABLE units (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    callsign      text UNIQUE,
    station_id    bigint REFERENCES stations (id),
    division_code char(12) REFERENCES divisions (code),
    status        text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'busy', 'off_duty')),
    position      geometry(Point, 4326),
    position_at   timestamptz,
    speed_mps     real,
    heading       real,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_position_idx ON units USING gist (position);

CREATE TABLE unit_positions (
    unit_id     bigint NOT NULL REFERENCES units (id),
    at          timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    accuracy_m  real,
    speed_mps   real,
    heading     real,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, at)
);
CREATE INDEX unit_positions_geom_idx ON unit_positions USING gist (geom);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,              -- libsodium crypto_pwhash_str (Argon2id)
    role          text NOT NULL CHECK (role IN ('patrol', 'community', 'dispatcher', 'supervisor', 'admin')),
    division_code char(12) NOT NULL REFERENCES divisions (code),
    station_id    bigint REFERENCES stations (id),
    unit_id       bigint REFERENCES units (id),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens, stored only as SHA-256 hashes.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE reports (
    id             bigserial PRIMARY KEY,
    client_id      uuid NOT NULL UNIQUE,       -- idempotency key made on the phone
    category       text NOT NULL CHECK (category IN ('vagrant', 'beggar', 'lost_elderly', 'minor',
                                                     'mental_illness', 'injured_or_ill', 'other')),
    status         text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'dispatched',
                                                     'on_scene', 'resolved', 'cancelled', 'duplicate')),
    geom           geometry(Point, 4326) NOT NULL,
    accuracy_m     real,
    crs_in         text NOT NULL DEFAULT 'wgs84',
    observed_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    description    text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    people_count   integer NOT NULL DEFAULT 1 CHECK (people_count BETWEEN 1 AND 100),
    person         jsonb,
    city_code      char(12),
    county_code    char(12),
    town_code      char(12),
    community_code char(12),
    zone_codes     char(12)[] NOT NULL DEFAULT '{}',
    outside        boolean NOT NULL DEFAULT false,
    snapped_m      real,
    station_id     bigint REFERENCES stations (id),
    tier           text CHECK (tier IN ('city', 'county', 'town', 'community')),
    ack_deadline   timestamptz,
    unit_id        bigint REFERENCES units (id),
    outcome        text CHECK (outcome IN ('admitted_to_station', 'escorted_home', 'sent_to_hospital',
                                           'refused_help', 'not_found', 'handed_to_police')),
    duplicate_of   bigint REFERENCES reports (id),
    source         text NOT NULL DEFAULT 'app' CHECK (source IN ('app', 'open311')),
    contact        jsonb,                       -- Open311 reporter details, never read back publicly
    created_by     bigint REFERENCES users (id)
);
CREATE INDEX reports_geom_idx ON reports USING gist (geom);
CREATE INDEX reports_due_idx ON reports (ack_deadline) WHERE status = 'new';
CREATE INDEX reports_received_idx ON reports (received_at, id);
CREATE INDEX reports_county_idx ON reports (county_code);
CREATE INDEX reports_town_idx ON reports (town_code);
CREATE INDEX reports_community_idx ON reports (community_code);
CREATE INDEX reports_status_idx ON reports (status);

-- The audit trail: every state change of a report, with actor and time.
CREATE TABLE report_events (
    id          bigserial PRIMARY KEY,
    report_id   bigint NOT NULL REFERENCES reports (id),
    type        text NOT NULL,
    actor_id    bigint REFERENCES users (id),
    actor       text NOT NULL,                  -- username, 'open311:<key name>' or 'system'
    at          timestamptz NOT NULL DEFAULT now(),
    from_status text,
    to_status   text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX report_events_report_idx ON report_events (report_id, id);

CREATE TABLE photos (
    id           bigserial PRIMARY KEY,
    report_id    bigint NOT NULL REFERENCES reports (id),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    data         bytea NOT NULL,
    created_by   bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX photos_report_idx ON photos (report_id);

-- Live events for the console and other instances; clients resume with ?after=<id>. Readers poll
-- by id: a NOTIFY per event would take PostgreSQL's global notify lock at every report's commit
-- and serialise all commits behind one disk flush each (measured: 300/s instead of thousands).
CREATE TABLE events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL,                -- report.created, report.updated, unit.updated, ...
    entity_id     bigint NOT NULL,
    division_code char(12),                     -- the most local division, for scope filtering
    payload       jsonb NOT NULL
);

-- Any change to divisions or stations tells every instance to rebuild its spatial index.
CREATE FUNCTION gis_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gis_changed', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER divisions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON divisions
    FOR EACH STATEMENT EXECUTE FUNCTION gis_changed_notify();
CREATE TRIGGER stations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stations
    FOR EACH STATEMENT EXECUTE FUNCTION gis_changed_notify();

-- Standard place names (gazetteer) beyond the divisions.
CREATE TABLE places (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    aliases       text[] NOT NULL DEFAULT '{}',
    kind          text NOT NULL,
    division_code char(12) REFERENCES divisions (code),
    geom          geometry(Point, 4326) NOT NULL
);
CREATE INDEX places_geom_idx ON places USING gist (geom);
CREATE INDEX places_name_trgm_idx ON places USING gin (name gin_trgm_ops);

-- Open311 API keys, stored only as SHA-256 hashes.
CREATE TABLE api_keys (
    key_hash   bytea PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
