/* submitAnalysisFeedback.c -- doctors' verdicts on findings (API.md 4.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "fcgi.h"
#include "request.h"
#include "store.h"
#include "study.h"

/* Outcomes of the body beyond store codes. */
#define FB_NOT_DONE	1
#define FB_INVALID	2

struct fb_arg {
	char		 key[STUDY_KEY_MAX];
	size_t		 klen;
	json_object	*items;		/* the request's data array */
	const char	*ns;
	const char	*remote;
	char		 msg[512];
};

/* Every id a finding of the result answers to: indexId, and boxUid for
 * box findings (the deployed clients' id for them). */
static json_object *
finding_ids(json_object *data, size_t *count)
{
	static const char *const lists[] = { "boxes", "imageDataList",
	    "xRayDataList", "ocularDataList" };
	json_object	*ids = json_object_new_object(), *list, *item, *id;
	size_t		 i, j;

	*count = 0;
	for (i = 0; ids != NULL && i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (!json_object_object_get_ex(data, lists[i], &list))
			continue;
		for (j = 0; j < json_object_array_length(list); j++) {
			item = json_object_array_get_idx(list, j);
			(*count)++;
			if (json_object_object_get_ex(item, "indexId", &id) ||
			    json_object_object_get_ex(item, "boxUid", &id))
				json_object_object_add(ids,
				    json_object_get_string(id), NULL);
		}
	}
	return ids;
}

/* indexIds are UUIDs, which compare without regard to case; ours are
 * stored in lower case.  boxUids are digits and unchanged. */
static void
feedback_id(struct feedback_item *fi, char *buf, size_t len)
{
	size_t i;

	for (i = 0; fi->fi_id[i] != '\0' && i + 1 < len; i++)
		buf[i] = (fi->fi_id[i] >= 'A' && fi->fi_id[i] <= 'F') ?
		    (char)(fi->fi_id[i] - 'A' + 'a') : fi->fi_id[i];
	buf[i] = '\0';
	fi->fi_id = buf;
}

static int
fb_body(struct store_txn *t, void *arg)
{
	struct fb_arg		*a = arg;
	struct feedback_item	 fi;
	char			 idbuf[80];
	json_object		*res = NULL, *ids = NULL, *seen = NULL, *st;
	json_object		*data, *fb, *entry;
	size_t			 n, i, count;
	int64_t			 now = store_now_ms();
	int			 rc;

	a->msg[0] = '\0';
	if ((rc = store_get_json(t, SDB_RESULTS, a->key, a->klen, &res, 1)) ==
	    STORE_NOTFOUND) {
		char *s = NULL;

		rc = store_get(t, SDB_STUDIES, a->key, a->klen, &s, NULL, 0);
		free(s);
		return rc == STORE_OK ? FB_NOT_DONE : rc;
	}
	if (rc != STORE_OK)
		return rc;
	rc = FB_NOT_DONE;
	/* a new run (forceAnalysis) is under way: its findings will replace
	 * these, and feedback would be lost with them */
	{
		json_object	*study = NULL, *v;
		int		 running;

		if ((rc = store_get_json(t, SDB_STUDIES, a->key, a->klen,
		    &study, 0)) != STORE_OK)
			goto out;
		running = !json_object_object_get_ex(study, "state", &v) ||
		    strcmp(json_object_get_string(v), "DONE") != 0;
		json_object_put(study);
		rc = FB_NOT_DONE;
		if (running)
			goto out;
	}
	if (!json_object_object_get_ex(res, "state", &st) ||
	    strcmp(json_object_get_string(st), "DONE") != 0 ||
	    !json_object_object_get_ex(res, "data", &data))
		goto out;
	rc = FB_INVALID;
	ids = finding_ids(data, &count);
	seen = json_object_new_object();
	n = json_object_array_length(a->items);
	if (n > count) {
		snprintf(a->msg, sizeof(a->msg), "data: %zu items for a result "
		    "of %zu findings", n, count);
		goto out;
	}
	/* all checked before any is applied: nothing half-done */
	for (i = 0; i < n; i++) {
		if (request_feedback_item(a->items, i, &fi, a->msg,
		    sizeof(a->msg)) == -1)
			goto out;
		feedback_id(&fi, idbuf, sizeof(idbuf));
		if (!json_object_object_get_ex(ids, fi.fi_id, NULL)) {
			snprintf(a->msg, sizeof(a->msg), "data[%zu].indexId: %s "
			    "is not a finding of this study", i, fi.fi_id);
			goto out;
		}
		if (json_object_object_get_ex(seen, fi.fi_id, NULL)) {
			snprintf(a->msg, sizeof(a->msg), "data[%zu].indexId: %s "
			    "is given twice", i, fi.fi_id);
			goto out;
		}
		json_object_object_add(seen, fi.fi_id, NULL);
	}
	if (!json_object_object_get_ex(res, "feedback", &fb)) {
		fb = json_object_new_object();
		json_object_object_add(res, "feedback", fb);
	}
	for (i = 0; i < n; i++) {
		json_object *x;

		request_feedback_item(a->items, i, &fi, a->msg, sizeof(a->msg));
		feedback_id(&fi, idbuf, sizeof(idbuf));
		/* a later verdict replaces the earlier; who and when stay
		 * for the audit trail */
		entry = json_object_new_object();
		json_object_object_add(entry, "credibility",
		    json_object_new_string(fi.fi_cred));
		json_object_object_add(entry, "by",
		    json_object_new_string(a->ns));
		json_object_object_add(entry, "from",
		    json_object_new_string(a->remote ? a->remote : ""));
		json_object_object_add(entry, "at", json_object_new_int64(now));
		if (json_object_object_get_ex(fb, fi.fi_id, &x) &&
		    json_object_object_get_ex(x, "credibility", &x))
			json_object_object_add(entry, "replaced",
			    json_object_get(x));
		json_object_object_add(fb, fi.fi_id, entry);
	}
	rc = answer_put_result(t, a->key, a->klen, res);
out:
	json_object_put(ids);
	json_object_put(seen);
	json_object_put(res);
	return rc;
}

static void
feedback(struct req *rq)
{
	struct feedback_req	 fr;
	struct fb_arg		 a;
	char			 msg[512];
	enum rc			 erc;
	int			 rc;

	if (request_feedback(rq->rq_body, rq->rq_bodylen, &fr, msg,
	    sizeof(msg), &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.klen = study_key(a.key, rq->rq_ns, fr.fb_type, fr.fb_uid);
	a.items = fr.fb_items;
	a.ns = rq->rq_ns;
	a.remote = rq->rq_remote;
	rc = store_txn(rq->rq_store, fb_body, &a);
	if (rc == STORE_NOTFOUND)
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %d for "
		    "this namespace", fr.fb_uid, fr.fb_type);
	else if (rc == FB_NOT_DONE)
		req_error(rq, RC_NOT_READY, "the analysis of this study is not "
		    "finished (or failed): no findings to give feedback on");
	else if (rc == FB_INVALID)
		req_error(rq, RC_INVALID, "%s", a.msg);
	else if (rc != 0)
		req_error(rq, RC_INTERNAL, "internal error: the feedback could "
		    "not be stored");
	else
		req_reply(rq, NULL);
	request_feedback_free(&fr);
}

static const struct endpoint ep = {
	"submitAnalysisFeedback", EP_POST | EP_AUTH, feedback,
	4	/* durable writes: group commit */
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
