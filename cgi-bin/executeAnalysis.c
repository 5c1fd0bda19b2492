/* executeAnalysis.c -- accept a study for analysis (API.md 1.) */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "crypto.h"
#include "fcgi.h"
#include "jv.h"
#include "store.h"
#include "study.h"
#include "url.h"
#include "wake.h"

enum {
	F_UID, F_TYPE, F_CALLBACK, F_AK, F_SK, F_STS, F_ENDPOINT, F_BUCKET,
	F_KEY, F_FORCE, F__MAX
};

/* OSS bucket names: 3-63 of lower-case letters, digits and '-', starting
 * and ending with a letter or digit. */
static const char *
check_bucket(const char *s)
{
	size_t len = strlen(s), i;

	if (len < 3 || len > 63)
		return "must be 3 to 63 characters long";
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return "may hold only lower-case letters, digits and "
			    "'-'";
	if (s[0] == '-' || s[len - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

static const char *
check_key(const char *s)
{
	if (s[0] == '/' || s[0] == '\\')
		return "must not start with '/' or '\\'";
	return jv_printable(s);
}

static const struct jv_field fields[F__MAX] = {
	[F_UID] = { "studyInstanceUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX, 0, 0, NULL, jv_printable },
	[F_TYPE] = { "studyType", JV_INT, JV_REQUIRED, 0, 1, 4, NULL, NULL },
	[F_CALLBACK] = { "statusNotifyCallBackUrl", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, URL_MAX, 0, 0, NULL, jv_printable },
	[F_AK] = { "accessKeyId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128,
	    0, 0, NULL, jv_printable },
	[F_SK] = { "accessKeySecret", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, jv_printable },
	[F_STS] = { "securityToken", JV_STRING, JV_NULL_OK, 8192, 0, 0, NULL,
	    jv_printable },
	[F_ENDPOINT] = { "endpoint", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    URL_HOST_MAX, 0, 0, NULL, NULL },
	[F_BUCKET] = { "bucketName", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 63,
	    0, 0, NULL, check_bucket },
	[F_KEY] = { "key", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 1023, 0, 0,
	    NULL, check_key },
	[F_FORCE] = { "forceAnalysis", JV_BOOL, JV_NULL_OK, 0, 0, 0, NULL,
	    NULL },
};

struct submit_arg {
	const struct crypto_keys	*keys;
	struct study_submit		 ss;
	enum study_outcome		 outcome;
};

static int
submit_body(struct store_txn *t, void *arg)
{
	struct submit_arg *a = arg;

	return study_submit(t, a->keys, &a->ss, &a->outcome);
}

static void
execute_analysis(struct req *rq)
{
	struct jv_value		 v[F__MAX];
	struct submit_arg	 a;
	json_object		*body;
	char			 msg[512], host[URL_HOST_MAX];
	const char		*bad;
	int			 type, rc;

	if ((body = jv_parse(rq->rq_body, rq->rq_bodylen, msg,
	    sizeof(msg))) == NULL) {
		req_error(rq, RC_INVALID, "%s", msg);
		return;
	}
	if (jv_read(body, fields, F__MAX, v, msg, sizeof(msg)) == -1) {
		req_error(rq, RC_INVALID, "%s", msg);
		goto out;
	}
	if ((bad = url_endpoint_parse(v[F_ENDPOINT].v_str, host,
	    sizeof(host))) != NULL) {
		req_error(rq, RC_INVALID, "endpoint: %s", bad);
		goto out;
	}
	type = (int)v[F_TYPE].v_int;
	if (!rq->rq_conf->c_engine[type - 1].ce_configured) {
		req_error(rq, RC_NOT_SERVED, "studyType: %d is not served by "
		    "this gateway (no engine configured)", type);
		goto out;
	}
	if (url_callback_check(v[F_CALLBACK].v_str, &rq->rq_conf->c_egress,
	    rq->rq_nsrec, msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "statusNotifyCallBackUrl: %s",
		    msg);
		goto out;
	}
	if (url_endpoint_check(v[F_ENDPOINT].v_str, &rq->rq_conf->c_egress,
	    msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "endpoint: %s", msg);
		goto out;
	}

	memset(&a, 0, sizeof(a));
	a.keys = rq->rq_keys;
	a.ss.ss_ns = rq->rq_ns;
	a.ss.ss_type = type;
	a.ss.ss_uid = v[F_UID].v_str;
	a.ss.ss_callback = v[F_CALLBACK].v_str;
	a.ss.ss_endpoint = v[F_ENDPOINT].v_str;
	a.ss.ss_bucket = v[F_BUCKET].v_str;
	a.ss.ss_key = v[F_KEY].v_str;
	a.ss.ss_force = v[F_FORCE].v_present && v[F_FORCE].v_bool;
	/* borrowed from body; wiped with it below */
	a.ss.ss_creds.sc_ak = (char *)(uintptr_t)v[F_AK].v_str;
	a.ss.ss_creds.sc_sk = (char *)(uintptr_t)v[F_SK].v_str;
	a.ss.ss_creds.sc_sts = v[F_STS].v_present ?
	    (char *)(uintptr_t)v[F_STS].v_str : NULL;

	if ((rc = store_txn(rq->rq_store, submit_body, &a)) != 0) {
		req_error(rq, RC_INTERNAL, "internal error: the study could "
		    "not be stored");
		goto out;
	}
	if (a.outcome != STUDY_UNCHANGED)
		wake_dispatcher(rq->rq_conf->c_state_dir);
	req_reply(rq, NULL);
out:
	if (v[F_SK].v_present)
		crypto_wipe((char *)(uintptr_t)v[F_SK].v_str, v[F_SK].v_len);
	if (v[F_STS].v_present)
		crypto_wipe((char *)(uintptr_t)v[F_STS].v_str, v[F_STS].v_len);
	json_object_put(body);
}

static const struct endpoint ep = {
	"executeAnalysis", EP_POST | EP_AUTH, execute_analysis
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
