/* ledger.h - the weekly ledger of joint patrols (ledger.c: GET /api/v1/patrol-ledger, its handler
 * in handlers.h). Nothing else is exported. */
#ifndef PATROLD_LEDGER_H
#define PATROLD_LEDGER_H

#endif
