/* reports.h - field reports: validation + creation (shared by the report routes, the batch route
 * and Open311), reading one report, photo metadata stripping and the escalation worker. The row
 * -> JSON serializer and the shared SQL fragments are in report_json.h (included here), the
 * lifecycle in lifecycle.h.
 * Every function here runs on the calling thread with that thread's worker; nothing is global. */
#ifndef PATROLD_REPORTS_H
#define PATROLD_REPORTS_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "gis/coords.h"
#include "service/core/app.h"
#include "service/core/auth.h"
#include "service/door/http.h"
#include "service/door/shapes.h"
#include "service/reports/report_json.h"

/* `SELECT REPORT_COLUMNS FROM reports r WHERE r.id = $1::bigint` (report_read.c). */
extern const char report_get_sql[];

/* Loads report r->params[0] (REPORT_COLUMNS) when r's user may see it. Returns 0 with *res (the
 * caller PQclears it), or the status of the error already sent: 404 for a malformed, unknown or
 * out-of-scope id (one answer for all three), 503/500 for the database. */
int report_load_visible(http_req *r, long long *id, PGresult **res);

/* An error answer of a report (status, static code, static field or NULL, message). */
typedef shape_error report_error;

/* Creates one report from a JSON object (the body of POST /api/v1/reports), which passed
 * SHAPE_REPORT (verdict NULL) or failed it with verdict (the door's r->body_error), for
 * `actor` (NULL for Open311: no created_by) named `actor_name` in the audit trail ("patrol",
 * "open311:demo"), with `source` "app" or "open311". The report, its 'created' audit event and its
 * 'report.created' live event are written in one transaction (the caller must not have one open).
 * A client_id seen before returns that stored report, whatever the new body says (the first copy
 * wins; nothing is written and the new body is not validated beyond client_id).
 * A client_id whose stored report `actor` may not see (report_row_visible) is -1 with 409
 * client_id_conflict and no data (an Open311 actor, NULL, never replays: its ids are made here).
 * possible_duplicates lists only reports `actor` may see (none for a NULL actor).
 * Returns 1 created, 0 existing, -1 bad input (*e filled, nothing written), -2 database failure
 * (see w->err / w->sqlstate / w->db_down; nothing written). On 1 and 0 *out gets the report JSON
 * (WGS-84, with "possible_duplicates": [{id,category,status,distance_m,received_at}] on 1), owned
 * by the caller. */
int report_submit(worker *w, const auth_user *actor, const char *actor_name, const char *source,
                  json_t *body, const report_error *verdict, json_t **out, report_error *e);

/* Removes metadata from an image whose type is told by its magic bytes (not by any header).
 * JPEG: keeps SOI, APP0 (JFIF), DQT, SOF*, DHT, DRI, DAC, SOS + scan data, EOI; drops APP1..APP15
 * (EXIF incl. GPS, XMP, ICC, ...) and COM. PNG: checks the signature and every chunk's CRC, drops
 * tEXt, zTXt, iTXt, eXIf and tIME. Returns 0 with *out (malloc'd, caller frees), *outn and *ctype
 * ("image/jpeg" or "image/png", static); -1 when the bytes are neither a well-formed JPEG nor PNG
 * (*out untouched). Pure: no I/O, thread-safe. */
int photo_strip(const unsigned char *in, size_t n, unsigned char **out, size_t *outn,
                const char **ctype);

/* The EXIF orientation (1 to 8: how the stored rows must be turned to be upright) of the JPEG in
 * `in`, from the Orientation tag (0x0112) of IFD0 of its first APP1 Exif segment before the scan; 1
 * when it has none, for a PNG or for anything unreadable. Pure: no I/O, thread-safe. */
int photo_orientation(const unsigned char *in, size_t n);

/* The largest JPEG turned upright: the transform holds the whole image's coefficients and an
 * output buffer (measured: 600 MB peak for a 49-megapixel 4:4:4 frame). 32 megapixels is more than
 * a phone's photo that fits the 10 MiB upload (12 MP usually; 6000 x 4000 at most). */
#define PHOTO_MAX_PIXELS 32000000LL

/* The JPEG in `in` turned upright for EXIF `orientation` (2 to 8) by a lossless TurboJPEG transform
 * (partial edge blocks that cannot be moved losslessly are trimmed: at most 15 pixel rows or
 * columns). Returns 0 with *out (malloc'd, caller frees) and *outn; -1 when TurboJPEG cannot read
 * it or its frame is larger than its bytes can code (under one bit per 8x8 block: a bomb); -2 when
 * it has more than PHOTO_MAX_PIXELS pixels. One runs at a time (memory); others wait.
 * Thread-safe. */
int photo_upright(const unsigned char *in, size_t n, int orientation, unsigned char **out,
                  size_t *outn);

/* Background thread (server.c background[]): every cfg.escalate_interval_ms, moves overdue new
 * reports one tier up in one transaction with FOR UPDATE SKIP LOCKED (several instances may run).
 * Returns when a->stopping. arg is the app. */
void *escalate_thread(void *arg);

#endif
