/* worker_stack.h - runs a fuzz step on a thread with the stack CivetWeb's Debian build gives its
 * workers (100 KiB), so recursion that input can drive deep crashes here as it would in serve. */
#ifndef PATROLD_FUZZ_WORKER_STACK_H
#define PATROLD_FUZZ_WORKER_STACK_H

#include <pthread.h>
#include <stdlib.h>

#define FUZZ_WORKER_STACK (100 * 1024)

/* Calls fn(arg) on a fresh thread with a worker's stack and waits for it; aborts if it cannot. */
static inline void fuzz_on_worker_stack(void *(*fn)(void *), void *arg) {
    pthread_attr_t at;
    pthread_t t;
    if (pthread_attr_init(&at) != 0 || pthread_attr_setstacksize(&at, FUZZ_WORKER_STACK) != 0 ||
        pthread_create(&t, &at, fn, arg) != 0 || pthread_join(t, NULL) != 0)
        abort();
    pthread_attr_destroy(&at);
}

#endif
