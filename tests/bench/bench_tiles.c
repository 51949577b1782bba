/* bench_tiles.c - helper of bench_tiles.sh: `plan N` prints a fixed sample of up to N divisions tiles
 * per zoom 8..14 over Lianyungang (i z x y tolerance outline-tiers label-tiers, tab-separated), and
 * `pgbench Z` prints a pgbench script: a random tile of zoom Z over the same area, then the very
 * statement patrold runs for divisions tiles (its text[] parameters as literals). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/places/tiles.h"

#define W 118.6 /* the area sampled: Lianyungang's box */
#define E 119.9
#define S 34.0
#define N 35.1

static long tile_x(double lon, int z) {
    return (long)floor((lon + 180.0) / 360.0 * (double)(1L << z));
}

static long tile_y(double lat, int z) {
    double r = lat * M_PI / 180.0;
    return (long)floor((1.0 - asinh(tan(r)) / M_PI) / 2.0 * (double)(1L << z));
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "pgbench") == 0) {
        int z = atoi(argv[2]);
        const char *outline, *label, *sql = tiles_sql("divisions");
        tiles_tiers(z, &outline, &label);
        printf("\\set z %d\n\\set x random(%ld, %ld)\n\\set y random(%ld, %ld)\n", z, tile_x(W, z),
               tile_x(E, z), tile_y(N, z), tile_y(S, z));
        printf("\\set tol %.17g\n\\set dx 0\n\\set dy 0\n",
               40075016.685578488 / (double)(1L << z) / 4096.0);
        static const char *const vars[] = {":z", ":x", ":y", ":tol", ":dx", ":dy"};
        for (const char *p = sql; *p; p++) {
            if (*p == '$' && p[1] >= '1' && p[1] <= '8') {
                if (p[1] <= '6')
                    fputs(vars[p[1] - '1'], stdout);
                else
                    printf("'%s'", p[1] == '7' ? outline : label);
                p++;
            } else {
                putchar(*p);
            }
        }
        puts(";");
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "plan") != 0) {
        fprintf(stderr, "usage: bench_tiles plan N | pgbench Z\n");
        return 2;
    }
    long per = atol(argv[2]), i = 0;
    unsigned long long seed = 42;
    for (int z = 8; z <= 14; z++) {
        long x0 = tile_x(W, z), x1 = tile_x(E, z), y0 = tile_y(N, z), y1 = tile_y(S, z);
        long n = (x1 - x0 + 1) * (y1 - y0 + 1);
        const char *outline, *label;
        tiles_tiers(z, &outline, &label);
        for (long k = 0; k < per && k < n; k++) {
            long t = k;
            if (n > per) { /* a fixed pseudo-random sample (LCG) */
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                t = (long)((seed >> 33) % (unsigned long long)n);
            }
            long x = x0 + t % (x1 - x0 + 1), y = y0 + t / (x1 - x0 + 1);
            printf("%ld\t%d\t%ld\t%ld\t%.17g\t%s\t%s\n", i++, z, x, y,
                   40075016.685578488 / (double)(1L << z) / 4096.0, outline, label);
        }
    }
    return 0;
}
