/* gis/err.h - the error-message helper of gis/ (every function that can fail takes err, errlen). */
#ifndef GIS_ERR_H
#define GIS_ERR_H

#include <stddef.h>

/* printf into err (errlen bytes, always terminated); a NULL err or 0 errlen is a no-op. */
void gis_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
