/* group.h - group commit: requests hand their writes to a writer thread, which writes every
 * request waiting at that moment in one transaction on its own connection, then answers each.
 *
 * A request fills a job (its items live in the caller's memory), calls group_submit and sleeps on
 * the job's own condition variable; it holds no pool slot meanwhile (the rule: no slot held while
 * waiting on others). The writer takes every job queued (up to max_items items, at least one job),
 * calls the queue's write function with them on its connection-only worker, and wakes each job once
 * write has returned: every answer comes after the commit that stored it. Nothing is gathered on
 * purpose: an idle writer starts at once with the one job there is; while it writes (a commit waits
 * for the WAL flush), the next requests queue up and become the next group.
 *
 * Threads: group_submit from any number of request threads; group_run on one or more background
 * threads per queue (services.c background[]): while one writer waits for its commit, the next
 * takes the requests that arrived meanwhile. A queue is a static object (GROUP_QUEUE_INIT). */
#ifndef PATROLD_GROUP_H
#define PATROLD_GROUP_H

#include <pthread.h>
#include <stdatomic.h>

#include "service/core/app.h"
#include "service/core/buf.h"

/* One request's share of a group. The caller sets weight (its number of items: a group stops
 * taking jobs at the queue's max_items) and whatever its write function reads; the writer sets
 * failed (with db_down, sqlstate, err: the worker's state of the failure, group_job_fail) when the
 * group's database work failed for this job: then nothing of the job was written. */
typedef struct group_job {
    int weight;
    int failed;
    int db_down;
    char sqlstate[6];
    char err[512];
    /* private to group.c */
    int done_;
    pthread_cond_t cv_;
    struct group_job *next_;
} group_job;

/* Writes jobs[0..n) (n >= 1) on w (the writer's connection-only worker: no transaction open) and
 * marks the jobs whose work failed (group_job_fail). Runs on the writer thread. */
typedef void (*group_write_fn)(worker *w, group_job **jobs, size_t n);

typedef struct group_queue {
    const char *name; /* the metrics label */
    group_write_fn write;
    int max_items; /* a group takes jobs while their weights stay within this (and one at least) */
    /* private to group.c */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job is queued */
    group_job *head, *tail;
    int closed; /* the writer has stopped: jobs are refused */
    atomic_ullong groups, jobs, items, busy_us;
    struct group_queue *next_registered;
    int registered;
} group_queue;

#define GROUP_QUEUE_INIT(NAME, WRITE, MAX)                                                         \
    {                                                                                              \
        .name = NAME, .write = WRITE, .max_items = MAX, .mu = PTHREAD_MUTEX_INITIALIZER,           \
        .cv = PTHREAD_COND_INITIALIZER                                                             \
    }

/* Queues job and waits until the writer has written it (job->failed says how that went). Only
 * while serving (the queue's writer runs from start to stop). Returns 0; -1 at once when the
 * writer has stopped (shutting down); -2 when the writer has not taken the job within wait_ms (it
 * is withdrawn). Nothing was written in either case. A job the writer has taken is waited for:
 * the writer's statements have a time limit. */
int group_submit(group_queue *q, group_job *job, int wait_ms);

/* The writer loop, on a background thread with a connection-only worker of its own (statement
 * timeout applies): writes groups until a->stopping and the queue is empty, then refuses new jobs
 * (group_submit -1) and returns. */
void group_run(group_queue *q, app *a);

/* Marks job failed with w's last failure (db_down, sqlstate, err). */
void group_job_fail(group_job *job, const worker *w);

/* Appends the Prometheus text of every queue that has run (groups, jobs and items written, time
 * spent writing) to b. */
void group_metrics(buf *b);

#endif
