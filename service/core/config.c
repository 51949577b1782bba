/* config.c - one declarative table of settings; defaults applied in one place. */
#include "service/core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STR, T_INT, T_DBL } opt_type;

typedef struct {
    const char *key;
    opt_type type;
    size_t off, size;
    const char *def;
    const char *help;
} opt;

#define S(f) T_STR, offsetof(config, f), sizeof(((config *)0)->f)
#define I(f) T_INT, offsetof(config, f), sizeof(int)
#define D(f) T_DBL, offsetof(config, f), sizeof(double)

static const opt opts[] = {
    {"listen", S(listen), "127.0.0.1:8080", "address and port to serve HTTP on"},
    {"threads", I(threads), "512",
     "worker threads; each keep-alive connection or WebSocket holds one (cheap: no database)"},
    {"database", S(database), "",
     "libpq conninfo; empty means the local cluster under state_dir; several hosts "
     "(host=a,b port=p,q) get target_session_attrs=read-write: writes find the primary"},
    {"database_read_url", S(database_read_url), "",
     "libpq conninfo for reads that tolerate a little lag (tiles, lists, exports, coverage); "
     "several hosts get target_session_attrs=prefer-standby; empty means the `database` one"},
    {"state_dir", S(state_dir), "state", "folder for the local PostGIS cluster and other state"},
    {"web_root", S(web_root), "web", "dispatcher console static files"},
    {"migrations_dir", S(migrations_dir), "migrations", "numbered SQL migrations applied at start"},
    {"seed_dir", S(seed_dir), "migrations/seed", "Lianyungang demo data loaded by `patrold seed`"},
    {"ack_community_s", I(ack_community_s), "600",
     "seconds a community-tier station has to acknowledge"},
    {"ack_town_s", I(ack_town_s), "900", "seconds a town work station has to acknowledge"},
    {"ack_county_s", I(ack_county_s), "1200", "seconds a county station has to acknowledge"},
    {"ack_city_s", I(ack_city_s), "1800", "seconds the city station has to acknowledge"},
    {"escalate_interval_ms", I(escalate_interval_ms), "1000",
     "how often overdue reports are escalated"},
    {"dup_radius_m", D(dup_radius_m), "200", "possible duplicates: same category within metres"},
    {"dup_window_s", I(dup_window_s), "7200", "possible duplicates: received within seconds"},
    {"snap_tolerance_m", D(snap_tolerance_m), "500",
     "snap points outside every polygon within metres"},
    {"token_ttl_s", I(token_ttl_s), "43200", "bearer token lifetime in seconds"},
    {"login_max_failures", I(login_max_failures), "5",
     "failed sign-ins of one user name (known or not) before it must wait (0 = never)"},
    {"login_backoff_s", I(login_backoff_s), "2",
     "first wait in seconds after login_max_failures; doubles with each further failure"},
    {"login_backoff_max_s", I(login_backoff_max_s), "900", "longest wait for one user name"},
    {"login_address_limit", I(login_address_limit), "300",
     "failed sign-ins per client address per minute before 429 (0 = no limit)"},
    {"trusted_proxies", S(trusted_proxies), "",
     "comma-separated peer addresses whose X-Forwarded-For / X-Real-IP name the client"},
    {"login_concurrency", I(login_concurrency), "2",
     "password hashes (64 MiB each) computed at once; about one per core"},
    {"login_wait_ms", I(login_wait_ms), "2000",
     "how long a sign-in waits for a hashing slot before 503 busy"},
    {"session_retention_s", I(session_retention_s), "86400",
     "expired or revoked sessions are deleted this many seconds later"},
    {"session_purge_interval_s", I(session_purge_interval_s), "900",
     "how often old sessions and sign-in failures are purged (0 = never)"},
    {"json_body_limit", I(json_body_limit), "1048576",
     "default body limit of JSON routes in bytes"},
    {"access_log", I(access_log), "1", "1 writes one line per request to stderr"},
    {"json_max_depth", I(json_max_depth), "32",
     "JSON bodies nested deeper than this are a 400 (checked before parsing)"},
    {"db_pool", I(db_pool), "8",
     "slots (database connection, GEOS locator, PROJ) that requests borrow while they run"},
    {"db_pool_wait_ms", I(db_pool_wait_ms), "5000",
     "longest wait for a free slot before answering 503 busy"},
    {"statement_timeout_ms", I(statement_timeout_ms), "10000",
     "statement time limit on request connections (503 db_timeout); 0 means none"},
    {"report_group_commit", I(report_group_commit), "1",
     "1 writes the reports of requests that arrive together in one transaction (one WAL flush); "
     "0 one transaction per request"},
    {"connect_timeout_s", I(connect_timeout_s), "5",
     "database connect time limit in seconds; 0 means none"},
    {"request_timeout_ms", I(request_timeout_ms), "10000",
     "longest wait for a client's next bytes (each read and write); also the header deadline "
     "of a first request when first_request_timeout_ms is 0"},
    {"keep_alive_timeout_ms", I(keep_alive_timeout_ms), "5000",
     "idle keep-alive connections are closed after this many milliseconds"},
    {"cors_origins", S(cors_origins), "",
     "origins allowed cross-origin requests, e.g. \"https://a.example https://b.example\""},
    {"metrics_public", I(metrics_public), "0", "1 serves /metrics to every address, 0 to loopback"},
    {"basemap_url", S(basemap_url), "",
     "optional external raster tiles under our layers in the console: an XYZ template "
     "\"https://tiles.example.org/{z}/{x}/{y}.png\", \"tianditu:<key>\" (the official 天地图 with "
     "the city's key) or \"gcj02:<template>\" (GCJ-02 tiles such as AutoNavi's, our layers then "
     "drawn in GCJ-02); empty: our tiers and stations are the map"},
    {"tile_cache_mb", I(tile_cache_mb), "64",
     "memory for cached division, station and coverage tiles, MiB (0 disables)"},
    {"position_retention_days", I(position_retention_days), "90",
     "days of unit positions kept (older day partitions are dropped)"},
    {"max_fix_speed_mps", D(max_fix_speed_mps), "70",
     "a position fix implying a faster move is stored flagged and ignored"},
    {"dispatch_speed_mps", D(dispatch_speed_mps), "8.3",
     "dispatch candidates: travel speed for eta_s, metres per second"},
    {"position_stale_s", I(position_stale_s), "300",
     "dispatch candidates: positions older than this are flagged stale"},
    {"events_poll_ms", I(events_poll_ms), "50",
     "how often the event reader polls the events table"},
    {"stream_keepalive_s", I(stream_keepalive_s), "3",
     "keep-alive comment interval of event streams; a stream its client closed is freed at the"
     " second one (2-5 s: closed streams must not keep their places)"},
    {"stream_max_clients", I(stream_max_clients), "400",
     "event streams one instance holds at once; each holds a worker thread (keep below threads)"},
    {"stream_max_per_user", I(stream_max_per_user), "8",
     "event streams one user may hold on one instance (desks of a station share a sign-in); more"
     " get 429 too_many_streams (0 = no limit)"},
    {"stats_max_reports", I(stats_max_reports), "5000000",
     "figures and the monthly report: reports one request may read, estimated before it runs; "
     "more is a 400 over_budget (narrow the period or the division)"},
    {"siting_max_reports", I(siting_max_reports), "300000",
     "station siting: past reports one request may weigh (each held in memory), estimated first"},
    {"timezone", S(timezone), "Asia/Shanghai",
     "IANA time zone of every timestamp in replies (RFC 3339 with its offset) and of every day, "
     "week and month the product counts"},
    {"first_request_timeout_ms", I(first_request_timeout_ms), "3000",
     "a new connection's first request (its headers) must arrive within this many milliseconds "
     "(0: request_timeout_ms alone)"},
    {"body_timeout_ms", I(body_timeout_ms), "5000",
     "a request body must arrive within this many milliseconds, plus a second for every "
     "body_min_rate bytes received (one deadline for the body, not per read)"},
    {"body_min_rate", I(body_min_rate), "16384",
     "bytes a second a client must keep sending for its body to get more time than "
     "body_timeout_ms (0: no more time)"},
    {"keep_alive_free_pct", I(keep_alive_free_pct), "25",
     "while fewer than this percentage of the worker threads are free, replies close their "
     "connection (no keep-alive) so waiting clients get a thread"},
    {"malloc_arenas", I(malloc_arenas), "0",
     "malloc arenas the threads share (M_ARENA_MAX; each keeps the memory freed in it); "
     "0: one per core (glibc's own default is 8 per core)"},
    {"app_photo_max_px", I(app_photo_max_px), "1600",
     "the patrol app downscales a photo on the phone so its longer side is at most this many "
     "pixels before it is queued and sent"},
    {"coverage_cell_m", D(coverage_cell_m), "20",
     "patrol coverage: side of a community grid's cells in metres (a change repaints every day)"},
    {"coverage_max_cells", I(coverage_max_cells), "1048576",
     "patrol coverage: cells of one community's grid at most (a bigger one gets coarser cells)"},
    {"coverage_max_days", I(coverage_max_days), "92",
     "patrol coverage: the longest period one request may ask for, days"},
    {"coverage_max_fixes", I(coverage_max_fixes), "200000",
     "patrol coverage: fixes one request paints again for a `since` inside a day (more: that"
     " whole day counts)"},
    {"coverage_max_mb", I(coverage_max_mb), "64",
     "patrol coverage: memory one request may use for its communities' grids, MiB"},
    {"track_max_hours", I(track_max_hours), "24",
     "longest period one GET /api/v1/units/{id}/track covers (a day: a shift's replay); longer"
     " is a 400"},
    {"track_max_fixes", I(track_max_fixes), "30000",
     "most fixes one track reply holds (a day at one fix every 3 s, about 2 MB of GeoJSON held in"
     " memory while it is written); a period with more is a 400"},
    {"personal_data_retention_days", I(personal_data_retention_days), "180",
     "days after a report is closed (resolved, cancelled, duplicate) until its person fields,"
     " photos and Open311 call-back details are deleted (PIPL art. 19: kept no longer than"
     " needed); 180 days outlast the 60-day administrative review and 6-month litigation"
     " windows and a returning person's follow-up; 0 keeps them (your archive rules must say"
     " so)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static int set_opt(config *c, const opt *o, const char *val, char *err, size_t errlen) {
    char *p = (char *)c + o->off, *end;
    errno = 0;
    switch (o->type) {
    case T_STR:
        if (strlen(val) >= o->size) {
            snprintf(err, errlen, "%s: value longer than %zu bytes", o->key, o->size - 1);
            return -1;
        }
        memcpy(p, val, strlen(val) + 1);
        return 0;
    case T_INT: {
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < 0 || v > 1000000000) {
            snprintf(err, errlen, "%s: '%s' is not a whole number from 0 to 1000000000", o->key,
                     val);
            return -1;
        }
        *(int *)p = (int)v;
        return 0;
    }
    case T_DBL: {
        double v = strtod(val, &end);
        if (errno || end == val || *end || !(v >= 0)) {
            snprintf(err, errlen, "%s: '%s' is not a non-negative number", o->key, val);
            return -1;
        }
        *(double *)p = v;
        return 0;
    }
    }
    return -1;
}

void config_defaults(config *c) {
    char err[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        int rc = set_opt(c, &opts[i], opts[i].def, err, sizeof err);
        (void)rc;
    }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static const opt *find_opt(const char *key) {
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].key, key) == 0) return &opts[i];
    return NULL;
}

int config_load_file(config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    char line[1024], msg[256];
    int lineno = 0, rc = -1;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line), *eq;
        if (!*s || *s == '#') continue;
        if (!(eq = strchr(s, '='))) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            goto done;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        size_t n = strlen(val);
        if (n >= 2 && val[0] == '"' && val[n - 1] == '"') val[n - 1] = 0, val++;
        const opt *o = find_opt(key);
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
            goto done;
        }
        if (set_opt(c, o, val, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            goto done;
        }
    }
    rc = 0;
done:
    fclose(f);
    return rc;
}

int config_load_env(config *c, char *err, size_t errlen) {
    char name[64], msg[256];
    for (size_t i = 0; i < NOPTS; i++) {
        size_t k = (size_t)snprintf(name, sizeof name, "PATROLD_");
        for (const char *p = opts[i].key; *p && k < sizeof name - 1; p++)
            name[k++] = (char)toupper((unsigned char)*p);
        name[k] = 0;
        const char *v = getenv(name);
        if (v && set_opt(c, &opts[i], v, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "environment %s: %s", name, msg);
            return -1;
        }
    }
    return 0;
}

void config_print(const config *c, FILE *f) {
    fprintf(
        f,
        "# patrold configuration: every setting with its value (`patrold config` with no file\n"
        "# and no environment prints the defaults). PATROLD_<SETTING> variables override this file.\n"
        "# Read by `patrold --config FILE`; `make run` (scripts/run.sh) reads config/patrold.conf.\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const char *p = (const char *)c + opts[i].off;
        fprintf(f, "\n# %s (default %s)\n%s = ", opts[i].help, *opts[i].def ? opts[i].def : "empty",
                opts[i].key);
        if (opts[i].type == T_STR)
            fprintf(f, "\"%s\"\n", p);
        else if (opts[i].type == T_INT)
            fprintf(f, "%d\n", *(const int *)p);
        else
            fprintf(f, "%g\n", *(const double *)p);
    }
}

/* ---- the base map ---- */

/* The 天地图 WMTS (EPSG:3857 grid "w") of one layer as an XYZ template over its 8 hosts. */
#define TIANDITU_LAYER(L)                                                                          \
    "https://t{0-7}.tianditu.gov.cn/" L "_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"       \
    "&LAYER=" L "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"           \
    "&TILECOL={x}&tk=%s"

/* The CSP source of an http(s) template u into out: its scheme and host[:port], the first label
 * "*" when it holds a {range}. Returns 0, or -1 when u is no such URL. */
static int basemap_origin(const char *u, char *out, size_t outlen) {
    size_t scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
    size_t host = strcspn(u + scheme, "/?#");
    if (!scheme || !host) return -1;
    const char *h = u + scheme, *dot = memchr(h, '.', host);
    size_t brace = strcspn(h, "{");
    if (brace < host) { /* only the first label may vary, and something must follow it */
        if (!dot || brace > (size_t)(dot - h) || memchr(dot, '{', host - (size_t)(dot - h)))
            return -1;
        int k = snprintf(out, outlen, "%.*s*%.*s", (int)scheme, u, (int)(host - (size_t)(dot - h)),
                         dot);
        return k > 0 && (size_t)k < outlen ? 0 : -1;
    }
    int k = snprintf(out, outlen, "%.*s", (int)(scheme + host), u);
    return k > 0 && (size_t)k < outlen ? 0 : -1;
}

int config_basemap_resolve(const config *c, config_basemap *b, char *err, size_t errlen) {
    const char *u = c->basemap_url;
    memset(b, 0, sizeof *b);
    if (!*u) return 0;
    if (strcspn(u, " \t\r\n;,'\"\\") != strlen(u)) {
        snprintf(err, errlen,
                 "basemap_url must hold no spaces, quotes, commas, semicolons or "
                 "backslashes");
        return -1;
    }
    b->crs = "wgs84";
    if (strncmp(u, "tianditu:", 9) == 0) {
        const char *key = u + 9;
        size_t n = strlen(key);
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)key[i])) n = 0;
        if (n < 1 || n > 64) {
            snprintf(err, errlen,
                     "basemap_url tianditu:<key>: the key is 1 to 64 letters or "
                     "digits (the 天地图 token)");
            return -1;
        }
        b->kind = "tianditu", b->attribution = "天地图", b->nlayers = 2;
        snprintf(b->layers[0], BASEMAP_URL_MAX, TIANDITU_LAYER("vec"), key);
        snprintf(b->layers[1], BASEMAP_URL_MAX, TIANDITU_LAYER("cva"), key);
        snprintf(b->origin, sizeof b->origin, "https://*.tianditu.gov.cn");
        return 0;
    }
    b->kind = "xyz";
    if (strncmp(u, "gcj02:", 6) == 0) u += 6, b->kind = "gcj02", b->crs = "gcj02";
    b->nlayers = 1;
    if (basemap_origin(u, b->origin, sizeof b->origin) != 0 || strlen(u) >= BASEMAP_URL_MAX) {
        snprintf(err, errlen,
                 "basemap_url must be an http:// or https:// tile URL template (only "
                 "the host's first label may be a {range}), tianditu:<key> or "
                 "gcj02:<template>");
        memset(b, 0, sizeof *b);
        return -1;
    }
    snprintf(b->layers[0], BASEMAP_URL_MAX, "%s", u);
    return 0;
}
