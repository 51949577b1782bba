/* tests/bench/bench_gis.c - micro-benchmark of gis/index: build the county
 * tier from real GeoJSON boundaries, then time gis_locate on random points.
 *
 * usage: bench_gis [--lianyungang] [--points N] [PATH]
 *   default PATH: ../shared/data/china-counties.geojson.gz
 *   --lianyungang: default PATH ../shared/data/lianyungang-counties.geojson,
 *                  points drawn in Lianyungang's bounding box
 * Plain or gzip input (zlib reads both). A missing file is skipped with a
 * message and exit status 0. Coordinates are treated as GCJ-02 and converted
 * to WGS-84, as the importer does. Output: human lines on stderr, and
 * machine-readable "name value" lines on stdout, e.g.
 *   gis_china_locate_us_median 1.23
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../gis/coords.h"
#include "../../gis/index.h"

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        unsigned char *m;
        while (cap < b->len + n)
            cap *= 2;
        m = realloc(b->p, cap);
        if (m == NULL) {
            b->oom = 1;
            return;
        }
        b->p = m;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v) {
    unsigned char le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    put(b, le, 4);
}

static void put_f64(buf *b, double d) {
    uint64_t u;
    unsigned char le[8];
    int i;
    memcpy(&u, &d, 8);
    for (i = 0; i < 8; i++)
        le[i] = (unsigned char)(u >> (8 * i));
    put(b, le, 8);
}

/* GeoJSON polygon coordinates -> little-endian WKB Polygon (GCJ-02 ->
 * WGS-84). -1 with a reason when the coordinates are not arrays of number
 * pairs. */
static int polygon_wkb(json_t *rings, buf *b, const char **why) {
    size_t i, j;

    if (!json_is_array(rings) || json_array_size(rings) == 0) {
        *why = "polygon is not an array of rings";
        return -1;
    }
    put(b, "\x01", 1);
    put_u32(b, 3);
    put_u32(b, (uint32_t)json_array_size(rings));
    for (i = 0; i < json_array_size(rings); i++) {
        json_t *ring = json_array_get(rings, i);
        if (!json_is_array(ring)) {
            *why = "ring is not an array (undecoded string?)";
            return -1;
        }
        put_u32(b, (uint32_t)json_array_size(ring));
        for (j = 0; j < json_array_size(ring); j++) {
            json_t *pt = json_array_get(ring, j);
            double lon, lat, wlon, wlat;
            if (!json_is_array(pt) || json_array_size(pt) < 2 ||
                !json_is_number(json_array_get(pt, 0)) || !json_is_number(json_array_get(pt, 1))) {
                *why = "position is not a number pair";
                return -1;
            }
            lon = json_number_value(json_array_get(pt, 0));
            lat = json_number_value(json_array_get(pt, 1));
            if (gis_to_wgs84(GIS_CRS_GCJ02, lon, lat, &wlon, &wlat) != 0) {
                *why = "position out of range";
                return -1;
            }
            put_f64(b, wlon);
            put_f64(b, wlat);
        }
    }
    return 0;
}

static int feature_wkb(json_t *geom, buf *b, const char **why) {
    const char *type = json_string_value(json_object_get(geom, "type"));
    json_t *coords = json_object_get(geom, "coordinates");
    size_t i;

    if (type == NULL || coords == NULL) {
        *why = "no geometry";
        return -1;
    }
    if (!json_is_array(coords)) {
        *why = "coordinates are not an array (undecoded string)";
        return -1;
    }
    if (strcmp(type, "Polygon") == 0) return polygon_wkb(coords, b, why);
    if (strcmp(type, "MultiPolygon") != 0) {
        *why = "not a Polygon or MultiPolygon";
        return -1;
    }
    put(b, "\x01", 1);
    put_u32(b, 6);
    put_u32(b, (uint32_t)json_array_size(coords));
    for (i = 0; i < json_array_size(coords); i++)
        if (polygon_wkb(json_array_get(coords, i), b, why) != 0) return -1;
    return 0;
}

typedef struct {
    char code[13];
    char *name;
    unsigned char *wkb;
    size_t len;
} feature;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f == NULL) return -1.0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double heap_mb(void) {
    struct mallinfo2 mi = mallinfo2();
    return (double)(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double rnd01(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads the whole (possibly gzip) file; NULL if absent/unreadable. */
static char *slurp(const char *path, size_t *len) {
    gzFile z = gzopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, n = 0;

    if (z == NULL) return NULL;
    gzbuffer(z, 1 << 20);
    for (;;) {
        int got;
        if (cap - n < (1u << 24)) {
            char *m = realloc(data, cap + (1u << 26));
            if (m == NULL) {
                free(data);
                gzclose(z);
                return NULL;
            }
            data = m;
            cap += 1u << 26;
        }
        got = gzread(z, data + n, 1u << 24);
        if (got < 0) {
            free(data);
            gzclose(z);
            return NULL;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(z);
    *len = n;
    return data;
}

int main(int argc, char **argv) {
    int lyg = 0, i;
    long npoints = 200000;
    const char *path = NULL, *tag;
    char *text = NULL, err[512];
    size_t len = 0, nfeat = 0, nrej = 0, f;
    feature *feats = NULL;
    json_t *root;
    json_error_t jerr;
    double t0, t_load, t_build, rss0, rss1, rss2, heap0, heap1, heap2, rss_mid, heap_mid;
    double lon0, lon1, lat0, lat1;
    gis_builder *b;
    gis_index *ix;
    gis_slot *slot;
    gis_locator *loc;
    size_t nd, ns, nv, approx;
    double *lat_us, *pts;
    long inside = 0, k;
    double t_cold;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lianyungang") == 0)
            lyg = 1;
        else if (strcmp(argv[i], "--points") == 0 && i + 1 < argc)
            npoints = atol(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--lianyungang] [--points N] [PATH]\n", argv[0]);
            return 2;
        } else
            path = argv[i];
    }
    if (npoints < 100) npoints = 100;
    if (path == NULL)
        path = lyg ? "../shared/data/lianyungang-counties.geojson"
                   : "../shared/data/china-counties.geojson.gz";
    tag = lyg ? "gis_lyg" : "gis_china";
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "bench_gis: %s: %s; skipped (the data lives in ../shared/data)\n", path,
                strerror(errno));
        printf("%s_skipped 1\n", tag);
        return 0;
    }

    /* ---- load: read, parse, convert every feature to WKB (WGS-84) */
    t0 = now_s();
    text = slurp(path, &len);
    if (text == NULL) {
        fprintf(stderr, "bench_gis: cannot read %s\n", path);
        return 1;
    }
    root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (root == NULL) {
        fprintf(stderr, "bench_gis: %s:%d: %s\n", path, jerr.line, jerr.text);
        return 1;
    }
    {
        json_t *fs = json_object_get(root, "features");
        size_t n = json_array_size(fs);
        feats = calloc(n ? n : 1, sizeof *feats);
        for (f = 0; f < n; f++) {
            json_t *ft = json_array_get(fs, f);
            json_t *props = json_object_get(ft, "properties");
            const char *code = json_string_value(json_object_get(props, "code"));
            const char *name = json_string_value(json_object_get(props, "name"));
            const char *why = NULL;
            buf wb = {0};
            if (code == NULL || strlen(code) == 0 || strlen(code) > 12) {
                why = "no usable code";
            } else if (feature_wkb(json_object_get(ft, "geometry"), &wb, &why) == 0 && wb.oom) {
                why = "out of memory";
            }
            if (why != NULL) {
                if (nrej < 3)
                    fprintf(stderr, "  rejected feature %zu (%s): %s\n", f, code ? code : "?", why);
                nrej++;
                free(wb.p);
                continue;
            }
            snprintf(feats[nfeat].code, sizeof feats[nfeat].code, "%s", code);
            feats[nfeat].name = strdup(name ? name : "");
            feats[nfeat].wkb = wb.p;
            feats[nfeat].len = wb.len;
            nfeat++;
        }
    }
    json_decref(root);
    malloc_trim(0);
    t_load = now_s() - t0;

    /* ---- build */
    rss0 = rss_mb();
    heap0 = heap_mb();
    t0 = now_s();
    b = gis_builder_create(err, sizeof err);
    if (b == NULL) {
        fprintf(stderr, "bench_gis: %s\n", err);
        return 1;
    }
    for (f = 0; f < nfeat; f++) {
        if (gis_builder_add_division(b, feats[f].code, feats[f].name, GIS_COUNTY, 0, feats[f].wkb,
                                     feats[f].len, err, sizeof err) != 0) {
            if (getenv("BENCH_VERBOSE") || nrej < 6) fprintf(stderr, "  rejected: %s\n", err);
            nrej++;
        }
    }
    ix = gis_builder_finish(b, 500.0, err, sizeof err);
    t_build = now_s() - t0;
    if (ix == NULL) {
        fprintf(stderr, "bench_gis: finish: %s\n", err);
        return 1;
    }
    rss1 = rss_mb();
    heap1 = heap_mb();
    gis_index_stats(ix, &nd, &ns, &nv, &approx);
    for (f = 0; f < nfeat; f++) {
        free(feats[f].name);
        free(feats[f].wkb);
    }
    free(feats);
    malloc_trim(0);
    rss_mid = rss_mb();
    heap_mid = heap_mb();

    slot = gis_slot_create();
    gis_slot_publish(slot, ix);
    loc = gis_locator_create(slot);

    /* ---- points */
    if (lyg) {
        lon0 = 118.35;
        lon1 = 119.95;
        lat0 = 33.95;
        lat1 = 35.15;
    } else {
        lon0 = 73.5;
        lon1 = 135.1;
        lat0 = 18.1;
        lat1 = 53.6;
    }
    pts = malloc((size_t)npoints * 2 * sizeof *pts);
    lat_us = malloc((size_t)npoints * sizeof *lat_us);
    for (k = 0; k < npoints; k++) {
        pts[2 * k] = lon0 + rnd01() * (lon1 - lon0);
        pts[2 * k + 1] = lat0 + rnd01() * (lat1 - lat0);
    }
    /* Cold pass: prepares every touched polygon in this locator. */
    t0 = now_s();
    for (k = 0; k < npoints; k++) {
        gis_location o;
        if (gis_locate(loc, pts[2 * k], pts[2 * k + 1], &o, err, sizeof err) != 0) {
            fprintf(stderr, "bench_gis: locate: %s\n", err);
            return 1;
        }
        inside += o.tiers[GIS_COUNTY] != NULL;
    }
    t_cold = now_s() - t0;
    rss2 = rss_mb();
    heap2 = heap_mb();
    /* Warm pass, timed per point. */
    for (k = 0; k < npoints; k++) {
        gis_location o;
        double a = now_s();
        gis_locate(loc, pts[2 * k], pts[2 * k + 1], &o, err, sizeof err);
        lat_us[k] = (now_s() - a) * 1e6;
    }
    {
        double sum = 0.0;
        for (k = 0; k < npoints; k++)
            sum += lat_us[k];
        qsort(lat_us, (size_t)npoints, sizeof *lat_us, cmp_double);
        fprintf(stderr,
                "%s: %zu divisions (%zu rejected), %zu vertices; load %.2f s, build %.2f s, "
                "index RSS +%.1f MB (heap +%.1f MB, estimate %.1f MB), locator caches RSS +%.1f MB "
                "(heap +%.1f MB); %ld points, %.1f%% in a county; cold pass %.2f s; warm median "
                "%.2f us, p99 %.2f us, mean %.2f us\n",
                path, nd, nrej, nv, t_load, t_build, rss1 - rss0, heap1 - heap0,
                (double)approx / 1048576.0, rss2 - rss_mid, heap2 - heap_mid, npoints,
                100.0 * (double)inside / (double)npoints, t_cold, lat_us[npoints / 2],
                lat_us[(size_t)((double)npoints * 0.99)], sum / (double)npoints);
        printf("%s_divisions %zu\n", tag, nd);
        printf("%s_rejected %zu\n", tag, nrej);
        printf("%s_vertices %zu\n", tag, nv);
        printf("%s_load_s %.3f\n", tag, t_load);
        printf("%s_build_s %.3f\n", tag, t_build);
        printf("%s_index_rss_mb %.1f\n", tag, rss1 - rss0);
        printf("%s_index_heap_mb %.1f\n", tag, heap1 - heap0);
        printf("%s_locator_rss_mb %.1f\n", tag, rss2 - rss_mid);
        printf("%s_locator_heap_mb %.1f\n", tag, heap2 - heap_mid);
        printf("%s_points %ld\n", tag, npoints);
        printf("%s_inside_fraction %.4f\n", tag, (double)inside / (double)npoints);
        printf("%s_locate_cold_pass_s %.3f\n", tag, t_cold);
        printf("%s_locate_us_median %.3f\n", tag, lat_us[npoints / 2]);
        printf("%s_locate_us_p99 %.3f\n", tag, lat_us[(size_t)((double)npoints * 0.99)]);
        printf("%s_locate_us_mean %.3f\n", tag, sum / (double)npoints);
    }
    free(pts);
    free(lat_us);
    gis_locator_destroy(loc);
    gis_slot_destroy(slot);
    return 0;
}
