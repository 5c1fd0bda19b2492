/* limit.c -- per-namespace and per-address limits: rates, failed logins, queued studies */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limit.h"
#include "store.h"

/*
 * Keys of SDB_COUNTERS: "r" NUL ns NUL endpoint NUL window, "f" NUL
 * address NUL window (windows are seconds or minutes since the epoch, in
 * decimal), "a" NUL ns.  A window's counter deletes its predecessor, so
 * the database holds about one key per namespace and endpoint.
 */

static size_t
counter_key(char *out, size_t outlen, const char *kind, const char *a,
    const char *b, long long window)
{
	int n;

	if (b != NULL)
		n = snprintf(out, outlen, "%s%c%s%c%s%c%lld", kind, 0, a, 0, b, 0,
		    window);
	else if (window >= 0)
		n = snprintf(out, outlen, "%s%c%s%c%lld", kind, 0, a, 0, window);
	else
		n = snprintf(out, outlen, "%s%c%s", kind, 0, a);
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

struct window {
	const char	*kind, *a, *b;
	long long	 window;
	long long	 add;		/* 0: only read */
	long long	 count;		/* out: after adding */
};

static int
window_body(struct store_txn *t, void *arg)
{
	struct window	*w = arg;
	char		 key[512], old[512];
	size_t		 klen, olen;
	int		 rc;

	if ((klen = counter_key(key, sizeof(key), w->kind, w->a, w->b,
	    w->window)) == 0)
		return STORE_ERR;
	/* a check only reads: a shared lock, so that the requests of every
	 * responder process do not queue on one address's counter */
	w->count = counter_get(t, key, klen, w->add != 0 ? STORE_RMW :
	    STORE_DIRTY, &rc) + w->add;
	if (rc != STORE_OK || w->add == 0)
		return rc;
	if (w->count == w->add &&
	    (olen = counter_key(old, sizeof(old), w->kind, w->a, w->b,
	    w->window - 1)) != 0 &&
	    (rc = store_del(t, SDB_COUNTERS, old, olen)) != STORE_OK &&
	    rc != STORE_NOTFOUND)
		return rc;
	return counter_set(t, key, klen, w->count);
}

/* A window's count: read, or (add) increased by one. */
static int
window_run(struct store_txn *t, const char *kind, const char *a,
    const char *b, long long window, int add, long long *count)
{
	struct window w = { kind, a, b, window, add, 0 };
	int rc;

	rc = window_body(t, &w);
	if (count != NULL)
		*count = w.count;
	return rc;
}

int
limit_rate_read(struct store_txn *t, const char *ns, const char *endpoint,
    time_t now, long long *count)
{
	return window_run(t, "r", ns, endpoint, (long long)now, 0, count);
}

int
limit_rate_count(struct store_txn *t, const char *ns, const char *endpoint,
    time_t now)
{
	return window_run(t, "r", ns, endpoint, (long long)now, 1, NULL);
}

int
limit_auth_read(struct store_txn *t, const char *addr, time_t now,
    long long *count)
{
	return window_run(t, "f", addr ? addr : "-", NULL,
	    (long long)now / 60, 0, count);
}

int
limit_auth_count(struct store_txn *t, const char *addr, time_t now)
{
	return window_run(t, "f", addr ? addr : "-", NULL,
	    (long long)now / 60, 1, NULL);
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

	if ((klen = counter_key(key, sizeof(key), "a", a->ns, NULL, -1)) == 0)
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

	if ((klen = counter_key(key, sizeof(key), "a", ns, NULL, -1)) == 0)
		return STORE_ERR;
	n = counter_get(t, key, klen, 1, &rc);
	if (rc != STORE_OK)
		return rc;
	return counter_set(t, key, klen, n + delta);
}
