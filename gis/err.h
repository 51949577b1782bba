/* gis/err.h - the error-message helper of gis/ (every function that can fail takes err, errlen),
 * and gis_sort. */
#ifndef GIS_ERR_H
#define GIS_ERR_H

#include <stddef.h>
#include <stdlib.h>

/* printf into err (errlen bytes, always terminated); a NULL err or 0 errlen is a no-op. */
void gis_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* qsort, also of nothing: qsort(NULL, 0, ...) is undefined (UBSan says so, and an empty city has
 * no communities, stations or spans). */
static inline void gis_sort(void *p, size_t n, size_t size,
                            int (*cmp)(const void *, const void *)) {
    if (n > 1) qsort(p, n, size, cmp);
}

#endif
