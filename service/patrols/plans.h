/* plans.h - joint patrol plans (the API: plans.c) as the other patrol files read them. */
#ifndef PATROLD_PLANS_H
#define PATROLD_PLANS_H

#include <jansson.h>

#include "service/door/http.h"

/* Plan id as the API shows it into *out (locked when lock). Returns 1, 0 when there is no such
 * plan, -1 (w->err). */
int plans_json(worker *w, long long id, int lock, json_t **out);

/* Plan id into *out when r's user may see it (its division in the user's): 1; 0 after the 404
 * sent; -1 (r->w->err). */
int plans_visible(http_req *r, long long id, int lock, json_t **out);

#endif
