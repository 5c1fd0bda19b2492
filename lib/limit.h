/* limit.h -- per-namespace and per-address limits: rates, failed logins, queued studies */
#ifndef MIAS_LIMIT_H
#define MIAS_LIMIT_H

#include <stdint.h>

struct store_txn;

/*
 * Requests per second and failed authentications per minute are counted
 * in shared memory (window.h); the studies a namespace has QUEUED or
 * RUNNING are counted here, in the store, inside the transactions that
 * start and end runs, and read without waiting for writers.  Store results.
 */
/* Studies of ns QUEUED or RUNNING. */
int	limit_queued_read(struct store_txn *, const char *ns,
	    long long *count);

/* Studies of ns QUEUED or RUNNING, moved inside the transactions that
 * start and end runs. */
int	limit_active_add(struct store_txn *, const char *ns, int delta);

#endif /* MIAS_LIMIT_H */
