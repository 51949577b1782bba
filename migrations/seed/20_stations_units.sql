-- 20_stations_units.sql - demo rescue stations (city, county, town tiers) and patrol units, run by
-- `patrold seed` after 10_boundaries.sql. Names, phone numbers, positions are made up.

-- Tier 1: the city rescue station covers the whole city.
INSERT INTO stations (name, tier, division_code, location, coverage, can_dispatch, phone)
SELECT '连云港市救助管理站', 'city', code, ST_PointOnSurface(geom), geom, true, '0518-85800000'
FROM divisions WHERE code = '320700000000';

-- Tier 2: one station per county and one for the development zone, under the city station.
INSERT INTO stations (name, tier, division_code, location, coverage, can_dispatch, parent_id, phone)
SELECT c.name || '救助站', 'county', c.code, ST_PointOnSurface(c.geom), c.geom, true, city.id,
       '0518-858' || lpad((row_number() OVER (ORDER BY c.code))::text, 5, '0')
FROM divisions c, stations city
WHERE c.level = 'county' AND c.parent_code = '320700000000' AND city.tier = 'city'
ORDER BY c.code;

-- Tier 3: a rescue work station per town, under its county's (or the zone's) station. Every 7th
-- (by code) cannot dispatch, so routing has to pass it over.
INSERT INTO stations (name, tier, division_code, location, coverage, can_dispatch, parent_id)
SELECT t.name || '救助工作站', 'town', t.code, ST_PointOnSurface(t.geom), t.geom,
       row_number() OVER (ORDER BY t.code) % 7 <> 0, cs.id
FROM divisions t JOIN stations cs ON cs.tier = 'county' AND cs.division_code = t.parent_code
WHERE t.level = 'town'
ORDER BY t.code;

-- 24 patrol units spread over the county-tier stations, placed at fixed pseudo-random points.
INSERT INTO units (name, callsign, station_id, division_code, status, position, position_at)
SELECT v.short || '巡查' || p.k || '队', v.prefix || '-' || lpad(p.k::text, 2, '0'), s.id, s.division_code,
       'available', p.geom, now()
FROM (VALUES ('320703000000', '连云', 'LY', 3), ('320706000000', '海州', 'HZ', 5),
             ('320707000000', '赣榆', 'GY', 3), ('320722000000', '东海', 'DH', 4),
             ('320723000000', '灌云', 'GUY', 3), ('320724000000', '灌南', 'GN', 3),
             ('320771000000', '开发区', 'KFQ', 3)) v (code, short, prefix, n)
JOIN stations s ON s.tier = 'county' AND s.division_code = v.code
CROSS JOIN LATERAL (SELECT d.path[1] AS k, d.geom
                    FROM ST_Dump(ST_GeneratePoints(s.coverage, v.n, 7)) d) p
ORDER BY v.code, p.k;

INSERT INTO unit_positions (unit_id, at, geom, accuracy_m)
SELECT id, position_at, position, 10 FROM units WHERE position IS NOT NULL;
