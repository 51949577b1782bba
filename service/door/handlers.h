/* handlers.h - every route handler, by subsystem; the route table in routes.c names them. */
#ifndef PATROLD_HANDLERS_H
#define PATROLD_HANDLERS_H

#include "service/door/http.h"

/* Limits the route table's query specs (routes.c) and the handlers' buffers share. */
enum {
    PAGE_MAX = 500,      /* ?limit= of a paged list */
    CANDIDATES_MAX = 50, /* ?limit= of dispatch candidates */
    EXPORT_MAX = 100000, /* rows of one export (narrow the filters for more) */
};

/* ops.c */
int h_healthz(http_req *r);
int h_readyz(http_req *r);
int h_console(http_req *r);
int h_vocabulary(http_req *r);
int h_metrics(http_req *r);
int h_openapi(http_req *r); /* openapi.c */

/* login.c */
int h_auth_login(http_req *r);
int h_auth_logout(http_req *r);
int h_auth_me(http_req *r);
int h_auth_password(http_req *r);
int h_auth_reset(http_req *r);

/* places.c */
int h_places_search(http_req *r);
int h_places_reverse(http_req *r);

/* divisions.c */
int h_divisions_get(http_req *r);
int h_divisions_children(http_req *r);

/* reports.c */
int h_reports_create(http_req *r);
int h_reports_batch(http_req *r);
int h_reports_get(http_req *r);
int h_reports_event(http_req *r);
int h_reports_timeline(http_req *r);
/* photos.c */
int h_photos_upload(http_req *r);
int h_photos_list(http_req *r);
int h_photos_get(http_req *r);

/* audit.c */
int h_audit_list(http_req *r);

/* units.c */
int h_units_list(http_req *r);
int h_units_get(http_req *r);
int h_units_status(http_req *r);
int h_units_positions(http_req *r);
int h_reports_candidates(http_req *r);

/* admin/units_admin.c */
int h_units_create(http_req *r);
int h_units_patch(http_req *r);
int h_units_members(http_req *r);

/* admin/shifts.c */
int h_shifts_create(http_req *r);
int h_shifts_of_unit(http_req *r);
int h_shifts_patch(http_req *r);
int h_shifts_on(http_req *r);

/* patrols/plans.c */
int h_plans_create(http_req *r);
int h_plans_list(http_req *r);
int h_plans_get(http_req *r);
int h_plans_patch(http_req *r);

/* patrols/walked.c */
int h_plans_walked(http_req *r);
int h_patrol_ledger(http_req *r);
int h_campaigns_create(http_req *r);
int h_campaigns_list(http_req *r);
int h_campaigns_summary(http_req *r);

/* admin/stations.c */
int h_stations_list(http_req *r);
int h_stations_create(http_req *r);
int h_stations_get(http_req *r);
int h_stations_patch(http_req *r);

/* admin/agencies.c */
int h_agencies_list(http_req *r);
int h_agencies_create(http_req *r);
int h_agencies_patch(http_req *r);

/* admin/users.c */
int h_users_list(http_req *r);
int h_users_create(http_req *r);
int h_users_patch(http_req *r);
int h_users_reset_code(http_req *r);
/* track.c */
int h_units_track(http_req *r);

/* coverage.c */
int h_coverage(http_req *r);

/* events.c */
int h_events_stream(http_req *r);
int h_events_token(http_req *r);

/* reports_list.c */
int h_reports_list(http_req *r);
int h_reports_geojson(http_req *r);
int h_reports_csv(http_req *r);

/* tiles.c */
int h_tiles(http_req *r);

/* stats.c, monthly.c, coverage_figures.c, siting.c (service/stats/) */
int h_stats(http_req *r);
int h_stats_monthly(http_req *r);
int h_stats_coverage_map(http_req *r);
int h_siting(http_req *r);

/* open311.c */
int h_o311_discovery(http_req *r);
int h_o311_services(http_req *r);
int h_o311_service(http_req *r);
int h_o311_requests_post(http_req *r);
int h_o311_requests(http_req *r);
int h_o311_request(http_req *r);
int h_o311_token(http_req *r);

#endif
