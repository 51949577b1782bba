-- The same photo uploaded twice on a report is stored once: photos carry the SHA-256 of their
-- stored bytes (after metadata stripping and the EXIF rotation), unique per report; an upload of
-- bytes the report already has answers with the stored photo (200, "duplicate": true).
ALTER TABLE photos ADD COLUMN sha256 bytea;

-- Photos stored before: the first of each set of identical photos of a report gets its hash; later
-- copies keep NULL (they stay, as they were acknowledged; NULLs never conflict).
UPDATE photos p SET sha256 = f.h
FROM (SELECT id, sha256(data) AS h,
             row_number() OVER (PARTITION BY report_id, sha256(data) ORDER BY id) AS n
      FROM photos) f
WHERE f.id = p.id AND f.n = 1;

CREATE UNIQUE INDEX photos_report_sha256_key ON photos (report_id, sha256);
