/* routes.c - THE route table: method, path, handler, body type and limit, roles, and the contract
 * (operationId, reply, query parameters, statuses, request shape, flags); and the query parameter
 * specs the rows name. The door (http.c) checks every row before its handler runs; openapi.c
 * prints the same rows. Read it to see the API. */
#include "service/door/routes.h"

#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/shapes.h"

#define KB 1024u
#define MB (1024u * 1024u)

/* ---- the query parameters: one spec each (params.h). A route lists the ones it takes with
 * Q(&P_A, &P_B); its handler reads them typed with http_q(r, "a"). One name may have several specs
 * (different limits or meanings on different routes); one route names each at most once. ---- */
#define P(var, ...) static const param_spec var = {__VA_ARGS__}
#define Q(...) ((const param_spec *const[]){__VA_ARGS__, NULL})

static const vocab_term tile_crs_terms[] = {{.code = "wgs84"}, {.code = "gcj02"}};
static const vocab TILE_CRS = {.terms = tile_crs_terms, .n = 2};
static const vocab_term geometry_terms[] = {{.code = "geojson"}};
static const vocab GEOMETRY = {.terms = geometry_terms, .n = 1};
static const vocab_term o311_status_terms[] = {{.code = "open"}, {.code = "closed"}};
static const vocab O311_STATUS = {.terms = o311_status_terms, .n = 2};

/* every list */
P(P_CRS, "crs", PARAM_CRS,
  .description = "Coordinate system of coordinates in the request and the reply");
P(P_LIMIT, "limit", PARAM_INT, .min = 1, .max = PAGE_MAX, .def = 50,
  .description = "Items per page");
/* reports */
P(P_STATUS, "status", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_REPORT_STATUS,
  .description = "Only reports in one of these statuses (comma-separated or repeated)");
P(P_OPEN, "open", PARAM_BOOL,
  .description =
      "true: only open reports; false: only closed ones (resolved, cancelled, duplicate); "
      "absent: both");
P(P_CATEGORY, "category", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_CATEGORY,
  .description = "Only reports of one of these categories (comma-separated or repeated)");
P(P_OUTCOME, "outcome", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_OUTCOME,
  .description = "Only resolved reports with one of these outcomes");
P(P_TIER, "tier", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_TIER,
  .description = "Only reports held by a station of one of these tiers now");
P(P_STATION, "station", PARAM_ID, PARAM_LIST,
  .description = "Only reports whose responsible station is one of these (station ids)");
P(P_REPORT_IDS, "id", PARAM_ID, PARAM_LIST,
  .description = "Only these reports (report numbers, comma-separated or repeated)");
P(P_DIVISION, "division", PARAM_DIVISION,
  .description = "Only inside this division (4-, 6-, 9- or 12-digit code)");
P(P_WITHIN, "within", PARAM_DIVISION,
  .description = "Only inside this division (4-, 6-, 9- or 12-digit code)");
P(P_SINCE, "since", PARAM_TIME,
  .description = "Changed (updated_at) at or after this RFC 3339 time");
P(P_RECEIVED_FROM, "received_from", PARAM_TIME,
  .description = "Received at or after this RFC 3339 time");
P(P_RECEIVED_TO, "received_to", PARAM_TIME,
  .description = "Received before this RFC 3339 time (received_from..received_to is half-open)");
P(P_BBOX, "bbox", PARAM_BBOX, .description = "minlon,minlat,maxlon,maxlat in the request's crs");
P(P_REPORTS_CURSOR, "cursor", PARAM_CURSOR, .tag = "r1",
  .description = "The `next` of the previous page");
P(P_EXPORT_LIMIT, "limit", PARAM_INT, .min = 1, .max = EXPORT_MAX, .def = EXPORT_MAX,
  .description = "Most rows in the export");
P(P_TIMELINE_CURSOR, "cursor", PARAM_CURSOR, .tag = "t1",
  .description = "The `next` of the previous page (it keeps the page's limit)");
/* places */
P(P_Q, "q", PARAM_TEXT, PARAM_REQUIRED, .min = 1, .max = 400, .code = "invalid_query",
  .description = "Name, alias, fragment, pinyin or code (required; at most 400 bytes)");
P(P_PLACES_LIMIT, "limit", PARAM_INT, .min = 1, .max = PAGE_MAX, .def = 50,
  .description = "Most hits to return");
P(P_NEAR, "near", PARAM_POINT, .description = "lon,lat: rank by distance from this point");
P(P_LON, "lon", PARAM_NUMBER, PARAM_REQUIRED, .code = "invalid_location",
  .description = "Longitude (or easting) in crs (required)");
P(P_LAT, "lat", PARAM_NUMBER, PARAM_REQUIRED, .code = "invalid_location",
  .description = "Latitude (or northing) in crs (required)");
P(P_GEOMETRY, "geometry", PARAM_VOCAB, .vocab = &GEOMETRY,
  .description = "geojson adds the boundary");
P(P_SIMPLIFY, "simplify", PARAM_NUMBER, .min = 0, .max = 100000,
  .description = "Simplify the boundary to this many metres");
/* audit */
P(P_AUDIT_SINCE, "since", PARAM_TIME, .description = "Only rows at or after this RFC 3339 time");
P(P_AUDIT_UNTIL, "until", PARAM_TIME, .description = "Only rows before this RFC 3339 time");
P(P_AUDIT_USER, "user", PARAM_TEXT, .min = 1, .max = 64,
  .description = "Only what this username did (or tried, for a failed sign-in)");
P(P_AUDIT_REPORT, "report", PARAM_ID, .description = "Only reads of this report");
P(P_AUDIT_KIND, "kind", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_AUDIT_KIND,
  .description = "Only rows of these kinds (read, write, sign_in; comma-separated or repeated)");
P(P_AUDIT_ACTION, "action", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_AUDIT_ACTION,
  .description = "Only these actions (comma-separated or repeated)");
P(P_AUDIT_ENTITY, "entity", PARAM_VOCAB, .vocab = &VOCAB_AUDIT_ENTITY,
  .description = "Only administrative writes on this kind of entity");
P(P_AUDIT_ENTITY_ID, "entity_id", PARAM_ID,
  .description = "Only administrative writes on the entity with this id (with entity)");
P(P_AUDIT_CURSOR, "cursor", PARAM_CURSOR, .tag = "a1",
  .description = "The `next` of the previous page");
/* units */
P(P_UNIT_STATUS, "status", PARAM_VOCAB, .vocab = &VOCAB_UNIT_STATUS,
  .description = "Only units in this status");
P(P_UNIT_DIVISION, "division", PARAM_DIVISION, .min = 2,
  .description = "Only inside this division (2-, 4-, 6-, 9- or 12-digit code)");
P(P_UNITS_CURSOR, "cursor", PARAM_CURSOR, .tag = "u1",
  .description = "The `next` of the previous page");
P(P_CANDIDATES_LIMIT, "limit", PARAM_INT, .min = 1, .max = CANDIDATES_MAX, .def = 5,
  .description = "Most units to rank");
P(P_TRACK_FROM, "from", PARAM_TIME, PARAM_REQUIRED,
  .description = "The track from this RFC 3339 time (required; at most track_max_hours before to)");
P(P_TRACK_TO, "to", PARAM_TIME, PARAM_REQUIRED,
  .description = "The track until this RFC 3339 time, not included (required)");
P(P_TRACK_GAP, "gap_s", PARAM_INT, .min = 10, .max = 86400, .def = 300,
  .description = "A fix more than this many seconds after the previous one starts a new stretch");
P(P_COVERAGE_SINCE, "since", PARAM_TIME,
  .description = "Patrolled at or after this RFC 3339 time (default: 24 hours ago; within the "
                 "days of positions kept)");
P(P_COVERAGE_DIVISION, "division", PARAM_DIVISION, .min = 2,
  .description = "The division whose communities to list (default: the user's)");
/* administration */
P(P_ADMIN_DIVISION, "division", PARAM_DIVISION,
  .description = "Only inside this division (4-, 6-, 9- or 12-digit code; default: the user's)");
P(P_STATIONS_TIER, "tier", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_TIER,
  .description = "Only stations of these tiers (comma-separated or repeated)");
P(P_STATIONS_GEOMETRY, "geometry", PARAM_VOCAB, .vocab = &GEOMETRY,
  .description = "geojson: each station's own coverage polygon (else coverage is null; "
                 "coverage_own says whether it has one)");
P(P_STATIONS_CURSOR, "cursor", PARAM_CURSOR, .tag = "s1",
  .description = "The `next` of the previous page");
P(P_AGENCY_KIND, "kind", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_AGENCY_KIND,
  .description = "Only agencies of these kinds (comma-separated or repeated)");
P(P_AGENCIES_CURSOR, "cursor", PARAM_CURSOR, .tag = "g1",
  .description = "The `next` of the previous page");
P(P_USERS_ROLE, "role", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_ROLE,
  .description = "Only users of these roles (comma-separated or repeated)");
P(P_USERS_UNIT, "unit", PARAM_ID, .description = "Only the members of this unit");
P(P_USERS_DISABLED, "disabled", PARAM_BOOL,
  .description = "true: only disabled users; false: only enabled ones; absent: both");
P(P_USERS_Q, "q", PARAM_TEXT, .min = 1, .max = 63,
  .description = "Only usernames that start with this");
P(P_USERS_CURSOR, "cursor", PARAM_CURSOR, .tag = "us",
  .description = "The `next` of the previous page");
P(P_SHIFTS_FROM, "from", PARAM_TIME,
  .description = "Only shifts that end after this RFC 3339 time (default: 7 days ago)");
P(P_SHIFTS_TO, "to", PARAM_TIME, .description = "Only shifts that start before this time");
P(P_SHIFTS_AT, "at", PARAM_TIME,
  .description = "Shifts on at this RFC 3339 time (default: now): who is on shift");
P(P_SHIFTS_CURSOR, "cursor", PARAM_CURSOR, .tag = "f1",
  .description = "The `next` of the previous page");
/* joint patrols */
P(P_PLANS_UNIT, "unit", PARAM_ID, .description = "Only the plans this unit takes part in");
P(P_PLANS_AT, "at", PARAM_TIME,
  .description = "Only the plans with a window (one-off or weekly) at this RFC 3339 time");
P(P_PLANS_CURSOR, "cursor", PARAM_CURSOR, .tag = "pp",
  .description = "The `next` of the previous page");
P(P_WALKED_FROM, "from", PARAM_TIME,
  .description =
      "The plan's windows that end after this RFC 3339 time (default: 7 days before to)");
P(P_WALKED_TO, "to", PARAM_TIME,
  .description = "The plan's windows that start before this time (default: now; at most 31 days "
                 "after from)");
P(P_CAMPAIGNS_CURSOR, "cursor", PARAM_CURSOR, .tag = "cp",
  .description = "The `next` of the previous page");
P(P_LEDGER_WEEK, "week", PARAM_WEEK,
  .description = "The ISO week in the city's time (2026-W49; default: this week)");
/* live events */
P(P_ACCESS_TOKEN, "access_token", PARAM_TEXT, .min = 1, .max = 255,
  .description = "A stream token from POST /api/v1/events/token (for EventSource, which sends no "
                 "headers)");
P(P_AFTER, "after", PARAM_SEQ, .description = "Resume after this event id (as Last-Event-ID)");
P(P_LAST_EVENT_ID, "Last-Event-ID", PARAM_SEQ, PARAM_HEADER,
  .description =
      "Resume after this event id (sent by EventSource on reconnection; wins over after)");
/* map */
P(P_TILE_CRS, "crs", PARAM_CRS, .vocab = &TILE_CRS,
  .description = "gcj02 shifts the features for a GCJ-02 base map");
/* open311 */
P(P_API_KEY, "api_key", PARAM_TEXT, .max = 1000,
  .description = "Open311 API key (or the form field api_key)");
P(P_O311_IDS, "service_request_id", PARAM_ID, PARAM_LIST, .items = 100,
  .description = "Request ids, comma-separated (at most 100); overrides every other filter");
P(P_O311_CODES, "service_code", PARAM_VOCAB, PARAM_LIST, .items = 50, .vocab = &VOCAB_CATEGORY,
  .description = "Service codes, comma-separated (at most 50)");
P(P_O311_START, "start_date", PARAM_TIME,
  .description =
      "Requested at or after (W3C date-time with a zone; default: 90 days before end_date)");
P(P_O311_END, "end_date", PARAM_TIME,
  .description = "Requested at or before (W3C date-time with a zone)");
P(P_O311_STATUS, "status", PARAM_VOCAB, PARAM_LIST, .vocab = &O311_STATUS,
  .description = "open, closed or open,closed");

/* figures */
static const vocab_term labels_terms[] = {{.code = "zh"}};
static const vocab LABELS = {.terms = labels_terms, .n = 1};
P(P_ESCALATED_FROM, "escalated_from", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_TIER,
  .description = "Only reports moved up from one of these tiers because their acknowledgement "
                 "deadline passed");
P(P_ESCALATED, "escalated", PARAM_BOOL,
  .description = "true: only reports escalated at least once (by hand or because a deadline "
                 "passed); false: only reports never escalated; absent: both");
P(P_LABELS, "labels", PARAM_VOCAB, .vocab = &LABELS,
  .description = "zh: Chinese column headers and values (the vocabulary's labels)");
P(P_STATS_DIVISION, "division", PARAM_DIVISION, .min = 2,
  .description = "The division of the figures (2-, 4-, 6-, 9- or 12-digit code; default: the "
                 "user's)");
P(P_FROM, "from", PARAM_DATE,
  .description = "First day of the period, the city's days (default: the 1st of this month)");
P(P_TO, "to", PARAM_DATE,
  .description = "Last day of the period, included (default: today); at most ten years after "
                 "from");
P(P_BY, "by", PARAM_VOCAB, .vocab = &VOCAB_STATS_BY,
  .description = "Groups: the tier that finally held a report, its county, town, station or "
                 "category, or the month, ISO week or day it was received");
P(P_MIN_REPORTS, "min_reports", PARAM_INT, .min = 1, .max = 100000, .def = 5,
  .description = "A ranking (every grouping but the periods) leaves out groups with fewer "
                 "reports, listed in left_out");
P(P_MONTH, "month", PARAM_MONTH, PARAM_REQUIRED, .description = "The month (2026-11, required)");
P(P_CANDIDATE, "candidate", PARAM_POINT,
  .description = "lon,lat of a candidate site in the request's crs (inside the division)");
P(P_RADIUS, "radius_m", PARAM_NUMBER, .min = 100, .max = 50000,
  .description = "Straight-line catchment radius in metres, CGCS2000 (default 5000)");
P(P_K, "k", PARAM_INT, .min = 0, .max = 50, .def = 0,
  .description = "Propose this many new sites (maximal covering over a grid of candidates; 0, the"
                 " default: none)");
P(P_GRID, "grid_m", PARAM_NUMBER, .min = 200, .max = 50000,
  .description = "Spacing of the candidate grid in metres (default 2000)");
P(P_STATION_TIER, "station_tier", PARAM_VOCAB, PARAM_LIST, .vocab = &VOCAB_TIER,
  .description = "The current stations weighed: of these tiers (default city,county)");

/* the filters of the report list and its exports */
#define REPORT_FILTERS                                                                             \
    &P_STATUS, &P_OPEN, &P_CATEGORY, &P_OUTCOME, &P_TIER, &P_STATION, &P_REPORT_IDS, &P_DIVISION,  \
        &P_WITHIN, &P_SINCE, &P_RECEIVED_FROM, &P_RECEIVED_TO, &P_ESCALATED_FROM, &P_ESCALATED,    \
        &P_BBOX, &P_CRS
#define O311_LIST Q(&P_O311_IDS, &P_O311_CODES, &P_O311_START, &P_O311_END, &P_O311_STATUS)

/* the contract part of a row: operationId, reply, query parameters, statuses, request shape; the
 * row needs a worker slot (O) or touches neither the database nor GEOS/PROJ (O_NO_WORKER) */
#define O(op, reply, query, statuses, request) op, reply, query, statuses, request, 0
#define O_NO_WORKER(op, reply, query, statuses, request)                                           \
    op, reply, query, statuses, request, ROUTE_NO_WORKER

const route routes[] = {
    /* operations */
    {"GET", "/healthz", h_healthz, BODY_NONE, 0, 0, "Process is alive",
     O_NO_WORKER("getHealth", "Health", NULL, "200", NULL)},
    {"GET", "/readyz", h_readyz, BODY_NONE, 0, 0, "Database reachable and spatial index loaded",
     O("getReadiness", "Readiness", NULL, "200,503:Readiness", NULL)},
    {"GET", "/metrics", h_metrics, BODY_NONE, 0, 0, "Prometheus metrics",
     O_NO_WORKER("getMetrics", "text/plain", NULL, "200,404", NULL)},
    {"GET", "/api/v1/openapi.json", h_openapi, BODY_NONE, 0, 0, "This API as OpenAPI 3",
     O_NO_WORKER("getOpenApi", "OpenApiDocument", NULL, "200", NULL)},
    {"GET", "/api/v1/console", h_console, BODY_NONE, 0, 0,
     "Settings of the dispatcher console and the patrol app (basemap_url, photo_max_px)",
     O("getConsoleSettings", "ConsoleSettings", NULL, "200", NULL)},
    {"GET", "/api/v1/vocabulary", h_vocabulary, BODY_NONE, 0, 0,
     "Every code list with its Chinese label: categories, statuses, outcomes, levels, tiers, unit "
     "statuses, event and timeline types, sexes, roles, live event kinds, error codes (ETag)",
     O_NO_WORKER("getVocabulary", "Vocabulary", NULL, "200,304", NULL)},

    /* authentication */
    {"POST", "/api/v1/auth/login", h_auth_login, BODY_JSON, 4 * KB, 0,
     "Sign in; returns a bearer token",
     O("login", "Session", NULL, "200,400,401,429,503", &SHAPE_LOGIN)},
    {"POST", "/api/v1/auth/logout", h_auth_logout, BODY_NONE, 0, ROLE_ANY, "Revoke the token used",
     O("logout", NULL, NULL, "204", NULL)},
    {"GET", "/api/v1/auth/me", h_auth_me, BODY_NONE, 0, ROLE_ANY, "The signed-in user",
     O("getMe", "User", NULL, "200", NULL)},
    {"POST", "/api/v1/auth/password", h_auth_password, BODY_JSON, 4 * KB, ROLE_ANY,
     "Change the password; revokes every session of the user (sign in again)",
     O("changePassword", "PasswordChanged", NULL, "200,400,401,403,409,429", &SHAPE_PASSWORD)},
    {"POST", "/api/v1/auth/reset", h_auth_reset, BODY_JSON, 4 * KB, 0,
     "Set a new password with a one-time reset code; revokes every session of the user",
     O("resetPassword", "PasswordChanged", NULL, "200,400,429,503", &SHAPE_RESET)},

    /* places */
    {"GET", "/api/v1/places", h_places_search, BODY_NONE, 0, 0,
     "Find places and divisions by name, alias, any fragment, pinyin or code (q, limit, within, near, crs); "
     "public, and with a bearer token the caller's own division ranks first",
     O_NO_WORKER("searchPlaces", "PlaceList", Q(&P_Q, &P_PLACES_LIMIT, &P_WITHIN, &P_NEAR, &P_CRS),
                 "200,400,401,503", NULL)},
    {"GET", "/api/v1/places/reverse", h_places_reverse, BODY_NONE, 0, 0,
     "Divisions, zones, station and nearby places of a point",
     O("reverseGeocode", "ReverseResult", Q(&P_LON, &P_LAT, &P_CRS), "200,400,503", NULL)},
    {"GET", "/api/v1/divisions/{code}", h_divisions_get, BODY_NONE, 0, 0,
     "One division (geometry=geojson, simplify=metres, crs)",
     O("getDivision", "Division", Q(&P_GEOMETRY, &P_SIMPLIFY, &P_CRS), "200,400,404,503", NULL)},
    {"GET", "/api/v1/divisions/{code}/children", h_divisions_children, BODY_NONE, 0, 0,
     "The divisions directly inside one (geometry=geojson, simplify=metres, crs)",
     O("getDivisionChildren", "DivisionList", Q(&P_GEOMETRY, &P_SIMPLIFY, &P_CRS),
       "200,400,404,503", NULL)},

    /* reports */
    {"POST", "/api/v1/reports", h_reports_create, BODY_JSON, 64 * KB, ROLE_ANY,
     "Submit a field report (idempotent by client_id); staff file a call as \"source\": \"phone\" "
     "with its channel and the caller's contact",
     O("createReport", "Report", Q(&P_CRS), "201,200,400,403,409,503", &SHAPE_REPORT)},
    {"POST", "/api/v1/reports/batch", h_reports_batch, BODY_JSON, 8 * MB, ROLE_ANY,
     "Submit up to 500 queued field reports",
     O("createReportBatch", "BatchResult", Q(&P_CRS), "200,400,413,503", &SHAPE_BATCH)},
    {"GET", "/api/v1/reports/{id}", h_reports_get, BODY_NONE, 0, ROLE_ANY, "One report (?crs=)",
     O("getReport", "Report", Q(&P_CRS), "200,400,404", NULL)},
    {"POST", "/api/v1/reports/{id}/events", h_reports_event, BODY_JSON, 16 * KB, ROLE_ANY,
     "Change a report's state",
     O("addReportEvent", "Report", NULL, "200,400,403,404,409,422", &SHAPE_REPORT_EVENT)},
    {"GET", "/api/v1/reports/{id}/timeline", h_reports_timeline, BODY_NONE, 0, ROLE_ANY,
     "Every state change of a report",
     O("getReportTimeline", "Timeline", Q(&P_LIMIT, &P_TIMELINE_CURSOR), "200,404", NULL)},
    {"POST", "/api/v1/reports/{id}/photos", h_photos_upload, BODY_BINARY, 10 * MB, ROLE_ANY,
     "Add a JPEG or PNG photo (turned upright, metadata stripped; the same bytes again: 200)",
     O("addReportPhoto", "Photo", NULL, "201,200,404,415", NULL)},
    {"GET", "/api/v1/reports/{id}/photos", h_photos_list, BODY_NONE, 0, ROLE_ANY,
     "The photos of a report", O("listReportPhotos", "PhotoList", NULL, "200,404", NULL)},
    {"GET", "/api/v1/reports/{id}/photos/{photo_id}", h_photos_get, BODY_NONE, 0, ROLE_ANY,
     "One photo's bytes", O("getReportPhoto", "image/jpeg,image/png", NULL, "200,404", NULL)},
    {"GET", "/api/v1/reports", h_reports_list, BODY_NONE, 0, ROLE_ANY,
     "List reports the user may see, newest first: by status, open or closed, category, outcome, tier, station, number, division, time received or changed, bbox",
     O("listReports", "ReportList", Q(REPORT_FILTERS, &P_LIMIT, &P_REPORTS_CURSOR), "200,400",
       NULL)},
    {"GET", "/api/v1/reports.geojson", h_reports_geojson, BODY_NONE, 0, ROLE_STAFF,
     "Reports as a GeoJSON FeatureCollection (WGS-84), same filters",
     O("exportReportsGeoJson", "application/geo+json:ReportFeatureCollection",
       Q(REPORT_FILTERS, &P_EXPORT_LIMIT), "200,400", NULL)},
    {"GET", "/api/v1/reports.csv", h_reports_csv, BODY_NONE, 0, ROLE_STAFF,
     "Reports as CSV (UTF-8, BOM), same filters",
     O("exportReportsCsv", "text/csv", Q(REPORT_FILTERS, &P_EXPORT_LIMIT, &P_LABELS), "200,400",
       NULL)},
    {"GET", "/api/v1/audit", h_audit_list, BODY_NONE, 0, ROLE_SUPERVISOR | ROLE_ADMIN,
     "The audit trail: personal-data reads, sign-ins, administrative writes with before and after "
     "(since, until, user, report, kind, action, entity, entity_id, limit, cursor)",
     O("listAudit", "AuditList",
       Q(&P_AUDIT_SINCE, &P_AUDIT_UNTIL, &P_AUDIT_USER, &P_AUDIT_REPORT, &P_AUDIT_KIND,
         &P_AUDIT_ACTION, &P_AUDIT_ENTITY, &P_AUDIT_ENTITY_ID, &P_LIMIT, &P_AUDIT_CURSOR),
       "200,400", NULL)},

    /* units */
    {"GET", "/api/v1/units", h_units_list, BODY_NONE, 0, ROLE_ANY,
     "Units in the user's division: status, division, limit, cursor, crs",
     O("listUnits", "UnitList",
       Q(&P_UNIT_STATUS, &P_UNIT_DIVISION, &P_LIMIT, &P_UNITS_CURSOR, &P_CRS), "200,400", NULL)},
    {"POST", "/api/v1/units", h_units_create, BODY_JSON, 4 * KB, ROLE_STAFF,
     "Create a unit of a station (agency, vehicle, members)",
     O("createUnit", "Unit", NULL, "201,400,404,409,422", &SHAPE_UNIT_CREATE)},
    {"PATCH", "/api/v1/units/{id}", h_units_patch, BODY_JSON, 4 * KB, ROLE_STAFF,
     "Change a unit: name, callsign, station, agency, vehicle, members",
     O("changeUnit", "Unit", NULL, "200,400,404,409,422", &SHAPE_UNIT_PATCH)},
    {"PUT", "/api/v1/units/{id}/members", h_units_members, BODY_JSON, 4 * KB, ROLE_STAFF,
     "Set the unit's members (a user is in at most one unit at a time; the history is kept)",
     O("setUnitMembers", "Unit", NULL, "200,400,404,409", &SHAPE_UNIT_MEMBERS)},
    {"POST", "/api/v1/units/{id}/shifts", h_shifts_create, BODY_JSON, 16 * KB, ROLE_STAFF,
     "Put the unit on a shift (from, to, the members on it)",
     O("createShift", "Shift", NULL, "201,400,404,409", &SHAPE_SHIFT)},
    {"GET", "/api/v1/units/{id}/shifts", h_shifts_of_unit, BODY_NONE, 0, ROLE_STAFF,
     "The unit's roster: its shifts overlapping from..to (default: the last 7 days on)",
     O("listUnitShifts", "ShiftList", Q(&P_SHIFTS_FROM, &P_SHIFTS_TO, &P_LIMIT, &P_SHIFTS_CURSOR),
       "200,400,404", NULL)},
    {"PATCH", "/api/v1/shifts/{id}", h_shifts_patch, BODY_JSON, 16 * KB, ROLE_STAFF,
     "Change or end a shift (ends_at: now ends it)",
     O("changeShift", "Shift", NULL, "200,400,404,409", &SHAPE_SHIFT_PATCH)},
    {"GET", "/api/v1/shifts", h_shifts_on, BODY_NONE, 0, ROLE_STAFF,
     "Who is on shift: the shifts on at a time (default now) in a division",
     O("listShiftsOn", "ShiftList", Q(&P_ADMIN_DIVISION, &P_SHIFTS_AT, &P_LIMIT, &P_SHIFTS_CURSOR),
       "200,400", NULL)},
    {"POST", "/api/v1/patrol-plans", h_plans_create, BODY_JSON, 1024 * KB, ROLE_STAFF,
     "Plan a joint patrol: the units (of any agencies), when (one-off windows or weekly), and the "
     "target areas (a division, a drawn polygon, a point with a radius) with their numbers",
     O("createPatrolPlan", "PatrolPlan", NULL, "201,400,404,413", &SHAPE_PATROL_PLAN)},
    {"GET", "/api/v1/patrol-plans", h_plans_list, BODY_NONE, 0, ROLE_STAFF,
     "The joint patrol plans of a division (by id)",
     O("listPatrolPlans", "PatrolPlanList",
       Q(&P_ADMIN_DIVISION, &P_PLANS_UNIT, &P_PLANS_AT, &P_LIMIT, &P_PLANS_CURSOR), "200,400",
       NULL)},
    {"GET", "/api/v1/patrol-plans/{id}", h_plans_get, BODY_NONE, 0, ROLE_STAFF,
     "One joint patrol plan with its units, windows and targets",
     O("getPatrolPlan", "PatrolPlan", NULL, "200,400,404", NULL)},
    {"PATCH", "/api/v1/patrol-plans/{id}", h_plans_patch, BODY_JSON, 1024 * KB, ROLE_STAFF,
     "Change a plan: what is sent changes; targets replace the plan's (an id keeps one, those left "
     "out are retired)",
     O("changePatrolPlan", "PatrolPlan", NULL, "200,400,404,413", &SHAPE_PATROL_PLAN_PATCH)},
    {"GET", "/api/v1/patrol-plans/{id}/walked", h_plans_walked, BODY_NONE, 0, ROLE_STAFF,
     "What was walked: per window of the plan, from the units' fixes, each target's visits (units "
     "inside together, one visit however many), time inside, and the group's hours and km counted "
     "once; done, partly or missed",
     O("getPatrolPlanWalked", "PatrolWalked", Q(&P_WALKED_FROM, &P_WALKED_TO), "200,400,404,413",
       NULL)},
    {"GET", "/api/v1/patrol-ledger", h_patrol_ledger, BODY_NONE, 0, ROLE_STAFF,
     "The week's ledger of the joint patrol plans of a division: per plan its windows (started on "
     "time or overdue), per target the visits needed, the verified visits, met or not and the gap",
     O("getPatrolLedger", "PatrolLedger", Q(&P_ADMIN_DIVISION, &P_LEDGER_WEEK), "200,400,413",
       NULL)},
    {"POST", "/api/v1/campaigns", h_campaigns_create, BODY_JSON, 16 * KB, ROLE_STAFF,
     "A campaign of joint patrols (a winter night sweep, a summer check): name, division, dates; "
     "plans join it by their campaign_id",
     O("createCampaign", "Campaign", NULL, "201,400,404", &SHAPE_CAMPAIGN)},
    {"GET", "/api/v1/campaigns", h_campaigns_list, BODY_NONE, 0, ROLE_STAFF,
     "The campaigns of a division (by id)",
     O("listCampaigns", "CampaignList", Q(&P_ADMIN_DIVISION, &P_LIMIT, &P_CAMPAIGNS_CURSOR),
       "200,400", NULL)},
    {"GET", "/api/v1/campaigns/{id}/summary", h_campaigns_summary, BODY_NONE, 0, ROLE_STAFF,
     "A campaign's figures per county and in total: patrols, staff turns (members on shift on the "
     "units that took part, once per patrol), places visited, hours and km (a joint patrol's "
     "counted once), people found (reports filed on the patrols) and their outcomes",
     O("getCampaignSummary", "CampaignSummary", NULL, "200,400,404", NULL)},
    {"GET", "/api/v1/units/{id}", h_units_get, BODY_NONE, 0, ROLE_ANY,
     "One unit: station, status, members, last position and its age",
     O("getUnit", "Unit", Q(&P_CRS), "200,400,404", NULL)},
    {"POST", "/api/v1/units/{id}/status", h_units_status, BODY_JSON, 1 * KB, ROLE_ANY,
     "Set a unit available, busy or off_duty",
     O("setUnitStatus", "Unit", NULL, "200,400,403,404,409", &SHAPE_UNIT_STATUS)},
    {"POST", "/api/v1/units/{id}/positions", h_units_positions, BODY_JSON, 512 * KB, ROLE_ANY,
     "Up to 1,000 position fixes, any order; the newest becomes the unit's position",
     O("addUnitPositions", "PositionsResult", NULL, "200,400,403,404,413", &SHAPE_POSITIONS)},
    {"GET", "/api/v1/units/{id}/track", h_units_track, BODY_NONE, 0, ROLE_ANY,
     "A unit's fixes of a period as GeoJSON for replay: stretches and flagged fixes (from, to, "
     "gap_s, crs)",
     O("getUnitTrack", "application/geo+json:UnitTrack",
       Q(&P_TRACK_FROM, &P_TRACK_TO, &P_TRACK_GAP, &P_CRS), "200,400,404", NULL)},
    {"GET", "/api/v1/reports/{id}/candidates", h_reports_candidates, BODY_NONE, 0, ROLE_STAFF,
     "Available units nearest to a report, with eta_s and stale positions flagged",
     O("listReportCandidates", "Candidates", Q(&P_CANDIDATES_LIMIT, &P_CRS), "200,400,404", NULL)},
    {"GET", "/api/v1/coverage", h_coverage, BODY_NONE, 0, ROLE_STAFF,
     "Patrol coverage per community: last patrolled, share within 100 m of a track (since, division)",
     O("getCoverage", "Coverage", Q(&P_COVERAGE_SINCE, &P_COVERAGE_DIVISION), "200,400,404", NULL)},

    /* administration: stations, agencies, users */
    {"GET", "/api/v1/stations", h_stations_list, BODY_NONE, 0, ROLE_ANY,
     "Rescue stations in the user's division (division, tier, geometry, limit, cursor, crs)",
     O("listStations", "StationList",
       Q(&P_ADMIN_DIVISION, &P_STATIONS_TIER, &P_STATIONS_GEOMETRY, &P_LIMIT, &P_STATIONS_CURSOR,
         &P_CRS),
       "200,400", NULL)},
    {"POST", "/api/v1/stations", h_stations_create, BODY_JSON, 1 * MB, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Create a rescue station (coverage in ?crs=; none: its division)",
     O("createStation", "StationDetail", Q(&P_CRS), "201,400,404,409", &SHAPE_STATION)},
    {"GET", "/api/v1/stations/{id}", h_stations_get, BODY_NONE, 0, ROLE_ANY, "One rescue station",
     O("getStation", "StationDetail", Q(&P_CRS), "200,400,404", NULL)},
    {"PATCH", "/api/v1/stations/{id}", h_stations_patch, BODY_JSON, 1 * MB,
     ROLE_SUPERVISOR | ROLE_ADMIN, "Change a rescue station (coverage null: its division)",
     O("changeStation", "StationDetail", Q(&P_CRS), "200,400,404,409", &SHAPE_STATION_PATCH)},
    {"GET", "/api/v1/agencies", h_agencies_list, BODY_NONE, 0, ROLE_ANY,
     "Agencies of the joint patrol in the user's division (division, kind, limit, cursor)",
     O("listAgencies", "AgencyList",
       Q(&P_ADMIN_DIVISION, &P_AGENCY_KIND, &P_LIMIT, &P_AGENCIES_CURSOR), "200,400", NULL)},
    {"POST", "/api/v1/agencies", h_agencies_create, BODY_JSON, 4 * KB, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Create an agency (civil affairs, police, urban management, ...)",
     O("createAgency", "Agency", NULL, "201,400,404,409", &SHAPE_AGENCY)},
    {"PATCH", "/api/v1/agencies/{id}", h_agencies_patch, BODY_JSON, 4 * KB,
     ROLE_SUPERVISOR | ROLE_ADMIN, "Change an agency",
     O("changeAgency", "Agency", NULL, "200,400,404,409", &SHAPE_AGENCY_PATCH)},
    {"GET", "/api/v1/users", h_users_list, BODY_NONE, 0, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Users in the caller's division (division, role, unit, disabled, q, limit, cursor)",
     O("listUsers", "UserList",
       Q(&P_ADMIN_DIVISION, &P_USERS_ROLE, &P_USERS_UNIT, &P_USERS_DISABLED, &P_USERS_Q, &P_LIMIT,
         &P_USERS_CURSOR),
       "200,400", NULL)},
    {"POST", "/api/v1/users", h_users_create, BODY_JSON, 4 * KB, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Create a user (no role above the caller's; only admins make admins)",
     O("createUser", "UserAccount", NULL, "201,400,403,404,409", &SHAPE_USER)},
    {"PATCH", "/api/v1/users/{id}", h_users_patch, BODY_JSON, 4 * KB, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Change a user's role, division, unit, station or disabled (disabling signs it out)",
     O("changeUser", "UserAccount", NULL, "200,400,403,404,409", &SHAPE_USER_PATCH)},
    {"POST", "/api/v1/users/{id}/reset-code", h_users_reset_code, BODY_NONE, 0,
     ROLE_SUPERVISOR | ROLE_ADMIN,
     "A one-time password reset code for the user (shown once, valid 15 minutes)",
     O("createResetCode", "ResetCode", NULL, "201,403,404", NULL)},

    /* figures (service/stats/) */
    {"GET", "/api/v1/stats", h_stats, BODY_NONE, 0, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Figures of a division and period: reports by status and outcome, people, times to "
     "acknowledge, dispatch, on scene and resolve (median, p90), escalations, patrols, coverage; "
     "in total and by tier, county, town, station, category, month, week or day",
     O("getStats", "Stats", Q(&P_STATS_DIVISION, &P_FROM, &P_TO, &P_BY, &P_MIN_REPORTS),
       "200,400,404,503", NULL)},
    {"GET", "/api/v1/stats/monthly.xlsx", h_stats_monthly, BODY_NONE, 0,
     ROLE_SUPERVISOR | ROLE_ADMIN, "The monthly report of a division in Chinese (Excel)",
     O("getMonthlyReport", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
       Q(&P_STATS_DIVISION, &P_MONTH), "200,400,404,503", NULL)},
    {"GET", "/api/v1/stats/coverage.geojson", h_stats_coverage_map, BODY_NONE, 0,
     ROLE_SUPERVISOR | ROLE_ADMIN,
     "The communities of a division with their last patrolled time and whether a patrol visited "
     "them in the period (GeoJSON, WGS-84, simplified boundaries)",
     O("getCoverageMap", "application/geo+json:CoverageFeatureCollection",
       Q(&P_STATS_DIVISION, &P_FROM, &P_TO), "200,400,404,503", NULL)},
    {"GET", "/api/v1/analysis/siting", h_siting, BODY_NONE, 0, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Station siting: the share of past reports (by people) within a radius of a candidate site "
     "and of the current stations; k proposes new sites (maximal covering)",
     O("getSiting", "Siting",
       Q(&P_STATS_DIVISION, &P_FROM, &P_TO, &P_CANDIDATE, &P_RADIUS, &P_K, &P_GRID, &P_STATION_TIER,
         &P_CRS),
       "200,400,404,503", NULL)},

    /* live events */
    {"POST", "/api/v1/events/token", h_events_token, BODY_NONE, 0, ROLE_ANY,
     "A short-lived token for ?access_token= of the event stream",
     O("createStreamToken", "StreamToken", NULL, "200", NULL)},
    {"GET", "/api/v1/events", h_events_stream, BODY_NONE, 0, 0,
     "Live report and unit events (text/event-stream; Bearer or ?access_token=; Last-Event-ID or ?after=)",
     O("streamEvents", "text/event-stream", Q(&P_ACCESS_TOKEN, &P_AFTER, &P_LAST_EVENT_ID),
       "200,400,401,429,503", NULL)},

    /* map (tiles.c) */
    {"GET", "/tiles/{layer}/{z}/{x}/{y}.mvt", h_tiles, BODY_NONE, 0, 0,
     "Vector tile (MVT) of divisions, stations, coverage, reports or units (signed in); ?crs=gcj02",
     O("getTile", "application/vnd.mapbox-vector-tile", Q(&P_TILE_CRS), "200,204,400,401", NULL)},

    /* open311 */
    {"GET", "/open311/v2/discovery.json", h_o311_discovery, BODY_NONE, 0, 0,
     "Open311 service discovery (JSON)",
     O("open311DiscoveryJson", "O311Discovery", NULL, "200", NULL)},
    {"GET", "/open311/v2/discovery.xml", h_o311_discovery, BODY_NONE, 0, 0,
     "Open311 service discovery (XML)", O("open311DiscoveryXml", "text/xml", NULL, "200", NULL)},
    {"GET", "/open311/v2/services.json", h_o311_services, BODY_NONE, 0, 0,
     "Open311 service list (JSON)", O("open311ServicesJson", "O311ServiceList", NULL, "200", NULL)},
    {"GET", "/open311/v2/services.xml", h_o311_services, BODY_NONE, 0, 0,
     "Open311 service list (XML)", O("open311ServicesXml", "text/xml", NULL, "200", NULL)},
    {"GET", "/open311/v2/services/{code}.json", h_o311_service, BODY_NONE, 0, 0,
     "Open311 service definition (JSON)",
     O("open311ServiceJson", "O311ServiceDefinition", NULL, "200,404", NULL)},
    {"GET", "/open311/v2/services/{code}.xml", h_o311_service, BODY_NONE, 0, 0,
     "Open311 service definition (XML)", O("open311ServiceXml", "text/xml", NULL, "200,404", NULL)},
    {"POST", "/open311/v2/requests.json", h_o311_requests_post, BODY_FORM, 64 * KB, 0,
     "Open311 new service request (form, api_key) (JSON)",
     O("open311CreateRequestJson", "O311RequestCreated", Q(&P_API_KEY), "201,400,403,404",
       &SHAPE_O311_REQUEST)},
    {"POST", "/open311/v2/requests.xml", h_o311_requests_post, BODY_FORM, 64 * KB, 0,
     "Open311 new service request (form, api_key) (XML)",
     O("open311CreateRequestXml", "text/xml", Q(&P_API_KEY), "201,400,403,404",
       &SHAPE_O311_REQUEST)},
    {"GET", "/open311/v2/requests.json", h_o311_requests, BODY_NONE, 0, 0,
     "Open311 service requests (JSON)",
     O("open311ListRequestsJson", "O311RequestList", O311_LIST, "200,400", NULL)},
    {"GET", "/open311/v2/requests.xml", h_o311_requests, BODY_NONE, 0, 0,
     "Open311 service requests (XML)",
     O("open311ListRequestsXml", "text/xml", O311_LIST, "200,400", NULL)},
    {"GET", "/open311/v2/requests/{id}.json", h_o311_request, BODY_NONE, 0, 0,
     "Open311 one service request (JSON)",
     O("open311GetRequestJson", "O311RequestList", NULL, "200,404", NULL)},
    {"GET", "/open311/v2/requests/{id}.xml", h_o311_request, BODY_NONE, 0, 0,
     "Open311 one service request (XML)",
     O("open311GetRequestXml", "text/xml", NULL, "200,404", NULL)},
    {"GET", "/open311/v2/tokens/{token}.json", h_o311_token, BODY_NONE, 0, 0,
     "Open311 request id of a token (JSON)",
     O("open311GetTokenJson", "O311TokenList", NULL, "200,404", NULL)},
    {"GET", "/open311/v2/tokens/{token}.xml", h_o311_token, BODY_NONE, 0, 0,
     "Open311 request id of a token (XML)",
     O("open311GetTokenXml", "text/xml", NULL, "200,404", NULL)},
};
const size_t nroutes = sizeof routes / sizeof routes[0];

int route_needs_worker(const route *rt) {
    return !(rt->flags & ROUTE_NO_WORKER);
}
