-- The audit trail covers writes and sign-ins too (issue 17), not only reads of personal data:
-- audit_reads becomes `audit`. Every row: who (as the user was then), when, from which address,
-- what (action; for an administrative write the entity, its id and division, and the entity
-- before and after), in which requests. service/core/audit.c writes it; GET /api/v1/audit reads it.
--
-- Reads of one user by one action in one minute are one row (minute set): the console's own
-- refreshes add their request ids and the report ids they read to it instead of a row each.
ALTER TABLE audit_reads RENAME TO audit;
ALTER TABLE audit DROP CONSTRAINT audit_reads_action_check;
ALTER TABLE audit ALTER COLUMN division_code DROP NOT NULL,
    ADD COLUMN kind text NOT NULL DEFAULT 'read' CHECK (kind IN ('read', 'write', 'sign_in')),
    ADD COLUMN address text,
    ADD COLUMN entity text CHECK (entity IN ('station', 'agency', 'unit', 'shift', 'user')),
    ADD COLUMN entity_id bigint,
    ADD COLUMN entity_division char(12),
    ADD COLUMN before jsonb,
    ADD COLUMN after jsonb,
    ADD COLUMN request_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN reads integer NOT NULL DEFAULT 1,
    ADD COLUMN minute timestamptz;
UPDATE audit SET request_ids = ARRAY[request_id];
ALTER TABLE audit ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE audit ADD CONSTRAINT audit_action_check CHECK (action IN (
    'report.get', 'report.list', 'photo.list', 'photo.get', 'export.csv', 'export.geojson',
    'auth.login', 'auth.login_failed', 'auth.logout', 'auth.password', 'auth.reset', 'auth.reset_failed',
    'station.create', 'station.update', 'agency.create', 'agency.update', 'unit.create',
    'unit.update', 'unit.members', 'shift.create', 'shift.update', 'user.create', 'user.update',
    'user.reset_code'));
ALTER INDEX audit_reads_pkey RENAME TO audit_pkey;
ALTER INDEX audit_reads_user_idx RENAME TO audit_user_idx;
ALTER INDEX audit_reads_reports_idx RENAME TO audit_reports_idx;
ALTER SEQUENCE audit_reads_id_seq RENAME TO audit_id_seq;
CREATE UNIQUE INDEX audit_read_minute ON audit (user_id, action, minute) WHERE minute IS NOT NULL;
CREATE INDEX audit_entity_idx ON audit (entity, entity_id) WHERE entity IS NOT NULL;
CREATE INDEX audit_request_ids_idx ON audit USING gin (request_ids);
