/* retention.h -- removing studies that ended longer ago than [retention] finished_studies */
#ifndef MIAS_RETENTION_H
#define MIAS_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "study.h"

struct store;
struct store_txn;

/*
 * A study (or push job) has ended when it is DONE or FAILED and every
 * callback it queued is DELIVERED or DEAD; it ended when the last of them
 * was delivered or dead-lettered.  The index of ended studies is
 * ended.db, keyed by that time (8 bytes big-endian, ms) and the study key,
 * written in the transaction that delivers or dead-letters the callback
 * (retention_ended), so the sweep reads only the studies ended before
 * now - retention, oldest first, never every study, and removes them
 * (retention_remove).  It is a database of its own rather than items of
 * the work queue: nothing that walks the queue for work meets it.  An entry
 * is a hint, checked again against the records when it comes due, so one
 * left behind (a study run again, a dead letter replayed) costs one look
 * and is dropped.
 */

/*
 * In the body that has just made message id (its record rec, as it will
 * be stored) DELIVERED or DEAD: when its study has now ended, index it.
 * A message whose study is gone, or not found, indexes nothing.  A store
 * code.
 */
int	retention_ended(struct store_txn *, const char *id, json_object *rec);

/*
 * Studies that ended before their callbacks indexed them (in a store of an
 * earlier release) are indexed by one walk over outbox.db, in batches of
 * max messages, each batch one transaction, from the message after cursor
 * ("" the first time; WEBHOOK_ID_MAX bytes, moved on by each batch).  1
 * when the walk is complete, and recorded in meta.db so that no later
 * start walks again; 0 when there is more; or a store code.
 */
#define RETENTION_INDEXED	"retention indexed"	/* meta.db key */
int	retention_index(struct store *, char *cursor, size_t max);

/* The ended.db key of a study that ended at ended (ms) into out, which
 * holds RETENTION_KEY_MAX bytes; its length. */
#define RETENTION_KEY_MAX	(8 + STUDY_KEY_MAX)
size_t	retention_key(unsigned char *out, int64_t ended, const char *skey,
	    size_t sklen);

/* One entry of ended.db read by retention_due. */
struct retention_item {
	unsigned char	ri_key[RETENTION_KEY_MAX];
	size_t		ri_klen;
	int64_t		ri_ended;
	char		ri_skey[STUDY_KEY_MAX];
	size_t		ri_sklen;
};

/*
 * Up to max entries of studies that ended at or before `before` (ms), oldest
 * first, into items (*n of them), in one short read transaction.  *next:
 * when the first later one ended, or INT64_MAX.  A store code.
 */
int	retention_due(struct store *, int64_t before,
	    struct retention_item *items, size_t max, size_t *n,
	    int64_t *next);

enum retention_outcome {
	RETENTION_REMOVED,	/* the study and its records are gone */
	RETENTION_MORE,		/* records left: call again */
	RETENTION_KEPT,		/* not ended (run again, a callback
				 * replayed) or gone: the entry is dropped */
	RETENTION_LATER,	/* ended after `before`: the entry moved */
	RETENTION__MAX
};

/* What was removed, for the audit trail. */
struct retention_removed {
	enum retention_outcome	rr_outcome;
	char			rr_ns[STUDY_KEY_MAX + 1];
	int			rr_type;
	char			rr_uid[STUDY_UID_MAX + 1];	/* a push job's
						 * starts with STUDY_PUSH_MARK */
	int64_t			rr_ended;
	size_t			rr_records;	/* deleted, in all */
};

/* Records deleted by one transaction of retention_remove. */
#define RETENTION_BATCH	256

/*
 * Remove the study of item if it ended at or before `before`: its image
 * jobs (with their index, waiting and timeout entries), in transactions of
 * at most RETENTION_BATCH records, then in one last transaction the study,
 * its result (which holds the feedback), its answer, its callbacks and
 * the entry.  Each transaction first checks that the study is still ended,
 * so a study run again meanwhile is kept.  At most *budget records are
 * deleted (*budget is lowered by those deleted); RETENTION_MORE when it
 * ran out first.  The queued-studies counter is not touched: an ended
 * study is not counted in it.  A store code; rr says what happened.
 */
int	retention_remove(struct store *, const struct retention_item *,
	    int64_t before, size_t *budget, struct retention_removed *rr);

#endif /* MIAS_RETENTION_H */
