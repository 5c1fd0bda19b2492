/* cancelAnalysis.c -- stop a queued or running study of the namespace */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fcgi.h"
#include "ops.h"
#include "store.h"
#include "study.h"
#include "wake.h"

struct cancel_arg {
	char	key[STUDY_KEY_MAX];
	size_t	klen;
};

static int
cancel_body(struct store_txn *t, void *arg)
{
	struct cancel_arg *a = arg;

	return study_cancel(t, a->key, a->klen, store_now_ms());
}

static void
cancel_analysis(struct req *rq)
{
	struct ops_study_req	 o;
	struct cancel_arg	 a;
	char			 msg[512];
	enum rc			 erc;
	int			 rc;

	if (ops_study_body(rq->rq_body, rq->rq_bodylen, 1, &o, msg,
	    sizeof(msg), &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	snprintf(rq->rq_audit_target, sizeof(rq->rq_audit_target), "%d/%s",
	    o.os_type, o.os_uid);
	/* the namespace the tokenId proved: never another's study */
	a.klen = study_key(a.key, rq->rq_ns, o.os_type, o.os_uid);
	rc = store_txn(rq->rq_store, cancel_body, &a);
	if (rc == STORE_NOTFOUND)
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %d for "
		    "this namespace", o.os_uid, o.os_type);
	else if (rc == STUDY_CANCEL_FINAL)
		req_error(rq, RC_CONFLICT, "the study has ended already: only "
		    "a QUEUED or RUNNING study can be cancelled");
	else if (rc != 0)
		req_error(rq, RC_INTERNAL, "internal error: the cancellation "
		    "could not be stored");
	else {
		/* the status callback is queued */
		wake_dispatcher(rq->rq_conf->c_state_dir);
		req_reply(rq, NULL);
	}
	ops_study_free(&o);
}

static const struct endpoint ep = {
	"cancelAnalysis", EP_POST | EP_AUTH, cancel_analysis, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
