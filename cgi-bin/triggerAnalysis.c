/* triggerAnalysis.c -- push-style analysis of one image (API.md 5.) */
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

/*
 * The algorithm protocol's trigger, offered to callers: the image is run
 * through the engine that serves `analysis`, and the result (API.md 6.)
 * is POSTed to resultCallBackUrl, signed and retried like a status
 * callback.  It is kept as a one-image study (see STUDY_PUSH_MARK), so
 * it shares the dispatcher's whole path.
 */

enum {
	F_NS, F_UID, F_AK, F_SK, F_STS, F_ENDPOINT, F_BUCKET, F_KEY,
	F_ANALYSIS, F_CALLBACK, F__MAX
};

static const char *
check_key(const char *s)
{
	if (s[0] == '/' || s[0] == '\\')
		return "must not start with '/' or '\\'";
	return jv_printable(s);
}

static const struct jv_field fields[F__MAX] = {
	[F_NS] = { "namespace", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128, 0,
	    0, NULL, jv_printable },
	[F_UID] = { "ImageUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    STUDY_UID_MAX - 1, 0, 0, NULL, jv_printable },
	[F_AK] = { "accessKeyId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128,
	    0, 0, NULL, jv_printable },
	[F_SK] = { "accessKeySecret", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, jv_printable },
	[F_STS] = { "securityToken", JV_STRING, JV_NULL_OK, 8192, 0, 0, NULL,
	    jv_printable },
	[F_ENDPOINT] = { "endpoint", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    URL_HOST_MAX, 0, 0, NULL, NULL },
	[F_BUCKET] = { "bucketName", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 63,
	    0, 0, NULL, jv_printable },
	[F_KEY] = { "key", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 1023, 0, 0,
	    NULL, check_key },
	[F_ANALYSIS] = { "analysis", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 64,
	    0, 0, NULL, jv_printable },
	[F_CALLBACK] = { "resultCallBackUrl", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, URL_MAX, 0, 0, NULL, jv_printable },
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
trigger(struct req *rq)
{
	struct jv_value		 v[F__MAX];
	struct submit_arg	 a;
	json_object		*body;
	char			 msg[512], host[URL_HOST_MAX];
	char			 uid[STUDY_UID_MAX + 2];
	const char		*bad;
	int			 i, type = 0;

	if ((body = jv_parse(rq->rq_body, rq->rq_bodylen, msg,
	    sizeof(msg))) == NULL) {
		req_error(rq, RC_INVALID, "%s", msg);
		return;
	}
	if (jv_read(body, fields, F__MAX, v, msg, sizeof(msg)) == -1) {
		req_error(rq, RC_INVALID, "%s", msg);
		goto out;
	}
	if (strcmp(v[F_NS].v_str, rq->rq_ns) != 0) {
		req_error(rq, RC_AUTH, "authentication failed: the body's "
		    "namespace is not the namespace of the tokenId");
		goto out;
	}
	if ((bad = url_endpoint_parse(v[F_ENDPOINT].v_str, host,
	    sizeof(host))) != NULL) {
		req_error(rq, RC_INVALID, "endpoint: %s", bad);
		goto out;
	}
	for (i = 0; i < CONF_STUDY_TYPES; i++) {
		const struct conf_engine *ce = &rq->rq_conf->c_engine[i];

		if (ce->ce_configured &&
		    strcmp(ce->ce_analysis, v[F_ANALYSIS].v_str) == 0) {
			type = i + 1;
			break;
		}
	}
	if (type == 0) {
		req_error(rq, RC_NOT_SERVED, "analysis: %s is not served by "
		    "this gateway (no engine configured)", v[F_ANALYSIS].v_str);
		goto out;
	}
	if (url_callback_check(v[F_CALLBACK].v_str, &rq->rq_conf->c_egress,
	    rq->rq_nsrec, msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "resultCallBackUrl: %s", msg);
		goto out;
	}
	if (url_endpoint_check(v[F_ENDPOINT].v_str, &rq->rq_conf->c_egress,
	    msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "endpoint: %s", msg);
		goto out;
	}

	snprintf(uid, sizeof(uid), "%s%s", STUDY_PUSH_MARK, v[F_UID].v_str);
	memset(&a, 0, sizeof(a));
	a.keys = rq->rq_keys;
	a.ss.ss_ns = rq->rq_ns;
	a.ss.ss_type = type;
	a.ss.ss_uid = uid;
	a.ss.ss_callback = v[F_CALLBACK].v_str;
	a.ss.ss_endpoint = v[F_ENDPOINT].v_str;
	a.ss.ss_bucket = v[F_BUCKET].v_str;
	a.ss.ss_key = v[F_KEY].v_str;
	/* an ImageUid seen before runs again once its last run ended; while
	 * it is pending the repeat changes nothing */
	a.ss.ss_force = 1;
	a.ss.ss_image_uid = v[F_UID].v_str;
	a.ss.ss_creds.sc_ak = (char *)(uintptr_t)v[F_AK].v_str;
	a.ss.ss_creds.sc_sk = (char *)(uintptr_t)v[F_SK].v_str;
	a.ss.ss_creds.sc_sts = v[F_STS].v_present ?
	    (char *)(uintptr_t)v[F_STS].v_str : NULL;
	if (store_txn(rq->rq_store, submit_body, &a) != 0) {
		req_error(rq, RC_INTERNAL, "internal error: the job could not "
		    "be stored");
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
	"triggerAnalysis", EP_POST | EP_AUTH, trigger
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
