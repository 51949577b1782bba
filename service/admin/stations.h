/* stations.h - rescue stations as the administration enters them: THE rule of a valid station
 * (its division exists, its tier is its division's level, its location lies inside the division,
 * its coverage is a valid polygon or its division's boundary, its parent is a station of a higher
 * tier) and its one writer, shared by the API (stations.c) and `patrold import-stations`
 * (cmd/import_stations.c). Every write is a statement on `stations`, whose gis_changed trigger
 * makes every instance reload its spatial index. */
#ifndef PATROLD_STATIONS_H
#define PATROLD_STATIONS_H

#include <jansson.h>

#include "gis/coords.h"
#include "service/core/app.h"

/* A station to write. Strings are borrowed. */
typedef struct station_in {
    const char *code;    /* NULL: kept (a new station: 'S' || id) */
    const char *name;    /* 1 to 200 characters */
    const char *tier;    /* NULL: its division's level */
    char division[13];   /* 12 digits */
    double lon, lat;     /* WGS-84 */
    const char *address; /* NULL: none */
    const char *phone;   /* NULL: none */
    long long beds;      /* -1: not known */
    const char
        *coverage;       /* hex WKB of its own coverage (WGS-84 MultiPolygon), NULL: its division */
    int can_dispatch;    /* 0 or 1 */
    long long parent_id; /* 0: none; -1: a new station's default (the nearest station above whose
                           * division holds its division), kept by a change */
} station_in;

/* Why a station is refused: the answer an API gives, the reason an import prints. */
typedef struct station_error {
    int status;        /* 400, 404, 409 */
    const char *code;  /* error code (VOCAB_ERROR) */
    const char *field; /* the input at fault */
    char message[256];
} station_error;

/* Checks `in` against the database and writes it, in the caller's transaction: a new station
 * when id is 0, else station id when anything differs. *out_id gets the station, *changed 1 when
 * a row was written (0: station id already read so). Returns 0, 1 when refused (*e), or -1 on a
 * database failure (w->err). */
int stations_save(worker *w, long long id, const station_in *in, long long *out_id, int *changed,
                  station_error *e);

/* The fields of a checked station object (SHAPE_STATION: the API's body, an import's row) over
 * *in (a new station's defaults, or the current state): location converted from its crs,
 * coverage (in crs; null: its division) read and repaired by gis/geom.h into *cov (hex WKB, owned
 * by the caller, who frees it), parent_id null: none. Returns 0, or 1 refused (*e: a location or
 * a polygon that cannot be read, such as a ring that does not close). */
int stations_apply_json(json_t *obj, gis_crs crs, station_in *in, char **cov, station_error *e);

/* Station id as the API shows it, coordinates in crs, into *out (a new reference). Returns 1, 0
 * when there is no such station, -1 (w->err). */
int stations_json(worker *w, long long id, gis_crs crs, json_t **out);

/* The current state of station id as an input (for a change to start from), its strings held
 * by *hold (PQclear it after use). Locks the row. Returns 1, 0 when missing, -1 (w->err). */
int stations_load(worker *w, long long id, station_in *in, PGresult **hold);

/* The id of the station with `code`: 1 found, 0 not, -1 (w->err). */
int stations_by_code(worker *w, const char *code, long long *id);

#endif
