/* bench_gazetteer.c - builds the gazetteer from a division CSV (gzip or plain: code,name,level,
 * parent_code) in process and prints build time, index memory and per-query latency of a fixed
 * mix (1-, 2-, 3-character, pinyin, code prefix). Usage: bench_gazetteer FILE [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "gis/gazetteer.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A "VmRSS:" or "VmHWM:" figure of this process in KiB. */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0) kb = strtol(line + strlen(field), NULL, 10);
    if (f) fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *const mix[] = {
    "村",     "镇",      "新",  "海",    "朝阳", "新浦", "东风",   "社区",   "新浦街",   "朝阳社",
    "人民路", "haizhou", "hzq", "xinpu", "cy",   "3207", "320706", "110101", "朝阳社区", "开发区"};

/* Latency of the mix with opt, rounds times each query: p50 and p99 as
 * gazetteer_search_<name>p50_ms; each query's hits and first hit when `show`. */
static void latency(const gaz *g, int rounds, const char *name, const gaz_query *opt, int show) {
    size_t nq = sizeof mix / sizeof mix[0];
    double *lat = malloc(sizeof(double) * (size_t)rounds * nq);
    gaz_hit hits[50];
    char err[256];
    if (!lat) return;
    for (size_t q = 0; q < nq; q++) {
        double worst = 0, first = 0;
        int got = 0;
        for (int r = 0; r < rounds; r++) {
            if (r == 1) first = worst, worst = 0;
            double a = now_ms();
            got = gaz_search(g, mix[q], opt, hits, err, sizeof err);
            double d = now_ms() - a;
            lat[q * (size_t)rounds + (size_t)r] = d;
            worst = d > worst ? d : worst;
        }
        if (show)
            printf("  %s%-10s %3d hits, first %s %s, first call %.3f ms, then max %.3f ms\n", name,
                   mix[q], got, got > 0 ? gaz_text(g, gaz_entry_at(g, hits[0].entry)->name) : "-",
                   got > 0 ? gaz_entry_at(g, hits[0].entry)->code : "", first, worst);
    }
    qsort(lat, (size_t)rounds * nq, sizeof *lat, cmp_double);
    printf("gazetteer_search_%sp50_ms %.4f\ngazetteer_search_%sp99_ms %.4f\n", name,
           lat[(size_t)rounds * nq / 2], name, lat[(size_t)rounds * nq * 99 / 100]);
    free(lat);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gazetteer FILE [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    gzFile f = gzopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 1;
    long rss0 = status_kb("VmRSS:");
    double t0 = now_ms();
    gaz_builder *b = gaz_builder_create();
    char line[1024], err[256];
    long rows = 0;
    while (gzgets(f, line, sizeof line)) {
        line[strcspn(line, "\r\n")] = 0;
        char *code = strtok(line, ","), *name = strtok(NULL, ","), *level = strtok(NULL, ","),
             *parent = strtok(NULL, ",");
        if (!code || !name || !level || strcmp(code, "code") == 0) continue;
        if (gaz_builder_add(b, GAZ_DIVISION, code, 0, name, level, parent, NULL, 0.0 / 0.0,
                            0.0 / 0.0, NULL, NULL, NULL, err, sizeof err) == 0)
            rows++;
    }
    gzclose(f);
    double t1 = now_ms();
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    if (!g) return fprintf(stderr, "%s\n", err), 1;
    double t2 = now_ms();
    size_t n, nk, bytes;
    gaz_stats(g, &n, &nk, &bytes);
    printf(
        "gazetteer_rows %ld\ngazetteer_keys %zu\ngazetteer_read_ms %.0f\ngazetteer_build_ms "
        "%.0f\ngazetteer_index_mib %.1f\ngazetteer_rss_mib %.1f\ngazetteer_build_peak_mib %.1f\n",
        rows, nk, t1 - t0, t2 - t1, (double)bytes / 1048576.0,
        (double)(status_kb("VmRSS:") - rss0) / 1024.0,
        (double)(status_kb("VmHWM:") - rss0) / 1024.0);
    latency(g, rounds, "", &(gaz_query){NULL, 0, 0, 0, 10, NULL}, 1);
    /* the console's search: near the map centre, the caller's division (海州区) first */
    latency(g, rounds, "near_", &(gaz_query){NULL, 1, 119.22, 34.6, 10, NULL}, 0);
    latency(g, rounds, "home_near_", &(gaz_query){NULL, 1, 119.22, 34.6, 10, "320706"}, 1);
    latency(g, rounds, "home_", &(gaz_query){NULL, 0, 0, 0, 10, "320706"}, 0);
    gaz_destroy(g);
    return 0;
}
