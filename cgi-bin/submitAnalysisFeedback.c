/* submitAnalysisFeedback.c -- doctors' verdicts on findings (API.md 4.) */
#include "fcgi.h"
#include "feedback.h"
#include "request.h"
#include "store.h"
#include "study.h"

static void
feedback(struct req *rq)
{
	struct feedback_req	 fr;
	char			 key[STUDY_KEY_MAX], msg[512];
	size_t			 klen;
	enum rc			 erc;
	int			 rc;

	if (request_feedback(rq->rq_body, rq->rq_bodylen, &fr, msg,
	    sizeof(msg), &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	/* the namespace the tokenId proved: never another's study */
	klen = study_key(key, rq->rq_ns, fr.fb_type, fr.fb_uid);
	rc = feedback_submit(rq->rq_store, key, klen, fr.fb_items, rq->rq_ns,
	    rq->rq_remote, msg, sizeof(msg));
	if (rc == STORE_NOTFOUND)
		req_error(rq, RC_NOT_FOUND, "no study %s of studyType %d for "
		    "this namespace", fr.fb_uid, fr.fb_type);
	else if (rc == FEEDBACK_NOT_DONE)
		req_error(rq, RC_NOT_READY, "the analysis of this study is not "
		    "finished (or failed): no findings to give feedback on");
	else if (rc == FEEDBACK_INVALID)
		req_error(rq, RC_INVALID, "%s", msg);
	else if (rc != 0)
		req_error(rq, RC_INTERNAL, "internal error: the feedback could "
		    "not be stored");
	else
		req_reply(rq, NULL);
	request_feedback_free(&fr);
}

static const struct endpoint ep = {
	"submitAnalysisFeedback", EP_POST | EP_AUTH, feedback,
	4	/* durable writes: group commit */
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
