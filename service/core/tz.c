/* tz.c - the deployment's time zone: one name for the database sessions and the C formatter. */
#include "service/core/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char zone[64] = TZ_DEFAULT;

/* 1 when name looks like a tz database name: letters, digits, '_', '-', '+', '/' between parts;
 * no leading '/', no "." or ".." part (it names a file under the zoneinfo folder). */
static int well_formed(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof zone || name[0] == '/' || name[n - 1] == '/') return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '+' || *p == '/' || *p == '.'))
            return 0;
    return strstr(name, "..") == NULL && strstr(name, "//") == NULL && name[0] != '.' &&
           strstr(name, "/.") == NULL;
}

int tz_setup(const char *name, char *err, size_t errlen) {
    char path[512], magic[4];
    const char *dir = getenv("TZDIR");
    if (!well_formed(name)) {
        snprintf(err, errlen, "timezone: '%.80s' is not a time zone name such as Asia/Shanghai",
                 name);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (got != sizeof magic || memcmp(magic, "TZif", 4) != 0) {
        snprintf(err, errlen,
                 "timezone: '%s' is not in the time zone database (%s; Debian package tzdata)",
                 name, path);
        return -1;
    }
    snprintf(zone, sizeof zone, "%s", name);
    setenv("TZ", zone, 1);
    tzset();
    return 0;
}

const char *tz_name(void) {
    return zone;
}

void tz_rfc3339(time_t t, char *out) {
    struct tm tm;
    char off[8];
    localtime_r(&t, &tm);
    size_t n = strftime(out, TZ_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (strftime(off, sizeof off, "%z", &tm) != 5) snprintf(off, sizeof off, "+0000");
    snprintf(out + n, TZ_RFC3339_LEN - n, "%.3s:%.2s", off, off + 3);
}
