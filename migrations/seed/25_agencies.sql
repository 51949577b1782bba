-- 25_agencies.sql - demo agencies of the joint patrol (联合巡查) and the agency and vehicle of each
-- demo unit, run by `patrold seed` after 20_stations_units.sql. Names and plates are made up.

-- Every county (and the development zone): civil affairs, police, urban management.
INSERT INTO agencies (name, kind, division_code)
SELECT d.name || v.suffix, v.kind, d.code
FROM divisions d
CROSS JOIN (VALUES ('民政局', 'civil_affairs', 1), ('公安分局', 'police', 2),
                   ('城市管理局', 'urban_management', 3)) v (suffix, kind, ord)
WHERE d.level = 'county' AND d.parent_code = '320700000000'
ORDER BY d.code, v.ord;

-- 海州区 also walks with health workers, a street office and volunteers.
INSERT INTO agencies (name, kind, division_code) VALUES
    ('海州区卫生健康委员会', 'health', '320706000000'),
    ('新浦街道办事处', 'street_office', '320706010000'),
    ('海州区救助志愿者协会', 'volunteer', '320706000000');

-- The units of a county take turns: civil affairs, police, urban management (by call sign number);
-- each has a car of the city (苏G).
UPDATE units u SET agency_id = a.id, vehicle = '苏G·J' || lpad(u.id::text, 4, '0')
FROM agencies a
WHERE a.division_code = u.division_code
  AND a.kind = (ARRAY['urban_management', 'civil_affairs', 'police'])
                [split_part(u.callsign, '-', 2)::int % 3 + 1];
