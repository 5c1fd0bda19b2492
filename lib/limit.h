/* limit.h -- per-namespace and per-address limits: rates, failed logins, queued studies */
#ifndef MIAS_LIMIT_H
#define MIAS_LIMIT_H

#include <stdint.h>
#include <time.h>

struct store_txn;
struct windows;

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

/*
 * Failed authentications ([limits] auth_failures_per_minute) are counted
 * per client address and namespace, so that the failures of one tenant
 * behind a shared address (a hospital's NAT or proxy) never refuse
 * another's requests, while guessing one namespace's token stays slow.
 * ns is a namespace that exists in the store; requests that fail before
 * the namespace is looked up (no namespace or tokenId, a malformed name,
 * an overlong token) or that name one that does not exist pass NULL and
 * share one bucket per address, so that made-up names cannot fill the
 * table.  w may be NULL (nothing counted).
 */
/* The failures of (addr, ns) in the minute that holds now. */
long long	limit_authfail_count(struct windows *w, const char *addr,
		    const char *ns, time_t now);
/* One more failure of (addr, ns). */
void		limit_authfail_add(struct windows *w, const char *addr,
		    const char *ns, time_t now);

#endif /* MIAS_LIMIT_H */
