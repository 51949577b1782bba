-- Reads of personal data (person fields, descriptions, photos, exports), as PIPL expects for
-- sensitive personal information: one row per request (not per report) with the reader as it was
-- at the time, the reports read and the request id of the access log. Written by service/core/audit.c,
-- read by supervisors at GET /api/v1/audit.
CREATE TABLE audit_reads (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    user_id       bigint REFERENCES users (id),
    username      text NOT NULL,
    role          text NOT NULL,
    division_code char(12) NOT NULL,             -- the reader's division: a supervisor sees its own
    action        text NOT NULL CHECK (action IN ('report.get', 'report.list', 'photo.list',
                                                  'photo.get', 'export.csv', 'export.geojson')),
    report_ids    bigint[] NOT NULL DEFAULT '{}',
    request_id    text NOT NULL
);
CREATE INDEX audit_reads_user_idx ON audit_reads (username, id);
CREATE INDEX audit_reads_reports_idx ON audit_reads USING gin (report_ids);

-- Visibility is "in the user's division OR made by the user" (reports.h REPORT_VISIBLE_SQL):
-- listings OR the creator into their division filter.
CREATE INDEX reports_created_by_idx ON reports (created_by);
