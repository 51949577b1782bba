/* fuzz_places.c - libFuzzer driver for the place-name query path (gis/gazetteer.c): gaz_normalize
 * and gaz_search on raw client bytes against a small gazetteer built once.
 *
 * Input: byte 0 picks limit (1..GAZ_MAX_LIMIT), within and near; the rest is q (NUL-terminated
 * copy). Oracles besides the sanitizers: a query is refused (-1) exactly when it is not valid
 * UTF-8, empty once normalised or too long; hits are at most limit, distinct, in tier order. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gis/gazetteer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gaz *g;

static gaz *build(void) {
    static const char *const rows[][4] = {
        {"320700000000", "连云港市", "city", ""},
        {"320706000000", "海州区", "county", "320700000000"},
        {"320706010000", "新浦街道", "town", "320706000000"},
        {"320706010001", "朝阳社区居委会", "community", "320706010000"},
        {"320706011000", "银行镇", "town", "320706000000"},
        {"320771000000", "连云港经济技术开发区", "county", "320700000000"},
    };
    gaz_builder *b = gaz_builder_create();
    char err[128];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        gaz_builder_add(b, GAZ_DIVISION, rows[i][0], 0, rows[i][1], rows[i][2],
                        rows[i][3][0] ? rows[i][3] : NULL, NULL, 119.2 + 0.01 * (double)i, 34.6,
                        NULL, NULL, NULL, err, sizeof err);
    return gaz_builder_finish(b, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g && !(g = build())) abort();
    if (size < 1) return 0;
    char *q = malloc(size);
    memcpy(q, data + 1, size - 1);
    q[size - 1] = 0;
    gaz_query opt = {
        (data[0] & 0x40) ? "320706" : NULL, (data[0] & 0x80) != 0,           119.2, 34.6,
        1 + (data[0] & 0x3F) * 7,           (data[0] & 0x20) ? "3207" : NULL};
    gaz_hit hits[GAZ_MAX_LIMIT];
    char err[128], norm[2048];
    int n = gaz_search(g, q, &opt, hits, err, sizeof err);
    int nc = gaz_normalize(q, strlen(q), norm, sizeof norm);
    if ((n < 0) != (nc <= 0 || nc > GAZ_MAX_QUERY_CHARS || strlen(q) > GAZ_MAX_QUERY_BYTES))
        abort();
    if (n > opt.limit) abort();
    for (int i = 0; i < n; i++) {
        if (i && hits[i].tier < hits[i - 1].tier) abort();
        for (int j = 0; j < i; j++)
            if (hits[j].entry == hits[i].entry) abort();
    }
    free(q);
    return 0;
}
