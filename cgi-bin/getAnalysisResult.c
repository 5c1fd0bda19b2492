/* getAnalysisResult.c -- a study's findings, progress or failure (API.md 3.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "jv.h"
#include "query.h"
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
	struct get_arg	 a;
	json_object	*v, *data, *fb = NULL;
	char		 uid[STUDY_UID_MAX + 2], type[8], *end;
	const char	*why = "required";
	long		 t;
	int		 rc;

	memset(&a, 0, sizeof(a));
	rc = query_get(rq->rq_query, "studyInstanceUid", uid, sizeof(uid),
	    &why);
	if (rc == 1 && strlen(uid) > STUDY_UID_MAX) {
		req_error(rq, RC_INVALID, "studyInstanceUid: longer than %d "
		    "bytes", STUDY_UID_MAX);
		return;
	}
	if (rc != 1 || uid[0] == '\0') {
		req_error(rq, RC_INVALID, "studyInstanceUid: %s", rc == 0 ||
		    uid[0] == '\0' ? "required query parameter missing" :
		    strcmp(why, "malformed or too long") == 0 ?
		    "malformed or longer than 128 bytes" : why);
		return;
	}
	rc = query_get(rq->rq_query, "studyType", type, sizeof(type), &why);
	t = rc == 1 ? strtol(type, &end, 10) : 0;
	if (rc != 1 || type[0] < '1' || type[0] > '4' || *end != '\0' ||
	    t < 1 || t > 4) {
		req_error(rq, RC_INVALID, "studyType: %s", rc == 0 ?
		    "required query parameter missing" :
		    "must be an integer from 1 to 4");
		return;
	}
	a.klen = study_key(a.key, rq->rq_ns, (int)t, uid);
	rc = store_txn(rq->rq_store, get_body, &a);
	if (rc == STORE_NOTFOUND) {
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %ld for "
		    "this namespace", uid, t);
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
	apply_feedback(data, fb, (int)t);
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
