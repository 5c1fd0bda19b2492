/* listAnalyses.c -- the namespace's studies and push jobs, newest first */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "ops.h"
#include "store.h"

struct list_arg {
	const char		*ns;
	struct ops_list_req	 q;
	json_object		*data;
};

static int
list_body(struct store_txn *t, void *arg)
{
	struct list_arg	*a = arg;
	int		 rc;

	json_object_put(a->data);
	a->data = NULL;
	if ((rc = ops_need(t)) != STORE_OK)
		return rc;
	return ops_list(t, a->ns, &a->q, &a->data);
}

static void
list_analyses(struct req *rq)
{
	struct list_arg	 a;
	char		 msg[512];
	enum rc		 erc;
	int		 rc;

	memset(&a, 0, sizeof(a));
	if (ops_list_query(rq->rq_query, &a.q, msg, sizeof(msg), &erc) == -1) {
		req_error(rq, erc, "%s", msg);
		return;
	}
	a.ns = rq->rq_ns;
	rc = req_txn_ops(rq, list_body, &a);
	if (rc == REQ_REFUSED)
		goto out;	/* the namespace's check answered */
	if (rc != 0 || a.data == NULL) {
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		goto out;
	}
	req_reply(rq, a.data);
	a.data = NULL;
out:
	json_object_put(a.data);
}

static const struct endpoint ep = {
	"listAnalyses", EP_GET | EP_AUTH, list_analyses, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
