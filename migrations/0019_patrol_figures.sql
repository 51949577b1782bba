-- Joint patrol figures (issue 18) read by the campaign summary, the ledger, the map and the figures
-- of issue 21: one function each, so every reader counts the same way.

-- The figures of the patrols of plans inside division `prefix` (its significant digits) whose
-- window starts in [a, b) (and of campaign `campaign` when given), per county:
--   patrols         巡查次数: windows of a plan in which a unit of it made a counted visit
--   staff_turns     出动人次: per patrol, the distinct members on shift (shift_members of shifts
--                   overlapping the window; a unit without a shift then: its members at the start)
--                   on the units that walked in it, summed over patrols (never per fix or leg)
--   places_visited  巡查点: per patrol, the targets with a counted visit, summed
--   hours, km       the group's walking time and distance, counted once (patrol_patrols)
--   reports, people reports observed during a patrol by a unit of it (reporter_unit_id), not
--                   cancelled or duplicates, each once; people: their people_count
--   outcomes        those reports' outcomes: {"admitted_to_station": n, ...}
CREATE FUNCTION patrol_figures(prefix text, a timestamptz, b timestamptz, campaign bigint DEFAULT NULL)
RETURNS TABLE (county_code text, patrols bigint, staff_turns bigint, places_visited bigint,
               hours double precision, km double precision, reports bigint, people bigint,
               outcomes jsonb)
LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT pp.*, left(pl.division_code, 6) || '000000' AS county
        FROM patrol_patrols pp JOIN patrol_plans pl ON pl.id = pp.plan_id
        WHERE pp.visits > 0 AND pp.starts_at >= a AND pp.starts_at < b
          AND left(pl.division_code, length(prefix)) = prefix
          AND (campaign IS NULL OR pl.campaign_id = campaign)),
    staff AS (
        SELECT p.county, p.plan_id, p.starts_at, count(DISTINCT m.user_id) AS n
        FROM p CROSS JOIN LATERAL unnest(p.unit_ids) AS u (unit_id)
        LEFT JOIN LATERAL (
            SELECT sm.user_id FROM shifts s JOIN shift_members sm ON sm.shift_id = s.id
            WHERE s.unit_id = u.unit_id AND s.starts_at < p.ends_at AND s.ends_at > p.starts_at
            UNION
            SELECT um.user_id FROM unit_members um
            WHERE um.unit_id = u.unit_id AND um.from_at <= p.starts_at
              AND (um.to_at IS NULL OR um.to_at > p.starts_at)
              AND NOT EXISTS (SELECT 1 FROM shifts s WHERE s.unit_id = u.unit_id
                              AND s.starts_at < p.ends_at AND s.ends_at > p.starts_at)) m ON true
        GROUP BY p.county, p.plan_id, p.starts_at),
    found AS (
        SELECT DISTINCT p.county, r.id, r.people_count, r.outcome
        FROM p JOIN reports r ON r.reporter_unit_id = ANY (p.unit_ids)
         AND r.observed_at >= p.starts_at AND r.observed_at < p.ends_at
         AND r.status NOT IN ('cancelled', 'duplicate')),
    c AS (
        SELECT county, count(*) AS patrols, sum(places)::bigint AS places,
               sum(active_s) / 3600 AS hours, sum(metres) / 1000 AS km
        FROM p GROUP BY county)
    SELECT c.county, c.patrols, coalesce(s.turns, 0), c.places, c.hours, c.km,
           coalesce(f.n, 0), coalesce(f.people, 0), coalesce(o.outcomes, '{}'::jsonb)
    FROM c
    LEFT JOIN (SELECT county, sum(n)::bigint AS turns FROM staff GROUP BY county) s USING (county)
    LEFT JOIN (SELECT county, count(*) AS n, sum(people_count)::bigint AS people FROM found
               GROUP BY county) f USING (county)
    LEFT JOIN (SELECT county, jsonb_object_agg(outcome, n) AS outcomes
               FROM (SELECT county, outcome, count(*) AS n FROM found WHERE outcome IS NOT NULL
                     GROUP BY county, outcome) x GROUP BY county) o USING (county)
    ORDER BY c.county
$$;

-- Target t in the week that starts at w0 (a Monday, 00:00 in the city), as of `at`: the visits it
-- needs, the counted ones (of windows starting in the week), and its state as a position in the
-- vocabulary TargetState (service/core/vocab.c: 0 achieved, 1 on track, 2 behind, 3 missed):
-- achieved when counted >= needed; missed when short of it and the week's windows are over; behind
-- when fewer than the share of the week's counting time gone by asks for; on track otherwise.
CREATE FUNCTION patrol_target_week(t bigint, w0 timestamptz, at timestamptz)
RETURNS TABLE (needed int, verified int, state int) LANGUAGE sql STABLE AS $$
    WITH w AS (SELECT patrol, starts_at, ends_at
               FROM patrol_target_windows(t, w0, w0 + interval '7 days')
               WHERE patrol >= w0 AND patrol < w0 + interval '7 days'),
    tw AS (SELECT coalesce(sum(extract(epoch FROM ends_at - starts_at)), 0) AS total,
                  coalesce(sum(extract(epoch FROM least(ends_at, at) - starts_at))
                           FILTER (WHERE starts_at < at), 0) AS gone FROM w),
    v AS (SELECT count(*)::int AS n FROM patrol_visits v
          WHERE v.target_id = t AND v.counted AND v.patrol >= w0 AND v.patrol < w0 + interval '7 days')
    SELECT tg.visits_per_week::int, v.n,
           CASE WHEN v.n >= tg.visits_per_week THEN 0
                WHEN tw.total = 0 THEN 1
                WHEN tw.gone >= tw.total THEN 3
                WHEN v.n < floor(tg.visits_per_week * tw.gone / tw.total) THEN 2
                ELSE 1 END
    FROM patrol_targets tg, tw, v WHERE tg.id = t
$$;
