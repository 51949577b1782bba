-- Place names: the dates a division is in force, what changed between division lists, and a
-- reload of the in-memory gazetteer when places change too.
ALTER TABLE divisions ADD COLUMN valid_from date, ADD COLUMN valid_to date;

-- One row per change found by importing a newer division list (patrold import-divisions FILE.csv):
-- new, renamed (same code, new name), merged (the code ends, its area goes to into_code),
-- abolished (the code ends). Former names and codes stay searchable through these rows.
CREATE TABLE division_changes (
    id          bigserial PRIMARY KEY,
    change      text NOT NULL CHECK (change IN ('new', 'renamed', 'merged', 'abolished')),
    code        char(12) NOT NULL,
    old_name    text,
    new_name    text,
    into_code   char(12),
    effective   date NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX division_changes_code_idx ON division_changes (code);

CREATE TRIGGER division_changes_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON division_changes FOR EACH STATEMENT EXECUTE FUNCTION gis_changed_notify();
CREATE TRIGGER places_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places
    FOR EACH STATEMENT EXECUTE FUNCTION gis_changed_notify();
