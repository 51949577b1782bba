/* fuzz_routes.c - libFuzzer driver for route_match (service/door/http.c): client paths against the real
 * route table and against arbitrary patterns.
 *
 * Input: byte 0 selects the mode and maxcaps; then either a path (matched against every pattern of
 * routes[]) or "pattern\0path". The scratch buffer is exactly strlen(path)+1 bytes (the documented
 * contract), on the heap so ASan sees one byte too many. Oracles: the return is -1 or 0..maxcaps;
 * every capture is non-empty, holds no '/', lies inside scratch; substituting the captures back
 * into the pattern gives the path again; a pattern without '{' matches exactly its own text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/door/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The path the pattern would match with these captures (segment-wise: a segment starting with
 * '{' is the capture up to the first '}' followed by the literal suffix), or NULL on overflow. */
static char *rebuild(const char *pattern, const char **caps, int ncaps, char *out, size_t cap) {
    size_t o = 0;
    int k = 0;
    const char *p = pattern;
    while (*p) {
        if (*p != '/') return NULL;
        if (o + 1 >= cap) return NULL;
        out[o++] = *p++;
        const char *pe = strchr(p, '/');
        if (!pe) pe = p + strlen(p);
        const char *lit = p;
        if (*p == '{') {
            const char *close = memchr(p, '}', (size_t)(pe - p));
            if (!close || k >= ncaps) return NULL;
            size_t n = strlen(caps[k]);
            if (o + n >= cap) return NULL;
            memcpy(out + o, caps[k++], n);
            o += n;
            lit = close + 1;
        }
        size_t n = (size_t)(pe - lit);
        if (o + n >= cap) return NULL;
        memcpy(out + o, lit, n);
        o += n;
        p = pe;
    }
    if (k != ncaps) return NULL;
    out[o] = 0;
    return out;
}

static void check(const char *pattern, const char *path, int maxcaps) {
    size_t plen = strlen(path);
    char *scratch = malloc(plen + 1);
    const char *caps[HTTP_MAX_PARAMS + 1];
    if (!scratch) return;
    int n = route_match(pattern, path, scratch, caps, maxcaps);
    if (n < -1 || n > maxcaps) abort();
    if (n >= 0) {
        for (int i = 0; i < n; i++) {
            if (caps[i] < scratch || caps[i] > scratch + plen) abort();
            size_t cl = strlen(caps[i]); /* ASan checks the terminator is inside scratch */
            if (cl == 0 || memchr(caps[i], '/', cl)) abort();
        }
        if (!strchr(pattern, '{') && strcmp(pattern, path) != 0) abort();
        char *re = malloc(plen + 2);
        if (!re) abort();
        if (!rebuild(pattern, caps, n, re, plen + 2) || strcmp(re, path) != 0) abort();
        free(re);
    } else if (!strchr(pattern, '{') && strcmp(pattern, path) == 0 && pattern[0] == '/') {
        abort(); /* a literal pattern must match its own text */
    }
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    int mode = data[0] & 1;
    int maxcaps = (data[0] >> 1) % (HTTP_MAX_PARAMS + 1);
    char *buf = malloc(size); /* data[1..] plus a terminator */
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    if (mode == 0) { /* a client path against the real table, full capture room as http.c uses */
        for (size_t i = 0; i < nroutes; i++)
            check(routes[i].pattern, buf, HTTP_MAX_PARAMS);
    } else { /* "pattern\0path": both arbitrary */
        size_t plen = strlen(buf);
        const char *path = plen + 1 < size - 1 ? buf + plen + 1 : "";
        check(buf, path, maxcaps);
    }
    free(buf);
    return 0;
}
