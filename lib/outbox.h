/* outbox.h -- callbacks waiting to be delivered, kept until they are */
#ifndef MIAS_OUTBOX_H
#define MIAS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "webhook.h"

struct store_txn;

enum outbox_state {
	OUTBOX_PENDING,		/* to be tried, at its queue item's time */
	OUTBOX_DELIVERED,
	OUTBOX_DEAD,		/* retries exhausted or 410: mias-admin replays */
	OUTBOX__MAX
};

/* What a message is, and so what answer counts as delivered. */
#define OUTBOX_STATUS	"status"	/* API.md 2.: {"code":0} */
#define OUTBOX_RESULT	"result"	/* API.md 6.: {"returnCode":"000000"} */

const char		*outbox_state_name(enum outbox_state);
enum outbox_state	 outbox_state_of(json_object *rec);

/*
 * Queue a callback for delivery (its queue item due at due, <= now).  The message keeps its id (the
 * webhook-id) through every retry and replay.  after, when not NULL, is
 * the id of a message of the same study that must be delivered (or dead)
 * first, so that a study's callbacks arrive in order.  type and uid name
 * the study (with ns), so that retention finds it when the message ends.
 */
int	outbox_add(struct store_txn *, const char *ns, int type,
	    const char *uid, const char *kind, const char *url,
	    const char *body, const char *after, int64_t now, int64_t due,
	    char id[WEBHOOK_ID_MAX]);

/*
 * Send dead letters again, the same messages with the same webhook-ids
 * (mias-admin deliveries replay, and POST redeliverCallbacks): the one
 * named id; or, id NULL, every dead letter of namespace ns (NULL: of every
 * namespace), only those of study uid of studyType type when uid is not
 * NULL.  Each id sent again is added to done (an array).  A store code
 * (STORE_NOTFOUND: no message id), or OUTBOX_NOT_DEAD when id is not a
 * dead letter.  Reads every message of the outbox when id is NULL.
 */
#define OUTBOX_NOT_DEAD	1
int	outbox_replay(struct store_txn *, const char *id, const char *ns,
	    const char *uid, int type, json_object *done);

int	outbox_get(struct store_txn *, const char *id, json_object **, int rmw);
int	outbox_put(struct store_txn *, const char *id, json_object *);

#endif /* MIAS_OUTBOX_H */
