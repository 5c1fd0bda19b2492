/* job.h -- image jobs: one per image of a study run, and their outcomes */
#ifndef MIAS_JOB_H
#define MIAS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "record.h"
#include "study.h"

struct store_txn;
struct crypto_keys;


/* A record's state (JOB__MAX: none, or not a state). */
enum job_state	 job_state_of(json_object *rec);

/*
 * Job keys are "study key NUL run NUL object key", so a study run's jobs
 * are one key range; the id (hex of a hash of the key) is what engines
 * see as ImageUid and in the result URL.  Ids are the same if a listing
 * is repeated after a crash, so repeating it creates nothing twice.
 */
size_t	job_prefix(char *out, const char *skey, size_t sklen, int64_t run);
size_t	job_key(char *out, const char *skey, size_t sklen, int64_t run,
	    const char *objkey);
void	job_id(const char *jkey, size_t jklen, char out[JOB_ID_LEN + 1]);

/* The sig of the result URL: HMAC of the id under the key file. */
void	job_sig(const struct crypto_keys *, const char *id,
	    char out[JOB_SIG_LEN + 1]);
int	job_sig_ok(const struct crypto_keys *, const char *id,
	    const char *sig);

/* Create the job of one object of a listing, with its index entry and a
 * QK_IMAGE item due at due (study_due) queued under the engine slot slot
 * (lib/conf.h; 0: the studyType's), unless it exists.  *created says
 * which. */
int	job_create(struct store_txn *, const char *skey, size_t sklen,
	    int64_t run, const char *objkey, uint64_t size, int64_t now,
	    int64_t due, int slot, int *created);

/* Find a job by id: its key (malloc'd) and record (job_rec_free). */
int	job_lookup(struct store_txn *, const char *id, char **jkey,
	    size_t *jklen, struct job_rec *rec, int rmw);

/* The study a job belongs to (key into skey, STUDY_KEY_MAX) and run. */
size_t	job_study(const struct job_rec *, char *skey, int64_t *run);

/* A remote engine accepted the job: SENT, awaited until deadline. */
int	job_sent(struct store_txn *, const char *jkey, size_t jklen,
	    struct job_rec *, int study_type, int64_t deadline);

/* A trigger failed and is tried again: one more attempt, msg its
 * lastError.  The caller moves the queue item. */
int	job_retry(struct store_txn *, const char *jkey, size_t jklen,
	    struct job_rec *, const char *msg);

/*
 * The job's outcome: findings (consumed; NULL when failed) or an error
 * code and message.  Idempotent: a job already DONE or FAILED is left as
 * it is (*changed 0).  Counts the image in its study, stops waiting for
 * it, and queues the study's assembly when it was the last one.
 */
int	job_finish(struct store_txn *, const char *jkey, size_t jklen,
	    struct job_rec *, json_object *findings, const char *code,
	    const char *msg, int64_t now, int *changed);

/* Every image of the run is DONE or FAILED: gather their findings into
 * the study's result and conclude it (study_conclude). */
int	job_assemble(struct store_txn *, const char *skey, size_t sklen,
	    int64_t run, int64_t now);

#endif /* MIAS_JOB_H */
