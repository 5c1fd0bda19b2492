/* executeAnalysis.c -- accept a study for analysis (API.md 1.) */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "fcgi.h"
#include "request.h"
#include "store.h"
#include "study.h"
#include "url.h"
#include "wake.h"

static void
execute_analysis(struct req *rq)
{
	struct execute_req	 ex;
	struct study_submit	 ss;
	enum study_outcome	 outcome;
	char			 msg[512];
	enum rc			 rc;

	if (request_execute(rq->rq_body, rq->rq_bodylen, &ex, msg,
	    sizeof(msg), &rc) == -1) {
		req_error(rq, rc, "%s", msg);
		return;
	}
	if (!rq->rq_conf->c_engine[ex.ex_type - 1].ce_configured) {
		req_error(rq, RC_NOT_SERVED, "studyType: %d is not served by "
		    "this gateway (no engine configured)", ex.ex_type);
		goto out;
	}
	if (url_callback_check(ex.ex_callback, &rq->rq_conf->c_egress,
	    rq->rq_nsrec, msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "statusNotifyCallBackUrl: %s",
		    msg);
		goto out;
	}
	if (url_host_check(ex.ex_oss.ro_host, &rq->rq_conf->c_egress,
	    msg, sizeof(msg)) != NULL) {
		req_error(rq, RC_URL_REFUSED, "endpoint: %s", msg);
		goto out;
	}

	memset(&ss, 0, sizeof(ss));
	ss.ss_ns = rq->rq_ns;
	ss.ss_type = ex.ex_type;
	ss.ss_uid = ex.ex_uid;
	ss.ss_callback = ex.ex_callback;
	ss.ss_endpoint = ex.ex_oss.ro_endpoint;
	ss.ss_bucket = ex.ex_oss.ro_bucket;
	ss.ss_key = ex.ex_oss.ro_key;
	ss.ss_force = ex.ex_force;
	/* borrowed from the request; wiped with it below */
	ss.ss_creds.sc_ak = (char *)(uintptr_t)ex.ex_oss.ro_ak;
	ss.ss_creds.sc_sk = ex.ex_oss.ro_sk;
	ss.ss_creds.sc_sts = ex.ex_oss.ro_sts;

	if (study_submit_txn(rq->rq_store, rq->rq_keys, &ss,
	    &outcome) != 0) {
		req_error(rq, RC_INTERNAL, "internal error: the study could "
		    "not be stored");
		goto out;
	}
	if (outcome != STUDY_UNCHANGED)
		wake_dispatcher(rq->rq_conf->c_state_dir);
	req_reply(rq, NULL);
out:
	request_execute_free(&ex);
}

static const struct endpoint ep = {
	"executeAnalysis", EP_POST | EP_AUTH | EP_SUBMIT, execute_analysis,
	8	/* durable submissions: group commit (bench/ row 2) */
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
