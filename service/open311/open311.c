/* open311.c - Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the field reports:
 * discovery, services, service definitions, POST/GET requests, tokens, in JSON and XML, with the
 * specification's error format; and `patrold apikey` (keys stored only as SHA-256 hashes).
 * A request posted here becomes a field report through report_submit() (source "open311"). Only
 * such reports are read back (a patrol-app report is a 404 here, never listed), without personal
 * data: no person, contact, photos or address; lat/long rounded to 3 decimals (about 100 m).
 * Every response is built as JSON and rendered to XML by one small writer that drops what XML 1.0
 * forbids. Errors under /open311/, the HTTP core's included (o311_send_error), use the
 * specification's format. Runs on the calling worker thread; no global state. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "service/cmd/commands.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/open311/open311.h"
#include "service/reports/report_json.h"
#include "service/reports/reports.h"

#define O311_SPEC "http://wiki.open311.org/GeoReport_v2"
#define O311_CHANGESET "2024-06-01T00:00:00Z" /* when the service list below last changed */

/* The most requests one list answers. What a client may send (form fields, the lists of GET
 * requests) is declared in routes.c (the query specs) and shapes.c (SHAPE_O311_REQUEST). */
enum { O311_MAX_RESULTS = 1000 };

/* The service list: one service per report category (vocab.c holds their names). */
typedef vocab_term o311_service;
#define services (VOCAB_CATEGORY.terms)
#define NSERVICES (VOCAB_CATEGORY.n)
#define O311_GROUP "街面救助 / Street rescue"

static const o311_service *service_find(const char *code) {
    int i = vocab_find(&VOCAB_CATEGORY, code);
    return i < 0 ? NULL : &services[i];
}

/* ---- output: one JSON value, sent as JSON or rendered to XML ---- */

/* Length (1-4) of the valid UTF-8 sequence at p, its code point in *cp; 0 when the bytes at p are
 * not valid UTF-8 (a stray continuation byte, a truncated sequence, an overlong form, a surrogate,
 * or a value over U+10FFFF). p must be NUL-terminated; *p == 0 gives 1 and U+0000. */
static size_t utf8_decode(const unsigned char *p, unsigned *cp) {
    unsigned c = p[0], min;
    size_t n;
    if (c < 0x80) return *cp = c, 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, c &= 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, c &= 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the terminating NUL */
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return n;
}

/* Replaces, in place, every byte of s that is not part of valid UTF-8 with '?'. */
static void utf8_scrub(char *s) {
    unsigned cp;
    for (unsigned char *p = (unsigned char *)s; *p;) {
        size_t n = utf8_decode(p, &cp);
        if (!n) *p = '?', n = 1;
        p += n;
    }
}

/* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
static int xml_char_ok(unsigned c) {
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* XML character data: & < > " ' escaped; every character XML 1.0 forbids (C0 controls other than
 * tab, LF, CR; U+FFFE, U+FFFF) and every byte that is not valid UTF-8 dropped, so the document
 * always parses whatever was stored. */
static void xml_text(buf *b, const char *s) {
    unsigned c;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_decode(p, &c);
        if (!n) {
            p++;
            continue;
        }
        switch (c) {
        case '&':
            buf_str(b, "&amp;");
            break;
        case '<':
            buf_str(b, "&lt;");
            break;
        case '>':
            buf_str(b, "&gt;");
            break;
        case '"':
            buf_str(b, "&quot;");
            break;
        case '\'':
            buf_str(b, "&apos;");
            break;
        default:
            if (xml_char_ok(c)) buf_put(b, (const char *)p, n);
        }
        p += n;
    }
}

/* The element name of one item of an array element called `name`. */
static const char *xml_item_name(const char *name) {
    static const char *const pairs[][2] = {
        {"services", "service"}, {"service_requests", "request"},
        {"errors", "error"},     {"attributes", "attribute"},
        {"values", "value"},     {"endpoints", "endpoint"},
        {"formats", "format"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strcmp(pairs[i][0], name) == 0) return pairs[i][1];
    return "item";
}

/* <name>value</name>: objects become child elements in key order, arrays repeat the singular
 * element inside <name>, null is an empty element, numbers and booleans their JSON text. */
static void xml_value(buf *b, const char *name, json_t *v) {
    char num[64];
    if (json_is_null(v) || !v) {
        buf_str(b, "<"), buf_str(b, name), buf_str(b, "/>");
        return;
    }
    buf_str(b, "<"), buf_str(b, name), buf_str(b, ">");
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) xml_value(b, k, c);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        const char *item = xml_item_name(name);
        json_array_foreach(v, i, c) xml_value(b, item, c);
    } else if (json_is_string(v)) {
        xml_text(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        buf_str(b, num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.10g", json_real_value(v));
        buf_str(b, num);
    } else {
        buf_str(b, json_is_true(v) ? "true" : "false");
    }
    buf_str(b, "</"), buf_str(b, name), buf_str(b, ">");
}

static int is_xml(const http_req *r) {
    size_t n = strlen(r->path);
    return n > 4 && strcmp(r->path + n - 4, ".xml") == 0;
}

/* A fixed 500 in the specification's format, for when a reply cannot be built (out of memory). */
static int o311_fail(http_req *r) {
    static const char js[] = "[{\"code\":500,\"description\":\"out of memory\"}]",
                      xml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors><error><code>500"
                              "</code><description>out of memory</description></error></errors>\n";
    return is_xml(r)
               ? http_send(r, 500, "text/xml; charset=utf-8", xml, sizeof xml - 1, NULL)
               : http_send(r, 500, "application/json; charset=utf-8", js, sizeof js - 1, NULL);
}

/* Sends v (stolen) as JSON, or as XML under the root element `root`; extra_headers may be NULL. */
static int o311_reply_h(http_req *r, int status, const char *root, json_t *v,
                        const char *extra_headers) {
    int rc;
    if (!v) return o311_fail(r);
    if (is_xml(r)) {
        buf b = {0};
        buf_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml_value(&b, root, v);
        buf_str(&b, "\n");
        rc = b.oom ? o311_fail(r)
                   : http_send(r, status, "text/xml; charset=utf-8", b.p, b.len, extra_headers);
        free(b.p);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
        rc =
            s ? http_send(r, status, "application/json; charset=utf-8", s, strlen(s), extra_headers)
              : o311_fail(r);
        free(s);
    }
    json_decref(v);
    return rc;
}

static int o311_reply(http_req *r, int status, const char *root, json_t *v) {
    return o311_reply_h(r, status, root, v, NULL);
}

int o311_path(const char *path) {
    return path && strncmp(path, "/open311/", 9) == 0;
}

int o311_send_error(http_req *r, int status, const char *message, const char *extra_headers) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", message);
    utf8_scrub(msg); /* client bytes quoted in it, or a character cut at the end */
    o311_reply_h(r, status, "errors", json_pack("[{s:i,s:s}]", "code", status, "description", msg),
                 extra_headers);
    return status;
}

/* The specification's error format: [{"code": 403, "description": "..."}] / <errors><error>. */
static int o311_error(http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int o311_error(http_req *r, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->error_code, sizeof r->error_code, "%s",
             status == 403   ? "forbidden"
             : status == 404 ? "not_found"
             : status >= 500 ? "server_error"
                             : "bad_request");
    return o311_send_error(r, status, msg, NULL);
}

/* ---- discovery and services ---- */

/* GET /open311/v2/discovery.{json,xml} */
int h_o311_discovery(http_req *r) {
    const char *host = http_header(r, "Host"), *proto = http_header(r, "X-Forwarded-Proto");
    char url[300];
    snprintf(url, sizeof url, "%s://%s/open311/v2",
             proto && strcmp(proto, "https") == 0 ? "https" : "http",
             host && *host && strlen(host) < 256 &&
                     strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  ".-:[]") == strlen(host)
                 ? host
                 : "localhost");
    return o311_reply(
        r, 200, "discovery",
        json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:[s,s]}]}", "changeset", O311_CHANGESET,
                  "contact", "连云港市救助管理站 / Lianyungang rescue station (civil affairs)",
                  "key_service",
                  "Reading is open to all. To post requests, ask the city's civil-affairs bureau "
                  "for an api_key.",
                  "endpoints", "specification", O311_SPEC, "url", url, "changeset", O311_CHANGESET,
                  "type", "production", "formats", "text/xml", "application/json"));
}

/* GET /open311/v2/services.{json,xml} */
int h_o311_services(http_req *r) {
    json_t *list = json_array();
    for (size_t i = 0; i < NSERVICES; i++)
        json_array_append_new(
            list, json_pack("{s:s,s:o,s:s,s:b,s:s,s:s,s:s}", "service_code", services[i].code,
                            "service_name", vocab_bilingual(&services[i]), "description",
                            services[i].description, "metadata", 1, "type", "realtime", "keywords",
                            services[i].keywords, "group", O311_GROUP));
    return o311_reply(r, 200, "services", list);
}

static json_t *attribute(const char *code, const char *datatype, int order, const char *description,
                         const char *datatype_description) {
    return json_pack("{s:b,s:s,s:s,s:b,s:s,s:i,s:s}", "variable", 1, "code", code, "datatype",
                     datatype, "required", 0, "datatype_description", datatype_description, "order",
                     order, "description", description);
}

/* GET /open311/v2/services/{code}.{json,xml} */
int h_o311_service(http_req *r) {
    const o311_service *s = service_find(r->params[0]);
    if (!s) return o311_error(r, 404, "service_code %.64s was not found", r->params[0]);
    json_t *attrs = json_array();
    json_array_append_new(attrs,
                          attribute("people_count", "number", 1, "人数 / Number of people (1-100)",
                                    "A whole number from 1 to 100; 1 when not given"));
    json_array_append_new(attrs, attribute("approx_age", "number", 2, "大约年龄 / Approximate age",
                                           "Years, a whole number from 0 to 130"));
    json_t *sex = attribute("sex", "singlevaluelist", 3, "性别 / Sex", "One of the listed keys"),
           *values = json_array();
    for (size_t i = 0; i < VOCAB_SEX.n; i++)
        json_array_append_new(values, json_pack("{s:s,s:s}", "key", VOCAB_SEX.terms[i].code, "name",
                                                VOCAB_SEX.terms[i].label));
    json_object_set_new(sex, "values", values);
    json_array_append_new(attrs, sex);
    json_array_append_new(attrs, attribute("appearance", "text", 4,
                                           "外貌特征 / Appearance (clothes, build)",
                                           "Free text, up to 1000 characters"));
    return o311_reply(r, 200, "service_definition",
                      json_pack("{s:s,s:o}", "service_code", s->code, "attributes", attrs));
}

/* ---- form bodies (decoded and checked at the door: SHAPE_O311_REQUEST) ---- */

/* A text field of the checked form, NULL when absent. */
static const char *form_get(json_t *form, const char *name) {
    return json_string_value(json_object_get(form, name));
}

/* "\\x" + hex SHA-256 of key: the bytea parameter for api_keys.key_hash. */
static void key_hash_param(const char *key, char out[2 + 2 * crypto_hash_sha256_BYTES + 1]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)key, strlen(key));
    out[0] = '\\', out[1] = 'x';
    sodium_bin2hex(out + 2, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
}

static void uuid_v4(char out[37]) {
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Builds the POST /api/v1/reports body from the Open311 form (checked at the door: every value
 * passes SHAPE_REPORT too). Returns NULL after sending the error reply (*rc its status). */
static json_t *form_to_report(http_req *r, json_t *form, int *rc) {
    const char *code = form_get(form, "service_code");
    if (!service_find(code))
        return *rc = o311_error(r, 404, "service_code %.64s was not found", code), NULL;
    char client_id[37], now[32];
    uuid_v4(client_id);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *body = json_pack("{s:s,s:s,s:{s:O,s:O,s:s},s:s}", "client_id", client_id, "category",
                             code, "location", "lon", json_object_get(form, "long"), "lat",
                             json_object_get(form, "lat"), "crs", "wgs84", "observed_at", now);
    json_t *desc = json_object_get(form, "description"),
           *attrs = json_object_get(form, "attribute");
    if (desc) json_object_set(body, "description", desc);
    json_t *pc = json_object_get(attrs, "people_count");
    if (pc) json_object_set(body, "people_count", pc);
    json_t *person = json_object(); /* the attributes the service definition offers */
    static const char *const keys[] = {"sex", "approx_age", "appearance"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(attrs, keys[i]))
            json_object_set(person, keys[i], json_object_get(attrs, keys[i]));
    if (json_object_size(person))
        json_object_set_new(body, "person", person);
    else
        json_decref(person);
    return body;
}

/* The api_key of a post (form field, or query parameter) as the actor "open311:<key name>" in
 * actor. Returns 0, or the status of the 403 (or database error) sent. */
static int o311_key_actor(http_req *r, json_t *form, char *actor, size_t len) {
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    const char *key = form_get(form, "api_key");
    if (!key) key = http_q(r, "api_key")->s;
    if (!key || strlen(key) > 200)
        return o311_error(r, 403, "api_key was not provided or is not valid");
    key_hash_param(key, hash);
    const char *kp[] = {hash};
    PGresult *res = db_exec(
        r->w, "SELECT name FROM api_keys WHERE key_hash = $1::bytea AND revoked_at IS NULL", 1, kp);
    if (!res) return http_db_error(r);
    int found = PQntuples(res) == 1;
    if (found) snprintf(actor, len, "open311:%.100s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found ? 0 : o311_error(r, 403, "api_key was not provided or is not valid");
}

/* The reporter's details of a post: they go only to reports.contact, never into what is read
 * back. A new object. */
static json_t *o311_contact(json_t *form) {
    static const char *const contact_fields[] = {"email",          "first_name", "last_name",
                                                 "phone",          "device_id",  "account_id",
                                                 "address_string", "address_id", NULL};
    json_t *contact = json_object();
    for (int i = 0; contact_fields[i]; i++) {
        const char *v = form_get(form, contact_fields[i]);
        if (v) json_object_set_new(contact, contact_fields[i], json_string(v));
    }
    return contact;
}

/* POST /open311/v2/requests.{json,xml} (form-encoded; api_key required) */
int h_o311_requests_post(http_req *r) {
    json_t *form = r->json, *body = NULL, *out = NULL, *contact = NULL;
    char actor[128];
    int rc = 0;
    if ((rc = o311_key_actor(r, form, actor, sizeof actor))) goto done;
    if (!(body = form_to_report(r, form, &rc))) goto done;
    contact = o311_contact(form);
    /* The report and the reporter's contact details commit together (the report writer's group). */
    report_error e = {0};
    int st = report_submit(r, NULL, actor, vocab_code(&VOCAB_REPORT_SOURCE, SRC_OPEN311), body,
                           contact, NULL, &out, &e);
    if (st == -1) {
        rc = o311_error(r, e.status == 413 ? 413 : 400, "%s%s%s", e.field ? e.field : "",
                        e.field ? ": " : "", e.message);
        goto done;
    }
    if (st > 1) { /* the error reply was sent */
        rc = st;
        goto done;
    }
    json_int_t id = json_integer_value(json_object_get(out, "id"));
    char ids[32];
    snprintf(ids, sizeof ids, "%" JSON_INTEGER_FORMAT, id);
    const char *station =
        json_string_value(json_object_get(json_object_get(out, "responsible_station"), "name"));
    char notice[512];
    snprintf(notice, sizeof notice,
             "已收到，已通知%s。/ Received; %s has been notified. Emergencies: call 110 or 120.",
             station ? station : "救助管理站", station ? station : "the rescue station");
    utf8_scrub(notice); /* a long station name cut in the middle of a character */
    rc = o311_reply(r, 201, "service_requests",
                    json_pack("[{s:s,s:s,s:n}]", "service_request_id", ids, "service_notice",
                              notice, "account_id"));
done:
    json_decref(body);
    json_decref(out);
    json_decref(contact);
    return rc;
}

/* ---- reading requests back ---- */

/* The report columns (REPORT_COLUMNS, read by their REPORT_COL_* names) without the division and
 * zone names the public view leaves out; the responsible station's name is the agency. */
#define O311_COLUMNS                                                                               \
    REPORT_COLUMNS_NAMED("NULL::text", "NULL::text", "NULL::text", "NULL::text", "NULL::text",     \
                         "(SELECT s.name FROM stations s WHERE s.id = r.station_id)")

/* A report time (RFC 3339 text, the deployment's offset) with whole seconds, as the specification
 * writes it: the fraction cut. */
static void whole_seconds(const char *t, char out[40]) {
    const char *dot = strchr(t, '.');
    if (!dot) {
        snprintf(out, 40, "%s", t);
        return;
    }
    const char *zone = dot + 1 + strspn(dot + 1, "0123456789");
    snprintf(out, 40, "%.*s%s", (int)(dot - t), t, zone);
}

/* A coordinate of the public view: rounded to 3 decimals (about 100 m). */
static double coarse(const char *v) {
    return round(strtod(v, NULL) * 1000.0) / 1000.0;
}

static json_t *request_json(PGresult *res, int i) {
    const char *status = PQgetvalue(res, i, REPORT_COL_STATUS),
               *code = PQgetvalue(res, i, REPORT_COL_CATEGORY),
               *outcome = rj_val(res, i, REPORT_COL_OUTCOME);
    int st = vocab_find(&VOCAB_REPORT_STATUS, status);
    int closed = st >= 0 && !(VOCAB_REPORT_STATUS.terms[st].flags & VOCAB_OPEN);
    const o311_service *s = service_find(code);
    char notes[128], requested[40], updated[40];
    snprintf(notes, sizeof notes, "%s%s%s", status, outcome ? ": " : "", outcome ? outcome : "");
    whole_seconds(PQgetvalue(res, i, REPORT_COL_RECEIVED_AT), requested);
    whole_seconds(PQgetvalue(res, i, REPORT_COL_UPDATED_AT), updated);
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s?,s:n,s:s,s:s,s:n,s:f,s:f}", "service_request_id",
                     PQgetvalue(res, i, REPORT_COL_ID), "status", closed ? "closed" : "open",
                     "status_notes", notes, "service_name",
                     s ? vocab_bilingual(s) : json_string(code), "service_code", code,
                     "description", PQgetvalue(res, i, REPORT_COL_DESCRIPTION),
                     "agency_responsible", rj_val(res, i, REPORT_COL_STATION_NAME),
                     "service_notice", "requested_datetime", requested, "updated_datetime", updated,
                     "expected_datetime", "lat", coarse(PQgetvalue(res, i, REPORT_COL_LAT)), "long",
                     coarse(PQgetvalue(res, i, REPORT_COL_LON)));
}

static int valid_id(const char *s) {
    long long v;
    return s[0] != '0' && params_id(s, &v) == 0;
}

/* GET
 * /open311/v2/requests.{json,xml}?service_request_id=&service_code=&start_date=&end_date=&status=
 * Only requests posted through Open311 (source 'open311') are ever listed.
 */
int h_o311_requests(http_req *r) {
    const http_qval *status = http_q(r, "status"); /* {open}, {closed} or {open,closed} */
    char st[96];
    const char *statuses = NULL;
    if (status->n == 1) { /* the report statuses of one of the two */
        int open = strcmp(status->s, "{open}") == 0;
        vocab_pg_array(&VOCAB_REPORT_STATUS, VOCAB_OPEN, open ? VOCAB_OPEN : 0, st, sizeof st);
        statuses = st;
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%d", O311_MAX_RESULTS);
    const char *params[] = {
        http_q(r, "service_request_id")->s, http_q(r, "service_code")->s, statuses,
        http_q(r, "start_date")->s,         http_q(r, "end_date")->s,     limit};
    /* Spec: service_request_id overrides every other filter; without dates, the last 90 days. */
    PGresult *res = db_exec(
        r->w,
        "SELECT " O311_COLUMNS " FROM reports r WHERE r.source = " VOCAB_SQL_TERM(
            "ReportSource",
            SRC_OPEN311) " AND"
                         " CASE WHEN $1::bigint[] IS NOT NULL"
                         " THEN r.id = ANY ($1::bigint[]) ELSE"
                         " ($2::text[] IS NULL OR r.category = ANY ($2::text[]))"
                         " AND ($3::text[] IS NULL OR r.status = ANY ($3::text[]))"
                         " AND r.received_at >= coalesce($4::timestamptz,"
                         " coalesce($5::timestamptz, now()) - interval '90 days')"
                         " AND ($5::timestamptz IS NULL OR r.received_at <= $5::timestamptz) END"
                         " ORDER BY r.received_at DESC, r.id DESC LIMIT $6::int",
        6, params);
    if (!res) {
        if (strncmp(r->w->sqlstate, "22", 2) == 0 && !r->w->db_down)
            return o311_error(r, 400, "start_date or end_date is not a valid date-time");
        return http_db_error(r);
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(list, request_json(res, i));
    PQclear(res);
    return o311_reply(r, 200, "service_requests", list);
}

/* GET /open311/v2/requests/{id}.{json,xml}: a report not posted through Open311 is a 404. */
int h_o311_request(http_req *r) {
    if (!valid_id(r->params[0]))
        return o311_error(r, 404, "service_request_id %.32s was not found", r->params[0]);
    const char *params[] = {r->params[0]};
    PGresult *res = db_exec(r->w,
                            "SELECT " O311_COLUMNS " FROM reports r WHERE r.id = $1::bigint"
                            " AND r.source = " VOCAB_SQL_TERM("ReportSource", SRC_OPEN311),
                            1, params);
    if (!res) return http_db_error(r);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return o311_error(r, 404, "service_request_id %s was not found", r->params[0]);
    }
    json_t *list = json_array();
    json_array_append_new(list, request_json(res, 0));
    PQclear(res);
    return o311_reply(r, 200, "service_requests", list);
}

/* GET /open311/v2/tokens/{token}.{json,xml}: requests are created synchronously, so a token is the
 * request id itself. */
int h_o311_token(http_req *r) {
    if (!valid_id(r->params[0]))
        return o311_error(r, 404, "token %.32s was not found", r->params[0]);
    const char *params[] = {r->params[0]};
    PGresult *res =
        db_exec(r->w,
                "SELECT id FROM reports WHERE id = $1::bigint AND source = " VOCAB_SQL_TERM(
                    "ReportSource", SRC_OPEN311),
                1, params);
    if (!res) return http_db_error(r);
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) return o311_error(r, 404, "token %s was not found", r->params[0]);
    return o311_reply(
        r, 200, "service_requests",
        json_pack("[{s:s,s:s}]", "service_request_id", r->params[0], "token", r->params[0]));
}

/* ---- patrold apikey add NAME | revoke NAME | list ---- */

int cmd_apikey(app *a, int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && argc != 3) ||
        (strcmp(argv[1], "add") && strcmp(argv[1], "revoke") && strcmp(argv[1], "list"))) {
        return 2; /* main.c prints the forms */
    }
    worker w;
    if (cmd_connect(a, &w) != 0) return 1;
    int rc = 1;
    PGresult *res = NULL;
    if (strcmp(argv[1], "add") == 0) {
        const char *name = argv[2];
        if (!*name || strlen(name) > 100) {
            fprintf(stderr, "patrold: apikey: NAME must be 1 to 100 bytes\n");
            goto done;
        }
        unsigned char raw[24];
        char key[64], hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(key, sizeof key, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        key_hash_param(key, hash);
        const char *params[] = {hash, name};
        res =
            db_exec(&w, "INSERT INTO api_keys (key_hash, name) VALUES ($1::bytea, $2)", 2, params);
        if (!res) {
            fprintf(stderr, "patrold: apikey add: %s\n",
                    db_failed_with(&w, "23505")
                        ? "a key with that name exists (revoke it or pick another name)"
                        : w.err);
            goto done;
        }
        printf("%s\n", key); /* shown once: only its hash is stored */
        fprintf(stderr, "patrold: API key '%s' saved; it is printed once, keep it now\n", name);
        rc = 0;
    } else if (strcmp(argv[1], "revoke") == 0) {
        const char *params[] = {argv[2]};
        res = db_exec(
            &w, "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", 1,
            params);
        if (!res)
            fprintf(stderr, "patrold: apikey revoke: %s\n", w.err);
        else if (strcmp(PQcmdTuples(res), "1") != 0)
            fprintf(stderr, "patrold: apikey revoke: no active key '%s'\n", argv[2]);
        else
            rc = 0;
    } else {
        res = db_exec(
            &w,
            "SELECT name, created_at, coalesce(revoked_at::text, '') FROM api_keys ORDER BY name",
            0, NULL);
        if (!res)
            fprintf(stderr, "patrold: apikey list: %s\n", w.err);
        else {
            for (int i = 0; i < PQntuples(res); i++)
                printf("%s\t%s\t%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                       *PQgetvalue(res, i, 2) ? "revoked" : "active");
            rc = 0;
        }
    }
done:
    PQclear(res);
    db_disconnect(&w);
    return rc;
}
