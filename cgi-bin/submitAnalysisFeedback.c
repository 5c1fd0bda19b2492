/* submitAnalysisFeedback.c -- doctors' verdicts on findings (API.md 4.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "jv.h"
#include "store.h"
#include "study.h"

enum { F_UID, F_TYPE, F_DATA, F__MAX };

static const struct jv_field fields[F__MAX] = {
	[F_UID] = { "studyInstanceUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX, 0, 0, NULL, jv_printable },
	[F_TYPE] = { "studyType", JV_INT, JV_REQUIRED, 0, 1, 4, NULL, NULL },
	[F_DATA] = { "data", JV_ARRAY, JV_REQUIRED, 0, 0, 0, NULL, NULL },
};

static const char *const credibilities[] = { "Y", "N", "UN", NULL };

enum { I_ID, I_CRED, I__MAX };

static const struct jv_field item_fields[I__MAX] = {
	[I_ID] = { "indexId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 64, 0, 0,
	    NULL, jv_printable },
	[I_CRED] = { "credibility", JV_STRING, JV_REQUIRED, 0, 0, 0,
	    credibilities, NULL },
};

/* One item of data, named data[i].field in messages. */
static int
item_read(json_object *item, const char *prefix, struct jv_value *v,
    char *msg, size_t msglen)
{
	json_object	*val;
	char		 name[48];
	int		 i;

	for (i = 0; i < I__MAX; i++) {
		snprintf(name, sizeof(name), "%s.%s", prefix,
		    item_fields[i].jf_name);
		if (!json_object_object_get_ex(item, item_fields[i].jf_name,
		    &val))
			val = NULL;
		if (jv_check(val, &item_fields[i], name, &v[i], msg,
		    msglen) == -1)
			return -1;
	}
	return 0;
}

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

static int
fb_body(struct store_txn *t, void *arg)
{
	struct fb_arg	*a = arg;
	struct jv_value	 v[I__MAX];
	json_object	*res = NULL, *ids = NULL, *seen = NULL, *st, *data;
	json_object	*fb, *entry;
	char		 prefix[32];
	size_t		 n, i, count;
	int64_t		 now = store_now_ms();
	int		 rc;

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
		json_object *item = json_object_array_get_idx(a->items, i);

		snprintf(prefix, sizeof(prefix), "data[%zu]", i);
		if (!json_object_is_type(item, json_type_object)) {
			snprintf(a->msg, sizeof(a->msg), "%s: must be an "
			    "object", prefix);
			goto out;
		}
		if (item_read(item, prefix, v, a->msg, sizeof(a->msg)) == -1)
			goto out;
		if (!json_object_object_get_ex(ids, v[I_ID].v_str, NULL)) {
			snprintf(a->msg, sizeof(a->msg), "%s.indexId: %s is not "
			    "a finding of this study", prefix, v[I_ID].v_str);
			goto out;
		}
		if (json_object_object_get_ex(seen, v[I_ID].v_str, NULL)) {
			snprintf(a->msg, sizeof(a->msg), "%s.indexId: %s is "
			    "given twice", prefix, v[I_ID].v_str);
			goto out;
		}
		json_object_object_add(seen, v[I_ID].v_str, NULL);
	}
	if (!json_object_object_get_ex(res, "feedback", &fb)) {
		fb = json_object_new_object();
		json_object_object_add(res, "feedback", fb);
	}
	for (i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(a->items, i), *x;

		item_read(item, prefix, v, a->msg, sizeof(a->msg));
		/* a later verdict replaces the earlier; who and when stay
		 * for the audit trail */
		entry = json_object_new_object();
		json_object_object_add(entry, "credibility",
		    json_object_new_string(v[I_CRED].v_str));
		json_object_object_add(entry, "by",
		    json_object_new_string(a->ns));
		json_object_object_add(entry, "from",
		    json_object_new_string(a->remote ? a->remote : ""));
		json_object_object_add(entry, "at", json_object_new_int64(now));
		if (json_object_object_get_ex(fb, v[I_ID].v_str, &x) &&
		    json_object_object_get_ex(x, "credibility", &x))
			json_object_object_add(entry, "replaced",
			    json_object_get(x));
		json_object_object_add(fb, v[I_ID].v_str, entry);
	}
	rc = store_put_json(t, SDB_RESULTS, a->key, a->klen, res);
out:
	json_object_put(ids);
	json_object_put(seen);
	json_object_put(res);
	return rc;
}

static void
feedback(struct req *rq)
{
	struct jv_value	 v[F__MAX];
	struct fb_arg	 a;
	json_object	*body;
	char		 msg[512];
	int		 rc;

	if ((body = jv_parse(rq->rq_body, rq->rq_bodylen, msg,
	    sizeof(msg))) == NULL) {
		req_error(rq, RC_INVALID, "%s", msg);
		return;
	}
	if (jv_read(body, fields, F__MAX, v, msg, sizeof(msg)) == -1) {
		req_error(rq, RC_INVALID, "%s", msg);
		goto out;
	}
	if (json_object_array_length(v[F_DATA].v_obj) == 0) {
		req_error(rq, RC_INVALID, "data: must not be empty");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.klen = study_key(a.key, rq->rq_ns, (int)v[F_TYPE].v_int,
	    v[F_UID].v_str);
	a.items = v[F_DATA].v_obj;
	a.ns = rq->rq_ns;
	a.remote = rq->rq_remote;
	rc = store_txn(rq->rq_store, fb_body, &a);
	if (rc == STORE_NOTFOUND)
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %lld for "
		    "this namespace", v[F_UID].v_str, v[F_TYPE].v_int);
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
out:
	json_object_put(body);
}

static const struct endpoint ep = {
	"submitAnalysisFeedback", EP_POST | EP_AUTH, feedback
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
