-- stats_data.sql - a year of generated reports for bench_stats.sh (psql variables :n, :year and
-- :scope, 'city' or 'province'). City: the seeded communities of 连云港 (3207). Province: synthetic
-- 12-digit codes of Jiangsu (32): 13 cities x 9 counties x 20 towns x 25 communities. Each report
-- gets the events of its lifecycle (acknowledge, dispatch, arrive, resolve, sometimes a deadline
-- escalation first) at random delays, its final status and outcome; the ended ones get their fact
-- row through report_fact(), the migration's own back-fill, and the open ones theirs in
-- report_open_facts (0023's back-fill): the rows are written with the triggers off (replica role),
-- the facts in bulk once at the end. Deterministic (setseed).
SET session_replication_role = replica;
SELECT setseed(0.21);

CREATE TEMP TABLE bench_comm AS
SELECT array_agg(code::text ORDER BY code) AS codes
FROM divisions WHERE level = 'community' AND code LIKE '3207%';

CREATE TEMP TABLE bench_r AS
SELECT g, md5(:'scope' || :'year' || g)::uuid AS client_id,
       timestamptz (:'year' || '-01-01 00:00:00+08') + random() * interval '365 days' AS at,
       CASE WHEN :'scope' = 'city'
            THEN c.codes[1 + (g * 7919) % array_length(c.codes, 1)]
            ELSE '32' || lpad((1 + g % 13)::text, 2, '0') || lpad((1 + g / 13 % 9)::text, 2, '0')
                 || lpad((1 + g / 117 % 20)::text, 3, '0') || lpad((1 + g / 2340 % 25)::text, 3, '0')
       END AS code,
       random() AS s, random() AS e,
       (ARRAY['vagrant', 'beggar', 'lost_elderly', 'minor', 'mental_illness', 'injured_or_ill', 'other'])
           [1 + floor(random() * 7)::int] AS category,
       (ARRAY['admitted_to_station', 'escorted_home', 'sent_to_hospital', 'refused_help', 'not_found',
              'handed_to_police'])[1 + floor(random() * 6)::int] AS outcome,
       20 + (random() * 3000)::int AS d_ack, 10 + (random() * 1800)::int AS d_dis,
       60 + (random() * 3600)::int AS d_arr, 60 + (random() * 7200)::int AS d_res
FROM generate_series(1, :n) g, bench_comm c;

-- the final status: 85 % resolved, 5 % cancelled, 3 % duplicate, 7 % still open
INSERT INTO reports (client_id, category, status, geom, observed_at, received_at, updated_at,
                     people_count, city_code, county_code, town_code, community_code, station_id,
                     tier, outcome)
SELECT b.client_id, b.category,
       CASE WHEN b.s < 0.85 THEN 'resolved' WHEN b.s < 0.90 THEN 'cancelled'
            WHEN b.s < 0.93 THEN 'duplicate' WHEN b.s < 0.95 THEN 'new'
            WHEN b.s < 0.97 THEN 'acknowledged' WHEN b.s < 0.985 THEN 'dispatched' ELSE 'on_scene' END,
       ST_SetSRID(ST_MakePoint(119 + (b.g % 1000) / 1000.0, 34 + (b.g / 1000 % 1000) / 1000.0), 4326),
       b.at, b.at, b.at + make_interval(secs => b.d_ack + b.d_dis + b.d_arr + b.d_res),
       1 + (b.g % 3), left(b.code, 4) || '00000000', left(b.code, 6) || '000000',
       left(b.code, 9) || '000', b.code, 1,
       CASE WHEN b.e < 0.1 THEN 'county' ELSE 'town' END,
       CASE WHEN b.s < 0.85 THEN b.outcome END
FROM bench_r b ORDER BY b.at;

-- the events of each lifecycle (a deadline escalation first for one report in ten)
INSERT INTO report_events (report_id, type, actor, at, from_status, to_status, details)
SELECT r.id, v.type, 'bench', r.received_at + make_interval(secs => v.after), v.f, v.t, v.d
FROM reports r JOIN bench_r b ON b.client_id = r.client_id
CROSS JOIN LATERAL (VALUES
    ('escalated', b.d_ack / 2, 'new', 'new',
     '{"from_tier": "town", "to_tier": "county", "reason": "ack_deadline_passed"}'::jsonb, b.e < 0.1),
    ('acknowledge', b.d_ack, 'new', 'acknowledged', '{}'::jsonb, r.status <> 'new'),
    ('dispatch', b.d_ack + b.d_dis, 'acknowledged', 'dispatched', '{}'::jsonb,
     r.status IN ('resolved', 'dispatched', 'on_scene')),
    ('arrive', b.d_ack + b.d_dis + b.d_arr, 'dispatched', 'on_scene', '{}'::jsonb,
     r.status IN ('resolved', 'on_scene')),
    ('resolve', b.d_ack + b.d_dis + b.d_arr + b.d_res, 'on_scene', 'resolved', '{}'::jsonb,
     r.status = 'resolved'),
    ('cancel', b.d_ack + 60, 'acknowledged', 'cancelled', '{}'::jsonb, r.status = 'cancelled'),
    ('mark_duplicate', b.d_ack + 60, 'acknowledged', 'duplicate', '{}'::jsonb,
     r.status = 'duplicate')) v(type, after, f, t, d, keep)
WHERE v.keep;

INSERT INTO report_facts
SELECT f.* FROM reports r CROSS JOIN LATERAL report_fact(r) f
WHERE r.status IN ('resolved', 'cancelled', 'duplicate')
  AND r.received_at >= timestamptz (:'year' || '-01-01 00:00:00+08')
  AND r.received_at < timestamptz (:'year' || '-01-01 00:00:00+08') + interval '1 year';

INSERT INTO report_open_facts
SELECT f.* FROM reports r CROSS JOIN LATERAL report_fact(r) f
WHERE r.status IN ('new', 'acknowledged', 'dispatched', 'on_scene')
  AND r.received_at >= timestamptz (:'year' || '-01-01 00:00:00+08')
  AND r.received_at < timestamptz (:'year' || '-01-01 00:00:00+08') + interval '1 year';
