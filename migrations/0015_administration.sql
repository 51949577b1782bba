-- Administration (issue 17): stations entered through the API and `patrold import-stations`,
-- agencies named once per division, shifts that move their unit on and off duty, and one-time
-- password reset codes.

-- Stations: a stable code (a re-import updates by it; 'S' || id when none is given), address,
-- beds, and whether the coverage is the station's own polygon (coverage_own) or follows its
-- division's boundary (then a new boundary moves it too).
ALTER TABLE stations ADD COLUMN code text,
                     ADD COLUMN address text CHECK (char_length(address) <= 200),
                     ADD COLUMN beds integer CHECK (beds BETWEEN 0 AND 100000),
                     ADD COLUMN coverage_own boolean NOT NULL DEFAULT false,
                     ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE stations s SET code = 'S' || s.id,
    coverage_own = NOT EXISTS (SELECT 1 FROM divisions d WHERE d.code = s.division_code
                               AND d.geom IS NOT NULL AND ST_Equals(d.geom, s.coverage));
ALTER TABLE stations ALTER COLUMN code SET NOT NULL,
    ADD CONSTRAINT stations_code_key UNIQUE (code),
    ADD CONSTRAINT stations_code_check CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$');

CREATE FUNCTION stations_default_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS NULL THEN
        NEW.code := 'S' || NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER stations_default_code BEFORE INSERT ON stations
    FOR EACH ROW EXECUTE FUNCTION stations_default_code();

-- A division's new boundary is the coverage of its stations that follow it.
CREATE FUNCTION stations_follow_division() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.geom IS NOT NULL AND NEW.geom IS DISTINCT FROM OLD.geom THEN
        UPDATE stations SET coverage = NEW.geom, updated_at = now()
        WHERE division_code = NEW.code AND NOT coverage_own;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stations_follow_division AFTER UPDATE OF geom ON divisions
    FOR EACH ROW EXECUTE FUNCTION stations_follow_division();

-- Agencies: one name per division (an import or a second click finds the first).
CREATE UNIQUE INDEX agencies_division_name ON agencies (division_code, name);

-- Shifts move their unit: the background step (service/admin/shifts.c) makes a unit available
-- when a shift starts and off duty when it ends; each end is applied once (a unit set off duty by
-- hand in the middle of a shift stays so). An end that finds the unit on a case waits for the
-- case to end (unit_shift_over, read by the lifecycle when a case ends).
ALTER TABLE shifts ADD COLUMN start_applied boolean NOT NULL DEFAULT false,
                   ADD COLUMN end_applied boolean NOT NULL DEFAULT false;
CREATE INDEX shifts_start_due ON shifts (starts_at) WHERE NOT start_applied;
CREATE INDEX shifts_end_due ON shifts (ends_at) WHERE NOT end_applied;

-- true when unit u's shift has ended (its end not applied yet) and no other shift holds it now:
-- the unit goes off duty rather than available when its case ends.
CREATE FUNCTION unit_shift_over(u bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM shifts s WHERE s.unit_id = u AND s.start_applied
                   AND NOT s.end_applied AND s.ends_at <= now())
       AND NOT EXISTS (SELECT 1 FROM shifts s WHERE s.unit_id = u AND s.starts_at <= now()
                       AND s.ends_at > now())
$$;

-- One-time password reset codes (POST /api/v1/users/{id}/reset-code), kept only as SHA-256
-- hashes; one per user (a new code replaces the last), deleted when redeemed.
CREATE TABLE reset_codes (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    created_by bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
