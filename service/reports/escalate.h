/* escalate.h - the escalation thread (escalate.c). */
#ifndef PATROLD_ESCALATE_H
#define PATROLD_ESCALATE_H

/* Background thread (services.c background[]): every cfg.escalate_interval_ms, moves overdue new
 * reports one tier up in one transaction with FOR UPDATE SKIP LOCKED (several instances may run).
 * Returns when a->stopping. arg is the app. */
void *escalate_thread(void *arg);

#endif
