/* request.c -- the responders' input checks: request bytes in, typed request or a message out */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jv.h"
#include "job.h"
#include "oss_name.h"
#include "query.h"
#include "request.h"

/* ------------------------------------------------------------------------
 * Field checks shared by the tables below
 */

static const char *
check_key(const char *s)
{
	if (s[0] == '/' || s[0] == '\\')
		return "must not start with '/' or '\\'";
	return jv_printable(s);
}

/*
 * Hand the secrets over to ro as soon as jv_read() has run, whether or not
 * it succeeded: jv_read() fills the fields before the one at fault, and
 * whatever it filled must be wiped with the body.
 */
static void
oss_take(struct request_oss *ro, const struct jv_value *sk,
    const struct jv_value *sts)
{
	if (sk->v_present) {
		ro->ro_sk = (char *)(uintptr_t)sk->v_str;
		ro->ro_sklen = sk->v_len;
	}
	if (sts->v_present) {
		ro->ro_sts = (char *)(uintptr_t)sts->v_str;
		ro->ro_stslen = sts->v_len;
	}
}

static void
oss_fill(struct request_oss *ro, const struct jv_value *ak,
    const struct jv_value *endpoint, const struct jv_value *bucket,
    const struct jv_value *key)
{
	ro->ro_ak = ak->v_str;
	ro->ro_endpoint = endpoint->v_str;
	ro->ro_bucket = bucket->v_str;
	ro->ro_key = key->v_str;
}

/* The strings live in body: wipe the secrets, then release it. */
static void
oss_wipe(struct request_oss *ro, json_object **body)
{
	if (ro->ro_sk != NULL)
		crypto_wipe(ro->ro_sk, ro->ro_sklen);
	if (ro->ro_sts != NULL)
		crypto_wipe(ro->ro_sts, ro->ro_stslen);
	json_object_put(*body);
	*body = NULL;
	memset(ro, 0, sizeof(*ro));
}

/* The one endpoint rule (oss_name.h).  A host that is not ASCII is
 * refused as the callback URL checks refuse hosts (100009); any other
 * flaw is 100002. */
static int
endpoint_host(struct request_oss *ro, char *msg, size_t msglen, enum rc *rc)
{
	struct oss_endpoint	 en;
	const char		*bad;

	if ((bad = oss_endpoint_parse(ro->ro_endpoint, &en)) != NULL) {
		snprintf(msg, msglen, "endpoint: %s", bad);
		if (bad == url_not_ascii)
			*rc = RC_URL_REFUSED;
		return -1;
	}
	snprintf(ro->ro_host, sizeof(ro->ro_host), "%s", en.en_host);
	return 0;
}

/* ------------------------------------------------------------------------
 * executeAnalysis
 */

enum {
	EX_UID, EX_TYPE, EX_CALLBACK, EX_AK, EX_SK, EX_STS, EX_ENDPOINT,
	EX_BUCKET, EX_KEY, EX_FORCE, EX__MAX
};

static const struct jv_field execute_fields[EX__MAX] = {
	[EX_UID] = { "studyInstanceUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX, 0, 0, NULL, jv_printable },
	[EX_TYPE] = { "studyType", JV_INT, JV_REQUIRED, 0, 1, 4, NULL, NULL },
	[EX_CALLBACK] = { "statusNotifyCallBackUrl", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, URL_MAX, 0, 0, NULL, jv_printable },
	[EX_AK] = { "accessKeyId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128,
	    0, 0, NULL, jv_printable },
	[EX_SK] = { "accessKeySecret", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, jv_printable },
	[EX_STS] = { "securityToken", JV_STRING, JV_NULL_OK, 8192, 0, 0, NULL,
	    jv_printable },
	[EX_ENDPOINT] = { "endpoint", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    URL_HOST_MAX, 0, 0, NULL, NULL },
	[EX_BUCKET] = { "bucketName", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 63,
	    0, 0, NULL, oss_bucket_check },
	[EX_KEY] = { "key", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 1023, 0, 0,
	    NULL, check_key },
	[EX_FORCE] = { "forceAnalysis", JV_BOOL, JV_NULL_OK, 0, 0, 0, NULL,
	    NULL },
};

int
request_execute(const char *body, size_t len, struct execute_req *ex,
    char *msg, size_t msglen, enum rc *rc)
{
	struct jv_value	v[EX__MAX];
	int		ok;

	memset(ex, 0, sizeof(*ex));
	*rc = RC_INVALID;
	if ((ex->ex_body = jv_parse(body, len, msg, msglen)) == NULL)
		return -1;
	ok = jv_read(ex->ex_body, execute_fields, EX__MAX, v, msg,
	    msglen) == 0;
	oss_take(&ex->ex_oss, &v[EX_SK], &v[EX_STS]);
	if (!ok)
		goto err;
	ex->ex_uid = v[EX_UID].v_str;
	ex->ex_type = (int)v[EX_TYPE].v_int;
	ex->ex_callback = v[EX_CALLBACK].v_str;
	ex->ex_force = v[EX_FORCE].v_present && v[EX_FORCE].v_bool;
	oss_fill(&ex->ex_oss, &v[EX_AK], &v[EX_ENDPOINT], &v[EX_BUCKET],
	    &v[EX_KEY]);
	if (endpoint_host(&ex->ex_oss, msg, msglen, rc) == -1)
		goto err;
	return 0;
err:
	request_execute_free(ex);
	return -1;
}

void
request_execute_free(struct execute_req *ex)
{
	oss_wipe(&ex->ex_oss, &ex->ex_body);
	memset(ex, 0, sizeof(*ex));
}

/* ------------------------------------------------------------------------
 * triggerAnalysis
 */

enum {
	TR_NS, TR_UID, TR_AK, TR_SK, TR_STS, TR_ENDPOINT, TR_BUCKET, TR_KEY,
	TR_ANALYSIS, TR_CALLBACK, TR__MAX
};

static const struct jv_field trigger_fields[TR__MAX] = {
	[TR_NS] = { "namespace", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128, 0,
	    0, NULL, jv_printable },
	/* one byte less than a study uid: it is kept behind STUDY_PUSH_MARK */
	[TR_UID] = { "ImageUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX - 1, 0, 0, NULL, jv_printable },
	[TR_AK] = { "accessKeyId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128,
	    0, 0, NULL, jv_printable },
	[TR_SK] = { "accessKeySecret", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, jv_printable },
	[TR_STS] = { "securityToken", JV_STRING, JV_NULL_OK, 8192, 0, 0, NULL,
	    jv_printable },
	[TR_ENDPOINT] = { "endpoint", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    URL_HOST_MAX, 0, 0, NULL, NULL },
	[TR_BUCKET] = { "bucketName", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 63,
	    0, 0, NULL, oss_bucket_check },
	[TR_KEY] = { "key", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 1023, 0, 0,
	    NULL, check_key },
	[TR_ANALYSIS] = { "analysis", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 64,
	    0, 0, NULL, jv_printable },
	[TR_CALLBACK] = { "resultCallBackUrl", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, URL_MAX, 0, 0, NULL, jv_printable },
};

int
request_trigger(const char *body, size_t len, const char *ns,
    struct trigger_req *tr, char *msg, size_t msglen, enum rc *rc)
{
	struct jv_value	v[TR__MAX];
	int		ok;

	memset(tr, 0, sizeof(*tr));
	*rc = RC_INVALID;
	if ((tr->tr_body = jv_parse(body, len, msg, msglen)) == NULL)
		return -1;
	ok = jv_read(tr->tr_body, trigger_fields, TR__MAX, v, msg,
	    msglen) == 0;
	oss_take(&tr->tr_oss, &v[TR_SK], &v[TR_STS]);
	if (!ok)
		goto err;
	tr->tr_ns = v[TR_NS].v_str;
	tr->tr_image_uid = v[TR_UID].v_str;
	tr->tr_analysis = v[TR_ANALYSIS].v_str;
	tr->tr_callback = v[TR_CALLBACK].v_str;
	oss_fill(&tr->tr_oss, &v[TR_AK], &v[TR_ENDPOINT], &v[TR_BUCKET],
	    &v[TR_KEY]);
	if (ns == NULL || strcmp(tr->tr_ns, ns) != 0) {
		*rc = RC_AUTH;
		snprintf(msg, msglen, "authentication failed: the body's "
		    "namespace is not the namespace of the tokenId");
		goto err;
	}
	if (endpoint_host(&tr->tr_oss, msg, msglen, rc) == -1)
		goto err;
	return 0;
err:
	request_trigger_free(tr);
	return -1;
}

void
request_trigger_free(struct trigger_req *tr)
{
	oss_wipe(&tr->tr_oss, &tr->tr_body);
	memset(tr, 0, sizeof(*tr));
}
