/* group.c - group commit (group.h): a queue of jobs under one mutex, one writer thread per queue,
 * one condition variable per job so that a commit wakes only the requests it answers. */
#include "service/core/group.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/core/db.h"

enum { GROUP_MAX_JOBS = 1024, GROUP_IDLE_POLL_MS = 200 };

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static group_queue *registry;

/* Takes job out of q's queue (under q->mu). Returns 1, or 0 when the writer has taken it. */
static int withdraw(group_queue *q, group_job *job) {
    for (group_job **pp = &q->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next_)
        if (*pp == job) {
            *pp = job->next_;
            if (q->tail == job) q->tail = prev;
            return 1;
        }
    return 0;
}

int group_submit(group_queue *q, group_job *job, int wait_ms) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cv_, &ca);
    pthread_condattr_destroy(&ca);
    job->done_ = 0, job->failed = 0, job->next_ = NULL;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&q->mu);
    int rc = q->closed ? -1 : 0;
    if (!rc) {
        if (q->tail)
            q->tail->next_ = job;
        else
            q->head = job;
        q->tail = job;
        pthread_cond_signal(&q->cv);
        while (!job->done_ && !rc)
            if (pthread_cond_timedwait(&job->cv_, &q->mu, &until) == ETIMEDOUT && withdraw(q, job))
                rc = -2; /* still queued: nothing of it written; a taken job is waited for */
    }
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&job->cv_);
    return rc;
}

void group_job_fail(group_job *job, const worker *w) {
    job->failed = 1;
    job->db_down = w->db_down;
    memcpy(job->sqlstate, w->sqlstate, sizeof job->sqlstate);
    snprintf(job->err, sizeof job->err, "%s", w->err);
}

/* Waits for jobs and takes a group of them into jobs[] (under q->mu). Returns how many; 0 when
 * the writer should stop (a->stopping and nothing queued: the queue is closed then). */
static size_t take_group(group_queue *q, app *a, group_job **jobs) {
    size_t n = 0;
    int items = 0;
    pthread_mutex_lock(&q->mu);
    while (!q->head && !a->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += GROUP_IDLE_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&q->cv, &q->mu, &until);
    }
    while (q->head && n < GROUP_MAX_JOBS && (n == 0 || items + q->head->weight <= q->max_items)) {
        group_job *j = q->head;
        if (!(q->head = j->next_)) q->tail = NULL;
        items += j->weight;
        jobs[n++] = j;
    }
    if (!n) q->closed = 1; /* stopping with nothing queued: later jobs are refused */
    pthread_mutex_unlock(&q->mu);
    return n;
}

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void group_run(group_queue *q, app *a) {
    group_job **jobs = malloc(GROUP_MAX_JOBS * sizeof *jobs); /* off the thread's stack */
    worker w = {.app = a};
    if (!jobs) { /* no writer: requests are refused (503) rather than left waiting */
        fprintf(stderr, "patrold: %s writer: out of memory\n", q->name);
        pthread_mutex_lock(&q->mu);
        q->closed = 1;
        pthread_mutex_unlock(&q->mu);
        return;
    }
    pthread_mutex_lock(&registry_mu);
    if (!q->registered) q->next_registered = registry, registry = q, q->registered = 1;
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_lock(&q->mu);
    q->closed = 0;
    pthread_mutex_unlock(&q->mu);
    size_t n;
    while ((n = take_group(q, a, jobs)) > 0) {
        long long t0 = now_us();
        unsigned long long items = 0;
        for (size_t i = 0; i < n; i++)
            items += (unsigned long long)jobs[i]->weight;
        q->write(&w, jobs, n);
        db_reset(&w); /* a transaction left open by a failure is rolled back */
        atomic_fetch_add(&q->groups, 1);
        atomic_fetch_add(&q->jobs, n);
        atomic_fetch_add(&q->items, items);
        atomic_fetch_add(&q->busy_us, (unsigned long long)(now_us() - t0));
        pthread_mutex_lock(&q->mu);
        for (size_t i = 0; i < n; i++) {
            jobs[i]->done_ = 1;
            pthread_cond_signal(&jobs[i]->cv_);
        }
        pthread_mutex_unlock(&q->mu);
    }
    db_disconnect(&w);
    free(jobs);
}

void group_metrics(buf *b) {
    buf_printf(b, "# HELP patrold_group_commits_total Group commits written, by queue.\n"
                  "# TYPE patrold_group_commits_total counter\n"
                  "# HELP patrold_group_jobs_total Requests written by group commits, by queue.\n"
                  "# TYPE patrold_group_jobs_total counter\n"
                  "# HELP patrold_group_items_total Items (reports) in those requests, by queue.\n"
                  "# TYPE patrold_group_items_total counter\n"
                  "# HELP patrold_group_busy_seconds_total Time the writer spent writing groups.\n"
                  "# TYPE patrold_group_busy_seconds_total counter\n");
    pthread_mutex_lock(&registry_mu);
    for (group_queue *q = registry; q; q = q->next_registered)
        buf_printf(b,
                   "patrold_group_commits_total{queue=\"%s\"} %llu\n"
                   "patrold_group_jobs_total{queue=\"%s\"} %llu\n"
                   "patrold_group_items_total{queue=\"%s\"} %llu\n"
                   "patrold_group_busy_seconds_total{queue=\"%s\"} %.6f\n",
                   q->name, atomic_load(&q->groups), q->name, atomic_load(&q->jobs), q->name,
                   atomic_load(&q->items), q->name, (double)atomic_load(&q->busy_us) / 1e6);
    pthread_mutex_unlock(&registry_mu);
}
