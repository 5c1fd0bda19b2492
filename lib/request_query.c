/* request_query.c -- the input checks of the requests that carry no OSS
 * credentials: feedback, result and job queries (apart from request.c, whose
 * OSS endpoint check needs libcurl, so that their responders need not link it) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jv.h"
#include "job.h"
#include "query.h"
#include "request.h"

/* ------------------------------------------------------------------------
 * submitAnalysisFeedback
 */

enum { FB_UID, FB_TYPE, FB_DATA, FB__MAX };

static const struct jv_field feedback_fields[FB__MAX] = {
	[FB_UID] = { "studyInstanceUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX, 0, 0, NULL, jv_printable },
	[FB_TYPE] = { "studyType", JV_INT, JV_REQUIRED, 0, 1, 4, NULL, NULL },
	[FB_DATA] = { "data", JV_ARRAY, JV_REQUIRED, 0, 0, 0, NULL, NULL },
};

static const char *const credibilities[] = { "Y", "N", "UN", NULL };

enum { FI_ID, FI_CRED, FI__MAX };

static const struct jv_field item_fields[FI__MAX] = {
	[FI_ID] = { "indexId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 64, 0, 0,
	    NULL, jv_printable },
	[FI_CRED] = { "credibility", JV_STRING, JV_REQUIRED, 0, 0, 0,
	    credibilities, NULL },
};

int
request_feedback(const char *body, size_t len, struct feedback_req *fb,
    char *msg, size_t msglen, enum rc *rc)
{
	struct jv_value v[FB__MAX];

	memset(fb, 0, sizeof(*fb));
	*rc = RC_INVALID;
	if ((fb->fb_body = jv_parse(body, len, msg, msglen)) == NULL)
		return -1;
	if (jv_read(fb->fb_body, feedback_fields, FB__MAX, v, msg,
	    msglen) == -1)
		goto err;
	if (json_object_array_length(v[FB_DATA].v_obj) == 0) {
		snprintf(msg, msglen, "data: must not be empty");
		goto err;
	}
	fb->fb_uid = v[FB_UID].v_str;
	fb->fb_type = (int)v[FB_TYPE].v_int;
	fb->fb_items = v[FB_DATA].v_obj;
	return 0;
err:
	request_feedback_free(fb);
	return -1;
}

int
request_feedback_item(json_object *items, size_t i, struct feedback_item *fi,
    char *msg, size_t msglen)
{
	struct jv_value	 v[FI__MAX];
	json_object	*item, *val;
	char		 prefix[32], name[48];
	int		 k;

	memset(fi, 0, sizeof(*fi));
	snprintf(prefix, sizeof(prefix), "data[%zu]", i);
	item = json_object_array_get_idx(items, i);
	if (!json_object_is_type(item, json_type_object)) {
		snprintf(msg, msglen, "%s: must be an object", prefix);
		return -1;
	}
	for (k = 0; k < FI__MAX; k++) {
		snprintf(name, sizeof(name), "%s.%s", prefix,
		    item_fields[k].jf_name);
		if (!json_object_object_get_ex(item, item_fields[k].jf_name,
		    &val))
			val = NULL;
		if (jv_check(val, &item_fields[k], name, &v[k], msg,
		    msglen) == -1)
			return -1;
	}
	fi->fi_id = v[FI_ID].v_str;
	fi->fi_cred = v[FI_CRED].v_str;
	return 0;
}

void
request_feedback_free(struct feedback_req *fb)
{
	json_object_put(fb->fb_body);
	memset(fb, 0, sizeof(*fb));
}

/* ------------------------------------------------------------------------
 * Query strings: getAnalysisResult and algorithmResult
 */

/* ?imageUid=...[&studyType=...]: a push job's result. */
static int
request_push_query(const char *query, struct result_req *rr, char *msg,
    size_t msglen)
{
	char		 uid[STUDY_UID_MAX + 1], type[8], *end;
	const char	*why = "required";
	long		 t;
	int		 n;

	n = query_get(query, "imageUid", uid, sizeof(uid), &why);
	if (n == -1) {
		snprintf(msg, msglen, "imageUid: %s",
		    strcmp(why, "malformed or too long") == 0 ?
		    "malformed or longer than 127 bytes" : why);
		return -1;
	}
	if (uid[0] == '\0') {
		snprintf(msg, msglen, "imageUid: must not be empty");
		return -1;
	}
	if (strlen(uid) > STUDY_UID_MAX - 1) {
		snprintf(msg, msglen, "imageUid: longer than %d bytes",
		    STUDY_UID_MAX - 1);
		return -1;
	}
	n = query_get(query, "studyInstanceUid", type, sizeof(type), &why);
	if (n != 0) {
		snprintf(msg, msglen, "studyInstanceUid: must not be given "
		    "with imageUid");
		return -1;
	}
	n = query_get(query, "studyType", type, sizeof(type), &why);
	t = n == 1 ? strtol(type, &end, 10) : 0;
	if (n == -1 || (n == 1 && (type[0] < '1' || type[0] > '4' ||
	    *end != '\0' || t < 1 || t > 4))) {
		snprintf(msg, msglen, "studyType: must be an integer from 1 "
		    "to 4");
		return -1;
	}
	snprintf(rr->rr_uid, sizeof(rr->rr_uid), "%s%s", STUDY_PUSH_MARK, uid);
	rr->rr_type = (int)t;
	rr->rr_push = 1;
	return 0;
}

int
request_result_query(const char *query, struct result_req *rr, char *msg,
    size_t msglen, enum rc *rc)
{
	char		 type[8], img[STUDY_UID_MAX + 1], *end;
	const char	*why = "required";
	long		 t;
	int		 n;

	memset(rr, 0, sizeof(*rr));
	*rc = RC_INVALID;
	/* imageUid named (whatever its value): a push job; a query that is
	 * malformed as a whole is reported as the studyInstanceUid's */
	n = query_get(query, "imageUid", img, sizeof(img), &why);
	if (n == 1 || (n == -1 &&
	    strcmp(why, "malformed query string") != 0)) {
		if (request_push_query(query, rr, msg, msglen) == -1) {
			memset(rr, 0, sizeof(*rr));
			return -1;
		}
		return 0;
	}
	why = "required";
	n = query_get(query, "studyInstanceUid", rr->rr_uid,
	    sizeof(rr->rr_uid), &why);
	if (n == -1) {
		snprintf(msg, msglen, "studyInstanceUid: %s",
		    strcmp(why, "malformed or too long") == 0 ?
		    "malformed or longer than 128 bytes" : why);
		return -1;
	}
	if (n == 0 || rr->rr_uid[0] == '\0') {
		snprintf(msg, msglen, "studyInstanceUid: required query "
		    "parameter missing");
		return -1;
	}
	if (strlen(rr->rr_uid) > STUDY_UID_MAX) {
		snprintf(msg, msglen, "studyInstanceUid: longer than %d bytes",
		    STUDY_UID_MAX);
		return -1;
	}
	n = query_get(query, "studyType", type, sizeof(type), &why);
	t = n == 1 ? strtol(type, &end, 10) : 0;
	if (n != 1 || type[0] < '1' || type[0] > '4' || *end != '\0' ||
	    t < 1 || t > 4) {
		snprintf(msg, msglen, "studyType: %s", n == 0 ?
		    "required query parameter missing" :
		    "must be an integer from 1 to 4");
		return -1;
	}
	rr->rr_type = (int)t;
	return 0;
}

int
request_job_query(const char *query, const struct crypto_keys *keys,
    struct job_req *jr, char *msg, size_t msglen, enum rc *rc)
{
	char		 sig[JOB_SIG_LEN + 2];
	const char	*why = NULL;

	memset(jr, 0, sizeof(*jr));
	*rc = RC_AUTH;
	if (query_get(query, "job", jr->jr_id, sizeof(jr->jr_id),
	    &why) != 1 ||
	    query_get(query, "sig", sig, sizeof(sig), &why) != 1 ||
	    !job_sig_ok(keys, jr->jr_id, sig)) {
		snprintf(msg, msglen, "authentication failed: this result URL "
		    "was not issued by this gateway");
		memset(jr, 0, sizeof(*jr));
		return -1;
	}
	return 0;
}
