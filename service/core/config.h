/* config.h - settings: defaults, then the file, then PATROLD_* environment variables. */
#ifndef PATROLD_CONFIG_H
#define PATROLD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct config {
    char listen[64];     /* host:port CivetWeb listens on */
    int threads;         /* worker threads (each keep-alive connection or WebSocket holds one) */
    char database[512];  /* libpq conninfo; empty = the local cluster in state_dir */
    char state_dir[256]; /* local cluster and other state */
    char web_root[256];  /* dispatcher console static files */
    char migrations_dir[256]; /* numbered SQL migrations */
    char seed_dir[256];       /* Lianyungang demo data */
    int ack_community_s;      /* acknowledgement time limit per responsible tier, seconds */
    int ack_town_s;
    int ack_county_s;
    int ack_city_s;
    int escalate_interval_ms; /* how often the escalation worker looks for overdue reports */
    double dup_radius_m;      /* possible duplicates: same category within this distance... */
    int dup_window_s;         /* ...received within this many seconds */
    double snap_tolerance_m;  /* points this close outside every polygon snap to the nearest */
    int token_ttl_s;          /* bearer token lifetime */
    int json_body_limit;      /* default request body limit for JSON routes, bytes */
    int access_log;           /* 1: one line per request on stderr */
    int json_max_depth;  /* JSON bodies nested deeper than this are a 400, checked before parsing */
    int db_pool;         /* worker slots (PGconn, GEOS locator, PROJ) handlers borrow */
    int db_pool_wait_ms; /* longest wait for a free slot before 503 busy */
    int statement_timeout_ms;  /* per statement on pooled connections; 0 = none */
    int report_group_commit;   /* 1: reports of concurrent requests share a commit (group.h) */
    int connect_timeout_s;     /* libpq connect_timeout; 0 = none */
    int request_timeout_ms;    /* longest wait for a client's next bytes (each read and write) */
    int keep_alive_timeout_ms; /* idle keep-alive connections are closed after this */
    char cors_origins[512]; /* origins (space or comma separated) allowed cross-origin requests */
    int metrics_public;     /* 1: /metrics answers every address; 0: loopback only */

    /* sign-in guarding and sessions (login.c) */
    int login_max_failures;       /* failed sign-ins of one user name before backoff (0 = never) */
    int login_backoff_s;          /* first backoff, doubling per further failure... */
    int login_backoff_max_s;      /* ...up to this */
    int login_address_limit;      /* failed sign-ins per client address per minute (0 = no limit) */
    char trusted_proxies[256];    /* peers whose X-Forwarded-For / X-Real-IP are believed */
    int login_concurrency;        /* Argon2 computations at once */
    int login_wait_ms;            /* wait for an Argon2 slot before 503 busy */
    int session_retention_s;      /* expired/revoked sessions kept this long, then purged */
    int session_purge_interval_s; /* purge period (0 = never) */
    char basemap_url[512];        /* console base map: an http(s) XYZ tile URL template, or "" */
    int tile_cache_mb;            /* memory for cached static vector tiles, MiB; 0 disables */
    /* units, positions, live events (units.c, events.c) */
    int position_retention_days; /* day partitions of unit_positions older than this are dropped */
    double max_fix_speed_mps;    /* a fix implying a faster move is stored flagged, ignored */
    double dispatch_speed_mps;   /* candidates: eta_s = distance / this */
    int position_stale_s;        /* candidates: a position older than this is flagged stale */
    int events_poll_ms;          /* how often the one event reader polls the events table */
    int stream_keepalive_s;      /* comment line sent to idle event streams */
    int stream_max_clients;      /* event streams held at once (each holds a worker thread) */
    int stream_max_per_user;     /* event streams of one user on one instance (0 = no limit) */
    int app_photo_max_px;        /* the patrol app downscales photos to this longer side */
    double coverage_cell_m;      /* coverage grid cells, metres */
    int coverage_max_cells;      /* cells of one community's grid at most */
    int coverage_max_days;       /* longest coverage period, days */
    int coverage_max_fixes;      /* fixes one coverage request paints again (its partial day) */
    int coverage_max_mb;         /* memory of one coverage request's grids, MiB */
    int stats_max_reports;       /* figures: reports one request may read (estimated first) */
    int siting_max_reports;      /* siting: past reports one request may weigh */

    /* libpq conninfo for lag-tolerant reads (db_exec_read); empty = the `database` connection */
    char database_read_url[512];
    char timezone[64]; /* IANA zone of every timestamp in replies and every day/week/month (tz.h) */

    /* connection deadlines and memory (server.c, http.c) */
    int first_request_timeout_ms; /* a new connection's first request headers, in all */
    int body_timeout_ms;          /* a request body, in all, plus a second for every... */
    int body_min_rate;            /* ...this many bytes received */
    int keep_alive_free_pct;      /* fewer free worker threads than this %: no keep-alive */
    int malloc_arenas;            /* M_ARENA_MAX; 0 = one per core */

    /* unit tracks (track.c) and the life of personal data (retention.c) */
    int track_max_hours;              /* longest period one track request covers */
    int track_max_fixes;              /* most fixes one track request reads (400 beyond) */
    int personal_data_retention_days; /* closed reports lose person, photos, call-back (0 never) */
} config;

/* Fills *c with the defaults. */
void config_defaults(config *c);

/* Reads `key = value` lines from path (# comments); unknown keys and bad values are errors.
 * Returns 0, or -1 with a message in err. */
int config_load_file(config *c, const char *path, char *err, size_t errlen);

/* Applies PATROLD_<KEY> environment variables over *c. Returns 0 or -1 with err. */
int config_load_env(config *c, char *err, size_t errlen);

/* The console's base map, resolved from basemap_url: a plain http(s) XYZ template ("xyz", tiles
 * in WGS-84 Web Mercator), "tianditu:<key>" (the official 天地图 WMTS, vector and its labels, the
 * key as tk) or "gcj02:<template>" (an XYZ template of GCJ-02 tiles such as AutoNavi's; the
 * console then asks our overlay tiles with ?crs=gcj02). A host whose first label is a subdomain
 * range ("t{0-7}.", "webrd0{1-4}.", OpenLayers' {a-c}) is allowed as "*." in the policy. */
enum { BASEMAP_LAYERS = 2, BASEMAP_URL_MAX = 640 };
typedef struct config_basemap {
    const char *kind;        /* "xyz", "tianditu" or "gcj02"; NULL when none is configured */
    const char *crs;         /* "wgs84" or "gcj02": the grid of the tiles */
    const char *attribution; /* what the map must show of the tiles' source; NULL: nothing set */
    int nlayers;             /* bottom first */
    char layers[BASEMAP_LAYERS][BASEMAP_URL_MAX];
    char origin[300]; /* the CSP source of the tiles: scheme, host (first label * or not), port */
} config_basemap;

/* Resolves c->basemap_url into *b. Returns 0 (b->kind NULL when the setting is empty), or -1 with
 * a message in err for a value that is not one of the three forms, or that holds spaces, quotes,
 * commas, semicolons or backslashes (it goes into a response header). */
int config_basemap_resolve(const config *c, config_basemap *b, char *err, size_t errlen);

/* Writes every setting with its current value, default and help text (a valid config file) to f. */
void config_print(const config *c, FILE *f);

#endif
