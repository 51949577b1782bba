-- Patrol units and live events: unit statuses of the dispatch lifecycle, positions partitioned by
-- day with a flag for impossible fixes, event ids taken only after the transaction has its xid
-- (the reader's gap rule in service/core/events.c relies on it), and the stream-token key.

-- A unit follows its report: dispatched -> on_scene -> available again when the report ends.
ALTER TABLE units DROP CONSTRAINT units_status_check;
ALTER TABLE units ADD CONSTRAINT units_status_check
    CHECK (status IN ('available', 'dispatched', 'on_scene', 'busy', 'off_duty'));
UPDATE units u SET status = CASE r.status WHEN 'on_scene' THEN 'on_scene' ELSE 'dispatched' END
FROM reports r WHERE r.unit_id = u.id AND u.status = 'busy' AND r.status IN ('dispatched', 'on_scene');

-- Positions: one partition per UTC day, so dropping an old day is a DROP TABLE, not a DELETE.
CREATE TABLE unit_positions_p (
    unit_id     bigint NOT NULL,
    at          timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    accuracy_m  real,
    speed_mps   real,
    heading     real,
    flagged     boolean NOT NULL DEFAULT false,  -- impossible speed: stored, never the unit's position
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, at)
) PARTITION BY RANGE (at);
-- No spatial index: fixes are read by unit and time (the key) or by day (partition pruning), and
-- every index costs on the hottest insert path.

-- Creates the day partitions from `first` to `last` (UTC days) that do not exist yet.
CREATE FUNCTION unit_positions_ensure(first date, last date) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    d date := first;
    made int := 0;
    name text;
BEGIN
    WHILE d <= last LOOP
        name := 'unit_positions_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF unit_positions FOR VALUES FROM (%L) TO (%L)',
                           name, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;

-- Drops the day partitions older than `keep_days` days (UTC) and makes the next `ahead` days.
-- Returns the number of partitions dropped.
CREATE FUNCTION unit_positions_maintain(keep_days int, ahead int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    p record;
    dropped int := 0;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    PERFORM unit_positions_ensure(today - 1, today + ahead);
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'unit_positions'::regclass
               AND c.relname ~ '^unit_positions_[0-9]{8}$'
               AND to_date(substr(c.relname, 16), 'YYYYMMDD') < today - keep_days LOOP
        EXECUTE format('DROP TABLE %I', p.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- Move the rows of the old table (demo seed or earlier fixes) into the partitioned one.
ALTER TABLE unit_positions RENAME TO unit_positions_old;
ALTER TABLE unit_positions_p RENAME TO unit_positions;
SELECT unit_positions_ensure(
    least((SELECT min(at) FROM unit_positions_old), now())::date - 1,
    greatest((SELECT max(at) FROM unit_positions_old), now())::date + 7);
INSERT INTO unit_positions (unit_id, at, geom, accuracy_m, speed_mps, heading, received_at)
SELECT unit_id, at, geom, accuracy_m, speed_mps, heading, received_at FROM unit_positions_old;
DROP TABLE unit_positions_old;
ALTER TABLE unit_positions RENAME CONSTRAINT unit_positions_p_pkey TO unit_positions_pkey;

-- Live events: the id is taken after the transaction has an xid, so a row that is not yet visible
-- while a higher id is belongs to a transaction that was running when that higher id was read
-- (events.c waits for every such transaction before it passes the gap).
CREATE FUNCTION events_next_id() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_current_xact_id();
    RETURN nextval('events_id_seq');
END $$;
ALTER TABLE events ALTER COLUMN id SET DEFAULT events_next_id();
CREATE INDEX events_at_idx ON events (at);

-- The key that signs short-lived stream tokens (?access_token= of GET /api/v1/events); shared by
-- every instance on this database. 244 random bits from gen_random_uuid().
CREATE TABLE stream_keys (
    id  int PRIMARY KEY CHECK (id = 1),
    key text NOT NULL
);
INSERT INTO stream_keys VALUES (1, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
