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
	struct answer	 answer;
	json_object	*study;
	json_object	*result;
};

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
	json_object_put(a->study);
	json_object_put(a->result);
	a->study = a->result = NULL;
	if ((rc = answer_get(t, a->key, a->klen, &a->answer)) != STORE_NOTFOUND)
		return rc;
	if ((rc = store_get_json(t, SDB_STUDIES, a->key, a->klen, &a->study,
	    0)) != STORE_OK)
		return rc;
	rc = store_get_json(t, SDB_RESULTS, a->key, a->klen, &a->result, 0);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* The progress of a run not finished: 100005's data. */
static json_object *
progress(json_object *study)
{
	static const char *const names[] = { "state", "imagesTotal",
	    "imagesDone", "imagesFailed" };
	json_object	*data, *v;
	size_t		 i;

	if ((data = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_object_object_get_ex(study, names[i], &v);
		json_object_object_add(data, names[i], json_object_get(v));
	}
	return data;
}

/*
 * A push job (triggerAnalysis) by its ImageUid: the record of its study
 * type, or of whichever type was triggered last when none is given.
 */
struct push_arg {
	const char	*ns;
	const char	*uid;		/* STUDY_PUSH_MARK + ImageUid */
	int		 type;		/* 0: any */
	json_object	*study;
	json_object	*result;
};

static int
push_body(struct store_txn *t, void *arg)
{
	struct push_arg	*a = arg;
	json_object	*rec, *v;
	char		 key[STUDY_KEY_MAX], best[STUDY_KEY_MAX];
	size_t		 klen, blen = 0;
	int64_t		 q, bq = 0;
	int		 ty, rc;

	json_object_put(a->study);
	json_object_put(a->result);
	a->study = a->result = NULL;
	for (ty = 1; ty <= 4; ty++) {
		if (a->type != 0 && ty != a->type)
			continue;
		klen = study_key(key, a->ns, ty, a->uid);
		rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 0);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		q = json_object_object_get_ex(rec, "queued", &v) ?
		    json_object_get_int64(v) : 0;
		if (a->study != NULL && q <= bq) {
			json_object_put(rec);
			continue;
		}
		json_object_put(a->study);
		a->study = rec;
		bq = q;
		memcpy(best, key, klen);
		blen = klen;
	}
	if (a->study == NULL)
		return STORE_NOTFOUND;
	rc = store_get_json(t, SDB_RESULTS, best, blen, &a->result, 0);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* rec's errorCode and errorMessage, each where it has one (not null). */
static void
error_fields(json_object *rec, const char **code, const char **msg)
{
	json_object *v;

	if (json_object_object_get_ex(rec, "errorCode", &v) && v != NULL)
		*code = json_object_get_string(v);
	if (json_object_object_get_ex(rec, "errorMessage", &v) && v != NULL)
		*msg = json_object_get_string(v);
}

static void
get_push(struct req *rq, const struct result_req *rr)
{
	struct push_arg		 a;
	json_object		*v, *data = NULL, *rdata = NULL;
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
	st = json_object_object_get_ex(a.study, "state", &v) ?
	    study_state_parse(json_object_get_string(v)) : STUDY__MAX;
	if (st != STUDY_DONE && st != STUDY_FAILED) {
		/* a trigger's result is its own: an earlier one's is not
		 * shown meanwhile */
		if ((data = progress(a.study)) == NULL)
			req_error(rq, RC_INTERNAL, "internal error: out of "
			    "memory");
		else
			req_error_data(rq, RC_NOT_READY, data, "analysis not "
			    "finished yet");
		goto out;
	}
	if (a.result != NULL) {
		json_object_object_get_ex(a.result, "data", &rdata);
		error_fields(a.result, &code, &emsg);
	}
	if (st == STUDY_FAILED && code == NULL) {
		error_fields(a.study, &code, &emsg);
		if (code == NULL)
			code = "ENGINE_ERROR";
	}
	if ((data = study_push_body(a.study, rdata, st == STUDY_FAILED ?
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
	json_object_put(a.study);
	json_object_put(a.result);
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
	if (a.answer.a_data == NULL && a.result == NULL) {
		/* not finished, and no earlier run to show meanwhile */
		if ((data = progress(a.study)) == NULL) {
			req_error(rq, RC_INTERNAL, "internal error: out of "
			    "memory");
			goto out;
		}
		req_error_data(rq, RC_NOT_READY, data, "analysis not finished "
		    "yet");
		goto out;
	}
	if (a.answer.a_data == NULL &&
	    answer_from_result(a.result, &a.answer) == -1) {
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
	json_object_put(a.study);
	json_object_put(a.result);
}

static const struct endpoint ep = {
	"getAnalysisResult", EP_GET | EP_AUTH, get_result, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
