-- Field reports on the hot path: the possible-duplicates search of every new report (reports.c
-- DUPS_EXPR) walks the GiST index nearest-first until it has 50 open reports of the category.
-- Over the whole table that walk also visits every closed report in the neighbourhood, and closed
-- reports pile up for ever (months of them downtown); this index holds only open reports, whose
-- number the escalation worker keeps bounded. reports_geom_idx stays for listings by bbox.
CREATE INDEX reports_open_geom_idx ON reports USING gist (geom)
    WHERE status IN ('new', 'acknowledged', 'dispatched', 'on_scene');
