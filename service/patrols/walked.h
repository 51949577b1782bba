/* walked.h - what a joint patrol plan's units walked, from their fixes (walked.c: the route
 * GET /api/v1/patrol-plans/{id}/walked, its handler in handlers.h). Nothing else is exported. */
#ifndef PATROLD_WALKED_H
#define PATROLD_WALKED_H

#endif
