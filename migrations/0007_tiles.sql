-- Vector tiles (service/places/tiles.c): division outlines and label points, and station coverage areas,
-- kept in Web Mercator and cut into pieces of at most 256 vertices, so that a tile query reads
-- only small geometries near the tile. Row triggers keep them in step with divisions and stations.
CREATE TABLE tile_divisions (
    code  char(12) NOT NULL,
    name  text NOT NULL,
    level text NOT NULL,
    geom  geometry(Geometry, 3857) NOT NULL  -- a piece of the outline (line) or the label point
);
CREATE INDEX tile_divisions_geom_idx ON tile_divisions USING gist (geom);
CREATE INDEX tile_divisions_code_idx ON tile_divisions (code);

CREATE TABLE tile_coverage (
    station_id bigint NOT NULL,
    name       text NOT NULL,
    tier       text NOT NULL,
    geom       geometry(Geometry, 3857) NOT NULL
);
CREATE INDEX tile_coverage_geom_idx ON tile_coverage USING gist (geom);
CREATE INDEX tile_coverage_station_idx ON tile_coverage (station_id);

CREATE FUNCTION tile_divisions_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM tile_divisions WHERE code = OLD.code;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.geom IS NOT NULL AND NEW.kind = 'admin'
       AND NEW.level IN ('city', 'county', 'town', 'community') THEN
        INSERT INTO tile_divisions (code, name, level, geom)
        SELECT NEW.code, NEW.name, NEW.level, ST_Subdivide(ST_Boundary(ST_Transform(NEW.geom, 3857)), 256)
        UNION ALL
        SELECT NEW.code, NEW.name, NEW.level, ST_Transform(ST_PointOnSurface(NEW.geom), 3857);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tile_divisions_sync AFTER INSERT OR UPDATE OR DELETE ON divisions
    FOR EACH ROW EXECUTE FUNCTION tile_divisions_sync();

CREATE FUNCTION tile_coverage_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM tile_coverage WHERE station_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO tile_coverage (station_id, name, tier, geom)
        SELECT NEW.id, NEW.name, NEW.tier, ST_Subdivide(ST_Transform(NEW.coverage, 3857), 256);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tile_coverage_sync AFTER INSERT OR UPDATE OR DELETE ON stations
    FOR EACH ROW EXECUTE FUNCTION tile_coverage_sync();

INSERT INTO tile_divisions (code, name, level, geom)
SELECT code, name, level, ST_Subdivide(ST_Boundary(ST_Transform(geom, 3857)), 256)
FROM divisions WHERE geom IS NOT NULL AND kind = 'admin' AND level IN ('city', 'county', 'town', 'community')
UNION ALL
SELECT code, name, level, ST_Transform(ST_PointOnSurface(geom), 3857)
FROM divisions WHERE geom IS NOT NULL AND kind = 'admin' AND level IN ('city', 'county', 'town', 'community');

INSERT INTO tile_coverage (station_id, name, tier, geom)
SELECT id, name, tier, ST_Subdivide(ST_Transform(coverage, 3857), 256) FROM stations;
