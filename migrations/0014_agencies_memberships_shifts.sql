-- The joint patrol's people: agencies (civil affairs, police, urban management, health, street
-- offices, community workers, volunteers walking together), unit memberships with their history,
-- and shifts (a unit on duty from when to when, with the members on it). Memberships and shifts
-- are separate: who belongs to a unit is not who was on duty in it.
CREATE TABLE agencies (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind          text NOT NULL CHECK (kind IN ('civil_affairs', 'police', 'urban_management',
                                                'health', 'street_office', 'community', 'volunteer')),
    division_code char(12) NOT NULL REFERENCES divisions (code),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agencies_division ON agencies (division_code);

ALTER TABLE units ADD COLUMN agency_id bigint REFERENCES agencies (id),
                  ADD COLUMN vehicle text CHECK (char_length(vehicle) <= 100);

-- users.unit_id is the current unit (one at a time); unit_members keeps every membership with
-- its period. The trigger keeps the history from the one place that says who is where now, so no
-- writer can forget it: a change of users.unit_id closes the open membership and opens the next.
CREATE TABLE unit_members (
    id        bigserial PRIMARY KEY,
    unit_id   bigint NOT NULL REFERENCES units (id),
    user_id   bigint NOT NULL REFERENCES users (id),
    from_at   timestamptz NOT NULL DEFAULT now(),
    to_at     timestamptz,
    CHECK (to_at IS NULL OR to_at >= from_at)
);
CREATE UNIQUE INDEX unit_members_open ON unit_members (user_id) WHERE to_at IS NULL;
CREATE INDEX unit_members_unit ON unit_members (unit_id, from_at);

CREATE FUNCTION unit_members_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.unit_id IS NOT DISTINCT FROM OLD.unit_id THEN
        RETURN NEW;
    END IF;
    UPDATE unit_members SET to_at = now() WHERE user_id = NEW.id AND to_at IS NULL;
    IF NEW.unit_id IS NOT NULL THEN
        INSERT INTO unit_members (unit_id, user_id) VALUES (NEW.unit_id, NEW.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_unit_members AFTER INSERT OR UPDATE OF unit_id ON users
    FOR EACH ROW EXECUTE FUNCTION unit_members_follow();
INSERT INTO unit_members (unit_id, user_id, from_at)
    SELECT unit_id, id, created_at FROM users WHERE unit_id IS NOT NULL;

-- A shift: a unit on duty from starts_at to ends_at, with the members on it.
CREATE TABLE shifts (
    id         bigserial PRIMARY KEY,
    unit_id    bigint NOT NULL REFERENCES units (id),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    note       text CHECK (char_length(note) <= 1000),
    created_by bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX shifts_unit_time ON shifts (unit_id, starts_at);
CREATE INDEX shifts_time ON shifts USING gist (tstzrange(starts_at, ends_at));
CREATE TABLE shift_members (
    shift_id bigint NOT NULL REFERENCES shifts (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (shift_id, user_id)
);
CREATE INDEX shift_members_user ON shift_members (user_id);

-- The reporter's unit when the report was filed: people found are linked to the patrol.
ALTER TABLE reports ADD COLUMN reporter_unit_id bigint REFERENCES units (id);
CREATE FUNCTION reports_reporter_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reporter_unit_id IS NULL AND NEW.created_by IS NOT NULL THEN
        SELECT unit_id INTO NEW.reporter_unit_id FROM users WHERE id = NEW.created_by;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER reports_reporter_unit BEFORE INSERT ON reports
    FOR EACH ROW EXECUTE FUNCTION reports_reporter_unit();
CREATE INDEX reports_reporter_unit ON reports (reporter_unit_id) WHERE reporter_unit_id IS NOT NULL;
