-- Patrol coverage kept as fixes arrive: per community and UTC day, the grid cells within 100 m of a
-- patrol track (a bitmap on the community's grid, gis/areas.h), the last fix inside and the fixes
-- counted inside. A period's coverage is the OR of its days (bit_or), never a rescan of fixes.
--
-- Writers: the positions request adds one coverage_delta row per (community, day) its batch
-- touched, in the transaction that stores the fixes (append-only: no hot row). Each instance's
-- coverage thread merges deltas into coverage_days (bits OR, last_at greatest, fixes summed) and
-- repaints whole days from stored fixes when a community's grid is new or changed (the first start
-- after this migration repaints every day kept). Readers take coverage_days and coverage_delta
-- together, so an acknowledged batch counts at once on every instance.

CREATE TABLE coverage_days (
    day     date NOT NULL,              -- UTC day of the step's end fix
    code    text COLLATE "C" NOT NULL,  -- the community (divisions.code)
    grid    text NOT NULL,              -- the grid the bits are on: "epsg/cell/i0/j0/nx/ny"
    bits    bit varying NOT NULL,       -- cells within 100 m of a track step, inside the community
    last_at timestamptz,                -- the last fix inside the community that day
    fixes   int NOT NULL DEFAULT 0,     -- accepted fixes inside the community that day
    PRIMARY KEY (day, code, grid)
);

CREATE TABLE coverage_delta (
    id      bigserial PRIMARY KEY,
    day     date NOT NULL,
    code    text COLLATE "C" NOT NULL,
    grid    text NOT NULL,
    bits    bit varying NOT NULL,
    last_at timestamptz,
    fixes   int NOT NULL DEFAULT 0
);
CREATE INDEX coverage_delta_day_idx ON coverage_delta (day);

-- Bitmaps are sparse (a walk covers few cells of a grid) and written at every batch: LZ4 compresses
-- them about three times faster than the default pglz. A server built without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE coverage_days ALTER COLUMN bits SET COMPRESSION lz4;
    ALTER TABLE coverage_delta ALTER COLUMN bits SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END $$;

-- The grid each community's bits are on, as the instances loaded it: a community whose grid is new
-- or changed gets its kept days repainted (coverage_repaint), its bits on the old grid dropped.
CREATE TABLE coverage_grids (
    code text COLLATE "C" PRIMARY KEY,
    grid text NOT NULL
);

-- Days to repaint from stored fixes, for the listed communities (NULL: every one). Fixes received
-- before `before` are counted (later ones came through coverage_delta already).
CREATE TABLE coverage_repaint (
    id     bigserial PRIMARY KEY,
    day    date NOT NULL,
    codes  text[],
    before timestamptz NOT NULL
);

-- Two batches for a day without its partition (a phone's history) may both make it: the second
-- waits for the first and finds it there instead of failing.
CREATE OR REPLACE FUNCTION unit_positions_ensure(first date, last date) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    d date := first;
    made int := 0;
    name text;
BEGIN
    WHILE d <= last LOOP
        name := 'unit_positions_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF unit_positions FOR VALUES FROM (%L) TO (%L)',
                               name, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
                made := made + 1;
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL; -- made meanwhile by another transaction
            END;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;
