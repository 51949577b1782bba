-- Phone intake (issue 20): a dispatcher files a report for a caller (the 12345 hotline, a 110
-- hand-over, any other call). reports.source gains 'phone' (service/core/vocab.c ReportSource) and
-- the line the call came on is kept in reports.channel (PhoneChannel): set with source 'phone' and
-- only then. The caller's call-back details go to the existing staff-only reports.contact.
-- Existing rows are 'app' or 'open311' with no channel: both checks hold for them.
ALTER TABLE reports DROP CONSTRAINT reports_source_check;
ALTER TABLE reports ADD CONSTRAINT reports_source_check
    CHECK (source IN ('app', 'open311', 'phone'));
ALTER TABLE reports ADD COLUMN channel text CONSTRAINT reports_channel_check
    CHECK (channel IN ('12345', '110', 'other'));
ALTER TABLE reports ADD CONSTRAINT reports_channel_phone_check
    CHECK ((channel IS NOT NULL) = (source = 'phone'));
