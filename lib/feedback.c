/* feedback.c -- doctors' verdicts on a study's findings, kept in its result (API.md 4.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "feedback.h"
#include "record.h"
#include "request.h"
#include "store.h"
#include "study.h"

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

/* Whether the study's run under way is the one whose result is stored:
 * a new run (forceAnalysis) will replace these findings, and feedback
 * would be lost with them.  A store code, or FEEDBACK_NOT_DONE. */
static int
feedback_study_done(struct store_txn *t, const char *skey, size_t sklen)
{
	struct study_rec	 study;
	int			 rc;

	if ((rc = study_get(t, skey, sklen, &study, 0)) != STORE_OK)
		return rc;
	rc = study.sr_state == STUDY_DONE ? STORE_OK : FEEDBACK_NOT_DONE;
	study_rec_free(&study);
	return rc;
}

/* Every item names a finding of ids, once; FEEDBACK_INVALID otherwise. */
static int
feedback_check(json_object *items, json_object *ids, size_t count, char *msg,
    size_t msglen)
{
	struct feedback_item	 fi;
	json_object		*seen;
	char			 idbuf[80];
	size_t			 n = json_object_array_length(items), i;
	int			 rc = FEEDBACK_INVALID;

	if (n > count) {
		snprintf(msg, msglen, "data: %zu items for a result of %zu "
		    "findings", n, count);
		return rc;
	}
	if ((seen = json_object_new_object()) == NULL)
		return STORE_ERR;
	for (i = 0; i < n; i++) {
		if (request_feedback_item(items, i, &fi, msg, msglen) == -1)
			goto out;
		feedback_id(&fi, idbuf, sizeof(idbuf));
		if (!json_object_object_get_ex(ids, fi.fi_id, NULL)) {
			snprintf(msg, msglen, "data[%zu].indexId: %s is not a "
			    "finding of this study", i, fi.fi_id);
			goto out;
		}
		if (json_object_object_get_ex(seen, fi.fi_id, NULL)) {
			snprintf(msg, msglen, "data[%zu].indexId: %s is given "
			    "twice", i, fi.fi_id);
			goto out;
		}
		json_object_object_add(seen, fi.fi_id, NULL);
	}
	rc = STORE_OK;
out:
	json_object_put(seen);
	return rc;
}

int
feedback_record(struct store_txn *t, const char *skey, size_t sklen,
    json_object *items, const char *by, const char *from, int64_t now,
    char *msg, size_t msglen)
{
	struct result_rec	 res;
	struct feedback_item	 fi;
	json_object		*o = NULL, *ids = NULL, *fb, *entry, *x;
	char			 idbuf[80];
	size_t			 n, i, count;
	int			 rc;

	msg[0] = '\0';
	memset(&res, 0, sizeof(res));
	if ((rc = store_get_json(t, SDB_RESULTS, skey, sklen, &o, 1)) ==
	    STORE_NOTFOUND) {
		char *s = NULL;

		rc = store_get(t, SDB_STUDIES, skey, sklen, &s, NULL, 0);
		free(s);
		return rc == STORE_OK ? FEEDBACK_NOT_DONE : rc;
	}
	if (rc != STORE_OK)
		return rc;
	if (result_rec_decode(&res, o) == -1)
		return STORE_ERR;
	if ((rc = feedback_study_done(t, skey, sklen)) != STORE_OK)
		goto out;
	rc = FEEDBACK_NOT_DONE;
	if (res.rr_state != STUDY_DONE || res.rr_data == NULL)
		goto out;
	if ((ids = finding_ids(res.rr_data, &count)) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	/* all checked before any is applied: nothing half-done */
	if ((rc = feedback_check(items, ids, count, msg, msglen)) != STORE_OK)
		goto out;
	if (res.rr_feedback == NULL) {
		res.rr_feedback = json_object_new_object();
		REC_SET(&res, RF_FEEDBACK);
		o = res.rr_feedback;
		if (result_rec_encode(&res) == NULL) {
			json_object_put(o);
			rc = STORE_ERR;
			goto out;
		}
		json_object_put(o);	/* the record holds it */
	}
	fb = res.rr_feedback;
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		request_feedback_item(items, i, &fi, msg, msglen);
		feedback_id(&fi, idbuf, sizeof(idbuf));
		/* a later verdict replaces the earlier; who and when stay
		 * for the audit trail */
		entry = json_object_new_object();
		json_object_object_add(entry, "credibility",
		    json_object_new_string(fi.fi_cred));
		json_object_object_add(entry, "by", json_object_new_string(by));
		json_object_object_add(entry, "from",
		    json_object_new_string(from ? from : ""));
		json_object_object_add(entry, "at", json_object_new_int64(now));
		if (json_object_object_get_ex(fb, fi.fi_id, &x) &&
		    json_object_object_get_ex(x, "credibility", &x))
			json_object_object_add(entry, "replaced",
			    json_object_get(x));
		json_object_object_add(fb, fi.fi_id, entry);
	}
	rc = answer_put_result(t, skey, sklen, res.r_obj);
out:
	json_object_put(ids);
	result_rec_free(&res);
	return rc;
}

struct feedback_arg {
	const char	*skey;
	size_t		 sklen;
	json_object	*items;
	const char	*by, *from;
	char		*msg;
	size_t		 msglen;
};

static int
feedback_body(struct store_txn *t, void *arg)
{
	struct feedback_arg *a = arg;

	return feedback_record(t, a->skey, a->sklen, a->items, a->by, a->from,
	    store_now_ms(), a->msg, a->msglen);
}

int
feedback_submit(struct store *s, const char *skey, size_t sklen,
    json_object *items, const char *by, const char *from, char *msg,
    size_t msglen)
{
	struct feedback_arg a = { skey, sklen, items, by, from, msg, msglen };

	return store_txn(s, feedback_body, &a);
}
