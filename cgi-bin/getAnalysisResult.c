/* getAnalysisResult.c -- a study's findings, progress or failure (API.md 3.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "jv.h"
#include "request.h"
#include "result.h"
#include "store.h"
#include "study.h"

struct get_arg {
	char		 key[STUDY_KEY_MAX];
	size_t		 klen;
	json_object	*study;
	json_object	*result;
};

static int
get_body(struct store_txn *t, void *arg)
{
	struct get_arg	*a = arg;
	int		 rc;

	json_object_put(a->study);
	json_object_put(a->result);
	a->study = a->result = NULL;
	if ((rc = store_get_json(t, SDB_STUDIES, a->key, a->klen, &a->study,
	    0)) != STORE_OK)
		return rc;
	rc = store_get_json(t, SDB_RESULTS, a->key, a->klen, &a->result, 0);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Doctors' feedback shows as each finding's credibility. */
static void
apply_feedback(json_object *data, json_object *feedback, int type)
{
	static const char *const lists[] = { "boxes", "boxDataList",
	    "imageDataList", "xRayDataList", "ocularDataList" };
	json_object	*list, *item, *id, *fb, *cred;
	size_t		 i, j;

	(void)type;
	if (feedback == NULL)
		return;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (!json_object_object_get_ex(data, lists[i], &list))
			continue;
		for (j = 0; j < json_object_array_length(list); j++) {
			item = json_object_array_get_idx(list, j);
			if (!json_object_object_get_ex(item, "indexId", &id) &&
			    !json_object_object_get_ex(item, "boxUid", &id))
				continue;
			if (json_object_object_get_ex(feedback,
			    json_object_get_string(id), &fb) &&
			    json_object_object_get_ex(fb, "credibility", &cred))
				json_object_object_add(item, "credibility",
				    json_object_get(cred));
		}
	}
}

static void
get_result(struct req *rq)
{
	struct get_arg		 a;
	struct result_req	 rr;
	json_object		*v, *data, *fb = NULL;
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
	rc = store_txn(rq->rq_store, get_body, &a);
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
	if (a.result == NULL) {
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
	if (!json_object_object_get_ex(a.result, "data", &data)) {
		req_error(rq, RC_INTERNAL, "internal error: unreadable result");
		goto out;
	}
	json_object_object_get_ex(a.result, "feedback", &fb);
	apply_feedback(data, fb, rr.rr_type);
	data = json_object_get(data);
	json_object_object_get_ex(a.result, "state", &v);
	if (strcmp(json_object_get_string(v), "DONE") == 0) {
		req_reply(rq, data);
		goto out;
	}
	json_object_object_get_ex(a.result, "errorCode", &v);
	json_object_object_add(data, "errorCode", json_object_get(v));
	json_object_object_get_ex(a.result, "errorMessage", &v);
	json_object_object_add(data, "errorMessage", json_object_get(v));
	req_error_data(rq, RC_FAILED, data, "analysis failed: %s",
	    json_object_get_string(v));
out:
	json_object_put(a.study);
	json_object_put(a.result);
}

static const struct endpoint ep = {
	"getAnalysisResult", EP_GET | EP_AUTH, get_result
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
