/* limit.h -- per-namespace and per-address limits: rates, failed logins, queued studies */
#ifndef MIAS_LIMIT_H
#define MIAS_LIMIT_H

#include <stdint.h>

struct store;
struct store_txn;

/*
 * Each check answers 0 (go on), 1 (over the limit: *retry_after says in
 * how many seconds to try again) or -1 (the store failed: go on, limits
 * are not worth refusing service for).  Counters live in the store, so
 * every responder process of every web server sees the same ones; they
 * are written without forcing the log to disk.
 */
int	limit_rate(struct store *, const char *ns, const char *endpoint,
	    unsigned per_second, int *retry_after);
int	limit_auth_blocked(struct store *, const char *addr,
	    unsigned per_minute, int *retry_after);
void	limit_auth_failed(struct store *, const char *addr);
int	limit_queued(struct store *, const char *ns, unsigned max,
	    int *retry_after);

/* Studies of ns QUEUED or RUNNING, moved inside the transactions that
 * start and end runs. */
int	limit_active_add(struct store_txn *, const char *ns, int delta);

#endif /* MIAS_LIMIT_H */
