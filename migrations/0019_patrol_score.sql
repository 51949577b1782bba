-- Joint street patrols (issue 18), the stored score: the scorer (service/patrols/scorer.c, one
-- per cluster under an advisory lock) re-scores the windows of plans whose units' fixes, or whose
-- plan, changed, and keeps the answer here: each scored window (started on time or overdue) and
-- its targets' visits. What changed is noted where it changes: fixes by the triggers on
-- unit_positions below (every writer: the API, an import), plans by the triggers on the plan
-- tables. A row of patrol_dirty stays until the transaction that scored it commits: a scorer
-- killed half-way leaves it for the next.

CREATE TABLE patrol_dirty (
    id      bigserial PRIMARY KEY,
    unit_id bigint,                 -- fixes of this unit in [from_at, to_at] changed, or
    plan_id bigint,                 -- this plan changed (its windows in [from_at, to_at])
    from_at timestamptz NOT NULL,
    to_at   timestamptz NOT NULL,
    noted_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((unit_id IS NULL) <> (plan_id IS NULL))
);

CREATE FUNCTION patrol_fixes_noted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patrol_dirty (unit_id, from_at, to_at)
    SELECT n.unit_id, min(n.at), max(n.at) FROM new_fixes n
    WHERE EXISTS (SELECT 1 FROM patrol_plan_units pu WHERE pu.unit_id = n.unit_id)
    GROUP BY n.unit_id;
    RETURN NULL;
END $$;

CREATE TRIGGER unit_positions_patrol_ins AFTER INSERT ON unit_positions
    REFERENCING NEW TABLE AS new_fixes FOR EACH STATEMENT EXECUTE FUNCTION patrol_fixes_noted();
CREATE TRIGGER unit_positions_patrol_upd AFTER UPDATE ON unit_positions
    REFERENCING NEW TABLE AS new_fixes FOR EACH STATEMENT EXECUTE FUNCTION patrol_fixes_noted();

-- A plan edited (its row, windows, units or targets): its windows of the last 8 days and the
-- next day are scored again, so the score follows the edit.
CREATE FUNCTION patrol_plan_noted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pid bigint := CASE WHEN TG_OP = 'DELETE' THEN (to_jsonb(OLD)->>CASE WHEN TG_TABLE_NAME =
        'patrol_plans' THEN 'id' ELSE 'plan_id' END)::bigint ELSE (to_jsonb(NEW)->>CASE WHEN
        TG_TABLE_NAME = 'patrol_plans' THEN 'id' ELSE 'plan_id' END)::bigint END;
BEGIN
    INSERT INTO patrol_dirty (plan_id, from_at, to_at)
    SELECT pid, now() - interval '8 days', now() + interval '1 day'
    WHERE NOT EXISTS (SELECT 1 FROM patrol_dirty d WHERE d.plan_id = pid
                      AND d.noted_at = now());   -- once per transaction
    RETURN NULL;
END $$;

CREATE TRIGGER patrol_plans_noted AFTER INSERT OR UPDATE ON patrol_plans
    FOR EACH ROW EXECUTE FUNCTION patrol_plan_noted();
CREATE TRIGGER patrol_plan_windows_noted AFTER INSERT OR UPDATE OR DELETE ON patrol_plan_windows
    FOR EACH ROW EXECUTE FUNCTION patrol_plan_noted();
CREATE TRIGGER patrol_plan_units_noted AFTER INSERT OR UPDATE OR DELETE ON patrol_plan_units
    FOR EACH ROW EXECUTE FUNCTION patrol_plan_noted();
CREATE TRIGGER patrol_targets_noted AFTER INSERT OR UPDATE ON patrol_targets
    FOR EACH ROW EXECUTE FUNCTION patrol_plan_noted();

-- A window of a plan as last scored: its state (VOCAB_WALKED_STATUS), the group's active time and
-- km counted once, when the first fix of a plan's unit within 500 m of a target came (null: none
-- yet), and whether it was overdue (no such fix 15 minutes after it started).
CREATE TABLE patrol_scored_windows (
    plan_id     bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    status      text NOT NULL,
    unit_ids    bigint[] NOT NULL DEFAULT '{}',
    active_min  real NOT NULL DEFAULT 0,
    km          real NOT NULL DEFAULT 0,
    first_near_at timestamptz,
    overdue     boolean NOT NULL DEFAULT false,
    revision    int NOT NULL,            -- the plan's revision it was scored at
    scored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, starts_at)
);

-- The visits of a target in a window of its plan (replaced whenever the window is scored again):
-- n the visit's place in time order within the window.
CREATE TABLE patrol_visits (
    target_id bigint NOT NULL REFERENCES patrol_targets (id) ON DELETE CASCADE,
    plan_id   bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    patrol    timestamptz NOT NULL,      -- the window's start
    n         int NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    dwell_s   real NOT NULL,
    unit_ids  bigint[] NOT NULL,
    agencies  text[] NOT NULL,
    counted   boolean NOT NULL,
    PRIMARY KEY (target_id, patrol, n)
);
CREATE INDEX patrol_visits_plan ON patrol_visits (plan_id, patrol);

-- The events already raised: a target's k-th counted visit of a window (patrol.visit, n = k) or a
-- window's overdue (patrol.overdue, target_id 0, n 0), so a window scored again, by this or
-- another instance, never raises one twice.
CREATE TABLE patrol_raised (
    kind      text NOT NULL,
    plan_id   bigint NOT NULL REFERENCES patrol_plans (id) ON DELETE CASCADE,
    patrol    timestamptz NOT NULL,
    target_id bigint NOT NULL,
    n         int NOT NULL,
    PRIMARY KEY (kind, plan_id, patrol, target_id, n)
);
