/* algorithmResult.c -- an engine posts one image's result (API.md 6.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "conf.h"
#include "fcgi.h"
#include "job.h"
#include "request.h"
#include "result.h"
#include "store.h"
#include "wake.h"

/*
 * The URL is the resultCallBackUrl the dispatcher gave the engine:
 * .../algorithmResult?job=<id>&sig=<hmac of the id>.  Only a pair we
 * issued is accepted, so nobody can post findings into someone else's
 * study; the job then says which study and type the body must fit.
 */

struct finish_arg {
	const char	*id;
	json_object	*findings;	/* consumed by the body */
	const char	*code;
	const char	*msg;
	const char	*digest;	/* of the body posted (result_digest) */
	int		 type;		/* out: the study type (lookup) */
	int		 terminal;	/* out: the job had ended already */
	int		 changed;
	int		 lookup_only;
	char		 first[RESULT_DIGEST_LEN + 1];	/* out, when terminal:
					 * the digest of the result that
					 * ended it, or "" (it ended
					 * otherwise, e.g. timed out) */
	char		 ended[64];	/* out, when terminal and first is
					 * "": the job's errorCode */
};

static int
finish_body(struct store_txn *t, void *arg)
{
	struct finish_arg	*a = arg;
	struct job_rec		 rec;
	json_object		*findings;
	char			*jkey = NULL;
	size_t			 jklen;
	int			 rc;

	if ((rc = job_lookup(t, a->id, &jkey, &jklen, &rec,
	    !a->lookup_only)) != STORE_OK)
		return rc;
	a->terminal = rec.jr_state == JOB_DONE || rec.jr_state == JOB_FAILED;
	a->type = rec.jr_type;
	if (a->terminal) {
		snprintf(a->first, sizeof(a->first), "%s",
		    rec.jr_digest != NULL ? rec.jr_digest : "");
		snprintf(a->ended, sizeof(a->ended), "%s",
		    rec.jr_error_code != NULL ? rec.jr_error_code :
		    job_state_name(rec.jr_state));
	}
	if (a->lookup_only || a->terminal) {
		rc = STORE_OK;
		goto out;
	}
	/* what a later post is compared with: the result that ends it */
	if (a->digest != NULL) {
		rec.jr_digest = a->digest;
		REC_SET(&rec, JF_DIGEST);
	}
	/* a retried body must not have given the findings away already */
	findings = a->findings != NULL ?
	    json_object_get(a->findings) : NULL;
	rc = job_finish(t, jkey, jklen, &rec, findings, a->code, a->msg,
	    store_now_ms(), &a->changed);
out:
	job_rec_free(&rec);
	free(jkey);
	return rc;
}

/*
 * A result for a job that has ended: the same result again (an engine
 * retrying after a lost answer) is answered 000000; anything else is told
 * that it was not used, since the first result is final.
 */
static void
repeated(struct req *rq, const struct finish_arg *a)
{
	if (a->first[0] != '\0' && a->digest != NULL &&
	    strcmp(a->first, a->digest) == 0) {
		req_reply(rq, NULL);
		return;
	}
	if (a->first[0] != '\0')
		req_error(rq, RC_CONFLICT, "this job already has a different "
		    "result: the first result stands, this one is not used");
	else
		req_error(rq, RC_CONFLICT, "this job has already ended (%s): "
		    "this result is not used", a->ended);
}

/* One pass of finish_body: 0 where the job is in hand and not ended, or
 * -1 with rq answered (failed says what an internal error failed to do).
 * A job found ended on the second pass was ended meanwhile by another
 * post (or the timeout). */
static int
finish(struct req *rq, struct finish_arg *a, const char *failed)
{
	int	rc;

	rc = store_txn(rq->rq_store, finish_body, a);
	if (rc == STORE_NOTFOUND && a->lookup_only)
		req_error(rq, RC_AUTH, "authentication failed: no such job");
	else if (rc != 0)
		req_error(rq, RC_INTERNAL, "internal error: %s", failed);
	else if (a->terminal)
		repeated(rq, a);
	else
		return 0;
	return -1;
}

static void
algorithm_result(struct req *rq)
{
	struct finish_arg	 a;
	struct job_req		 jr;
	struct result		 res;
	char			 msg[512], emsg[700];
	char			 digest[RESULT_DIGEST_LEN + 1];
	enum rc			 erc;
	int			 rc, bad = 0;

	memset(&res, 0, sizeof(res));
	memset(&a, 0, sizeof(a));
	if (request_job_query(rq->rq_query, rq->rq_keys, &jr, msg, sizeof(msg),
	    &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	a.id = jr.jr_id;
	if (result_digest(rq->rq_body, rq->rq_bodylen, digest) == 0)
		a.digest = digest;
	a.lookup_only = 1;
	if (finish(rq, &a, "storage unavailable") == -1)
		return;

	if (result_parse(a.type, rq->rq_body, rq->rq_bodylen, &res, msg,
	    sizeof(msg)) == -1) {
		bad = 1;
		a.code = fail_code_name(FAIL_ENGINE_BAD_RESULT);
		a.msg = msg;
	} else if (res.r_image_uid[0] != '\0' &&
	    strcmp(res.r_image_uid, jr.jr_id) != 0) {
		bad = 1;
		snprintf(msg, sizeof(msg), "ImageUid: %s is not the ImageUid "
		    "of this job", res.r_image_uid);
		a.code = fail_code_name(FAIL_ENGINE_BAD_RESULT);
		a.msg = msg;
	} else if (!res.r_engine_ok) {
		snprintf(emsg, sizeof(emsg), "engine returned %s: %s",
		    res.r_code, res.r_message);
		a.code = fail_code_name(FAIL_ENGINE_ERROR);
		a.msg = emsg;
	} else
		a.findings = res.r_findings;

	a.lookup_only = 0;
	rc = finish(rq, &a, "the result could not be stored");
	result_free(&res);
	if (rc == -1)
		return;
	if (a.changed)
		wake_dispatcher(rq->rq_conf->c_state_dir);
	if (bad)
		req_error(rq, RC_INVALID, "%s", msg);
	else
		req_reply(rq, NULL);
}

static const struct endpoint ep = {
	"algorithmResult", EP_POST, algorithm_result,
	4	/* durable writes: group commit */
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
