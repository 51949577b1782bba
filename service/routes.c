/* routes.c - THE route table: method, path, handler, body type and limit, roles. Read it to see the API. */
#include "service/routes.h"

#include "service/handlers.h"

#define KB 1024u
#define MB (1024u * 1024u)

const route routes[] = {
    /* operations */
    {"GET", "/healthz", h_healthz, BODY_NONE, 0, 0, "Process is alive"},
    {"GET", "/readyz", h_readyz, BODY_NONE, 0, 0, "Database reachable and spatial index loaded"},
    {"GET", "/metrics", h_metrics, BODY_NONE, 0, 0, "Prometheus metrics"},
    {"GET", "/api/v1/openapi.json", h_openapi, BODY_NONE, 0, 0, "This API as OpenAPI 3"},
    {"GET", "/api/v1/console", h_console, BODY_NONE, 0, 0,
     "Settings of the dispatcher console (basemap_url)"},

    /* authentication */
    {"POST", "/api/v1/auth/login", h_auth_login, BODY_JSON, 4 * KB, 0,
     "Sign in; returns a bearer token"},
    {"POST", "/api/v1/auth/logout", h_auth_logout, BODY_NONE, 0, ROLE_ANY, "Revoke the token used"},
    {"GET", "/api/v1/auth/me", h_auth_me, BODY_NONE, 0, ROLE_ANY, "The signed-in user"},
    {"POST", "/api/v1/auth/password", h_auth_password, BODY_JSON, 4 * KB, ROLE_ANY,
     "Change the password; revokes every session of the user (sign in again)"},

    /* places */
    {"GET", "/api/v1/places", h_places_search, BODY_NONE, 0, 0,
     "Find places and divisions by name, alias, any fragment, pinyin or code (q, limit, within, near, crs)"},
    {"GET", "/api/v1/places/reverse", h_places_reverse, BODY_NONE, 0, 0,
     "Divisions, zones, station and nearby places of a point"},
    {"GET", "/api/v1/divisions/{code}", h_divisions_get, BODY_NONE, 0, 0,
     "One division (geometry=geojson, simplify=metres, crs)"},
    {"GET", "/api/v1/divisions/{code}/children", h_divisions_children, BODY_NONE, 0, 0,
     "The divisions directly inside one (geometry=geojson, simplify=metres, crs)"},

    /* reports */
    {"POST", "/api/v1/reports", h_reports_create, BODY_JSON, 64 * KB, ROLE_ANY,
     "Submit a field report (idempotent by client_id)"},
    {"POST", "/api/v1/reports/batch", h_reports_batch, BODY_JSON, 8 * MB, ROLE_ANY,
     "Submit up to 500 queued field reports"},
    {"GET", "/api/v1/reports/{id}", h_reports_get, BODY_NONE, 0, ROLE_ANY, "One report (?crs=)"},
    {"POST", "/api/v1/reports/{id}/events", h_reports_event, BODY_JSON, 16 * KB, ROLE_ANY,
     "Change a report's state"},
    {"GET", "/api/v1/reports/{id}/timeline", h_reports_timeline, BODY_NONE, 0, ROLE_ANY,
     "Every state change of a report"},
    {"POST", "/api/v1/reports/{id}/photos", h_photos_upload, BODY_BINARY, 10 * MB, ROLE_ANY,
     "Add a JPEG or PNG photo (metadata stripped)"},
    {"GET", "/api/v1/reports/{id}/photos", h_photos_list, BODY_NONE, 0, ROLE_ANY,
     "The photos of a report"},
    {"GET", "/api/v1/reports/{id}/photos/{photo_id}", h_photos_get, BODY_NONE, 0, ROLE_ANY,
     "One photo's bytes"},
    {"GET", "/api/v1/reports", h_reports_list, BODY_NONE, 0, ROLE_ANY,
     "List reports in the user's division: status, division, category, since, bbox, crs, limit, cursor"},
    {"GET", "/api/v1/reports.geojson", h_reports_geojson, BODY_NONE, 0, ROLE_STAFF,
     "Reports as a GeoJSON FeatureCollection (WGS-84), same filters"},
    {"GET", "/api/v1/reports.csv", h_reports_csv, BODY_NONE, 0, ROLE_STAFF,
     "Reports as CSV (UTF-8, BOM), same filters"},
    {"GET", "/api/v1/audit", h_audit_list, BODY_NONE, 0, ROLE_SUPERVISOR | ROLE_ADMIN,
     "Personal-data reads (who, which reports, when): since, user, report, limit, cursor"},

    /* units */
    {"GET", "/api/v1/units", h_units_list, BODY_NONE, 0, ROLE_ANY,
     "Units in the user's division: status, division, limit, cursor, crs"},
    {"POST", "/api/v1/units", h_units_create, BODY_JSON, 4 * KB, ROLE_STAFF,
     "Create a unit of a station"},
    {"GET", "/api/v1/units/{id}", h_units_get, BODY_NONE, 0, ROLE_ANY,
     "One unit: station, status, members, last position and its age"},
    {"POST", "/api/v1/units/{id}/status", h_units_status, BODY_JSON, 1 * KB, ROLE_ANY,
     "Set a unit available, busy or off_duty"},
    {"POST", "/api/v1/units/{id}/positions", h_units_positions, BODY_JSON, 512 * KB, ROLE_ANY,
     "Up to 1,000 position fixes, any order; the newest becomes the unit's position"},
    {"GET", "/api/v1/reports/{id}/candidates", h_reports_candidates, BODY_NONE, 0, ROLE_STAFF,
     "Available units nearest to a report, with eta_s and stale positions flagged"},
    {"GET", "/api/v1/coverage", h_coverage, BODY_NONE, 0, ROLE_STAFF,
     "Patrol coverage per community: last patrolled, share within 100 m of a track (since, division)"},

    /* live events */
    {"POST", "/api/v1/events/token", h_events_token, BODY_NONE, 0, ROLE_ANY,
     "A short-lived token for ?access_token= of the event stream"},
    {"GET", "/api/v1/events", h_events_stream, BODY_NONE, 0, 0,
     "Live report and unit events (text/event-stream; Bearer or ?access_token=; Last-Event-ID or ?after=)"},

    /* map (tiles.c) */
    {"GET", "/tiles/{layer}/{z}/{x}/{y}.mvt", h_tiles, BODY_NONE, 0, 0,
     "Vector tile (MVT) of divisions, stations, coverage, reports or units (signed in); ?crs=gcj02"},

    /* open311 */
    {"GET", "/open311/v2/discovery.json", h_o311_discovery, BODY_NONE, 0, 0,
     "Open311 service discovery (JSON)"},
    {"GET", "/open311/v2/discovery.xml", h_o311_discovery, BODY_NONE, 0, 0,
     "Open311 service discovery (XML)"},
    {"GET", "/open311/v2/services.json", h_o311_services, BODY_NONE, 0, 0,
     "Open311 service list (JSON)"},
    {"GET", "/open311/v2/services.xml", h_o311_services, BODY_NONE, 0, 0,
     "Open311 service list (XML)"},
    {"GET", "/open311/v2/services/{code}.json", h_o311_service, BODY_NONE, 0, 0,
     "Open311 service definition (JSON)"},
    {"GET", "/open311/v2/services/{code}.xml", h_o311_service, BODY_NONE, 0, 0,
     "Open311 service definition (XML)"},
    {"POST", "/open311/v2/requests.json", h_o311_requests_post, BODY_FORM, 64 * KB, 0,
     "Open311 new service request (form, api_key) (JSON)"},
    {"POST", "/open311/v2/requests.xml", h_o311_requests_post, BODY_FORM, 64 * KB, 0,
     "Open311 new service request (form, api_key) (XML)"},
    {"GET", "/open311/v2/requests.json", h_o311_requests, BODY_NONE, 0, 0,
     "Open311 service requests (JSON)"},
    {"GET", "/open311/v2/requests.xml", h_o311_requests, BODY_NONE, 0, 0,
     "Open311 service requests (XML)"},
    {"GET", "/open311/v2/requests/{id}.json", h_o311_request, BODY_NONE, 0, 0,
     "Open311 one service request (JSON)"},
    {"GET", "/open311/v2/requests/{id}.xml", h_o311_request, BODY_NONE, 0, 0,
     "Open311 one service request (XML)"},
    {"GET", "/open311/v2/tokens/{token}.json", h_o311_token, BODY_NONE, 0, 0,
     "Open311 request id of a token (JSON)"},
    {"GET", "/open311/v2/tokens/{token}.xml", h_o311_token, BODY_NONE, 0, 0,
     "Open311 request id of a token (XML)"},
};
const size_t nroutes = sizeof routes / sizeof routes[0];

int route_needs_worker(const route *rt) {
    return rt->handler != h_healthz && rt->handler != h_metrics && rt->handler != h_openapi;
}
