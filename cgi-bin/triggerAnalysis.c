/* triggerAnalysis.c -- push-style analysis of one image (API.md 5.) */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "fcgi.h"
#include "request.h"
#include "store.h"
#include "study.h"
#include "url.h"
#include "wake.h"

/*
 * The algorithm protocol's trigger, offered to callers: the image is run
 * through the engine section that lists `analysis` (routed by name, see
 * lib/conf.h: [engine.N] or [engine.NAME]), and the result (API.md 6.)
 * is POSTed to resultCallBackUrl, signed and retried like a status
 * callback.  It is kept as a one-image study (see STUDY_PUSH_MARK), so
 * it shares the dispatcher's whole path.
 */

static void
trigger(struct req *rq)
{
	struct trigger_req	 tr;
	struct study_submit	 ss;
	enum study_outcome	 outcome;
	char			 msg[512];
	char			 uid[STUDY_UID_MAX + 2];
	enum rc			 rc;
	const struct conf_engine *ce;
	int			 slot, type;

	if (request_trigger(rq->rq_body, rq->rq_bodylen, rq->rq_ns, &tr, msg,
	    sizeof(msg), &rc) == -1) {
		req_error(rq, rc, "%s", msg);
		return;
	}
	/* the section that lists the analysis; its findings' studyType */
	if ((slot = conf_engine_for_analysis(rq->rq_conf,
	    tr.tr_analysis)) == 0) {
		req_error(rq, RC_NOT_SERVED, "analysis: %s is not served by "
		    "this gateway (no engine configured)", tr.tr_analysis);
		goto out;
	}
	ce = &rq->rq_conf->c_engine[slot - 1];
	type = ce->ce_type;
	if (url_callback_check(tr.tr_callback, &rq->rq_conf->c_egress,
	    rq->rq_nsrec, msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "resultCallBackUrl: %s", msg);
		goto out;
	}
	if (url_host_check(tr.tr_oss.ro_host, &rq->rq_conf->c_egress,
	    msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "endpoint: %s", msg);
		goto out;
	}

	snprintf(uid, sizeof(uid), "%s%s", STUDY_PUSH_MARK, tr.tr_image_uid);
	memset(&ss, 0, sizeof(ss));
	ss.ss_ns = rq->rq_ns;
	ss.ss_type = type;
	ss.ss_uid = uid;
	ss.ss_callback = tr.tr_callback;
	ss.ss_endpoint = tr.tr_oss.ro_endpoint;
	ss.ss_bucket = tr.tr_oss.ro_bucket;
	ss.ss_key = tr.tr_oss.ro_key;
	/* an ImageUid seen before runs again once its last run ended; while
	 * it is pending the repeat changes nothing */
	ss.ss_force = 1;
	ss.ss_image_uid = tr.tr_image_uid;
	ss.ss_engine = ce->ce_name;
	ss.ss_analysis = tr.tr_analysis;
	/* borrowed from the request; wiped with it below */
	ss.ss_creds.sc_ak = (char *)(uintptr_t)tr.tr_oss.ro_ak;
	ss.ss_creds.sc_sk = tr.tr_oss.ro_sk;
	ss.ss_creds.sc_sts = tr.tr_oss.ro_sts;
	if (study_submit_txn(rq->rq_store, rq->rq_keys, &ss,
	    &outcome) != 0) {
		req_error(rq, RC_INTERNAL, "internal error: the job could not "
		    "be stored");
		goto out;
	}
	if (outcome != STUDY_UNCHANGED)
		wake_dispatcher(rq->rq_conf->c_state_dir);
	req_reply(rq, NULL);
out:
	request_trigger_free(&tr);
}

static const struct endpoint ep = {
	"triggerAnalysis", EP_POST | EP_AUTH | EP_SUBMIT, trigger,
	8	/* durable submissions: group commit */
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
