/* getAnalysisResult.c -- a study's findings, progress or failure (API.md 3.) */
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

static void
get_result(struct req *rq)
{
	struct get_arg		 a;
	struct result_req	 rr;
	json_object		*v, *data;
	char			 msg[512];
	enum rc			 erc;
	int			 rc;

	memset(&a, 0, sizeof(a));
	if (request_result_query(rq->rq_query, &rr, msg, sizeof(msg),
	    &erc) == -1) {
		req_error(rq, erc, "%s", msg);
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
		if ((data = json_object_new_object()) == NULL) {
			req_error(rq, RC_INTERNAL, "internal error: out of "
			    "memory");
			goto out;
		}
		json_object_object_get_ex(a.study, "state", &v);
		json_object_object_add(data, "state", json_object_get(v));
		json_object_object_get_ex(a.study, "imagesTotal", &v);
		json_object_object_add(data, "imagesTotal", json_object_get(v));
		json_object_object_get_ex(a.study, "imagesDone", &v);
		json_object_object_add(data, "imagesDone", json_object_get(v));
		json_object_object_get_ex(a.study, "imagesFailed", &v);
		json_object_object_add(data, "imagesFailed",
		    json_object_get(v));
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
