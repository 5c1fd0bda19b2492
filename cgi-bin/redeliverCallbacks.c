/* redeliverCallbacks.c -- send the namespace's dead-lettered callbacks again */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fcgi.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "store.h"
#include "study.h"
#include "wake.h"

struct redeliver_arg {
	const char		*ns;
	const struct ops_study_req *o;
	json_object		*done;
};

static int
redeliver_body(struct store_txn *t, void *arg)
{
	struct redeliver_arg	*a = arg;
	long long		 dead;
	int			 rc;

	json_object_put(a->done);
	if ((a->done = json_object_new_array()) == NULL)
		return STORE_ERR;
	/* the dead-letter gauges */
	if ((rc = ops_need(t)) != STORE_OK)
		return rc;
	/* the outbox is read whole only when the namespace has any */
	if ((rc = metrics_dead_read(t, a->ns, &dead)) != STORE_OK ||
	    dead == 0)
		return rc;
	/* the namespace the tokenId proved: never another's callbacks */
	return outbox_replay(t, NULL, a->ns, a->o->os_uid, a->o->os_type,
	    a->done);
}

static void
redeliver(struct req *rq)
{
	struct ops_study_req	 o;
	struct redeliver_arg	 a;
	json_object		*data;
	char			 msg[512];
	enum rc			 erc;
	int			 rc;

	if (ops_study_body(rq->rq_body, rq->rq_bodylen, 0, &o, msg,
	    sizeof(msg), &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	if (o.os_uid != NULL)
		snprintf(rq->rq_audit_target, sizeof(rq->rq_audit_target),
		    "%d/%s", o.os_type, o.os_uid);
	memset(&a, 0, sizeof(a));
	a.ns = rq->rq_ns;
	a.o = &o;
	rc = req_txn_ops(rq, redeliver_body, &a);
	if (rc != 0 || (data = json_object_new_object()) == NULL) {
		req_error(rq, RC_INTERNAL, "internal error: the callbacks "
		    "could not be queued again");
		goto out;
	}
	if (json_object_array_length(a.done) > 0)
		wake_dispatcher(rq->rq_conf->c_state_dir);
	json_object_object_add(data, "redelivered", json_object_new_int(
	    (int)json_object_array_length(a.done)));
	json_object_object_add(data, "webhookIds", a.done);
	a.done = NULL;
	req_reply(rq, data);
out:
	json_object_put(a.done);
	ops_study_free(&o);
}

static const struct endpoint ep = {
	"redeliverCallbacks", EP_POST | EP_AUTH, redeliver, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
