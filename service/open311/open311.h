/* open311.h - what the HTTP core needs from Open311: every reply under /open311/, errors from the
 * core included (404, 405, 413, 415, 500, 503), is in the GeoReport v2 error format. */
#ifndef PATROLD_OPEN311_H
#define PATROLD_OPEN311_H

#include "service/door/http.h"

/* 1 when path is under /open311/, whose errors o311_send_error formats; 0 otherwise. */
int o311_path(const char *path);

/* Sends [{"code":status,"description":message}] (or <errors><error>... when the path ends in
 * ".xml"); message may be any bytes (bytes that are not UTF-8 become '?'); extra_headers
 * ("Name: v\r\n"...) may be NULL. Does not touch r->error_code. Returns status. */
int o311_send_error(http_req *r, int status, const char *message, const char *extra_headers);

/* `patrold apikey add NAME | revoke NAME | list`: Open311 keys (stored as SHA-256 hashes).
 * Returns the exit code. */
int cmd_apikey(app *a, int argc, char **argv);

#endif
