-- pgbench_reports.sql - the ceiling for POST /api/v1/reports: the database work the service does per
-- report, statement for statement, without HTTP, JSON, point location or the reply:
--   1. the bearer-token lookup (service/core/auth.c auth_check_token), autocommit;
--   2. insert_one_sql of service/reports/reports.c: the reports row, its 'created' audit row and its live
--      event (events_append.h: the report payload and its creator) in one statement, returning the
--      report columns and its possible duplicates visible to the patrol (the visibility rule of
--      auth.h; same tables, indexes, triggers and foreign keys). Keep it in step with reports.c.
-- Variables from bench_reports.sh (-D): city, county, town, community (12-digit codes), station, uid,
-- tokhash (\x + hex SHA-256 of a live session's token). Points: the same box as reports.lua.
\set lon random(118600000, 119500000)
\set lat random(34100000, 34800000)
SELECT u.id, u.username, u.role, u.division_code, coalesce(u.station_id, 0), coalesce(u.unit_id, 0)
  FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.token_hash = CAST(:tokhash AS bytea) AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled;
WITH ins AS (INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description,
    people_count, person, city_code, county_code, town_code, community_code, zone_codes, outside, snapped_m,
    station_id, tier, ack_deadline, source, created_by)
  VALUES (gen_random_uuid(), 'vagrant', ST_SetSRID(ST_MakePoint(CAST(:lon AS float8) / 1e6, CAST(:lat AS float8) / 1e6), 4326),
    NULL::real, 'wgs84', to_timestamp(1714521600::float8), 'bench', 1, NULL::jsonb, CAST(:city AS text),
    CAST(:county AS text), CAST(:town AS text), CAST(:community AS text), '{}'::text[]::char(12)[], false,
    NULL::real, CAST(:station AS bigint), 'town', now() + make_interval(secs => 900), 'app', CAST(:uid AS bigint))
  ON CONFLICT (client_id) DO NOTHING RETURNING *),
 ev AS (INSERT INTO report_events (report_id, type, actor_id, actor, at, from_status, to_status, details)
  SELECT i.id, 'created', CAST(:uid AS bigint), 'patrol', i.received_at, NULL, i.status,
         json_build_object('station_id', i.station_id, 'tier', i.tier, 'source', i.source,
                           'ack_deadline', i.ack_deadline) FROM ins i),
 le AS (INSERT INTO events (kind, entity_id, division_code, report_creator, payload)
  SELECT 'report.created', i.id, coalesce(i.community_code, i.town_code, i.county_code, i.city_code), i.created_by,
         (jsonb_build_object('id', i.id, 'status', i.status, 'category', i.category, 'lon', ST_X(i.geom),
                            'lat', ST_Y(i.geom),
                            'division_code', coalesce(i.community_code, i.town_code, i.county_code, i.city_code),
                            'city_code', i.city_code, 'county_code', i.county_code, 'town_code', i.town_code,
                            'community_code', i.community_code, 'station_id', i.station_id, 'tier', i.tier,
                            'ack_deadline', i.ack_deadline, 'unit_id', i.unit_id, 'outcome', i.outcome,
                            'event', 'created') || '{}'::jsonb) FROM ins i)
SELECT r.id, r.client_id, r.status, r.category, ST_X(r.geom), ST_Y(r.geom), r.accuracy_m,
       to_json(r.observed_at)#>>'{}', to_json(r.received_at)#>>'{}', to_json(r.updated_at)#>>'{}',
       r.description, r.people_count, r.person, r.city_code, NULL::text, r.county_code, NULL::text,
       r.town_code, NULL::text, r.community_code, NULL::text, NULL::text, r.outside, r.snapped_m,
       r.station_id, NULL::text, r.tier, to_json(r.ack_deadline)#>>'{}', r.unit_id, r.outcome,
       r.duplicate_of, r.source, r.created_by, r.crs_in,
       (SELECT coalesce(json_agg(t ORDER BY t.distance_m, t.id), '[]') FROM (SELECT k.id, k.category, k.status,
          round(k.dist::numeric, 1)::float8 AS distance_m, k.received_at FROM (SELECT d.id, d.category,
          d.status, d.received_at, ST_Distance(d.geom::geography, r.geom::geography) AS dist FROM reports d
          WHERE d.id <> r.id AND d.category = r.category
            AND d.status IN ('new', 'acknowledged', 'dispatched', 'on_scene')
            AND d.received_at > now() - make_interval(secs => 7200)
            AND d.geom && ST_Expand(r.geom, 200::float8 / 50000.0)
            AND (d.created_by = CAST(:uid AS bigint)
                 OR (left(coalesce(d.community_code, d.town_code, d.county_code, d.city_code),
                          length(left(CAST(:county AS text), 6))) = left(CAST(:county AS text), 6)
                     OR (coalesce(d.community_code, d.town_code, d.county_code, d.city_code) IS NULL
                         AND length(left(CAST(:county AS text), 6)) <= 4)))
          ORDER BY d.geom <-> r.geom LIMIT 50) k
        WHERE k.dist <= 200::float8 ORDER BY 4, 1 LIMIT 20) t)
  FROM ins r;
