/* health.c -- liveness of the responders and the store, for monitoring */
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "repl.h"
#include "store.h"

static int
health_body(struct store_txn *t, void *arg)
{
	char	*val = NULL;
	int	 rc;

	(void)arg;
	/* a read through the whole stack: lock, log and buffer pool */
	rc = store_get(t, SDB_META, "schema", 6, &val, NULL, 0);
	free(val);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static void
health(struct req *rq)
{
	if (store_txn(rq->rq_store, health_body, NULL) != 0) {
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		return;
	}
	/* in a group: this node's part in it (CONTRACT.md) */
	if (repl_conf() != NULL)
		rq->rq_role = repl_role_name(store_role(rq->rq_store, NULL, 0));
	req_reply(rq, json_object_new_string("ok"));
}

static const struct endpoint ep = { "health", EP_GET, health, 1 };

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
