/* shapes.c - the request body tables and the one checker and schema writer they drive (see
 * shapes.h). */
#include "service/door/shapes.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "service/door/params.h"

/* ---- formats ---- */

static int is_uuid(const char *s) {
    if (strlen(s) != 36) return -1;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return -1;
    }
    return 0;
}

static int is_time(const char *s) {
    double t;
    return params_rfc3339(s, &t);
}

static int is_crs(const char *s) {
    gis_crs c;
    return gis_crs_parse(s, &c);
}

static const vocab_term crs_terms[] = {
    {.code = "wgs84"}, {.code = "cgcs2000"}, {.code = "gcj02"}, {.code = "bd09"}};
static const vocab crs_names = {.component = "Crs", .terms = crs_terms, .n = 4};

/* A division code of 4, 6, 9 or 12 digits. */
static int is_division(const char *s) {
    char code[13];
    return vocab_code12(s, 4, code);
}

/* A station code: a letter or digit, then letters, digits, '.', '_' or '-' (40 at most). */
static int is_code(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 40 || !isalnum((unsigned char)s[0])) return -1;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i])) return -1;
    return 0;
}

/* A user name: 1 to 63 bytes, no spaces or control characters. */
static int is_username(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 63) return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return -1;
    return 0;
}

static const shape_format FMT_UUID = {"uuid", "a UUID", is_uuid, NULL};
static const shape_format FMT_DIVISION = {NULL, "a division code of 4, 6, 9 or 12 digits",
                                          is_division, NULL};
static const shape_format FMT_CODE = {NULL,
                                      "1 to 40 letters, digits, '.', '_' or '-' (starting with a "
                                      "letter or digit)",
                                      is_code, NULL};
static const shape_format FMT_USERNAME = {
    NULL, "1 to 63 bytes without spaces or control characters", is_username, NULL};
static const shape_format FMT_TIME = {
    "date-time", "an RFC 3339 date-time with offset, from 2000-01-01T00:00:00Z on", is_time, NULL};
static const shape_format FMT_CRS = {NULL, "one of wgs84, cgcs2000, gcj02, bd09", is_crs,
                                     &crs_names};

/* Days, ISO weeks, months and times of day in bodies (patrol plans, campaigns, figures): the
 * parsers of the query parameter kinds (params.h), so a body and a query agree. */
static int is_date(const char *s) {
    long long d;
    return params_date(s, &d);
}
static int is_week(const char *s) {
    long long d;
    return params_week(s, &d);
}
static int is_month(const char *s) {
    long long a, b;
    return params_month(s, &a, &b);
}
static int is_timeofday(const char *s) {
    int m;
    return params_timeofday(s, &m);
}
const shape_format FMT_DATE = {"date", "a real date such as 2026-11-30", is_date, NULL};
const shape_format FMT_WEEK = {NULL, "an ISO week such as 2026-W49", is_week, NULL};
const shape_format FMT_MONTH = {NULL, "a month such as 2026-11", is_month, NULL};
const shape_format FMT_TIMEOFDAY = {NULL, "a time of day from 00:00 to 23:59, such as 20:00",
                                    is_timeofday, NULL};

/* ---- the tables ---- */

#define SHAPE_KEYED(var, title, key, bcode, bmsg, ...)                                             \
    static const shape_field var##_fields[] = {__VA_ARGS__};                                       \
    const shape var = {                                                                            \
        title, bcode, bmsg, var##_fields, sizeof var##_fields / sizeof var##_fields[0], key}
#define SHAPE(var, title, bcode, bmsg, ...) SHAPE_KEYED(var, title, NULL, bcode, bmsg, __VA_ARGS__)

#define F(key, at, ty, ...)                                                                        \
    { .name = key, .path = at, .type = ty, .flags = __VA_ARGS__ }
#define OPT SF_NULLABLE
#define REQ SF_REQUIRED

SHAPE(SHAPE_LOGIN, "LoginRequest", NULL, NULL,
      F("username", "username", SHAPE_STRING, REQ | SF_MISSING_INVALID),
      F("password", "password", SHAPE_STRING, REQ | SF_MISSING_INVALID));

SHAPE(SHAPE_PASSWORD, "PasswordChange", NULL, NULL,
      F("current_password", "current_password", SHAPE_STRING, REQ | SF_MISSING_INVALID),
      F("new_password", "new_password", SHAPE_STRING, REQ | SF_MISSING_INVALID));

static const shape_field location_fields[] = {
    F("lon", "location.lon", SHAPE_NUMBER, REQ | SF_RANGE, .min = -180, .max = 180,
      .code = "invalid_location"),
    F("lat", "location.lat", SHAPE_NUMBER, REQ | SF_RANGE, .min = -90, .max = 90,
      .code = "invalid_location"),
    F("crs", "location.crs", SHAPE_STRING, OPT, .fmt = &FMT_CRS, .code = "invalid_crs"),
    F("accuracy_m", "location.accuracy_m", SHAPE_NUMBER, OPT | SF_RANGE, .min = 0, .max = 100000),
};
static const shape LOCATION = {"Location", NULL, NULL, location_fields, 4, NULL};

SHAPE(SHAPE_PERSON, "Person", NULL, NULL,
      F("sex", "person.sex", SHAPE_STRING, OPT, .vocab = &VOCAB_SEX),
      F("approx_age", "person.approx_age", SHAPE_INTEGER, OPT | SF_RANGE, .min = 0, .max = 130),
      F("appearance", "person.appearance", SHAPE_STRING, OPT, .max = 1000),
      F("name_if_known", "person.name_if_known", SHAPE_STRING, OPT, .max = 200));

/* A caller's call-back details (a report taken by phone): the keys of Open311's contact. */
SHAPE(SHAPE_CONTACT, "ReportContactInput", NULL, NULL,
      F("first_name", "contact.first_name", SHAPE_STRING, OPT, .max = 100),
      F("last_name", "contact.last_name", SHAPE_STRING, OPT, .max = 100),
      F("phone", "contact.phone", SHAPE_STRING, OPT, .max = 40),
      F("email", "contact.email", SHAPE_STRING, OPT, .max = 200),
      F("address_string", "contact.address_string", SHAPE_STRING, OPT, .max = 500));

/* client_id first: it is the idempotency key (a stored copy answers whatever the rest says). */
SHAPE_KEYED(SHAPE_REPORT, "ReportInput", "client_id", "invalid_body",
            "a report must be a JSON object",
            F("client_id", "client_id", SHAPE_STRING, REQ, .fmt = &FMT_UUID),
            F("category", "category", SHAPE_STRING, REQ, .vocab = &VOCAB_CATEGORY,
              .code = "invalid_category"),
            F("location", "location", SHAPE_OBJECT, REQ, .sub = &LOCATION,
              .code = "invalid_location"),
            F("observed_at", "observed_at", SHAPE_STRING, REQ, .fmt = &FMT_TIME),
            F("description", "description", SHAPE_STRING, OPT, .max = 4000),
            F("people_count", "people_count", SHAPE_INTEGER, OPT | SF_RANGE, .min = 1, .max = 100),
            F("person", "person", SHAPE_OBJECT, OPT, .sub = &SHAPE_PERSON),
            F("source", "source", SHAPE_STRING, OPT, .vocab = &VOCAB_SOURCE_INPUT),
            F("channel", "channel", SHAPE_STRING, OPT, .vocab = &VOCAB_PHONE_CHANNEL),
            F("contact", "contact", SHAPE_OBJECT, OPT, .sub = &SHAPE_CONTACT));

SHAPE(SHAPE_BATCH, "ReportBatch", "invalid_body", "send {\"reports\": [...]}",
      F("reports", "reports", SHAPE_ARRAY, REQ | SF_ITEMS_LATER, .max = 500, .sub = &SHAPE_REPORT,
        .too_many_status = 413, .too_many_code = "too_many_items"));

/* What each type needs (unit_id for dispatch, outcome for resolve, duplicate_of for
 * mark_duplicate) is the transition's rule, checked by the handler after this table. */
SHAPE(SHAPE_REPORT_EVENT, "ReportEventInput", "invalid_body", "send a JSON object",
      F("type", "type", SHAPE_STRING, REQ, .vocab = &VOCAB_EVENT_TYPE),
      F("note", "note", SHAPE_STRING, OPT, .max = 1000), F("unit_id", "unit_id", SHAPE_ID, 0),
      F("outcome", "outcome", SHAPE_STRING, 0, .vocab = &VOCAB_OUTCOME),
      F("duplicate_of", "duplicate_of", SHAPE_ID, 0));

/* A unit's members: user ids (patrol or community users of the unit's county). */
#define UNIT_MEMBERS_MAX 50

SHAPE(SHAPE_UNIT_CREATE, "UnitInput", "invalid_body", "send an object",
      F("name", "name", SHAPE_STRING, REQ | SF_BYTES, .min = 1, .max = 90),
      F("callsign", "callsign", SHAPE_STRING, OPT | SF_BYTES, .min = 1, .max = 30),
      F("station_id", "station_id", SHAPE_ID, REQ), F("agency_id", "agency_id", SHAPE_ID, OPT),
      F("vehicle", "vehicle", SHAPE_STRING, OPT, .min = 1, .max = 100),
      F("members", "members", SHAPE_IDS, OPT, .max = UNIT_MEMBERS_MAX));

/* PATCH: what is sent changes; null clears callsign, agency_id and vehicle. */
SHAPE(SHAPE_UNIT_PATCH, "UnitChange", "invalid_body", "send an object",
      F("name", "name", SHAPE_STRING, SF_BYTES, .min = 1, .max = 90),
      F("callsign", "callsign", SHAPE_STRING, OPT | SF_BYTES, .min = 1, .max = 30),
      F("station_id", "station_id", SHAPE_ID, 0), F("agency_id", "agency_id", SHAPE_ID, OPT),
      F("vehicle", "vehicle", SHAPE_STRING, OPT, .min = 1, .max = 100),
      F("members", "members", SHAPE_IDS, 0, .max = UNIT_MEMBERS_MAX));

SHAPE(SHAPE_UNIT_MEMBERS, "UnitMembers", "invalid_body", "send {\"members\": [user ids]}",
      F("members", "members", SHAPE_IDS, REQ, .max = UNIT_MEMBERS_MAX));

/* A shift of a unit; members default to the unit's members. */
SHAPE(SHAPE_SHIFT, "ShiftInput", "invalid_body", "send an object",
      F("starts_at", "starts_at", SHAPE_STRING, REQ, .fmt = &FMT_TIME),
      F("ends_at", "ends_at", SHAPE_STRING, REQ, .fmt = &FMT_TIME),
      F("members", "members", SHAPE_IDS, 0, .max = UNIT_MEMBERS_MAX),
      F("note", "note", SHAPE_STRING, OPT, .max = 1000));

SHAPE(SHAPE_SHIFT_PATCH, "ShiftChange", "invalid_body", "send an object",
      F("starts_at", "starts_at", SHAPE_STRING, 0, .fmt = &FMT_TIME),
      F("ends_at", "ends_at", SHAPE_STRING, 0, .fmt = &FMT_TIME),
      F("members", "members", SHAPE_IDS, 0, .max = UNIT_MEMBERS_MAX),
      F("note", "note", SHAPE_STRING, OPT, .max = 1000));

/* ---- joint patrols: plans and their targets ---- */

static const shape_field plan_window_fields[] = {
    F("starts_at", "windows[].starts_at", SHAPE_STRING, REQ, .fmt = &FMT_TIME),
    F("ends_at", "windows[].ends_at", SHAPE_STRING, REQ, .fmt = &FMT_TIME),
};
static const shape PLAN_WINDOW = {"PatrolWindowInput", NULL, NULL, plan_window_fields, 2, NULL};

/* Every week on these ISO days (1 Monday .. 7 Sunday) from .. to in the city's time; a `to` not
 * after `from` ends the next day (20:00-02:00). */
static const shape_field plan_weekly_fields[] = {
    F("days", "weekly.days", SHAPE_INTS, REQ, .min = 1, .max = 7),
    F("from", "weekly.from", SHAPE_STRING, REQ, .fmt = &FMT_TIMEOFDAY),
    F("to", "weekly.to", SHAPE_STRING, REQ, .fmt = &FMT_TIMEOFDAY),
};
static const shape PLAN_WEEKLY = {"PatrolWeeklyInput", NULL, NULL, plan_weekly_fields, 3, NULL};

static const vocab_term polygon_terms[] = {{.code = "Polygon"}, {.code = "MultiPolygon"}};
static const vocab POLYGON_TYPES = {.component = "PolygonType", .terms = polygon_terms, .n = 2};
static const shape_field target_polygon_fields[] = {
    F("type", "targets[].area.polygon.type", SHAPE_STRING, REQ, .vocab = &POLYGON_TYPES,
      .code = "invalid_geometry"),
    F("coordinates", "targets[].area.polygon.coordinates", SHAPE_ARRAY, REQ, .min = 1,
      .code = "invalid_geometry"),
};
static const shape TARGET_POLYGON = {"PatrolPolygonInput",  NULL, NULL,
                                     target_polygon_fields, 2,    NULL};
static const shape_field target_point_fields[] = {
    F("lon", "targets[].area.point.lon", SHAPE_NUMBER, REQ | SF_RANGE, .min = -180, .max = 180,
      .code = "invalid_location"),
    F("lat", "targets[].area.point.lat", SHAPE_NUMBER, REQ | SF_RANGE, .min = -90, .max = 90,
      .code = "invalid_location"),
    F("crs", "targets[].area.point.crs", SHAPE_STRING, OPT, .fmt = &FMT_CRS, .code = "invalid_crs"),
};
static const shape TARGET_POINT = {"PatrolPointInput", NULL, NULL, target_point_fields, 3, NULL};

/* One of: a division, a polygon (in the request's ?crs=), a point (its own crs) with a radius. */
static const shape_field target_area_fields[] = {
    F("division_code", "targets[].area.division_code", SHAPE_STRING, OPT, .fmt = &FMT_DIVISION,
      .code = "invalid_division"),
    F("polygon", "targets[].area.polygon", SHAPE_OBJECT, OPT, .sub = &TARGET_POLYGON,
      .code = "invalid_geometry"),
    F("point", "targets[].area.point", SHAPE_OBJECT, OPT, .sub = &TARGET_POINT,
      .code = "invalid_location"),
    F("radius_m", "targets[].area.radius_m", SHAPE_NUMBER, OPT | SF_RANGE, .min = 10, .max = 5000),
};
static const shape TARGET_AREA = {"PatrolAreaInput", NULL, NULL, target_area_fields, 4, NULL};

/* A time of day: from .. to, or a preset (night). */
static const shape_field time_window_fields[] = {
    F("from", "targets[].time_window.from", SHAPE_STRING, 0, .fmt = &FMT_TIMEOFDAY),
    F("to", "targets[].time_window.to", SHAPE_STRING, 0, .fmt = &FMT_TIMEOFDAY),
    F("preset", "targets[].time_window.preset", SHAPE_STRING, 0, .vocab = &VOCAB_TIME_PRESET),
};
static const shape TIME_WINDOW = {"PatrolTimeWindowInput", NULL, NULL, time_window_fields, 3, NULL};

/* A target; in a PATCH, `id` keeps (and changes) one of the plan's targets, none makes one. */
static const shape_field target_fields[] = {
    F("id", "targets[].id", SHAPE_ID, 0),
    F("name", "targets[].name", SHAPE_STRING, OPT, .min = 1, .max = 200),
    F("area", "targets[].area", SHAPE_OBJECT, REQ, .sub = &TARGET_AREA),
    F("visits_per_week", "targets[].visits_per_week", SHAPE_INTEGER, REQ | SF_RANGE, .min = 1,
      .max = 100),
    F("min_dwell_min", "targets[].min_dwell_min", SHAPE_INTEGER, REQ | SF_RANGE, .min = 1,
      .max = 720),
    F("time_window", "targets[].time_window", SHAPE_OBJECT, OPT, .sub = &TIME_WINDOW),
    F("agencies", "targets[].agencies", SHAPE_CODES, 0, .vocab = &VOCAB_AGENCY_KIND),
};
static const shape PATROL_TARGET = {"PatrolTargetInput",
                                    "invalid_field",
                                    "a target is an object",
                                    target_fields,
                                    sizeof target_fields / sizeof *target_fields,
                                    NULL};

#define PLAN_TARGETS_MAX 1000
#define PLAN_FIELDS(R, N)                                                                          \
    F("name", "name", SHAPE_STRING, R, .min = 1, .max = 200),                                      \
        F("division_code", "division_code", SHAPE_STRING, R, .fmt = &FMT_DIVISION,                 \
          .code = "invalid_division"),                                                             \
        F("campaign_id", "campaign_id", SHAPE_ID, OPT),                                            \
        F("unit_ids", "unit_ids", SHAPE_IDS, R, .max = 50),                                        \
        F("windows", "windows", SHAPE_ARRAY, N, .max = 200, .sub = &PLAN_WINDOW),                  \
        F("weekly", "weekly", SHAPE_OBJECT, N, .sub = &PLAN_WEEKLY),                               \
        F("starts_on", "starts_on", SHAPE_STRING, 0, .fmt = &FMT_DATE),                            \
        F("ends_on", "ends_on", SHAPE_STRING, OPT, .fmt = &FMT_DATE),                              \
        F("targets", "targets", SHAPE_ARRAY, R, .min = 1, .max = PLAN_TARGETS_MAX,                 \
          .sub = &PATROL_TARGET, .too_many_status = 413, .too_many_code = "too_many_items")
SHAPE(SHAPE_PATROL_PLAN, "PatrolPlanInput", "invalid_body", "send an object", PLAN_FIELDS(REQ, 0));
/* PATCH: what is sent changes; null clears campaign_id, ends_on, windows and weekly; targets
 * replace the plan's (those left out are retired). */
SHAPE(SHAPE_PATROL_PLAN_PATCH, "PatrolPlanChange", "invalid_body", "send an object",
      PLAN_FIELDS(0, OPT));

/* A campaign of joint patrols: its dates are the city's days, ends_on included. */
SHAPE(SHAPE_CAMPAIGN, "CampaignInput", "invalid_body", "send an object",
      F("name", "name", SHAPE_STRING, REQ, .min = 1, .max = 200),
      F("division_code", "division_code", SHAPE_STRING, REQ, .fmt = &FMT_DIVISION,
        .code = "invalid_division"),
      F("starts_on", "starts_on", SHAPE_STRING, REQ, .fmt = &FMT_DATE),
      F("ends_on", "ends_on", SHAPE_STRING, REQ, .fmt = &FMT_DATE),
      F("note", "note", SHAPE_STRING, OPT, .max = 1000));

/* A GeoJSON Polygon or MultiPolygon; its rings are read (and repaired) by gis/geom.h. */
static const shape_field polygon_fields[] = {
    F("type", "coverage.type", SHAPE_STRING, REQ, .vocab = &POLYGON_TYPES,
      .code = "invalid_geometry"),
    F("coordinates", "coverage.coordinates", SHAPE_ARRAY, REQ, .min = 1,
      .code = "invalid_geometry"),
};
static const shape GEOJSON_POLYGON = {"GeoJsonPolygon", NULL, NULL, polygon_fields, 2, NULL};

/* A station: location in its own crs, coverage in the request's ?crs= (null: its division). */
#define STATION_FIELDS(R)                                                                          \
    F("code", "code", SHAPE_STRING, 0, .fmt = &FMT_CODE),                                          \
        F("name", "name", SHAPE_STRING, R, .min = 1, .max = 200),                                  \
        F("tier", "tier", SHAPE_STRING, 0, .vocab = &VOCAB_TIER),                                  \
        F("division_code", "division_code", SHAPE_STRING, R, .fmt = &FMT_DIVISION,                 \
          .code = "invalid_division"),                                                             \
        F("location", "location", SHAPE_OBJECT, R, .sub = &LOCATION, .code = "invalid_location"),  \
        F("address", "address", SHAPE_STRING, OPT, .max = 200),                                    \
        F("phone", "phone", SHAPE_STRING, OPT, .max = 50),                                         \
        F("beds", "beds", SHAPE_INTEGER, OPT | SF_RANGE, .min = 0, .max = 100000),                 \
        F("coverage", "coverage", SHAPE_OBJECT, OPT, .sub = &GEOJSON_POLYGON,                      \
          .code = "invalid_geometry"),                                                             \
        F("can_dispatch", "can_dispatch", SHAPE_BOOLEAN, 0),                                       \
        F("parent_id", "parent_id", SHAPE_ID, OPT)
SHAPE(SHAPE_STATION, "StationInput", "invalid_body", "send an object", STATION_FIELDS(REQ));
SHAPE(SHAPE_STATION_PATCH, "StationChange", "invalid_body", "send an object", STATION_FIELDS(0));

SHAPE(SHAPE_AGENCY, "AgencyInput", "invalid_body", "send an object",
      F("name", "name", SHAPE_STRING, REQ, .min = 1, .max = 200),
      F("kind", "kind", SHAPE_STRING, REQ, .vocab = &VOCAB_AGENCY_KIND),
      F("division_code", "division_code", SHAPE_STRING, REQ, .fmt = &FMT_DIVISION,
        .code = "invalid_division"));
SHAPE(SHAPE_AGENCY_PATCH, "AgencyChange", "invalid_body", "send an object",
      F("name", "name", SHAPE_STRING, 0, .min = 1, .max = 200),
      F("kind", "kind", SHAPE_STRING, 0, .vocab = &VOCAB_AGENCY_KIND),
      F("division_code", "division_code", SHAPE_STRING, 0, .fmt = &FMT_DIVISION,
        .code = "invalid_division"));

/* A user; password policy (auth.h) is checked by the handler. */
SHAPE(SHAPE_USER, "UserInput", "invalid_body", "send an object",
      F("username", "username", SHAPE_STRING, REQ, .fmt = &FMT_USERNAME),
      F("password", "password", SHAPE_STRING, REQ, .code = "weak_password"),
      F("role", "role", SHAPE_STRING, REQ, .vocab = &VOCAB_ROLE),
      F("division_code", "division_code", SHAPE_STRING, REQ, .fmt = &FMT_DIVISION,
        .code = "invalid_division"),
      F("unit_id", "unit_id", SHAPE_ID, OPT), F("station_id", "station_id", SHAPE_ID, OPT),
      F("disabled", "disabled", SHAPE_BOOLEAN, 0));
SHAPE(SHAPE_USER_PATCH, "UserChange", "invalid_body", "send an object",
      F("role", "role", SHAPE_STRING, 0, .vocab = &VOCAB_ROLE),
      F("division_code", "division_code", SHAPE_STRING, 0, .fmt = &FMT_DIVISION,
        .code = "invalid_division"),
      F("unit_id", "unit_id", SHAPE_ID, OPT), F("station_id", "station_id", SHAPE_ID, OPT),
      F("disabled", "disabled", SHAPE_BOOLEAN, 0));

SHAPE(SHAPE_RESET, "PasswordReset", NULL, NULL,
      F("username", "username", SHAPE_STRING, REQ | SF_MISSING_INVALID),
      F("code", "code", SHAPE_STRING, REQ | SF_MISSING_INVALID, .max = 64),
      F("new_password", "new_password", SHAPE_STRING, REQ | SF_MISSING_INVALID));

SHAPE(SHAPE_UNIT_STATUS, "UnitStatusInput", "invalid_body", "send an object",
      F("status", "status", SHAPE_STRING, REQ, .vocab = &VOCAB_UNIT_SETTABLE));

/* A fix's location: an accuracy inside it is answered as the fix's own accuracy_m. */
static const shape_field fix_location_fields[] = {
    F("lon", "location.lon", SHAPE_NUMBER, REQ | SF_MISSING_INVALID | SF_RANGE, .min = -180,
      .max = 180),
    F("lat", "location.lat", SHAPE_NUMBER, REQ | SF_MISSING_INVALID | SF_RANGE, .min = -90,
      .max = 90),
    F("crs", "location.crs", SHAPE_STRING, OPT, .fmt = &FMT_CRS),
    F("accuracy_m", "accuracy_m", SHAPE_NUMBER, OPT | SF_RANGE, .min = 0, .max = 100000),
};
static const shape FIX_LOCATION = {"PositionLocation", NULL, NULL, fix_location_fields, 4, NULL};

SHAPE(SHAPE_POSITION, "Position", "invalid_field", "a position must be an object",
      F("location", "location", SHAPE_OBJECT, REQ | SF_MISSING_INVALID, .sub = &FIX_LOCATION),
      F("accuracy_m", "accuracy_m", SHAPE_NUMBER, OPT | SF_RANGE, .min = 0, .max = 100000),
      F("speed_mps", "speed_mps", SHAPE_NUMBER, OPT | SF_RANGE, .min = 0, .max = 1000),
      F("heading", "heading", SHAPE_NUMBER, OPT | SF_RANGE, .min = 0, .max = 360),
      F("at", "at", SHAPE_STRING, REQ, .fmt = &FMT_TIME));

/* The patrol app's unsent queue, reported with each batch (kept on the unit: app_queue). */
static const shape_field app_queue_fields[] = {
    F("length", "queue.length", SHAPE_INTEGER, REQ | SF_RANGE, .min = 0, .max = 1000000),
    F("oldest_at", "queue.oldest_at", SHAPE_STRING, OPT, .fmt = &FMT_TIME),
};
static const shape APP_QUEUE = {.name = "AppQueue",
                                .fields = app_queue_fields,
                                .n = sizeof app_queue_fields / sizeof *app_queue_fields};

SHAPE(SHAPE_POSITIONS, "PositionsInput", "invalid_body", "send an object",
      F("positions", "positions", SHAPE_ARRAY, REQ | SF_MISSING_INVALID | SF_ITEMS_LATER, .min = 1,
        .max = 1000, .sub = &SHAPE_POSITION, .too_many_status = 413,
        .too_many_code = "too_many_positions"),
      F("queue", "queue", SHAPE_OBJECT, OPT, .sub = &APP_QUEUE));

/* The Open311 POST form (GeoReport v2): every value arrives as text (shape_form types the
 * numbers); attribute[code]=v pairs are the object "attribute". service_code is checked by the
 * handler (an unknown one is a 404 there); api_key may also be a query parameter. */
static const shape_field o311_attribute_fields[] = {
    F("people_count", "attribute[people_count]", SHAPE_INTEGER, SF_RANGE, .min = 1, .max = 100),
    F("sex", "attribute[sex]", SHAPE_STRING, 0, .vocab = &VOCAB_SEX),
    F("approx_age", "attribute[approx_age]", SHAPE_INTEGER, SF_RANGE, .min = 0, .max = 130),
    F("appearance", "attribute[appearance]", SHAPE_STRING, 0, .max = 1000),
};
static const shape O311_ATTRIBUTES = {"O311Attributes", NULL, NULL, o311_attribute_fields, 4, NULL};

SHAPE(SHAPE_O311_REQUEST, "O311RequestForm", NULL, NULL,
      F("api_key", "api_key", SHAPE_STRING, 0, .max = 1000),
      F("service_code", "service_code", SHAPE_STRING, REQ, .max = 100),
      F("lat", "lat", SHAPE_NUMBER, REQ | SF_RANGE, .min = -90, .max = 90),
      F("long", "long", SHAPE_NUMBER, REQ | SF_RANGE, .min = -180, .max = 180),
      F("description", "description", SHAPE_STRING, 0, .max = 4000),
      F("attribute", "attribute", SHAPE_OBJECT, 0, .sub = &O311_ATTRIBUTES),
      F("email", "email", SHAPE_STRING, 0, .max = 320),
      F("first_name", "first_name", SHAPE_STRING, 0, .max = 200),
      F("last_name", "last_name", SHAPE_STRING, 0, .max = 200),
      F("phone", "phone", SHAPE_STRING, 0, .max = 100),
      F("device_id", "device_id", SHAPE_STRING, 0, .max = 200),
      F("account_id", "account_id", SHAPE_STRING, 0, .max = 200),
      F("address_string", "address_string", SHAPE_STRING, 0, .max = 1000),
      F("address_id", "address_id", SHAPE_STRING, 0, .max = 200));

/* ---- checking ---- */

int shape_fail(shape_error *e, int status, const char *code, const char *field, const char *fmt,
               ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->status = status, e->code = code, e->field = field;
    return -1;
}

size_t shape_utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* What a valid value of f is, for messages: "a string of 1 to 90 bytes". */
static void describe(const shape_field *f, char *out, size_t outlen) {
    const char *unit = f->flags & SF_BYTES ? "bytes" : "characters";
    switch (f->type) {
    case SHAPE_STRING:
        if (f->fmt)
            snprintf(out, outlen, "%s", f->fmt->what);
        else if (f->max > 0 && f->min > 0)
            snprintf(out, outlen, "a string of %g to %g %s", f->min, f->max, unit);
        else if (f->max > 0)
            snprintf(out, outlen, "a string of at most %g %s", f->max, unit);
        else
            snprintf(out, outlen, "a string");
        break;
    case SHAPE_INTEGER:
        snprintf(out, outlen, "an integer %g..%g", f->min, f->max);
        break;
    case SHAPE_ID:
        snprintf(out, outlen, "a positive integer");
        break;
    case SHAPE_NUMBER:
        if (f->flags & SF_RANGE)
            snprintf(out, outlen, "a number within %g..%g", f->min, f->max);
        else
            snprintf(out, outlen, "a number");
        break;
    case SHAPE_OBJECT:
        snprintf(out, outlen, "an object");
        break;
    case SHAPE_ARRAY:
        snprintf(out, outlen, "an array");
        break;
    case SHAPE_BOOLEAN:
        snprintf(out, outlen, "true or false");
        break;
    case SHAPE_IDS:
        snprintf(out, outlen, "an array of at most %g distinct positive integers", f->max);
        break;
    case SHAPE_INTS:
        snprintf(out, outlen, "an array of distinct integers %g..%g, at least one", f->min, f->max);
        break;
    case SHAPE_CODES:
        snprintf(out, outlen, "an array of distinct codes");
        break;
    }
}

static int invalid(const shape_field *f, shape_error *e) {
    const char *code = f->code ? f->code : "invalid_field";
    if (f->vocab) {
        shape_fail(e, 400, code, f->path, "%s", "");
        vocab_message(f->vocab, f->path, 0, e->message, sizeof e->message);
        return -1;
    }
    char what[96];
    describe(f, what, sizeof what);
    return shape_fail(e, 400, code, f->path, "%s must be %s", f->path, what);
}

static int check_string(const shape_field *f, const char *s) {
    if (f->vocab) return vocab_find(f->vocab, s) < 0 ? -1 : 0;
    if (f->fmt) return f->fmt->check(s) != 0 ? -1 : 0;
    size_t n = f->flags & SF_BYTES ? strlen(s) : shape_utf8_chars(s);
    return (f->max > 0 && n > f->max) || n < f->min ? -1 : 0;
}

static int check_number(const shape_field *f, double d) {
    int ranged = (f->flags & SF_RANGE) || f->type == SHAPE_INTS;
    return !isfinite(d) || (ranged && (d < f->min || d > f->max)) ? -1 : 0;
}

/* An array of distinct positive integers, at most f->max (quadratic: max is small). */
static int check_ids(const shape_field *f, json_t *v, shape_error *e) {
    size_t n = json_array_size(v);
    if (!json_is_array(v) || (f->max > 0 && n > f->max)) return invalid(f, e);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_integer(x) || json_integer_value(x) <= 0) return invalid(f, e);
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_array_get(v, k)) == json_integer_value(x))
                return shape_fail(e, 400, f->code ? f->code : "invalid_field", f->path,
                                  "%s names %lld twice", f->path, (long long)json_integer_value(x));
    }
    return 0;
}

/* An array of distinct integers within f->min..f->max (SHAPE_INTS, at least one) or of distinct
 * codes of f->vocab (SHAPE_CODES); both are short: the range or the vocabulary bounds them. */
static int check_set(const shape_field *f, json_t *v, shape_error *e) {
    size_t n = json_array_size(v);
    if (!json_is_array(v) || (f->type == SHAPE_INTS && n == 0)) return invalid(f, e);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (f->type == SHAPE_INTS
                ? !json_is_integer(x) || check_number(f, (double)json_integer_value(x)) != 0
                : !json_is_string(x) || vocab_find(f->vocab, json_string_value(x)) < 0) {
            if (f->type == SHAPE_INTS) return invalid(f, e);
            shape_fail(e, 400, f->code ? f->code : "invalid_field", f->path, "%s", "");
            vocab_message(f->vocab, f->path, 0, e->message, sizeof e->message);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (json_equal(json_array_get(v, k), x))
                return shape_fail(e, 400, f->code ? f->code : "invalid_field", f->path,
                                  "%s names a value twice", f->path);
    }
    return 0;
}

static int check_field(const shape_field *f, json_t *v, shape_error *e) {
    switch (f->type) {
    case SHAPE_STRING:
        return !json_is_string(v) || check_string(f, json_string_value(v)) ? invalid(f, e) : 0;
    case SHAPE_INTEGER:
        return !json_is_integer(v) || check_number(f, (double)json_integer_value(v)) ? invalid(f, e)
                                                                                     : 0;
    case SHAPE_ID:
        return !json_is_integer(v) || json_integer_value(v) <= 0 ? invalid(f, e) : 0;
    case SHAPE_NUMBER:
        return !json_is_number(v) || check_number(f, json_number_value(v)) ? invalid(f, e) : 0;
    case SHAPE_OBJECT:
        if (!json_is_object(v)) return invalid(f, e);
        return f->sub ? shape_check(f->sub, v, e) : 0;
    case SHAPE_BOOLEAN:
        return !json_is_boolean(v) ? invalid(f, e) : 0;
    case SHAPE_IDS:
        return check_ids(f, v, e);
    case SHAPE_INTS:
    case SHAPE_CODES:
        return check_set(f, v, e);
    case SHAPE_ARRAY:
        break;
    }
    if (!json_is_array(v)) return invalid(f, e);
    size_t n = json_array_size(v);
    if (f->max > 0 && n > f->max)
        return shape_fail(e, f->too_many_status ? f->too_many_status : 400,
                          f->too_many_code ? f->too_many_code : "invalid_field", f->path,
                          "%s holds at most %g items, got %zu", f->path, f->max, n);
    if (n < f->min) return shape_fail(e, 400, "invalid_field", f->path, "%s is empty", f->path);
    for (size_t i = 0; f->sub && !(f->flags & SF_ITEMS_LATER) && i < n; i++)
        if (shape_check(f->sub, json_array_get(v, i), e)) return -1;
    return 0;
}

int shape_check(const shape *s, json_t *body, shape_error *e) {
    if (!json_is_object(body) && s->body_code)
        return shape_fail(e, 400, s->body_code, NULL, "%s", s->body_message);
    for (size_t i = 0; i < s->n; i++) {
        const shape_field *f = &s->fields[i];
        json_t *v = json_object_get(body, f->name); /* NULL for a non-object body */
        if (v && json_is_null(v) && (f->flags & SF_NULLABLE)) v = NULL;
        if (!v) {
            if (!(f->flags & SF_REQUIRED)) continue;
            if (f->flags & SF_MISSING_INVALID) return invalid(f, e);
            return shape_fail(e, 400, "missing_field", f->path, "%s is required", f->path);
        }
        if (check_field(f, v, e)) return -1;
    }
    return 0;
}

int shape_key_passed(const shape *s, const shape_error *e) {
    return s->key && e && e->field && strcmp(e->field, s->key) != 0;
}

/* ---- form bodies ---- */

enum { FORM_MAX_FIELDS = 64 };

/* One form component ('+' a space, %XX a byte) as a new string. NULL with *why when a '%' is not
 * followed by two hex digits, the result holds a NUL or is not UTF-8, or out of memory. */
static char *form_decode(const char *s, size_t n, const char **why) {
    char *out = malloc(n + 1);
    if (!out) return *why = "out of memory", NULL;
    long len = params_url_decode(s, n, out);
    *why = len < 0                       ? "a % in the form is not followed by two hex digits"
           : memchr(out, 0, (size_t)len) ? "the form holds a NUL character (%00)"
           : !params_utf8_valid(out, (size_t)len) ? "the form is not valid UTF-8"
                                                  : NULL;
    if (*why) free(out);
    return *why ? NULL : out;
}

/* Puts key=v into obj (`a[b]` into the object a). Returns 0, -1 when the name is given twice. */
static int form_put(json_t *obj, char *key, const char *v) {
    size_t kl = strlen(key);
    char *open = strchr(key, '[');
    if (open && open > key && kl > (size_t)(open - key) + 2 && key[kl - 1] == ']') {
        *open = 0, key[kl - 1] = 0;
        json_t *sub = json_object_get(obj, key);
        if (!sub) json_object_set_new(obj, key, sub = json_object());
        if (!json_is_object(sub)) return -1;
        obj = sub, key = open + 1;
    }
    if (json_object_get(obj, key)) return -1;
    return json_object_set_new(obj, key, json_string(v)) == 0 ? 0 : -1;
}

/* Gives the fields of s in obj their JSON types (see shape_form). */
static void form_types(const shape *s, json_t *obj) {
    for (size_t i = 0; i < s->n; i++) {
        const shape_field *f = &s->fields[i];
        json_t *v = json_object_get(obj, f->name);
        const char *t = json_string_value(v);
        double d;
        if (json_is_object(v) && f->sub) form_types(f->sub, v);
        if (!t) continue;
        if (!*t) {
            json_object_del(obj, f->name);
        } else if ((f->type == SHAPE_NUMBER || f->type == SHAPE_INTEGER || f->type == SHAPE_ID) &&
                   params_number(t, &d) == 0) {
            int whole = f->type != SHAPE_NUMBER && d == floor(d) && fabs(d) < 9e15;
            json_object_set_new(obj, f->name, whole ? json_integer((json_int_t)d) : json_real(d));
        }
    }
}

/* Number of named fields of a form body (pairs whose name is not empty). */
static int form_fields(const char *p, const char *end) {
    int n = 0;
    for (; p < end; p++) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        n += amp > p && *p != '=';
        p = amp;
    }
    return n;
}

int shape_form(const shape *s, const char *body, size_t len, json_t **out, shape_error *e) {
    const char *p = body, *end = body + len, *why = "out of memory";
    if (form_fields(body, end) > FORM_MAX_FIELDS)
        return shape_fail(e, 400, "invalid_form", NULL, "the form has too many fields (at most %d)",
                          FORM_MAX_FIELDS);
    json_t *form = json_object();
    while (form && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p)), *ke = eq ? eq : amp;
        if (ke > p) {
            char *k = form_decode(p, (size_t)(ke - p), &why);
            char *v =
                k ? form_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, &why) : NULL;
            int bad = !v || form_put(form, k, v) != 0;
            if (v && bad) why = "a field of the form is given twice";
            free(k);
            free(v);
            if (bad) break;
        }
        p = amp + 1;
    }
    if (!form || p < end) {
        json_decref(form);
        return shape_fail(e, strcmp(why, "out of memory") ? 400 : 500, "invalid_form", NULL, "%s",
                          why);
    }
    form_types(s, form);
    *out = form;
    return 0;
}

double shape_time(json_t *obj, const char *key) {
    double t = 0;
    params_rfc3339(json_string_value(json_object_get(obj, key)), &t);
    return t;
}

gis_crs shape_crs(json_t *obj, const char *key) {
    gis_crs c = GIS_CRS_WGS84;
    gis_crs_parse(json_string_value(json_object_get(obj, key)), &c);
    return c;
}

int shape_timeofday(json_t *obj, const char *key) {
    int m;
    return params_timeofday(json_string_value(json_object_get(obj, key)), &m) == 0 ? m : -1;
}

void shape_uuid(json_t *obj, const char *key, char out[37]) {
    if (params_uuid(json_string_value(json_object_get(obj, key)), out) != 0) out[0] = 0;
}

json_t *shape_pick(const shape *s, json_t *obj) {
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++) {
        json_t *v = json_object_get(obj, s->fields[i].name);
        if (v && !json_is_null(v)) json_object_set(o, s->fields[i].name, v);
    }
    return o;
}

/* ---- schema ---- */

const char *shape_name(const shape *s) {
    return s->name;
}

static json_t *type_json(const char *type, int nullable) {
    return nullable ? json_pack("[ss]", type, "null") : json_string(type);
}

static json_t *field_schema(const shape_field *f) {
    static const char *const types[] = {"string", "integer", "integer", "number", "object",
                                        "array",  "boolean", "array",   "array",  "array"};
    int nullable = (f->flags & SF_NULLABLE) != 0;
    json_t *o = f->type == SHAPE_OBJECT && f->sub ? shape_schema(f->sub) : json_object();
    json_object_set_new(o, "type", type_json(types[f->type], nullable));
    const vocab *en = f->vocab ? f->vocab : f->fmt ? f->fmt->schema_enum : NULL;
    if (f->type == SHAPE_CODES) { /* the codes are the items' */
        json_object_set_new(o, "items", vocab_enum_json(f->vocab));
        json_object_set_new(o, "uniqueItems", json_true());
        en = NULL;
    }
    if (f->type == SHAPE_INTS) {
        json_object_set_new(o, "items",
                            json_pack("{s:s,s:I,s:I}", "type", "integer", "minimum",
                                      (json_int_t)f->min, "maximum", (json_int_t)f->max));
        json_object_set_new(o, "uniqueItems", json_true());
        json_object_set_new(o, "minItems", json_integer(1));
    }
    if (en) {
        json_t *ej = vocab_enum_json(en);
        json_t *list = json_deep_copy(json_object_get(ej, "enum"));
        json_decref(ej);
        if (nullable) json_array_append_new(list, json_null());
        json_object_set_new(o, "enum", list);
    }
    if (f->fmt && f->fmt->schema_format)
        json_object_set_new(o, "format", json_string(f->fmt->schema_format));
    if (f->type == SHAPE_STRING && !f->fmt && !f->vocab) {
        if (f->min > 0) json_object_set_new(o, "minLength", json_integer((json_int_t)f->min));
        if (f->max > 0) json_object_set_new(o, "maxLength", json_integer((json_int_t)f->max));
        if (f->flags & SF_BYTES)
            json_object_set_new(o, "description", json_string("length limit in UTF-8 bytes"));
    }
    if ((f->type == SHAPE_INTEGER || f->type == SHAPE_NUMBER) && (f->flags & SF_RANGE)) {
        int integer = f->type == SHAPE_INTEGER;
        json_object_set_new(o, "minimum",
                            integer ? json_integer((json_int_t)f->min) : json_real(f->min));
        json_object_set_new(o, "maximum",
                            integer ? json_integer((json_int_t)f->max) : json_real(f->max));
    }
    if (f->type == SHAPE_ID) json_object_set_new(o, "minimum", json_integer(1));
    if (f->type == SHAPE_IDS) {
        json_object_set_new(o, "items", json_pack("{s:s,s:i}", "type", "integer", "minimum", 1));
        json_object_set_new(o, "uniqueItems", json_true());
        if (f->max > 0) json_object_set_new(o, "maxItems", json_integer((json_int_t)f->max));
    }
    if (f->type == SHAPE_ARRAY) {
        if (f->sub) json_object_set_new(o, "items", shape_schema(f->sub));
        if (f->flags & SF_ITEMS_LATER) /* the handler answers each item (its verdict) */
            json_object_set_new(o, "x-per-item", json_true());
        if (f->min > 0) json_object_set_new(o, "minItems", json_integer((json_int_t)f->min));
        if (f->max > 0) json_object_set_new(o, "maxItems", json_integer((json_int_t)f->max));
    }
    return o;
}

void shapes_add_schemas(json_t *schemas) {
    static const shape *const all[] = {
        &SHAPE_LOGIN,        &SHAPE_PASSWORD,      &SHAPE_REPORT,
        &SHAPE_BATCH,        &SHAPE_REPORT_EVENT,  &SHAPE_UNIT_CREATE,
        &SHAPE_UNIT_STATUS,  &SHAPE_POSITIONS,     &SHAPE_UNIT_PATCH,
        &SHAPE_UNIT_MEMBERS, &SHAPE_SHIFT,         &SHAPE_SHIFT_PATCH,
        &SHAPE_STATION,      &SHAPE_STATION_PATCH, &SHAPE_AGENCY,
        &SHAPE_AGENCY_PATCH, &SHAPE_USER,          &SHAPE_USER_PATCH,
        &SHAPE_RESET,        &SHAPE_PATROL_PLAN,   &SHAPE_PATROL_PLAN_PATCH,
        &SHAPE_CAMPAIGN};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        json_object_set_new(schemas, all[i]->name, shape_schema(all[i]));
}

json_t *shape_schema(const shape *s) {
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < s->n; i++) {
        json_object_set_new(props, s->fields[i].name, field_schema(&s->fields[i]));
        if (s->fields[i].flags & SF_REQUIRED)
            json_array_append_new(req, json_string(s->fields[i].name));
    }
    json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "title", s->name, "type", "object", "properties",
                          props, "required", req);
    if (s->key) json_object_set_new(o, "x-idempotency-key", json_string(s->key));
    return o;
}
