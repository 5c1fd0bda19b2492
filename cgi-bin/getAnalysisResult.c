/* getAnalysisResult.c -- a study's findings, progress or failure (API.md 3.), or a push job's result */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "fcgi.h"
#include "jv.h"
#include "request.h"
#include "result.h"
#include "store.h"
#include "study.h"

struct get_arg {
	char		 key[STUDY_KEY_MAX];
	size_t		 klen;
	struct answer		 answer;
	struct study_rec	 study;
	struct result_rec	 result;	/* r_obj NULL: none */
};

/* A study's last result, if it has one (r_obj NULL when none). */
static int
result_read(struct store_txn *t, const char *key, size_t klen,
    struct result_rec *result)
{
	json_object	*o = NULL;
	int		 rc;

	if ((rc = store_get_json(t, SDB_RESULTS, key, klen, &o, 0)) ==
	    STORE_NOTFOUND)
		return STORE_OK;
	if (rc == STORE_OK && result_rec_decode(result, o) == -1)
		rc = STORE_ERR;
	return rc;
}


/*
 * A finished study's answer was written with its result (answer.c): one
 * read and no parsing.  Otherwise the study record tells how far it got,
 * or a result written before answers.db existed is turned into the answer
 * here.
 */
static int
get_body(struct store_txn *t, void *arg)
{
	struct get_arg	*a = arg;
	int		 rc;

	answer_free(&a->answer);
	study_rec_free(&a->study);
	result_rec_free(&a->result);
	if ((rc = answer_get(t, a->key, a->klen, &a->answer)) != STORE_NOTFOUND)
		return rc;
	if ((rc = study_get(t, a->key, a->klen, &a->study, 0)) != STORE_OK)
		return rc;
	return result_read(t, a->key, a->klen, &a->result);
}

/* The progress of a run not finished: 100005's data. */
static json_object *
progress(const struct study_rec *study)
{
	json_object *data;

	if ((data = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(data, "state", REC_HAS(study, SF_STATE) ?
	    json_object_new_string(study_state_name(study->sr_state)) : NULL);
	json_object_object_add(data, "imagesTotal", REC_HAS(study,
	    SF_IMAGES_TOTAL) ? json_object_new_int64(study->sr_images_total) :
	    NULL);
	json_object_object_add(data, "imagesDone", REC_HAS(study,
	    SF_IMAGES_DONE) ? json_object_new_int64(study->sr_images_done) :
	    NULL);
	json_object_object_add(data, "imagesFailed", REC_HAS(study,
	    SF_IMAGES_FAILED) ? json_object_new_int64(study->sr_images_failed) :
	    NULL);
	return data;
}

/*
 * A push job (triggerAnalysis) by its ImageUid: the record of its study
 * type, or of whichever type was triggered last when none is given.
 */
struct push_arg {
	const char	*ns;
	const char	*uid;		/* STUDY_PUSH_MARK + ImageUid */
	int			 type;		/* 0: any */
	struct study_rec	 study;
	struct result_rec	 result;
};

static int
push_body(struct store_txn *t, void *arg)
{
	struct push_arg		*a = arg;
	struct study_rec	 rec;
	char			 key[STUDY_KEY_MAX], best[STUDY_KEY_MAX];
	size_t			 klen, blen = 0;
	int			 ty, rc;

	study_rec_free(&a->study);
	result_rec_free(&a->result);
	for (ty = 1; ty <= 4; ty++) {
		if (a->type != 0 && ty != a->type)
			continue;
		klen = study_key(key, a->ns, ty, a->uid);
		rc = study_get(t, key, klen, &rec, 0);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		if (a->study.r_obj != NULL &&
		    rec.sr_queued <= a->study.sr_queued) {
			study_rec_free(&rec);
			continue;
		}
		study_rec_free(&a->study);
		a->study = rec;
		memcpy(best, key, klen);
		blen = klen;
	}
	if (a->study.r_obj == NULL)
		return STORE_NOTFOUND;
	return result_read(t, best, blen, &a->result);
}

static void
get_push(struct req *rq, const struct result_req *rr)
{
	struct push_arg		 a;
	json_object		*data = NULL;
	const char		*code = NULL, *emsg = NULL;
	enum study_state	 st;
	int			 rc;

	memset(&a, 0, sizeof(a));
	a.ns = rq->rq_ns;
	a.uid = rr->rr_uid;
	a.type = rr->rr_type;
	rc = req_txn(rq, push_body, &a);
	if (rc == REQ_REFUSED)
		goto out;
	if (rc == STORE_NOTFOUND) {
		req_error(rq, RC_NOT_FOUND, "no push job with imageUid %s for "
		    "this namespace", rr->rr_uid + strlen(STUDY_PUSH_MARK));
		goto out;
	}
	if (rc != 0) {
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		goto out;
	}
	st = a.study.sr_state;
	if (st != STUDY_DONE && st != STUDY_FAILED) {
		/* a trigger's result is its own: an earlier one's is not
		 * shown meanwhile */
		if ((data = progress(&a.study)) == NULL)
			req_error(rq, RC_INTERNAL, "internal error: out of "
			    "memory");
		else
			req_error_data(rq, RC_NOT_READY, data, "analysis not "
			    "finished yet");
		goto out;
	}
	code = a.result.rr_error_code;
	emsg = a.result.rr_error_msg;
	if (st == STUDY_FAILED && code == NULL) {
		code = a.study.sr_error_code;
		emsg = a.study.sr_error_msg;
		if (code == NULL)
			code = fail_code_name(FAIL_ENGINE_ERROR);
	}
	if ((data = study_push_body(a.study.r_obj, a.result.rr_data,
	    st == STUDY_FAILED ?
	    code : NULL, emsg)) == NULL) {
		req_error(rq, RC_INTERNAL, "internal error: out of memory");
		goto out;
	}
	if (st == STUDY_DONE)
		req_reply(rq, data);
	else
		req_error_data(rq, RC_FAILED, data, "analysis failed: %s",
		    emsg != NULL ? emsg : code);
out:
	study_rec_free(&a.study);
	result_rec_free(&a.result);
}

static void
get_result(struct req *rq)
{
	struct get_arg		 a;
	struct result_req	 rr;
	json_object		*data;
	char			 msg[512];
	enum rc			 erc;
	int			 rc;

	memset(&a, 0, sizeof(a));
	if (request_result_query(rq->rq_query, &rr, msg, sizeof(msg),
	    &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	if (rr.rr_push) {
		get_push(rq, &rr);
		return;
	}
	a.klen = study_key(a.key, rq->rq_ns, rr.rr_type, rr.rr_uid);
	rc = req_txn(rq, get_body, &a);
	if (rc == REQ_REFUSED)
		goto out;	/* the namespace's check answered */
	if (rc == STORE_NOTFOUND) {
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %d for "
		    "this namespace", rr.rr_uid, rr.rr_type);
		goto out;
	}
	if (rc != 0) {
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		goto out;
	}
	if (a.answer.a_data == NULL && a.result.r_obj == NULL) {
		/* not finished, and no earlier run to show meanwhile */
		if ((data = progress(&a.study)) == NULL) {
			req_error(rq, RC_INTERNAL, "internal error: out of "
			    "memory");
			goto out;
		}
		req_error_data(rq, RC_NOT_READY, data, "analysis not finished "
		    "yet");
		goto out;
	}
	if (a.answer.a_data == NULL &&
	    answer_from_result(a.result.r_obj, &a.answer) == -1) {
		req_error(rq, RC_INTERNAL, "internal error: unreadable result");
		goto out;
	}
	if (a.answer.a_rc == RC_OK)
		req_reply(rq, a.answer.a_data);
	else
		req_error_data(rq, a.answer.a_rc, a.answer.a_data, "%s",
		    a.answer.a_msg);
	a.answer.a_data = NULL;		/* the reply owns it */
out:
	answer_free(&a.answer);
	study_rec_free(&a.study);
	result_rec_free(&a.result);
}

static const struct endpoint ep = {
	"getAnalysisResult", EP_GET | EP_AUTH, get_result, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
