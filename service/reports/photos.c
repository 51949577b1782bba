/* photos.c - report photos: metadata stripping (pure, photo_strip) and the upload/download routes.
 *
 * The image type is decided by magic bytes; the request's Content-Type must name the same type
 * (image/jpeg or image/png), else 415. JPEG keeps only what decoding needs, from an allow-list:
 * SOI, DQT, DHT, DAC, SOFn, DRI, DNL, SOS + entropy-coded data, EOI, APP0 JFIF rewritten without
 * its thumbnail (16 bytes) and APP14 Adobe rewritten to its 12 colour-transform bytes (CMYK/YCCK
 * decode needs it); everything else goes (APP0 JFXX thumbnails, which can carry their own EXIF,
 * APP1..APP15, COM, JPG/JPGn 0xC8 and 0xF0..0xFD, DHP, EXP, reserved markers). PNG keeps IHDR,
 * PLTE, IDAT, IEND and the ancillary chunks that only affect rendering (tRNS, gAMA, cHRM, sRGB,
 * sBIT, bKGD, pHYs), after checking every CRC: text, time, EXIF, ICC and private or unknown
 * ancillary chunks go; an unknown critical chunk is refused (no decoder may show such a file).
 * Bytes after EOI / IEND are dropped (phones append maker trailers there). A JPEG's EXIF
 * orientation (a phone's portrait photo is stored sideways with orientation 6) is applied first with
 * TurboJPEG's lossless transform, so the photo is stored upright without the tag; ICC profiles
 * (APP2, iCCP) go.
 * Upload = one statement: the photo, an audit row 'photo_added' and a report.updated event; bytes
 * the report already has (SHA-256 of the stored bytes, migration 0011) are not stored again: the
 * reply is the stored photo, 200 with "duplicate": true.
 * Reads (list and bytes) are written to the personal-data audit trail (audit.c). */
#include "service/reports/photos.h"
#include <pthread.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <turbojpeg.h>
#include <zlib.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/reports/report_json.h"
#include "service/reports/report_read.h"

/* ---- JPEG ---- */

static int strip_jpeg(const unsigned char *in, size_t n, unsigned char *out, size_t *outn) {
    size_t i = 2, o = 0;
    int seen_sof = 0, seen_sos = 0, seen_jfif = 0, seen_adobe = 0;
    if (n < 4 || in[0] != 0xFF || in[1] != 0xD8) return -1;
    out[o++] = 0xFF, out[o++] = 0xD8;
    for (;;) {
        if (i >= n || in[i] != 0xFF) return -1;
        while (i < n && in[i] == 0xFF)
            i++; /* fill bytes */
        if (i >= n) return -1;
        unsigned m = in[i++];
        if (m == 0xD9) { /* EOI: done; anything after it is dropped */
            if (!seen_sof || !seen_sos) return -1;
            out[o++] = 0xFF, out[o++] = 0xD9;
            *outn = o;
            return 0;
        }
        if (m == 0x00 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01)
            return -1; /* not here */
        if (i + 2 > n) return -1;
        size_t len = ((size_t)in[i] << 8) | in[i + 1];
        if (len < 2 || i + len > n) return -1;
        const unsigned char *seg = in + i + 2; /* the payload after the length */
        int sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof || m == 0xC4 || m == 0xCC || m == 0xDB || m == 0xDD || m == 0xDC || m == 0xDA) {
            /* SOFn, DHT, DAC, DQT, DRI, DNL, SOS: decoding needs them as they are */
            out[o++] = 0xFF, out[o++] = (unsigned char)m;
            memcpy(out + o, in + i, len);
            o += len;
        } else if (m == 0xE0 && !seen_jfif && len >= 16 && memcmp(seg, "JFIF", 5) == 0) {
            /* JFIF: version, units, densities; thumbnail size set to 0x0, its pixels dropped */
            static const unsigned char head[] = {0xFF, 0xE0, 0x00, 0x10};
            memcpy(out + o, head, 4);
            memcpy(out + o + 4, seg, 12);
            out[o + 16] = 0, out[o + 17] = 0;
            o += 18;
            seen_jfif = 1;
        } else if (m == 0xEE && !seen_adobe && len >= 14 && memcmp(seg, "Adobe", 5) == 0) {
            /* Adobe: version, flags0, flags1, colour transform (CMYK/YCCK); nothing after it */
            static const unsigned char head[] = {0xFF, 0xEE, 0x00, 0x0E};
            memcpy(out + o, head, 4);
            memcpy(out + o + 4, seg, 12);
            o += 16;
            seen_adobe = 1;
        } /* else dropped: JFXX, APPn, COM, JPG, JPGn, DHP, EXP, reserved */
        i += len;
        if (sof) seen_sof = 1;
        if (m == 0xDA) { /* scan data up to the next marker that is neither stuffing nor RSTn */
            if (!seen_sof) return -1;
            seen_sos = 1;
            size_t start = i;
            while (i + 1 < n && !(in[i] == 0xFF && in[i + 1] != 0x00 &&
                                  !(in[i + 1] >= 0xD0 && in[i + 1] <= 0xD7)))
                i++;
            if (i + 1 >= n) return -1;
            memcpy(out + o, in + start, i - start);
            o += i - start;
        }
    }
}

/* ---- JPEG orientation ---- */

static unsigned rd16(const unsigned char *p, int be) {
    return be ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const unsigned char *p, int be) {
    return be ? (uint32_t)rd16(p, 1) << 16 | rd16(p + 2, 1)
              : (uint32_t)rd16(p + 2, 0) << 16 | rd16(p, 0);
}

/* Orientation tag of a TIFF structure (the Exif payload after "Exif\0\0") of n bytes; 1 if none. */
static int tiff_orientation(const unsigned char *t, size_t n) {
    if (n < 8 || !((t[0] == 'I' && t[1] == 'I') || (t[0] == 'M' && t[1] == 'M'))) return 1;
    int be = t[0] == 'M';
    uint32_t ifd = rd32(t + 4, be);
    if (rd16(t + 2, be) != 42 || ifd > n - 2) return 1;
    unsigned count = rd16(t + ifd, be);
    for (unsigned k = 0; k < count && (size_t)ifd + 2 + 12 * (k + 1) <= n; k++) {
        const unsigned char *e = t + ifd + 2 + 12 * k;
        if (rd16(e, be) != 0x0112) continue;
        unsigned v = rd16(e + 8, be); /* type SHORT, count 1: the value sits in the entry */
        return rd16(e + 2, be) == 3 && rd32(e + 4, be) == 1 && v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int photo_orientation(const unsigned char *in, size_t n) {
    size_t i = 2;
    if (n < 4 || in[0] != 0xFF || in[1] != 0xD8) return 1;
    while (i + 4 <= n && in[i] == 0xFF) {
        unsigned m = in[i + 1];
        size_t len = (size_t)in[i + 2] << 8 | in[i + 3];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xDA || m == 0xD9 || len < 2 || i + 2 + len > n) return 1;
        if (m == 0xE1 && len >= 2 + 6 && memcmp(in + i + 4, "Exif\0\0", 6) == 0)
            return tiff_orientation(in + i + 10, len - 8);
        i += 2 + len;
    }
    return 1;
}

/* At most PHOTO_TRANSFORMS transforms at once: each holds a whole image's coefficients (about
 * 400 MB at PHOTO_MAX_PIXELS in 4:4:4); a 12-megapixel photo takes about 0.5 s. */
#define PHOTO_TRANSFORMS 1
static pthread_mutex_t xform_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xform_cv = PTHREAD_COND_INITIALIZER;
static int xform_busy;

static void xform_slot(int take) {
    pthread_mutex_lock(&xform_mu);
    if (take) {
        while (xform_busy >= PHOTO_TRANSFORMS)
            pthread_cond_wait(&xform_cv, &xform_mu);
        xform_busy++;
    } else {
        xform_busy--;
        pthread_cond_signal(&xform_cv);
    }
    pthread_mutex_unlock(&xform_mu);
}

int photo_upright(const unsigned char *in, size_t n, int orientation, unsigned char **out,
                  size_t *outn) {
    /* EXIF orientation 1..8 -> the transform that makes the stored rows upright */
    static const int ops[9] = {TJXOP_NONE,   TJXOP_NONE,       TJXOP_HFLIP,
                               TJXOP_ROT180, TJXOP_VFLIP,      TJXOP_TRANSPOSE,
                               TJXOP_ROT90,  TJXOP_TRANSVERSE, TJXOP_ROT270};
    int w, h, sub, cs, rc = -1;
    unsigned char *dst = NULL;
    unsigned long dstn = 0;
    tjtransform xf = {.op = ops[orientation >= 1 && orientation <= 8 ? orientation : 1],
                      .options = TJXOPT_TRIM | TJXOPT_COPYNONE};
    tjhandle tj = tjInitTransform();
    if (!tj) return -1;
    if (tjDecompressHeader3(tj, in, (unsigned long)n, &w, &h, &sub, &cs) != 0) goto done;
    if ((long long)w * h > PHOTO_MAX_PIXELS) {
        rc = -2;
        goto done;
    }
    /* a Huffman-coded scan spends at least one bit on every 8x8 block: a frame larger than its
     * bytes can hold is a decompression bomb, refused before the transform allocates it */
    if ((long long)n * 8 * 64 < (long long)w * h) goto done;
    xform_slot(1);
    int st = tjTransform(tj, in, (unsigned long)n, 1, &dst, &dstn, &xf, 0);
    xform_slot(0);
    if (st != 0 || !dst || !(*out = malloc(dstn ? dstn : 1))) goto done;
    memcpy(*out, dst, dstn);
    *outn = dstn;
    rc = 0;
done:
    tjFree(dst);
    tjDestroy(tj);
    return rc;
}

/* ---- PNG ---- */

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int strip_png(const unsigned char *in, size_t n, unsigned char *out, size_t *outn) {
    static const char *const allowed[] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA",
                                          "cHRM", "sRGB", "sBIT", "bKGD", "pHYs"};
    size_t i = 8, o = 8;
    if (n < 8 || memcmp(in, png_sig, 8) != 0) return -1;
    memcpy(out, png_sig, 8);
    for (int first = 1;; first = 0) {
        if (n - i < 12) return -1;
        uint32_t len = be32(in + i);
        if (len > 0x7FFFFFFFu || n - i - 12 < len) return -1;
        const unsigned char *type = in + i + 4;
        for (int k = 0; k < 4; k++)
            if (!((type[k] >= 'A' && type[k] <= 'Z') || (type[k] >= 'a' && type[k] <= 'z')))
                return -1;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, (uInt)len + 4);
        if (crc != be32(in + i + 8 + len)) return -1;
        if (first && (memcmp(type, "IHDR", 4) != 0 || len != 13)) return -1;
        int keep = 0;
        for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
            if (memcmp(type, allowed[k], 4) == 0) keep = 1;
        if (type[0] >= 'A' && type[0] <= 'Z' && !keep)
            return -1; /* a critical chunk this stripper does not know: refuse, never pass it on */
        if (keep) {
            memcpy(out + o, in + i, (size_t)len + 12);
            o += (size_t)len + 12;
        }
        i += (size_t)len + 12;
        if (memcmp(type, "IEND", 4) == 0) {
            *outn = o;
            return 0;
        }
    }
}

int photo_strip(const unsigned char *in, size_t n, unsigned char **out, size_t *outn,
                const char **ctype) {
    int is_jpeg = n >= 3 && in[0] == 0xFF && in[1] == 0xD8 && in[2] == 0xFF;
    int is_png = n >= 8 && memcmp(in, png_sig, 8) == 0;
    if (!is_jpeg && !is_png) return -1;
    unsigned char *buf = malloc(n); /* the output is never longer than the input */
    size_t len = 0;
    if (!buf) return -1;
    if ((is_jpeg ? strip_jpeg : strip_png)(in, n, buf, &len) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outn = len;
    *ctype = is_jpeg ? "image/jpeg" : "image/png";
    return 0;
}

/* ---- routes ---- */

/* The image type a Content-Type header names ("image/png; x=y" -> "image/png"; image/jpg is taken
 * for image/jpeg), or NULL for anything else. Case-insensitive, parameters ignored. */
static const char *declared_type(const char *ct) {
    static const struct {
        const char *name, *type;
    } known[] = {
        {"image/jpeg", "image/jpeg"}, {"image/jpg", "image/jpeg"}, {"image/png", "image/png"}};
    if (!ct) return NULL;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strlen(known[k].name) == n && strncasecmp(ct, known[k].name, n) == 0)
            return known[k].type;
    return NULL;
}

/* The report params[0] as text when the user may see it: 0, else the status already sent. */
static int visible_report(http_req *r, char id[24]) {
    long long n;
    PGresult *res;
    int st = report_load_visible(r, &n, &res);
    PQclear(res);
    snprintf(id, 24, "%lld", n);
    return st;
}

/* The upload's bytes as they are stored: type by magic bytes (the Content-Type must name the same),
 * a JPEG turned upright by its EXIF orientation, metadata stripped. Returns 0 with *clean (malloc'd)
 * and *ctype, else the status of the error sent. */
static int prepare(http_req *r, unsigned char **clean, size_t *clean_n, const char **ctype) {
    const unsigned char *in = (const unsigned char *)r->body;
    if (!in || photo_strip(in, r->body_len, clean, clean_n, ctype) != 0)
        return http_error(
            r, 415, "unsupported_media_type", NULL,
            "the body must be a well-formed JPEG or PNG image (checked by content, not header)");
    const char *declared = declared_type(http_header(r, "Content-Type"));
    if (!declared || strcmp(declared, *ctype) != 0) {
        free(*clean);
        return http_error(r, 415, "unsupported_media_type", NULL,
                          "Content-Type must be %s: the bytes are a %s image", *ctype,
                          strcmp(*ctype, "image/png") == 0 ? "PNG" : "JPEG");
    }
    int orientation = photo_orientation(in, r->body_len), rc = 0;
    unsigned char *up = NULL;
    size_t up_n = 0;
    const char *t;
    if (orientation == 1) return 0;
    /* turned from the stripped bytes, then stripped again: only the allow-list is ever stored */
    if ((rc = photo_upright(*clean, *clean_n, orientation, &up, &up_n)) == 0) {
        free(*clean);
        rc = photo_strip(up, up_n, clean, clean_n, &t);
        free(up);
        if (rc == 0) return 0;
        *clean = NULL;
    }
    free(*clean);
    if (rc == -2)
        return http_error(r, 413, "payload_too_large", NULL,
                          "a photo to be turned upright may have at most %lld pixels",
                          PHOTO_MAX_PIXELS);
    return http_error(r, 415, "unsupported_media_type", NULL,
                      "the JPEG cannot be decoded to turn it upright (EXIF orientation %d)",
                      orientation);
}

/* Stores the photo unless the report has the same bytes; one row: id, created_at, duplicate. */
static PGresult *store(http_req *r, const char *id, const char *ctype, const char *hex,
                       const char *size) {
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", r->user.id);
    const char *p[] = {id, ctype, hex, uid, r->user.username, size};
    return db_exec(
        r->w,
        "WITH rep AS (SELECT * FROM reports WHERE id = $1::bigint),"
        " ph AS (INSERT INTO photos (report_id, content_type, data, created_by, sha256)"
        " SELECT id, $2::text, $3::bytea, $4::bigint, sha256($3::bytea) FROM rep"
        " ON CONFLICT (report_id, sha256) DO NOTHING RETURNING id, report_id, created_at),"
        " ev AS (INSERT INTO report_events (report_id, type, actor_id, actor, from_status, to_status, details)"
        " SELECT rep.id, " VOCAB_SQL_TERM(
            "TimelineType",
            TL_PHOTO_ADDED) ", $4::bigint, $5::text, rep.status, rep.status,"
                            " json_build_object('photo_id', ph.id, 'content_type', $2::text, 'bytes', $6::bigint) FROM rep, ph),"
                            " le AS (" EVENTS_REPORT_INSERT(
                                EK_REPORT_UPDATED, "rep",
                                VOCAB_SQL_TERM("TimelineType", TL_PHOTO_ADDED),
                                "jsonb_build_object('photo_id', ph.id)") " FROM rep, ph)"
                                                                         " SELECT ph.id, to_json(ph.created_at)#>>'{}', false FROM ph"
                                                                         " UNION ALL SELECT p.id, to_json(p.created_at)#>>'{}', true"
                                                                         " FROM photos p, rep WHERE p.report_id = rep.id"
                                                                         " AND p.sha256 = sha256($3::bytea)"
                                                                         " AND NOT EXISTS (SELECT 1 FROM ph)",
        6, p);
}

/* POST /api/v1/reports/{id}/photos (image/jpeg or image/png bytes): 201, or 200 with the stored
 * photo when the report already has these bytes */
int h_photos_upload(http_req *r) {
    char id[24];
    int st = visible_report(r, id);
    if (st) return st;
    unsigned char *clean = NULL;
    size_t clean_n = 0;
    const char *ctype = NULL;
    if ((st = prepare(r, &clean, &clean_n, &ctype)) != 0) return st;
    char *hex = malloc(2 * clean_n + 3);
    if (!hex) {
        free(clean);
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\\', hex[1] = 'x';
    for (size_t i = 0; i < clean_n; i++)
        hex[2 + 2 * i] = digits[clean[i] >> 4], hex[3 + 2 * i] = digits[clean[i] & 15];
    hex[2 + 2 * clean_n] = 0;
    free(clean);
    char size[24];
    snprintf(size, sizeof size, "%zu", clean_n);
    PGresult *res = store(r, id, ctype, hex, size);
    if (res && PQntuples(res) == 0) { /* the same bytes committed meanwhile: now visible */
        PQclear(res);
        res = store(r, id, ctype, hex, size);
    }
    free(hex);
    if (!res) return http_db_error(r);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return http_error(r, 404, "not_found", NULL, "no such report: %s", id);
    }
    int dup = PQgetvalue(res, 0, 2)[0] == 't';
    json_t *out = json_pack(
        "{s:I,s:I,s:s,s:I,s:s,s:b}", "id", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
        "report_id", (json_int_t)strtoll(id, NULL, 10), "content_type", ctype, "bytes",
        (json_int_t)clean_n, "created_at", PQgetvalue(res, 0, 1), "duplicate", dup);
    json_object_set_new(out, "url",
                        json_sprintf("/api/v1/reports/%s/photos/%s", id, PQgetvalue(res, 0, 0)));
    PQclear(res);
    return http_json(r, dup ? 200 : 201, out);
}

/* GET /api/v1/reports/{id}/photos: the photos of a report (metadata only) */
int h_photos_list(http_req *r) {
    char id[24];
    int st = visible_report(r, id);
    if (st) return st;
    const char *p[] = {id};
    PGresult *res = db_exec(
        r->w,
        "SELECT id, content_type, octet_length(data), to_json(created_at)#>>'{}' FROM photos"
        " WHERE report_id = $1::bigint ORDER BY id",
        1, p);
    if (!res) return http_db_error(r);
    long long rid = strtoll(id, NULL, 10);
    if (audit_read(r, AA_PHOTO_LIST, &rid, 1) != 0) {
        PQclear(res);
        return http_db_error(r);
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *it = json_pack("{s:I,s:s,s:I,s:s}", "id",
                               (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "content_type",
                               PQgetvalue(res, i, 1), "bytes",
                               (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10), "created_at",
                               PQgetvalue(res, i, 3));
        json_object_set_new(
            it, "url", json_sprintf("/api/v1/reports/%s/photos/%s", id, PQgetvalue(res, i, 0)));
        json_array_append_new(items, it);
    }
    PQclear(res);
    return http_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
}

/* GET /api/v1/reports/{id}/photos/{photo_id}: the stored (stripped) bytes */
int h_photos_get(http_req *r) {
    char id[24], pid[24];
    long long photo;
    int st = visible_report(r, id);
    if (st) return st;
    if (params_id(r->params[1], &photo) != 0)
        return http_error(r, 404, "not_found", NULL, "no such photo: %.40s", r->params[1]);
    snprintf(pid, sizeof pid, "%lld", photo);
    const char *p[] = {pid, id};
    PGresult *res = db_exec(
        r->w,
        "SELECT content_type, data FROM photos WHERE id = $1::bigint AND report_id = $2::bigint", 2,
        p);
    if (!res) return http_db_error(r);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return http_error(r, 404, "not_found", NULL, "no such photo: %s", pid);
    }
    long long rid = strtoll(id, NULL, 10);
    if (audit_read(r, AA_PHOTO_GET, &rid, 1) != 0) {
        PQclear(res);
        return http_db_error(r);
    }
    size_t n = 0;
    unsigned char *bytes = db_unescape_bytea(PQgetvalue(res, 0, 1), &n);
    if (!bytes) {
        PQclear(res);
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    char ctype[32];
    snprintf(ctype, sizeof ctype, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    st = http_send(r, 200, ctype, (const char *)bytes, n, "Content-Disposition: inline\r\n");
    db_free(bytes);
    return st;
}
