/* answer.c -- getAnalysisResult's answer for a finished study, written once
 * with the result instead of rebuilt on every read */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "jv.h"
#include "record.h"

/* answers.db values: "A1 <rc> <message length>\n", the message, then the
 * data member's JSON text.  Another first line is an answer this version
 * does not know: the reader builds the answer from results.db instead. */
#define ANSWER_MAGIC	"A1 "
#define ANSWER_JSON	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Doctors' feedback shows as each finding's credibility. */
static void
apply_feedback(json_object *data, json_object *feedback)
{
	static const char *const lists[] = { "boxes", "boxDataList",
	    "imageDataList", "xRayDataList", "ocularDataList" };
	json_object	*list, *item, *id, *fb, *cred;
	size_t		 i, j;

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

int
answer_from_result(json_object *res, struct answer *a)
{
	struct result_rec	r;
	int			rc = -1;

	memset(a, 0, sizeof(*a));
	if (result_rec_decode(&r, json_object_get(res)) == -1)
		return -1;
	if (r.rr_data == NULL || !json_object_is_type(r.rr_data,
	    json_type_object) || !REC_HAS(&r, RF_STATE))
		goto out;
	apply_feedback(r.rr_data, r.rr_feedback);
	a->a_data = json_object_get(r.rr_data);
	rc = 0;
	if (r.rr_state == STUDY_DONE) {
		a->a_rc = RC_OK;
		snprintf(a->a_msg, sizeof(a->a_msg), "OK");
		goto out;
	}
	a->a_rc = RC_FAILED;
	json_object_object_add(a->a_data, "errorCode", r.rr_error_code ?
	    json_object_new_string(r.rr_error_code) : NULL);
	json_object_object_add(a->a_data, "errorMessage", r.rr_error_msg ?
	    json_object_new_string(r.rr_error_msg) : NULL);
	snprintf(a->a_msg, sizeof(a->a_msg), "analysis failed: %s",
	    REC_STR(r.rr_error_msg));
out:
	result_rec_free(&r);
	return rc;
}

int
answer_put_result(struct store_txn *t, const void *skey, size_t sklen,
    json_object *res)
{
	struct answer	 a;
	json_object	*back;
	const char	*s, *d;
	char		*buf;
	size_t		 len, dlen, mlen;
	int		 hn, rc;

	if ((s = json_object_to_json_string_length(res, ANSWER_JSON,
	    &len)) == NULL)
		return STORE_ERR;
	if ((rc = store_put(t, SDB_RESULTS, skey, sklen, s, len)) != STORE_OK)
		return rc;
	/* from the text a reader would parse, so that both agree byte for
	 * byte (numbers keep the text they were written with) */
	if ((back = store_json(s, len)) == NULL)
		return STORE_ERR;
	if (answer_from_result(back, &a) == -1) {
		/* not a finished study's record: no answer, readers use
		 * results.db (and a stale answer must not stay) */
		json_object_put(back);
		rc = store_del(t, SDB_ANSWERS, skey, sklen);
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	rc = STORE_ERR;
	mlen = strlen(a.a_msg);
	if ((d = json_object_to_json_string_length(a.a_data, ANSWER_JSON,
	    &dlen)) != NULL && (buf = malloc(32 + mlen + dlen)) != NULL) {
		hn = snprintf(buf, 32, ANSWER_MAGIC "%d %zu\n", (int)a.a_rc,
		    mlen);
		memcpy(buf + hn, a.a_msg, mlen);
		memcpy(buf + hn + mlen, d, dlen);
		rc = store_put(t, SDB_ANSWERS, skey, sklen, buf,
		    (size_t)hn + mlen + dlen);
		free(buf);
	}
	answer_free(&a);
	json_object_put(back);
	return rc;
}

int
answer_get(struct store_txn *t, const void *skey, size_t sklen,
    struct answer *a)
{
	char		*val, *p, *end;
	size_t		 len, mlen;
	long		 code;
	int		 rc;

	memset(a, 0, sizeof(*a));
	if ((rc = store_get(t, SDB_ANSWERS, skey, sklen, &val, &len, 0)) !=
	    STORE_OK)
		return rc;
	rc = STORE_NOTFOUND;
	if (len < sizeof(ANSWER_MAGIC) ||
	    memcmp(val, ANSWER_MAGIC, sizeof(ANSWER_MAGIC) - 1) != 0)
		goto out;
	p = val + sizeof(ANSWER_MAGIC) - 1;
	code = strtol(p, &end, 10);
	if (end == p || *end != ' ' || (code != RC_OK && code != RC_FAILED))
		goto out;
	p = end + 1;
	mlen = strtoul(p, &end, 10);
	if (end == p || *end != '\n' || mlen >= sizeof(a->a_msg) ||
	    mlen > len - (size_t)(end + 1 - val))
		goto out;
	p = end + 1;
	memcpy(a->a_msg, p, mlen);
	a->a_msg[mlen] = '\0';
	p += mlen;
	if (p == val + len ||
	    (a->a_data = jv_raw(p, len - (size_t)(p - val))) == NULL) {
		rc = p == val + len ? STORE_NOTFOUND : STORE_ERR;
		goto out;
	}
	a->a_rc = (enum rc)code;
	rc = STORE_OK;
out:
	free(val);
	return rc;
}

void
answer_free(struct answer *a)
{
	json_object_put(a->a_data);
	a->a_data = NULL;
}
