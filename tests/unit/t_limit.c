/* t_limit.c -- failed authentications counted per address and namespace */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limit.h"
#include "tap.h"
#include "window.h"

static char	dir[256];

#define T0	((time_t)1700000000)	/* 20 s into its minute */
#define NAT	"192.0.2.7"		/* one address, many tenants */

static void
fail_n(struct windows *w, const char *addr, const char *ns, int n)
{
	while (n-- > 0)
		limit_authfail_add(w, addr, ns, T0);
}

static void
test_buckets(void)
{
	struct windows	*w;
	char		 err[256] = "";

	tap_ok(windows_open(dir, &w, err, sizeof(err)) == 0, "open: %s",
	    err);
	if (w == NULL)
		return;

	/* 31 wrong tokens of namespace A from one address */
	fail_n(w, NAT, "hosp-a", 31);
	tap_ok(limit_authfail_count(w, NAT, "hosp-a", T0) == 31,
	    "A's failures are counted in A's bucket");
	tap_ok(limit_authfail_count(w, NAT, "hosp-b", T0) == 0,
	    "namespace B behind the same address has counted nothing");
	tap_ok(limit_authfail_count(w, NAT, NULL, T0) == 0,
	    "nor has the address's bucket of unknown namespaces");
	tap_ok(limit_authfail_count(w, "192.0.2.8", "hosp-a", T0) == 0,
	    "nor A from another address");
	tap_ok(limit_authfail_count(w, NAT, "hosp-a", T0 + 40) == 0,
	    "the next minute starts again");

	/* unknown namespaces: one bucket per address */
	fail_n(w, NAT, NULL, 5);
	tap_ok(limit_authfail_count(w, NAT, NULL, T0) == 5,
	    "failures naming unknown namespaces share one bucket");
	tap_ok(limit_authfail_count(w, NAT, "hosp-a", T0) == 31 &&
	    limit_authfail_count(w, NAT, "hosp-b", T0) == 0,
	    "and leave the namespaces' buckets alone");
	tap_ok(limit_authfail_count(w, NAT, "", T0) == 5,
	    "(the empty name, never a namespace's, is that bucket)");

	/* no table: nothing counted, nothing refused */
	limit_authfail_add(NULL, NAT, "hosp-a", T0);
	tap_ok(limit_authfail_count(NULL, NAT, "hosp-a", T0) == 0,
	    "without a table nothing is counted");
	windows_close(w);
}

/* The table stays bounded: a thousand made-up names take no slot of
 * their own, so they cannot push a namespace's count out of a table just
 * big enough (16 slots, one probe run). */
static void
test_bounded(void)
{
	struct windows	*w;
	char		 err[256] = "", sub[300];
	int		 i;

	snprintf(sub, sizeof(sub), "%s/small", dir);
	if (mkdir(sub, 0700) == -1) {
		tap_ok(0, "mkdir %s", sub);
		return;
	}
	tap_ok(windows_open_slots(sub, 16, &w, err, sizeof(err)) == 0,
	    "a 16-slot table: %s", err);
	if (w == NULL)
		return;
	fail_n(w, NAT, "hosp-a", 7);
	for (i = 0; i < 1000; i++)
		limit_authfail_add(w, NAT, NULL, T0);	/* made-up names */
	tap_ok(limit_authfail_count(w, NAT, "hosp-a", T0) == 7,
	    "A's count survives 1,000 failures naming unknown namespaces");
	tap_ok(limit_authfail_count(w, NAT, NULL, T0) == 1000,
	    "which all count in one bucket");
	windows_close(w);
}

int
main(void)
{
	if (tap_tmpdir(dir, sizeof(dir), "t_limit") == -1)
		return 1;
	test_buckets();
	test_bounded();
	tap_tmpdir_done(dir);
	return tap_done();
}
