-- pgbench_reports.sql - the ceiling for POST /api/v1/reports: the same write the service does per
-- report (one statement: the reports row, its 'created' audit event and its live event, same tables,
-- indexes and triggers), without HTTP, JSON, point location or the read-back.
-- Variables from bench_reports.sh (-D): city, county, town, community (12-digit codes), station, uid.
\set lon random(1186000, 1195000)
\set lat random(341000, 348000)
WITH ins AS (
  INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description, people_count,
                       person, city_code, county_code, town_code, community_code, zone_codes, outside,
                       snapped_m, station_id, tier, ack_deadline, source, created_by)
  VALUES (gen_random_uuid(), 'vagrant', ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326), NULL,
          'wgs84', now(), 'bench', 1, NULL, CAST(:city AS text), CAST(:county AS text), CAST(:town AS text),
          CAST(:community AS text), '{}', false, NULL, CAST(:station AS bigint), 'town',
          now() + interval '15 minutes', 'app', CAST(:uid AS bigint))
  ON CONFLICT (client_id) DO NOTHING RETURNING *),
ev AS (
  INSERT INTO report_events (report_id, type, actor_id, actor, at, from_status, to_status, details)
  SELECT i.id, 'created', i.created_by, 'pgbench', i.received_at, NULL, i.status,
         json_build_object('station_id', i.station_id, 'tier', i.tier, 'source', i.source) FROM ins i),
le AS (
  INSERT INTO events (kind, entity_id, division_code, payload)
  SELECT 'report.created', i.id, i.community_code,
         json_build_object('id', i.id, 'status', i.status, 'category', i.category) FROM ins i)
SELECT id FROM ins;
