/* tz.h - the deployment's time zone (setting `timezone`, an IANA name such as Asia/Shanghai): the
 * TimeZone of every database session (db.c), so every timestamp PostgreSQL writes (to_json of a
 * timestamptz) and every day, week and month it draws (::date, date_trunc) are the city's; and the
 * offset of every time the C code writes (tz_rfc3339). One zone per process, set before threads. */
#ifndef PATROLD_TZ_H
#define PATROLD_TZ_H

#include <stddef.h>
#include <time.h>

#define TZ_DEFAULT "Asia/Shanghai"
#define TZ_RFC3339_LEN 32 /* "2024-05-01T08:00:00+08:00" and its NUL, with room */

/* Makes `name` the process's zone (TZ and tzset, for localtime_r): a name of the tz database
 * (a TZif file under $TZDIR or /usr/share/zoneinfo: "Asia/Shanghai", "UTC"). Call once from main
 * before any thread starts. Returns 0, or -1 with a message in err (unknown or malformed name). */
int tz_setup(const char *name, char *err, size_t errlen);

/* The zone's name (TZ_DEFAULT until tz_setup). Borrowed; valid for the life of the process. */
const char *tz_name(void);

/* Writes t as RFC 3339 in the zone with its offset ("2024-05-01T08:00:00+08:00"; UTC gives
 * "+00:00", the form PostgreSQL's to_json gives too) into out[TZ_RFC3339_LEN]. */
void tz_rfc3339(time_t t, char *out);

#endif
