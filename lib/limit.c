/* limit.c -- per-namespace and per-address limits: rates, failed logins, queued studies */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limit.h"
#include "store.h"
#include "window.h"

#define AUTHFAIL_KIND	"f"	/* windows' kind of the failure buckets */
#define AUTHFAIL_PERIOD	60	/* s: auth_failures_per_minute */

/*
 * Keys of SDB_COUNTERS: "a" NUL ns, the studies of ns QUEUED or RUNNING.
 * (Stores written before session 3 also hold "r" and "f" keys, the request
 * and failed-authentication windows that now live in limits.shm, window.c;
 * nothing reads them.)
 */

static size_t
counter_key(char *out, size_t outlen, const char *kind, const char *ns)
{
	int n = snprintf(out, outlen, "%s%c%s", kind, 0, ns);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

static long long
counter_get(struct store_txn *t, const char *key, size_t klen, int rmw,
    int *rc)
{
	char		*val = NULL;
	long long	 n = 0;

	*rc = store_get(t, SDB_COUNTERS, key, klen, &val, NULL, rmw);
	if (*rc == STORE_OK)
		n = strtoll(val, NULL, 10);
	else if (*rc == STORE_NOTFOUND)
		*rc = STORE_OK;
	free(val);
	return n;
}

static int
counter_set(struct store_txn *t, const char *key, size_t klen, long long n)
{
	char	buf[32];
	int	len = snprintf(buf, sizeof(buf), "%lld", n);

	if (n <= 0) {
		int rc = store_del(t, SDB_COUNTERS, key, klen);

		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	return store_put(t, SDB_COUNTERS, key, klen, buf, (size_t)len);
}

struct active {
	const char	*ns;
	long long	 count;
};

static int
active_body(struct store_txn *t, void *arg)
{
	struct active	*a = arg;
	char		 key[256];
	size_t		 klen;
	int		 rc;

	if ((klen = counter_key(key, sizeof(key), "a", a->ns)) == 0)
		return STORE_ERR;
	a->count = counter_get(t, key, klen, STORE_DIRTY, &rc);
	return rc;
}

int
limit_queued_read(struct store_txn *t, const char *ns, long long *count)
{
	struct active a = { ns, 0 };
	int rc;

	rc = active_body(t, &a);
	*count = a.count;
	return rc;
}

int
limit_active_add(struct store_txn *t, const char *ns, int delta)
{
	char	key[256];
	size_t	klen;
	int	rc;
	long long n;

	if ((klen = counter_key(key, sizeof(key), "a", ns)) == 0)
		return STORE_ERR;
	n = counter_get(t, key, klen, 1, &rc);
	if (rc != STORE_OK)
		return rc;
	return counter_set(t, key, klen, n + delta);
}

/* The bucket of unknown namespaces is the key (kind, addr, NULL), which
 * no namespace's key equals: a namespace name is never empty. */
long long
limit_authfail_count(struct windows *w, const char *addr, const char *ns,
    time_t now)
{
	if (w == NULL)
		return 0;
	return windows_count(w, AUTHFAIL_KIND, addr, ns, now, AUTHFAIL_PERIOD,
	    0);
}

void
limit_authfail_add(struct windows *w, const char *addr, const char *ns,
    time_t now)
{
	if (w != NULL)
		(void)windows_count(w, AUTHFAIL_KIND, addr, ns, now,
		    AUTHFAIL_PERIOD, 1);
}
