/* limit.h -- per-namespace and per-address limits: rates, failed logins, queued studies */
#ifndef MIAS_LIMIT_H
#define MIAS_LIMIT_H

#include <stdint.h>
#include <time.h>

struct store_txn;

/*
 * Counters live in the store, so every responder process of every web
 * server sees the same ones.  A request reads its counters in the
 * transaction that authenticates it and is counted at its end, in the
 * transaction that writes its audit record (without forcing the log to
 * disk): requests in flight at the same moment in different processes
 * are not yet counted by each other, so a burst may pass a limit by as
 * many requests as there are processes.  Windows are the second (rates)
 * or minute (failed authentications) of now.  Store results.
 */
int	limit_rate_read(struct store_txn *, const char *ns,
	    const char *endpoint, time_t now, long long *count);
int	limit_rate_count(struct store_txn *, const char *ns,
	    const char *endpoint, time_t now);
int	limit_auth_read(struct store_txn *, const char *addr, time_t now,
	    long long *count);
int	limit_auth_count(struct store_txn *, const char *addr, time_t now);
/* Studies of ns QUEUED or RUNNING. */
int	limit_queued_read(struct store_txn *, const char *ns,
	    long long *count);

/* Studies of ns QUEUED or RUNNING, moved inside the transactions that
 * start and end runs. */
int	limit_active_add(struct store_txn *, const char *ns, int delta);

#endif /* MIAS_LIMIT_H */
