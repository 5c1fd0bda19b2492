/* study.h -- study records, their keys and the work queue */
#ifndef MIAS_STUDY_H
#define MIAS_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "record.h"

struct store_txn;
struct crypto_keys;

/* OSS credentials of one study, sealed in its record while it runs. */
struct study_creds {
	char	*sc_ak;
	char	*sc_sk;
	char	*sc_sts;	/* NULL or "" for permanent keys */
};

/* What executeAnalysis hands over; strings are borrowed. */
struct study_submit {
	const char	*ss_ns;
	int		 ss_type;
	const char	*ss_uid;
	const char	*ss_callback;
	const char	*ss_endpoint;
	const char	*ss_bucket;
	const char	*ss_key;
	int		 ss_force;
	struct study_creds ss_creds;
	const char	*ss_image_uid;	/* push (triggerAnalysis): the caller's
					 * ImageUid; NULL for a study */
	const char	*ss_engine;	/* push: the name of the engine section
					 * that serves ss_analysis */
	const char	*ss_analysis;	/* push: the trigger's analysis */
};


enum study_outcome {
	STUDY_NEW,		/* first run queued */
	STUDY_RERUN,		/* a new run of a finished study queued */
	STUDY_UNCHANGED,	/* already queued/running/done: nothing done */
};

/*
 * The transaction body of executeAnalysis: create the study as QUEUED or
 * start a new run, with credentials sealed, and queue it for the
 * dispatcher.  Returns a store code; *outcome says what happened.
 */
/*
 * When the items that carry a study's run forward (its images, its
 * assembly, its callbacks) are due: the time the run was queued, so that
 * the queue, ordered by due time, finishes older studies first and new
 * items do not wait behind every listing still queued.  now for records
 * written before runs kept that time.
 */
int64_t	study_due(const struct study_rec *, int64_t now);

/* A study's record, read (rmw: to be written in the same transaction;
 * free with study_rec_free), and written back.  Store codes. */
int	study_get(struct store_txn *, const char *skey, size_t sklen,
	    struct study_rec *, int rmw);
int	study_put(struct store_txn *, const char *skey, size_t sklen,
	    struct study_rec *);

/* Queue the listing of the study's run (due at due).  A store code. */
int	study_queue_listing(struct store_txn *, const char *skey, size_t sklen,
	    int64_t run, int64_t due);

/* Queue the assembly of the study's run when it is listed and every
 * image has finished.  A store code. */
int	study_assembly_due(struct store_txn *, const char *skey, size_t sklen,
	    const struct study_rec *, int64_t now);

int	study_submit(struct store_txn *, const struct crypto_keys *,
	    const struct study_submit *, enum study_outcome *outcome);

/*
 * End a study run: store its result (data, consumed, is the API.md 3.
 * object), erase its sealed credentials, and queue the status callback
 * of API.md 2.  code NULL means success; otherwise the run failed with
 * that errorCode and msg.  A run already ended, or replaced by a newer
 * one, is left alone.
 */
int	study_conclude(struct store_txn *, const char *skey, size_t sklen,
	    int64_t run, json_object *data, const char *code, const char *msg,
	    int64_t now);

/*
 * The dispatcher's steps of a run: QUEUED -> RUNNING as its listing
 * begins (study, read in the same transaction, is changed and stored),
 * and the listing's end, total images (each has its job): the assembly
 * is queued when every image has finished meanwhile.  study_listed
 * leaves a run that ended or was replaced alone (STORE_OK), and answers
 * STORE_STALE for a run still QUEUED: its QUEUED -> RUNNING is not in the
 * store (dispatcher/assemble.c).
 */
int	study_start(struct store_txn *, const char *skey, size_t sklen,
	    struct study_rec *study, int64_t now);
int	study_listed(struct store_txn *, const char *skey, size_t sklen,
	    int64_t run, uint64_t total, int64_t now);

/*
 * cancelAnalysis: end the study's run as CANCELLED, with the status
 * callback (status -1, errorCode CANCELLED).  A store code (STORE_NOTFOUND:
 * no such study), or STUDY_CANCEL_FINAL (positive: the body aborts) when
 * the study is final already.
 */
#define STUDY_CANCEL_FINAL	1
int	study_cancel(struct store_txn *, const char *skey, size_t sklen,
	    int64_t now);

/*
 * The result callback of a push job (API.md 6.) as API.md 6. has engines
 * send it: the list under the engine's name, box items with the engine's
 * field names, each item with the imageKey of API.md 3. (spelt so in
 * every list).  study is the push job's record, data its result's API.md
 * 3. object (may be NULL), code NULL for success or the errorCode, msg
 * the errorMessage.  What the callback carries and what getAnalysisResult
 * ?imageUid= answers.  A new object, or NULL when out of memory.
 */
json_object	*study_push_body(json_object *study, json_object *data,
		    const char *code, const char *msg);

/* study_submit in a transaction of its own: what executeAnalysis and
 * triggerAnalysis run.  A store code. */
struct store;
int	study_submit_txn(struct store *, const struct crypto_keys *,
	    const struct study_submit *, enum study_outcome *outcome);

/* Unseal a study's credentials (dispatcher); free with study_creds_wipe. */
int	study_creds_open(const struct study_rec *, const struct crypto_keys *,
	    const char *key, size_t klen, struct study_creds *);
void	study_creds_wipe(struct study_creds *);

#endif /* MIAS_STUDY_H */
