-- Creating a campaign of joint patrols (POST /api/v1/campaigns) is an administrative write like a
-- plan's: audited as 'campaign.create' on the entity 'campaign'. Each value is added to the CHECK
-- list there now (other migrations add theirs the same way, in any order).
DO $$
DECLARE
    c record;
    add record;
BEGIN
    FOR add IN SELECT * FROM (VALUES ('%action_check', 'campaign.create'), ('%entity_check', 'campaign')) v (con, val)
    LOOP
        SELECT conname, pg_get_constraintdef(oid) AS def INTO STRICT c FROM pg_constraint
        WHERE conrelid = 'audit'::regclass AND contype = 'c' AND conname LIKE add.con;
        IF position(quote_literal(add.val) IN c.def) = 0 THEN
            EXECUTE format('ALTER TABLE audit DROP CONSTRAINT %I', c.conname);
            EXECUTE format('ALTER TABLE audit ADD CONSTRAINT %I %s', c.conname,
                           regexp_replace(c.def, '\]\)', ', ' || quote_literal(add.val) || '::text])'));
        END IF;
    END LOOP;
END $$;
