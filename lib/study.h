/* study.h -- study records, their keys and the work queue */
#ifndef MIAS_STUDY_H
#define MIAS_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct store_txn;
struct crypto_keys;

#define STUDY_UID_MAX	128
#define STUDY_KEY_MAX	(128 + 1 + 1 + 1 + STUDY_UID_MAX)

enum study_state {
	STUDY_QUEUED,
	STUDY_RUNNING,
	STUDY_DONE,
	STUDY_FAILED,
	STUDY__MAX
};

const char		*study_state_name(enum study_state);
enum study_state	 study_state_parse(const char *);

/* The record key: namespace NUL studyType-digit NUL studyInstanceUid.
 * Every record is keyed by namespace first, so a namespace's lookups can
 * never reach another's.  Returns the key length. */
size_t	study_key(char *out, const char *ns, int type, const char *uid);

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
int	study_submit(struct store_txn *, const struct crypto_keys *,
	    const struct study_submit *, enum study_outcome *outcome);

/* Unseal a study's credentials (dispatcher); free with study_creds_wipe. */
int	study_creds_open(json_object *rec, const struct crypto_keys *,
	    const char *key, size_t klen, struct study_creds *);
void	study_creds_wipe(struct study_creds *);

/* Queue keys: 8-byte big-endian due time in ms (so a cursor meets due
 * work first), the study key, NUL, the run number in decimal.  out holds
 * STUDY_QKEY_MAX bytes. */
#define STUDY_QKEY_MAX	(8 + STUDY_KEY_MAX + 1 + 21)
size_t	study_queue_key(unsigned char *out, int64_t due_ms, const char *key,
	    size_t klen, int64_t run);

#endif /* MIAS_STUDY_H */
