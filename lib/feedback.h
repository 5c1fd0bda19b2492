/* feedback.h -- doctors' verdicts on a study's findings, kept in its result (API.md 4.) */
#ifndef MIAS_FEEDBACK_H
#define MIAS_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct store;
struct store_txn;

/* Outcomes beyond store codes (positive: the body aborts). */
#define FEEDBACK_NOT_DONE	1	/* no finished result (or a new run) */
#define FEEDBACK_INVALID	2	/* msg says which item and why */

/*
 * Record the verdicts items (the request's data array, API.md 4.) on the
 * findings of the study skey, as given by namespace by from address from
 * (may be NULL) at now.  Every item is checked before any is applied:
 * each names a finding of the result (indexId, or boxUid for boxes),
 * once.  A later verdict replaces an earlier one, which is kept as
 * "replaced".  A store code (STORE_NOTFOUND: no such study) or one of the
 * above.
 */
int	feedback_record(struct store_txn *, const char *skey, size_t sklen,
	    json_object *items, const char *by, const char *from, int64_t now,
	    char *msg, size_t msglen);
/* The same in a transaction of its own. */
int	feedback_submit(struct store *, const char *skey, size_t sklen,
	    json_object *items, const char *by, const char *from, char *msg,
	    size_t msglen);

#endif /* MIAS_FEEDBACK_H */
