-- The monthly report (GET /api/v1/stats/monthly.xlsx) lists the month's reports: its reads are
-- written to the audit trail as 'export.xlsx'. The trail is audit_reads (0003) or, renamed with more
-- actions, audit (0016 of the administration work): the action is added to whichever list is there.
DO $$
DECLARE
    t regclass := coalesce(to_regclass('audit'), to_regclass('audit_reads'));
    c record;
BEGIN
    SELECT conname, pg_get_constraintdef(oid) AS def INTO STRICT c FROM pg_constraint
    WHERE conrelid = t AND contype = 'c' AND conname LIKE '%action_check';
    IF position('''export.xlsx''' IN c.def) = 0 THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t, c.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', t, c.conname,
                       regexp_replace(c.def, '\]\)', ', ''export.xlsx''::text])'));
    END IF;
END $$;
