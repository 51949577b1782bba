-- Joint street patrols (issue 18), the first part: campaigns (寒冬送温暖, 酷暑...), plans (which
-- units of which agencies walk together, when, where) and their targets (an area with how often,
-- how long, at what time of day and with which agency kinds). What the units walked is read from
-- their fixes (unit_positions) by service/patrols/walked.c; the stored score (visits, patrols,
-- the ledger) comes with the scorer.
--
-- Writers: the API (service/patrols/plans.c) writes plans, windows, units and targets, through
-- patrol_plan_write below.

CREATE TABLE campaigns (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    division_code char(12) NOT NULL REFERENCES divisions (code),
    starts_on     date NOT NULL,
    ends_on       date NOT NULL,
    note          text CHECK (char_length(note) <= 1000),
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX campaigns_division ON campaigns (division_code, starts_on);

-- A plan: weekly windows (ISO days 1 Monday .. 7 Sunday, minutes of the day from .. to, across
-- midnight when to <= from) from starts_on to ends_on (null: on), and/or one-off windows.
CREATE TABLE patrol_plans (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    division_code char(12) NOT NULL REFERENCES divisions (code),
    campaign_id   bigint REFERENCES campaigns (id),
    weekly_days   smallint[] CHECK (weekly_days <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]
                                    AND cardinality(weekly_days) > 0),
    weekly_from   smallint CHECK (weekly_from BETWEEN 0 AND 1439),
    weekly_to     smallint CHECK (weekly_to BETWEEN 0 AND 1439),
    starts_on     date NOT NULL,
    ends_on       date,
    revision      int NOT NULL DEFAULT 1,   -- every edit adds one
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((weekly_days IS NULL) = (weekly_from IS NULL) AND (weekly_from IS NULL) = (weekly_to IS NULL)),
    CHECK (weekly_from IS NULL OR weekly_from <> weekly_to),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX patrol_plans_division ON patrol_plans (division_code);
CREATE INDEX patrol_plans_campaign ON patrol_plans (campaign_id) WHERE campaign_id IS NOT NULL;

CREATE TABLE patrol_plan_windows (
    plan_id   bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    PRIMARY KEY (plan_id, starts_at),
    CHECK (ends_at > starts_at)
);

-- The units of a plan, of any agencies (a joint patrol).
CREATE TABLE patrol_plan_units (
    plan_id bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    unit_id bigint NOT NULL REFERENCES units (id),
    PRIMARY KEY (plan_id, unit_id)
);
CREATE INDEX patrol_plan_units_unit ON patrol_plan_units (unit_id);

-- A target: a division (its boundary when saved), a drawn polygon, or a point with a radius (a
-- circle); geom is the area as scored. Time of day tod_from .. tod_to (minutes; across midnight
-- when to <= from) or none (any time of the plan's windows). A target an edit leaves out is
-- retired (its visits stay for the weeks before).
CREATE TABLE patrol_targets (
    id              bigserial PRIMARY KEY,
    plan_id         bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    name            text CHECK (char_length(name) BETWEEN 1 AND 200),
    division_code   char(12) REFERENCES divisions (code),
    center          geometry(Point, 4326),
    radius_m        real CHECK (radius_m BETWEEN 10 AND 5000),
    geom            geometry(MultiPolygon, 4326) NOT NULL,
    visits_per_week smallint NOT NULL CHECK (visits_per_week BETWEEN 1 AND 100),
    min_dwell_min   smallint NOT NULL CHECK (min_dwell_min BETWEEN 1 AND 720),
    tod_from        smallint CHECK (tod_from BETWEEN 0 AND 1439),
    tod_to          smallint CHECK (tod_to BETWEEN 0 AND 1439),
    agencies        text[] NOT NULL DEFAULT '{}',   -- agency kinds that must be there
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    CHECK ((tod_from IS NULL) = (tod_to IS NULL) AND (tod_from IS NULL OR tod_from <> tod_to)),
    CHECK ((center IS NULL) = (radius_m IS NULL))
);
CREATE INDEX patrol_targets_plan ON patrol_targets (plan_id);
CREATE INDEX patrol_targets_geom ON patrol_targets USING gist (geom) WHERE retired_at IS NULL;


-- Writes of plans are audited like the other administrative writes.
ALTER TABLE audit DROP CONSTRAINT audit_action_check, DROP CONSTRAINT audit_entity_check;
ALTER TABLE audit ADD CONSTRAINT audit_action_check CHECK (action IN (
    'report.get', 'report.list', 'photo.list', 'photo.get', 'export.csv', 'export.geojson',
    'auth.login', 'auth.login_failed', 'auth.logout', 'auth.password', 'auth.reset', 'auth.reset_failed',
    'station.create', 'station.update', 'agency.create', 'agency.update', 'unit.create',
    'unit.update', 'unit.members', 'shift.create', 'shift.update', 'user.create', 'user.update',
    'user.reset_code', 'report.mask', 'patrol_plan.create', 'patrol_plan.update')),
    ADD CONSTRAINT audit_entity_check CHECK (entity IN ('station', 'agency', 'unit', 'shift', 'user',
                                                        'patrol_plan'));

-- The windows of plan p overlapping [a, b): its one-off windows, and its weekly ones on the days of
-- starts_on .. ends_on, in the city's time (the session's TimeZone is the deployment's zone,
-- service/core/tz.h). THE window rule: every reader of a plan's windows asks it (walked.c).
CREATE FUNCTION patrol_windows(p bigint, a timestamptz, b timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz) LANGUAGE sql STABLE AS $$
    SELECT w.starts_at, w.ends_at FROM patrol_plan_windows w
    WHERE w.plan_id = p AND w.starts_at < b AND w.ends_at > a
    UNION
    SELECT x.s, x.e FROM (
        SELECT (d + make_interval(mins => pl.weekly_from))::timestamptz AS s,
               (d + make_interval(mins => pl.weekly_to
                    + CASE WHEN pl.weekly_to <= pl.weekly_from THEN 1440 ELSE 0 END))::timestamptz AS e
        FROM patrol_plans pl,
             generate_series(date_trunc('day', a::timestamp) - interval '1 day', b::timestamp,
                             interval '1 day') d
        WHERE pl.id = p AND pl.weekly_days IS NOT NULL
          AND extract(isodow FROM d)::smallint = ANY (pl.weekly_days)
          AND d::date >= pl.starts_on AND (pl.ends_on IS NULL OR d::date <= pl.ends_on)) x
    WHERE x.s < b AND x.e > a
$$;

-- The periods in which target t's visits count, overlapping [a, b): its plan's windows, cut to the
-- target's time of day when it has one; `patrol` is the start of the window each lies in.
CREATE FUNCTION patrol_target_windows(t bigint, a timestamptz, b timestamptz)
RETURNS TABLE (patrol timestamptz, starts_at timestamptz, ends_at timestamptz) LANGUAGE sql STABLE AS $$
    SELECT w.starts_at, w.starts_at, w.ends_at
    FROM patrol_targets tg, patrol_windows(tg.plan_id, a, b) w
    WHERE tg.id = t AND tg.tod_from IS NULL
    UNION ALL
    SELECT w.starts_at, greatest(w.starts_at, d.s), least(w.ends_at, d.e)
    FROM patrol_targets tg, patrol_windows(tg.plan_id, a, b) w,
         LATERAL (SELECT (x + make_interval(mins => tg.tod_from))::timestamptz AS s,
                         (x + make_interval(mins => tg.tod_to
                              + CASE WHEN tg.tod_to <= tg.tod_from THEN 1440 ELSE 0 END))::timestamptz AS e
                  FROM generate_series(date_trunc('day', w.starts_at::timestamp) - interval '1 day',
                                       w.ends_at::timestamp, interval '1 day') x) d
    WHERE tg.id = t AND tg.tod_from IS NOT NULL AND d.s < w.ends_at AND d.e > w.starts_at
      AND least(w.ends_at, d.e) > a AND greatest(w.starts_at, d.s) < b
$$;

-- The area of a target as the API normalises it (service/patrols/plans.c): {"division_code"} (the
-- division's boundary), {"polygon": GeoJSON text} or {"lon", "lat", "radius_m"} (a circle; WGS84).
-- NULL when the division has no boundary or the polygon cannot be read; the writer refuses an
-- invalid or empty one (patrol_polygon_error).
CREATE FUNCTION patrol_polygon(j text) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN ST_SetSRID(ST_GeomFromGeoJSON(j), 4326);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

CREATE FUNCTION patrol_target_geom(t jsonb) RETURNS geometry LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN t ? 'division_code' THEN
            (SELECT ST_Multi(d.geom) FROM divisions d WHERE d.code = t->>'division_code')
        WHEN t ? 'polygon' THEN ST_Multi(patrol_polygon(t->>'polygon'))
        ELSE ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint((t->>'lon')::float8, (t->>'lat')::float8),
                                           4326)::geography, (t->>'radius_m')::float8, 16)::geometry)
    END
$$;

-- Why a target's area cannot be used, or NULL: no such division or it has no boundary, a polygon
-- that cannot be read, is empty, or is not valid (self-intersecting: the reason).
CREATE FUNCTION patrol_area_error(t jsonb) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN g IS NULL AND t ? 'division_code' THEN 'no such division with a boundary'
        WHEN g IS NULL THEN 'not a readable GeoJSON polygon'
        WHEN ST_IsEmpty(g) OR ST_Area(g) = 0 THEN 'the polygon is empty'
        WHEN NOT ST_IsValid(g) THEN 'the polygon is not valid: ' || ST_IsValidReason(g)
    END FROM (SELECT patrol_target_geom(t) AS g) x
$$;

-- Minutes of the day as "HH:MM".
CREATE FUNCTION patrol_hhmm(m smallint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN m IS NULL THEN NULL ELSE lpad((m / 60)::text, 2, '0') || ':' || lpad((m % 60)::text, 2, '0') END
$$;

-- THE writer of a plan (service/patrols/plans.c checks first): plan pid (0: a new one) from the
-- request body b (name, campaign_id, weekly.days, windows, unit_ids, starts_on, ends_on: what is
-- sent changes), the checked fields c (division_code, weekly_from, weekly_to: minutes) and the
-- normalised targets t (NULL: unchanged; else they replace the plan's: an id keeps and changes
-- one, the others are retired, new ones are made). Returns the plan's id, or -(i + 1) when target
-- i names an id that is not a current target of the plan (nothing is written then: the caller
-- rolls back).
CREATE FUNCTION patrol_plan_write(pid bigint, b jsonb, c jsonb, t jsonb, by_user bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    bad int;
    days smallint[] := CASE WHEN jsonb_typeof(b->'weekly') = 'object' THEN
        ARRAY(SELECT d::smallint FROM jsonb_array_elements_text(b->'weekly'->'days') d ORDER BY 1) END;
BEGIN
    IF pid = 0 THEN
        INSERT INTO patrol_plans (name, division_code, campaign_id, weekly_days, weekly_from,
                                  weekly_to, starts_on, ends_on, created_by)
        VALUES (b->>'name', c->>'division_code', (b->>'campaign_id')::bigint, days,
                (c->>'weekly_from')::smallint, (c->>'weekly_to')::smallint,
                coalesce((b->>'starts_on')::date, current_date), (b->>'ends_on')::date, by_user)
        RETURNING id INTO pid;
    ELSE
        UPDATE patrol_plans SET name = coalesce(b->>'name', name),
            division_code = coalesce(c->>'division_code', division_code),
            campaign_id = CASE WHEN b ? 'campaign_id' THEN (b->>'campaign_id')::bigint ELSE campaign_id END,
            weekly_days = CASE WHEN b ? 'weekly' THEN days ELSE weekly_days END,
            weekly_from = CASE WHEN b ? 'weekly' THEN (c->>'weekly_from')::smallint ELSE weekly_from END,
            weekly_to = CASE WHEN b ? 'weekly' THEN (c->>'weekly_to')::smallint ELSE weekly_to END,
            starts_on = coalesce((b->>'starts_on')::date, starts_on),
            ends_on = CASE WHEN b ? 'ends_on' THEN (b->>'ends_on')::date ELSE ends_on END,
            revision = revision + 1, updated_at = now()
        WHERE id = pid;
    END IF;
    IF b ? 'windows' THEN
        DELETE FROM patrol_plan_windows WHERE plan_id = pid;
        INSERT INTO patrol_plan_windows (plan_id, starts_at, ends_at)
        SELECT pid, (w->>'starts_at')::timestamptz, max((w->>'ends_at')::timestamptz)
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b->'windows') = 'array'
                                       THEN b->'windows' ELSE '[]' END) w
        GROUP BY 2;
    END IF;
    IF b ? 'unit_ids' THEN
        DELETE FROM patrol_plan_units WHERE plan_id = pid;
        INSERT INTO patrol_plan_units (plan_id, unit_id)
        SELECT pid, u::bigint FROM jsonb_array_elements_text(b->'unit_ids') u;
    END IF;
    IF t IS NULL THEN
        RETURN pid;
    END IF;
    SELECT (x->>'i')::int INTO bad FROM jsonb_array_elements(t) x
    WHERE x->>'id' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM patrol_targets g
        WHERE g.id = (x->>'id')::bigint AND g.plan_id = pid AND g.retired_at IS NULL)
    ORDER BY 1 LIMIT 1;
    IF bad IS NOT NULL THEN
        RETURN -bad - 1;
    END IF;
    UPDATE patrol_targets SET retired_at = now()
    WHERE plan_id = pid AND retired_at IS NULL
      AND id NOT IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(t) x WHERE x->>'id' IS NOT NULL);
    UPDATE patrol_targets g SET name = x->>'name', division_code = x->>'division_code',
        center = CASE WHEN x ? 'lon' THEN ST_SetSRID(ST_MakePoint((x->>'lon')::float8, (x->>'lat')::float8), 4326) END,
        radius_m = (x->>'radius_m')::real, geom = patrol_target_geom(x),
        visits_per_week = (x->>'visits')::smallint, min_dwell_min = (x->>'dwell')::smallint,
        tod_from = (x->>'tod_from')::smallint, tod_to = (x->>'tod_to')::smallint,
        agencies = ARRAY(SELECT jsonb_array_elements_text(x->'agencies'))
    FROM jsonb_array_elements(t) x WHERE x->>'id' IS NOT NULL AND g.id = (x->>'id')::bigint;
    INSERT INTO patrol_targets (plan_id, name, division_code, center, radius_m, geom, visits_per_week,
                                min_dwell_min, tod_from, tod_to, agencies)
    SELECT pid, x->>'name', x->>'division_code',
           CASE WHEN x ? 'lon' THEN ST_SetSRID(ST_MakePoint((x->>'lon')::float8, (x->>'lat')::float8), 4326) END,
           (x->>'radius_m')::real, patrol_target_geom(x), (x->>'visits')::smallint,
           (x->>'dwell')::smallint, (x->>'tod_from')::smallint, (x->>'tod_to')::smallint,
           ARRAY(SELECT jsonb_array_elements_text(x->'agencies'))
    FROM jsonb_array_elements(t) x WHERE x->>'id' IS NULL ORDER BY (x->>'i')::int;
    RETURN pid;
END $$;
