/* campaigns.h - campaigns of joint patrols and their figures (campaigns.c: POST/GET
 * /api/v1/campaigns, GET /api/v1/campaigns/{id}/summary, handlers in handlers.h). Nothing else is
 * exported. */
#ifndef PATROLD_CAMPAIGNS_H
#define PATROLD_CAMPAIGNS_H

#endif
