/* answer.h -- getAnalysisResult's answer for a finished study, written once
 * with the result instead of rebuilt on every read */
#ifndef MIAS_ANSWER_H
#define MIAS_ANSWER_H

#include <stddef.h>

#include <json-c/json.h>

#include "resp.h"
#include "store.h"

#define ANSWER_MSG_MAX	512	/* as struct req's rq_msg */

struct answer {
	enum rc		 a_rc;		/* RC_OK (DONE) or RC_FAILED */
	char		 a_msg[ANSWER_MSG_MAX];	/* the returnMessage */
	json_object	*a_data;	/* the "data" member */
};

/*
 * The answer to a study's results.db record res: its findings with the
 * doctors' feedback shown as each finding's credibility, and for a failed
 * study the errorCode and errorMessage.  0, or -1 for a record that does not
 * have the shape job_assemble() writes (a_data NULL then).
 */
int	answer_from_result(json_object *res, struct answer *);

/*
 * Write res as skey's results.db record and, in the same transaction, its
 * answer to answers.db: the text getAnalysisResult sends, built from res
 * exactly as a reader would parse it back.  A store_put result.
 */
int	answer_put_result(struct store_txn *, const void *skey, size_t sklen,
	    json_object *res);

/*
 * The stored answer of skey without parsing it: a_data prints the stored
 * JSON text as it is (jv_raw).  STORE_OK, STORE_NOTFOUND (no answer: an
 * unfinished study, or a result written before answers.db existed), or a
 * store error.
 */
int	answer_get(struct store_txn *, const void *skey, size_t sklen,
	    struct answer *);

void	answer_free(struct answer *);

#endif
