/* retention.c -- mias-dispatcher: the sweep that removes studies ended longer ago than [retention] says */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "dispatcher.h"
#include "log.h"
#include "retention.h"
#include "store.h"
#include "webhook.h"

/*
 * The sweep runs on the main thread, between looks at the queue, and
 * never for long: at most SWEEP_STUDIES studies and SWEEP_RECORDS records
 * per call, each removal in transactions of at most RETENTION_BATCH
 * records (lib/retention.c).  With more to do it asks to be called again
 * at once, after the main loop has served its transfers.
 */
#define SWEEP_STUDIES	16
#define SWEEP_RECORDS	2048
#define SWEEP_EVERY_MS	60000	/* at least once a minute */
#define SWEEP_INDEX	128	/* messages per batch of the first walk */

/* The walk that indexes studies ended before this release (main thread
 * only): where it is, and whether it is complete. */
static char	sweep_cursor[WEBHOOK_ID_MAX];
static int	sweep_indexed;

/* "2026-12-07T20:00:00Z" */
static const char *
sweep_when(int64_t ms, char *buf, size_t len)
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* The audit entry of a removal: the namespace, then as target the
 * studyType and study (a push job's as push:ImageUid, as mias-admin
 * names it), and as outcome when it ended. */
static void
sweep_audit(struct disp *d, const struct retention_removed *rr)
{
	char	target[16 + sizeof(rr->rr_uid) + 8], outcome[64], when[32];

	snprintf(target, sizeof(target), "%d %s%s", rr->rr_type,
	    rr->rr_uid[0] == STUDY_PUSH_MARK[0] ? "push:" : "",
	    rr->rr_uid[0] == STUDY_PUSH_MARK[0] ? rr->rr_uid + 1 : rr->rr_uid);
	snprintf(outcome, sizeof(outcome), "removed, ended %s",
	    sweep_when(rr->rr_ended, when, sizeof(when)));
	if (audit_write(d->d_store, rr->rr_ns, "mias-dispatcher",
	    "retention", target, outcome) == -1)
		log_warn("retention: the audit record of a removal in "
		    "namespace %s was not written", rr->rr_ns);
}

int64_t
retention_sweep(struct disp *d)
{
	struct retention_item	 items[SWEEP_STUDIES];
	struct retention_removed rr;
	unsigned		 keep = d->d_dconf->dc_conf->c_retention_finished;
	int64_t			 now = store_now_ms(), before, next, wait;
	int64_t			 every;
	size_t			 n, i, budget = SWEEP_RECORDS, removed = 0;

	if (keep == 0)
		return SWEEP_EVERY_MS;		/* kept for ever */
	if (!sweep_indexed) {
		int rc = retention_index(d->d_store, sweep_cursor, SWEEP_INDEX);

		if (rc == 1) {
			sweep_indexed = 1;
			log_debug("retention: the callbacks of earlier releases "
			    "are indexed");
		} else if (rc < 0) {
			log_warnx("retention: cannot index ended studies: %s",
			    store_errmsg(d->d_store));
			return SWEEP_EVERY_MS;
		}
	}
	before = now - (int64_t)keep * 1000;
	/* a study that ends from now on is due keep from now: a sweep
	 * every keep (or minute) finds it at most that late */
	every = (int64_t)keep * 1000 < SWEEP_EVERY_MS ? (int64_t)keep * 1000 :
	    SWEEP_EVERY_MS;
	if (retention_due(d->d_store, before, items, SWEEP_STUDIES, &n,
	    &next) != STORE_OK) {
		log_warnx("retention: cannot read ended.db: %s",
		    store_errmsg(d->d_store));
		return SWEEP_EVERY_MS;
	}
	for (i = 0; i < n; i++) {
		if (retention_remove(d->d_store, &items[i], before, &budget,
		    &rr) != STORE_OK) {
			log_warnx("retention: cannot remove a study: %s",
			    store_errmsg(d->d_store));
			return SWEEP_EVERY_MS;
		}
		if (rr.rr_outcome == RETENTION_REMOVED) {
			sweep_audit(d, &rr);
			removed++;
		}
		if (rr.rr_outcome == RETENTION_MORE)
			break;
	}
	if (removed > 0)
		log_info("retention: %zu ended studies removed", removed);
	if (i < n || n == SWEEP_STUDIES || !sweep_indexed)
		return 0;			/* more is due */
	if (next == INT64_MAX)
		return every;
	wait = next + (int64_t)keep * 1000 - now;
	return wait < 0 ? 0 : wait < every ? wait : every;
}
