/* import_stations.c - `patrold import-stations FILE [--crs C]`: rescue stations from a CSV file
 * (a header row naming the columns code, name, division_code, lon, lat and optionally tier,
 * address, phone, beds, can_dispatch, parent_code) or a GeoJSON FeatureCollection of Point
 * features (the same names as properties; properties.coverage an optional Polygon), coordinates
 * in --crs. A station is matched by its code: a re-import updates what changed and reports new /
 * changed / unchanged. Each row is checked like the API's body (SHAPE_STATION) and saved by the
 * one writer (admin/stations.h), audited as an administrative write of the command. One
 * transaction: a bad row is printed with its number and reason, and nothing of the file is
 * stored. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "service/admin/stations.h"
#include "service/cmd/commands.h"
#include "service/cmd/import_stations.h"
#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/door/params.h"
#include "service/door/shapes.h"

#define FILE_MAX ((size_t)64 << 20)
enum { MAX_ERRORS = 50 };

typedef struct importer {
    worker *w;
    gis_crs crs;
    audit_actor actor;
    long added, changed, same, errors;
    int db_failed; /* the transaction is lost: stop */
} importer;

static void row_error(importer *im, long row, long line, const char *field, const char *msg) {
    if (im->errors++ >= MAX_ERRORS) return;
    char where[48] = "";
    if (line) snprintf(where, sizeof where, " (line %ld)", line);
    fprintf(stderr, "row %ld%s: %s%s%s\n", row, where, field ? field : "", field ? ": " : "", msg);
}

/* The station a row's parent_code names (absent: kept; "" or null: none). 0, or -1 reported. */
static int row_parent(importer *im, json_t *obj, long row, long line, station_in *in) {
    json_t *v = json_object_get(obj, "parent_code");
    const char *code = json_string_value(v);
    if (!v) return 0;
    in->parent_id = 0;
    if (!code || !*code) return 0;
    int found = stations_by_code(im->w, code, &in->parent_id);
    if (found < 0) im->db_failed = 1;
    if (found <= 0)
        row_error(im, row, line, "parent_code",
                  found < 0 ? im->w->err : "no station has this code (list parents first)");
    return found == 1 ? 0 : -1;
}

/* Checks and saves one row (an object shaped like the API's station body, plus parent_code). */
static void import_row(importer *im, json_t *obj, long row, long line) {
    shape_error se;
    station_error e;
    station_in in = {.beds = -1, .can_dispatch = 1, .parent_id = -1};
    PGresult *hold = NULL;
    char *cov = NULL;
    long long id = 0, sid;
    int changed;
    json_t *before = NULL, *after = NULL;
    const char *code = json_string_value(json_object_get(obj, "code"));
    if (shape_check(&SHAPE_STATION, obj, &se) != 0) {
        row_error(im, row, line, se.field, se.message);
        return;
    }
    if (!code) {
        row_error(im, row, line, "code", "code is required: a re-import finds a station by it");
        return;
    }
    int found = stations_by_code(im->w, code, &id);
    if (found > 0 && (stations_load(im->w, id, &in, &hold) != 1 ||
                      stations_json(im->w, id, GIS_CRS_WGS84, &before) != 1))
        found = -1;
    if (found < 0) {
        im->db_failed = 1;
        row_error(im, row, line, NULL, im->w->err);
    } else if (row_parent(im, obj, row, line, &in) == 0) {
        int rc = stations_apply_json(obj, im->crs, &in, &cov, &e);
        if (!rc) rc = stations_save(im->w, id, &in, &sid, &changed, &e);
        if (rc < 0 || (rc == 0 && changed &&
                       (stations_json(im->w, sid, GIS_CRS_WGS84, &after) != 1 ||
                        audit_write(im->w, &im->actor, id ? AA_STATION_UPDATE : AA_STATION_CREATE,
                                    AE_STATION, sid, in.division, before, after) != 0))) {
            im->db_failed = 1;
            row_error(im, row, line, NULL, im->w->err);
        } else if (rc > 0) {
            row_error(im, row, line, e.field, e.message);
        } else {
            *(id == 0 ? &im->added : changed ? &im->changed : &im->same) += 1;
        }
    }
    json_decref(before);
    json_decref(after);
    PQclear(hold);
    free(cov);
}

/* ---- GeoJSON ---- */

static void import_geojson_rows(importer *im, json_t *top) {
    json_t *features = json_object_get(top, "features"), *f;
    size_t i;
    json_array_foreach(features, i, f) {
        if (im->db_failed) return;
        json_t *coords = json_object_get(json_object_get(f, "geometry"), "coordinates");
        const char *type =
            json_string_value(json_object_get(json_object_get(f, "geometry"), "type"));
        json_t *props = json_object_get(f, "properties");
        if (!type || strcmp(type, "Point") != 0 || !json_is_number(json_array_get(coords, 0)) ||
            !json_is_number(json_array_get(coords, 1)) || !json_is_object(props)) {
            row_error(im, (long)i + 1, 0, "geometry",
                      "a station is a Feature with a Point geometry and properties");
            continue;
        }
        json_t *obj = json_deep_copy(props);
        json_object_set_new(obj, "location",
                            json_pack("{s:O,s:O,s:s}", "lon", json_array_get(coords, 0), "lat",
                                      json_array_get(coords, 1), "crs", gis_crs_name(im->crs)));
        import_row(im, obj, (long)i + 1, 0);
        json_decref(obj);
    }
}

/* ---- CSV (RFC 4180: quoted fields, "" for a quote, CRLF or LF) ---- */

enum { CSV_MAX_COLS = 32 };

/* Splits the record at *p (ending at end) into cols, each NUL-terminated in place (the text is
 * rewritten as it is read). Returns the number of fields, -1 for an unterminated quote; *p moves
 * past the record, *lines counts the newlines read. */
static int csv_record(char **p, char *end, char **cols, long *lines) {
    int n = 0;
    char *s = *p;
    for (;;) {
        char *out = s, *start = s;
        if (s < end && *s == '"') {
            for (s++;; s++) {
                if (s >= end) return -1;
                if (*s == '"' && s + 1 < end && s[1] == '"') {
                    *out++ = '"', s++;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *lines += *s == '\n';
                    *out++ = *s;
                }
            }
        } else {
            while (s < end && *s != ',' && *s != '\n' && *s != '\r')
                *out++ = *s++;
        }
        char sep = s < end ? *s : '\n';
        *out = 0;
        if (n < CSV_MAX_COLS) cols[n++] = start;
        s++;
        if (sep == ',') continue;
        if (sep == '\r' && s < end && *s == '\n') s++;
        *lines += 1;
        *p = s;
        return n;
    }
}

/* A CSV value as the JSON the station shape reads: numbers for lon, lat, beds; a boolean for
 * can_dispatch; "" null (nothing there); text otherwise. */
static json_t *csv_value(const char *name, const char *v) {
    double d;
    if (!*v) return json_null();
    if (strcmp(name, "beds") == 0 && params_number(v, &d) == 0 && d == (long long)d)
        return json_integer((json_int_t)d);
    if ((strcmp(name, "lon") == 0 || strcmp(name, "lat") == 0) && params_number(v, &d) == 0)
        return json_real(d);
    if (strcmp(name, "can_dispatch") == 0) {
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) return json_true();
        if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) return json_false();
    }
    return json_string(v);
}

/* 1 for a column whose empty cell means its default (a generated code, the division's level,
 * can dispatch), not null. */
static int keeps_default(const char *name) {
    return !strcmp(name, "code") || !strcmp(name, "tier") || !strcmp(name, "can_dispatch");
}

static void import_csv_rows(importer *im, char *text, size_t len) {
    char *p = text, *end = text + len, *head[CSV_MAX_COLS], *cols[CSV_MAX_COLS];
    long line = 1, next = 1, row = 0;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* a BOM */
    int nh = csv_record(&p, end, head, &next);
    for (line = next; p < end && !im->db_failed; line = next) {
        int n = csv_record(&p, end, cols, &next);
        if (n == 1 && !*cols[0]) continue; /* an empty line */
        row++;
        if (n != nh) {
            row_error(im, row, line, NULL,
                      n < 0 ? "a quote is not closed" : "not as many fields as the header");
            if (n < 0) return;
            continue;
        }
        json_t *obj = json_object(), *loc = json_object();
        for (int k = 0; k < n; k++) {
            json_t *v = csv_value(head[k], cols[k]);
            if (!strcmp(head[k], "lon") || !strcmp(head[k], "lat"))
                json_object_set_new(loc, head[k], v);
            else if (!json_is_null(v) || !keeps_default(head[k]))
                json_object_set_new(obj, head[k], v);
            else
                json_decref(v);
        }
        json_object_set_new(loc, "crs", json_string(gis_crs_name(im->crs)));
        json_object_set_new(obj, "location", loc);
        import_row(im, obj, row, line);
        json_decref(obj);
    }
}

/* ---- the command ---- */

/* The whole file into memory (stations files are small), NUL-terminated. NULL with err. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    char *text = f ? malloc(FILE_MAX + 1) : NULL;
    *len = text ? fread(text, 1, FILE_MAX + 1, f) : 0;
    if (!f || !text || ferror(f) || *len > FILE_MAX) {
        snprintf(err, errlen, "cannot read %s (or larger than 64 MB)", path);
        free(text);
        text = NULL;
    } else {
        text[*len] = 0;
    }
    if (f) fclose(f);
    return text;
}

/* Reads and saves every row of path in one transaction. Returns 0, or 1 with the errors
 * printed (nothing stored). */
static int import_file(importer *im, const char *path, int csv) {
    char err[512];
    size_t len;
    json_error_t je;
    json_t *top = NULL;
    char *text = read_file(path, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "patrold: import-stations: %s\n", err);
        return 1;
    }
    if (!csv && (!(top = json_loadb(text, len, 0, &je)) ||
                 !json_is_array(json_object_get(top, "features")))) {
        fprintf(stderr, "patrold: import-stations: %s: not a GeoJSON FeatureCollection%s%s\n", path,
                top ? "" : ": ", top ? "" : je.text);
        json_decref(top);
        free(text);
        return 1;
    }
    if (db_begin(im->w) != 0) {
        im->db_failed = 1, im->errors = 1;
        fprintf(stderr, "database: %s\n", im->w->err);
    } else if (csv)
        import_csv_rows(im, text, len);
    else
        import_geojson_rows(im, top);
    int ok = !im->errors && db_commit(im->w) == 0;
    if (!ok) db_rollback(im->w);
    json_decref(top);
    free(text);
    if (ok) return 0;
    fprintf(stderr, "patrold: import-stations: %s: %ld bad row(s)%s; nothing imported\n", path,
            im->errors, im->errors > MAX_ERRORS ? " (the first ones printed)" : "");
    return 1;
}

int cmd_import_stations(app *a, int argc, char **argv) {
    static const struct option longopts[] = {{"crs", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    importer im = {.crs = GIS_CRS_WGS84};
    worker w;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'c' || gis_crs_parse(optarg, &im.crs) != 0) {
            fprintf(stderr, "patrold: import-stations: --crs must be wgs84, cgcs2000, gcj02 or "
                            "bd09\n");
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "patrold: import-stations: expected one FILE\n");
        return 2; /* main.c prints the forms */
    }
    const char *path = argv[optind];
    size_t plen = strlen(path);
    int csv = plen > 4 && strcmp(path + plen - 4, ".csv") == 0;
    if (cmd_connect(a, &w) != 0) return 1;
    im.w = &w;
    im.actor = (audit_actor){.username = "import-stations", .role = "", .request_id = ""};
    int rc = import_file(&im, path, csv);
    if (rc == 0)
        printf("imported %ld stations from %s: %ld new, %ld changed, %ld unchanged\n",
               im.added + im.changed + im.same, path, im.added, im.changed, im.same);
    db_disconnect(&w);
    return rc;
}
