-- Joint street patrols (issue 18): campaigns (寒冬送温暖, 酷暑...), plans (which units of which
-- agencies walk together, when, where), targets (an area with how often, how long, at what time of
-- day and with which agency kinds), and what the tracks say was walked: spans (a unit inside a
-- target), visits (units inside together, one visit however many), patrols (a window of a plan),
-- slices (5 minutes of a window: the group's active time and distance, counted once).
--
-- Writers: the API writes campaigns, plans, windows, units and targets; the positions request adds
-- one patrol_dirty row per batch of a unit that is in a plan, in the transaction that stores the
-- fixes; the scorer (one per cluster: an advisory lock, service/patrols/scorer.c) turns dirty rows
-- into patrol_queue rows per plan and scores them into spans, visits, slices and patrols. A plan's
-- edit queues its plan again (the score follows the edit).

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
    revision      int NOT NULL DEFAULT 1,   -- every edit adds one (the scorer's cached areas)
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

-- A unit inside a target from t0 to t1 (the union of its time inside, kept as fixes arrive).
CREATE TABLE patrol_spans (
    target_id bigint NOT NULL REFERENCES patrol_targets (id) ON DELETE CASCADE,
    unit_id   bigint NOT NULL,
    t0        timestamptz NOT NULL,
    t1        timestamptz NOT NULL,
    PRIMARY KEY (target_id, t0, unit_id),
    CHECK (t1 >= t0)
);

-- A visit: units of the plan inside the target together (gaps under 2 minutes bridged), within one
-- window (`patrol`: its start) and the target's time of day. counted: its dwell reached
-- min_dwell_min and each required agency kind was inside at least half of it. announced: its
-- patrol.visit event was appended (once, whatever later batches change).
CREATE TABLE patrol_visits (
    id        bigserial PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES patrol_targets (id) ON DELETE CASCADE,
    plan_id   bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    patrol    timestamptz NOT NULL,
    t0        timestamptz NOT NULL,
    t1        timestamptz NOT NULL,
    unit_ids  bigint[] NOT NULL,
    agencies  text[] NOT NULL,
    counted   boolean NOT NULL,
    announced boolean NOT NULL DEFAULT false,
    CHECK (t1 >= t0)
);
CREATE INDEX patrol_visits_target ON patrol_visits (target_id, t0);
CREATE INDEX patrol_visits_plan ON patrol_visits (plan_id, patrol);

-- A patrol (巡查): one window of a plan. Its figures are the group's, counted once: unit_ids the
-- units of the plan that walked in it, active_s the union of their walking time, metres their
-- distance without a unit walking beside another; visits and places its counted visits and the
-- targets they were at; started_at the first fix of a unit within 500 m of a target; overdue: none
-- came within 15 minutes of the start (patrol.overdue was appended; checked says it was looked at).
CREATE TABLE patrol_patrols (
    plan_id    bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    unit_ids   bigint[] NOT NULL DEFAULT '{}',
    active_s   double precision NOT NULL DEFAULT 0,
    metres     double precision NOT NULL DEFAULT 0,
    visits     int NOT NULL DEFAULT 0,
    places     int NOT NULL DEFAULT 0,
    started_at timestamptz,
    checked    boolean NOT NULL DEFAULT false,
    overdue    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (plan_id, starts_at)
);
CREATE INDEX patrol_patrols_time ON patrol_patrols (starts_at);

-- 5 minutes of a window: what patrol_patrols sums (kept per slice so a batch re-reads minutes of
-- fixes, never the whole window's).
CREATE TABLE patrol_slices (
    plan_id  bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    patrol   timestamptz NOT NULL,
    slice    timestamptz NOT NULL,
    unit_ids bigint[] NOT NULL,
    active_s double precision NOT NULL,
    metres   double precision NOT NULL,
    PRIMARY KEY (plan_id, patrol, slice)
);

-- Time ranges of a unit's fixes to score (written with the fixes), and of a plan (the scorer's own
-- queue; an edit queues its plan).
CREATE TABLE patrol_dirty (
    id      bigserial PRIMARY KEY,
    unit_id bigint NOT NULL,
    t0      timestamptz NOT NULL,
    t1      timestamptz NOT NULL
);
CREATE TABLE patrol_queue (
    id      bigserial PRIMARY KEY,
    plan_id bigint NOT NULL,
    t0      timestamptz NOT NULL,
    t1      timestamptz NOT NULL
);
CREATE INDEX patrol_queue_plan ON patrol_queue (plan_id);

-- Writes of plans and campaigns are audited like the other administrative writes.
ALTER TABLE audit DROP CONSTRAINT audit_action_check, DROP CONSTRAINT audit_entity_check;
ALTER TABLE audit ADD CONSTRAINT audit_action_check CHECK (action IN (
    'report.get', 'report.list', 'photo.list', 'photo.get', 'export.csv', 'export.geojson',
    'auth.login', 'auth.login_failed', 'auth.logout', 'auth.password', 'auth.reset', 'auth.reset_failed',
    'station.create', 'station.update', 'agency.create', 'agency.update', 'unit.create',
    'unit.update', 'unit.members', 'shift.create', 'shift.update', 'user.create', 'user.update',
    'user.reset_code', 'report.mask', 'plan.create', 'plan.update', 'campaign.create')),
    ADD CONSTRAINT audit_entity_check CHECK (entity IN ('station', 'agency', 'unit', 'shift', 'user',
                                                        'plan', 'campaign'));

-- The windows of plan p overlapping [a, b): its one-off windows, and its weekly ones on the days of
-- starts_on .. ends_on, in the city's time (the session's TimeZone is the deployment's zone,
-- service/core/tz.h). THE window rule: the scorer, the ledger, the figures and the app read it.
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
