-- 10_boundaries.sql - demo boundaries for Lianyungang, run by `patrold seed` inside its transaction,
-- after the division list (CSV) and the six real county polygons (GeoJSON, GCJ-02 -> WGS-84) are in.
--
-- Real (synthetic = false): the six counties, and the city as their union.
-- Synthetic (synthetic = true), deterministic from fixed seeds: the development zone 320771, every
-- town (a Voronoi split of its county minus the zone, or of the zone) and every community (a
-- Voronoi split of its town). All overlays snap to a 1e-9 degree grid (0.1 mm) so that siblings
-- share their borders exactly: they never overlap, and together they cover their parent.

-- pg_temp.seed_split(parent, n, seed): n pieces tiling `parent`, numbered k = 1..n. Piece k is the
-- Voronoi cell of the k-th of n points placed in `parent` by ST_GeneratePoints with `seed`,
-- clipped to `parent`. Deterministic for the same parent, n and seed.
CREATE FUNCTION pg_temp.seed_split(parent geometry, n int, seed int)
RETURNS TABLE (k int, geom geometry) LANGUAGE sql STABLE AS $$
    WITH pts AS (
        SELECT d.path[1] AS k, d.geom AS pt
        FROM ST_Dump(ST_GeneratePoints(parent, n, seed)) d
        WHERE n > 1
    ), cells AS (
        SELECT d.geom AS cell
        FROM ST_Dump((SELECT ST_VoronoiPolygons(ST_Collect(pt ORDER BY k), 0, ST_Expand(parent, 0.05))
                      FROM pts)) d
    )
    SELECT p.k, ST_Multi(ST_CollectionExtract(ST_Intersection(c.cell, parent, 1e-9), 3))
    FROM pts p JOIN cells c ON ST_Intersects(c.cell, p.pt)
    UNION ALL
    SELECT 1, ST_Multi(ST_ReducePrecision(parent, 1e-9)) WHERE n = 1
$$;

-- The city: union of the six real counties.
UPDATE divisions SET geom = (SELECT ST_Multi(ST_Union(geom)) FROM divisions
                             WHERE level = 'county' AND kind = 'admin' AND parent_code = '320700000000'),
                     synthetic = false, updated_at = now()
WHERE code = '320700000000';

-- The development zone: a made-up octagon around 猴嘴/中云 between 海州区 and 连云区
-- (119.25-119.40E, 34.62-34.72N), clipped to the counties.
UPDATE divisions SET geom = (
        SELECT ST_Multi(ST_CollectionExtract(ST_Intersection(ST_GeomFromText(
            'POLYGON((119.27 34.62, 119.35 34.62, 119.40 34.65, 119.40 34.69, 119.36 34.72,'
            ' 119.28 34.72, 119.25 34.69, 119.25 34.65, 119.27 34.62))', 4326), city.geom, 1e-9), 3))
        FROM divisions city WHERE city.code = '320700000000'),
    synthetic = true, updated_at = now()
WHERE code = '320771000000';

-- Towns: each real county's towns split the county minus the zone; the zone's towns split the zone.
WITH zone AS (
    SELECT geom FROM divisions WHERE code = '320771000000'
), area AS (
    SELECT c.code,
           CASE WHEN c.kind = 'zone' THEN c.geom
                ELSE ST_CollectionExtract(ST_Difference(c.geom, zone.geom, 1e-9), 3) END AS geom
    FROM divisions c, zone
    WHERE c.level = 'county' AND c.parent_code = '320700000000'
), kids AS (
    SELECT parent_code, array_agg(code ORDER BY code) AS codes
    FROM divisions WHERE level = 'town' GROUP BY parent_code
), piece AS (
    SELECT kids.codes[s.k] AS code, s.geom
    FROM area JOIN kids ON kids.parent_code = area.code
    CROSS JOIN LATERAL pg_temp.seed_split(area.geom, cardinality(kids.codes),
                                          substr(area.code, 1, 6)::int) s
)
UPDATE divisions d SET geom = piece.geom, synthetic = true, updated_at = now()
FROM piece WHERE d.code = piece.code;

-- Communities: each town's communities split the town.
WITH kids AS (
    SELECT parent_code, array_agg(code ORDER BY code) AS codes
    FROM divisions WHERE level = 'community' GROUP BY parent_code
), piece AS (
    SELECT kids.codes[s.k] AS code, s.geom
    FROM divisions t JOIN kids ON kids.parent_code = t.code
    CROSS JOIN LATERAL pg_temp.seed_split(t.geom, cardinality(kids.codes), substr(t.code, 1, 9)::int) s
    WHERE t.level = 'town'
)
UPDATE divisions d SET geom = piece.geom, synthetic = true, updated_at = now()
FROM piece WHERE d.code = piece.code;
