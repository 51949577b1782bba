-- A report event carries its report's creator: the visibility rule (service/core/auth.h) lets a
-- user see the reports it made wherever they lie, and the event stream applies the same rule, so a
-- patrol that reports across its county line follows its report live too. NULL for other events.
ALTER TABLE events ADD COLUMN report_creator bigint;
UPDATE events e SET report_creator = r.created_by
FROM reports r
WHERE r.id = e.entity_id AND e.kind LIKE 'report.%' AND r.created_by IS NOT NULL;
