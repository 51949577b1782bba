-- Personal data has a life (issue 17): personal_data_retention_days after a report closed
-- (resolved, cancelled, duplicate), its person fields and Open311 call-back details are cleared
-- and its photos deleted by the background step of service/reports/retention.c, which writes one
-- audit row (action 'report.mask') per run and division with the ids of the reports it masked.

-- When the step masked the report (NULL: its personal data is still held). The index holds the
-- closed reports not masked yet: the few the step looks at, however many reports there are.
ALTER TABLE reports ADD COLUMN personal_masked_at timestamptz;
CREATE INDEX reports_unmasked_closed_idx ON reports (id)
    WHERE status IN ('resolved', 'cancelled', 'duplicate') AND personal_masked_at IS NULL;

-- The audit action 'report.mask'. The trail is audit_reads (0003) or, renamed with more actions,
-- audit (0016 of the administration work): the action is added to whichever list is there, under
-- that list's name.
DO $$
DECLARE
    t regclass := coalesce(to_regclass('audit'), to_regclass('audit_reads'));
    c record;
BEGIN
    SELECT conname, pg_get_constraintdef(oid) AS def INTO STRICT c FROM pg_constraint
    WHERE conrelid = t AND contype = 'c' AND conname LIKE '%action_check';
    IF position('''report.mask''' IN c.def) = 0 THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t, c.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', t, c.conname,
                       regexp_replace(c.def, '\]\)', ', ''report.mask''::text])'));
    END IF;
END $$;
